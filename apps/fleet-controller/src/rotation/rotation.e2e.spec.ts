/**
 * Crash safety with REAL process kills, through the real binaries: `fleet-controller serve` on a
 * data directory made by `init`, a fleet of a few hundred robots enrolled straight into its store
 * (real keys, real certificates from the fleet CA in the KMS), a rotation started with `fleetctl
 * rotate`, and `kill -9` at two points — right after the rpc answered, and while the bundles are
 * being published. After a restart on the same data directory: exactly one epoch N+1 exists,
 * every robot gets a bundle with a usable new key through DeviceService.GetKeyBundle over mutual
 * TLS (and retained over MQTT), and the rotation finishes (the fleet reports N+1 active).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { fromBinary } from '@bufbuild/protobuf';
import { DeviceService, KeyBundleSchema, closeClient, createClient, deviceKeysTopic, type KeyBundle } from '@fleetkey/protocol';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { FLEETCTL_BIN, initDataDir, run, startServe, type ServeProcess } from '../serve/testing.js';
import { saveRotationPolicy, saveSchedulerTick, DEFAULT_ROTATION_POLICY } from './policy.js';
import { ackCurrentBundles, enrollDevices, openBundle, openDataDir, pinnedEmergencyKey, type TestDevice } from './testing.js';

const FLEET = 'acme';
const POLL_MS = 250;
const MAX_POLLS = 240;
/** Two controller starts, a few hundred TLS handshakes: generous on a busy 2-core machine (never asserted on). */
const PROCESS_TEST_TIMEOUT_MS = 120_000;

interface Controller {
  readonly parent: string;
  readonly dataDir: string;
  readonly adminToken: string;
  readonly caFile: string;
  readonly devices: TestDevice[];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function prepare(deviceCount: number, settings: { tickIntervalMs?: number; deadlineMs?: number } = {}): Promise<Controller> {
  const parent = await mkdtemp(join(tmpdir(), 'fk-rotation-e2e-'));
  cleanups.push(() => rm(parent, { recursive: true, force: true }));
  const dataDir = join(parent, 'controller');
  const { adminToken, caFile } = await initDataDir(dataDir, FLEET);
  const opened = await openDataDir(dataDir, Date.now);
  try {
    const devices = await enrollDevices(opened.core, FLEET, deviceCount);
    if (settings.tickIntervalMs !== undefined) await saveSchedulerTick(opened.repository, settings.tickIntervalMs);
    if (settings.deadlineMs !== undefined) await saveRotationPolicy(opened.repository, FLEET, null, { ...DEFAULT_ROTATION_POLICY, deadlineMs: settings.deadlineMs });
    return { parent, dataDir, adminToken, caFile, devices };
  } finally {
    await opened.close();
  }
}

async function serve(controller: Controller): Promise<ServeProcess> {
  const serving = await startServe(controller.dataDir);
  cleanups.push(async () => {
    if (serving.child.exitCode === null && serving.child.signalCode === null) serving.child.kill('SIGKILL');
  });
  return serving;
}

async function killHard(serving: ServeProcess): Promise<void> {
  const exited = once(serving.child, 'exit');
  serving.child.kill('SIGKILL');
  const [code, signal] = (await exited) as [number | null, string | null];
  expect([code, signal]).toEqual([null, 'SIGKILL']);
}

function fleetctlArgs(controller: Controller, serving: ServeProcess, ...args: string[]): [string, string[], { env: NodeJS.ProcessEnv }] {
  return [
    process.execPath,
    [FLEETCTL_BIN, '--controller', serving.ready.grpc, '--ca-file', controller.caFile, ...args],
    { env: { ...process.env, FLEETKEY_TOKEN: controller.adminToken, FLEETKEY_CONFIG: join(controller.parent, 'no-config.json') } },
  ];
}

/** What the stopped controller's store says about version `version` of the fleet key. */
async function epochsOnDisk(controller: Controller, version: number): Promise<{ states: string[]; created: number }> {
  const opened = await openDataDir(controller.dataDir, Date.now);
  try {
    const epochs = await opened.repository.listEpochs(FLEET, { groupId: null });
    const records = await opened.repository.audit.listRecords(0, 1000);
    return {
      states: epochs.filter((epoch) => epoch.version === version).map((epoch) => epoch.state),
      created: records.filter((record) => record.action === 'epoch.create' && record.keyRef === `communication/${FLEET}/fleet@${version}`).length,
    };
  } finally {
    await opened.close();
  }
}

async function waitForActiveEpoch(controller: Controller, serving: ServeProcess, version: number): Promise<void> {
  for (let poll = 0; poll < MAX_POLLS; poll++) {
    const { stdout } = await run(...fleetctlArgs(controller, serving, 'fleets', 'list', '-o', 'json'));
    const fleets = (JSON.parse(stdout) as { fleets: { fleet: string; activeEpoch?: { version: number } }[] }).fleets;
    if (fleets.find((fleet) => fleet.fleet === FLEET)?.activeEpoch?.version === version) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`epoch ${version} never became active`);
}

/** GetKeyBundle over mutual TLS as each robot, opened as the robot would; returns the states of `version`. */
async function bundlesOverGrpc(controller: Controller, serving: ServeProcess, devices: readonly TestDevice[], version: number): Promise<string[]> {
  const ca = await readFile(controller.caFile);
  const opened = await openDataDir(controller.dataDir, Date.now);
  const emergency = await pinnedEmergencyKey(opened.core, FLEET).finally(() => opened.close());
  const states: string[] = [];
  for (const device of devices) {
    const client = createClient(DeviceService, serving.ready.grpc, credentials.createSsl(ca, Buffer.from(device.privateKeyPem), Buffer.from(device.certificatePem)));
    try {
      const { keyBundle } = await client.getKeyBundle({});
      const epochs = await openBundle(keyBundle!, device.deviceId, device.privateKey, emergency);
      states.push(epochs.find((epoch) => epoch.version === version)?.state ?? 'missing');
    } finally {
      closeClient(client);
    }
  }
  return states;
}

async function connectRobot(controller: Controller, serving: ServeProcess, device: TestDevice): Promise<MqttClient> {
  const [host, port] = serving.ready.mqtt.split(':');
  const client = await connectAsync({ protocol: 'mqtts', host, port: Number(port), ca: await readFile(controller.caFile), key: device.privateKeyPem, cert: device.certificatePem, clientId: device.deviceId, reconnectPeriod: 0, connectTimeout: 5000 });
  cleanups.push(() => client.endAsync(true));
  return client;
}

/** Resolves with the first bundle on the robot's keys topic that carries epoch `version`. */
async function bundleCarrying(client: MqttClient, device: TestDevice, version: number): Promise<KeyBundle> {
  const topic = deviceKeysTopic(FLEET, device.deviceId);
  const carrying = new Promise<KeyBundle>((resolve) => {
    client.on('message', (from, payload) => {
      if (from !== topic || payload.length === 0) return;
      const bundle = fromBinary(KeyBundleSchema, payload);
      if (bundle.epochs.some((epoch) => epoch.key?.version === version)) resolve(bundle);
    });
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return carrying;
}

describe('a controller killed with SIGKILL in the middle of a rotation', () => {
  it('right after RotateKeys answered: on restart exactly one epoch 2 exists, every robot gets it over gRPC, and it is activated', async () => {
    const controller = await prepare(200);
    const first = await serve(controller);
    const rotated = await run(...fleetctlArgs(controller, first, 'rotate', '--fleet', FLEET, '--reason', 'crash drill', '-o', 'json'));
    await killHard(first);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ newEpoch: { version: 2 }, state: 'pending' });

    expect(await epochsOnDisk(controller, 2)).toEqual({ states: ['pending'], created: 1 });
    // The robots acknowledge (as the ack ingestion records it) while the controller is down.
    const opened = await openDataDir(controller.dataDir, Date.now);
    await ackCurrentBundles(opened.repository, FLEET, controller.devices).finally(() => opened.close());

    const second = await serve(controller);
    await waitForActiveEpoch(controller, second, 2);
    const states = await bundlesOverGrpc(controller, second, controller.devices, 2);
    expect(states).toHaveLength(200);
    expect(new Set(states)).toEqual(new Set(['active']));
    expect(await second.stop()).toBe(0);
    expect(await epochsOnDisk(controller, 2)).toEqual({ states: ['active'], created: 1 });
  }, PROCESS_TEST_TIMEOUT_MS);

  it('while the bundles are being published: on restart the bundles are published again, exactly one epoch 2 exists, and it is activated at its deadline', async () => {
    const controller = await prepare(300, { tickIntervalMs: 500, deadlineMs: 2000 });
    const first = await serve(controller);
    const early = controller.devices[9]!;
    const watcher = await connectRobot(controller, first, early);
    const published = bundleCarrying(watcher, early, 2);
    // fleetctl follows the rotation and loses its controller mid-way.
    const [command, args, options] = fleetctlArgs(controller, first, 'rotate', '--fleet', FLEET, '--wait', '--poll-interval', '0.2');
    const follower = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const followerExit = once(follower, 'exit');
    await published;
    await killHard(first);
    const [followerCode] = (await followerExit) as [number | null];
    expect(followerCode).toBe(6);

    expect(await epochsOnDisk(controller, 2)).toEqual({ states: ['pending'], created: 1 });

    const second = await serve(controller);
    // The last robot's retained bundle (never published before the kill, or lost with the
    // broker's memory) is there again and carries epoch 2.
    const last = controller.devices.at(-1)!;
    const retained = await bundleCarrying(await connectRobot(controller, second, last), last, 2);
    const emergency = await (async () => {
      const opened = await openDataDir(controller.dataDir, Date.now);
      return pinnedEmergencyKey(opened.core, FLEET).finally(() => opened.close());
    })();
    expect((await openBundle(retained, last.deviceId, last.privateKey, emergency)).map((epoch) => epoch.version)).toContain(2);

    await waitForActiveEpoch(controller, second, 2);
    const sample = controller.devices.filter((_, index) => index % 30 === 0);
    expect(new Set(await bundlesOverGrpc(controller, second, sample, 2))).toEqual(new Set(['active']));
    expect(await second.stop()).toBe(0);
    expect(await epochsOnDisk(controller, 2)).toEqual({ states: ['active'], created: 1 });
  }, PROCESS_TEST_TIMEOUT_MS);
});
