/**
 * Backups end to end: a controller made by the real `init` (local KMS) serving over real TLS,
 * with a robot enrolled through the real Enroll rpc; an archive made over the real gRPC API by
 * the real `fleetctl` binary with every key also wrapped by a Vault Transit emulator (the real
 * Vault adapter over HTTP); `fleetctl backup verify` on the good archive and on a flipped one;
 * truncated and forged archives refused by VerifyBackup and by restore; a restore into a new
 * directory served by the real `startController`, where the robot's old certificate still gets
 * its key bundle over mutual TLS and unwraps the same epoch key; and the same with the primary
 * KMS gone, from the secondary alone.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT, createProgram, runProgram } from '@fleetkey/cli';
import { createLocalSigner, generateKeyPair } from '@fleetkey/crypto';
import { isFleetkeyError } from '@fleetkey/key-types';
import { startVaultEmulator, type VaultEmulator } from '@fleetkey/kms-emulators';
import { OperatorService, ProvisioningService, RpcError, closeClient, createClient, type ServiceClient } from '@fleetkey/protocol';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceIdentity } from '../provisioning/testing.js';
import { startController, type RunningController } from '../serve/controller.js';
import { FLEETCTL_BIN, run } from '../serve/testing.js';
import { generateToken, hashToken } from '../store/index.js';
import { RECORD_KIND, archiveSigningInput, encodeRecord, sha256 } from './archive-format.js';
import type { CliIo } from '../cli.js';
import { registerRestoreCommand } from './restore-command.js';
import { restoreController, type KmsSide, type RestoreResult } from './restore.js';
import { secondaryKmsFromEnv } from './secondary-kms.js';
import { fetchEpochKey, logSink, startBackupHarness, type BackupHarness, type TestRobot } from './testing.js';

let vault: VaultEmulator;
let harness: BackupHarness;
let harnessOpen = false;
let robot: TestRobot;
let archivePath: string;
let localEnv: Record<string, string>;
let vaultEnv: Record<string, string>;
const secrets: string[] = [];

interface Fleetctl {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function fleetctl(...args: string[]): Promise<Fleetctl> {
  try {
    const result = await run(process.execPath, [FLEETCTL_BIN, '--controller', harness.address, '--ca-file', harness.caFile, '--timeout', '60', ...args], {
      env: { ...process.env, FLEETKEY_TOKEN: harness.adminToken, FLEETKEY_CONFIG: join(harness.parent, 'no-config.json') },
    });
    return { code: 0, stdout: result.stdout, stderr: result.stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

const bearer = (token: string) => ({ metadata: { authorization: `Bearer ${token}` } });

/** The byte offsets of each record of an archive: [start, end) of the header, chunks, trailer. */
function records(bytes: Uint8Array): { kind: number; start: number; end: number }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: { kind: number; start: number; end: number }[] = [];
  for (let offset = 5; offset < bytes.length; ) {
    const end = offset + 5 + view.getUint32(offset + 1, false);
    out.push({ kind: bytes[offset]!, start: offset, end });
    offset = end;
  }
  return out;
}

async function writeVariant(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(harness.parent, name);
  await writeFile(path, bytes, { mode: 0o600 });
  return path;
}

async function verifyInProcess(client: ServiceClient<typeof OperatorService>, token: string, bytes: Uint8Array) {
  const call = client.verifyBackup(bearer(token));
  for (let offset = 0; offset < bytes.length; offset += 1024 * 1024) await call.send({ chunk: bytes.subarray(offset, offset + 1024 * 1024) });
  return call.finish();
}

async function codeOf(operation: Promise<unknown>): Promise<string> {
  try {
    await operation;
  } catch (error) {
    if (isFleetkeyError(error)) return error.code;
    throw error;
  }
  throw new Error('expected the operation to fail');
}

async function leftovers(prefix: string): Promise<string[]> {
  return (await readdir(harness.parent)).filter((name) => name.startsWith(prefix));
}

/** `fleet-controller restore …` through its commander registration, as the CLI runs it. */
async function restoreCommand(argv: readonly string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const state = { exitCode: EXIT.ok as number };
  const io: CliIo = { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), env, stopSignal: () => new Promise(() => undefined) };
  const program = createProgram({ name: 'fleet-controller', description: 'test', manifestUrl: new URL('../../package.json', import.meta.url) });
  program.configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  registerRestoreCommand(program, io, state);
  const code = await runProgram(program, ['restore', ...argv]);
  return { code: code !== EXIT.ok ? code : state.exitCode, stdout, stderr };
}

async function serve(dataDir: string, env: Record<string, string>): Promise<{ controller: RunningController; log: () => string }> {
  const sink = logSink();
  const controller = await startController({
    dataDir,
    env,
    grpcListen: '127.0.0.1:0',
    mqttListen: '127.0.0.1:0',
    httpListen: '127.0.0.1:0',
    version: '0.1.0-test',
    logLevel: 'info',
    logDestination: sink.stream,
    drainMs: 500,
  });
  return { controller, log: sink.text };
}

beforeAll(async () => {
  vault = await startVaultEmulator({ port: 0 });
  vaultEnv = { VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken };
  harness = await startBackupHarness({ secondaryKms: secondaryKmsFromEnv('vault', vaultEnv) });
  harnessOpen = true;
  localEnv = { FLEETKEY_LOCAL_KMS_PATH: join(harness.paths.root, 'kms', 'keys.fkl'), FLEETKEY_LOCAL_KMS_PASSPHRASE_FILE: join(harness.paths.root, 'kms', 'passphrase') };
  robot = await harness.enrollRobot('robot-1');
  secrets.push(harness.adminToken, vault.rootToken, robot.epochKey.toString('hex'), robot.epochKey.toString('base64'));
  archivePath = join(harness.parent, 'acme.fkb');
}, 60_000);

afterAll(async () => {
  if (harnessOpen) await harness.close();
  await vault?.close();
  if (harness !== undefined) await rm(harness.parent, { recursive: true, force: true });
});

describe('backups of a running controller', () => {
  let backupId: string;

  it('backs up over the real gRPC API with fleetctl, every key also wrapped by the secondary KMS, into a 0600 file', async () => {
    const created = await fleetctl('backup', 'create', '--out', archivePath, '--secondary-kms', 'vault', '-o', 'json');
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const info = JSON.parse(created.stdout) as { file: string; backupId: string; sizeBytes: number; sha256: string; secondaryProvider: string; fleets: string[]; signingKey: { keyId: string } };
    backupId = info.backupId;
    expect(info).toMatchObject({ file: archivePath, secondaryProvider: 'vault', fleets: ['acme'] });
    expect(info.backupId).toMatch(/^bk-\d{8}T\d{6}Z-[0-9a-f]{8}$/);

    const bytes = await readFile(archivePath);
    expect((await stat(archivePath)).mode & 0o777).toBe(0o600);
    expect(bytes.length).toBe(info.sizeBytes);
    expect(createHash('sha256').update(bytes).digest('base64')).toBe(info.sha256);
    // Encrypted: neither the SQLite file nor any secret is readable in it.
    expect(bytes.includes('SQLite format 3')).toBe(false);
    for (const secret of [...secrets, robot.epochKey]) expect(bytes.includes(secret)).toBe(false);
    // No temporary file next to it, no snapshot left in the data directory.
    expect(await leftovers('.acme.fkb')).toEqual([]);
    expect((await readdir(harness.paths.root)).filter((name) => name.startsWith('.backup-'))).toEqual([]);

    const audit = await harness.repository.audit.listRecords(0, 1000);
    const recorded = audit.filter((record) => record.action === 'backup.create');
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ result: 'ok' });
    expect(JSON.parse(recorded[0]!.detailsJson)).toMatchObject({ backup: backupId, secondary: 'vault', secondaryWraps: 2 });
    // The secondary key was made once, and audited.
    expect(audit.filter((record) => record.action === 'key.create' && record.keyRef?.startsWith('backup-secondary:'))).toHaveLength(1);
  });

  it('refuses to overwrite an existing file, asking the controller nothing', async () => {
    const before = (await harness.repository.audit.listRecords(0, 1000)).length;
    const again = await fleetctl('backup', 'create', '--out', archivePath);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists; fleetctl never overwrites an archive/);
    expect((await harness.repository.audit.listRecords(0, 1000)).length).toBe(before);
  });

  it('verifies the archive with fleetctl: signature, every chunk, and the secondary copies', async () => {
    const verified = await fleetctl('backup', 'verify', archivePath, '-o', 'json');
    expect(verified.code).toBe(0);
    const result = JSON.parse(verified.stdout) as { valid: boolean; problems: string[]; backup: { backupId: string; secondaryProvider: string } };
    expect(result).toMatchObject({ valid: true, problems: [], backup: { backupId, secondaryProvider: 'vault' } });
  });

  it('fails verify with exit 1 and a clear problem when one byte of the archive is flipped', async () => {
    const bytes = new Uint8Array(await readFile(archivePath));
    const chunk = records(bytes).find((record) => record.kind === RECORD_KIND.chunk)!;
    bytes[chunk.start + 200] = bytes[chunk.start + 200]! ^ 0x40;
    const flipped = await writeVariant('flipped.fkb', bytes);
    const verified = await fleetctl('backup', 'verify', flipped, '-o', 'json');
    expect(verified.code).toBe(1);
    const result = JSON.parse(verified.stdout) as { valid: boolean; problems: string[] };
    expect(result.valid).toBe(false);
    expect(result.problems[0]).toMatch(/does not decrypt: it was changed/);
    expect(verified.stderr).toMatch(/does not verify/);
  });

  it('fails VerifyBackup for a truncated archive, a forged signature and a changed header', async () => {
    const bytes = new Uint8Array(await readFile(archivePath));
    const client = harness.operatorClient();
    const truncated = await verifyInProcess(client, harness.adminToken, bytes.subarray(0, bytes.length - 10));
    expect(truncated.valid).toBe(false);
    expect(truncated.problems[0]).toMatch(/truncated/);
    // What was readable is still described.
    expect(truncated.info?.backupId).toBe(backupId);

    const parts = records(bytes);
    const trailer = parts.at(-1)!;
    const forger = createLocalSigner((await generateKeyPair('ECDSA_P256')).privateKey);
    const forgedSignature = await forger.sign(archiveSigningInput(sha256(bytes.subarray(0, trailer.start))));
    const forged = new Uint8Array(Buffer.concat([bytes.subarray(0, trailer.start), encodeRecord(RECORD_KIND.trailer, forgedSignature)]));
    await writeVariant('forged.fkb', forged);
    const forgedResult = await verifyInProcess(client, harness.adminToken, forged);
    expect(forgedResult.valid).toBe(false);
    expect(forgedResult.problems[0]).toMatch(/not authentic: its signature does not verify/);

    const header = parts[0]!;
    const changed = new Uint8Array(bytes);
    // Inside the header's JSON: the backup id's last hex digit.
    const text = Buffer.from(changed.subarray(header.start + 5, header.end)).toString('utf8');
    const at = header.start + 5 + text.indexOf(backupId) + backupId.length - 1;
    changed[at] = changed[at] === 0x30 ? 0x31 : 0x30;
    await writeVariant('header.fkb', changed);
    const changedResult = await verifyInProcess(client, harness.adminToken, changed);
    expect(changedResult.valid).toBe(false);
  });

  it('lets an auditor verify but not create; CreateBackup with a secondary this controller lacks is refused', async () => {
    const credential = generateToken('operator');
    await harness.repository.createOperator({ name: 'auditor', role: 'auditor', fleetScope: { kind: 'all' }, tokenHash: hashToken(credential) });
    const client = harness.operatorClient();
    expect((await verifyInProcess(client, credential, new Uint8Array(await readFile(archivePath)))).valid).toBe(true);
    const denied = await codeOf((async () => {
      for await (const _ of client.createBackup({}, bearer(credential))) void _;
    })());
    expect(denied).toBe('PERMISSION_DENIED');
    const refused = (async () => {
      for await (const _ of client.createBackup({ secondaryProvider: 'aws' }, bearer(harness.adminToken))) void _;
    })();
    await expect(refused).rejects.toBeInstanceOf(RpcError);
    expect(await codeOf(refused)).toBe('INVALID_CONFIG');
  });

  it('restore refuses the flipped, truncated, forged and changed archives and leaves nothing behind', async () => {
    const bytes = await readFile(archivePath);
    await writeVariant('truncated.fkb', bytes.subarray(0, bytes.length - 10));
    for (const name of ['flipped.fkb', 'truncated.fkb', 'forged.fkb', 'header.fkb']) {
      const code = await codeOf(restoreController({ dataDir: join(harness.parent, 'refused'), from: join(harness.parent, name), kmsFrom: 'primary', env: localEnv }));
      expect(['STORE_CORRUPT', 'DECRYPTION_FAILED', 'SIGNATURE_INVALID'], name).toContain(code);
    }
    expect(await leftovers('refused')).toEqual([]);
    expect(await leftovers('.refused')).toEqual([]);
  });

  it('refuses to restore from the secondary an archive made without one', async () => {
    const client = harness.operatorClient();
    const pieces: Uint8Array[] = [];
    for await (const message of client.createBackup({}, bearer(harness.adminToken))) if (message.chunk.length > 0) pieces.push(message.chunk);
    const plain = await writeVariant('plain.fkb', Buffer.concat(pieces));
    expect(await codeOf(restoreController({ dataDir: join(harness.parent, 'plain'), from: plain, kmsFrom: 'secondary', env: vaultEnv }))).toBe('INVALID_CONFIG');
    expect(await leftovers('plain')).toEqual(['plain.fkb']);
  });

  it('restores into a new directory; served, it still gives the robot its key bundle over mutual TLS with its old certificate', async () => {
    const dataDir = join(harness.parent, 'restored');
    const restored = await restoreCommand(['--data-dir', dataDir, '--from', archivePath, '-o', 'json'], localEnv);
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    const result = JSON.parse(restored.stdout) as RestoreResult;
    expect(result).toMatchObject({ backupId, kmsFrom: 'primary', kmsProvider: 'local', signature: 'verified-with-kms', limitations: [], fleets: ['acme'] });
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(join(dataDir, 'controller.json'), 'utf8')).kms.local.path).toBe(localEnv['FLEETKEY_LOCAL_KMS_PATH']);
    // Like init, it never touches an existing directory.
    expect(await codeOf(restoreController({ dataDir, from: archivePath, kmsFrom: 'primary', env: localEnv }))).toBe('STORE_EXISTS');
    const again = await restoreCommand(['--data-dir', dataDir, '--from', archivePath], localEnv);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^fleet-controller: .* already exists and is not an empty directory; restore never overwrites a data directory\n$/);

    const { controller, log } = await serve(dataDir, {});
    try {
      const epochKey = await fetchEpochKey(controller.addresses.grpc, await readFile(result.caFile), robot);
      expect(epochKey.equals(robot.epochKey)).toBe(true);
      // The operators came back with the state: the admin's token still works, and the audit
      // chain (with the restore's own record, signed by the same audit key) verifies.
      const client = createClient(OperatorService, controller.addresses.grpc, credentials.createSsl(await readFile(result.caFile)));
      try {
        const audit = await client.verifyAudit({}, bearer(harness.adminToken));
        expect(audit).toMatchObject({ valid: true, headSignatureValid: true });
      } finally {
        closeClient(client);
      }
    } finally {
      await controller.close();
    }
    for (const secret of secrets) expect(log()).not.toContain(secret);
  });

  it('restores with only the secondary KMS reachable: the robot still gets its keys; what cannot work is said', async () => {
    await harness.close();
    harnessOpen = false;
    // The primary KMS is gone: the local key file and its passphrase.
    await rm(join(harness.paths.root, 'kms'), { recursive: true, force: true });
    const fromPrimary = await codeOf(restoreController({ dataDir: join(harness.parent, 'no-primary'), from: archivePath, kmsFrom: 'primary' satisfies KmsSide, env: localEnv }));
    // The local provider reports its missing key file as a configuration problem: the KMS, not the archive.
    expect(fromPrimary).toBe('INVALID_CONFIG');
    expect(await leftovers('no-primary')).toEqual([]);
    expect(await leftovers('.no-primary')).toEqual([]);

    const dataDir = join(harness.parent, 'from-secondary');
    const restored = await restoreCommand(['--data-dir', dataDir, '--from', archivePath, '--kms-from', 'secondary'], vaultEnv);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toContain(`from backup ${backupId}`);
    expect(restored.stdout).toContain('with the secondary KMS (vault).');
    expect(restored.stdout).toMatch(/^Signature: consistent with the public key the archive records/m);
    expect(restored.stdout).toMatch(/Until the primary KMS is back:\n {2}- enrolling robots and renewing device certificates need the fleet CA keys/);
    expect(restored.stdout).toMatch(/^ {2}- rotating communication keys, .*the earliest active one ends \d{4}-/m);
    for (const secret of secrets) expect(restored.stdout).not.toContain(secret);
    const result = { caFile: join(dataDir, 'ca.pem') };
    const settings = await readFile(join(dataDir, 'controller.json'), 'utf8');
    expect(JSON.parse(settings).kms.provider).toBe('vault');
    expect(settings).not.toContain(vault.rootToken);

    const { controller, log } = await serve(dataDir, { VAULT_TOKEN: vault.rootToken });
    try {
      const caPem = await readFile(result.caFile);
      expect((await fetchEpochKey(controller.addresses.grpc, caPem, robot)).equals(robot.epochKey)).toBe(true);

      // Enrolling needs the fleet CA key, which stayed in the primary: a clear KMS error, not INTERNAL.
      const operator = createClient(OperatorService, controller.addresses.grpc, credentials.createSsl(caPem));
      const station = createClient(ProvisioningService, controller.addresses.grpc, credentials.createSsl(caPem));
      try {
        const minted = await operator.createEnrollmentToken({ fleet: 'acme' }, bearer(harness.adminToken));
        const identity = await deviceIdentity('ECDSA_P256', 'robot-2');
        const failure = await station.enroll({ enrollmentToken: minted.tokens[0]!.token, csr: identity.csr, deviceId: 'robot-2' }).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(failure).toBeInstanceOf(RpcError);
        expect((failure as RpcError).code).toBe('KMS_KEY_NOT_FOUND');
      } finally {
        closeClient(operator);
        closeClient(station);
      }
    } finally {
      await controller.close();
    }
    for (const secret of secrets) expect(log()).not.toContain(secret);
  });
});
