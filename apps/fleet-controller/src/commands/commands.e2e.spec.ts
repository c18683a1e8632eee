/**
 * Revocation, emergency lockdown, the two-operator lift, command delivery and acknowledgements end
 * to end: robots enrolled through the real ProvisioningService, operators on the real
 * OperatorService over TLS, robots on DeviceService over mutual TLS and on the embedded broker
 * over TLS with their device certificates (real `mqtt` clients), signatures checked the way a
 * robot checks them — against the emergency key it pinned at enrollment.
 *
 * The tests share one controller and run in order: each one starts from what the previous left
 * (lockdowns in force, acknowledgements), as an operator's day would.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { generateKeyPair, verifySignature } from '@fleetkey/crypto';
import {
  AckKind,
  AckOutcome,
  AckSchema,
  CommandAction,
  CommandSchema,
  DeviceService,
  DeviceState,
  LiftRequestState,
  MAX_SIGNED_COMMAND_BYTES,
  MAX_SIGNED_REVOCATION_LIST_BYTES,
  RevocationListSchema,
  RpcError,
  SignedCommandSchema,
  SignedRevocationListSchema,
  closeClient,
  createClient,
  decodeMessage,
  deviceAcksTopic,
  deviceCommandsTopic,
  deviceKeysTopic,
  emergencyTopic,
  revocationsTopic,
  signatureAlgorithmFromProto,
  verifyPayload,
  type PayloadVerifier,
  type StreamCommandsResponse,
} from '@fleetkey/protocol';
import { create, toBinary } from '@bufbuild/protobuf';
import { credentials } from '@grpc/grpc-js';
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LIFT_REQUEST_TTL_MS } from './lockdown.js';
import { FLEETCTL_BIN, run } from '../serve/testing.js';
import { startCommandsHarness, type CommandsHarness, type TestOperator, type TestRobot } from './testing.js';

let h: CommandsHarness;
let alice: TestOperator;
let bob: TestOperator;
let auditor: TestOperator;
let betaOperator: TestOperator;
/** robot-1: no group; robot-2, robot-3, robot-4: group line-1. */
let robot1: TestRobot;
let robot2: TestRobot;
let robot3: TestRobot;
let robot4: TestRobot;

/** What a robot does with a signed payload: verify against its pinned key, then parse. */
const pinnedVerifier =
  (key: KeyObject): PayloadVerifier =>
  (input, signed) => {
    if (!verifySignature(key, signatureAlgorithmFromProto(signed.signatureAlgorithm), input, signed.signature)) throw new Error('signature does not verify against the pinned emergency key');
  };

async function rpcError(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

function closedOf(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

/** Collects what a client receives on `topic`. */
function collect(client: MqttClient, topic: string): { payload: Buffer; retain: boolean }[] {
  const received: { payload: Buffer; retain: boolean }[] = [];
  client.on('message', (t, payload, packet) => {
    if (t === topic) received.push({ payload, retain: packet.retain });
  });
  return received;
}

async function lockdownStatus(as: TestOperator = alice) {
  return h.operatorClient.getLockdownStatus({ fleet: 'acme' }, as.call);
}

function ack(robot: TestRobot, kind: AckKind, sequence: bigint, outcome = AckOutcome.APPLIED, deviceId = robot.deviceId) {
  return create(AckSchema, { fleet: robot.fleet, deviceId, kind, sequence, outcome, ackedAt: timestampFromMs(h.clock()) });
}

beforeAll(async () => {
  h = await startCommandsHarness();
  alice = await h.makeOperator('operator');
  bob = await h.makeOperator('admin');
  auditor = await h.makeOperator('auditor');
  await h.operatorClient.createFleet({ fleet: 'beta', displayName: 'Beta' }, h.admin.call);
  betaOperator = await h.makeOperator('admin', ['beta']);
  robot1 = await h.enrollRobot('robot-1');
  robot2 = await h.enrollRobot('robot-2', { group: 'line-1' });
  robot3 = await h.enrollRobot('robot-3', { group: 'line-1' });
  robot4 = await h.enrollRobot('robot-4', { group: 'line-1' });
}, 60_000);

afterAll(async () => {
  await h?.close();
});

describe('emergency lockdown', () => {
  let fleetLockdown: bigint;

  it('publishes a signed LOCKDOWN retained on the emergency topic; a robot that connects later gets it and it verifies against its pinned emergency key', async () => {
    const { lockdown } = await h.operatorClient.lockdown({ scope: { fleet: 'acme' }, reason: 'intrusion on line 1', wipe: false }, alice.call);
    fleetLockdown = lockdown!.commandSequence;
    expect(fleetLockdown).toBeGreaterThan(robot4.enrolledAtSequence);
    expect(lockdown).toMatchObject({ reason: 'intrusion on line 1', issuedBy: alice.id, devicesAcknowledged: 0, devicesPending: 4, wipe: false });

    // Connected only now: the broker hands over the retained command.
    const client = await h.mqtt(robot1);
    const received = collect(client, emergencyTopic('acme'));
    await client.subscribeAsync(emergencyTopic('acme'), { qos: 1 });
    await vi.waitFor(() => expect(received).toHaveLength(1));
    expect(received[0]!.retain).toBe(true);
    const signed = decodeMessage(SignedCommandSchema, received[0]!.payload, { maxBytes: MAX_SIGNED_COMMAND_BYTES });
    expect(signed.signingKey).toMatchObject({ keyId: 'emergency/acme/emergency' });
    const command = await verifyPayload(CommandSchema, signed, pinnedVerifier(robot1.emergencyKey));
    expect(command).toMatchObject({ fleet: 'acme', sequence: fleetLockdown, action: CommandAction.LOCKDOWN, reason: 'intrusion on line 1', wipe: false, scope: { fleet: 'acme', target: { case: undefined } } });
    expect(timestampMs(command.expiresAt!)).toBeGreaterThan(timestampMs(command.issuedAt!));

    // The same bytes do not pass with any other key, nor with a flipped payload bit.
    const stranger = await generateKeyPair('ECDSA_P256');
    await expect(verifyPayload(CommandSchema, signed, pinnedVerifier(stranger.publicKey))).rejects.toThrow(/pinned/);
    const tampered = { ...signed, payload: Uint8Array.from(signed.payload, (byte, i) => (i === 3 ? byte ^ 1 : byte)) };
    await expect(verifyPayload(CommandSchema, tampered, pinnedVerifier(robot1.emergencyKey))).rejects.toThrow(/pinned/);
  });

  it('StreamCommands replays what a robot missed, then streams what concerns it, and detaches when cancelled', async () => {
    const robot = h.deviceClient(robot2);
    const cancel = new AbortController();
    const stream = robot.streamCommands({ lastCommandSequence: robot2.enrolledAtSequence, lastKeyBundleSequence: 0n, lastRevocationSequence: 0n }, { signal: cancel.signal });
    const items = stream[Symbol.asyncIterator]();
    const next = async (): Promise<StreamCommandsResponse['item']> => (await items.next()).value!.item;

    const replayed = await next();
    expect(replayed.case).toBe('command');
    const replayedCommand = await verifyPayload(CommandSchema, replayed.value as never, pinnedVerifier(robot2.emergencyKey));
    expect(replayedCommand.sequence).toBe(fleetLockdown);
    expect((await next()).case).toBe('keyBundle');
    expect((await next()).case).toBe('revocationList');
    expect(h.events.listenerCount('command')).toBe(1);

    // Live: a lockdown of another device and of another group are not for robot-2; its group's and its own are.
    await h.operatorClient.lockdown({ scope: { fleet: 'acme', target: { case: 'deviceId', value: 'robot-1' } }, reason: 'robot-1 lost', wipe: false }, alice.call);
    await h.repository.createGroup({ fleetId: 'acme', id: 'line-2', name: 'line 2' });
    await h.operatorClient.lockdown({ scope: { fleet: 'acme', target: { case: 'group', value: 'line-2' } }, reason: 'line 2 audit', wipe: false }, alice.call);
    const groupLockdown = (await h.operatorClient.lockdown({ scope: { fleet: 'acme', target: { case: 'group', value: 'line-1' } }, reason: 'line 1 sealed', wipe: true }, alice.call)).lockdown!;
    const live = await next();
    const liveCommand = await verifyPayload(CommandSchema, live.value as never, pinnedVerifier(robot2.emergencyKey));
    expect(liveCommand).toMatchObject({ sequence: groupLockdown.commandSequence, action: CommandAction.LOCKDOWN, wipe: true, scope: { target: { case: 'group', value: 'line-1' } } });

    cancel.abort();
    await expect(items.next()).rejects.toThrow();
    await vi.waitFor(() => expect(h.events.listenerCount('command')).toBe(0));
    expect(h.events.listenerCount('bundle')).toBe(0);
    expect(h.events.listenerCount('revocationList')).toBe(0);
  });

  it('counts acknowledgements that arrive over gRPC and over MQTT in the lockdown status', async () => {
    await h.deviceClient(robot1).ack({ ack: ack(robot1, AckKind.COMMAND, fleetLockdown) });
    // A refusal is recorded but is not a confirmation.
    await h.deviceClient(robot3).ack({ ack: ack(robot3, AckKind.COMMAND, fleetLockdown, AckOutcome.REJECTED_SIGNATURE) });
    const client = await h.mqtt(robot2);
    await client.publishAsync(deviceAcksTopic('acme', 'robot-2'), Buffer.from(toBinary(AckSchema, ack(robot2, AckKind.COMMAND, fleetLockdown))), { qos: 1 });

    await vi.waitFor(async () => {
      const fleet = (await lockdownStatus()).lockdowns.find((l) => l.commandSequence === fleetLockdown)!;
      expect(fleet).toMatchObject({ devicesAcknowledged: 2, devicesPending: 2 });
    });
    const status = await lockdownStatus(auditor);
    expect(status.lockdowns.map((l) => [l.scope?.target.case ?? 'fleet', l.scope?.target.value ?? ''])).toEqual([
      ['fleet', ''],
      ['group', 'line-2'],
      ['group', 'line-1'],
      ['deviceId', 'robot-1'],
    ]);
    expect((await h.repository.getDevice('acme', 'robot-2'))?.ackedCommandSequence).toBe(Number(fleetLockdown));
    expect((await h.repository.getDevice('acme', 'robot-3'))?.ackedCommandSequence).toBe(0);
    const acks = await h.repository.listCommandAcks('acme', Number(fleetLockdown));
    expect(acks.map((a) => [a.deviceId, a.outcome])).toEqual([
      ['robot-1', 'applied'],
      ['robot-2', 'applied'],
      ['robot-3', 'rejected-signature'],
    ]);
  });

  it('fleetctl lockdown status -o json shows the same counts and names who has and has not confirmed', async () => {
    const { stdout } = await run(process.execPath, [FLEETCTL_BIN, '--controller', h.address, '--ca-file', h.caFile, 'lockdown', 'status', '--fleet', 'acme', '-o', 'json'], {
      env: { ...process.env, FLEETKEY_TOKEN: alice.credential, FLEETKEY_CONFIG: '/nonexistent/fleetctl.json' },
    });
    const status = JSON.parse(stdout) as { lockdowns: { scope: { kind: string; id: string | null }; devicesAcknowledged: number; devicesPending: number; confirmed: string[]; notConfirmed: string[] }[] };
    expect(status.lockdowns[0]).toMatchObject({ scope: { kind: 'fleet', id: null }, devicesAcknowledged: 2, devicesPending: 2, confirmed: ['robot-1', 'robot-2'], notConfirmed: ['robot-3', 'robot-4'] });
    expect(status.lockdowns.find((l) => l.scope.id === 'line-1')).toMatchObject({ confirmed: [], notConfirmed: ['robot-2', 'robot-3', 'robot-4'] });
  });

  it('Precondition: an Ack or status report naming another device than the certificate is PERMISSION_DENIED and changes nothing', async () => {
    const anonymous = createClient(DeviceService, h.address, credentials.createSsl(h.caPem));
    try {
      expect((await rpcError(anonymous.ack({ ack: ack(robot3, AckKind.COMMAND, fleetLockdown) }))).code).toBe('UNAUTHENTICATED');
    } finally {
      closeClient(anonymous);
    }
    const robot = h.deviceClient(robot3);
    expect((await rpcError(robot.ack({ ack: ack(robot3, AckKind.COMMAND, fleetLockdown, AckOutcome.APPLIED, 'robot-4') }))).status).toBe(7);
    expect((await rpcError(robot.ack({ ack: { ...ack(robot3, AckKind.COMMAND, fleetLockdown), fleet: 'beta' } }))).status).toBe(7);
    expect((await rpcError(robot.reportStatus({ report: { fleet: 'acme', deviceId: 'robot-1', locked: true } }))).status).toBe(7);
    expect((await h.repository.listCommandAcks('acme', Number(fleetLockdown))).map((a) => a.deviceId)).not.toContain('robot-4');
    // A sequence never issued is refused (no acknowledging the future).
    expect((await rpcError(robot.ack({ ack: ack(robot3, AckKind.KEY_BUNDLE, 1_000_000n) }))).code).toBe('INVALID_ARGUMENT');
    expect((await rpcError(robot.ack({ ack: ack(robot3, AckKind.COMMAND, 1_000_000n) }))).code).toBe('RECORD_NOT_FOUND');
    await robot.reportStatus({ report: { fleet: 'acme', deviceId: 'robot-3', locked: true } });
    expect((await h.repository.getDevice('acme', 'robot-3'))?.lastContact).not.toBeNull();
  });

  it('Precondition: fleet and device come only from the topic: an MQTT ack whose body names another device is dropped and logged', async () => {
    const robot1Lockdown = (await lockdownStatus()).lockdowns.find((l) => l.scope?.target.value === 'robot-1')!.commandSequence;
    const client = await h.mqtt(robot3);
    const topic = deviceAcksTopic('acme', 'robot-3');
    await client.publishAsync(topic, Buffer.from(toBinary(AckSchema, ack(robot3, AckKind.COMMAND, robot1Lockdown, AckOutcome.APPLIED, 'robot-1'))), { qos: 1 });
    await client.publishAsync(topic, Buffer.from(toBinary(AckSchema, { ...ack(robot3, AckKind.COMMAND, robot1Lockdown), fleet: 'beta' })), { qos: 1 });
    // Not an Ack at all: refused by the strict decoder, the connection stays.
    await client.publishAsync(topic, Buffer.from([0xff, 0xff, 0xff, 0xff]), { qos: 1 });
    // Handled in arrival order: once this genuine one is recorded, the forgeries were handled.
    await client.publishAsync(topic, Buffer.from(toBinary(AckSchema, ack(robot3, AckKind.COMMAND, fleetLockdown))), { qos: 1 });
    await vi.waitFor(async () => expect((await h.repository.getDevice('acme', 'robot-3'))?.ackedCommandSequence).toBe(Number(fleetLockdown)));
    expect(await h.repository.listCommandAcks('acme', Number(robot1Lockdown))).toEqual([]);
    expect(h.logLines.filter((line) => line.includes('naming another device'))).toHaveLength(2);
    expect(h.logLines.filter((line) => line.includes('mqtt uplink message refused') && line.includes('MESSAGE_MALFORMED'))).toHaveLength(1);
    expect(client.connected).toBe(true);
    expect((await lockdownStatus()).lockdowns.find((l) => l.scope?.target.value === 'robot-1')).toMatchObject({ devicesAcknowledged: 0, devicesPending: 1 });
  });

  it('Precondition: every forbidden subscribe is refused and every forbidden publish closes the connection, so nobody forges a list, a command or an ack', async () => {
    const client = await h.mqtt(robot3);
    for (const filter of [
      deviceCommandsTopic('acme', 'robot-1'),
      deviceKeysTopic('acme', 'robot-1'),
      deviceAcksTopic('acme', 'robot-3'),
      'fleetkey/v1/acme/devices/+/up/acks',
      'fleetkey/v1/acme/#',
      emergencyTopic('beta'),
      revocationsTopic('beta'),
    ]) {
      await expect(client.subscribeAsync(filter, { qos: 1 }), filter).rejects.toThrow(/Subscribe error/);
    }
    expect(client.connected).toBe(true);

    const forgedList = Buffer.from('not a list');
    for (const [topic, retain] of [
      [revocationsTopic('acme'), false],
      [emergencyTopic('acme'), false],
      [deviceCommandsTopic('acme', 'robot-3'), false],
      [deviceKeysTopic('acme', 'robot-3'), false],
      [deviceAcksTopic('acme', 'robot-1'), false],
      [deviceAcksTopic('acme', 'robot-3'), true],
    ] as const) {
      const attacker = await h.mqtt(robot3);
      const closed = closedOf(attacker);
      attacker.publish(topic, forgedList, { qos: 0, retain });
      await closed;
    }
    // The retained emergency command is still the controller's, and still verifies.
    const observer = await h.mqtt(robot1);
    const received = collect(observer, emergencyTopic('acme'));
    await observer.subscribeAsync(emergencyTopic('acme'), { qos: 1 });
    await vi.waitFor(() => expect(received).toHaveLength(1));
    const signed = decodeMessage(SignedCommandSchema, received[0]!.payload, { maxBytes: MAX_SIGNED_COMMAND_BYTES });
    expect((await verifyPayload(CommandSchema, signed, pinnedVerifier(robot1.emergencyKey))).action).toBe(CommandAction.LOCKDOWN);
  });
});

describe('lifting a lockdown', () => {
  it('refuses a lift request for a scope with no lockdown in force, and a second pending request for the same scope', async () => {
    const none = await rpcError(h.operatorClient.requestLift({ scope: { fleet: 'acme', target: { case: 'deviceId', value: 'robot-3' } }, reason: 'nothing to lift' }, alice.call));
    expect(none.status).toBe(9);
    await h.operatorClient.requestLift({ scope: { fleet: 'acme' }, reason: 'intruder caught' }, alice.call);
    const twice = await rpcError(h.operatorClient.requestLift({ scope: { fleet: 'acme' }, reason: 'again' }, bob.call));
    expect(twice.code).toBe('RECORD_EXISTS');
  });

  it('Precondition: the same operator approving twice, another fleet, or a read-only role: clear errors, nothing issued', async () => {
    const pending = (await lockdownStatus()).pendingLiftRequests;
    expect(pending).toHaveLength(1);
    const request = pending[0]!;
    expect(request).toMatchObject({ state: LiftRequestState.PENDING, requestedBy: alice.id, approvals: [{ operatorId: alice.id }] });
    const before = await h.repository.currentSequence('acme');

    const same = await rpcError(h.operatorClient.approveLift({ fleet: 'acme', liftRequestId: request.liftRequestId }, alice.call));
    expect(same.code).toBe('PERMISSION_DENIED');
    expect(same.message).toMatch(/different operator/);
    expect((await rpcError(h.operatorClient.approveLift({ fleet: 'acme', liftRequestId: request.liftRequestId }, betaOperator.call))).code).toBe('PERMISSION_DENIED');
    expect((await rpcError(h.operatorClient.approveLift({ fleet: 'beta', liftRequestId: request.liftRequestId }, betaOperator.call))).code).toBe('RECORD_NOT_FOUND');
    expect((await rpcError(h.operatorClient.approveLift({ fleet: 'acme', liftRequestId: request.liftRequestId }, auditor.call))).code).toBe('PERMISSION_DENIED');

    expect(await h.repository.currentSequence('acme')).toBe(before);
    const after = (await h.operatorClient.listLiftRequests({ fleet: 'acme' }, alice.call)).liftRequests;
    expect(after.map((r) => [r.state, r.approvals.length])).toEqual([[LiftRequestState.PENDING, 1]]);
  });

  it('a different operator executes it: a signed LIFT with a higher sequence reaches the robots, and the fleet lockdown is no longer in force', async () => {
    const client = await h.mqtt(robot1);
    const received = collect(client, emergencyTopic('acme'));
    await client.subscribeAsync(emergencyTopic('acme'), { qos: 1 });
    await vi.waitFor(() => expect(received).toHaveLength(1));

    const { lockdowns, pendingLiftRequests } = await lockdownStatus();
    const fleetLockdown = lockdowns.find((l) => l.scope?.target.case === undefined)!;
    const { liftRequest } = await h.operatorClient.approveLift({ fleet: 'acme', liftRequestId: pendingLiftRequests[0]!.liftRequestId }, bob.call);
    expect(liftRequest).toMatchObject({ state: LiftRequestState.EXECUTED, approvals: [{ operatorId: alice.id }, { operatorId: bob.id }] });
    expect(liftRequest!.commandSequence).toBeGreaterThan(fleetLockdown.commandSequence);

    await vi.waitFor(() => expect(received).toHaveLength(2));
    const lift = await verifyPayload(CommandSchema, decodeMessage(SignedCommandSchema, received[1]!.payload, { maxBytes: MAX_SIGNED_COMMAND_BYTES }), pinnedVerifier(robot1.emergencyKey));
    expect(lift).toMatchObject({ action: CommandAction.LIFT, sequence: liftRequest!.commandSequence, requestId: liftRequest!.liftRequestId, scope: { target: { case: undefined } } });

    // Scopes do not nest: line-1's own lockdown is still in force.
    const status = await lockdownStatus();
    expect(status.lockdowns.map((l) => l.scope?.target.value ?? 'fleet')).toEqual(['line-2', 'line-1', 'robot-1']);
    expect(status.pendingLiftRequests).toEqual([]);
    const again = await rpcError(h.operatorClient.approveLift({ fleet: 'acme', liftRequestId: liftRequest!.liftRequestId }, h.admin.call));
    expect(again.status).toBe(9);
    const audit = await h.repository.audit.listRecords(0, 1000);
    expect(audit.filter((r) => r.action === 'lift.request' && r.result === 'ok')).toHaveLength(1);
    expect(audit.filter((r) => r.action === 'lift.approve' && r.result === 'ok').map((r) => r.actor)).toEqual([bob.id]);
  });

  it('Precondition: an expired request is marked EXPIRED and refused with FAILED_PRECONDITION, issuing nothing', async () => {
    const { liftRequest } = await h.operatorClient.requestLift({ scope: { fleet: 'acme', target: { case: 'group', value: 'line-1' } }, reason: 'line 1 cleared' }, alice.call);
    h.clock.advance(LIFT_REQUEST_TTL_MS + 1000);
    const before = await h.repository.currentSequence('acme');
    const expired = await rpcError(h.operatorClient.approveLift({ fleet: 'acme', liftRequestId: liftRequest!.liftRequestId }, bob.call));
    expect(expired.status).toBe(9);
    expect(expired.message).toMatch(/expired/);
    expect(await h.repository.currentSequence('acme')).toBe(before);
    expect((await h.repository.getLiftRequest('acme', liftRequest!.liftRequestId))?.state).toBe('expired');
    const listed = await h.operatorClient.listLiftRequests({ fleet: 'acme', state: LiftRequestState.EXPIRED }, alice.call);
    expect(listed.liftRequests.map((r) => r.liftRequestId)).toEqual([liftRequest!.liftRequestId]);
    expect((await lockdownStatus()).lockdowns.map((l) => l.scope?.target.value)).toContain('line-1');
  });

  it('a new lockdown of the same scope supersedes a pending lift request', async () => {
    const { liftRequest } = await h.operatorClient.requestLift({ scope: { fleet: 'acme', target: { case: 'group', value: 'line-2' } }, reason: 'audit done' }, alice.call);
    await h.operatorClient.lockdown({ scope: { fleet: 'acme', target: { case: 'group', value: 'line-2' } }, reason: 'audit found more', wipe: false }, bob.call);
    expect((await h.repository.getLiftRequest('acme', liftRequest!.liftRequestId))?.state).toBe('superseded');
    expect((await rpcError(h.operatorClient.approveLift({ fleet: 'acme', liftRequestId: liftRequest!.liftRequestId }, bob.call))).status).toBe(9);
  });
});

describe('revocation', () => {
  it('revokes a device: a signed revocation list naming it reaches its peers, it is dropped from the broker and refused everywhere, a new epoch leaves it out', async () => {
    // The list made with the fleet was republished retained when the controller started.
    const peer = await h.mqtt(robot1);
    const lists = collect(peer, revocationsTopic('acme'));
    await peer.subscribeAsync(revocationsTopic('acme'), { qos: 1 });
    await vi.waitFor(() => expect(lists).toHaveLength(1));
    expect(lists[0]!.retain).toBe(true);
    const revoked = await h.mqtt(robot4);
    const revokedClosed = closedOf(revoked);
    const cancel = new AbortController();
    const stream = h.deviceClient(robot4).streamCommands({ lastCommandSequence: BigInt(await h.repository.currentSequence('acme')), lastKeyBundleSequence: 1_000_000n, lastRevocationSequence: 1n }, { signal: cancel.signal });
    const items = stream[Symbol.asyncIterator]();
    // Nothing to replay: the first item is whatever comes live.
    const pendingFirst = items.next();
    await vi.waitFor(() => expect(h.events.listenerCount('command')).toBe(1));

    const response = await h.operatorClient.revokeDevice({ fleet: 'acme', deviceId: 'robot-4', reason: 'stolen from the depot', wipe: true }, alice.call);
    expect(response.device).toMatchObject({ deviceId: 'robot-4', state: DeviceState.REVOKED });
    expect(response.revocationListSequence).toBe(2n);
    expect(response.newEpoch).toMatchObject({ keyId: 'communication/acme/fleet', version: 2 });

    // Its open stream gets the new list, then its REVOKE, then ends.
    const first = (await pendingFirst).value!.item;
    expect(first.case).toBe('revocationList');
    const second = (await items.next()).value!.item;
    const revoke = await verifyPayload(CommandSchema, second.value as never, pinnedVerifier(robot4.emergencyKey));
    expect(revoke).toMatchObject({ action: CommandAction.REVOKE, sequence: response.commandSequence, wipe: true, scope: { target: { case: 'deviceId', value: 'robot-4' } } });
    expect((await items.next()).done).toBe(true);

    // Dropped from the broker, and refused when it comes back.
    await revokedClosed;
    await expect(h.mqtt(robot4)).rejects.toThrow(/[Nn]ot authorized/);
    const revokedRobot = h.deviceClient(robot4);
    const refused = await rpcError(revokedRobot.getKeyBundle({}));
    expect(refused.status).toBe(7);
    expect(refused.code).toBe('CERTIFICATE_REVOKED');
    expect((await rpcError(revokedRobot.ack({ ack: ack(robot4, AckKind.COMMAND, response.commandSequence) }))).code).toBe('CERTIFICATE_REVOKED');
    const refusedStream = revokedRobot.streamCommands({ lastCommandSequence: 0n, lastKeyBundleSequence: 0n, lastRevocationSequence: 0n });
    await expect(refusedStream[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'CERTIFICATE_REVOKED' });

    // The peer got the signed list: sequence 2, naming robot-4 with its certificate serial.
    await vi.waitFor(() => expect(lists).toHaveLength(2));
    const signed = decodeMessage(SignedRevocationListSchema, lists[1]!.payload, { maxBytes: MAX_SIGNED_REVOCATION_LIST_BYTES });
    const list = await verifyPayload(RevocationListSchema, signed, pinnedVerifier(robot1.emergencyKey));
    expect(list.sequence).toBe(2n);
    expect(list.revoked.map((entry) => [entry.deviceId, entry.serialNumber, entry.reason])).toEqual([
      ['robot-4', new X509Certificate(robot4.certificateDer).serialNumber.toLowerCase(), 'stolen from the depot'],
    ]);

    // The peer's bundle carries the new epoch; the revoked robot's wrapping is gone with it.
    const bundle = (await h.deviceClient(robot1).getKeyBundle({})).keyBundle!;
    expect(bundle.epochs.map((epoch) => epoch.key?.version)).toEqual([1, 2]);
    expect((await h.repository.listEpochs('acme', { groupId: null })).map((epoch) => [epoch.version, epoch.state])).toEqual([
      [1, 'active'],
      [2, 'pending'],
    ]);
    cancel.abort();
  });

  it('refuses to revoke a device twice, and no longer counts it in lockdown status', async () => {
    const again = await rpcError(h.operatorClient.revokeDevice({ fleet: 'acme', deviceId: 'robot-4', reason: 'again', wipe: false }, alice.call));
    expect(again.status).toBe(9);
    expect((await rpcError(h.operatorClient.revokeDevice({ fleet: 'acme', deviceId: 'robot-4', reason: 'again', wipe: false }, auditor.call))).code).toBe('PERMISSION_DENIED');
    const line1 = (await lockdownStatus()).lockdowns.find((l) => l.scope?.target.value === 'line-1')!;
    expect(line1.devicesAcknowledged + line1.devicesPending).toBe(2);
    const audit = await h.repository.audit.listRecords(0, 1000);
    expect(audit.filter((r) => r.action === 'device.revoke' && r.result === 'ok').map((r) => r.deviceId)).toEqual(['robot-4']);
  });
});
