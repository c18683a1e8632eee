/**
 * The local API end to end, as a robot app sees it: real agent state in temp dirs (TestFleet), a
 * real Unix socket, and a client made only with createClient(AgentService, 'unix://' + path) from
 * @fleetkey/protocol. Two robots of one fleet seal and open each other's messages; a third fleet's
 * robot, a revoked robot and a tampering member are refused with their typed codes.
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { Client, Metadata, credentials, status as Status, type ServiceError } from '@grpc/grpc-js';
import { createLocalSigner } from '@fleetkey/crypto';
import {
  AgentService,
  ERROR_CODE_TRAILER,
  KeyState as PbKeyState,
  MAX_REVOCATION_LIST_BYTES,
  RevocationListSchema,
  RpcError,
  SealedMessageSchema,
  SealedPayloadSchema,
  SignatureAlgorithm as PbSignatureAlgorithm,
  closeClient,
  createClient,
  decodeMessage,
  openKeyBundle,
  signPayload,
  signatureAlgorithmToProto,
  type ServiceClient,
} from '@fleetkey/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentCore, type AgentLogger } from '../runtime/agent-core.js';
import { AgentState, agentPaths, agentProtector } from '../state/index.js';
import { TestFleet, type TestRobot } from '../testing/test-fleet.js';
import { tokenDigest } from './access.js';
import type { OpenChannelHandler } from './agent-service.js';
import { LocalApiSocketRefused, startLocalApi, type LocalApi, type LocalApiOptions } from './socket-server.js';

type AgentClient = ServiceClient<typeof AgentService>;

interface Running {
  readonly robot: TestRobot;
  state: AgentState;
  core: AgentCore;
  api: LocalApi;
  client: AgentClient;
  readonly socketPath: string;
}

interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly object: object;
  readonly message: string;
}

let dir: string;
let cleanups: (() => Promise<void> | void)[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fk-lapi-'));
  cleanups = [];
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rm(dir, { recursive: true, force: true });
});

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);

function recordingLogger(entries: LogEntry[]): AgentLogger {
  return {
    info: (object, message) => entries.push({ level: 'info', object, message }),
    warn: (object, message) => entries.push({ level: 'warn', object, message }),
    error: (object, message) => entries.push({ level: 'error', object, message }),
  };
}

async function openCore(robot: TestRobot): Promise<{ state: AgentState; core: AgentCore }> {
  const paths = agentPaths(robot.dataDir);
  const state = await AgentState.open(paths.keystore, agentProtector(paths));
  return { state, core: new AgentCore(state) };
}

function connect(socketPath: string): AgentClient {
  const client = createClient(AgentService, `unix://${socketPath}`, credentials.createInsecure());
  cleanups.push(() => closeClient(client));
  return client;
}

type ApiOverrides = Partial<Omit<LocalApiOptions, 'core'>>;

async function serve(core: AgentCore, name: string, overrides: ApiOverrides = {}): Promise<LocalApi> {
  const api = await startLocalApi({ core, socketPath: join(dir, 'run', `${name}.sock`), agentVersion: '0.1.0-test', ...overrides });
  cleanups.push(() => api.close());
  return api;
}

/** Provisions `deviceId` into `fleet`, opens its core and serves its local API. */
async function startRobot(fleet: TestFleet, deviceId: string, options: { group?: string; api?: ApiOverrides } = {}): Promise<Running> {
  const robot = await fleet.provision(deviceId, join(dir, `${fleet.fleet}-${deviceId}`), options.group === undefined ? {} : { group: options.group });
  const { state, core } = await openCore(robot);
  const running: Running = { robot, state, core, api: undefined as unknown as LocalApi, client: undefined as unknown as AgentClient, socketPath: join(dir, 'run', `${fleet.fleet}-${deviceId}.sock`) };
  cleanups.push(() => running.state.close());
  running.api = await serve(core, `${fleet.fleet}-${deviceId}`, options.api);
  running.client = connect(running.api.socketPath);
  return running;
}

/** The RpcError a call fails with (fails the test when the call succeeds). */
async function refusal(call: Promise<unknown>): Promise<RpcError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw error;
  }
  throw new Error('expected the call to be refused');
}

async function expectRefused(call: Promise<unknown>, status: Status, code: string): Promise<RpcError> {
  const error = await refusal(call);
  expect({ status: error.status, code: error.code }).toEqual({ status, code });
  return error;
}

async function sealOn(running: Running, text: string, extra: { associatedData?: Uint8Array; purpose?: string; useGroupKey?: boolean } = {}) {
  return running.client.seal({ plaintext: bytes(text), associatedData: extra.associatedData ?? new Uint8Array(0), purpose: extra.purpose ?? '', useGroupKey: extra.useGroupKey ?? false });
}

/** Re-signs a SealedPayload with `signer`'s identity key and wraps it with `certificate`. */
async function resign(payload: Uint8Array, signer: TestRobot, certificate: Uint8Array): Promise<Uint8Array> {
  const local = createLocalSigner(signer.privateKey);
  const parsed = fromBinary(SealedPayloadSchema, payload);
  const signed = await signPayload(SealedPayloadSchema, parsed, async (input) => ({ signature: await local.sign(input), signatureAlgorithm: signatureAlgorithmToProto(local.algorithm) }));
  return toBinary(SealedMessageSchema, { $typeName: 'fleetkey.v1.SealedMessage', payload: signed.payload, signature: signed.signature, signatureAlgorithm: signed.signatureAlgorithm, senderCertificate: certificate });
}

async function applyRevocations(fleet: TestFleet, target: TestRobot, cores: readonly AgentCore[]): Promise<void> {
  const list = await fleet.revoke(target);
  const sequence = decodeMessage(RevocationListSchema, list.payload, { maxBytes: MAX_REVOCATION_LIST_BYTES }).sequence;
  for (const core of cores) core.setRevocationList({ sequence, signed: fleet.revocationListBytes(list) });
}

/** Delivers the fleet's current epochs to a running robot as the controller would (signed bundle). */
async function deliverBundle(fleet: TestFleet, running: Running): Promise<void> {
  const opened = await openKeyBundle({
    bundle: await fleet.bundleFor(running.robot),
    fleet: fleet.fleet,
    deviceId: running.robot.deviceId,
    privateKey: running.robot.privateKey,
    emergencyKeys: running.core.state.emergencyKeyMap(),
    appliedManifestSequences: running.core.state.sequences().manifests,
  });
  try {
    running.core.storeBundle(opened);
  } finally {
    for (const epoch of opened.epochs) epoch.key.fill(0);
  }
}

describe('Seal and Open between robots of one fleet', () => {
  it('opens on robot B what robot A sealed, naming the sender, the epoch and its state', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const b = await startRobot(fleet, 'robot-b');
    const associatedData = bytes('topic=telemetry');
    const sealed = await sealOn(a, 'battery 81%', { associatedData, purpose: 'telemetry' });
    expect(sealed.key).toMatchObject({ keyId: 'communication/acme/fleet', version: 1 });

    const opened = await b.client.open({ envelope: sealed.envelope, associatedData, purpose: 'telemetry' });
    expect(new TextDecoder().decode(opened.plaintext)).toBe('battery 81%');
    expect(opened.senderDeviceId).toBe('robot-a');
    expect(opened.key).toMatchObject({ keyId: 'communication/acme/fleet', version: 1 });
    expect(opened.keyState).toBe(PbKeyState.ACTIVE);
    expect(opened.sentAt).toBeDefined();
  });

  it('refuses to open with other associated data or another purpose (DECRYPTION_FAILED)', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const b = await startRobot(fleet, 'robot-b');
    const sealed = await sealOn(a, 'hello', { associatedData: bytes('ad-1'), purpose: 'telemetry' });
    await expectRefused(b.client.open({ envelope: sealed.envelope, associatedData: bytes('ad-2'), purpose: 'telemetry' }), Status.INVALID_ARGUMENT, 'DECRYPTION_FAILED');
    await expectRefused(b.client.open({ envelope: sealed.envelope, associatedData: bytes('ad-1'), purpose: 'commands' }), Status.INVALID_ARGUMENT, 'DECRYPTION_FAILED');
    // The empty purpose means "app", which is not "telemetry" either.
    await expectRefused(b.client.open({ envelope: sealed.envelope, associatedData: bytes('ad-1'), purpose: '' }), Status.INVALID_ARGUMENT, 'DECRYPTION_FAILED');
  });

  it('refuses a tampered message: a flipped payload or signature byte is SIGNATURE_INVALID, garbage is MESSAGE_MALFORMED', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const b = await startRobot(fleet, 'robot-b');
    const sealed = await sealOn(a, 'hello');
    const message = fromBinary(SealedMessageSchema, sealed.envelope);

    const payload = Uint8Array.from(message.payload);
    payload[payload.length - 1] = payload.at(-1)! ^ 0x01;
    const tamperedPayload = toBinary(SealedMessageSchema, { ...message, payload });
    await expectRefused(b.client.open({ envelope: tamperedPayload, associatedData: new Uint8Array(0), purpose: '' }), Status.INVALID_ARGUMENT, 'SIGNATURE_INVALID');

    const signature = Uint8Array.from(message.signature);
    signature[signature.length - 1] = signature.at(-1)! ^ 0x01;
    const tamperedSignature = toBinary(SealedMessageSchema, { ...message, signature });
    await expectRefused(b.client.open({ envelope: tamperedSignature, associatedData: new Uint8Array(0), purpose: '' }), Status.INVALID_ARGUMENT, 'SIGNATURE_INVALID');

    await expectRefused(b.client.open({ envelope: new Uint8Array(randomBytes(64)), associatedData: new Uint8Array(0), purpose: '' }), Status.INVALID_ARGUMENT, 'MESSAGE_MALFORMED');
    await expectRefused(b.client.open({ envelope: toBinary(SealedMessageSchema, { ...message, senderCertificate: new Uint8Array(0) }), associatedData: new Uint8Array(0), purpose: '' }), Status.INVALID_ARGUMENT, 'MESSAGE_MALFORMED');
  });

  it('refuses a message whose signature is not made by the key of the certificate it carries', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const b = await startRobot(fleet, 'robot-b');
    const sealed = await sealOn(a, 'hello');
    const message = fromBinary(SealedMessageSchema, sealed.envelope);
    // Robot B signs A's payload and passes A's certificate along.
    const forged = await resign(message.payload, b.robot, a.robot.certificate);
    await expectRefused(b.client.open({ envelope: forged, associatedData: new Uint8Array(0), purpose: '' }), Status.INVALID_ARGUMENT, 'SIGNATURE_INVALID');
  });

  it('refuses a payload naming a sender other than its certificate (PEER_REFUSED)', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const b = await startRobot(fleet, 'robot-b');
    const sealed = await sealOn(a, 'hello');
    const message = fromBinary(SealedMessageSchema, sealed.envelope);
    // Robot B signs A's payload (still naming robot-a) with its own key and certificate.
    const claimed = await resign(message.payload, b.robot, b.robot.certificate);
    await expectRefused(b.client.open({ envelope: claimed, associatedData: new Uint8Array(0), purpose: '' }), Status.PERMISSION_DENIED, 'PEER_REFUSED');
  });

  it('refuses a member passing another robot’s envelope off as its own (the sender is bound into the envelope)', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const b = await startRobot(fleet, 'robot-b');
    const c = await startRobot(fleet, 'robot-c');
    const sealed = await sealOn(a, 'hello');
    const payload = fromBinary(SealedPayloadSchema, fromBinary(SealedMessageSchema, sealed.envelope).payload);
    const rewritten = toBinary(SealedPayloadSchema, { ...payload, senderDeviceId: 'robot-b' });
    const stolen = await resign(rewritten, b.robot, b.robot.certificate);
    await expectRefused(c.client.open({ envelope: stolen, associatedData: new Uint8Array(0), purpose: '' }), Status.INVALID_ARGUMENT, 'DECRYPTION_FAILED');
  });

  it('refuses a message from a revoked robot once the revocation list names it (CERTIFICATE_REVOKED)', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const b = await startRobot(fleet, 'robot-b');
    const sealed = await sealOn(a, 'hello');
    await expect(b.client.open({ envelope: sealed.envelope, associatedData: new Uint8Array(0), purpose: '' })).resolves.toBeDefined();
    await applyRevocations(fleet, a.robot, [b.core]);
    await expectRefused(b.client.open({ envelope: sealed.envelope, associatedData: new Uint8Array(0), purpose: '' }), Status.PERMISSION_DENIED, 'CERTIFICATE_REVOKED');
  });

  it('refuses a message from another fleet’s robot, and from a foreign CA using this fleet’s name (CERTIFICATE_INVALID)', async () => {
    const fleet = await TestFleet.create();
    const b = await startRobot(fleet, 'robot-b');
    const other = await TestFleet.create({ fleet: 'other' });
    const x = await startRobot(other, 'robot-x');
    const fromOther = await sealOn(x, 'hello');
    await expectRefused(b.client.open({ envelope: fromOther.envelope, associatedData: new Uint8Array(0), purpose: '' }), Status.UNAUTHENTICATED, 'CERTIFICATE_INVALID');

    const impostor = await TestFleet.create({ fleet: 'acme' });
    const y = await startRobot(impostor, 'robot-y');
    const fromImpostor = await sealOn(y, 'hello');
    await expectRefused(b.client.open({ envelope: fromImpostor.envelope, associatedData: new Uint8Array(0), purpose: '' }), Status.UNAUTHENTICATED, 'CERTIFICATE_INVALID');
  });

  it('opens with a retiring epoch after a rotation, and seals with the new active one', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const b = await startRobot(fleet, 'robot-b');
    const before = await sealOn(a, 'sealed before the rotation');
    expect(before.key?.version).toBe(1);

    fleet.epochs[0]!.state = 'retiring';
    fleet.addEpoch({ state: 'active' });
    await deliverBundle(fleet, b);

    const opened = await b.client.open({ envelope: before.envelope, associatedData: new Uint8Array(0), purpose: '' });
    expect(new TextDecoder().decode(opened.plaintext)).toBe('sealed before the rotation');
    expect(opened.key?.version).toBe(1);
    expect(opened.keyState).toBe(PbKeyState.RETIRING);

    const after = await sealOn(b, 'sealed after the rotation');
    expect(after.key).toMatchObject({ keyId: 'communication/acme/fleet', version: 2 });
    // Robot A has not received epoch 2 yet: a clear KEY_NOT_FOUND, not a crash.
    await expectRefused(a.client.open({ envelope: after.envelope, associatedData: new Uint8Array(0), purpose: '' }), Status.NOT_FOUND, 'KEY_NOT_FOUND');
    await deliverBundle(fleet, a);
    await expect(a.client.open({ envelope: after.envelope, associatedData: new Uint8Array(0), purpose: '' })).resolves.toMatchObject({ senderDeviceId: 'robot-b' });
  });

  it('seals with the newest of several active epochs', async () => {
    const fleet = await TestFleet.create();
    fleet.addEpoch({ state: 'active' });
    fleet.addEpoch({ state: 'pending' });
    const a = await startRobot(fleet, 'robot-a');
    const sealed = await sealOn(a, 'hello');
    expect(sealed.key).toMatchObject({ keyId: 'communication/acme/fleet', version: 2 });
  });

  it('seals with the group key for group members only; a robot without a group gets KEYS_EXPIRED', async () => {
    const fleet = await TestFleet.create();
    fleet.addEpoch({ group: 'arms', state: 'active' });
    const a = await startRobot(fleet, 'robot-a', { group: 'arms' });
    const b = await startRobot(fleet, 'robot-b', { group: 'arms' });
    const c = await startRobot(fleet, 'robot-c');
    const sealed = await sealOn(a, 'for the arms group', { useGroupKey: true });
    expect(sealed.key).toMatchObject({ keyId: 'communication/acme/arms', version: 1 });
    await expect(b.client.open({ envelope: sealed.envelope, associatedData: new Uint8Array(0), purpose: '' })).resolves.toMatchObject({ senderDeviceId: 'robot-a' });
    await expectRefused(c.client.open({ envelope: sealed.envelope, associatedData: new Uint8Array(0), purpose: '' }), Status.NOT_FOUND, 'KEY_NOT_FOUND');
    await expectRefused(sealOn(c, 'no group', { useGroupKey: true }), Status.FAILED_PRECONDITION, 'KEYS_EXPIRED');
  });
});

describe('Sign and Verify', () => {
  it('round-trips on the robot and on a peer; tampered data, a foreign or a revoked signer is valid: false', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const b = await startRobot(fleet, 'robot-b');
    const data = bytes('calibration v7');
    const signed = await a.client.sign({ data });
    expect(signed.signatureAlgorithm).toBe(PbSignatureAlgorithm.ECDSA_P256_SHA256);
    expect(Buffer.from(signed.certificate)).toEqual(Buffer.from(a.robot.certificate));

    // An empty certificate means the robot's own.
    await expect(a.client.verify({ data, signature: signed.signature, signatureAlgorithm: signed.signatureAlgorithm, certificate: new Uint8Array(0) })).resolves.toMatchObject({ valid: true, signerDeviceId: 'robot-a' });
    await expect(b.client.verify({ data, signature: signed.signature, signatureAlgorithm: signed.signatureAlgorithm, certificate: signed.certificate })).resolves.toMatchObject({ valid: true, signerDeviceId: 'robot-a' });
    // B's own certificate does not vouch for A's signature.
    await expect(b.client.verify({ data, signature: signed.signature, signatureAlgorithm: signed.signatureAlgorithm, certificate: new Uint8Array(0) })).resolves.toMatchObject({ valid: false, signerDeviceId: '' });
    await expect(b.client.verify({ data: bytes('calibration v8'), signature: signed.signature, signatureAlgorithm: signed.signatureAlgorithm, certificate: signed.certificate })).resolves.toMatchObject({ valid: false });
    await expect(b.client.verify({ data, signature: new Uint8Array(randomBytes(70)), signatureAlgorithm: signed.signatureAlgorithm, certificate: signed.certificate })).resolves.toMatchObject({ valid: false });
    // A scheme that does not fit the key cannot verify.
    await expect(b.client.verify({ data, signature: signed.signature, signatureAlgorithm: PbSignatureAlgorithm.RSA_PSS_SHA256, certificate: signed.certificate })).resolves.toMatchObject({ valid: false });
    await expect(b.client.verify({ data, signature: signed.signature, signatureAlgorithm: signed.signatureAlgorithm, certificate: new Uint8Array(randomBytes(300)) })).resolves.toMatchObject({ valid: false });

    const other = await TestFleet.create({ fleet: 'other' });
    const x = await startRobot(other, 'robot-x');
    const foreign = await x.client.sign({ data });
    await expect(b.client.verify({ data, signature: foreign.signature, signatureAlgorithm: foreign.signatureAlgorithm, certificate: foreign.certificate })).resolves.toMatchObject({ valid: false });

    await applyRevocations(fleet, a.robot, [b.core]);
    await expect(b.client.verify({ data, signature: signed.signature, signatureAlgorithm: signed.signatureAlgorithm, certificate: signed.certificate })).resolves.toMatchObject({ valid: false });
  });

  it('answers INVALID_ARGUMENT for a request without a signature scheme', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const signed = await a.client.sign({ data: bytes('x') });
    await expectRefused(a.client.verify({ data: bytes('x'), signature: signed.signature, signatureAlgorithm: PbSignatureAlgorithm.UNSPECIFIED }), Status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
  });
});

describe('Encrypt and Decrypt', () => {
  it('round-trips across a restart of the core, binds the associated data, and names the storage key', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const associatedData = bytes('file=/var/lib/app/map.bin');
    const encrypted = await a.client.encrypt({ plaintext: bytes('map data'), associatedData, keyName: '' });
    expect(encrypted.key).toMatchObject({ keyId: 'storage/acme/default', version: 1 });
    const named = await a.client.encrypt({ plaintext: bytes('logs'), associatedData: new Uint8Array(0), keyName: 'logs' });
    expect(named.key).toMatchObject({ keyId: 'storage/acme/logs', version: 1 });

    await expectRefused(a.client.decrypt({ ciphertext: encrypted.ciphertext, associatedData: bytes('file=/other') }), Status.INVALID_ARGUMENT, 'DECRYPTION_FAILED');

    // Restart: the storage key was kept in the keystore.
    await a.api.close();
    a.state.close();
    const reopened = await openCore(a.robot);
    a.state = reopened.state;
    a.core = reopened.core;
    const api = await serve(a.core, 'acme-robot-a-restarted');
    const client = connect(api.socketPath);
    const decrypted = await client.decrypt({ ciphertext: encrypted.ciphertext, associatedData });
    expect(new TextDecoder().decode(decrypted.plaintext)).toBe('map data');
    expect(decrypted.key).toMatchObject({ keyId: 'storage/acme/default', version: 1 });
    await expect(client.decrypt({ ciphertext: named.ciphertext, associatedData: new Uint8Array(0) })).resolves.toMatchObject({ key: { keyId: 'storage/acme/logs' } });
  });

  it('does not decrypt another robot’s data, a fleet message or garbage', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const b = await startRobot(fleet, 'robot-b');
    const fromB = await b.client.encrypt({ plaintext: bytes('b only'), associatedData: new Uint8Array(0), keyName: '' });
    // Same key id on both robots, different keys: authentication fails.
    await a.client.encrypt({ plaintext: bytes('make the key'), associatedData: new Uint8Array(0), keyName: '' });
    await expectRefused(a.client.decrypt({ ciphertext: fromB.ciphertext, associatedData: new Uint8Array(0) }), Status.INVALID_ARGUMENT, 'DECRYPTION_FAILED');
    // A storage key that was never made here.
    const other = await b.client.encrypt({ plaintext: bytes('x'), associatedData: new Uint8Array(0), keyName: 'only-on-b' });
    await expectRefused(a.client.decrypt({ ciphertext: other.ciphertext, associatedData: new Uint8Array(0) }), Status.NOT_FOUND, 'KEY_NOT_FOUND');
    // An envelope of a communication key is not storage data.
    const sealed = await sealOn(a, 'x');
    const envelope = fromBinary(SealedPayloadSchema, fromBinary(SealedMessageSchema, sealed.envelope).payload).envelope;
    await expectRefused(a.client.decrypt({ ciphertext: envelope, associatedData: new Uint8Array(0) }), Status.NOT_FOUND, 'KEY_NOT_FOUND');
    await expectRefused(a.client.decrypt({ ciphertext: new Uint8Array(randomBytes(40)), associatedData: new Uint8Array(0) }), Status.INVALID_ARGUMENT, 'ENVELOPE_MALFORMED');
  });
});

describe('lockdown', () => {
  it('refuses every cryptographic rpc with DEVICE_LOCKED while GetStatus answers locked', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const sealed = await sealOn(a, 'before');
    const signed = await a.client.sign({ data: bytes('x') });
    const encrypted = await a.client.encrypt({ plaintext: bytes('x'), associatedData: new Uint8Array(0), keyName: '' });
    const status = await a.client.getStatus({});
    expect(status).toMatchObject({ provisioned: true, fleet: 'acme', group: '', deviceId: 'robot-a', locked: false, lockReason: '', agentVersion: '0.1.0-test' });
    expect(status.epochs.map((epoch) => ({ keyId: epoch.key?.keyId, version: epoch.key?.version, state: epoch.state }))).toEqual([{ keyId: 'communication/acme/fleet', version: 1, state: PbKeyState.ACTIVE }]);
    expect(status.certificateNotAfter).toBeDefined();

    a.core.lock({ sequence: 1n, reason: 'robot reported stolen', wipe: false });
    const none = new Uint8Array(0);
    const calls: [string, Promise<unknown>][] = [
      ['seal', sealOn(a, 'after')],
      ['open', a.client.open({ envelope: sealed.envelope, associatedData: none, purpose: '' })],
      ['sign', a.client.sign({ data: bytes('x') })],
      ['verify', a.client.verify({ data: bytes('x'), signature: signed.signature, signatureAlgorithm: signed.signatureAlgorithm, certificate: none })],
      ['encrypt', a.client.encrypt({ plaintext: bytes('x'), associatedData: none, keyName: '' })],
      ['decrypt', a.client.decrypt({ ciphertext: encrypted.ciphertext, associatedData: none })],
    ];
    for (const [name, call] of calls) {
      const error = await refusal(call);
      expect({ name, status: error.status, code: error.code }).toEqual({ name, status: Status.FAILED_PRECONDITION, code: 'DEVICE_LOCKED' });
    }
    await expect(a.client.getStatus({})).resolves.toMatchObject({ locked: true, lockReason: 'robot reported stolen', deviceId: 'robot-a' });

    a.core.unlock(2n);
    await expect(a.client.sign({ data: bytes('x') })).resolves.toBeDefined();
  });
});

describe('access', () => {
  const tokenA = 'app-a-token-0123456789abcdef0123456789abcdef';
  const tokenB = 'app-b-token-0123456789abcdef0123456789abcdef';
  const tokens = [
    { name: 'app-a', tokenSha256: tokenDigest(tokenA) },
    { name: 'app-b', tokenSha256: tokenDigest(tokenB) },
  ];

  it('without tokens configured, the socket permissions are the only gate', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    await expect(a.client.getStatus({})).resolves.toMatchObject({ deviceId: 'robot-a' });
    await expect(a.client.getStatus({}, { metadata: { authorization: 'Bearer anything' } })).resolves.toMatchObject({ deviceId: 'robot-a' });
  });

  it('with tokens configured, a call without a valid token is UNAUTHENTICATED and a valid one passes', async () => {
    const fleet = await TestFleet.create();
    const logs: LogEntry[] = [];
    const a = await startRobot(fleet, 'robot-a', { api: { tokens, logger: recordingLogger(logs) } });
    await expectRefused(a.client.getStatus({}), Status.UNAUTHENTICATED, 'UNAUTHENTICATED');
    await expectRefused(a.client.sign({ data: bytes('x') }, { metadata: { authorization: 'Bearer wrong-token' } }), Status.UNAUTHENTICATED, 'UNAUTHENTICATED');
    await expectRefused(a.client.getStatus({}, { metadata: { authorization: tokenA } }), Status.UNAUTHENTICATED, 'UNAUTHENTICATED');
    await expectRefused(a.client.getStatus({}, { metadata: { authorization: `Basic ${tokenA}` } }), Status.UNAUTHENTICATED, 'UNAUTHENTICATED');
    await expect(a.client.getStatus({}, { metadata: { authorization: `Bearer ${tokenA}` } })).resolves.toMatchObject({ deviceId: 'robot-a' });
    await expect(a.client.sign({ data: bytes('x') }, { metadata: { authorization: `bearer ${tokenB}` } })).resolves.toBeDefined();

    const refusals = logs.filter((entry) => entry.level === 'warn');
    expect(refusals.map((entry) => entry.object)).toEqual([
      { method: '/fleetkey.v1.AgentService/GetStatus', app: null, code: 'UNAUTHENTICATED' },
      { method: '/fleetkey.v1.AgentService/Sign', app: null, code: 'UNAUTHENTICATED' },
      { method: '/fleetkey.v1.AgentService/GetStatus', app: null, code: 'UNAUTHENTICATED' },
      { method: '/fleetkey.v1.AgentService/GetStatus', app: null, code: 'UNAUTHENTICATED' },
    ]);
    // Postcondition: no token reaches a log line.
    const logged = JSON.stringify(logs);
    expect(logged).not.toContain(tokenA);
    expect(logged).not.toContain('wrong-token');
  });

  it('limits each app’s rate: over it RESOURCE_EXHAUSTED (THROTTLED) while another app still passes', async () => {
    const fleet = await TestFleet.create();
    const logs: LogEntry[] = [];
    // A clock that never moves: no refill, so the test does not depend on the machine's speed.
    const a = await startRobot(fleet, 'robot-a', { api: { tokens, rateLimit: { ratePerSecond: 1, burst: 3, clock: () => 0 }, logger: recordingLogger(logs) } });
    const asA = { metadata: { authorization: `Bearer ${tokenA}` } };
    const asB = { metadata: { authorization: `Bearer ${tokenB}` } };
    for (let i = 0; i < 3; i += 1) await a.client.getStatus({}, asA);
    await expectRefused(a.client.getStatus({}, asA), Status.RESOURCE_EXHAUSTED, 'THROTTLED');
    await expectRefused(a.client.sign({ data: bytes('x') }, asA), Status.RESOURCE_EXHAUSTED, 'THROTTLED');
    await expect(a.client.getStatus({}, asB)).resolves.toMatchObject({ deviceId: 'robot-a' });
    expect(logs.filter((entry) => entry.level === 'warn').map((entry) => entry.object)).toContainEqual({ method: '/fleetkey.v1.AgentService/Sign', app: 'app-a', code: 'THROTTLED' });
  });
});

describe('limits', () => {
  it('answers a 2 MiB request RESOURCE_EXHAUSTED without disturbing the next call', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const error = await refusal(a.client.sign({ data: new Uint8Array(2 * 1024 * 1024) }));
    expect(error.status).toBe(Status.RESOURCE_EXHAUSTED);
    await expect(a.client.sign({ data: bytes('small') })).resolves.toBeDefined();
    // The largest plaintext and associated data the proto allows still fit, both ways.
    const largest = await sealOn(a, 'x'.repeat(1024 * 1024), { associatedData: new Uint8Array(4096) });
    const opened = await a.client.open({ envelope: largest.envelope, associatedData: new Uint8Array(4096), purpose: '' });
    expect(opened.plaintext.byteLength).toBe(1024 * 1024);
  });

  it('answers undecodable request bytes INVALID_ARGUMENT (MESSAGE_MALFORMED) and keeps serving', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    // A raw grpc-js client: the only way to put bytes on the wire that no typed client would send.
    const raw = new Client(`unix://${a.api.socketPath}`, credentials.createInsecure());
    cleanups.push(() => raw.close());
    const identity = (value: Buffer): Buffer => value;
    const failure = await new Promise<ServiceError>((resolve, reject) => {
      // Field 1 (bytes) announcing 100 bytes but carrying 2: truncated.
      raw.makeUnaryRequest('/fleetkey.v1.AgentService/Sign', identity, identity, Buffer.from([0x0a, 0x64, 0x01, 0x02]), new Metadata(), {}, (error) =>
        error ? resolve(error) : reject(new Error('expected the malformed request to be refused')),
      );
    });
    expect(failure.code).toBe(Status.INVALID_ARGUMENT);
    expect(failure.metadata.get(ERROR_CODE_TRAILER)).toEqual(['MESSAGE_MALFORMED']);
    await expect(a.client.getStatus({})).resolves.toMatchObject({ deviceId: 'robot-a' });
  });
});

describe('the socket', () => {
  it('is created with mode 0660 in a parent directory made 0750, and removed on close', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const stats = await lstat(a.api.socketPath);
    expect(stats.isSocket()).toBe(true);
    expect(stats.mode & 0o777).toBe(0o660);
    expect((await lstat(join(dir, 'run'))).mode & 0o777).toBe(0o750);
    // The private directory the socket was bound in is gone.
    expect(await readdir(join(dir, 'run'))).toEqual(['acme-robot-a.sock']);
    await a.api.close();
    await expect(lstat(a.api.socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('takes the configured mode and owner', async () => {
    const fleet = await TestFleet.create();
    const gid = process.getgid?.() ?? 0;
    const a = await startRobot(fleet, 'robot-a', { api: { mode: 0o600, gid } });
    const stats = await lstat(a.api.socketPath);
    expect(stats.mode & 0o777).toBe(0o600);
    expect(stats.gid).toBe(gid);
    await expect(a.client.getStatus({})).resolves.toBeDefined();
  });

  it('replaces a stale socket nobody listens on', async () => {
    const fleet = await TestFleet.create();
    const robot = await fleet.provision('robot-a', join(dir, 'robot-a'));
    const { state, core } = await openCore(robot);
    cleanups.push(() => state.close());
    const socketPath = join(dir, 'run', 'stale.sock');
    await mkdir(join(dir, 'run'), { recursive: true });
    // A crashed agent's socket: bound once, its listener gone, the file left behind.
    const side = join(dir, 'side.sock');
    const crashed = createNetServer();
    await new Promise<void>((resolve) => crashed.listen(side, resolve));
    await link(side, socketPath);
    await new Promise<void>((resolve) => crashed.close(() => resolve()));
    expect((await lstat(socketPath)).isSocket()).toBe(true);

    const api = await serve(core, 'stale');
    expect(api.socketPath).toBe(socketPath);
    await expect(connect(socketPath).getStatus({})).resolves.toMatchObject({ deviceId: 'robot-a' });
  });

  it('refuses a path that holds a regular file or a directory, and leaves it alone', async () => {
    const fleet = await TestFleet.create();
    const robot = await fleet.provision('robot-a', join(dir, 'robot-a'));
    const { state, core } = await openCore(robot);
    cleanups.push(() => state.close());
    await mkdir(join(dir, 'run'), { recursive: true });
    const file = join(dir, 'run', 'file.sock');
    await writeFile(file, 'not a socket');
    const error = await startLocalApi({ core, socketPath: file, agentVersion: 'test' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LocalApiSocketRefused);
    expect(error).toMatchObject({ reason: 'not-a-socket' });
    expect(await readFile(file, 'utf8')).toBe('not a socket');

    const directory = join(dir, 'run', 'dir.sock');
    await mkdir(directory);
    await expect(startLocalApi({ core, socketPath: directory, agentVersion: 'test' })).rejects.toMatchObject({ reason: 'not-a-socket' });
    expect((await lstat(directory)).isDirectory()).toBe(true);
  });

  it('refuses a socket another process is listening on (another agent runs)', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const error = await startLocalApi({ core: a.core, socketPath: a.api.socketPath, agentVersion: 'test' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LocalApiSocketRefused);
    expect(error).toMatchObject({ reason: 'in-use', code: 'INVALID_CONFIG' });
    // The running agent is untouched.
    await expect(a.client.getStatus({})).resolves.toMatchObject({ deviceId: 'robot-a' });

    const foreign: NetServer = createNetServer((socket) => socket.destroy());
    const foreignPath = join(dir, 'run', 'foreign.sock');
    await new Promise<void>((resolve) => foreign.listen(foreignPath, resolve));
    cleanups.push(() => new Promise<void>((resolve) => foreign.close(() => resolve())));
    await expect(startLocalApi({ core: a.core, socketPath: foreignPath, agentVersion: 'test' })).rejects.toMatchObject({ reason: 'in-use' });
    expect((await lstat(foreignPath)).isSocket()).toBe(true);
  });
});

describe('OpenChannel', () => {
  it('answers UNIMPLEMENTED when no channel handler is given', async () => {
    const fleet = await TestFleet.create();
    const a = await startRobot(fleet, 'robot-a');
    const call = a.client.openChannel();
    await call.send({ frame: { case: 'open', value: { peer: { case: 'deviceId', value: 'robot-b' }, expectedDeviceId: '' } } });
    const error = await refusal((async () => {
      for await (const _ of call) void _;
    })());
    expect(error.status).toBe(Status.UNIMPLEMENTED);
  });

  it('runs the given handler behind the same token and lock checks', async () => {
    const fleet = await TestFleet.create();
    const token = 'channel-app-token-0123456789abcdef';
    let calls = 0;
    const echo: OpenChannelHandler = async (requests, writer) => {
      calls += 1;
      for await (const request of requests) {
        if (request.frame.case === 'open') await writer.write({ frame: { case: 'opened', value: { peerDeviceId: 'robot-b' } } });
        else if (request.frame.case === 'data') await writer.write({ frame: { case: 'data', value: { data: request.frame.value.data } } });
        else break;
      }
    };
    const a = await startRobot(fleet, 'robot-a', { api: { tokens: [{ name: 'channel-app', tokenSha256: tokenDigest(token) }], openChannel: echo } });

    const drain = async (options: { metadata?: Record<string, string> }): Promise<string[]> => {
      const call = a.client.openChannel(options);
      await call.send({ frame: { case: 'open', value: { peer: { case: 'deviceId', value: 'robot-b' }, expectedDeviceId: '' } } });
      await call.send({ frame: { case: 'data', value: { data: bytes('ping') } } });
      call.closeSend();
      const frames: string[] = [];
      for await (const response of call) frames.push(response.frame.case === 'data' ? new TextDecoder().decode(response.frame.value.data) : String(response.frame.case));
      return frames;
    };

    await expectRefused(drain({}), Status.UNAUTHENTICATED, 'UNAUTHENTICATED');
    expect(calls).toBe(0);
    await expect(drain({ metadata: { authorization: `Bearer ${token}` } })).resolves.toEqual(['opened', 'ping']);
    expect(calls).toBe(1);
    a.core.lock({ sequence: 1n, reason: 'test', wipe: false });
    await expectRefused(drain({ metadata: { authorization: `Bearer ${token}` } }), Status.FAILED_PRECONDITION, 'DEVICE_LOCKED');
    expect(calls).toBe(1);
  });
});
