/**
 * The controller's in-process fan-out of what robots must hear about: signed commands, key
 * bundles and revocation lists. Producers (rotation, revocation, lockdown) emit here after the
 * change has committed; the transports listen — the MQTT publisher (retained messages) and every
 * open DeviceService.StreamCommands stream — so one issue reaches a robot on whichever path it
 * is connected.
 *
 * Trust boundary: everything emitted is already signed (commands, manifests, revocation lists) or
 * wrapped to one device (bundles); listeners forward bytes, they never re-sign or re-serialize.
 */
import type { KeyBundle, SignedRevocationList } from '@fleetkey/protocol';
import type { EmbeddedBroker } from '../runtime/mqtt-broker.js';
import type { IssuedCommand } from '../store/index.js';

export interface FleetEventMap {
  /** A signed command was issued (stored with its sequence); `command.scope` says whom it concerns. */
  readonly command: (command: IssuedCommand) => void;
  /** A device's key bundle changed (new epoch, activation, retirement). */
  readonly bundle: (fleetId: string, deviceId: string, bundle: KeyBundle) => void;
  /** The fleet's signed revocation list changed. */
  readonly revocationList: (fleetId: string, list: SignedRevocationList, sequence: number) => void;
}

type Listener<K extends keyof FleetEventMap> = FleetEventMap[K];

/**
 * A small typed event bus. A listener that throws is isolated (reported to `onListenerError`),
 * so one broken stream cannot stop a command from reaching the others.
 */
export class FleetEvents {
  readonly #listeners: { [K in keyof FleetEventMap]: Set<Listener<K>> } = { command: new Set(), bundle: new Set(), revocationList: new Set() };
  readonly #onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void = () => undefined) {
    this.#onListenerError = onListenerError;
  }

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof FleetEventMap>(event: K, listener: Listener<K>): () => void {
    const set = this.#listeners[event] as Set<Listener<K>>;
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<K extends keyof FleetEventMap>(event: K, ...args: Parameters<FleetEventMap[K]>): void {
    for (const listener of this.#listeners[event] as Set<(...a: Parameters<FleetEventMap[K]>) => void>) {
      try {
        listener(...args);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  listenerCount(event: keyof FleetEventMap): number {
    return this.#listeners[event].size;
  }
}

/** What the controller can do on the broker (the embedded aedes broker implements it; an external broker later). */
export interface FleetPublisher {
  /** Publishes as the controller (bypasses device ACLs; topics must be valid fleetkey topics). */
  publish(topic: string, payload: Uint8Array, options: { readonly qos: 0 | 1; readonly retain: boolean }): Promise<void>;
  /** Drops a device's broker connection (revocation); false when it was not connected. */
  disconnectDevice(fleetId: string, deviceId: string): Promise<boolean>;
  /** Subscribes the controller to a topic filter (acks and status reports from `up/` topics); returns an unsubscribe function. */
  subscribe(filter: string, handler: (topic: string, payload: Uint8Array) => void): Promise<() => Promise<void>>;
}

// The embedded broker is a FleetPublisher as it stands (checked by the compiler, no adapter).
export type EmbeddedBrokerIsAPublisher = EmbeddedBroker extends FleetPublisher ? true : never;
