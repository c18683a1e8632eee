/**
 * Peer channels end to end on real parts: AgentCores on keystores provisioned by one TestFleet in
 * temp dirs, each with its own TLS listener on 127.0.0.1:0, the OpenChannel handler served by a
 * real gRPC server on a Unix socket, and apps as real gRPC clients. Raw `tls.connect` clients play
 * the misbehaving or foreign peers.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { credentials, ServerCredentials, type Server } from '@grpc/grpc-js';
import {
  AgentService,
  RevocationListSchema,
  SignedRevocationListSchema,
  addService,
  bindServer,
  closeClient,
  createClient,
  createServer,
  shutdownServer,
  type OpenChannelResponse,
  type RpcError,
  type ServiceClient,
  type SignedRevocationList,
} from '@fleetkey/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentLogger } from '../runtime/agent-core.js';
import { AgentCore } from '../runtime/agent-core.js';
import { AgentState, agentPaths, agentProtector } from '../state/index.js';
import { TestFleet, type TestRobot } from '../testing/test-fleet.js';
import { FrameDecoder, encodeData, type Frame } from './frames.js';
import { startPeerChannels, type RunningPeerChannels } from './start.js';
import { pemBytes } from './tls-credentials.js';

interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly object: Record<string, unknown>;
  readonly message: string;
}

/** A logger that keeps every entry and lets a test await one (no sleeps). */
class CapturedLogger implements AgentLogger {
  readonly entries: LogEntry[] = [];
  readonly #waiters = new Set<{ match: (entry: LogEntry) => boolean; resolve: (entry: LogEntry) => void }>();

  info(object: object, message: string): void {
    this.#add({ level: 'info', object: object as Record<string, unknown>, message });
  }
  warn(object: object, message: string): void {
    this.#add({ level: 'warn', object: object as Record<string, unknown>, message });
  }
  error(object: object, message: string): void {
    this.#add({ level: 'error', object: object as Record<string, unknown>, message });
  }

  waitFor(match: (entry: LogEntry) => boolean): Promise<LogEntry> {
    const found = this.entries.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => this.#waiters.add({ match, resolve }));
  }

  #add(entry: LogEntry): void {
    this.entries.push(entry);
    for (const waiter of [...this.#waiters]) {
      if (!waiter.match(entry)) continue;
      this.#waiters.delete(waiter);
      waiter.resolve(entry);
    }
  }
}

interface Agent {
  readonly robot: TestRobot;
  readonly core: AgentCore;
  readonly logs: CapturedLogger;
  readonly peers: RunningPeerChannels;
  readonly client: ServiceClient<typeof AgentService>;
  stop(): Promise<void>;
}

interface AgentOptions {
  readonly peers?: ReadonlyMap<string, string>;
  readonly acceptTimeoutMs?: number;
  readonly maxChannels?: number;
}

let dir: string;
let fleet: TestFleet;
const running: Agent[] = [];
const rawSockets: TLSSocket[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fk-chan-'));
  fleet = await TestFleet.create();
});
afterEach(async () => {
  for (const socket of rawSockets.splice(0)) socket.destroy();
  for (const agent of running.splice(0).reverse()) await agent.stop();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let agentCount = 0;

async function startAgent(authority: TestFleet, deviceId: string, options: AgentOptions = {}): Promise<Agent> {
  agentCount += 1;
  const robot = await authority.provision(deviceId, join(dir, `${agentCount}-${deviceId}`));
  const paths = agentPaths(robot.dataDir);
  const state = await AgentState.open(paths.keystore, agentProtector(paths));
  const logs = new CapturedLogger();
  const core = new AgentCore(state, { logger: logs });
  const peers = await startPeerChannels({ core, listen: '127.0.0.1:0', logger: logs, ...options });
  const server: Server = createServer();
  addService(server, AgentService, { openChannel: peers.handler });
  const socketPath = join(dir, `${agentCount}.sock`);
  await bindServer(server, `unix://${socketPath}`, ServerCredentials.createInsecure());
  const client = createClient(AgentService, `unix://${socketPath}`, credentials.createInsecure());
  const agent: Agent = {
    robot,
    core,
    logs,
    peers,
    client,
    stop: async () => {
      closeClient(client);
      await peers.close();
      await shutdownServer(server, 1_000);
      state.close();
    },
  };
  running.push(agent);
  return agent;
}

/** One app's OpenChannel call. */
class App {
  readonly #call: ReturnType<ServiceClient<typeof AgentService>['openChannel']>;
  readonly #responses: AsyncIterator<OpenChannelResponse>;

  constructor(agent: Agent, open: { deviceId?: string; address?: string; expectedDeviceId?: string }) {
    this.#call = agent.client.openChannel();
    this.#responses = this.#call[Symbol.asyncIterator]();
    const peer = open.deviceId !== undefined ? { case: 'deviceId' as const, value: open.deviceId } : { case: 'address' as const, value: open.address ?? '' };
    void this.#call.send({ frame: { case: 'open', value: { peer, expectedDeviceId: open.expectedDeviceId ?? '' } } }).catch(() => undefined);
  }

  /** Resolves with the peer's device id once `opened` arrives. @throws RpcError when refused. */
  async opened(): Promise<string> {
    const first = await this.#responses.next();
    if (first.done === true || first.value.frame.case !== 'opened') throw new Error(`expected opened, got ${first.done === true ? 'the end' : first.value.frame.case}`);
    return first.value.frame.value.peerDeviceId;
  }

  send(data: Uint8Array): Promise<void> {
    return this.#call.send({ frame: { case: 'data', value: { data } } });
  }

  close(reason: string): Promise<void> {
    return this.#call.send({ frame: { case: 'close', value: { reason } } });
  }

  /** The next response frame, or 'end' when the call finished with OK. */
  async next(): Promise<OpenChannelResponse['frame'] | 'end'> {
    const next = await this.#responses.next();
    return next.done === true ? 'end' : next.value.frame;
  }

  async data(): Promise<string> {
    const frame = await this.next();
    if (frame === 'end' || frame.case !== 'data') throw new Error(`expected data, got ${frame === 'end' ? 'the end' : frame.case}`);
    return Buffer.from(frame.value.data).toString('utf8');
  }

  /** Expects a close frame and then the end of the call; returns the reason. */
  async closed(): Promise<string> {
    const frame = await this.next();
    if (frame === 'end' || frame.case !== 'close') throw new Error(`expected close, got ${frame === 'end' ? 'the end' : frame.case}`);
    expect(await this.next()).toBe('end');
    return frame.value.reason;
  }

  cancel(): void {
    this.#call.cancel();
  }
}

async function refusal(app: App): Promise<RpcError> {
  try {
    await app.opened();
  } catch (error) {
    return error as RpcError;
  }
  throw new Error('the channel opened');
}

async function openPair(dialer: Agent, acceptor: Agent, dialWith: 'deviceId' | 'address'): Promise<[App, App]> {
  const accepting = new App(acceptor, { deviceId: dialer.robot.deviceId });
  const dialing =
    dialWith === 'deviceId'
      ? new App(dialer, { deviceId: acceptor.robot.deviceId })
      : new App(dialer, { address: acceptor.peers.address, expectedDeviceId: acceptor.robot.deviceId });
  const [dialerSees, acceptorSees] = await Promise.all([dialing.opened(), accepting.opened()]);
  expect(dialerSees).toBe(acceptor.robot.deviceId);
  expect(acceptorSees).toBe(dialer.robot.deviceId);
  return [dialing, accepting];
}

function revocationOf(list: SignedRevocationList): { sequence: bigint; signed: Uint8Array } {
  return { sequence: fromBinary(RevocationListSchema, list.payload).sequence, signed: toBinary(SignedRevocationListSchema, list) };
}

interface RawOutcome {
  readonly frames: Frame[];
  readonly error: string | undefined;
}

/** A raw TLS client; resolves when the connection is closed, with what it received. */
function rawConnect(
  target: Agent,
  credentialsOf: { key?: Buffer; cert?: Buffer },
  onFrame?: (frame: Frame, socket: TLSSocket) => void,
): { socket: TLSSocket; outcome: Promise<RawOutcome> } {
  const [host, port] = target.peers.address.split(':') as [string, string];
  const socket = connect({
    host,
    port: Number(port),
    ca: [pemBytes(fleet.caCertificate, 'CERTIFICATE')],
    minVersion: 'TLSv1.3',
    checkServerIdentity: () => undefined,
    ...credentialsOf,
  });
  rawSockets.push(socket);
  const outcome = new Promise<RawOutcome>((resolve) => {
    const frames: Frame[] = [];
    const decoder = new FrameDecoder();
    let error: string | undefined;
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk).frames) {
        frames.push(frame);
        onFrame?.(frame, socket);
      }
    });
    socket.on('error', (failure: NodeJS.ErrnoException) => (error ??= failure.code ?? failure.message));
    socket.on('close', () => resolve({ frames, error }));
  });
  return { socket, outcome };
}

function robotCredentials(robot: TestRobot): { key: Buffer; cert: Buffer } {
  const der = robot.privateKey.export({ type: 'pkcs8', format: 'der' });
  const key = pemBytes(der, 'PRIVATE KEY');
  der.fill(0);
  return { key, cert: pemBytes(robot.certificate, 'CERTIFICATE') };
}

describe('peer channels', () => {
  it('relays bytes both ways between two apps reached by device id through the directory, in order and with backpressure', async () => {
    const b = await startAgent(fleet, 'robot-b');
    const a = await startAgent(fleet, 'robot-a', { peers: new Map([['robot-b', b.peers.address]]) });
    const [appA, appB] = await openPair(a, b, 'deviceId');

    await appA.send(Buffer.from('hello from a'));
    expect(await appB.data()).toBe('hello from a');
    await appB.send(Buffer.from('hello from b'));
    expect(await appA.data()).toBe('hello from b');

    // 4 MiB in full 64 KiB frames, read on the far side and compared by digest.
    const block = Buffer.alloc(65_536);
    const sent = createHash('sha256');
    const sending = (async () => {
      for (let i = 0; i < 64; i += 1) {
        block.fill(i);
        sent.update(block);
        await appA.send(block);
      }
    })();
    const received = createHash('sha256');
    let total = 0;
    while (total < 64 * 65_536) {
      const frame = await appB.next();
      if (frame === 'end' || frame.case !== 'data') throw new Error('expected data');
      received.update(frame.value.data);
      total += frame.value.data.length;
    }
    await sending;
    expect(total).toBe(64 * 65_536);
    expect(received.digest('hex')).toBe(sent.digest('hex'));

    await appA.close('done');
    expect(await appB.closed()).toBe('done');
    expect(await appA.next()).toBe('end');
    expect(a.peers.channels.stats().channels).toBe(0);
  });

  it('opens by address with expected_device_id, the far app waiting by device id', async () => {
    const a = await startAgent(fleet, 'robot-a');
    const b = await startAgent(fleet, 'robot-b');
    // robot-b dials robot-a's address; robot-a's app waits for robot-b by device id.
    const [appB, appA] = await openPair(b, a, 'address');
    await appB.send(Buffer.from('ping'));
    expect(await appA.data()).toBe('ping');
    await appA.send(Buffer.from('pong'));
    expect(await appB.data()).toBe('pong');
    appB.cancel();
    expect(await appA.closed()).toBe('cancelled');
  });

  it('Precondition: a raw TLS client without a certificate fails the handshake, and the refusal is logged', async () => {
    const b = await startAgent(fleet, 'robot-b');
    const { outcome } = rawConnect(b, {});
    // TLS 1.3: the client may finish its side before the server's alert arrives; what counts is
    // that the server refused the handshake (logged) and not a byte of the channel was sent.
    expect((await outcome).frames).toEqual([]);
    const entry = await b.logs.waitFor((e) => e.level === 'warn' && e.message.includes('TLS handshake failed'));
    expect(entry.object['remote']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(entry.object['reason']).toMatch(/^ERR_SSL_/);
    expect(b.peers.channels.stats().held).toBe(0);
  });

  it('Precondition: a certificate from another fleet CA fails the handshake, raw or from a foreign agent', async () => {
    const b = await startAgent(fleet, 'robot-b');
    const other = await TestFleet.create({ fleet: 'other' });
    const foreign = await other.provision('robot-x', join(dir, 'foreign-x'));
    const { outcome } = rawConnect(b, robotCredentials(foreign));
    expect((await outcome).frames).toEqual([]);
    const entry = await b.logs.waitFor((e) => e.level === 'warn' && e.message.includes('TLS handshake failed'));
    expect(entry.object).toMatchObject({ reason: 'CERTIFICATE_NOT_VERIFIED' });
    expect(entry.object['remote']).toMatch(/^127\.0\.0\.1:\d+$/);

    const y = await startAgent(other, 'robot-y');
    const error = await refusal(new App(y, { address: b.peers.address }));
    expect(error.status).toBe(7); // PERMISSION_DENIED
    expect(error.code).toBe('PEER_REFUSED');
  });

  it('Precondition: a revoked device is refused in both directions, logged, and its open channel closes when the list arrives', async () => {
    const a = await startAgent(fleet, 'robot-a');
    const c = await startAgent(fleet, 'robot-c');
    const [appC, appA] = await openPair(c, a, 'address');

    a.core.setRevocationList(revocationOf(await fleet.revoke(c.robot)));
    expect(await appA.closed()).toBe('peer revoked');
    expect(await appC.closed()).toBe('revoked');

    // robot-a dials the revoked robot-c: refused by robot-a's own check of the server certificate.
    const outgoing = await refusal(new App(a, { address: c.peers.address }));
    expect(outgoing.status).toBe(7);
    expect(outgoing.code).toBe('CERTIFICATE_REVOKED');
    const logged = await a.logs.waitFor((e) => e.message === 'peer channel refused' && e.object['direction'] === 'outgoing');
    expect(logged.object).toMatchObject({ remote: c.peers.address, reason: 'CERTIFICATE_REVOKED' });

    // robot-c (unaware) dials robot-a: robot-a destroys the connection right after the handshake.
    const incoming = await refusal(new App(c, { address: a.peers.address }));
    expect(incoming.status).toBe(7);
    expect(incoming.code).toBe('PEER_REFUSED');
    const refused = await a.logs.waitFor((e) => e.message === 'peer channel refused' && e.object['direction'] === 'incoming');
    expect(refused.object).toMatchObject({ reason: 'CERTIFICATE_REVOKED' });
    expect(refused.object['remote']).toMatch(/^127\.0\.0\.1:\d+$/);

    // An app asking robot-a for the revoked robot-c is refused outright; no log line carries key material.
    const asked = await refusal(new App(a, { deviceId: 'robot-c' }));
    expect(asked.code).toBe('PEER_REFUSED');
    expect(JSON.stringify(a.logs.entries)).not.toMatch(/BEGIN|PRIVATE/);
  });

  it('Precondition: a peer whose certificate does not name expected_device_id is refused', async () => {
    const a = await startAgent(fleet, 'robot-a');
    const b = await startAgent(fleet, 'robot-b');
    const error = await refusal(new App(a, { address: b.peers.address, expectedDeviceId: 'robot-c' }));
    expect(error.status).toBe(7);
    expect(error.code).toBe('PEER_REFUSED');
    await a.logs.waitFor((e) => e.message === 'peer channel refused' && e.object['reason'] === 'PEER_REFUSED');
  });

  it('Precondition: a lockdown closes the open channel with reason "locked" on both ends; then no channel opens', async () => {
    const b = await startAgent(fleet, 'robot-b');
    const a = await startAgent(fleet, 'robot-a', { peers: new Map([['robot-b', b.peers.address]]) });
    const [appA, appB] = await openPair(a, b, 'deviceId');
    await appA.send(Buffer.from('before'));
    expect(await appB.data()).toBe('before');

    a.core.lock({ sequence: 1n, reason: 'drill', wipe: false });
    expect(await appA.closed()).toBe('locked');
    expect(await appB.closed()).toBe('locked');

    const local = await refusal(new App(a, { deviceId: 'robot-b' }));
    expect(local.status).toBe(9); // FAILED_PRECONDITION
    expect(local.code).toBe('DEVICE_LOCKED');
    // A peer dialing the locked robot is told so.
    const remote = await refusal(new App(b, { address: a.peers.address }));
    expect(remote.status).toBe(14); // UNAVAILABLE
    expect(remote.message).toContain('locked');
  });

  it('Precondition: a malformed frame closes that connection; other channels keep working', async () => {
    const b = await startAgent(fleet, 'robot-b');
    const a = await startAgent(fleet, 'robot-a', { peers: new Map([['robot-b', b.peers.address]]) });
    const c = await fleet.provision('robot-c', join(dir, 'raw-c'));
    const [appA, appB] = await openPair(a, b, 'deviceId');

    const waitingForC = new App(b, { deviceId: 'robot-c' });
    const { outcome } = rawConnect(b, robotCredentials(c), (frame, socket) => {
      // After ACCEPT, an unknown frame type.
      if (frame.type === 'accept') socket.write(Buffer.from([0, 0, 0, 0, 9]));
    });
    expect(await waitingForC.opened()).toBe('robot-c');
    expect(await waitingForC.closed()).toBe('malformed frame from the peer agent');
    const raw = await outcome;
    expect(raw.frames).toEqual([{ type: 'accept' }, { type: 'close', reason: 'malformed frame' }]);
    await b.logs.waitFor((e) => e.message === 'peer channel closed: malformed frame' && e.object['peer'] === 'robot-c');

    await appA.send(Buffer.from('still here'));
    expect(await appB.data()).toBe('still here');
    await appB.send(Buffer.from('and here'));
    expect(await appA.data()).toBe('and here');
  });

  it('Precondition: an oversized data frame from a peer closes its connection, after the frames before it', async () => {
    const b = await startAgent(fleet, 'robot-b');
    const c = await fleet.provision('robot-c', join(dir, 'raw-c2'));
    const waitingForC = new App(b, { deviceId: 'robot-c' });
    const header = Buffer.alloc(5);
    header.writeUInt32BE(65_537, 0);
    header[4] = 1;
    const { outcome } = rawConnect(b, robotCredentials(c), (frame, socket) => {
      if (frame.type === 'accept') socket.write(Buffer.concat([encodeData(Buffer.from('ok')), header]));
    });
    expect(await waitingForC.opened()).toBe('robot-c');
    expect(await waitingForC.data()).toBe('ok');
    expect(await waitingForC.closed()).toBe('malformed frame from the peer agent');
    expect((await outcome).frames.at(-1)).toEqual({ type: 'close', reason: 'malformed frame' });
  });

  it('times out a wait with DEADLINE_EXCEEDED and closes an unclaimed incoming connection', async () => {
    const b = await startAgent(fleet, 'robot-b', { acceptTimeoutMs: 200 });
    const error = await refusal(new App(b, { deviceId: 'robot-z' }));
    expect(error.status).toBe(4); // DEADLINE_EXCEEDED
    expect(error.code).toBe('TIMEOUT');

    const c = await fleet.provision('robot-c', join(dir, 'raw-c3'));
    const raw = await rawConnect(b, robotCredentials(c)).outcome;
    expect(raw.frames).toEqual([{ type: 'close', reason: 'no application is waiting for this peer' }]);
  });

  it('refuses a stream that does not start with open, a channel to itself, and more than maxChannels', async () => {
    const b = await startAgent(fleet, 'robot-b', { maxChannels: 1 });
    const a = await startAgent(fleet, 'robot-a', { peers: new Map([['robot-b', b.peers.address]]) });
    const call = b.client.openChannel();
    await call.send({ frame: { case: 'data', value: { data: Uint8Array.of(1) } } });
    await expect(call[Symbol.asyncIterator]().next()).rejects.toMatchObject({ status: 3, code: 'INVALID_ARGUMENT' });

    const self = await refusal(new App(b, { deviceId: 'robot-b' }));
    expect(self.code).toBe('INVALID_ARGUMENT');

    await openPair(a, b, 'deviceId');
    const second = await refusal(new App(b, { deviceId: 'robot-r' }));
    expect(second.status).toBe(8); // RESOURCE_EXHAUSTED
    expect(second.code).toBe('THROTTLED');
  });
});
