/**
 * The controller on an external broker, end to end: a Mosquitto of its own (the shipped
 * deploy/mosquitto/ config and ACL files, with test paths and free ports), credentials written by
 * the real `fleet-controller mqtt-credentials`, the real `fleet-controller serve --mqtt-url`, a
 * robot provisioned by the real `edge-agent provision` and running the real `edge-agent serve`,
 * operators on the real fleetctl, and raw mqtt.js clients holding device certificates for the
 * ACL checks.
 *
 * "Not delivered" is never waited out with a sleep: every check orders a forged message before a
 * genuine one on a path Mosquitto and the controller keep in order (one publisher, one
 * subscriber; the controller's uplink handles messages one at a time), or reads a retained topic
 * after the forged publish was acknowledged.
 *
 * The tests run in order and share the broker, controller and robots. With FK_E2E_LOGS=DIR the
 * logs of Mosquitto, the controller and the agent are written there at the end.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { credentials } from '@grpc/grpc-js';
import {
  AckKind,
  AckOutcome,
  AckSchema,
  AgentService,
  CommandAction,
  CommandSchema,
  KeyBundleSchema,
  KeyState,
  MAX_KEY_BUNDLE_BYTES,
  MAX_SIGNED_COMMAND_BYTES,
  ProvisioningService,
  SignedCommandSchema,
  closeClient,
  createClient,
  decodeMessage,
  deviceAcksTopic,
  deviceCommandsTopic,
  deviceKeysTopic,
  emergencyTopic,
} from '@fleetkey/protocol';
import { settle } from '@fleetkey/fleet-harness';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceIdentity } from '../provisioning/testing.js';
import { CONTROLLER_BIN, FLEETCTL_BIN } from './testing.js';

const run = promisify(execFile);
const MOSQUITTO = '/usr/sbin/mosquitto';
const DEPLOY_DIR = new URL('../../../../deploy/mosquitto/', import.meta.url).pathname;
const AGENT_BIN = new URL('../../../edge-agent/bin/edge-agent.mjs', import.meta.url).pathname;
const FLEET = 'acme';

interface RawRobot {
  readonly deviceId: string;
  readonly keyPem: string;
  readonly certificatePem: string;
  readonly bundleSequence: bigint;
}

let parent: string;
let brokerDir: string;
let dataDir: string;
let caPem: string;
let adminToken: string;
let devicePort: number;
let controllerPort: number;
let mosquitto: ChildProcess | undefined;
let mosquittoLog = '';
let controller: ChildProcess | undefined;
let controllerLog = '';
let ready: { grpc: string; mqtt: string; http: string };
let agent: ChildProcess | undefined;
let agentLog = '';
let agentSocket: string;
let robotX: RawRobot;
let robotY: RawRobot;
let impostor: RawRobot;
const mqttClients: MqttClient[] = [];
/** One connection per raw robot: the robots' listener forces the client id to the device id, so a second one would take the first over. */
const robotConnections = new Map<string, MqttClient>();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The first stdout line of a child (its ready line), or an error with its log when it exits first. */
async function firstLine(child: ChildProcess, what: string, log: () => string): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => [undefined])])) as [string | undefined];
  if (line === undefined) throw new Error(`${what} exited before it was ready:\n${log().slice(-3000)}`);
  return line;
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/** The shipped mosquitto.conf with the test's paths and ports; everything else is kept as shipped. */
function testConfig(template: string): string {
  const replaced = template
    .replaceAll('/etc/mosquitto/fleetkey/', `${brokerDir}/`)
    .replace(/^persistence_location .*$/m, `persistence_location ${brokerDir}/`)
    .replace(/^listener 8883$/m, `listener ${devicePort} 127.0.0.1`)
    .replace(/^listener 8884$/m, `listener ${controllerPort} 127.0.0.1`);
  for (const expected of [`listener ${devicePort} 127.0.0.1`, `listener ${controllerPort} 127.0.0.1`, `acl_file ${brokerDir}/devices.acl`, `acl_file ${brokerDir}/controller.acl`]) {
    if (!replaced.includes(expected)) throw new Error(`the shipped mosquitto.conf changed shape: no "${expected}" after templating`);
  }
  // As root Mosquitto would switch to the `mosquitto` user, who cannot read the test's 0700 directory.
  return process.getuid?.() === 0 ? `user root\n${replaced}` : replaced;
}

/** Starts Mosquitto on two free ports; another process may take a port between the probe and the bind, so it retries. */
async function startMosquitto(): Promise<void> {
  const template = await readFile(join(DEPLOY_DIR, 'mosquitto.conf'), 'utf8');
  for (let attempt = 1; ; attempt++) {
    devicePort = await freePort();
    do controllerPort = await freePort();
    while (controllerPort === devicePort);
    const confPath = join(brokerDir, 'mosquitto.conf');
    await writeFile(confPath, testConfig(template), { mode: 0o600 });
    mosquittoLog = '';
    const child = spawn(MOSQUITTO, ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (chunk: Buffer) => void (mosquittoLog += chunk.toString('utf8')));
    const lines = createInterface({ input: child.stderr });
    const running = await new Promise<boolean>((resolve) => {
      lines.on('line', (line) => {
        if (/mosquitto version \S+ running/.test(line)) resolve(true);
      });
      child.once('exit', () => resolve(false));
    });
    if (running) {
      mosquitto = child;
      return;
    }
    if (!/Address already in use/i.test(mosquittoLog) || attempt >= 5) throw new Error(`mosquitto did not start:\n${mosquittoLog}`);
  }
}

async function fleetctl(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [FLEETCTL_BIN, '--controller', ready.grpc, '--ca-file', join(dataDir, 'ca.pem'), ...args], {
    env: { ...process.env, FLEETKEY_TOKEN: adminToken, FLEETKEY_CONFIG: join(parent, 'no-config.json') },
  });
  return stdout;
}

async function mintTokens(count: number): Promise<string[]> {
  const minted = JSON.parse(await fleetctl('tokens', 'create', '--fleet', FLEET, '--ttl', '1h', '--count', String(count), '-o', 'json')) as { tokens: { token: string }[] };
  return minted.tokens.map((entry) => entry.token);
}

/** A robot enrolled straight through ProvisioningService, so the test holds its key for raw MQTT. */
async function enrollRaw(deviceId: string, token: string): Promise<RawRobot> {
  const identity = await deviceIdentity('ECDSA_P256', deviceId);
  const station = createClient(ProvisioningService, ready.grpc, credentials.createSsl(Buffer.from(caPem)));
  try {
    const response = await station.enroll({ enrollmentToken: token, csr: identity.csr, deviceId });
    expect(response.brokerAddress).toBe(`mqtts://127.0.0.1:${devicePort}`);
    return {
      deviceId,
      keyPem: identity.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      certificatePem: new X509Certificate(response.certificate).toString(),
      bundleSequence: response.keyBundle?.sequence ?? 0n,
    };
  } finally {
    closeClient(station);
  }
}

async function robotClient(robot: RawRobot): Promise<MqttClient> {
  const existing = robotConnections.get(robot.deviceId);
  if (existing?.connected === true) return existing;
  const client = await mqttAs(robot, devicePort, robot.deviceId);
  robotConnections.set(robot.deviceId, client);
  return client;
}

async function mqttAs(identity: { keyPem: string; certificatePem: string }, port: number, clientId: string): Promise<MqttClient> {
  const client = await connectAsync({
    protocol: 'mqtts',
    host: '127.0.0.1',
    port,
    ca: caPem,
    key: identity.keyPem,
    cert: identity.certificatePem,
    clientId,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
  mqttClients.push(client);
  return client;
}

/** Resolves with the first message on `topic` that `accept` takes (retained or live, as the caller says). */
function nextMessage(client: MqttClient, topic: string, accept: (payload: Buffer, retained: boolean) => boolean = () => true): Promise<Buffer> {
  return new Promise((resolve) => {
    const onMessage = (received: string, payload: Buffer, packet: { retain: boolean }): void => {
      if (received === topic && accept(payload, packet.retain)) {
        client.off('message', onMessage);
        resolve(payload);
      }
    };
    client.on('message', onMessage);
  });
}

function robotApp() {
  return createClient(AgentService, `unix://${agentSocket}`, credentials.createInsecure());
}

/** Polls `check` until it returns a value (state that settles in another process). */
function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  return settle(what, check, { timeoutMs });
}

function ack(deviceId: string, sequence: bigint, kind = AckKind.COMMAND) {
  return Buffer.from(toBinary(AckSchema, create(AckSchema, { fleet: FLEET, deviceId, kind, sequence, outcome: AckOutcome.APPLIED, ackedAt: timestampFromMs(Date.now()) })));
}

/**
 * What an agent does with a new key bundle, done by hand for a raw robot: acknowledge it on its own
 * `up/acks` topic, so the rotation counts it (and the ack crosses Mosquitto to the controller).
 * Resolves with the first bundle newer than the one it enrolled with.
 */
async function ackBundles(robot: RawRobot): Promise<{ newer: Promise<bigint> }> {
  const client = await robotClient(robot);
  const topic = deviceKeysTopic(FLEET, robot.deviceId);
  const newer = new Promise<bigint>((resolve) => {
    client.on('message', (received, payload) => {
      if (received !== topic) return;
      const bundle = decodeMessage(KeyBundleSchema, payload, { maxBytes: MAX_KEY_BUNDLE_BYTES });
      if (bundle.deviceId !== robot.deviceId) return;
      client.publishAsync(deviceAcksTopic(FLEET, robot.deviceId), ack(robot.deviceId, bundle.sequence, AckKind.KEY_BUNDLE), { qos: 1 }).catch(() => undefined);
      if (bundle.sequence > robot.bundleSequence) resolve(bundle.sequence);
    });
  });
  await client.subscribeAsync(topic, { qos: 1 });
  // Wrapped: an async function would flatten a returned promise into its own.
  return { newer };
}

interface LockdownStatus {
  lockdowns: { commandSequence: number | string; confirmed: string[]; notConfirmed: string[] }[];
}

const forged = Buffer.from('forged by a robot');

describe.skipIf(!existsSync(MOSQUITTO))('the controller on an external Mosquitto (deploy/mosquitto/)', () => {
  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'fk-external-broker-'));
    brokerDir = join(parent, 'broker');
    dataDir = join(parent, 'controller');
    await mkdir(brokerDir, { mode: 0o700 });
    const init = await run(process.execPath, [CONTROLLER_BIN, 'init', '--data-dir', dataDir, '--fleet', FLEET, '-o', 'json']);
    adminToken = (JSON.parse(init.stdout) as { adminToken: string }).adminToken;
    caPem = await readFile(join(dataDir, 'ca.pem'), 'utf8');
    const credentialsOut = await run(process.execPath, [CONTROLLER_BIN, 'mqtt-credentials', '--data-dir', dataDir, '--out-dir', brokerDir, '--tls-name', '127.0.0.1', '-o', 'json']);
    expect(JSON.parse(credentialsOut.stdout)).toMatchObject({ fleets: [FLEET] });
    for (const acl of ['devices.acl', 'controller.acl']) await copyFile(join(DEPLOY_DIR, acl), join(brokerDir, acl));
    await startMosquitto();

    controller = spawn(
      process.execPath,
      [CONTROLLER_BIN, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--mqtt-url', `mqtts://127.0.0.1:${controllerPort}`, '--advertise-mqtt', `127.0.0.1:${devicePort}`, '--log-level', 'debug'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    controller.stderr!.on('data', (chunk: Buffer) => void (controllerLog = (controllerLog + chunk.toString('utf8')).slice(-400_000)));
    ready = JSON.parse(await firstLine(controller, 'the controller', () => controllerLog)) as typeof ready;

    const [agentToken, xToken, yToken, impostorToken] = await mintTokens(4);
    const tokenFile = join(parent, 'token-robot-a');
    await writeFile(tokenFile, `${agentToken}\n`, { mode: 0o600 });
    const agentDir = join(parent, 'robot-a');
    await run(process.execPath, [AGENT_BIN, 'provision', '--controller', ready.grpc, '--ca-file', join(dataDir, 'ca.pem'), '--token-file', tokenFile, '--device-id', 'robot-a', '--data-dir', agentDir, '-o', 'json']);
    agentSocket = join(parent, 'robot-a.sock');
    agent = spawn(process.execPath, [AGENT_BIN, 'serve', '--data-dir', agentDir, '--socket', agentSocket, '--peer-listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    agent.stderr!.on('data', (chunk: Buffer) => void (agentLog = (agentLog + chunk.toString('utf8')).slice(-400_000)));
    await firstLine(agent, 'the agent', () => agentLog);

    robotX = await enrollRaw('robot-x', xToken!);
    robotY = await enrollRaw('robot-y', yToken!);
    // A robot whose device id is the controller's CN: it must get a robot's rights, nothing more.
    impostor = await enrollRaw('fleet-controller', impostorToken!);
  }, 60_000);

  afterAll(async () => {
    for (const client of mqttClients) await client.endAsync(true).catch(() => undefined);
    await stop(agent);
    await stop(controller);
    await stop(mosquitto);
    if (process.env['FK_E2E_LOGS'] !== undefined) {
      for (const [name, text] of [['controller', controllerLog], ['mosquitto', mosquittoLog], ['agent', agentLog]] as const) await writeFile(join(process.env['FK_E2E_LOGS'], `${name}.log`), text);
    }
    if (parent !== undefined) await rm(parent, { recursive: true, force: true });
  });

  it('connects the controller with the certificate it issued itself and tells robots the external broker', async () => {
    expect(ready.mqtt).toBe(`127.0.0.1:${controllerPort}`);
    expect(mosquittoLog).toMatch(new RegExp(`on port ${controllerPort}[\\s\\S]*New client connected from 127\\.0\\.0\\.1:\\d+ as fleetkey:controller \\(.*u'fleet-controller'\\)`));
    const readiness = (await (await fetch(`http://${ready.http}/readyz`)).json()) as { ready: boolean; checks: Record<string, boolean> };
    expect(readiness).toMatchObject({ ready: true, checks: { broker: true } });
    await eventually(async () => (/"msg":"connected to the broker"[^\n]*"broker":"127\.0\.0\.1:\d+"|"broker":"127\.0\.0\.1:\d+"[^\n]*"msg":"connected to the broker"/.test(agentLog) ? true : undefined), 'the agent on the broker');
    expect(agentLog).toContain(`"broker":"127.0.0.1:${devicePort}"`);
    expect(mosquittoLog).toMatch(/New client connected from 127\.0\.0\.1:\d+ as robot-a \(.*u'robot-a'\)/);
    // The client certificate is audited; its key was never written to disk.
    const audit = JSON.parse(await fleetctl('audit', 'list', '-o', 'json')) as { records: { action: string; details: Record<string, unknown> }[] };
    expect(audit.records.filter((record) => record.action === 'key.sign').map((record) => record.details['purpose'])).toEqual(expect.arrayContaining(['mqtt-broker-certificate', 'mqtt-client-certificate']));
    expect(controllerLog).not.toMatch(/PRIVATE KEY/);
  });

  it('refuses a robot certificate and the broker\'s own server certificate on the controller listener', async () => {
    await expect(mqttAs(robotX, controllerPort, 'robot-x')).rejects.toThrow();
    await expect(mqttAs(impostor, controllerPort, 'fleet-controller')).rejects.toThrow();
    const server = { keyPem: await readFile(join(brokerDir, 'broker-key.pem'), 'utf8'), certificatePem: await readFile(join(brokerDir, 'broker.pem'), 'utf8') };
    await expect(mqttAs(server, controllerPort, 'fleet-controller')).rejects.toThrow();
  });

  it('rotates through Mosquitto: epoch 2 reaches the agent, and a raw robot gets its new bundle on its keys topic', async () => {
    const newBundles = await Promise.all([robotX, robotY, impostor].map((robot) => ackBundles(robot)));
    // --wait returns once epoch 2 is active, which takes every robot's acknowledgement of its new bundle.
    const rotated = JSON.parse(await fleetctl('rotate', '--fleet', FLEET, '--reason', 'external broker e2e', '--wait', '--poll-interval', '1', '-o', 'json')) as { outcome: string; newEpoch: { version: number }; acknowledged: number; devices: number };
    expect(rotated).toMatchObject({ outcome: 'active', newEpoch: { version: 2 }, devices: 4 });
    for (const [index, robot] of [robotX, robotY, impostor].entries()) expect(await newBundles[index]!.newer).toBeGreaterThan(robot.bundleSequence);
    const app = robotApp();
    try {
      await eventually(async () => {
        const status = await app.getStatus({});
        return status.epochs.some((epoch) => epoch.key?.version === 2 && epoch.state === KeyState.ACTIVE) ? status : undefined;
      }, 'epoch 2 active on robot-a');
    } finally {
      closeClient(app);
    }
  }, 40_000);

  it('ACL: a robot gets nothing from another robot\'s keys topic', async () => {
    const x = await robotClient(robotX);
    const seen: string[] = [];
    const record = (topic: string): void => void seen.push(topic);
    x.on('message', record);
    const own = nextMessage(x, deviceKeysTopic(FLEET, 'robot-x'));
    // One SUBSCRIBE: Mosquitto sends the retained messages filter by filter, so robot-a's would come first.
    await x.subscribeAsync({ [deviceKeysTopic(FLEET, 'robot-a')]: { qos: 1 }, [deviceKeysTopic(FLEET, 'robot-x')]: { qos: 1 } });
    await own;
    x.off('message', record);
    expect(seen).toEqual([deviceKeysTopic(FLEET, 'robot-x')]);
  });

  it('ACL: forged publishes to the emergency topic and to other robots\' topics are not delivered; the lockdown is', async () => {
    const y = await robotClient(robotY);
    const emergency: { payload: Buffer; retained: boolean }[] = [];
    y.on('message', (topic, payload, packet) => {
      if (topic === emergencyTopic(FLEET)) emergency.push({ payload, retained: packet.retain });
    });
    await y.subscribeAsync(emergencyTopic(FLEET), { qos: 1 });
    const x = await robotClient(robotX);
    const fc = await robotClient(impostor);
    // PUBACKs come back although Mosquitto drops the messages (MQTT 3.1.1 has no negative PUBACK).
    await x.publishAsync(emergencyTopic(FLEET), forged, { qos: 1 });
    await x.publishAsync(deviceKeysTopic(FLEET, 'robot-y'), forged, { qos: 1, retain: true });
    await fc.publishAsync(emergencyTopic(FLEET), forged, { qos: 1, retain: true });
    await fc.publishAsync(deviceKeysTopic(FLEET, 'robot-y'), forged, { qos: 1, retain: true });
    await fc.publishAsync(deviceCommandsTopic(FLEET, 'robot-a'), forged, { qos: 1, retain: true });

    // The retained key bundle of robot-y is still the controller's.
    const keys = nextMessage(y, deviceKeysTopic(FLEET, 'robot-y'));
    await y.subscribeAsync(deviceKeysTopic(FLEET, 'robot-y'), { qos: 1 });
    expect(decodeMessage(KeyBundleSchema, await keys, { maxBytes: MAX_KEY_BUNDLE_BYTES })).toMatchObject({ deviceId: 'robot-y' });

    await fleetctl('lockdown', '--fleet', FLEET, '--reason', 'external broker drill');
    await eventually(async () => (emergency.some((message) => !message.retained) ? true : undefined), 'the lockdown on the emergency topic');
    // The first live message robot-y got is the controller's signed LOCKDOWN, and no forged bytes came at all.
    const first = emergency.find((message) => !message.retained)!;
    const signed = decodeMessage(SignedCommandSchema, first.payload, { maxBytes: MAX_SIGNED_COMMAND_BYTES });
    expect(decodeMessage(CommandSchema, signed.payload, { maxBytes: MAX_SIGNED_COMMAND_BYTES }).action).toBe(CommandAction.LOCKDOWN);
    expect(emergency.some((message) => message.payload.equals(forged))).toBe(false);

    const app = robotApp();
    try {
      await eventually(async () => ((await app.getStatus({})).locked ? true : undefined), 'robot-a locked');
    } finally {
      closeClient(app);
    }
  }, 40_000);

  it('ACL: acks arrive over MQTT and confirm the lockdown; a forged ack for another robot is dropped', async () => {
    const status = async (): Promise<LockdownStatus> => JSON.parse(await fleetctl('lockdown', 'status', '--fleet', FLEET, '-o', 'json')) as LockdownStatus;
    const sequence = BigInt((await status()).lockdowns[0]!.commandSequence);
    const x = await robotClient(robotX);
    // Forged first, genuine second, on one connection: by the time robot-x's own ack is applied,
    // the forged one would have been too (Mosquitto and the uplink keep the order).
    await x.publishAsync(deviceAcksTopic(FLEET, 'robot-y'), ack('robot-y', sequence), { qos: 1 });
    await x.publishAsync(deviceAcksTopic(FLEET, 'robot-x'), ack('robot-x', sequence), { qos: 1 });
    const confirmed = await eventually(async () => {
      const lockdown = (await status()).lockdowns[0]!;
      return lockdown.confirmed.includes('robot-x') && lockdown.confirmed.includes('robot-a') ? lockdown : undefined;
    }, 'robot-x and robot-a confirming the lockdown');
    expect(confirmed.notConfirmed).toEqual(expect.arrayContaining(['robot-y', 'fleet-controller']));
    expect(confirmed.confirmed).not.toContain('robot-y');
    const audit = JSON.parse(await fleetctl('audit', 'list', '--fleet', FLEET, '-o', 'json')) as { records: { action: string; actor: string; details: Record<string, unknown> }[] };
    expect(audit.records.find((record) => record.action === 'command.ack' && record.actor === 'device:robot-x')?.details).toMatchObject({ transport: 'mqtt', outcome: 'applied' });
    // robot-y itself acknowledged only key bundles (ackBundles); no command ack was ever recorded for it.
    expect(audit.records.filter((record) => record.action === 'command.ack' && record.actor === 'device:robot-y')).toEqual([]);
  }, 40_000);

  it('serve refuses a bad --mqtt-url, one without --advertise-mqtt, and one with --mqtt-listen, before binding anything', async () => {
    const serve = (...extra: string[]) =>
      run(process.execPath, [CONTROLLER_BIN, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', ...extra]).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
      );
    const url = `mqtts://127.0.0.1:${controllerPort}`;
    const [plain, withPassword, unadvertised, both] = await Promise.all([
      serve('--mqtt-url', `mqtt://127.0.0.1:${controllerPort}`, '--advertise-mqtt', `127.0.0.1:${devicePort}`),
      serve('--mqtt-url', `mqtts://controller:hunter2@127.0.0.1:${controllerPort}`, '--advertise-mqtt', `127.0.0.1:${devicePort}`),
      serve('--mqtt-url', url),
      serve('--mqtt-url', url, '--advertise-mqtt', `127.0.0.1:${devicePort}`, '--mqtt-listen', '127.0.0.1:0'),
    ]);
    expect(plain).toMatchObject({ code: 1, stderr: expect.stringContaining('mqtts://') });
    expect(withPassword.code).toBe(1);
    expect(withPassword.stderr).not.toContain('hunter2');
    expect(unadvertised).toMatchObject({ code: 1, stderr: expect.stringContaining('--advertise-mqtt') });
    expect(both).toMatchObject({ code: 1, stderr: expect.stringContaining('exclude each other') });
  });

  it('keeps the controller\'s session: a robot named fleet-controller never took it over', () => {
    // Every robot above, the impostor included, was connected while the controller published and received.
    expect(mosquittoLog).not.toMatch(/already connected, closing old connection/);
    expect(controllerLog).not.toContain('lost the connection to the MQTT broker');
  });

  it('stops cleanly: SIGTERM closes the broker connection and the controller exits 0', async () => {
    const exited = once(controller!, 'exit');
    controller!.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    await eventually(async () => (/Client fleetkey:controller (closed its connection|disconnected)/.test(mosquittoLog) ? true : undefined), 'mosquitto seeing the controller leave');
  });
});
