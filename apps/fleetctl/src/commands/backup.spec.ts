/**
 * `fleetctl backup create|verify` against an OperatorService implemented in the test, over real TLS
 * on a real socket: what reaches the file (and when nothing must), what is streamed back for
 * verification, exit codes and output. The archive's cryptography is the controller's and is
 * tested there (apps/fleet-controller/src/backup).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { createCaCertificate, createLocalSigner, generateKeyPair, issueServerCertificate } from '@fleetkey/crypto';
import { InvalidArgument, Unauthenticated } from '@fleetkey/key-types';
import { OperatorService, addService, bindServer, createServer, shutdownServer, type CallContext } from '@fleetkey/protocol';
import { ServerCredentials, type Server } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runFleetctl, type RunResult } from '../test-support/run.js';

const TOKEN = 'fk_op_backup-spec-token-0123456789abcdefghijklmnopq';
const MIB = 1024 * 1024;

interface Scenario {
  /** What CreateBackup streams: archive bytes in these pieces. */
  pieces: Uint8Array[];
  /** Lie about the digest in the final description. */
  wrongDigest: boolean;
  /** Fail the stream after the first piece. */
  failMidway: boolean;
  /** What VerifyBackup answers. */
  verdict: { valid: boolean; problems: string[] };
}

let dir: string;
let caFile: string;
let server: Server;
let address: string;
const scenario: Scenario = { pieces: [], wrongDigest: false, failMidway: false, verdict: { valid: true, problems: [] } };
const received: { secondaryProvider?: string; verified?: Buffer; authorizations: string[] } = { authorizations: [] };

function authorize(context: CallContext): void {
  const value = context.metadata.get('authorization')[0];
  received.authorizations.push(String(value));
  if (value !== `Bearer ${TOKEN}`) throw new Unauthenticated();
}

const info = (bytes: Buffer, lie = false) => ({
  backupId: 'bk-20300615T120000Z-0a1b2c3d',
  createdAt: timestampFromDate(new Date('2030-06-15T12:00:00Z')),
  sizeBytes: BigInt(bytes.length),
  sha256: lie ? new Uint8Array(32) : new Uint8Array(createHash('sha256').update(bytes).digest()),
  signingKey: { keyId: 'audit-key-1', version: 1 },
  secondaryProvider: 'vault',
  fleets: ['acme', 'globex'],
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetctl-backup-'));
  const window = { notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000) };
  const caKeys = await generateKeyPair('ECDSA_P256');
  const caSigner = createLocalSigner(caKeys.privateKey);
  const ca = await createCaCertificate({ signer: caSigner, fleet: 'controller', commonName: 'test CA', ...window });
  const serverKeys = await generateKeyPair('ECDSA_P256');
  const certificate = await issueServerCertificate({ issuerSigner: caSigner, issuerCertificate: ca.pem, publicKey: serverKeys.publicKey, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], ...window });
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.pem);

  server = createServer();
  addService(server, OperatorService, {
    createBackup: async function* (request, context) {
      authorize(context);
      received.secondaryProvider = request.secondaryProvider;
      const whole = Buffer.concat(scenario.pieces);
      for (const [i, piece] of scenario.pieces.entries()) {
        if (i === 1 && scenario.failMidway) throw new InvalidArgument('the KMS refused the data key');
        yield { chunk: piece };
      }
      yield { info: info(whole, scenario.wrongDigest) };
    },
    verifyBackup: async (requests, context) => {
      authorize(context);
      const pieces: Uint8Array[] = [];
      for await (const request of requests) pieces.push(request.chunk);
      received.verified = Buffer.concat(pieces);
      return { ...scenario.verdict, info: info(received.verified) };
    },
  });
  const port = await bindServer(
    server,
    '127.0.0.1:0',
    ServerCredentials.createSsl(null, [{ private_key: Buffer.from(serverKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string), cert_chain: Buffer.from(certificate.pem) }], false),
  );
  address = `127.0.0.1:${port}`;
});

afterAll(async () => {
  await shutdownServer(server, 200);
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  scenario.pieces = [randomBytes(MIB), randomBytes(MIB), randomBytes(1234)];
  scenario.wrongDigest = false;
  scenario.failMidway = false;
  scenario.verdict = { valid: true, problems: [] };
  received.authorizations = [];
  delete received.secondaryProvider;
  delete received.verified;
});

function fleetctl(...argv: string[]): Promise<RunResult> {
  return runFleetctl(['--controller', address, '--ca-file', caFile, ...argv], { env: { FLEETKEY_TOKEN: TOKEN, HOME: dir }, cwd: dir });
}

async function filesIn(): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name !== 'ca.pem' && !name.startsWith('.config'));
}

describe('fleetctl backup create', () => {
  it('writes exactly the streamed archive to a 0600 file and prints its description', async () => {
    const result = await fleetctl('backup', 'create', '--out', 'first.fkb', '--secondary-kms', 'vault', '-o', 'json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const written = await readFile(join(dir, 'first.fkb'));
    expect(written.equals(Buffer.concat(scenario.pieces))).toBe(true);
    expect((await stat(join(dir, 'first.fkb'))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(result.stdout)).toEqual({
      file: join(dir, 'first.fkb'),
      backupId: 'bk-20300615T120000Z-0a1b2c3d',
      createdAt: '2030-06-15T12:00:00.000Z',
      sizeBytes: written.length,
      sha256: createHash('sha256').update(written).digest('base64'),
      signingKey: { keyId: 'audit-key-1', version: 1 },
      secondaryProvider: 'vault',
      fleets: ['acme', 'globex'],
    });
    expect(received.secondaryProvider).toBe('vault');
    expect(received.authorizations).toEqual([`Bearer ${TOKEN}`]);
    expect(await filesIn()).toEqual(['first.fkb']);
  });

  it('shows the description as fields for people', async () => {
    const result = await fleetctl('backup', 'create', '--out', 'second.fkb');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Backup:\s+bk-20300615T120000Z-0a1b2c3d$/m);
    expect(result.stdout).toMatch(/^SHA-256:\s+[0-9a-f]{64}$/m);
    expect(result.stdout).toMatch(/^Secondary KMS:\s+vault$/m);
    expect(received.secondaryProvider).toBe('');
    await rm(join(dir, 'second.fkb'));
  });

  it('Postcondition: writes nothing when the archive does not match the digest the controller reports', async () => {
    scenario.wrongDigest = true;
    const result = await fleetctl('backup', 'create', '--out', 'lied.fkb');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/does not match the size and SHA-256 the controller reported; nothing was written/);
    expect(await filesIn()).toEqual(['first.fkb']);
  });

  it('writes nothing when the stream fails midway, and says why', async () => {
    scenario.failMidway = true;
    const result = await fleetctl('backup', 'create', '--out', 'broken.fkb');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/the KMS refused the data key/);
    expect(await filesIn()).toEqual(['first.fkb']);
  });

  it('refuses an existing file before calling the controller (exit 2), and an unknown provider', async () => {
    const before = await readFile(join(dir, 'first.fkb'));
    const result = await fleetctl('backup', 'create', '--out', 'first.fkb');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/already exists; fleetctl never overwrites an archive/);
    expect(received.authorizations).toEqual([]);
    expect((await readFile(join(dir, 'first.fkb'))).equals(before)).toBe(true);
    const unknown = await fleetctl('backup', 'create', '--out', 'x.fkb', '--secondary-kms', 'floppy');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/expected one of local, aws, azure, gcp, vault/);
  });
});

describe('fleetctl backup verify', () => {
  it('streams the whole file and exits 0 when the controller finds it valid', async () => {
    const path = join(dir, 'first.fkb');
    const result = await fleetctl('backup', 'verify', 'first.fkb');
    expect(result.code).toBe(0);
    expect(received.verified?.equals(await readFile(path))).toBe(true);
    expect(result.stdout).toMatch(/^Valid:\s+yes$/m);
    expect(result.stdout).toMatch(/^Fleets:\s+acme, globex$/m);
  });

  it('exits 1 with the problems when it does not verify', async () => {
    scenario.verdict = { valid: false, problems: ['the backup archive is not authentic: its signature does not verify', 'second\u001b[2J problem'] };
    const result = await fleetctl('backup', 'verify', 'first.fkb', '-o', 'json');
    expect(result.code).toBe(1);
    const document = JSON.parse(result.stdout) as { valid: boolean; problems: string[]; backup: { backupId: string } };
    expect(document).toMatchObject({ valid: false, backup: { backupId: 'bk-20300615T120000Z-0a1b2c3d' } });
    expect(document.problems).toHaveLength(2);
    expect(result.stderr).toMatch(/does not verify: the backup archive is not authentic/);
    const table = await fleetctl('backup', 'verify', 'first.fkb');
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/^Valid:\s+NO$/m);
    // Precondition: server text cannot drive the terminal.
    expect(table.stdout).not.toContain('\u001b');
  });

  it('refuses a missing file without calling the controller', async () => {
    const result = await fleetctl('backup', 'verify', 'missing.fkb');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/is not a readable file/);
    expect(received.authorizations).toEqual([]);
  });
});
