/**
 * The controller as a client of an external MQTT broker (`serve --mqtt-url mqtts://host:port`,
 * e.g. Mosquitto with deploy/mosquitto/): a FleetPublisher over one mqtt.js connection instead of
 * the embedded aedes broker. It publishes at QoS 1 with the retain flags the callers pass (from
 * TOPIC_SPECS), receives the robots' `up/` topics for ../commands/mqtt-uplink.ts, and reconnects
 * forever with capped, jittered exponential backoff.
 *
 * Decisions (each with a test of the same name):
 * - Only `mqtts://` (parseMqttUrl): the controller authenticates with a client certificate and the
 *   broker with its server certificate; there is no plain-TCP or password mode.
 * - The TLS context is asked for at every connection attempt, so a renewed client certificate is
 *   used from the next reconnect on (./broker-identity.ts renews at half-life).
 * - Retained deliveries are dropped: the controller reads only device `up/` topics, which the
 *   embedded broker never retains. Mosquitto cannot refuse a device's retained publish on its own
 *   topic, so a stale ack or status would otherwise be replayed at every (re)subscribe.
 * - publish() fails at once while disconnected instead of queueing: every caller logs and moves on
 *   (robots get the same facts over DeviceService.StreamCommands), and `onConnected` puts the
 *   retained messages back after an outage, so nothing stale is sent late from a hidden queue.
 *   A connected publish waits for its PUBACK at most PUBLISH_TIMEOUT_MS.
 * - disconnectDevice() cannot drop a device from a broker the controller does not run: it logs and
 *   answers false (see docs/operations.md, "External MQTT broker", for what still protects).
 *
 * Bounds: topic filters at most MAX_FILTERS of MAX_FILTER_LENGTH characters; outgoing payloads are
 * bounded per topic by TOPIC_SPECS; inbound packets by the broker's max_packet_size, and every
 * payload is then decoded with its topic's bound by the uplink; backoff at most
 * DEFAULT_BACKOFF.maxMs; the first connection within `firstConnectTimeoutMs`.
 *
 * Trust boundary: the broker is authenticated by TLS (its certificate must chain to the CAs in the
 * secure context) but is not trusted with integrity: what it delivers is robot input that passed
 * only the broker's ACL, and the uplink takes fleet and device from the topic, never the body.
 * Logs name the broker address, topics and reasons; never payloads, certificates or keys.
 */
import type { SecureContext } from 'node:tls';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { FleetkeyError, InvalidArgument } from '@fleetkey/key-types';
import { TOPIC_SPECS, parseTopic } from '@fleetkey/protocol';
import type { FleetPublisher } from '../fleet-events/index.js';
import { formatAddress, parseListenAddress } from './listen.js';
import type { Logger } from './logger.js';

/** The broker could not be reached, or the connection is down. */
export class BrokerUnavailable extends FleetkeyError {
  readonly code = 'RPC_FAILED' as const;
}

export interface BackoffSettings {
  /** The first retry waits up to this long. */
  readonly initialMs: number;
  /** No retry waits longer than this. */
  readonly maxMs: number;
}

export interface ExternalBrokerOptions {
  /** `mqtts://host:port` (port 8883 when absent). */
  readonly url: string;
  /** The MQTT client id (also the username the broker takes from the certificate). */
  readonly clientId: string;
  /**
   * The TLS context for one connection attempt: the controller's client certificate and key, and
   * the CAs that verify the broker. Called at every attempt; a rejection fails that attempt only.
   */
  readonly secureContext: () => Promise<SecureContext>;
  readonly logger: Logger;
  /**
   * Called after every successful connection once the subscriptions are back (`reconnected` is
   * false the first time); the controller republishes its retained messages here. Errors are logged.
   */
  readonly onConnected?: (reconnected: boolean) => Promise<void> | void;
  /** Default DEFAULT_BACKOFF. */
  readonly backoff?: BackoffSettings;
  /** Uniform in [0, 1) for the backoff jitter; default Math.random. */
  readonly random?: () => number;
  /** TLS handshake + CONNECT..CONNACK of one attempt; default DEFAULT_CONNECT_TIMEOUT_MS. */
  readonly connectTimeoutMs?: number;
  /** startExternalBroker rejects when the first connection is not up by then; default DEFAULT_FIRST_CONNECT_TIMEOUT_MS. */
  readonly firstConnectTimeoutMs?: number;
  /** PUBACK wait of one QoS 1 publish; default PUBLISH_TIMEOUT_MS. */
  readonly publishTimeoutMs?: number;
}

export interface ExternalBroker extends FleetPublisher {
  /** `HOST:PORT` of the broker. */
  readonly address: string;
  /** Whether the connection is up. */
  connected(): boolean;
  /** Ends the connection and the reconnect loop; idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_BACKOFF: BackoffSettings = Object.freeze({ initialMs: 250, maxMs: 30_000 });
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_FIRST_CONNECT_TIMEOUT_MS = 30_000;
export const PUBLISH_TIMEOUT_MS = 10_000;
/** MQTT keepalive (seconds): a dead broker is noticed within 1.5 times this [MQTT-3.1.2-24]. */
export const KEEPALIVE_S = 30;
/** The controller subscribes to a handful of filters (acks, status); room to spare. */
export const MAX_FILTERS = 64;
export const MAX_FILTER_LENGTH = 1024;
const MAX_LOGGED_TOPIC_LENGTH = 256;
const DEFAULT_MQTTS_PORT = 8883;
/** [MQTT-3.9.3-2] the SUBACK return code of a refused filter. */
const SUBACK_FAILURE = 0x80;

const loggedTopic = (topic: string): string => topic.slice(0, MAX_LOGGED_TOPIC_LENGTH);

/**
 * Host and port of an `mqtts://host:port` URL.
 * @throws InvalidArgument for anything else: another scheme, credentials, a path, query or
 *   fragment, port 0, or a malformed host.
 */
export function parseMqttUrl(text: string): { host: string; port: number } {
  if (typeof text !== 'string' || text.length === 0 || text.length > 320) throw new InvalidArgument('invalid --mqtt-url: expected mqtts://HOST:PORT');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgument('invalid --mqtt-url: not a URL (expected mqtts://HOST:PORT)');
  }
  // Precondition: TLS only, and nothing in the URL but host and port (a password here would end up in configs and logs).
  if (url.protocol !== 'mqtts:') throw new InvalidArgument('invalid --mqtt-url: the scheme must be mqtts:// (TLS with a client certificate)');
  if (url.username !== '' || url.password !== '') throw new InvalidArgument('invalid --mqtt-url: credentials do not belong in the URL; the controller authenticates with its certificate');
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') throw new InvalidArgument('invalid --mqtt-url: expected mqtts://HOST:PORT and nothing else');
  const port = url.port === '' ? DEFAULT_MQTTS_PORT : Number(url.port);
  const parsed = parseListenAddress(formatAddress(url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname, port));
  if (parsed.port === 0) throw new InvalidArgument('invalid --mqtt-url: port 0 is not a broker address');
  return parsed;
}

/** [MQTT-4.7.1] whether `topic` matches `filter` (`+` one level, `#` the rest, `$` topics never by wildcard). */
export function topicMatches(filter: string, topic: string): boolean {
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  // [MQTT-4.7.2-1] a wildcard in the first level never matches a topic starting with `$`.
  if (topic.startsWith('$') && (filterLevels[0] === '+' || filterLevels[0] === '#')) return false;
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i];
    if (level === '#') return i === filterLevels.length - 1;
    if (i >= topicLevels.length) return false;
    if (level !== '+' && level !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}

function checkFilter(filter: unknown): string {
  if (typeof filter !== 'string' || filter.length === 0 || filter.length > MAX_FILTER_LENGTH) throw new TypeError(`"topicFilter" expected 1..${MAX_FILTER_LENGTH} characters`);
  const levels = filter.split('/');
  // [MQTT-4.7.1-2] `#` only as the whole last level; [MQTT-4.7.1-3] `+` only as a whole level.
  levels.forEach((level, index) => {
    if ((level.includes('#') && (level !== '#' || index !== levels.length - 1)) || (level.includes('+') && level !== '+')) {
      throw new RangeError('"topicFilter" has a misplaced wildcard');
    }
  });
  return filter;
}

function checkBackoff(backoff: BackoffSettings): BackoffSettings {
  const { initialMs, maxMs } = backoff;
  if (!Number.isInteger(initialMs) || initialMs < 1 || !Number.isInteger(maxMs) || maxMs < initialMs || maxMs > 3_600_000) {
    throw new RangeError('"backoff" expected integers 1 <= initialMs <= maxMs <= 3600000');
  }
  return backoff;
}

function checkTimeout(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1 || value > 600_000) throw new RangeError(`"${name}" expected an integer in 1..600000`);
  return value;
}

const errorCode = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : undefined;
};

type Handler = (topic: string, payload: Uint8Array) => void;

/**
 * Connects to the broker and resolves once the first connection is up.
 * @throws InvalidArgument for a bad URL; TypeError / RangeError for bad options;
 *   BrokerUnavailable when the first connection is not up within `firstConnectTimeoutMs` (the
 *   reconnect loop is stopped then).
 */
export async function startExternalBroker(options: ExternalBrokerOptions): Promise<ExternalBroker> {
  const { logger } = options;
  const { host, port } = parseMqttUrl(options.url);
  const address = formatAddress(host, port);
  if (typeof options.clientId !== 'string' || options.clientId.length === 0 || options.clientId.length > 128) throw new TypeError('"clientId" expected 1..128 characters');
  if (typeof options.secureContext !== 'function') throw new TypeError('"secureContext" expected a function');
  const backoff = checkBackoff(options.backoff ?? DEFAULT_BACKOFF);
  const random = options.random ?? Math.random;
  const connectTimeoutMs = checkTimeout(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeoutMs');
  const firstConnectTimeoutMs = checkTimeout(options.firstConnectTimeoutMs ?? DEFAULT_FIRST_CONNECT_TIMEOUT_MS, 'firstConnectTimeoutMs');
  const publishTimeoutMs = checkTimeout(options.publishTimeoutMs ?? PUBLISH_TIMEOUT_MS, 'publishTimeoutMs');

  const handlers = new Map<string, Set<Handler>>();
  let client: MqttClient | undefined;
  let closed = false;
  let everConnected = false;
  let lastError: unknown;
  const stop = new AbortController();
  /** For the one startup error line: a fleetkey error's message, else only an error code (a TLS or socket error's text may quote more than we want). */
  const lastErrorText = (): string => {
    if (lastError instanceof FleetkeyError) return `: ${lastError.message}`;
    const code = errorCode(lastError);
    return code === undefined ? '' : ` (last error ${code})`;
  };
  /** Runs `fn` on close; returns the function that forgets it (so long outages do not pile listeners up on the signal). */
  const onStop = (fn: () => void): (() => void) => {
    // An already-aborted signal fires nothing: close() may have come while an attempt awaited its TLS context.
    if (stop.signal.aborted) {
      queueMicrotask(fn);
      return () => undefined;
    }
    stop.signal.addEventListener('abort', fn, { once: true });
    return () => stop.signal.removeEventListener('abort', fn);
  };
  let onFirstConnection: (() => void) | undefined;
  const firstConnection = new Promise<void>((resolve) => {
    onFirstConnection = resolve;
  });

  function dispatch(topic: string, payload: Buffer, retained: boolean): void {
    // Precondition: retained deliveries are dropped (see the module comment).
    if (retained) {
      logger.debug({ topic: loggedTopic(topic) }, 'retained mqtt message ignored');
      return;
    }
    logger.debug({ topic: loggedTopic(topic) }, 'mqtt message received');
    for (const [filter, set] of handlers) {
      if (!topicMatches(filter, topic)) continue;
      for (const handler of set) {
        try {
          handler(topic, payload);
        } catch (error) {
          logger.error({ err: error, topic: loggedTopic(topic) }, 'mqtt subscriber failed');
        }
      }
    }
  }

  async function subscribeOn(connection: MqttClient, filters: readonly string[]): Promise<void> {
    if (filters.length === 0) return;
    const granted = await connection.subscribeAsync(Object.fromEntries(filters.map((filter) => [filter, { qos: 1 as const }])));
    const refused = granted.filter((grant) => (grant.qos as number) === SUBACK_FAILURE).map((grant) => grant.topic);
    if (refused.length > 0) throw new BrokerUnavailable(`the MQTT broker refused the controller's subscription to ${refused.map(loggedTopic).join(', ')}: check its ACL`);
  }

  /** One connection from CONNECT to its close; resolves whether it got as far as CONNACK. */
  async function attempt(): Promise<boolean> {
    let connection: MqttClient | undefined;
    const forget: (() => void)[] = [];
    try {
      // A KMS that hangs must not keep close() waiting.
      const secureContext = await Promise.race([
        options.secureContext(),
        new Promise<never>((_, reject) => forget.push(onStop(() => reject(new BrokerUnavailable('closed while waiting for the TLS context'))))),
      ]);
      const clientOptions: IClientOptions & { secureContext: SecureContext; minVersion: 'TLSv1.2' } = {
        protocol: 'mqtts',
        host,
        port,
        clientId: options.clientId,
        protocolVersion: 4,
        // [MQTT-3.1.2-6] no broker-side session: the subscriptions are made again on every connect.
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: connectTimeoutMs,
        keepalive: KEEPALIVE_S,
        resubscribe: false,
        rejectUnauthorized: true,
        secureContext,
        minVersion: 'TLSv1.2',
      };
      connection = connect(clientOptions);
      const current = connection;
      current.on('error', (error) => {
        lastError = error;
        logger.debug({ err: error, broker: address }, 'mqtt connection error');
      });
      current.on('message', (topic, payload, packet) => dispatch(topic, payload, packet.retain === true));
      const closedPromise = new Promise<void>((resolve) => {
        current.once('close', () => resolve());
        forget.push(onStop(() => resolve()));
      });
      const up = await new Promise<boolean>((resolve) => {
        current.once('connect', () => resolve(true));
        current.once('close', () => resolve(false));
        forget.push(onStop(() => resolve(false)));
      });
      if (!up) return false;
      await subscribeOn(current, [...handlers.keys()]);
      client = current;
      const reconnected = everConnected;
      everConnected = true;
      logger.info({ broker: address, reconnected }, 'connected to the MQTT broker');
      onFirstConnection?.();
      try {
        await options.onConnected?.(reconnected);
      } catch (error) {
        logger.error({ err: error }, 'work after connecting to the MQTT broker failed');
      }
      await closedPromise;
      if (!closed) logger.warn({ broker: address, reason: errorCode(lastError) }, 'lost the connection to the MQTT broker; reconnecting with backoff');
      return true;
    } catch (error) {
      lastError = error;
      // A refused subscription is a misconfigured ACL, worth a warning; transport errors are routine while retrying.
      if (error instanceof FleetkeyError) logger.warn({ err: error, broker: address }, 'mqtt connection attempt failed');
      else logger.debug({ err: error, broker: address }, 'mqtt connection attempt failed');
      return false;
    } finally {
      for (const undo of forget) undo();
      if (client === connection) client = undefined;
      if (connection !== undefined) await connection.endAsync(true).catch(() => undefined);
    }
  }

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const forget = onStop(() => {
        clearTimeout(timer);
        resolve();
      });
      const timer = setTimeout(() => {
        forget();
        resolve();
      }, ms);
    });

  const loop = (async () => {
    let failures = 0;
    let outageLogged = false;
    while (!closed) {
      const wasUp = await attempt();
      if (closed) break;
      if (wasUp) {
        failures = 0;
        outageLogged = false;
      } else {
        failures += 1;
        if (!outageLogged && everConnected) {
          logger.warn({ broker: address, reason: errorCode(lastError) }, 'the MQTT broker is not reachable; retrying with backoff');
          outageLogged = true;
        }
      }
      // Full jitter (capped exponential): robots are not the only ones that reconnect at once.
      const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(failures, 30));
      await sleep(Math.floor(random() * ceiling) + 1);
    }
  })();

  const close = async (): Promise<void> => {
    if (!closed) {
      closed = true;
      stop.abort();
    }
    await loop;
  };

  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      firstConnection,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new BrokerUnavailable(`the MQTT broker at ${address} was not reachable within ${Math.round(firstConnectTimeoutMs / 1000)} s${lastErrorText()}`)), firstConnectTimeoutMs);
      }),
    ]);
  } catch (error) {
    await close();
    throw error;
  } finally {
    clearTimeout(timer);
  }

  return Object.freeze({
    address,
    connected: () => client?.connected === true,
    close,
    async publish(topic: string, payload: Uint8Array, publishOptions: { readonly qos: 0 | 1; readonly retain: boolean }): Promise<void> {
      const spec = TOPIC_SPECS[parseTopic(topic).kind];
      if (!(payload instanceof Uint8Array)) throw new TypeError('"payload" expected a Uint8Array');
      if (payload.length > spec.maxPayloadBytes) throw new RangeError(`"payload" expected at most ${spec.maxPayloadBytes} bytes for this topic, got ${payload.length}`);
      const { qos, retain } = publishOptions;
      if (qos !== 0 && qos !== 1) throw new RangeError('"qos" expected 0 or 1');
      const connection = client;
      if (connection === undefined || !connection.connected) throw new BrokerUnavailable(`not connected to the MQTT broker at ${address}`);
      let timeout: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          connection.publishAsync(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos, retain }),
          new Promise<never>((_, reject) => {
            timeout = setTimeout(() => reject(new BrokerUnavailable(`the MQTT broker at ${address} did not acknowledge a publish within ${publishTimeoutMs} ms`)), publishTimeoutMs);
          }),
        ]);
      } finally {
        clearTimeout(timeout);
      }
    },
    async subscribe(topicFilter: string, handler: Handler): Promise<() => Promise<void>> {
      const filter = checkFilter(topicFilter);
      if (typeof handler !== 'function') throw new TypeError('"handler" expected a function');
      let set = handlers.get(filter);
      if (set === undefined) {
        if (handlers.size >= MAX_FILTERS) throw new RangeError(`"topicFilter": at most ${MAX_FILTERS} filters`);
        set = new Set();
        handlers.set(filter, set);
        // While disconnected the filter is subscribed at the next connect.
        const connection = client;
        if (connection?.connected === true) {
          try {
            await subscribeOn(connection, [filter]);
          } catch (error) {
            handlers.delete(filter);
            throw error;
          }
        }
      }
      set.add(handler);
      const entry = set;
      return async () => {
        if (!entry.delete(handler) || entry.size > 0 || handlers.get(filter) !== entry) return;
        handlers.delete(filter);
        const connection = client;
        if (connection?.connected === true) await connection.unsubscribeAsync(filter).catch(() => undefined);
      };
    },
    disconnectDevice(fleetId: string, deviceId: string): Promise<boolean> {
      // The broker's own administration would be needed; see docs/operations.md for what protects instead.
      logger.warn({ fleet: fleetId, deviceId }, 'the external MQTT broker keeps a revoked device connected until it disconnects; its messages are dropped and its keys rotated');
      return Promise.resolve(false);
    },
  });
}
