/**
 * The external-broker publisher over real mutual TLS on 127.0.0.1:0 against an in-process aedes
 * broker without ACLs (the ACLs of a real external broker are tested with Mosquitto in
 * ../serve/external-broker.e2e.spec.ts), with certificates made by @fleetkey/crypto and real
 * `mqtt` clients on the other side. Also the strict URL parser and the topic matcher.
 */
import { createServer as createNetServer } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type Server, type TLSSocket } from 'node:tls';
import { Aedes } from 'aedes';
import { createCaCertificate, createLocalSigner, generateKeyPair, issueDeviceCertificate, issueServerCertificate, type Signer } from '@fleetkey/crypto';
import { deviceAcksTopic, deviceKeysTopic, deviceStatusTopic, emergencyTopic } from '@fleetkey/protocol';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { BrokerUnavailable, parseMqttUrl, startExternalBroker, topicMatches, type ExternalBroker, type ExternalBrokerOptions } from './external-broker.js';

interface Ca {
  readonly pem: string;
  readonly signer: Signer;
}

interface Credentials {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

// TLS checks validity against the wall clock, so certificates are valid around the real now.
const notBefore = new Date(Date.now() - 3600_000);
const notAfter = new Date(Date.now() + 24 * 3600_000);
const logger = createLogger({ level: 'silent', name: 'external-broker-test' });

async function makeCa(name: string): Promise<Ca> {
  const key = await generateKeyPair('ECDSA_P256');
  const signer = createLocalSigner(key.privateKey);
  return { pem: (await createCaCertificate({ signer, fleet: name, commonName: `${name} test CA`, notBefore, notAfter })).pem, signer };
}

async function makeClient(ca: Ca, organization: string, name: string): Promise<Credentials> {
  const key = await generateKeyPair('ECDSA_P256');
  const certificate = await issueDeviceCertificate({ issuerSigner: ca.signer, issuerCertificate: ca.pem, publicKey: key.publicKey, fleet: organization, deviceId: name, notBefore, notAfter });
  return { certificatePem: certificate.pem, privateKeyPem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

async function makeServer(ca: Ca): Promise<Credentials> {
  const key = await generateKeyPair('ECDSA_P256');
  const certificate = await issueServerCertificate({ issuerSigner: ca.signer, issuerCertificate: ca.pem, publicKey: key.publicKey, dnsNames: [], ipAddresses: ['127.0.0.1'], notBefore, notAfter });
  return { certificatePem: certificate.pem, privateKeyPem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface TestBroker {
  readonly port: number;
  close(): Promise<void>;
}

/** aedes behind node:tls demanding a client certificate from `clientCa`; `port` 0 picks one. */
async function startTestBroker(server: Credentials, clientCa: Ca, port = 0): Promise<TestBroker> {
  const aedes = new Aedes();
  await aedes.listen();
  const sockets = new Set<TLSSocket>();
  const tls: Server = createTlsServer({ key: server.privateKeyPem, cert: server.certificatePem, ca: [clientCa.pem], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    tls.once('error', reject);
    tls.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (tls.address() as { port: number }).port,
    async close() {
      const closed = new Promise<void>((resolve) => tls.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

let serverCa: Ca;
let clientCa: Ca;
let serverCredentials: Credentials;
let controllerCredentials: Credentials;
let robotCredentials: Credentials;

beforeAll(async () => {
  serverCa = await makeCa('server-ca');
  clientCa = await makeCa('acme');
  serverCredentials = await makeServer(serverCa);
  controllerCredentials = await makeClient(clientCa, 'acme', 'fleet-controller');
  robotCredentials = await makeClient(clientCa, 'acme', 'robot-1');
});

async function broker(): Promise<TestBroker> {
  const started = await startTestBroker(serverCredentials, clientCa);
  cleanups.push(() => started.close());
  return started;
}

function options(port: number, overrides: Partial<ExternalBrokerOptions> = {}): ExternalBrokerOptions {
  return {
    url: `mqtts://127.0.0.1:${port}`,
    clientId: 'fleetkey:controller',
    secureContext: () => Promise.resolve(createSecureContext({ key: controllerCredentials.privateKeyPem, cert: controllerCredentials.certificatePem, ca: serverCa.pem, minVersion: 'TLSv1.2' })),
    logger,
    backoff: { initialMs: 20, maxMs: 200 },
    firstConnectTimeoutMs: 5_000,
    ...overrides,
  };
}

async function external(port: number, overrides: Partial<ExternalBrokerOptions> = {}): Promise<ExternalBroker> {
  const started = await startExternalBroker(options(port, overrides));
  cleanups.push(() => started.close());
  return started;
}

async function robot(port: number): Promise<MqttClient> {
  const client = await connectAsync({ protocol: 'mqtts', host: '127.0.0.1', port, ca: serverCa.pem, key: robotCredentials.privateKeyPem, cert: robotCredentials.certificatePem, clientId: 'robot-1', reconnectPeriod: 0, connectTimeout: 5_000 });
  cleanups.push(() => client.endAsync(true));
  return client;
}

function nextMessage(client: MqttClient, topic: string): Promise<{ payload: Buffer; retain: boolean }> {
  return new Promise((resolve) => {
    const onMessage = (received: string, payload: Buffer, packet: { retain: boolean }): void => {
      if (received !== topic) return;
      client.off('message', onMessage);
      resolve({ payload, retain: packet.retain });
    };
    client.on('message', onMessage);
  });
}

/** Waits for an event another party causes (a callback); never for a fixed time. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('parseMqttUrl', () => {
  it('takes mqtts://host:port (8883 when absent), IPv6 in brackets', () => {
    expect(parseMqttUrl('mqtts://broker.example.com:8884')).toEqual({ host: 'broker.example.com', port: 8884 });
    expect(parseMqttUrl('mqtts://10.0.0.5')).toEqual({ host: '10.0.0.5', port: 8883 });
    expect(parseMqttUrl('mqtts://[::1]:18884')).toEqual({ host: '::1', port: 18884 });
  });

  it.each([
    ['plain TCP', 'mqtt://broker:1883'],
    ['websocket', 'wss://broker:443'],
    ['credentials', 'mqtts://user:secret@broker:8883'],
    ['a username', 'mqtts://user@broker:8883'],
    ['a path', 'mqtts://broker:8883/mqtt'],
    ['a query', 'mqtts://broker:8883?x=1'],
    ['a fragment', 'mqtts://broker:8883#x'],
    ['port 0', 'mqtts://broker:0'],
    ['a port out of range', 'mqtts://broker:70000'],
    ['no URL', 'broker:8883'],
    ['empty', ''],
    ['too long', `mqtts://${'a'.repeat(400)}:8883`],
  ])('Precondition: refuses %s', (_why, url) => {
    expect(() => parseMqttUrl(url)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('never echoes a password it refuses', () => {
    expect(() => parseMqttUrl('mqtts://user:hunter2@broker:8883')).toThrow(expect.not.objectContaining({ message: expect.stringContaining('hunter2') }));
  });
});

describe('topicMatches', () => {
  it.each([
    ['fleetkey/v1/+/devices/+/up/acks', 'fleetkey/v1/acme/devices/robot-1/up/acks', true],
    ['fleetkey/v1/+/devices/+/up/acks', 'fleetkey/v1/acme/devices/robot-1/up/status', false],
    ['fleetkey/v1/+/devices/+/up/acks', 'fleetkey/v1/acme/devices/robot-1/up/acks/extra', false],
    ['fleetkey/v1/#', 'fleetkey/v1/acme/emergency', true],
    ['fleetkey/v1/#', 'fleetkey/v1', true],
    ['#', '$SYS/broker/uptime', false],
    ['+/broker/uptime', '$SYS/broker/uptime', false],
    ['fleetkey/v1/acme/emergency', 'fleetkey/v1/acme/emergency', true],
    ['fleetkey/v1/acme/emergency', 'fleetkey/v1/beta/emergency', false],
  ])('%s against %s: %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});

describe('startExternalBroker', () => {
  it('publishes as asked: QoS 1 with the retain flag, and a later subscriber gets the retained message', async () => {
    const server = await broker();
    const publisher = await external(server.port);
    expect(publisher.connected()).toBe(true);
    expect(publisher.address).toBe(`127.0.0.1:${server.port}`);
    const payload = new Uint8Array([1, 2, 3]);
    await publisher.publish(emergencyTopic('acme'), payload, { qos: 1, retain: true });
    const client = await robot(server.port);
    const retained = nextMessage(client, emergencyTopic('acme'));
    await client.subscribeAsync(emergencyTopic('acme'), { qos: 1 });
    expect(await retained).toEqual({ payload: Buffer.from(payload), retain: true });
  });

  it('refuses to publish outside the topic scheme or over the topic\'s payload bound', async () => {
    const publisher = await external((await broker()).port);
    expect(await rejection(publisher.publish('fleetkey/v1/acme/nowhere', new Uint8Array(1), { qos: 1, retain: false }))).toMatchObject({ code: 'TOPIC_INVALID' });
    expect(await rejection(publisher.publish(deviceAcksTopic('acme', 'robot-1'), new Uint8Array(64 * 1024), { qos: 1, retain: false }))).toBeInstanceOf(RangeError);
  });

  it('Precondition: retained deliveries are dropped; live ones reach every matching handler', async () => {
    const server = await broker();
    const client = await robot(server.port);
    const stale = Buffer.from('stale ack');
    await client.publishAsync(deviceAcksTopic('acme', 'robot-1'), stale, { qos: 1, retain: true });
    const publisher = await external(server.port);
    const acks: Buffer[] = [];
    const everything: string[] = [];
    const live = deferred<void>();
    await publisher.subscribe('fleetkey/v1/+/devices/+/up/acks', (_topic, payload) => {
      acks.push(Buffer.from(payload));
      live.resolve();
    });
    await publisher.subscribe('fleetkey/v1/#', (topic) => everything.push(topic));
    // The retained ack was offered at SUBSCRIBE, before this live one (one publisher, in order).
    await client.publishAsync(deviceAcksTopic('acme', 'robot-1'), Buffer.from('fresh ack'), { qos: 1 });
    await live.promise;
    expect(acks.map((payload) => payload.toString())).toEqual(['fresh ack']);
    expect(everything).toContain(deviceAcksTopic('acme', 'robot-1'));
  });

  it('unsubscribing stops delivery to that handler only', async () => {
    const server = await broker();
    const publisher = await external(server.port);
    const client = await robot(server.port);
    const first: string[] = [];
    const second = deferred<string>();
    const unsubscribe = await publisher.subscribe('fleetkey/v1/+/devices/+/up/status', (topic) => first.push(topic));
    await publisher.subscribe('fleetkey/v1/+/devices/+/up/+', (topic) => second.resolve(topic));
    await unsubscribe();
    await client.publishAsync(deviceStatusTopic('acme', 'robot-1'), Buffer.from('status'), { qos: 1 });
    expect(await second.promise).toBe(deviceStatusTopic('acme', 'robot-1'));
    expect(first).toEqual([]);
  });

  it('fails publishes at once while disconnected, reconnects with backoff, subscribes again and calls onConnected', async () => {
    const first = await startTestBroker(serverCredentials, clientCa);
    const port = first.port;
    let contexts = 0;
    const connections: boolean[] = [];
    const reconnected = deferred<void>();
    const base = options(port);
    const publisher = await external(port, {
      secureContext: () => {
        contexts += 1;
        return base.secureContext();
      },
      onConnected: (again) => {
        connections.push(again);
        if (again) reconnected.resolve();
      },
    });
    const received = deferred<string>();
    await publisher.subscribe('fleetkey/v1/+/devices/+/up/acks', (_topic, payload) => received.resolve(Buffer.from(payload).toString()));

    const lost = new Promise<void>((resolve) => {
      const poll = (): void => void (publisher.connected() ? setImmediate(poll) : resolve());
      poll();
    });
    await first.close();
    await lost;
    expect(await rejection(publisher.publish(deviceKeysTopic('acme', 'robot-1'), new Uint8Array(1), { qos: 1, retain: true }))).toBeInstanceOf(BrokerUnavailable);

    const second = await startTestBroker(serverCredentials, clientCa, port);
    cleanups.push(() => second.close());
    await reconnected.promise;
    expect(connections).toEqual([false, true]);
    expect(contexts).toBeGreaterThanOrEqual(2);
    const client = await robot(port);
    await client.publishAsync(deviceAcksTopic('acme', 'robot-1'), Buffer.from('after the outage'), { qos: 1 });
    expect(await received.promise).toBe('after the outage');
    await publisher.publish(emergencyTopic('acme'), new Uint8Array([9]), { qos: 1, retain: true });
  });

  it('rejects with BrokerUnavailable when the first connection does not come up, and leaves nothing running', async () => {
    const port = await freePort();
    const error = await rejection(startExternalBroker(options(port, { firstConnectTimeoutMs: 300 })));
    expect(error).toBeInstanceOf(BrokerUnavailable);
    expect(error).toMatchObject({ code: 'RPC_FAILED' });
  });

  it('gives up at the first-connect timeout even while the TLS context never comes (a hung KMS)', async () => {
    const server = await broker();
    const error = await rejection(startExternalBroker(options(server.port, { firstConnectTimeoutMs: 300, secureContext: () => new Promise(() => undefined) })));
    expect(error).toBeInstanceOf(BrokerUnavailable);
  });

  it('Precondition: the broker must prove a certificate from the CA in the secure context', async () => {
    const otherCa = await makeCa('other');
    const impostor = await startTestBroker(await makeServer(otherCa), clientCa);
    cleanups.push(() => impostor.close());
    expect(await rejection(startExternalBroker(options(impostor.port, { firstConnectTimeoutMs: 500 })))).toBeInstanceOf(BrokerUnavailable);
  });

  it('cannot drop a device from a broker it does not run: disconnectDevice answers false', async () => {
    const publisher = await external((await broker()).port);
    expect(await publisher.disconnectDevice('acme', 'robot-1')).toBe(false);
  });

  it('closes idempotently and stops reconnecting', async () => {
    const server = await broker();
    const publisher = await startExternalBroker(options(server.port));
    await publisher.close();
    await publisher.close();
    expect(publisher.connected()).toBe(false);
  });
});
