/**
 * The embedded broker end to end: real TLS on 127.0.0.1:0, real `mqtt` clients, certificates made
 * by @fleetkey/crypto (two fleet CAs, a server certificate, device certificates), and an
 * authenticateDevice that validates against the trusted CAs and a revoked set, as the controller's
 * does.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  createCaCertificate,
  createLocalSigner,
  generateKeyPair,
  issueDeviceCertificate,
  issueServerCertificate,
  validateDeviceCertificate,
  type Signer,
} from '@fleetkey/crypto';
import {
  deviceAcksTopic,
  deviceCommandsTopic,
  deviceKeysTopic,
  deviceStatusTopic,
  emergencyTopic,
  fleetBroadcastTopic,
  fleetUpFilter,
  groupBroadcastTopic,
  revocationsTopic,
} from '@fleetkey/protocol';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseListenAddress } from './listen.js';
import { createLogger } from './logger.js';
import { startMqttBroker, type DeviceIdentity, type EmbeddedBroker, type MqttBrokerOptions } from './mqtt-broker.js';

interface FleetCa {
  readonly fleet: string;
  readonly pem: string;
  readonly signer: Signer;
}

interface DeviceCredentials {
  readonly fleet: string;
  readonly deviceId: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly serialNumber: string;
}

// TLS checks validity against the wall clock, so certificates are valid around the real now.
const notBefore = new Date(Date.now() - 3600_000);
const notAfter = new Date(Date.now() + 24 * 3600_000);

async function makeCa(fleet: string): Promise<FleetCa> {
  const key = await generateKeyPair('ECDSA_P256');
  const signer = createLocalSigner(key.privateKey);
  const certificate = await createCaCertificate({ signer, fleet, commonName: `${fleet} test CA`, notBefore, notAfter });
  return { fleet, pem: certificate.pem, signer };
}

async function makeDevice(ca: FleetCa, deviceId: string): Promise<DeviceCredentials> {
  const key = await generateKeyPair('ECDSA_P256');
  const certificate = await issueDeviceCertificate({ issuerSigner: ca.signer, issuerCertificate: ca.pem, publicKey: key.publicKey, fleet: ca.fleet, deviceId, notBefore, notAfter });
  return {
    fleet: ca.fleet,
    deviceId,
    certificatePem: certificate.pem,
    privateKeyPem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    serialNumber: certificate.serialNumber,
  };
}

/** [MQTT-3.9.3-2] the SUBACK return code 0x80: mqtt.js rejects with the SUBACK packet attached. */
const SUBACK_FAILURE = { packet: { cmd: 'suback', granted: [0x80] } };

type Attempt = { readonly connected: true; readonly client: MqttClient } | { readonly connected: false; readonly code?: unknown };

describe('startMqttBroker', () => {
  let caA: FleetCa;
  let caB: FleetCa;
  let serverCertificatePem: string;
  let serverKeyPem: string;
  let robotA1: DeviceCredentials;
  let robotA2: DeviceCredentials;
  let robotA3: DeviceCredentials;
  let robotA4: DeviceCredentials;
  let robotB1: DeviceCredentials;

  /** What the controller's authenticateDevice consults: the trusted CAs, the revoked serials, groups. */
  let trusted: string[];
  const revoked = new Set<string>();
  const groups = new Map<string, string>([['robot-4', 'line-1']]);
  let authenticateCalls = 0;
  const authenticateDevice = async (certificateDer: Uint8Array): Promise<DeviceIdentity | undefined> => {
    authenticateCalls += 1;
    try {
      const device = validateDeviceCertificate({ certificate: certificateDer, caCertificates: trusted, at: new Date(), isRevoked: (serial) => revoked.has(serial) });
      const group = groups.get(device.deviceId);
      return { fleet: device.fleet, deviceId: device.deviceId, ...(group === undefined ? {} : { group }) };
    } catch {
      return undefined;
    }
  };

  const logLines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } });
  let broker: EmbeddedBroker | undefined;
  const clientCounts: number[] = [];
  const clients: MqttClient[] = [];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    [caA, caB] = await Promise.all([makeCa('fleet-a'), makeCa('fleet-b')]);
    const serverKey = await generateKeyPair('ECDSA_P256');
    const server = await issueServerCertificate({
      issuerSigner: caA.signer,
      issuerCertificate: caA.pem,
      publicKey: serverKey.publicKey,
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      notBefore,
      notAfter,
    });
    serverCertificatePem = server.pem;
    serverKeyPem = serverKey.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    [robotA1, robotA2, robotA3, robotA4, robotB1] = await Promise.all([
      makeDevice(caA, 'robot-1'),
      makeDevice(caA, 'robot-2'),
      makeDevice(caA, 'robot-3'),
      makeDevice(caA, 'robot-4'),
      makeDevice(caB, 'robot-1'),
    ]);
  });

  async function start(overrides: Partial<MqttBrokerOptions> = {}): Promise<EmbeddedBroker> {
    trusted = [caA.pem];
    broker = await startMqttBroker({
      host: '127.0.0.1',
      port: 0,
      certificatePem: serverCertificatePem,
      privateKeyPem: serverKeyPem,
      caCertificatesPem: [caA.pem],
      authenticateDevice,
      logger,
      onClientCount: (count) => clientCounts.push(count),
      ...overrides,
    });
    return broker;
  }

  afterEach(async () => {
    for (const client of clients.splice(0)) client.end(true);
    for (const socket of sockets.splice(0)) socket.destroy();
    await broker?.close();
    broker = undefined;
    revoked.clear();
    clientCounts.length = 0;
    logLines.length = 0;
  });

  function attempt(device: DeviceCredentials | undefined, clientId: string, extra: IClientOptions = {}): Promise<Attempt> {
    const client = mqtt.connect(`mqtts://${broker!.address}`, {
      ca: caA.pem,
      ...(device === undefined ? {} : { cert: device.certificatePem, key: device.privateKeyPem }),
      clientId,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      ...extra,
    });
    clients.push(client);
    return new Promise((resolve) => {
      client.once('connect', () => resolve({ connected: true, client }));
      client.once('error', (error: Error & { code?: unknown }) => resolve({ connected: false, code: error.code }));
      client.once('close', () => resolve({ connected: false }));
    });
  }

  async function connect(device: DeviceCredentials, clientId = device.deviceId): Promise<MqttClient> {
    const result = await attempt(device, clientId);
    if (!result.connected) throw new Error(`expected ${device.fleet}/${device.deviceId} to connect, got code ${String(result.code)}`);
    return result.client;
  }

  const closed = (client: MqttClient): Promise<void> => new Promise((resolve) => (client.connected ? client.once('close', () => resolve()) : resolve()));
  const nextMessage = (client: MqttClient): Promise<{ topic: string; payload: string; retain: boolean }> =>
    new Promise((resolve) => client.once('message', (topic, payload, packet) => resolve({ topic, payload: payload.toString(), retain: packet.retain })));

  it('lets a device connect, subscribe to its allowed topics and publish to its own up/ topics', async () => {
    await start();
    const received: string[] = [];
    const gotBoth = new Promise<void>((resolve) => {
      void broker!.subscribe(fleetUpFilter('fleet-a'), (topic, payload) => {
        received.push(`${topic}=${payload.toString()}`);
        if (received.length === 2) resolve();
      });
    });
    const device = await connect(robotA1);
    expect(broker!.clientCount()).toBe(1);
    expect(clientCounts).toContain(1);
    const allowed = [
      fleetBroadcastTopic('fleet-a'),
      emergencyTopic('fleet-a'),
      revocationsTopic('fleet-a'),
      deviceKeysTopic('fleet-a', 'robot-1'),
      deviceCommandsTopic('fleet-a', 'robot-1'),
    ];
    for (const topic of allowed) {
      const [grant] = await device.subscribeAsync(topic, { qos: 1 });
      expect(grant).toMatchObject({ topic, qos: 1 });
    }
    await device.publishAsync(deviceStatusTopic('fleet-a', 'robot-1'), 'status-1', { qos: 0 });
    await device.publishAsync(deviceAcksTopic('fleet-a', 'robot-1'), 'ack-1', { qos: 1 });
    await gotBoth;
    expect(received.sort()).toEqual([`${deviceAcksTopic('fleet-a', 'robot-1')}=ack-1`, `${deviceStatusTopic('fleet-a', 'robot-1')}=status-1`]);
    const log = logLines.join('');
    expect(log).toContain('"msg":"mqtt device connected"');
    expect(log).toContain('"deviceId":"robot-1"');
    for (const secret of [robotA1.privateKeyPem, serverKeyPem]) expect(log).not.toContain(secret.split('\n')[1]);
    expect(log).not.toContain(robotA1.certificatePem.split('\n')[1]);
  });

  it('Precondition: a client without a certificate is refused at TLS', async () => {
    await start();
    const before = authenticateCalls;
    const result = await attempt(undefined, 'robot-1');
    expect(result.connected).toBe(false);
    expect(authenticateCalls).toBe(before);
    expect(broker!.clientCount()).toBe(0);
  });

  it('Precondition: a certificate from another fleet CA is refused at TLS', async () => {
    await start();
    const before = authenticateCalls;
    const result = await attempt(robotB1, 'robot-1');
    expect(result.connected).toBe(false);
    expect(authenticateCalls).toBe(before);
  });

  it('Precondition: a device authenticateDevice refuses (revoked) gets CONNACK 5', async () => {
    await start();
    revoked.add(robotA3.serialNumber);
    const before = authenticateCalls;
    const result = await attempt(robotA3, 'robot-3');
    expect(result).toEqual({ connected: false, code: 5 });
    expect(authenticateCalls).toBe(before + 1);
    expect(logLines.join('')).toContain('"reason":"unauthenticated"');
  });

  it('Precondition: an authenticateDevice that fails or never answers refuses the device with CONNACK 5', async () => {
    await start({
      authenticateDevice: async () => {
        throw new Error('lookup failed: db password=hunter2');
      },
    });
    expect(await attempt(robotA1, 'robot-1')).toEqual({ connected: false, code: 5 });
    expect(logLines.join('')).toContain('mqtt device authentication failed');
    expect(logLines.join('')).not.toContain('hunter2');
    await broker!.close();
    await start({ connectTimeoutMs: 200, authenticateDevice: () => new Promise<undefined>(() => {}) });
    expect(await attempt(robotA1, 'robot-1')).toEqual({ connected: false, code: 5 });
  });

  it('Precondition: a client id other than the certificate device id gets CONNACK 2', async () => {
    await start();
    expect(await attempt(robotA1, 'robot-2')).toEqual({ connected: false, code: 2 });
    expect(await attempt(robotA1, '')).toEqual({ connected: false, code: 2 });
    expect(broker!.clientCount()).toBe(0);
  });

  it('Precondition: every forbidden subscription is answered 0x80 and the connection stays up', async () => {
    await start();
    const device = await connect(robotA1);
    const forbidden = [
      deviceCommandsTopic('fleet-a', 'robot-2'),
      deviceKeysTopic('fleet-a', 'robot-2'),
      deviceStatusTopic('fleet-a', 'robot-1'),
      fleetBroadcastTopic('fleet-b'),
      emergencyTopic('fleet-b'),
      deviceCommandsTopic('fleet-b', 'robot-1'),
      groupBroadcastTopic('fleet-a', 'line-1'),
      '#',
      '+/+/+',
      'fleetkey/v1/+/broadcast',
      'fleetkey/v1/fleet-a/#',
      'fleetkey/v1/fleet-a/devices/+/commands',
      '$SYS/#',
      'something/else',
    ];
    for (const filter of forbidden) {
      await expect(device.subscribeAsync(filter), filter).rejects.toMatchObject(SUBACK_FAILURE);
    }
    expect(device.connected).toBe(true);
    await expect(device.subscribeAsync(deviceCommandsTopic('fleet-a', 'robot-1'))).resolves.toHaveLength(1);
  });

  it('opens the group broadcast topic to the devices of that group only', async () => {
    await start();
    const inGroup = await connect(robotA4);
    await expect(inGroup.subscribeAsync(groupBroadcastTopic('fleet-a', 'line-1'))).resolves.toHaveLength(1);
    await expect(inGroup.subscribeAsync(groupBroadcastTopic('fleet-a', 'line-2'))).rejects.toMatchObject(SUBACK_FAILURE);
  });

  it('Precondition: a forbidden publish never reaches a subscriber and closes the publisher', async () => {
    await start();
    const upReceived: string[] = [];
    await broker!.subscribe(fleetUpFilter('fleet-a'), (topic, payload) => upReceived.push(`${topic}=${payload.toString()}`));
    const victim = await connect(robotA2);
    await victim.subscribeAsync([deviceCommandsTopic('fleet-a', 'robot-2'), fleetBroadcastTopic('fleet-a')], { qos: 1 });
    const victimReceived: string[] = [];
    victim.on('message', (topic, payload) => victimReceived.push(`${topic}=${payload.toString()}`));

    const forbiddenPublishes: [string, boolean][] = [
      [deviceCommandsTopic('fleet-a', 'robot-2'), false],
      [fleetBroadcastTopic('fleet-a'), false],
      [deviceStatusTopic('fleet-a', 'robot-2'), false],
      [deviceStatusTopic('fleet-b', 'robot-1'), false],
      [deviceStatusTopic('fleet-a', 'robot-1'), true],
    ];
    for (const [topic, retain] of forbiddenPublishes) {
      const attacker = await connect(robotA1);
      const gone = closed(attacker);
      attacker.publish(topic, 'forged', { qos: 0, retain });
      await gone;
      expect(logLines.join('')).toContain('mqtt publish refused');
    }

    // Markers sent after the refusals: each subscriber's first and only message must be its marker.
    const victimGotBoth = new Promise<void>((resolve) => victim.on('message', () => victimReceived.length === 2 && resolve()));
    await broker!.publish(deviceCommandsTopic('fleet-a', 'robot-2'), Buffer.from('marker-commands'));
    await broker!.publish(fleetBroadcastTopic('fleet-a'), Buffer.from('marker-broadcast'));
    await victimGotBoth;
    expect(victimReceived.sort()).toEqual([`${fleetBroadcastTopic('fleet-a')}=marker-broadcast`, `${deviceCommandsTopic('fleet-a', 'robot-2')}=marker-commands`]);
    await victim.publishAsync(deviceStatusTopic('fleet-a', 'robot-2'), 'marker-status', { qos: 1 });
    await expect.poll(() => upReceived.length).toBe(1);
    expect(upReceived).toEqual([`${deviceStatusTopic('fleet-a', 'robot-2')}=marker-status`]);
  });

  it('admits broadcast publishes when allowBroadcastPublish is set', async () => {
    await start({ allowBroadcastPublish: true });
    const listener = await connect(robotA2);
    await listener.subscribeAsync(fleetBroadcastTopic('fleet-a'), { qos: 1 });
    const message = nextMessage(listener);
    const talker = await connect(robotA1);
    await talker.publishAsync(fleetBroadcastTopic('fleet-a'), 'sealed-hello', { qos: 1 });
    expect(await message).toMatchObject({ topic: fleetBroadcastTopic('fleet-a'), payload: 'sealed-hello' });
  });

  it("delivers the controller's publishes, and retained ones to later subscribers", async () => {
    await start();
    await broker!.publish(deviceKeysTopic('fleet-a', 'robot-1'), Buffer.from('key-bundle-v1'));
    const device = await connect(robotA1);
    const retained = nextMessage(device);
    await device.subscribeAsync(deviceKeysTopic('fleet-a', 'robot-1'), { qos: 1 });
    expect(await retained).toEqual({ topic: deviceKeysTopic('fleet-a', 'robot-1'), payload: 'key-bundle-v1', retain: true });
    await device.subscribeAsync(deviceCommandsTopic('fleet-a', 'robot-1'), { qos: 1 });
    const live = nextMessage(device);
    await broker!.publish(deviceCommandsTopic('fleet-a', 'robot-1'), Buffer.from('command-1'));
    expect(await live).toEqual({ topic: deviceCommandsTopic('fleet-a', 'robot-1'), payload: 'command-1', retain: false });
  });

  it('refuses controller publishes outside the topic scheme or over the topic bound', async () => {
    await start();
    await expect(broker!.publish('not/a/fleetkey/topic', Buffer.from('x'))).rejects.toMatchObject({ code: 'TOPIC_INVALID' });
    await expect(broker!.publish(deviceCommandsTopic('fleet-a', 'robot-1'), new Uint8Array(64 * 1024))).rejects.toThrow(RangeError);
  });

  it("setCaCertificates lets a new fleet's devices in without a restart", async () => {
    await start();
    expect((await attempt(robotB1, 'robot-1')).connected).toBe(false);
    broker!.setCaCertificates([`${caA.pem}\n${caB.pem}`]);
    trusted = [caA.pem, caB.pem];
    const device = await connect(robotB1);
    await expect(device.subscribeAsync(deviceCommandsTopic('fleet-b', 'robot-1'))).resolves.toHaveLength(1);
  });

  it('keeps the sessions of two fleets apart when their devices share an id', async () => {
    await start({ caCertificatesPem: [caA.pem, caB.pem] });
    trusted = [caA.pem, caB.pem];
    const inA = await connect(robotA1);
    const inB = await connect(robotB1);
    expect(broker!.clientCount()).toBe(2);
    // A takeover would have closed the first connection before the second one's CONNACK.
    await expect(inA.subscribeAsync(deviceCommandsTopic('fleet-a', 'robot-1'))).resolves.toHaveLength(1);
    await expect(inB.subscribeAsync(deviceCommandsTopic('fleet-b', 'robot-1'))).resolves.toHaveLength(1);
    expect(await broker!.disconnectDevice('fleet-b', 'robot-1')).toBe(true);
    expect(inA.connected).toBe(true);
  });

  it('an empty CA list trusts nobody; malformed or non-CA certificates are refused', async () => {
    await start({ caCertificatesPem: [] });
    expect((await attempt(robotA1, 'robot-1')).connected).toBe(false);
    expect(() => broker!.setCaCertificates(['not a certificate'])).toThrow(RangeError);
    expect(() => broker!.setCaCertificates([serverCertificatePem])).toThrow(RangeError);
    expect(() => broker!.setCaCertificates([`${caA.pem}\ntrailing junk`])).toThrow(RangeError);
    expect(() => broker!.setCaCertificates('pem' as unknown as string[])).toThrow(TypeError);
  });

  it('disconnectDevice drops the device and only that device', async () => {
    await start();
    const device = await connect(robotA1);
    const other = await connect(robotA2);
    const gone = closed(device);
    expect(await broker!.disconnectDevice('fleet-b', 'robot-1')).toBe(false);
    expect(await broker!.disconnectDevice('fleet-a', 'robot-1')).toBe(true);
    await gone;
    expect(broker!.clientCount()).toBe(1);
    expect(await broker!.disconnectDevice('fleet-a', 'robot-1')).toBe(false);
    expect(other.connected).toBe(true);
    expect(clientCounts.at(-1)).toBe(1);
  });

  it('Precondition: an oversize packet closes the connection before anything is delivered', async () => {
    await start({ maxPacketBytes: 1024 });
    const upReceived: string[] = [];
    await broker!.subscribe(fleetUpFilter('fleet-a'), (topic, payload) => upReceived.push(payload.toString().slice(0, 16)));
    const device = await connect(robotA1);
    const gone = closed(device);
    device.publish(deviceStatusTopic('fleet-a', 'robot-1'), Buffer.alloc(4096, 0x61), { qos: 0 });
    await gone;
    const other = await connect(robotA2);
    await other.publishAsync(deviceStatusTopic('fleet-a', 'robot-2'), 'small', { qos: 1 });
    await expect.poll(() => upReceived.length).toBe(1);
    expect(upReceived).toEqual(['small']);
    expect(logLines.join('')).toContain('"reason":"oversize"');
  });

  it('closes a TLS connection that never sends CONNECT', async () => {
    await start({ connectTimeoutMs: 200 });
    const { port } = parseListenAddress(broker!.address);
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: caA.pem, cert: robotA1.certificatePem, key: robotA1.privateKeyPem });
    sockets.push(socket);
    socket.on('error', () => {});
    const closedSocket = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
    await closedSocket;
    expect(socket.destroyed).toBe(true);
    expect(broker!.clientCount()).toBe(0);
  });

  it('close() disconnects every client, stops accepting and leaves nothing running', async () => {
    await start();
    const device = await connect(robotA1);
    const gone = closed(device);
    const { port } = parseListenAddress(broker!.address);
    // A raw TCP connection that never starts TLS: close() must not wait for its handshake timeout.
    const idle = netConnect({ host: '127.0.0.1', port });
    sockets.push(idle);
    idle.on('error', () => {});
    await new Promise<void>((resolve) => idle.once('connect', () => resolve()));
    const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    await broker!.close();
    await gone;
    await idleClosed;
    expect(broker!.clientCount()).toBe(0);
    await broker!.close();
    const refused = netConnect({ host: '127.0.0.1', port });
    sockets.push(refused);
    await expect(new Promise((resolve, reject) => refused.once('connect', resolve).once('error', reject))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(broker!.publish(deviceCommandsTopic('fleet-a', 'robot-1'), Buffer.from('late'))).rejects.toThrow('closed');
  });
});
