/**
 * One worker process of the fleet benchmark (./main.ts): a share of the fleet's robots, each the
 * real agent code — `provisionAgent` against the controller's ProvisioningService into its own
 * keystore on tmpfs, then an AgentCore and `startControllerLink` (no local API, no peer
 * listener). It reports to the parent when every robot it runs reached a phase, with the last
 * robot's time: provisioned; connected (controller and broker); the rotation's epoch 2 of the
 * fleet key held (pending), acknowledged, active; locked; lockdown acknowledged (the Ack RPC or
 * the PUBACK returned, so the controller has it). Each measured round also notes the longest stall
 * of this process's event loop, so a worker too busy to serve its robots shows in the figures.
 *
 * For the raw baseline it closes the links and opens, per robot, one plain mqtt.js connection with
 * the robot's own certificate (the broker takes only device certificates, and the client id must
 * be the device id, so the agent's connection cannot stay up beside it) that subscribes to the
 * fleet's emergency topic and does nothing with what arrives but note the time.
 *
 * Trust boundary: none; throwaway robots of a throwaway controller, keystores in a temp dir.
 */
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { formatKeyId } from '@fleetkey/key-types';
import { emergencyTopic } from '@fleetkey/protocol';
import type { SecureContext } from 'node:tls';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { startControllerLink, type ControllerLink } from '../../src/link/index.js';
import { parseBrokerAddress } from '../../src/link/broker-session.js';
import { deviceSecureContext } from '../../src/link/tls.js';
import { provisionAgent } from '../../src/provisioning/index.js';
import { AgentCore, type AgentLogger } from '../../src/runtime/agent-core.js';
import { AgentState, agentPaths, agentProtector } from '../../src/state/index.js';
import type { AgentJob, FromWorker, Phase, ToWorker } from './messages.js';

/** Enrollments in flight per worker: each is a key pair, a TLS handshake and a keystore. */
const PROVISION_CONCURRENCY = 8;
/** Robots connecting at once per worker; the others wait, so the controller sees a ramp, not a stampede. */
const CONNECT_CONCURRENCY = 50;
const POLL_MS = 20;
const MAX_SAMPLES = 8;

interface Robot {
  readonly deviceId: string;
  readonly dataDir: string;
  token: string | undefined;
  state?: AgentState;
  core?: AgentCore;
  link?: ControllerLink;
  raw?: MqttClient;
  rawRetained: boolean;
  times: Partial<Record<Phase, number>>;
}

const send = (message: FromWorker): void => {
  process.send!(message);
};

let fleet = '';
let robots: Robot[] = [];
let lockdownArmed = false;
let rawArmed = false;
let rawBytes = 0;
let warnings = 0;
let errors = 0;
const samples = new Set<string>();
const reported = new Set<Phase>();
/** How long this worker's event loop stalled during a measured round (a busy worker delays its robots). */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function sample(level: string, message: string, object: object): void {
  if (samples.size >= MAX_SAMPLES) return;
  const err = (object as { err?: unknown }).err;
  samples.add(`${level}: ${message}${typeof err === 'string' ? ` (${err})` : err instanceof Error ? ` (${err.message})` : ''}`);
}

/** Marks `phase` for `robot` (first time only) and tells the parent once every robot has it. */
function mark(robot: Robot, phase: Phase, at = Date.now()): void {
  if (robot.times[phase] !== undefined) return;
  robot.times[phase] = at;
  if (reported.has(phase)) return;
  let last = 0;
  let first = Number.POSITIVE_INFINITY;
  for (const r of robots) {
    const t = r.times[phase];
    if (t === undefined) return;
    last = Math.max(last, t);
    first = Math.min(first, t);
  }
  reported.add(phase);
  const detail = { loopMaxMs: loopDelay.max / 1e6, ...(phase === 'raw' ? { payloadBytes: rawBytes } : {}) };
  send({ type: 'phase', phase, at: last, first, detail });
}

function loggerFor(robot: Robot): AgentLogger {
  return {
    info(object, message) {
      if (message !== 'acknowledged') return;
      const ack = object as { kind?: unknown; outcome?: unknown };
      if (ack.outcome !== 'APPLIED') return;
      if (ack.kind === 'COMMAND' && lockdownArmed) mark(robot, 'acked');
      // Acked after it was stored, so holding epoch 2 here means this ack is for the rotation's bundle.
      if (ack.kind === 'KEY_BUNDLE' && robot.core !== undefined && hasEpoch2(robot.core, false)) mark(robot, 'epoch2-acked');
    },
    warn(object, message) {
      warnings += 1;
      sample('warn', message, object);
    },
    error(object, message) {
      errors += 1;
      sample('error', message, object);
    },
  };
}

/** Runs `task` over `items`, at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let index = next++; index < items.length; index = next++) await task(items[index]!);
    }),
  );
}

function until(check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (check()) return resolve();
    const timer = setInterval(() => {
      if (!check()) return;
      clearInterval(timer);
      resolve();
    }, POLL_MS);
  });
}

function progress(phase: Phase): () => void {
  const timer = setInterval(() => send({ type: 'progress', phase, count: robots.filter((r) => r.times[phase] !== undefined).length, of: robots.length }), 2_000);
  return () => clearInterval(timer);
}

async function provisionAll(agents: readonly AgentJob[], controller: string, caPem: Buffer, root: string): Promise<void> {
  robots = agents.map((agent) => ({ deviceId: agent.deviceId, dataDir: join(root, agent.deviceId), token: agent.token, rawRetained: false, times: {} }));
  const stop = progress('provisioned');
  try {
    await pool(robots, PROVISION_CONCURRENCY, async (robot) => {
      await provisionAgent({
        dataDir: robot.dataDir,
        controller,
        readToken: () => robot.token!,
        deviceId: robot.deviceId,
        caPem,
        keyAlgorithm: 'ECDSA_P256',
        serialNumber: '',
        agentVersion: 'bench',
        timeoutMs: 120_000,
        now: () => new Date(),
      });
      robot.token = undefined;
      mark(robot, 'provisioned');
    });
  } finally {
    stop();
  }
}

/** Whether the robot holds epoch 2 of the fleet key (active, when `active`). */
function hasEpoch2(core: AgentCore, active: boolean): boolean {
  const keyId = `communication/${fleet}/fleet`;
  return core.state.epochs().some((epoch) => epoch.keyId.version === 2 && (!active || epoch.state === 'active') && formatKeyId(epoch.keyId) === keyId);
}

async function linkAll(): Promise<void> {
  const stop = progress('connected');
  try {
    await pool(robots, CONNECT_CONCURRENCY, async (robot) => {
      const paths = agentPaths(robot.dataDir);
      const state = await AgentState.open(paths.keystore, agentProtector(paths));
      const logger = loggerFor(robot);
      const core = new AgentCore(state, { logger });
      core.on('locked', () => mark(robot, 'locked'));
      core.on('keys', () => {
        if (hasEpoch2(core, false)) mark(robot, 'epoch2-held');
        if (hasEpoch2(core, true)) mark(robot, 'epoch2');
      });
      robot.state = state;
      robot.core = core;
      // Status reports every 10 minutes: the benchmark measures commands, not the status chatter.
      const link = startControllerLink({ core, logger, backoff: { initialMs: 200, maxMs: 5_000 }, statusIntervalMs: 600_000, agentVersion: 'bench' });
      robot.link = link;
      await until(() => link.connections().controller && link.connections().broker);
      mark(robot, 'connected');
    });
  } finally {
    stop();
  }
}

async function rawSubscribeAll(): Promise<void> {
  await Promise.all(robots.map((robot) => robot.link?.close()));
  const topic = emergencyTopic(fleet);
  await pool(robots, CONNECT_CONCURRENCY, async (robot) => {
    const core = robot.core!;
    const { host, port } = parseBrokerAddress(core.state.endpoints().broker);
    // The same options as the agent's BrokerSession, so only what happens after receipt differs.
    const options: IClientOptions & { secureContext: SecureContext } = { protocol: 'mqtts', host, port, clientId: robot.deviceId, protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: 60_000, rejectUnauthorized: true, secureContext: deviceSecureContext(core) };
    const client = await connectAsync(options);
    client.on('message', (_topic, payload) => {
      if (!robot.rawRetained) {
        // The first delivery is the retained lockdown from the measured round: not timed.
        robot.rawRetained = true;
        mark(robot, 'raw-ready');
        return;
      }
      if (!rawArmed) return;
      rawBytes = payload.length;
      mark(robot, 'raw');
    });
    await client.subscribeAsync(topic, { qos: 1 });
    robot.raw = client;
  });
}

async function closeAll(): Promise<void> {
  await Promise.all(robots.map(async (robot) => {
    await robot.link?.close();
    await robot.raw?.endAsync(true);
    robot.state?.close();
  }));
}

process.on('message', (message: ToWorker) => {
  const run = async (): Promise<void> => {
    switch (message.type) {
      case 'provision':
        fleet = message.fleet;
        await provisionAll(message.agents, message.controller, Buffer.from(message.caPem), message.root);
        return;
      case 'link':
        await linkAll();
        return;
      case 'arm-lockdown':
        lockdownArmed = true;
        loopDelay.reset();
        send({ type: 'armed' });
        return;
      case 'raw-subscribe':
        await rawSubscribeAll();
        return;
      case 'arm-raw':
        rawArmed = true;
        loopDelay.reset();
        send({ type: 'armed' });
        return;
      case 'close':
        await closeAll();
        // Exit (not just disconnect) so a --cpu-prof profile is written; the handles are closed.
        process.send!({ type: 'closed', warnings, errors, samples: [...samples] } satisfies FromWorker, () => process.exit(0));
        return;
    }
  };
  run().catch((error: unknown) => send({ type: 'failed', message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }));
});

send({ type: 'started' });
