/**
 * `fleetctl revoke`, `lockdown`, `lockdown status`, `lift` and `approve` against an OperatorService
 * implemented in this test and served over real TLS on a real socket: what each command sends,
 * what it prints in table and JSON form, and the exit codes of the controller's refusals.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { EXIT } from '@fleetkey/cli';
import { createCaCertificate, createLocalSigner, generateKeyPair, issueServerCertificate } from '@fleetkey/crypto';
import { IllegalStateTransition, PermissionDenied, Unauthenticated } from '@fleetkey/key-types';
import {
  DeviceState,
  LiftRequestState,
  OperatorService,
  addService,
  bindServer,
  createServer,
  shutdownServer,
  type CallContext,
  type Scope,
  type ServiceHandlers,
} from '@fleetkey/protocol';
import { ServerCredentials, type Server } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runFleetctl, type RunResult } from '../test-support/run.js';

const TOKEN = 'fkop_lockdown_test_0123456789abcdef0123456789';
const NOW = new Date('2030-06-15T12:00:00Z');
const ts = (offsetMs = 0) => timestampFromDate(new Date(NOW.getTime() + offsetMs));

let dir: string;
let caFile: string;
let server: Server;
let address: string;
const calls: { method: string; request: Record<string, unknown> }[] = [];

function scopeOf(request: { scope?: Scope }) {
  return { fleet: request.scope?.fleet ?? '', target: request.scope?.target ?? { case: undefined } };
}

const device = (deviceId: string, group: string, lastCommandSequence: bigint) => ({ fleet: 'acme', deviceId, group, state: DeviceState.ACTIVE, lastCommandSequence, certificate: new Uint8Array() });

const liftRequest = (state: LiftRequestState, approvals: string[]) => ({
  liftRequestId: 'c3a1e2b4-0000-4000-8000-000000000001',
  scope: { fleet: 'acme' },
  reason: 'intruder caught',
  requestedBy: 'alice',
  requestedAt: ts(),
  approvals: approvals.map((operatorId) => ({ operatorId, approvedAt: ts() })),
  state,
  expiresAt: ts(3_600_000),
  commandSequence: state === LiftRequestState.EXECUTED ? 15n : 0n,
});

function guarded<Req extends object, Res>(method: string, handler: (request: Req) => Res | Promise<Res>) {
  return async (request: Req, context: CallContext): Promise<Res> => {
    calls.push({ method, request: { ...request } as Record<string, unknown> });
    if (context.metadata.get('authorization')[0] !== `Bearer ${TOKEN}`) throw new Unauthenticated();
    return handler(request);
  };
}

const handlers: ServiceHandlers<typeof OperatorService> = {
  revokeDevice: guarded('revokeDevice', (request) => {
    if (request.deviceId === 'robot-9') throw new IllegalStateTransition('device "robot-9" is already revoked');
    return {
      device: { fleet: request.fleet, deviceId: request.deviceId, state: DeviceState.REVOKED, revokedAt: ts(), certificate: new Uint8Array() },
      revocationListSequence: 2n,
      commandSequence: 14n,
      newEpoch: { keyId: 'communication/acme/fleet', version: 2 },
    };
  }),
  lockdown: guarded('lockdown', (request) => ({
    lockdown: { scope: scopeOf(request), reason: request.reason, commandSequence: 12n, issuedAt: ts(), issuedBy: 'alice', wipe: request.wipe, devicesAcknowledged: 0, devicesPending: 3 },
  })),
  getLockdownStatus: guarded('getLockdownStatus', (request) =>
    request.fleet === 'quiet'
      ? {}
      : {
          lockdowns: [
            { scope: { fleet: 'acme' }, reason: 'intrusion', commandSequence: 12n, issuedAt: ts(), issuedBy: 'alice', devicesAcknowledged: 2, devicesPending: 1 },
            { scope: { fleet: 'acme', target: { case: 'group', value: 'line-1' } }, reason: 'line 1 sealed', commandSequence: 13n, issuedAt: ts(1000), issuedBy: 'bob', wipe: true, devicesAcknowledged: 1, devicesPending: 1 },
          ],
          pendingLiftRequests: [liftRequest(LiftRequestState.PENDING, ['alice'])],
        },
  ),
  listDevices: guarded('listDevices', () => ({ devices: [device('robot-1', '', 12n), device('robot-2', 'line-1', 13n), device('robot-3', 'line-1', 11n)] })),
  requestLift: guarded('requestLift', () => ({ liftRequest: liftRequest(LiftRequestState.PENDING, ['alice']) })),
  approveLift: guarded('approveLift', (request) => {
    if (request.fleet === 'self') throw new PermissionDenied('operator alice already approved lift request; a lift needs a second, different operator');
    if (request.fleet === 'late') throw new IllegalStateTransition('lift request expired; nothing was issued');
    return { liftRequest: liftRequest(LiftRequestState.EXECUTED, ['alice', 'bob']) };
  }),
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetctl-lockdown-'));
  const window = { notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000) };
  const caKeys = await generateKeyPair('ECDSA_P256');
  const caSigner = createLocalSigner(caKeys.privateKey);
  const ca = await createCaCertificate({ signer: caSigner, fleet: 'acme', commonName: 'test CA', ...window });
  const serverKeys = await generateKeyPair('ECDSA_P256');
  const certificate = await issueServerCertificate({ issuerSigner: caSigner, issuerCertificate: ca.pem, publicKey: serverKeys.publicKey, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], ...window });
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.pem);
  server = createServer();
  addService(server, OperatorService, handlers);
  const key = Buffer.from(serverKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const port = await bindServer(server, '127.0.0.1:0', ServerCredentials.createSsl(null, [{ private_key: key, cert_chain: Buffer.from(certificate.pem) }], false));
  address = `127.0.0.1:${port}`;
});

afterAll(async () => {
  await shutdownServer(server, 200);
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  calls.length = 0;
});

function fleetctl(...argv: string[]): Promise<RunResult> {
  return runFleetctl(['--controller', address, '--ca-file', caFile, ...argv], { env: { FLEETKEY_TOKEN: TOKEN, HOME: dir } });
}

function json(result: RunResult): Record<string, unknown> {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

describe('revoke', () => {
  it('sends the device, reason and wipe, and prints what changed', async () => {
    const result = await fleetctl('revoke', 'robot-4', '--fleet', 'acme', '--reason', 'stolen from the depot', '--wipe');
    expect(result.code).toBe(0);
    expect(calls).toEqual([{ method: 'revokeDevice', request: expect.objectContaining({ fleet: 'acme', deviceId: 'robot-4', reason: 'stolen from the depot', wipe: true }) }]);
    expect(result.stdout).toContain('Revocation list:  sequence 2');
    expect(result.stdout).toContain('REVOKE command:   sequence 14 (wipe)');
    expect(result.stdout).toContain('New epoch:        communication/acme/fleet v2');
  });

  it('prints one JSON document', async () => {
    const doc = json(await fleetctl('revoke', 'robot-4', '--fleet', 'acme', '--reason', 'stolen', '-o', 'json'));
    expect(doc).toMatchObject({ revocationListSequence: 2, commandSequence: 14, newEpoch: { keyId: 'communication/acme/fleet', version: 2 }, device: { deviceId: 'robot-4', state: 'revoked' } });
  });

  it('requires a reason (exit 2, nothing sent) and maps FAILED_PRECONDITION to exit 7', async () => {
    const missing = await fleetctl('revoke', 'robot-4', '--fleet', 'acme');
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr).toMatch(/--reason/);
    expect(calls).toEqual([]);
    const twice = await fleetctl('revoke', 'robot-9', '--fleet', 'acme', '--reason', 'again');
    expect(twice.code).toBe(EXIT.conflict);
    expect(twice.stderr).toMatch(/already revoked/);
  });
});

describe('lockdown', () => {
  it('locks down the fleet, a group or a device with the reason and wipe flag', async () => {
    const fleet = await fleetctl('lockdown', '--fleet', 'acme', '--reason', 'intrusion');
    expect(fleet.code).toBe(0);
    expect(fleet.stdout).toContain('Scope:             fleet');
    expect(fleet.stdout).toContain('Confirmed:         0 of 3 devices');
    await fleetctl('lockdown', '--fleet', 'acme', '--group', 'line-1', '--reason', 'sealed', '--wipe');
    await fleetctl('lockdown', '--fleet', 'acme', '--device', 'robot-2', '--reason', 'lost');
    expect(calls.map((c) => [c.request['scope'], c.request['wipe']])).toEqual([
      [expect.objectContaining({ fleet: 'acme', target: { case: undefined } }), false],
      [expect.objectContaining({ target: { case: 'group', value: 'line-1' } }), true],
      [expect.objectContaining({ target: { case: 'deviceId', value: 'robot-2' } }), false],
    ]);
  });

  it('refuses --group with --device, a missing --reason or --fleet, and sends nothing', async () => {
    for (const argv of [
      ['lockdown', '--fleet', 'acme', '--group', 'g', '--device', 'd', '--reason', 'x'],
      ['lockdown', '--fleet', 'acme'],
      ['lockdown', '--reason', 'x'],
      ['lockdown', 'status'],
    ]) {
      const result = await fleetctl(...argv);
      expect(result.code, argv.join(' ')).toBe(EXIT.usage);
    }
    expect(calls).toEqual([]);
  });

  it('status shows the lockdowns, who has and has not confirmed, and the pending lift requests', async () => {
    const result = await fleetctl('lockdown', 'status', '--fleet', 'acme');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^SCOPE\s+SEQUENCE\s+ISSUED\s+BY\s+WIPE\s+CONFIRMED\s+PENDING\s+REASON$/);
    expect(lines[1]).toMatch(/^fleet\s+12\s+2030-06-15T12:00:00Z\s+alice\s+no\s+2\s+1\s+intrusion$/);
    expect(lines[2]).toMatch(/^group line-1\s+13\s+.*\s+bob\s+yes\s+1\s+1\s+line 1 sealed$/);
    expect(lines.filter((l) => /^robot-\d/.test(l)).map((l) => l.split(/\s{2,}/).slice(0, 3))).toEqual([
      ['robot-1', 'fleet', 'yes'],
      ['robot-2', 'fleet', 'yes'],
      ['robot-3', 'fleet', 'no'],
      ['robot-2', 'group line-1', 'yes'],
      ['robot-3', 'group line-1', 'no'],
    ]);
    expect(result.stdout).toMatch(/c3a1e2b4-0000-4000-8000-000000000001\s+fleet\s+alice\s+1\s+/);
  });

  it('status -o json: the option may come before the subcommand, and the document names who confirmed', async () => {
    const doc = json(await fleetctl('lockdown', '--fleet', 'acme', 'status', '-o', 'json'));
    expect(doc['fleet']).toBe('acme');
    expect(doc['lockdowns']).toEqual([
      expect.objectContaining({ scope: { kind: 'fleet', id: null }, commandSequence: 12, devicesAcknowledged: 2, devicesPending: 1, confirmed: ['robot-1', 'robot-2'], notConfirmed: ['robot-3'] }),
      expect.objectContaining({ scope: { kind: 'group', id: 'line-1' }, wipe: true, confirmed: ['robot-2'], notConfirmed: ['robot-3'] }),
    ]);
    expect(doc['pendingLiftRequests']).toEqual([expect.objectContaining({ state: 'pending', requestedBy: 'alice', approvals: [{ operatorId: 'alice', approvedAt: '2030-06-15T12:00:00.000Z' }], commandSequence: null })]);
  });

  it('status of a fleet with nothing in force says so and lists no devices', async () => {
    const result = await fleetctl('lockdown', 'status', '--fleet', 'quiet');
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('no lockdown is in force in fleet quiet');
    expect(calls.map((c) => c.method)).toEqual(['getLockdownStatus']);
  });
});

describe('lift and approve', () => {
  it('lift prints the request id alone on stdout and how to approve it on stderr', async () => {
    const result = await fleetctl('lift', '--fleet', 'acme', '--reason', 'intruder caught');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('c3a1e2b4-0000-4000-8000-000000000001\n');
    expect(result.stderr).toContain('fleetctl approve c3a1e2b4-0000-4000-8000-000000000001 --fleet acme');
    expect(calls[0]?.request).toMatchObject({ reason: 'intruder caught', scope: { fleet: 'acme', target: { case: undefined } } });
  });

  it('approve shows the executed request and its LIFT command', async () => {
    const result = await fleetctl('approve', 'c3a1e2b4-0000-4000-8000-000000000001', '--fleet', 'acme');
    expect(result.code).toBe(0);
    expect(calls[0]?.request).toMatchObject({ fleet: 'acme', liftRequestId: 'c3a1e2b4-0000-4000-8000-000000000001' });
    expect(result.stdout).toContain('State:         executed');
    expect(result.stdout).toContain('Approvals:     alice, bob');
    expect(result.stdout).toContain('LIFT command:  sequence 15');
    const doc = json(await fleetctl('approve', 'c3a1e2b4-0000-4000-8000-000000000001', '--fleet', 'acme', '-o', 'json'));
    expect(doc['liftRequest']).toMatchObject({ state: 'executed', commandSequence: 15 });
  });

  it('the same operator approving exits 4, an expired request exits 7, each with the reason', async () => {
    const self = await fleetctl('approve', 'c3a1e2b4-0000-4000-8000-000000000001', '--fleet', 'self');
    expect(self.code).toBe(EXIT.permissionDenied);
    expect(self.stderr).toMatch(/different operator/);
    const late = await fleetctl('approve', 'c3a1e2b4-0000-4000-8000-000000000001', '--fleet', 'late');
    expect(late.code).toBe(EXIT.conflict);
    expect(late.stderr).toMatch(/expired/);
  });
});
