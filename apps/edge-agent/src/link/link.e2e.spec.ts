/**
 * The controller link against the real controller binaries: `fleet-controller init` / `serve` on
 * port 0, a robot provisioned with the real `edge-agent provision`, operators through `fleetctl`.
 * One robot, one controller, steps in order as an operator's day would go: contact; a lockdown
 * confirmed in `lockdown status`; a two-operator lift; a rotation arriving as pending then active;
 * the controller stopped (the robot goes offline and keeps its keys) and started again on the same
 * ports (the robot reconnects by itself).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { summarizeCertificate } from '@fleetkey/crypto';
import { formatKeyId } from '@fleetkey/key-types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentCore } from '../runtime/agent-core.js';
import { AgentState, agentPaths, agentProtector } from '../state/index.js';
import { startControllerLink, type ControllerLink } from './controller-link.js';
import { recordingLogger, type LogLine, type RecordingLogger } from './test-support.js';

const run = promisify(execFile);
const CONTROLLER_BIN = new URL('../../../fleet-controller/bin/fleet-controller.mjs', import.meta.url).pathname;
const FLEETCTL_BIN = new URL('../../../fleetctl/bin/fleetctl.mjs', import.meta.url).pathname;
const AGENT_BIN = new URL('../../bin/edge-agent.mjs', import.meta.url).pathname;
/** Two processes and TLS handshakes on a busy shared machine; bounds, never asserted on. */
const STEP_TIMEOUT_MS = 90_000;

let parent: string;
let adminToken: string;
let caFile: string;
let grpc: string;
let controller: ChildProcess | undefined;
let state: AgentState;
let core: AgentCore;
let logger: RecordingLogger;
let link: ControllerLink;

async function startController(listen = '127.0.0.1:0', mqttListen = '127.0.0.1:0'): Promise<string> {
  const child = spawn(process.execPath, [CONTROLLER_BIN, 'serve', '--data-dir', join(parent, 'controller'), '--listen', listen, '--mqtt-listen', mqttListen, '--http-listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  controller = child;
  child.stderr!.resume();
  const [line] = (await Promise.race([once(createInterface({ input: child.stdout! }), 'line'), once(child, 'exit').then(() => [undefined])])) as [string | undefined];
  if (line === undefined) throw new Error('the controller exited before it was ready');
  return (JSON.parse(line) as { grpc: string }).grpc;
}

async function stopController(): Promise<void> {
  if (controller === undefined || controller.exitCode !== null) return;
  const exited = once(controller, 'exit');
  controller.kill('SIGTERM');
  await exited;
}

async function fleetctl(args: string[], token = adminToken): Promise<string> {
  const { stdout } = await run(process.execPath, [FLEETCTL_BIN, '--controller', grpc, '--ca-file', caFile, ...args], {
    env: { ...process.env, FLEETKEY_TOKEN: token, FLEETKEY_CONFIG: join(parent, 'no-config.json') },
  });
  return stdout;
}

/** Log lines written after `mark` (an index into logger.lines) matching `predicate`. */
function waitForLine(mark: number, predicate: (line: LogLine) => boolean): Promise<LogLine> {
  return logger.waitFor((line) => logger.lines.indexOf(line) >= mark && predicate(line));
}

/** Resolves at the first core event `event` after which `check` holds (or at once if it holds). */
function waitForCore(event: 'locked' | 'unlocked' | 'keys', check: () => boolean): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve) => {
    const listener = (): void => {
      if (!check()) return;
      core.off(event, listener);
      resolve();
    };
    core.on(event, listener);
  });
}

function epochState(version: number): string | undefined {
  return core.state.epochs().find((epoch) => formatKeyId(epoch.keyId) === 'communication/acme/fleet' && epoch.keyId.version === version)?.state;
}

const acked = (kind: string, outcome = 'APPLIED') => (line: LogLine) => line.message === 'acknowledged' && line.object['kind'] === kind && line.object['outcome'] === outcome;

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'fk-link-e2e-'));
  const init = await run(process.execPath, [CONTROLLER_BIN, 'init', '--data-dir', join(parent, 'controller'), '--fleet', 'acme', '-o', 'json']);
  ({ adminToken, caFile } = JSON.parse(init.stdout) as { adminToken: string; caFile: string });
  grpc = await startController();
  const minted = JSON.parse(await fleetctl(['tokens', 'create', '--fleet', 'acme', '--ttl', '1h', '-o', 'json'])) as { tokens: { token: string }[] };
  const tokenFile = join(parent, 'token');
  await writeFile(tokenFile, `${minted.tokens[0]!.token}\n`, { mode: 0o600 });
  const dataDir = join(parent, 'robot-1');
  await run(process.execPath, [AGENT_BIN, 'provision', '--controller', grpc, '--ca-file', caFile, '--token-file', tokenFile, '--device-id', 'robot-1', '--data-dir', dataDir, '-o', 'json']);
  const paths = agentPaths(dataDir);
  state = await AgentState.open(paths.keystore, agentProtector(paths));
  logger = recordingLogger();
  core = new AgentCore(state, { logger });
  link = startControllerLink({ core, logger, backoff: { initialMs: 100, maxMs: 1_000 }, statusIntervalMs: 1_000, agentVersion: 'e2e' });
}, STEP_TIMEOUT_MS);

afterAll(async () => {
  await link?.close();
  state?.close();
  await stopController();
  await rm(parent, { recursive: true, force: true });
}, STEP_TIMEOUT_MS);

describe('the controller link against the real controller', () => {
  it('connects to the controller (mutual TLS) and to the broker (TLS, device certificate) and records contact', async () => {
    await waitForLine(0, (line) => line.message === 'connected to the controller');
    await waitForLine(0, (line) => line.message === 'connected to the broker');
    expect(link.connections()).toEqual({ controller: true, broker: true });
    expect(core.contact().lastContact).not.toBeNull();
    expect(core.contact().offlineSince).toBeNull();
    expect(logger.lines.filter((line) => line.level === 'error')).toEqual([]);
  }, STEP_TIMEOUT_MS);

  it('obeys `fleetctl lockdown`, and `lockdown status` shows the robot confirmed it', async () => {
    const mark = logger.lines.length;
    const locked = waitForCore('locked', () => core.isLocked());
    const issued = JSON.parse(await fleetctl(['lockdown', '--fleet', 'acme', '--reason', 'link e2e drill', '-o', 'json'])) as { lockdown: { commandSequence: number } };
    await locked;
    expect(core.lockState()).toMatchObject({ locked: true, sequence: BigInt(issued.lockdown.commandSequence), reason: 'link e2e drill' });
    expect(() => core.sealingKey(false)).toThrow(expect.objectContaining({ code: 'DEVICE_LOCKED' }) as Error);
    await waitForLine(mark, acked('COMMAND'));
    const status = JSON.parse(await fleetctl(['lockdown', 'status', '--fleet', 'acme', '-o', 'json'])) as { lockdowns: { confirmed: string[]; notConfirmed: string[]; devicesAcknowledged: number }[] };
    expect(status.lockdowns).toHaveLength(1);
    expect(status.lockdowns[0]).toMatchObject({ confirmed: ['robot-1'], notConfirmed: [], devicesAcknowledged: 1 });
    // The same command also came over MQTT: refused as a replay, and never acked as one.
    expect(logger.lines.some(acked('COMMAND', 'REJECTED_REPLAY'))).toBe(false);
  }, STEP_TIMEOUT_MS);

  it('is unlocked by a lift two different operators approved', async () => {
    const created = JSON.parse(await fleetctl(['operators', 'create', 'bob', '--role', 'operator', '--fleet', 'acme', '-o', 'json'])) as { credential: string };
    const requested = JSON.parse(await fleetctl(['lift', '--fleet', 'acme', '--reason', 'drill over', '-o', 'json'])) as { liftRequest: { liftRequestId: string } };
    expect(core.isLocked()).toBe(true);
    const unlocked = waitForCore('unlocked', () => !core.isLocked());
    await fleetctl(['approve', requested.liftRequest.liftRequestId, '--fleet', 'acme', '-o', 'json'], created.credential);
    await unlocked;
    const use = core.sealingKey(false);
    use.key.fill(0);
    expect(use.version).toBe(1);
  }, STEP_TIMEOUT_MS);

  it('receives `fleetctl rotate`: epoch 2 arrives pending, then becomes active', async () => {
    const pending = waitForCore('keys', () => epochState(2) !== undefined);
    await fleetctl(['rotate', '--fleet', 'acme', '--reason', 'link e2e']);
    await pending;
    // Activation needs this robot's ack, so the pending state is always seen first.
    expect(['pending', 'active']).toContain(epochState(2));
    await waitForCore('keys', () => epochState(2) === 'active');
    expect(epochState(1)).toBe('retiring');
    const use = core.sealingKey(false);
    use.key.fill(0);
    expect(use.version).toBe(2);
  }, STEP_TIMEOUT_MS);

  it('goes offline when the controller stops, keeps sealing, and reconnects when it is back', async () => {
    const brokerAddress = new URL(core.state.endpoints().broker);
    let mark = logger.lines.length;
    await stopController();
    await waitForLine(mark, (line) => line.message.startsWith('offline: neither the controller nor the broker is connected'));
    expect(core.contact().offlineSince).not.toBeNull();
    expect(link.connected()).toBe(false);
    const use = core.sealingKey(false);
    use.key.fill(0);

    mark = logger.lines.length;
    await startController(grpc, `${brokerAddress.hostname}:${brokerAddress.port}`);
    await waitForLine(mark, (line) => line.message === 'connected to the controller');
    await waitForLine(mark, (line) => line.message === 'connected to the broker');
    expect(core.contact().offlineSince).toBeNull();
    expect(link.connections()).toEqual({ controller: true, broker: true });
  }, STEP_TIMEOUT_MS);

  it('renews its certificate over mutual TLS when due, and reconnects both connections with it', async () => {
    await link.close();
    const before = summarizeCertificate(core.certificate());
    const mark = logger.lines.length;
    // A renewal window longer than the certificate's life: due at once (and then bounded to one attempt).
    link = startControllerLink({ core, logger, backoff: { initialMs: 100, maxMs: 1_000 }, statusIntervalMs: 60_000, renewBeforeMs: 400 * 86_400_000 });
    await waitForLine(mark, (line) => line.message === 'device certificate renewed');
    const reconnect = logger.lines.findIndex((line, index) => index >= mark && line.message === 'reconnecting with the renewed certificate');
    expect(reconnect).toBeGreaterThan(mark);
    await waitForLine(reconnect, (line) => line.message === 'connected to the controller');
    await waitForLine(reconnect, (line) => line.message === 'connected to the broker');
    const after = summarizeCertificate(core.certificate());
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(after.notAfter.getTime()).toBeGreaterThan(before.notAfter.getTime());
    const listed = JSON.parse(await fleetctl(['devices', 'list', '--fleet', 'acme', '-o', 'json'])) as { devices: { deviceId: string; certificateNotAfter: string }[] };
    expect(new Date(listed.devices.find((device) => device.deviceId === 'robot-1')!.certificateNotAfter).getTime()).toBe(after.notAfter.getTime());
    // Stored: a restart presents the renewed certificate.
    expect(Buffer.from(core.state.deviceCertificate()).equals(Buffer.from(core.certificate()))).toBe(true);
    expect(logger.lines.filter((line, index) => index >= mark && line.message === 'device certificate renewed')).toHaveLength(1);
  }, STEP_TIMEOUT_MS);
});
