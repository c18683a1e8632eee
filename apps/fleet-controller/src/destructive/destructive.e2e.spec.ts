/**
 * Destroying an epoch and deleting a fleet behind the two-operator approval, end to end over the
 * real OperatorService (TLS), with robots enrolled through the real ProvisioningService and
 * calling DeviceService over mutual TLS. The controller is the commands test harness (real data
 * directory, local KMS, SQLite file, broker) with this power served beside the commands power on
 * a second OperatorService endpoint, composed the way ../serve/fleet-powers.ts composes them.
 *
 * The tests share one controller and run in order; the fleet is deleted last.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import {
  ApprovalKind,
  EpochManifestSchema,
  LiftRequestState,
  MAX_SIGNED_PAYLOAD_BYTES,
  OperatorService,
  ProvisioningService,
  RpcError,
  addService,
  bindServer,
  closeClient,
  createClient,
  createServer,
  decodeMessage,
  shutdownServer,
  type ServiceClient,
} from '@fleetkey/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCommandsHarness, type CommandsHarness, type TestOperator, type TestRobot } from '../commands/testing.js';
import { openServerTls } from '../core/server-tls.js';
import { dataDirPaths } from '../datadir/layout.js';
import { createFleetAdministration } from '../fleets/administration.js';
import { createOperatorService } from '../operator/operator-service.js';
import { deviceIdentity } from '../provisioning/testing.js';
import { advanceSeries, rotateNow } from '../rotation/index.js';
import { InMemoryCertificateProvider, serverCredentialsOf } from '../serve/grpc-tls.js';
import { generateToken, hashToken } from '../store/index.js';
import { DESTRUCTIVE_REQUEST_TTL_MS } from './approvals.js';
import { createDestructivePower } from './power.js';

const FAILED_PRECONDITION = 9;
const PERMISSION_DENIED = 7;
const NOT_FOUND = 5;
const DAY_MS = 86_400_000;

let h: CommandsHarness;
let client: ServiceClient<typeof OperatorService>;
let stop: () => Promise<void>;
let alice: TestOperator;
let bob: TestOperator;
let operatorRole: TestOperator;
let robot: TestRobot;
let statePath: string;

async function rpcError(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

async function storeFiles(): Promise<Buffer> {
  const parts = [await readFile(statePath)];
  parts.push(await readFile(`${statePath}-wal`).catch(() => Buffer.alloc(0)));
  return Buffer.concat(parts);
}

beforeAll(async () => {
  h = await startCommandsHarness();
  const paths = dataDirPaths(dirname(h.caFile));
  statePath = paths.state;
  const tls = await openServerTls(h.core.kms, new Uint8Array(await readFile(paths.serverKey)), await readFile(paths.serverCertificate, 'utf8'));
  const destructive = await createDestructivePower({ core: h.core, events: h.events, publisher: h.broker, logger: h.logger });
  const server = createServer();
  addService(
    server,
    OperatorService,
    createOperatorService({
      repository: h.repository,
      clock: h.clock,
      fleets: createFleetAdministration(h.core, async () => undefined),
      auditPublicKeys: () => undefined,
      health: async () => [],
      version: '0.0.0-test',
      extensions: [h.power.operatorRpcs!, destructive.operatorRpcs!],
    }),
  );
  const port = await bindServer(server, '127.0.0.1:0', serverCredentialsOf(new InMemoryCertificateProvider(h.caPem, tls.certificateChainPem, tls.privateKeyPem)));
  client = createClient(OperatorService, `127.0.0.1:${port}`, credentials.createSsl(h.caPem));
  stop = async () => {
    closeClient(client);
    await shutdownServer(server, 1000);
    tls.privateKeyPem.fill(0);
  };
  alice = await h.makeOperator('admin');
  bob = await h.makeOperator('admin');
  operatorRole = await h.makeOperator('operator');
  robot = await h.enrollRobot('robot-1');
  // Epoch 2 rotated in and activated at its deadline: epoch 1 is retiring.
  await rotateNow(h.core, { fleetId: 'acme', actor: 'system', reason: 'test rotation' });
  h.clock.advance(2 * DAY_MS);
  await advanceSeries(h.core, 'acme', null);
});

afterAll(async () => {
  await stop?.();
  await h?.close();
});

describe('destroying an epoch', () => {
  it('Precondition: a pending or active epoch is never destroyed', async () => {
    expect((await h.repository.listEpochs('acme', { groupId: null })).map((epoch) => [epoch.version, epoch.state])).toEqual([
      [1, 'retiring'],
      [2, 'active'],
    ]);
    const refused = await rpcError(client.requestDestroyEpoch({ fleet: 'acme', version: 2, reason: 'shred' }, alice.call));
    expect(refused.status).toBe(FAILED_PRECONDITION);
    expect((await rpcError(client.requestDestroyEpoch({ fleet: 'acme', version: 9, reason: 'shred' }, alice.call))).status).toBe(NOT_FOUND);
    expect((await h.repository.listLiftRequests('acme', { kind: 'any' })).length).toBe(0);
  });

  it('Precondition: only an admin requests a destruction', async () => {
    expect((await rpcError(client.requestDestroyEpoch({ fleet: 'acme', version: 1, reason: 'shred' }, operatorRole.call))).status).toBe(PERMISSION_DENIED);
  });

  it('Precondition: an expired request is refused and destroys nothing', async () => {
    const { request } = await client.requestDestroyEpoch({ fleet: 'acme', version: 1, reason: 'shred the old key' }, alice.call);
    h.clock.advance(DESTRUCTIVE_REQUEST_TTL_MS + 1);
    const refused = await rpcError(client.approveLift({ fleet: 'acme', liftRequestId: request!.liftRequestId }, bob.call));
    expect(refused.status).toBe(FAILED_PRECONDITION);
    expect((await h.repository.getLiftRequest('acme', request!.liftRequestId))?.state).toBe('expired');
    expect((await h.repository.getEpoch('acme', null, 1))?.state).toBe('retiring');
  });

  it('Precondition: the same operator approving twice is refused; a second admin executes the crypto-shredding', async () => {
    const wrapped = Buffer.from((await h.repository.getEpoch('acme', null, 1))!.wrappedKey);
    expect((await storeFiles()).includes(wrapped)).toBe(true);
    const { request } = await client.requestDestroyEpoch({ fleet: 'acme', version: 1, reason: 'shred the old key' }, alice.call);
    expect([request?.kind, request?.target, request?.state]).toEqual([ApprovalKind.DESTROY_EPOCH, 'epoch 1 of communication/acme/fleet', LiftRequestState.PENDING]);
    const id = request!.liftRequestId;
    expect((await rpcError(client.approveLift({ fleet: 'acme', liftRequestId: id }, alice.call))).status).toBe(PERMISSION_DENIED);
    expect((await rpcError(client.approveLift({ fleet: 'acme', liftRequestId: id }, operatorRole.call))).status).toBe(PERMISSION_DENIED);
    expect((await h.repository.getEpoch('acme', null, 1))?.state).toBe('retiring');

    const approved = await client.approveLift({ fleet: 'acme', liftRequestId: id }, bob.call);
    expect(approved.liftRequest?.state).toBe(LiftRequestState.EXECUTED);
    expect(approved.liftRequest?.approvals.map((a) => a.operatorId)).toEqual([alice.id, bob.id]);

    const epoch = await h.repository.getEpoch('acme', null, 1);
    expect([epoch?.state, epoch?.wrappedKey.length]).toEqual(['destroyed', 0]);
    expect((await storeFiles()).includes(wrapped)).toBe(false);

    const bundle = (await h.deviceClient(robot).getKeyBundle({})).keyBundle!;
    expect(bundle.epochs.map((each) => each.key?.version)).toEqual([2]);
    const manifest = decodeMessage(EpochManifestSchema, bundle.manifests[0]!.payload, { maxBytes: MAX_SIGNED_PAYLOAD_BYTES });
    expect(manifest.epochs.map((each) => each.version)).toEqual([2]);

    const audit = await h.repository.audit.listRecords(0, 1000);
    expect(audit.filter((record) => record.action === 'epoch.destroy').map((record) => [record.keyRef, record.actor])).toEqual([['communication/acme/fleet@1', bob.id]]);
    expect(audit.filter((record) => record.action === 'approval.approve' && record.result === 'ok').length).toBe(1);

    const listed = await client.listLiftRequests({ fleet: 'acme', kind: ApprovalKind.DESTROY_EPOCH }, alice.call);
    expect(listed.liftRequests.map((each) => each.state)).toEqual([LiftRequestState.EXPIRED, LiftRequestState.EXECUTED]);
    expect((await rpcError(client.approveLift({ fleet: 'acme', liftRequestId: id }, operatorRole.call))).status).toBe(PERMISSION_DENIED);
    expect((await rpcError(client.requestDestroyEpoch({ fleet: 'acme', version: 1, reason: 'again' }, alice.call))).status).toBe(FAILED_PRECONDITION);
  });

  it('Precondition: a request of another fleet is NOT_FOUND in the fleet named', async () => {
    const [request] = await h.repository.listLiftRequests('acme', { kind: 'destroy-epoch' });
    expect(request).toBeDefined();
    expect((await rpcError(client.approveLift({ fleet: 'other', liftRequestId: request!.id }, bob.call))).status).toBe(NOT_FOUND);
  });
});

describe('deleting a fleet', () => {
  it('Precondition: deleting a fleet needs an all-fleets admin', async () => {
    const scopedAdmin = await h.makeOperator('admin', ['acme']);
    expect((await rpcError(client.requestDeleteFleet({ fleet: 'acme', reason: 'closing the site' }, scopedAdmin.call))).status).toBe(PERMISSION_DENIED);
    expect((await rpcError(client.requestDeleteFleet({ fleet: 'acme', reason: 'closing the site' }, operatorRole.call))).status).toBe(PERMISSION_DENIED);
  });

  it('revokes every device and unused token, destroys every epoch, and hides the fleet once a second admin approves', async () => {
    const spare = generateToken('enrollment');
    await h.repository.createEnrollmentToken({ fleetId: 'acme', tokenHash: hashToken(spare), expiresAt: h.clock() + DAY_MS });
    const deviceClient = h.deviceClient(robot);
    expect((await deviceClient.getKeyBundle({})).keyBundle?.epochs.length).toBe(1);

    const { request } = await client.requestDeleteFleet({ fleet: 'acme', reason: 'closing the site' }, alice.call);
    expect([request?.kind, request?.target]).toEqual([ApprovalKind.DELETE_FLEET, 'fleet acme']);
    expect((await rpcError(client.approveLift({ fleet: 'acme', liftRequestId: request!.liftRequestId }, alice.call))).status).toBe(PERMISSION_DENIED);
    expect((await client.listFleets({}, alice.call)).fleets.map((fleet) => fleet.fleet)).toEqual(['acme']);

    const approved = await client.approveLift({ fleet: 'acme', liftRequestId: request!.liftRequestId }, bob.call);
    expect(approved.liftRequest?.state).toBe(LiftRequestState.EXECUTED);
    expect(approved.notice).toMatch(/cannot delete KMS keys/);

    expect((await client.listFleets({}, alice.call)).fleets).toEqual([]);
    expect((await rpcError(client.listDevices({ fleet: 'acme' }, alice.call))).status).toBe(NOT_FOUND);
    // Nothing can revive it, not even a rotation that does not ask whether the fleet exists.
    await expect(rotateNow(h.core, { fleetId: 'acme', actor: 'system', reason: 'late tick' })).rejects.toMatchObject({ code: 'RECORD_NOT_FOUND' });
    expect((await rpcError(client.requestDeleteFleet({ fleet: 'acme', reason: 'again' }, alice.call))).status).toBe(NOT_FOUND);

    expect((await h.repository.getDevice('acme', 'robot-1'))?.status).toBe('revoked');
    expect((await rpcError(deviceClient.getKeyBundle({}))).code).toBe('CERTIFICATE_REVOKED');
    expect((await h.repository.listEnrollmentTokens({ fleetId: 'acme' })).every((token) => token.usedAt !== null || token.revokedAt !== null)).toBe(true);
    expect((await h.repository.listEpochs('acme')).map((epoch) => [epoch.version, epoch.state, epoch.wrappedKey.length])).toEqual([
      [1, 'destroyed', 0],
      [2, 'destroyed', 0],
    ]);

    const station = createClient(ProvisioningService, h.address, credentials.createSsl(h.caPem));
    try {
      const identity = await deviceIdentity('ECDSA_P256', 'robot-late');
      expect((await rpcError(station.enroll({ enrollmentToken: spare, csr: identity.csr, deviceId: 'robot-late' }))).code).toBe('ENROLLMENT_TOKEN_REJECTED');
    } finally {
      closeClient(station);
    }

    const audit = await h.repository.audit.listRecords(0, 1000);
    const deletion = audit.find((record) => record.action === 'fleet.delete');
    expect([deletion?.actor, deletion?.fleetId]).toEqual([bob.id, 'acme']);
    expect(JSON.parse(deletion!.detailsJson)).toMatchObject({ revokedDevices: 1, revokedEnrollments: 1, destroyedEpochs: 1 });
    expect((await client.listAuditRecords({ fleet: 'acme' }, alice.call)).records.length).toBeGreaterThan(0);
  });
});
