/**
 * Test-only: an OperatorService implemented in the test, served by the real gRPC adapter over real
 * TLS on 127.0.0.1 port 0, with a CA and server certificate made by @fleetkey/crypto. It checks the
 * bearer token like the controller does, records every request it received, pages its lists two
 * items at a time, and answers with canned but realistic data.
 *
 * Trust boundary: test code only; keys and tokens here are throwaway.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import { createCaCertificate, createLocalSigner, generateKeyPair, issueDeviceCertificate, issueServerCertificate } from '@fleetkey/crypto';
import { FleetkeyError, PermissionDenied, Unauthenticated } from '@fleetkey/key-types';
import {
  DeviceState,
  EnrollmentTokenState,
  KeyAlgorithm,
  KeyState,
  OperatorRole,
  OperatorService,
  addService,
  bindServer,
  createServer,
  shutdownServer,
  type CallContext,
  type ServiceHandlers,
} from '@fleetkey/protocol';
import { ServerCredentials, type Server } from '@grpc/grpc-js';

/** Tokens the fake controller knows: an admin and an auditor (read-only). */
export const ADMIN_TOKEN = 'fkop_admin_7f3c9e21b4d84a6f9c0e5b2a1d3f4e5c';
export const AUDITOR_TOKEN = 'fkop_auditor_0a1b2c3d4e5f60718293a4b5c6d7e8f9';
/** The credential CreateOperator hands out. */
export const NEW_OPERATOR_CREDENTIAL = 'fkop_new_c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6';
/** Items per page when the client leaves page_size 0 (small, so every list pages). */
export const FAKE_PAGE_SIZE = 2;

export const NOW = new Date('2030-06-15T12:00:00Z');
const DAY_MS = 86_400_000;

class RecordNotFound extends FleetkeyError {
  readonly code = 'RECORD_NOT_FOUND' as const;
}
class RecordExists extends FleetkeyError {
  readonly code = 'RECORD_EXISTS' as const;
}
class IllegalStateTransition extends FleetkeyError {
  readonly code = 'ILLEGAL_STATE_TRANSITION' as const;
}

export interface ReceivedCall {
  readonly method: string;
  readonly request: Record<string, unknown>;
  readonly authorization: string | undefined;
}

export interface FakeController {
  readonly address: string;
  /** PEM of the CA that issued the server certificate (what the controller writes to DIR/ca.pem). */
  readonly caFile: string;
  /** A PEM file of an unrelated CA, for wrong --ca-file tests. */
  readonly otherCaFile: string;
  /** DER of the device certificate robot-1 carries. */
  readonly deviceCertificate: Uint8Array;
  readonly caPem: string;
  readonly dir: string;
  readonly calls: ReceivedCall[];
  /** What GetHealth reports; tests flip it to see `status` fail. */
  readonly health: { healthy: boolean };
  /** Calls of one rpc, by local name (`listFleets`). */
  callsOf(method: string): ReceivedCall[];
  close(): Promise<void>;
}

function ts(date: Date): Timestamp {
  return timestampFromDate(date);
}

function page<T>(items: readonly T[], request: { pageToken: string; pageSize: number }): { items: T[]; nextPageToken: string } {
  const offset = request.pageToken === '' ? 0 : Number(request.pageToken.replace(/^offset:/, ''));
  const size = request.pageSize === 0 ? FAKE_PAGE_SIZE : request.pageSize;
  const end = offset + size;
  return { items: items.slice(offset, end), nextPageToken: end < items.length ? `offset:${end}` : '' };
}

const FLEETS = ['acme', 'globex', 'initech'].map((fleet, i) => ({
  fleet,
  displayName: `${fleet[0]?.toUpperCase()}${fleet.slice(1)} robots`,
  createdAt: ts(new Date(NOW.getTime() - (30 - i) * DAY_MS)),
  kmsProvider: i === 1 ? 'aws' : 'local',
  caAlgorithm: KeyAlgorithm.ECDSA_P256,
  emergencyAlgorithm: KeyAlgorithm.ECDSA_P384,
  activeEpoch: { keyId: `communication/${fleet}/fleet`, version: 3 + i },
  deviceCount: 10 * (i + 1),
  locked: i === 2,
}));

const OPERATORS = [
  { operatorId: 'admin', role: OperatorRole.ADMIN, fleets: [], displayName: 'Initial admin', createdBy: 'controller' },
  { operatorId: 'alice', role: OperatorRole.OPERATOR, fleets: ['acme', 'globex'], displayName: 'Alice', createdBy: 'admin' },
  { operatorId: 'line-3', role: OperatorRole.FACTORY, fleets: ['acme'], displayName: 'Station 3', createdBy: 'admin' },
].map((o, i) => ({ ...o, createdAt: ts(new Date(NOW.getTime() - (10 - i) * DAY_MS)) }));

const REVOKED_OPERATOR = { operatorId: 'mallory', role: OperatorRole.AUDITOR, fleets: [], displayName: 'Mallory', createdBy: 'admin', createdAt: ts(new Date(NOW.getTime() - 5 * DAY_MS)), revokedAt: ts(NOW) };

const TOKENS = [
  { tokenId: 'tok-1', state: EnrollmentTokenState.ACTIVE, group: 'line-a', serialNumber: '' },
  { tokenId: 'tok-2', state: EnrollmentTokenState.USED, group: 'line-a', serialNumber: 'SN-0042', usedByDeviceId: 'robot-1', usedAt: ts(NOW) },
  { tokenId: 'tok-3', state: EnrollmentTokenState.EXPIRED, group: '', serialNumber: '' },
].map((t) => ({ fleet: 'acme', createdAt: ts(new Date(NOW.getTime() - DAY_MS)), expiresAt: ts(NOW), createdBy: 'alice', ...t }));

const AUDIT_RECORDS = [1, 2, 3, 4, 5].map((n) => ({
  sequence: BigInt(n),
  recordedAt: ts(new Date(NOW.getTime() + n * 1000)),
  fleet: 'acme',
  actor: n === 1 ? 'controller' : 'alice',
  action: ['fleet.create', 'token.create', 'device.enroll', 'device.revoke', 'key.rotate'][n - 1] ?? 'x',
  subject: n === 3 ? 'robot-1' : `subject-${n}`,
  success: n !== 4,
  details: (n === 2 ? { count: '2' } : {}) as Record<string, string>,
  previousHash: new Uint8Array(32).fill(n - 1),
  hash: new Uint8Array(32).fill(n),
}));

async function makeCertificates(dir: string) {
  const now = new Date();
  const window = { notBefore: new Date(now.getTime() - DAY_MS), notAfter: new Date(now.getTime() + DAY_MS) };
  const caKeys = await generateKeyPair('ECDSA_P256');
  const caSigner = createLocalSigner(caKeys.privateKey);
  const ca = await createCaCertificate({ signer: caSigner, fleet: 'acme', commonName: 'acme CA', ...window });
  const serverKeys = await generateKeyPair('ECDSA_P256');
  const server = await issueServerCertificate({
    issuerSigner: caSigner,
    issuerCertificate: ca.pem,
    publicKey: serverKeys.publicKey,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    ...window,
  });
  const deviceKeys = await generateKeyPair('ECDSA_P256');
  const device = await issueDeviceCertificate({ issuerSigner: caSigner, issuerCertificate: ca.pem, publicKey: deviceKeys.publicKey, fleet: 'acme', deviceId: 'robot-1', ...window });
  const otherKeys = await generateKeyPair('ECDSA_P256');
  const other = await createCaCertificate({ signer: createLocalSigner(otherKeys.privateKey), fleet: 'elsewhere', commonName: 'elsewhere CA', ...window });
  const caFile = join(dir, 'ca.pem');
  const otherCaFile = join(dir, 'other-ca.pem');
  writeFileSync(caFile, ca.pem);
  writeFileSync(otherCaFile, other.pem);
  const keyPem = serverKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  return { caPem: ca.pem, caFile, otherCaFile, serverCertPem: server.pem, serverKeyPem: keyPem, deviceCertificate: device.der };
}

/** Starts the fake controller; close it in afterAll. */
export async function startFakeController(): Promise<FakeController> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetctl-test-'));
  const certs = await makeCertificates(dir);
  const calls: ReceivedCall[] = [];
  const health = { healthy: true };

  const device = {
    fleet: 'acme',
    deviceId: 'robot-1',
    group: 'line-a',
    serialNumber: 'SN-0042',
    state: DeviceState.ACTIVE,
    certificateSerial: '0a1b2c3d',
    certificateNotAfter: ts(new Date(NOW.getTime() + 90 * DAY_MS)),
    enrolledAt: ts(NOW),
    lastContact: ts(new Date(NOW.getTime() + 60_000)),
    agentVersion: '0.1.0',
    hardwareModel: 'AMR-7',
    locked: false,
    lastCommandSequence: 12n,
    lastKeyBundleSequence: 4n,
    epochs: [{ key: { keyId: 'communication/acme/fleet', version: 3 }, state: KeyState.ACTIVE, notAfter: ts(new Date(NOW.getTime() + DAY_MS)) }],
    certificate: certs.deviceCertificate,
  };
  const devices = [
    device,
    { ...device, deviceId: 'robot-2', certificateSerial: '0e0f', lastContact: undefined, certificate: new Uint8Array() },
    { ...device, deviceId: 'robot-3', group: 'line-b', state: DeviceState.REVOKED, revokedAt: ts(NOW), certificate: new Uint8Array() },
  ];

  // Every handler runs behind the same credential check and records what it received.
  function guarded<Req extends object, Res>(method: string, handler: (request: Req, role: 'admin' | 'auditor') => Res | Promise<Res>, mutating = false) {
    return async (request: Req, context: CallContext): Promise<Res> => {
      const authorization = context.metadata.get('authorization')[0];
      calls.push({ method, request: { ...request } as Record<string, unknown>, authorization: typeof authorization === 'string' ? authorization : undefined });
      const role = authorization === `Bearer ${ADMIN_TOKEN}` ? 'admin' : authorization === `Bearer ${AUDITOR_TOKEN}` ? 'auditor' : undefined;
      if (role === undefined) throw new Unauthenticated();
      if (mutating && role !== 'admin') throw new PermissionDenied(`role auditor may not call ${method}`);
      return handler(request, role);
    };
  }

  const handlers: ServiceHandlers<typeof OperatorService> = {
    getHealth: guarded('getHealth', () => ({
      healthy: health.healthy,
      version: '0.1.0',
      leader: true,
      checkedAt: ts(NOW),
      components: [
        { name: 'store', healthy: true, latency: { seconds: 0n, nanos: 2_000_000 }, checkedAt: ts(NOW) },
        { name: 'kms:local', healthy: health.healthy, detail: health.healthy ? '' : 'key fleet-ca/acme/ca: provider timeout', latency: { seconds: 0n, nanos: 15_000_000 }, checkedAt: ts(NOW) },
      ],
    })),
    listFleets: guarded('listFleets', (request) => {
      const { items, nextPageToken } = page(FLEETS, request);
      return { fleets: items, nextPageToken };
    }),
    createFleet: guarded(
      'createFleet',
      (request) => {
        if (FLEETS.some((f) => f.fleet === request.fleet)) throw new RecordExists(`fleet ${request.fleet} already exists`);
        return { fleet: { fleet: request.fleet, displayName: request.displayName, kmsProvider: request.kmsProvider || 'local', caAlgorithm: request.caAlgorithm || KeyAlgorithm.ECDSA_P256, emergencyAlgorithm: request.emergencyAlgorithm || KeyAlgorithm.ECDSA_P256, createdAt: ts(NOW), activeEpoch: { keyId: `communication/${request.fleet}/fleet`, version: 1 } } };
      },
      true,
    ),
    createOperator: guarded(
      'createOperator',
      (request) => ({
        operator: { operatorId: request.operatorId, role: request.role, fleets: request.fleets, displayName: request.displayName, createdAt: ts(NOW), createdBy: 'admin' },
        credential: NEW_OPERATOR_CREDENTIAL,
      }),
      true,
    ),
    listOperators: guarded('listOperators', (request) => {
      const { items, nextPageToken } = page(request.includeRevoked ? [...OPERATORS, REVOKED_OPERATOR] : OPERATORS, request);
      return { operators: items, nextPageToken };
    }),
    revokeOperator: guarded(
      'revokeOperator',
      (request) => {
        const found = OPERATORS.find((o) => o.operatorId === request.operatorId);
        if (found === undefined) throw new RecordNotFound(`operator ${request.operatorId} does not exist`);
        return { operator: { ...found, revokedAt: ts(NOW) } };
      },
      true,
    ),
    createEnrollmentToken: guarded(
      'createEnrollmentToken',
      (request) => {
        const ttlMs = request.ttl === undefined ? DAY_MS : Number(request.ttl.seconds) * 1000;
        return {
          tokens: Array.from({ length: request.count || 1 }, (_, i) => ({
            token: `fket_${i + 1}_${'9'.repeat(40)}`,
            info: {
              tokenId: `new-${i + 1}`,
              fleet: request.fleet,
              group: request.group,
              serialNumber: request.serialNumber,
              createdAt: ts(NOW),
              expiresAt: ts(new Date(NOW.getTime() + ttlMs)),
              createdBy: 'admin',
              state: EnrollmentTokenState.ACTIVE,
            },
          })),
        };
      },
      true,
    ),
    listEnrollmentTokens: guarded('listEnrollmentTokens', (request) => {
      if (request.fleet !== 'acme') throw new RecordNotFound(`fleet ${request.fleet} does not exist`);
      const matching = TOKENS.filter((t) => request.state === EnrollmentTokenState.UNSPECIFIED || t.state === request.state);
      const { items, nextPageToken } = page(matching, request);
      return { tokens: items, nextPageToken };
    }),
    revokeEnrollmentToken: guarded(
      'revokeEnrollmentToken',
      (request) => {
        const found = TOKENS.find((t) => t.tokenId === request.tokenId && t.fleet === request.fleet);
        if (found === undefined) throw new RecordNotFound(`token ${request.tokenId} does not exist`);
        if (found.state !== EnrollmentTokenState.ACTIVE) throw new IllegalStateTransition(`token ${request.tokenId} is not active`);
        return { token: { ...found, state: EnrollmentTokenState.REVOKED } };
      },
      true,
    ),
    listDevices: guarded('listDevices', (request) => {
      const matching = devices.filter(
        (d) => d.fleet === request.fleet && (request.group === '' || d.group === request.group) && (request.state === DeviceState.UNSPECIFIED || d.state === request.state),
      );
      const { items, nextPageToken } = page(matching, request);
      return { devices: items, nextPageToken };
    }),
    getDevice: guarded('getDevice', (request) => {
      const found = devices.find((d) => d.fleet === request.fleet && d.deviceId === request.deviceId);
      if (found === undefined) throw new RecordNotFound(`device ${request.deviceId} does not exist in fleet ${request.fleet}`);
      return { device: found };
    }),
    listAuditRecords: guarded('listAuditRecords', (request) => {
      const after = AUDIT_RECORDS.filter((r) => r.sequence > request.afterSequence);
      const { items, nextPageToken } = page(after, request);
      return { records: items, nextPageToken };
    }),
    verifyAudit: guarded('verifyAudit', (request) =>
      request.fleet === 'tampered'
        ? { valid: false, recordsChecked: 3n, firstInvalidSequence: 3n, headSequence: 5n, headHash: new Uint8Array(32).fill(5), headSignedAt: ts(NOW), headSignatureValid: true }
        : { valid: true, recordsChecked: 5n, headSequence: 5n, headHash: new Uint8Array(32).fill(5), headSignedAt: ts(NOW), headSignatureValid: true },
    ),
  };

  const server: Server = createServer();
  addService(server, OperatorService, handlers);
  const credentials = ServerCredentials.createSsl(null, [{ private_key: Buffer.from(certs.serverKeyPem), cert_chain: Buffer.from(certs.serverCertPem) }], false);
  const port = await bindServer(server, '127.0.0.1:0', credentials);

  return {
    address: `127.0.0.1:${port}`,
    caFile: certs.caFile,
    otherCaFile: certs.otherCaFile,
    caPem: certs.caPem,
    deviceCertificate: certs.deviceCertificate,
    dir,
    calls,
    health,
    callsOf: (method) => calls.filter((c) => c.method === method),
    close: async () => {
      await shutdownServer(server, 200);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
