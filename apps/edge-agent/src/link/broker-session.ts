/**
 * The MQTT half of the link: MQTT 3.1.1 over TLS to the fleet's broker with the device certificate
 * (the broker requires the client id to equal the certificate's device id, and keeps no session:
 * runtime/mqtt-broker.ts in the controller), reconnected forever with backoff (./reconnecting.ts).
 * It subscribes at QoS 1 to exactly the topics a device may read and the link needs: its own keys
 * and commands topics, the fleet's emergency topic and the revocations topic (all retained, so a
 * robot that returns gets the latest of each). Payloads go to the link as bytes; the link verifies
 * them.
 *
 * Only `mqtts://` is accepted: the broker sees topics and signed payloads, and the device key
 * authenticates the robot, so plain TCP is never an option.
 *
 * Trust boundary: the broker is authenticated by TLS against the stored server CA but is not
 * trusted with integrity (messages.proto): every payload is checked by the link. Topics from the
 * broker are parsed strictly and must name this fleet and this device.
 */
import type { SecureContext } from 'node:tls';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import {
  deviceCommandsTopic,
  deviceKeysTopic,
  emergencyTopic,
  parseTopic,
  revocationsTopic,
} from '@fleetkey/protocol';
import { InvalidArgument } from '@fleetkey/key-types';
import type { AgentCore, AgentLogger } from '../runtime/agent-core.js';
import type { Backoff } from './backoff.js';
import { ReconnectLoop, type ReconnectAttempt } from './reconnecting.js';

/** What a broker message carries, by topic. */
export type BrokerPayloadKind = 'command' | 'keyBundle' | 'revocationList';

export interface BrokerSessionDeps {
  readonly core: AgentCore;
  readonly logger: AgentLogger;
  readonly backoff: Backoff;
  /** Read at every attempt. @throws when none can be made. */
  readonly secureContext: () => SecureContext;
  /** A payload for this robot (topic already checked); never throws. */
  readonly onPayload: (kind: BrokerPayloadKind, payload: Uint8Array) => void;
  readonly onStateChange: () => void;
}

/** CONNECT to CONNACK, TLS handshake included. */
export const BROKER_CONNECT_TIMEOUT_MS = 30_000;
/** MQTT keepalive (seconds): a dead broker is noticed within 1.5 times this. */
export const BROKER_KEEPALIVE_S = 60;

/**
 * Host and port of an `mqtts://host:port` address.
 * @throws InvalidArgument for anything else (another scheme, a path, credentials in the URL).
 */
export function parseBrokerAddress(address: string): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new InvalidArgument('the broker address is not a URL');
  }
  // Precondition: TLS only, and nothing in the address but host and port.
  if (url.protocol !== 'mqtts:') throw new InvalidArgument('the broker address must use mqtts://');
  if (url.username !== '' || url.password !== '' || (url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw new InvalidArgument('the broker address must be mqtts://host:port');
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port === '' ? 8883 : Number(url.port) };
}

export class BrokerSession {
  readonly #deps: BrokerSessionDeps;
  readonly #loop: ReconnectLoop;
  #client: MqttClient | undefined;

  constructor(deps: BrokerSessionDeps) {
    this.#deps = deps;
    this.#loop = new ReconnectLoop({
      backoff: deps.backoff,
      attempt: (attempt) => this.#connect(attempt),
      onOutage: (error) => deps.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'the broker is not reachable; retrying with backoff'),
      onEnded: () => deps.onStateChange(),
    });
  }

  start(): void {
    this.#loop.start();
  }

  connected(): boolean {
    return this.#client?.connected === true;
  }

  /** The topics this robot subscribes to. */
  topics(): string[] {
    const { fleet, deviceId } = this.#deps.core.identity;
    return [deviceKeysTopic(fleet, deviceId), deviceCommandsTopic(fleet, deviceId), emergencyTopic(fleet), revocationsTopic(fleet)];
  }

  /**
   * Publishes while connected (QoS 1 waits for the PUBACK).
   * @returns false when not connected or the publish failed.
   */
  async publish(topic: string, payload: Uint8Array, qos: 0 | 1): Promise<boolean> {
    const client = this.#client;
    if (client === undefined || !client.connected) return false;
    try {
      await client.publishAsync(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos, retain: false });
      return true;
    } catch (error) {
      this.#deps.logger.warn({ err: error instanceof Error ? error.message : String(error), topic }, 'publishing to the broker failed');
      return false;
    }
  }

  /** Subscribes to the keys topic again, which delivers its retained bundle again. */
  async refetchKeys(): Promise<void> {
    const client = this.#client;
    if (client === undefined || !client.connected) return;
    const { fleet, deviceId } = this.#deps.core.identity;
    const topic = deviceKeysTopic(fleet, deviceId);
    try {
      await client.unsubscribeAsync(topic);
      await client.subscribeAsync(topic, { qos: 1 });
    } catch (error) {
      this.#deps.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'subscribing to the keys topic again failed');
    }
  }

  reconnect(): void {
    this.#loop.restart();
  }

  async stop(): Promise<void> {
    await this.#loop.close();
  }

  #onMessage(topic: string, payload: Buffer): void {
    const { core, onPayload } = this.#deps;
    try {
      core.recordContact();
      const parsed = parseTopic(topic);
      // Precondition: only this fleet's topics, and only this device's device topics.
      if (parsed.fleet !== core.identity.fleet) return;
      if ('device' in parsed && parsed.device !== core.identity.deviceId) return;
      // An empty retained message only clears the topic.
      if (payload.byteLength === 0) return;
      const kind: BrokerPayloadKind | undefined =
        parsed.kind === 'device-keys' ? 'keyBundle' : parsed.kind === 'revocations' ? 'revocationList' : parsed.kind === 'emergency' || parsed.kind === 'device-commands' ? 'command' : undefined;
      // Copied: the client may reuse its buffer once the handler returns.
      if (kind !== undefined) onPayload(kind, new Uint8Array(payload));
    } catch (error) {
      this.#deps.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'broker message ignored');
    }
  }

  /** One connection, from CONNECT to its close (./reconnecting.ts runs these forever). */
  async #connect({ signal, connected, failed }: ReconnectAttempt): Promise<void> {
    const { core, logger } = this.#deps;
    let client: MqttClient | undefined;
    let lastError: unknown;
    try {
      const { host, port } = parseBrokerAddress(core.state.endpoints().broker);
      const options: IClientOptions & { secureContext: SecureContext; minVersion: 'TLSv1.2' } = {
        protocol: 'mqtts',
        host,
        port,
        clientId: core.identity.deviceId,
        protocolVersion: 4,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: BROKER_CONNECT_TIMEOUT_MS,
        keepalive: BROKER_KEEPALIVE_S,
        resubscribe: false,
        rejectUnauthorized: true,
        secureContext: this.#deps.secureContext(),
        minVersion: 'TLSv1.2',
      };
      const connecting = connect(options);
      client = connecting;
      connecting.on('error', (error) => {
        lastError = error;
      });
      connecting.on('message', (topic, payload) => this.#onMessage(topic, payload));
      const up = await new Promise<boolean>((resolve) => {
        connecting.once('connect', () => resolve(true));
        connecting.once('close', () => resolve(false));
        signal.addEventListener('abort', () => resolve(false), { once: true });
      });
      if (!up) throw lastError ?? new Error('the broker closed the connection before CONNACK');
      const closed = new Promise<void>((resolve) => {
        connecting.once('close', () => resolve());
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      // Set before subscribing: acks of the retained messages that follow the SUBACK go out here.
      this.#client = connecting;
      const granted = await connecting.subscribeAsync(Object.fromEntries(this.topics().map((topic) => [topic, { qos: 1 as const }])));
      for (const grant of granted) {
        // [MQTT-3.9.3-2] 0x80 is the broker's refusal of that one filter.
        if (grant.qos === 128) logger.warn({ topic: grant.topic }, 'the broker refused a subscription');
      }
      core.recordContact();
      connected();
      logger.info({ broker: `${host}:${port}` }, 'connected to the broker');
      this.#deps.onStateChange();
      await closed;
      if (!signal.aborted) logger.warn({ err: lastError instanceof Error ? lastError.message : undefined }, 'disconnected from the broker');
    } catch (error) {
      failed(error);
    } finally {
      this.#client = undefined;
      if (client !== undefined) await client.endAsync(true).catch(() => undefined);
    }
  }
}
