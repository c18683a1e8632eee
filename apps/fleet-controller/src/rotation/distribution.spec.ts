/**
 * Bundle distribution over the real embedded broker (TLS with device certificates from the fleet
 * CA in the KMS, the controller's own device authentication and ACLs) to real `mqtt` clients: a
 * robot receives its retained bundle — also when it connects after the rotation — verifies the
 * manifest with the pinned emergency key and unwraps the new epoch with its own private key;
 * FleetEvents carries the same bundles; a revoked robot's retained bundle is cleared.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { KeyBundleSchema, deviceKeysTopic, type KeyBundle } from '@fleetkey/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EmbeddedBroker } from '../runtime/mqtt-broker.js';
import { advanceSeries } from './advance.js';
import { BundleDistributor, registerDistributor } from './bundles.js';
import { rotateNow } from './rotate.js';
import { enrollDevices, openBundle, pinnedEmergencyKey, startRotationHarness, type RotationHarness, type TestDevice } from './testing.js';

let h: RotationHarness;
let broker: EmbeddedBroker;
let caPem: string;
let distributor: BundleDistributor;
let unregister: () => void;
const clients: MqttClient[] = [];

beforeEach(async () => {
  h = await startRotationHarness();
  ({ broker, caPem } = await h.startBroker());
  distributor = new BundleDistributor({ core: h.core, publisher: broker, events: h.events, logger: h.logger });
  unregister = registerDistributor(h.core, distributor);
});
afterEach(async () => {
  for (const client of clients.splice(0)) await client.endAsync(true);
  unregister();
  await distributor.stop();
  await h.close();
});

async function connect(device: TestDevice): Promise<MqttClient> {
  const [host, port] = broker.address.split(':');
  const client = await mqtt.connectAsync({ protocol: 'mqtts', host, port: Number(port), ca: caPem, key: device.privateKeyPem, cert: device.certificatePem, clientId: device.deviceId, reconnectPeriod: 0, connectTimeout: 5000 });
  clients.push(client);
  return client;
}

/** Subscribes to the device's keys topic and resolves with the first bundle whose sequence is at least `sequence`. */
async function bundleAtLeast(client: MqttClient, device: TestDevice, sequence: number): Promise<KeyBundle> {
  const topic = deviceKeysTopic(h.fleet, device.deviceId);
  const received = new Promise<KeyBundle>((resolve) => {
    client.on('message', (from, payload) => {
      if (from !== topic || payload.length === 0) return;
      const bundle = fromBinary(KeyBundleSchema, payload);
      if (bundle.sequence >= BigInt(sequence)) resolve(bundle);
    });
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return received;
}

describe('bundle distribution', () => {
  it('a connected robot receives its retained bundle at QoS 1 and can open the new pending epoch with its own key', async () => {
    const [robot] = await enrollDevices(h.core, h.fleet, 3);
    const client = await connect(robot!);
    const arriving = bundleAtLeast(client, robot!, 2);
    const started = await rotateNow(h.core, { fleetId: h.fleet, actor: 'op-1', reason: 'drill' });
    expect(await started.distribution).toEqual({ published: 3, failed: 0, complete: true });
    const bundle = await arriving;
    expect(bundle.deviceId).toBe(robot!.deviceId);
    const opened = await openBundle(bundle, robot!.deviceId, robot!.privateKey, await pinnedEmergencyKey(h.core, h.fleet));
    expect(opened.map((e) => `${e.version}:${e.state}`)).toEqual(['1:active', '2:pending']);
    // The key the robot unwrapped is the epoch key the controller holds (KMS-wrapped in the store).
    const stored = (await h.repository.getEpoch(h.fleet, null, 2))!;
    expect(Buffer.from(opened[1]!.key).equals(Buffer.from(await h.core.epochKey(stored)))).toBe(true);
  });

  it('a robot that connects after the rotation still gets the bundle (retained), and FleetEvents carried one bundle per device', async () => {
    const devices = await enrollDevices(h.core, h.fleet, 4);
    const emitted: string[] = [];
    const off = h.events.on('bundle', (fleetId, deviceId, bundle) => emitted.push(`${fleetId}/${deviceId}/${bundle.sequence}`));
    try {
      await (await rotateNow(h.core, { fleetId: h.fleet, actor: 'op-1', reason: '' })).distribution;
    } finally {
      off();
    }
    expect(emitted.sort()).toEqual(devices.map((d) => `acme/${d.deviceId}/2`).sort());
    const late = devices[3]!;
    const bundle = await bundleAtLeast(await connect(late), late, 2);
    const opened = await openBundle(bundle, late.deviceId, late.privateKey, await pinnedEmergencyKey(h.core, h.fleet));
    expect(opened.map((e) => e.version)).toEqual([1, 2]);
  });

  it('a revocation rotation publishes to every remaining robot, clears the revoked robot’s retained bundle, and the broker refuses the revoked robot', async () => {
    const [kept, revoked] = await enrollDevices(h.core, h.fleet, 2);
    await (await rotateNow(h.core, { fleetId: h.fleet, actor: 'op-1', reason: '' })).distribution;
    await h.repository.revokeDevice(h.fleet, revoked!.deviceId, 'stolen');
    const started = await rotateNow(h.core, { fleetId: h.fleet, actor: 'op-1', reason: 'stolen robot', excludeDeviceIds: [revoked!.deviceId] });
    expect(await started.distribution).toEqual({ published: 1, failed: 0, complete: true });

    const keptBundle = await bundleAtLeast(await connect(kept!), kept!, 3);
    const opened = await openBundle(keptBundle, kept!.deviceId, kept!.privateKey, await pinnedEmergencyKey(h.core, h.fleet));
    expect(opened.map((e) => `${e.version}:${e.state}`)).toEqual(['1:active', '3:pending']);

    await expect(connect(revoked!)).rejects.toThrow();
  });

  it('clearing a retained bundle leaves nothing for a later subscriber: the first bundle it sees is the next one', async () => {
    const [robot] = await enrollDevices(h.core, h.fleet, 1);
    await distributor.distribute(h.fleet, { kind: 'fleet' });
    await distributor.clearRetained(h.fleet, [robot!.deviceId]);
    const client = await connect(robot!);
    const first = new Promise<KeyBundle>((resolve) => client.on('message', (_topic, payload) => resolve(fromBinary(KeyBundleSchema, payload))));
    await client.subscribeAsync(deviceKeysTopic(h.fleet, robot!.deviceId), { qos: 1 });
    await (await rotateNow(h.core, { fleetId: h.fleet, actor: 'op-1', reason: '' })).distribution;
    // Messages on one topic arrive in order: a retained sequence-1 bundle would have come first.
    expect((await first).sequence).toBe(2n);
  });

  it('when distributions overlap, the last bundle every robot holds is the newest', async () => {
    const devices = await enrollDevices(h.core, h.fleet, 150);
    const first = await rotateNow(h.core, { fleetId: h.fleet, actor: 'op-1', reason: '' });
    // Activation while the first distribution is still publishing (no acks: the deadline).
    h.clock.advance(3_600_000);
    await advanceSeries(h.core, h.fleet, null);
    const second = distributor.distribute(h.fleet, { kind: 'fleet' });
    const [a, b] = await Promise.all([first.distribution, second]);
    expect(a.complete && b.complete).toBe(true);
    const last = devices.at(-1)!;
    const bundle = await bundleAtLeast(await connect(last), last, 3);
    const opened = await openBundle(bundle, last.deviceId, last.privateKey, await pinnedEmergencyKey(h.core, h.fleet));
    expect(opened.map((e) => `${e.version}:${e.state}`)).toEqual(['1:retiring', '2:active']);
  });
});
