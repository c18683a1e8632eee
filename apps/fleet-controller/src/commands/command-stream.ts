/**
 * DeviceService.StreamCommands: the authoritative catch-up path of a robot (MQTT retained topics
 * keep only the latest message). On connect it replays, in this order,
 * 1. every stored command after `last_command_sequence` that concerns the robot (fleet scope, its
 *    group, or itself), oldest first — expired ones too, so the robot acks what it refused;
 * 2. its current key bundle when newer than `last_key_bundle_sequence`;
 * 3. the fleet's revocation list when newer than `last_revocation_sequence`;
 * then stays open and forwards new commands, bundles and lists for the robot (FleetEvents) until
 * the robot cancels, the controller stops, or the robot is revoked (after its REVOKE command).
 *
 * Listeners are attached BEFORE the replay reads the store, and whatever they catch is delivered
 * after it only when newer than what the replay sent: nothing issued during the replay is lost,
 * nothing is sent twice.
 *
 * Bounds: at most MAX_QUEUED_STREAM_ITEMS items wait for a slow robot; past that the stream ends
 * (OK) and the robot reconnects and replays from its last sequences, which is exactly the recovery
 * it needs. Open streams are tracked so `closeAll()` ends them before the transports close.
 *
 * Trust boundary: the robot is authenticated by its client certificate (requireDevice; a revoked
 * one is PERMISSION_DENIED); the request carries only sequences, which select what to replay and
 * never whom. Everything sent is signed (commands, manifests, lists) or wrapped to this robot.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { MAX_SIGNED_COMMAND_BYTES, SignedCommandSchema, decodeMessage, type CallContext, type KeyBundle, type SignedRevocationList, type StreamCommandsRequest, type StreamCommandsResponseSchema } from '@fleetkey/protocol';
import { loadRevocationList } from '../fleets/settings.js';
import { keyBundleFor } from '../provisioning/device-keys.js';
import { requireDevice } from '../provisioning/device-service.js';
import { sequenceNumber } from '../operator/requests.js';
import type { IssuedCommand } from '../store/index.js';
import type { CommandIssuerDeps } from './issue-command.js';
import { revocationListSequence } from './revocation.js';
import { scopeConcerns } from './scope.js';

/** Items a stream holds for a robot that reads slower than the controller issues. */
export const MAX_QUEUED_STREAM_ITEMS = 256;
/** Commands read from the store per replay page (the store's own bound). */
const REPLAY_PAGE = 1000;

type StreamItem = MessageInitShape<typeof StreamCommandsResponseSchema>;
type Live =
  | { readonly kind: 'command'; readonly command: IssuedCommand }
  | { readonly kind: 'bundle'; readonly bundle: KeyBundle }
  | { readonly kind: 'revocationList'; readonly list: SignedRevocationList; readonly sequence: number };

/** A bounded queue one producer fills and one async consumer drains; `close()` wakes the consumer. */
class LiveQueue {
  readonly #items: Live[] = [];
  #waiter: (() => void) | undefined;
  #closed = false;
  overflowed = false;

  push(item: Live): void {
    if (this.#closed) return;
    if (this.#items.length >= MAX_QUEUED_STREAM_ITEMS) {
      this.overflowed = true;
      this.close();
      return;
    }
    this.#items.push(item);
    this.#wake();
  }

  close(): void {
    this.#closed = true;
    this.#wake();
  }

  /** The next item; undefined once closed and drained (an overflow drops what is queued). */
  async next(): Promise<Live | undefined> {
    for (;;) {
      if (this.overflowed) return undefined;
      const item = this.#items.shift();
      if (item !== undefined) return item;
      if (this.#closed) return undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}

/** The open streams of one controller, so they can all be ended at shutdown. */
export class CommandStreams {
  readonly #open = new Set<() => void>();
  #closed = false;

  /** Registers a stream's closer; returns the function that unregisters it. */
  add(close: () => void): () => void {
    if (this.#closed) close();
    this.#open.add(close);
    return () => this.#open.delete(close);
  }

  get size(): number {
    return this.#open.size;
  }

  /** Ends every open stream (they finish with OK) and refuses new ones from here on. */
  closeAll(): void {
    this.#closed = true;
    for (const close of this.#open) close();
    this.#open.clear();
  }
}

function commandItem(command: IssuedCommand): StreamItem {
  return { item: { case: 'command', value: decodeMessage(SignedCommandSchema, command.signedCommand, { maxBytes: MAX_SIGNED_COMMAND_BYTES }) } };
}

/** The StreamCommands handler (see the module comment). */
export function streamCommandsHandler(deps: CommandIssuerDeps, streams: CommandStreams) {
  const { core, events, logger } = deps;
  return async function* streamCommands(request: StreamCommandsRequest, context: CallContext): AsyncGenerator<StreamItem> {
    const { device, publicKey, fleetId, deviceId } = await requireDevice(core, context);
    let lastCommand = sequenceNumber('last_command_sequence', request.lastCommandSequence);
    let lastBundle = sequenceNumber('last_key_bundle_sequence', request.lastKeyBundleSequence);
    let lastList = sequenceNumber('last_revocation_sequence', request.lastRevocationSequence);
    await core.repository.touchDevice(fleetId, deviceId);

    const queue = new LiveQueue();
    const detach = [
      events.on('command', (command) => {
        if (command.fleetId === fleetId) queue.push({ kind: 'command', command });
      }),
      events.on('bundle', (bundleFleet, bundleDevice, bundle) => {
        if (bundleFleet === fleetId && bundleDevice === deviceId) queue.push({ kind: 'bundle', bundle });
      }),
      events.on('revocationList', (listFleet, list, sequence) => {
        if (listFleet === fleetId) queue.push({ kind: 'revocationList', list, sequence });
      }),
      streams.add(() => queue.close()),
    ];
    const onAbort = (): void => queue.close();
    context.signal.addEventListener('abort', onAbort);
    try {
      // 1. Missed commands, oldest first. The cursor advances over commands for others too, so a
      //    live command the replay already covered is not sent again.
      for (;;) {
        const page = await core.repository.listCommands(fleetId, { afterSequence: lastCommand, limit: REPLAY_PAGE });
        for (const command of page) {
          lastCommand = command.sequence;
          if (scopeConcerns(command.scope, device)) yield commandItem(command);
        }
        if (page.length < REPLAY_PAGE) break;
      }
      // 2. A newer key bundle, 3. a newer revocation list.
      const bundle = await keyBundleFor(core, { fleetId, groupId: device.groupId, deviceId, publicKey });
      if (Number(bundle.sequence) > lastBundle) {
        lastBundle = Number(bundle.sequence);
        yield { item: { case: 'keyBundle', value: bundle } };
      }
      const list = await loadRevocationList(core.repository, fleetId);
      const listSequence = revocationListSequence(list);
      if (list !== undefined && listSequence > lastList) {
        lastList = listSequence;
        yield { item: { case: 'revocationList', value: list } };
      }
      // Then whatever is issued from now on, until cancelled, stopped or revoked.
      for (;;) {
        const live = await queue.next();
        if (live === undefined) {
          if (queue.overflowed) logger.warn({ fleet: fleetId, deviceId, bound: MAX_QUEUED_STREAM_ITEMS }, 'command stream fell behind; ending it so the robot replays');
          return;
        }
        if (live.kind === 'command') {
          const { command } = live;
          if (command.sequence <= lastCommand) continue;
          lastCommand = command.sequence;
          if (!scopeConcerns(command.scope, device)) continue;
          yield commandItem(command);
          // A revoked robot gets its REVOKE, then nothing more.
          if (command.action === 'revoke' && command.scope.kind === 'device') return;
        } else if (live.kind === 'bundle') {
          if (Number(live.bundle.sequence) <= lastBundle) continue;
          lastBundle = Number(live.bundle.sequence);
          yield { item: { case: 'keyBundle', value: live.bundle } };
        } else {
          if (live.sequence <= lastList) continue;
          lastList = live.sequence;
          yield { item: { case: 'revocationList', value: live.list } };
        }
      }
    } finally {
      context.signal.removeEventListener('abort', onAbort);
      for (const off of detach) off();
    }
  };
}
