/**
 * The embedded MQTT broker: aedes 1.x behind a node:tls server that demands a device certificate
 * from a fleet CA (mutual TLS, TLS 1.2+), then the controller's own checks at CONNECT, then the
 * topic ACLs of @fleetkey/protocol on every SUBSCRIBE, PUBLISH and delivery.
 *
 * Decisions (each with a test of the same name):
 * - Authentication: the TLS layer proves possession of a key certified by a trusted fleet CA; at
 *   CONNECT the peer certificate (DER) goes to the injected `authenticateDevice` (chain, revocation,
 *   device status); undefined → CONNACK 5 "not authorized". The MQTT client id must equal the
 *   certificate's device id → otherwise CONNACK 2 "identifier rejected". Username and password are
 *   ignored.
 * - Sessions are keyed `fleet/device` inside the broker (a `/` never occurs in an identifier), so
 *   two fleets may each have a `robot-1` without one taking over the other's session
 *   ([MQTT-3.1.4-2] would otherwise let a device of one tenant disconnect another's).
 * - Every session is clean ([MQTT-3.1.2-6]; CONNACK session present is always 0): the broker keeps
 *   no state for offline devices, so its memory does not grow with the fleet's absent robots.
 *   Devices catch up through retained topics and DeviceService.StreamCommands.
 * - A refused SUBSCRIBE gets the failure return code 0x80 in its SUBACK [MQTT-3.9.3-2] for that
 *   filter only; the connection stays up.
 * - A refused PUBLISH (topic outside the device's ACL, or a retained publish: no device topic is
 *   retained) is dropped and the connection closed: MQTT 3.1.1 has no negative PUBACK, and
 *   [MQTT-3.3.5-2] allows closing; a device that publishes where it may not is broken or
 *   compromised, and closing makes that loud. Deliveries are re-checked against the subscribe ACL.
 * - Bounds: inbound packets over `maxPacketBytes` close the connection as soon as their length is
 *   announced (./mqtt-frame-guard.ts); the TLS handshake, the CONNECT packet and
 *   `authenticateDevice` must each finish within `connectTimeoutMs`; at most `maxConnections`
 *   sockets; slow readers are dropped after DRAIN_TIMEOUT_MS; topics have at most
 *   MAX_TOPIC_LEVELS levels.
 *
 * Trust boundary: everything a client sends is untrusted until `authenticateDevice` names it, and
 * even then the fleet and device used for authorization come from the certificate, never from the
 * MQTT packets. The controller's own `publish` is trusted and bypasses the ACL (not the topic
 * grammar or the payload bounds). Logs name fleets, devices, topics and reasons; never
 * certificates, payloads or keys.
 */
import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import { MAX_IDENTIFIER_LENGTH, PermissionDenied, isValidIdentifier } from '@fleetkey/key-types';
import { TOPIC_SPECS, deviceMayPublish, deviceMaySubscribe, parseTopic } from '@fleetkey/protocol';
import { formatAddress } from './listen.js';
import type { Logger } from './logger.js';
import { MqttFrameGuard } from './mqtt-frame-guard.js';

/** Who a connection is, as `authenticateDevice` found it from the certificate. */
export interface DeviceIdentity {
  readonly fleet: string;
  readonly deviceId: string;
  /** The device's group, which opens its group broadcast topic. */
  readonly group?: string;
}

export interface MqttBrokerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The broker's TLS certificate chain (PEM) and its private key (PEM; kept only in the TLS context). */
  readonly certificatePem: string | Uint8Array;
  readonly privateKeyPem: string | Uint8Array;
  /**
   * Every fleet CA whose devices may connect: PEM texts, each holding one or more CA certificates
   * (a bundle is fine). An empty list, or empty texts, trusts nobody.
   */
  readonly caCertificatesPem: readonly string[];
  /**
   * Decides who the peer of a TLS connection is from its leaf certificate (DER): chain, validity,
   * revocation, device status. Undefined refuses the connection; a rejection also refuses it.
   */
  readonly authenticateDevice: (certificateDer: Uint8Array) => Promise<DeviceIdentity | undefined>;
  readonly logger: Logger;
  /** Let devices publish to their fleet's and group's broadcast topics (robot-to-robot pub/sub). */
  readonly allowBroadcastPublish?: boolean;
  /** Largest inbound packet (Remaining Length); default DEFAULT_MAX_PACKET_BYTES. */
  readonly maxPacketBytes?: number;
  /** Most simultaneous sockets; default DEFAULT_MAX_CONNECTIONS. */
  readonly maxConnections?: number;
  /** Limit for the TLS handshake, then the CONNECT packet, then authenticateDevice; default DEFAULT_CONNECT_TIMEOUT_MS. */
  readonly connectTimeoutMs?: number;
  /** Called with the number of connected devices whenever it changes (e.g. the metrics gauge). */
  readonly onClientCount?: (count: number) => void;
}

export interface PublishOptions {
  /** Default: the topic's QoS from TOPIC_SPECS. */
  readonly qos?: 0 | 1;
  /** Default: whether the topic is retained in TOPIC_SPECS. */
  readonly retain?: boolean;
}

export interface EmbeddedBroker {
  /** `HOST:PORT` actually bound. */
  readonly address: string;
  /**
   * Replaces the trusted fleet CAs for new connections (a fleet created after start is trusted
   * without a restart). Connected devices stay connected; revoke them with disconnectDevice.
   * @throws TypeError / RangeError for a list that is not 0..MAX_BROKER_CA_CERTIFICATES CA
   *   certificates in PEM.
   */
  setCaCertificates(caCertificatesPem: readonly string[]): void;
  /**
   * Publishes as the controller, bypassing the device ACLs.
   * @throws TopicInvalid for a topic outside the fleetkey scheme; RangeError for a payload over
   *   the topic's bound; Error when the broker is closed.
   */
  publish(topic: string, payload: Uint8Array, options?: PublishOptions): Promise<void>;
  /**
   * Receives what devices publish on topics matching `topicFilter` (wildcards allowed: this is
   * the controller, e.g. `fleetkey/v1/+/devices/+/up/acks`). Resolves to an unsubscribe function.
   */
  subscribe(topicFilter: string, handler: (topic: string, payload: Buffer) => void): Promise<() => Promise<void>>;
  /** Closes the device's connection; false when it was not connected. */
  disconnectDevice(fleet: string, deviceId: string): Promise<boolean>;
  /** Connected (authenticated) devices. */
  clientCount(): number;
  /** Stops accepting, disconnects every client, and resolves once nothing is left. Idempotent. */
  close(): Promise<void>;
}

/** Largest inbound packet: the biggest payload a device may send (a peer SealedMessage) + 1 KiB of header. */
export const DEFAULT_MAX_PACKET_BYTES = Math.max(...Object.values(TOPIC_SPECS).filter((spec) => spec.direction !== 'down').map((spec) => spec.maxPayloadBytes)) + 1024;
export const DEFAULT_MAX_CONNECTIONS = 10_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** A client whose socket does not drain in this time is disconnected (aedes drainTimeout). */
export const DRAIN_TIMEOUT_MS = 30_000;
/** fleetkey topics have at most 7 levels; room for growth, far below qlobber's 100. */
export const MAX_TOPIC_LEVELS = 16;
/** Trusted fleet CAs at once (one or two per fleet). */
export const MAX_BROKER_CA_CERTIFICATES = 4096;
/** Longest single CA certificate in PEM (a 4096-bit RSA CA is under 2.5 KiB). */
const MAX_CA_PEM_LENGTH = 16 * 1024;
const MAX_LOGGED_TOPIC_LENGTH = 256;

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3 that we send. */
const CONNACK_IDENTIFIER_REJECTED = 2;
const CONNACK_NOT_AUTHORIZED = 5;

type Refusal = 'unauthenticated' | 'client-id-mismatch';

const sessionKey = (fleet: string, deviceId: string): string => `${fleet}/${deviceId}`;
const loggedTopic = (topic: unknown): string => (typeof topic === 'string' ? topic.slice(0, MAX_LOGGED_TOPIC_LENGTH) : '');

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----/g;

/**
 * Splits PEM texts into single certificates and checks each is a CA certificate. node:tls silently
 * ignores a `ca` entry it cannot parse, so a typo would otherwise shut every device out unnoticed.
 */
function checkCaCertificates(texts: readonly string[]): string[] {
  if (!Array.isArray(texts)) throw new TypeError('"caCertificatesPem" expected an array of PEM texts');
  const certificates: string[] = [];
  texts.forEach((text, index) => {
    if (typeof text !== 'string' || text.length > MAX_BROKER_CA_CERTIFICATES * MAX_CA_PEM_LENGTH) {
      throw new TypeError(`"caCertificatesPem[${index}]" expected PEM text`);
    }
    const blocks = text.match(PEM_CERTIFICATE) ?? [];
    if (text.replace(PEM_CERTIFICATE, '').trim().length > 0) throw new RangeError(`"caCertificatesPem[${index}]" holds something other than PEM certificates`);
    for (const block of blocks) {
      let certificate: X509Certificate;
      try {
        certificate = new X509Certificate(block);
      } catch (error) {
        throw new RangeError(`"caCertificatesPem[${index}]" holds a malformed certificate`, { cause: error });
      }
      // Precondition: only CA certificates become trust anchors for client authentication.
      if (!certificate.ca) throw new RangeError(`"caCertificatesPem[${index}]" holds a certificate that is not a CA`);
      certificates.push(block);
    }
  });
  if (certificates.length > MAX_BROKER_CA_CERTIFICATES) {
    throw new RangeError(`"caCertificatesPem" expected at most ${MAX_BROKER_CA_CERTIFICATES} certificates, got ${certificates.length}`);
  }
  return certificates;
}

const isPemInput = (value: unknown): value is string | Uint8Array => typeof value === 'string' || value instanceof Uint8Array;
const pemForTls = (value: string | Uint8Array): string | Buffer =>
  typeof value === 'string' || Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);

function checkPositiveInteger(value: number, name: string, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new RangeError(`"${name}" expected an integer in 1..${max}`);
  return value;
}

function isIdentity(value: unknown): value is DeviceIdentity {
  const identity = value as DeviceIdentity | undefined;
  return (
    typeof identity === 'object' &&
    identity !== null &&
    isValidIdentifier(identity.fleet) &&
    isValidIdentifier(identity.deviceId) &&
    (identity.group === undefined || isValidIdentifier(identity.group))
  );
}

/**
 * Starts the broker and resolves once it listens.
 * @throws (rejects with) the listen error (EADDRINUSE…); TypeError / RangeError for bad options
 *   (certificates, bounds); the TLS error for an unusable server key or certificate.
 */
export async function startMqttBroker(options: MqttBrokerOptions): Promise<EmbeddedBroker> {
  const { logger, authenticateDevice } = options;
  if (typeof authenticateDevice !== 'function') throw new TypeError('"authenticateDevice" expected a function');
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) throw new RangeError('"port" expected an integer in 0..65535');
  const maxPacketBytes = checkPositiveInteger(options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES, 'maxPacketBytes', 268_435_455);
  const maxConnections = checkPositiveInteger(options.maxConnections ?? DEFAULT_MAX_CONNECTIONS, 'maxConnections', 1_000_000);
  const connectTimeoutMs = checkPositiveInteger(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeoutMs', 600_000);
  const aclOptions = { allowBroadcastPublish: options.allowBroadcastPublish === true };
  if (!isPemInput(options.privateKeyPem) || !isPemInput(options.certificatePem)) throw new TypeError('"privateKeyPem" and "certificatePem" expected PEM text');
  // A view, not a copy: the caller zeroizes its key buffer and no second copy is left behind here.
  const key = pemForTls(options.privateKeyPem);
  const cert = pemForTls(options.certificatePem);
  // Never undefined: node falls back to the public root store when `ca` is missing.
  let ca = checkCaCertificates(options.caCertificatesPem);

  /** Filled at CONNECT (preConnect), read by authenticate and the ACL hooks. */
  const identities = new WeakMap<Client, DeviceIdentity>();
  const refusals = new WeakMap<Client, Refusal>();
  /** Registered sessions by `fleet/device` (aedes keys its own table the same way). */
  const sessions = new Map<string, Client>();
  /**
   * Sockets the frame guard refused. aedes still parses the chunk that tripped the guard (the
   * guard runs just before), so every hook refuses anything from these connections.
   */
  const refusedConnections = new WeakSet<object>();
  /** The identity of a client in good standing; undefined for anyone else. */
  const admitted = (client: Client | null): DeviceIdentity | undefined =>
    client === null || refusedConnections.has(client.conn) ? undefined : identities.get(client);

  async function identify(client: Client, clientId: string): Promise<DeviceIdentity | Refusal> {
    const socket = client.conn as TLSSocket;
    // Precondition: the TLS layer verified the chain (rejectUnauthorized); re-checked, not assumed.
    if (socket.authorized !== true) return 'unauthenticated';
    const raw = socket.getPeerCertificate()?.raw;
    if (!Buffer.isBuffer(raw) || raw.length === 0) return 'unauthenticated';
    let identity: DeviceIdentity | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      // aedes stops its CONNECT timer once CONNECT arrives, so a stuck lookup is bounded here.
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('device authentication timed out')), connectTimeoutMs);
      });
      identity = await Promise.race([authenticateDevice(new Uint8Array(raw)), timeout]);
    } catch (error) {
      logger.error({ err: error }, 'mqtt device authentication failed');
      return 'unauthenticated';
    } finally {
      clearTimeout(timer);
    }
    if (!isIdentity(identity)) return 'unauthenticated';
    // Precondition: the MQTT client id is the certificate's device id, nothing else.
    return clientId === identity.deviceId ? identity : 'client-id-mismatch';
  }

  const aedes = new Aedes({
    connectTimeout: connectTimeoutMs,
    drainTimeout: DRAIN_TIMEOUT_MS,
    maxTopicLevels: MAX_TOPIC_LEVELS,
    // A session key is fleet + '/' + device (MQTT 3.1 clients are otherwise cut at 23).
    maxClientsIdLength: 2 * MAX_IDENTIFIER_LENGTH + 1,
    preConnect(client, packet, done) {
      const clientId = typeof packet.clientId === 'string' ? packet.clientId : '';
      identify(client, clientId).then(
        (outcome) => {
          if (typeof outcome === 'string') refusals.set(client, outcome);
          else {
            identities.set(client, outcome);
            packet.clientId = sessionKey(outcome.fleet, outcome.deviceId);
          }
          // [MQTT-3.1.2-6] clean session for everyone (see the module comment).
          packet.clean = true;
          // The verdict is delivered in `authenticate`, which is where aedes sends a CONNACK code.
          done(null, true);
        },
        (error: unknown) => done(error instanceof Error ? error : new Error('device identification failed'), false),
      );
    },
    authenticate(client, _username, _password, done) {
      const identity = admitted(client);
      const remote = client.conn && 'remoteAddress' in client.conn ? client.conn.remoteAddress : undefined;
      if (identity !== undefined) {
        logger.info({ fleet: identity.fleet, deviceId: identity.deviceId, remote }, 'mqtt device connected');
        done(null, true);
        return;
      }
      const refusal = refusals.get(client) ?? 'unauthenticated';
      logger.warn({ reason: refusal, remote }, 'mqtt connection refused');
      const error = new Error(refusal === 'client-id-mismatch' ? 'identifier rejected' : 'not authorized') as AuthenticateError;
      error.returnCode = (refusal === 'client-id-mismatch' ? CONNACK_IDENTIFIER_REJECTED : CONNACK_NOT_AUTHORIZED) as AuthenticateError['returnCode'];
      done(error, false);
    },
    authorizeSubscribe(client, subscription, done) {
      const identity = admitted(client);
      if (identity !== undefined && deviceMaySubscribe(identity.fleet, identity.deviceId, subscription.topic, { group: identity.group })) {
        done(null, subscription);
        return;
      }
      logger.warn({ fleet: identity?.fleet, deviceId: identity?.deviceId, topic: loggedTopic(subscription.topic) }, 'mqtt subscribe refused');
      // [MQTT-3.9.3-2] a null subscription answers 0x80 (failure) for this filter only.
      done(null, null);
    },
    authorizePublish(client, packet, done) {
      const identity = admitted(client);
      const allowed =
        identity !== undefined &&
        packet.retain !== true &&
        deviceMayPublish(identity.fleet, identity.deviceId, packet.topic, { ...aclOptions, group: identity.group });
      if (allowed) {
        done(null);
        return;
      }
      logger.warn({ fleet: identity?.fleet, deviceId: identity?.deviceId, topic: loggedTopic(packet.topic), retain: packet.retain === true }, 'mqtt publish refused; closing the connection');
      // [MQTT-3.3.5-2] no negative PUBACK in 3.1.1: aedes closes the connection on this error.
      done(new PermissionDenied('publish not allowed'));
    },
    authorizeForward(client, packet) {
      const identity = admitted(client);
      return identity !== undefined && deviceMaySubscribe(identity.fleet, identity.deviceId, packet.topic, { group: identity.group }) ? packet : null;
    },
  });
  await aedes.listen();

  const reportCount = (): void => {
    try {
      options.onClientCount?.(aedes.connectedClients);
    } catch (error) {
      logger.warn({ err: error }, 'mqtt client count callback failed');
    }
  };
  aedes.on('client', (client) => {
    sessions.set(client.id, client);
    reportCount();
  });
  aedes.on('clientDisconnect', (client) => {
    if (sessions.get(client.id) === client) sessions.delete(client.id);
    const identity = identities.get(client);
    logger.info({ fleet: identity?.fleet, deviceId: identity?.deviceId }, 'mqtt device disconnected');
    reportCount();
  });
  aedes.on('clientError', (client, error) => {
    const identity = identities.get(client);
    logger.debug({ fleet: identity?.fleet, deviceId: identity?.deviceId, err: error }, 'mqtt client error');
  });
  aedes.on('connectionError', (_client, error) => logger.debug({ err: error }, 'mqtt connection error'));

  /** Every raw socket, so close() can end the ones still in the handshake or before CONNECT. */
  const sockets = new Set<Socket>();
  const server = createTlsServer(
    {
      key,
      cert,
      ca,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      handshakeTimeout: connectTimeoutMs,
    },
    (socket) => {
      aedes.handle(socket);
      // Attached after aedes' 'readable' listener, so it sees exactly the chunks aedes reads,
      // just before aedes parses them, without switching the socket to flowing mode.
      const guard = new MqttFrameGuard(maxPacketBytes);
      socket.on('data', (chunk: Buffer) => {
        const verdict = guard.push(chunk);
        if (verdict !== 'ok') {
          refusedConnections.add(socket);
          logger.warn({ reason: verdict, maxPacketBytes, remote: socket.remoteAddress }, 'mqtt packet refused; closing the connection');
          socket.destroy();
        }
      });
    },
  );
  server.maxConnections = maxConnections;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', (error: Error & { code?: unknown }, socket: TLSSocket) => {
    logger.info({ err: error, remote: socket.remoteAddress }, 'mqtt TLS handshake refused');
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      aedes.close();
      reject(error);
    };
    server.once('error', onError);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (error) => logger.error({ err: error }, 'mqtt server error'));
  const bound = server.address() as { address: string; port: number };
  const address = formatAddress(bound.address, bound.port);
  logger.info({ address }, 'mqtt broker listening');

  let closing: Promise<void> | undefined;
  const subscriptions = new Set<{ topic: string; deliver: (packet: AedesPublishPacket, callback: () => void) => void }>();

  return Object.freeze({
    address,
    setCaCertificates(caCertificatesPem: readonly string[]): void {
      const next = checkCaCertificates(caCertificatesPem);
      server.setSecureContext({ key, cert, ca: next, minVersion: 'TLSv1.2' });
      ca = next;
      logger.info({ caCertificates: ca.length }, 'mqtt trusted CAs replaced');
    },
    async publish(topic: string, payload: Uint8Array, publishOptions: PublishOptions = {}): Promise<void> {
      const spec = TOPIC_SPECS[parseTopic(topic).kind];
      if (!(payload instanceof Uint8Array)) throw new TypeError('"payload" expected a Uint8Array');
      if (payload.length > spec.maxPayloadBytes) throw new RangeError(`"payload" expected at most ${spec.maxPayloadBytes} bytes for this topic, got ${payload.length}`);
      const qos = publishOptions.qos ?? spec.qos;
      if (qos !== 0 && qos !== 1) throw new RangeError('"qos" expected 0 or 1');
      if (aedes.closed) throw new Error('the MQTT broker is closed');
      const packet: PublishPacket = { cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain: publishOptions.retain ?? spec.retained, dup: false };
      await new Promise<void>((resolve, reject) => aedes.publish(packet, (error) => (error ? reject(error) : resolve())));
    },
    async subscribe(topicFilter: string, handler: (topic: string, payload: Buffer) => void): Promise<() => Promise<void>> {
      if (typeof topicFilter !== 'string' || topicFilter.length === 0 || topicFilter.length > 1024) throw new TypeError('"topicFilter" expected a topic filter');
      if (typeof handler !== 'function') throw new TypeError('"handler" expected a function');
      const deliver = (packet: AedesPublishPacket, callback: () => void): void => {
        try {
          handler(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload));
        } catch (error) {
          logger.error({ err: error, topic: loggedTopic(packet.topic) }, 'mqtt internal subscriber failed');
        }
        callback();
      };
      const entry = { topic: topicFilter, deliver };
      await new Promise<void>((resolve) => aedes.subscribe(topicFilter, deliver, () => resolve()));
      subscriptions.add(entry);
      return () =>
        new Promise<void>((resolve) => {
          if (!subscriptions.delete(entry)) return resolve();
          aedes.unsubscribe(topicFilter, deliver, () => resolve());
        });
    },
    disconnectDevice(fleet: string, deviceId: string): Promise<boolean> {
      const client = isValidIdentifier(fleet) && isValidIdentifier(deviceId) ? sessions.get(sessionKey(fleet, deviceId)) : undefined;
      if (client === undefined) return Promise.resolve(false);
      logger.info({ fleet, deviceId }, 'mqtt device disconnected by the controller');
      return new Promise<boolean>((resolve) => client.close(() => resolve(true)));
    },
    clientCount(): number {
      return aedes.connectedClients;
    },
    close(): Promise<void> {
      closing ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        await new Promise<void>((resolve) => aedes.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await serverClosed;
        subscriptions.clear();
        logger.info({ address }, 'mqtt broker closed');
      })();
      return closing;
    },
  });
}
