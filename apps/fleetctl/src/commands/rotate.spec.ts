/**
 * `fleetctl rotate` against an OperatorService implemented in the test, over real TLS on a real
 * socket: the request it sends, the answer it prints, and --wait following acknowledgements
 * (progress bar on a terminal, plain lines otherwise, one JSON document with -o json) until the
 * fleet reports the new epoch active — or, for a group key, until every device acknowledged or
 * the deadline passed — and a bounded wait that ends with exit code 1.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createCaCertificate, createLocalSigner, generateKeyPair, issueServerCertificate } from '@fleetkey/crypto';
import { FleetkeyError, Unauthenticated } from '@fleetkey/key-types';
import { DeviceState, KeyState, OperatorService, addService, bindServer, createServer, shutdownServer, type CallContext, type ServiceHandlers } from '@fleetkey/protocol';
import { ServerCredentials, type Server } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../cli.js';
import { runFleetctl, type RunResult } from '../test-support/run.js';
import { progressBar } from './rotate.js';

const TOKEN = 'fkop_rotate_5c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f';
const DAY = 86_400_000;

class RotationPending extends FleetkeyError {
  readonly code = 'ILLEGAL_STATE_TRANSITION' as const;
}

/** The fake controller's rotation: each ListDevices call acknowledges one more device; ListFleets reports activation once all did. */
const state = {
  devices: 4,
  acked: 0,
  activeVersion: 3,
  newVersion: 4,
  deadline: Date.now() + 3_600_000,
  pending: false,
  activateAfterAllAcked: true,
  calls: [] as { method: string; request: Record<string, unknown> }[],
};

let dir: string;
let caFile: string;
let address: string;
let server: Server;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetctl-rotate-'));
  const window = { notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY) };
  const caKeys = await generateKeyPair('ECDSA_P256');
  const caSigner = createLocalSigner(caKeys.privateKey);
  const ca = await createCaCertificate({ signer: caSigner, fleet: 'acme', commonName: 'test CA', ...window });
  const serverKeys = await generateKeyPair('ECDSA_P256');
  const certificate = await issueServerCertificate({ issuerSigner: caSigner, issuerCertificate: ca.pem, publicKey: serverKeys.publicKey, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], ...window });
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.pem);

  const guarded =
    <Req extends object, Res>(method: string, handler: (request: Req) => Res) =>
    async (request: Req, context: CallContext): Promise<Res> => {
      if (context.metadata.get('authorization')[0] !== `Bearer ${TOKEN}`) throw new Unauthenticated();
      state.calls.push({ method, request: { ...request } as Record<string, unknown> });
      return handler(request);
    };
  const handlers: Partial<ServiceHandlers<typeof OperatorService>> = {
    rotateKeys: guarded('rotateKeys', (request) => {
      if (state.pending) throw new RotationPending('a rotation of communication/acme/fleet is already in progress');
      state.pending = true;
      const keyId = request.group === '' ? `communication/${request.fleet}/fleet` : `communication/${request.fleet}/${request.group}`;
      return { newEpoch: { keyId, version: state.newVersion }, state: KeyState.PENDING, activationDeadline: timestampFromMs(state.deadline) };
    }),
    listDevices: guarded('listDevices', (request) => {
      if (state.pending) state.acked = Math.min(state.devices, state.acked + 1);
      if (state.acked === state.devices && state.activateAfterAllAcked) state.activeVersion = state.newVersion;
      const devices = Array.from({ length: state.devices }, (_, i) => ({
        fleet: request.fleet,
        deviceId: `robot-${i + 1}`,
        state: DeviceState.ACTIVE,
        // Acknowledged before the rotation: 5; after it: 9.
        lastKeyBundleSequence: BigInt(i < state.acked ? 9 : 5),
      }));
      return { devices, nextPageToken: '' };
    }),
    listFleets: guarded('listFleets', () => ({ fleets: [{ fleet: 'acme', activeEpoch: { keyId: 'communication/acme/fleet', version: state.activeVersion } }], nextPageToken: '' })),
  };
  server = createServer();
  addService(server, OperatorService, handlers as ServiceHandlers<typeof OperatorService>);
  const credentials = ServerCredentials.createSsl(null, [{ private_key: Buffer.from(serverKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string), cert_chain: Buffer.from(certificate.pem) }], false);
  address = `127.0.0.1:${await bindServer(server, '127.0.0.1:0', credentials)}`;
});
afterAll(async () => {
  await shutdownServer(server, 200);
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  Object.assign(state, { devices: 4, acked: 0, activeVersion: 3, newVersion: 4, deadline: Date.now() + 3_600_000, pending: false, activateAfterAllAcked: true, calls: [] });
});

const env = { FLEETKEY_TOKEN: TOKEN, HOME: '/nonexistent' };
const fleetctl = (...argv: string[]): Promise<RunResult> => runFleetctl(['--controller', address, '--ca-file', caFile, ...argv], { env: { ...env, HOME: dir } });

describe('fleetctl rotate', () => {
  it('starts a rotation and prints the new epoch, its state and activation deadline', async () => {
    const result = await fleetctl('rotate', '--fleet', 'acme', '--reason', 'monthly drill');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(state.calls.find((c) => c.method === 'rotateKeys')?.request).toMatchObject({ fleet: 'acme', group: '', reason: 'monthly drill' });
    expect(result.stdout).toMatch(/^Key:\s+communication\/acme\/fleet$/m);
    expect(result.stdout).toMatch(/^Version:\s+4$/m);
    expect(result.stdout).toMatch(/^State:\s+pending$/m);
    expect(result.stdout).toContain(new Date(state.deadline).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    // Without --wait nothing is polled.
    expect(state.calls.map((c) => c.method)).toEqual(['rotateKeys']);
  });

  it('-o json prints one document with the new epoch and its deadline', async () => {
    const result = await fleetctl('rotate', '--fleet', 'acme', '--group', 'line-a', '-o', 'json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      fleet: 'acme',
      group: 'line-a',
      newEpoch: { keyId: 'communication/acme/line-a', version: 4 },
      state: 'pending',
      activationDeadline: new Date(state.deadline).toISOString(),
      outcome: 'not-waited',
    });
  });

  it('--wait prints plain progress lines when stdout is not a terminal, until the fleet reports the epoch active', async () => {
    const result = await fleetctl('rotate', '--fleet', 'acme', '--wait', '--poll-interval', '0.01');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines).toContain('acknowledged 1/4');
    expect(lines).toContain('acknowledged 4/4');
    expect(result.stdout).not.toContain('\r');
    expect(result.stdout).toMatch(/^State:\s+active$/m);
    expect(result.stdout).toMatch(/^Acknowledged:\s+4\/4$/m);
  });

  it('--wait draws a progress bar in place on a terminal', async () => {
    let stdout = '';
    const code = await runCli(['--controller', address, '--ca-file', caFile, 'rotate', '--fleet', 'acme', '--wait', '--poll-interval', '0.01'], {
      stdout: { write: (text: string) => (stdout += text), isTTY: true } as { write(text: string): unknown },
      stderr: { write: () => undefined },
      stdin: Readable.from([]),
      env: { ...env, HOME: dir },
      cwd: dir,
    });
    expect(code).toBe(0);
    expect(stdout).toContain(`\r${progressBar({ acked: 1, total: 4 })}`);
    expect(stdout).toContain(`\r${progressBar({ acked: 4, total: 4 })}\n`);
  });

  it('--wait -o json prints only the final state', async () => {
    const result = await fleetctl('rotate', '--fleet', 'acme', '--wait', '--poll-interval', '0.01', '-o', 'json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ state: 'active', outcome: 'active', acknowledged: 4, devices: 4, newEpoch: { version: 4 } });
  });

  it('for a group key, --wait stops once every device acknowledged', async () => {
    state.activateAfterAllAcked = false;
    const result = await fleetctl('rotate', '--fleet', 'acme', '--group', 'line-a', '--wait', '--poll-interval', '0.01', '-o', 'json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ outcome: 'acknowledged', state: 'pending', acknowledged: 4, devices: 4 });
    expect(state.calls.filter((c) => c.method === 'listDevices').every((c) => c.request.group === 'line-a')).toBe(true);
  });

  it('an explicit --timeout bounds the wait: exit 1 with the epoch still pending', async () => {
    state.activateAfterAllAcked = false;
    const result = await fleetctl('--timeout', '0.3', 'rotate', '--fleet', 'acme', '--wait', '--poll-interval', '0.05', '-o', 'json');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('still pending');
    expect(JSON.parse(result.stdout)).toMatchObject({ outcome: 'timed-out', state: 'pending' });
  });

  it('a rotation already in progress is a refused change (exit 7) with the controller’s reason', async () => {
    state.pending = true;
    const result = await fleetctl('rotate', '--fleet', 'acme');
    expect(result.code).toBe(7);
    expect(result.stderr).toContain('already in progress');
  });

  it.each([
    [['rotate'], 'required option'],
    [['rotate', '--fleet', 'no/slash'], 'not a valid fleet id'],
    [['rotate', '--fleet', 'acme', '--reason', 'x'.repeat(513)], 'at most 512 bytes'],
    [['rotate', '--fleet', 'acme', '--poll-interval', '0'], 'above 0'],
  ])('refuses %j before calling the controller (exit 2)', async (argv, message) => {
    const result = await fleetctl(...argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(state.calls).toEqual([]);
  });
});
