/**
 * The gRPC half of the link: DeviceService over mutual TLS, reconnected forever with backoff
 * (./reconnecting.ts). Each connection first fetches the current key bundle and revocation list
 * (GetKeyBundle), then opens StreamCommands with the persisted sequences (the controller replays
 * what the robot missed, then forwards what is issued) and hands every item, in order, to the link,
 * awaiting each (the stream's backpressure). A stream that ends is reconnected; PERMISSION_DENIED
 * (a revoked device) stops the session for good.
 *
 * Trust boundary: the controller is authenticated by TLS against the stored server CA; what it
 * sends is still verified item by item by the link (commands, manifests and lists are signed).
 * Errors are logged once per outage, by status and message, never with payloads.
 */
import type { ChannelCredentials } from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import {
  DeviceService,
  RpcError,
  closeClient,
  createClient,
  type KeyBundle,
  type ServiceClient,
  type SignedCommand,
  type SignedRevocationList,
} from '@fleetkey/protocol';
import type { AgentCore, AgentLogger } from '../runtime/agent-core.js';
import type { Backoff } from './backoff.js';
import { ReconnectLoop, type ReconnectAttempt } from './reconnecting.js';

export type DeviceClient = ServiceClient<typeof DeviceService>;

/** One thing the controller sent. */
export type ControllerItem =
  | { readonly case: 'command'; readonly value: SignedCommand }
  | { readonly case: 'keyBundle'; readonly value: KeyBundle }
  | { readonly case: 'revocationList'; readonly value: SignedRevocationList };

export interface ControllerSessionDeps {
  readonly core: AgentCore;
  readonly logger: AgentLogger;
  readonly backoff: Backoff;
  /** Read at every attempt (after a renewal, the new certificate). @throws when none can be made. */
  readonly credentials: () => ChannelCredentials;
  /** Applies and acknowledges one item in the link's order; never throws. */
  readonly deliver: (item: ControllerItem, client: DeviceClient) => Promise<void>;
  /** Right after GetKeyBundle answered: status report, renewal check. Never throws. */
  readonly onConnected: (client: DeviceClient) => Promise<void>;
  readonly onStateChange: () => void;
  readonly onRevoked: (why: string) => void;
}

/** Deadline of the unary calls (GetKeyBundle, Ack, ReportStatus, RenewCertificate). */
export const CONTROLLER_CALL_TIMEOUT_MS = 30_000;

export class ControllerSession {
  readonly #deps: ControllerSessionDeps;
  readonly #loop: ReconnectLoop;
  #client: DeviceClient | undefined;

  constructor(deps: ControllerSessionDeps) {
    this.#deps = deps;
    this.#loop = new ReconnectLoop({
      backoff: deps.backoff,
      attempt: (attempt) => this.#connect(attempt),
      onOutage: (error) => {
        const status = error instanceof RpcError ? error.status : undefined;
        deps.logger.warn({ status, err: error instanceof Error ? error.message : String(error) }, 'the controller is not reachable; retrying with backoff');
      },
      onEnded: () => deps.onStateChange(),
    });
  }

  start(): void {
    this.#loop.start();
  }

  /** The client while connected (GetKeyBundle answered and the stream not yet failed). */
  client(): DeviceClient | undefined {
    return this.#client;
  }

  connected(): boolean {
    return this.#client !== undefined;
  }

  /** Drops the current connection and connects again at once (new credentials). */
  reconnect(): void {
    this.#loop.restart();
  }

  /** Stops for good; resolves once the loop has ended. */
  async stop(): Promise<void> {
    // close() aborts the attempt at once, so the calls in flight (an ack, a status report) that
    // closing the channel then fails are not taken for an outage, and shutdown does not wait for
    // their deadlines.
    const ended = this.#loop.close();
    const client = this.#client;
    if (client !== undefined) closeQuietly(client);
    await ended;
  }

  /** One connection, from GetKeyBundle to the end of the command stream (./reconnecting.ts runs these forever). */
  async #connect({ signal, connected, failed, giveUp }: ReconnectAttempt): Promise<void> {
    const { core, logger } = this.#deps;
    let client: DeviceClient | undefined;
    try {
      const target = core.state.endpoints().controller;
      client = createClient(DeviceService, target, this.#deps.credentials(), { defaultTimeoutMs: CONTROLLER_CALL_TIMEOUT_MS });
      const answer = await client.getKeyBundle({ knownSequence: BigInt(core.state.sequences().keyBundle) }, { signal });
      core.recordContact();
      this.#client = client;
      connected();
      logger.info({ controller: target }, 'connected to the controller');
      this.#deps.onStateChange();
      if (answer.keyBundle !== undefined) await this.#deps.deliver({ case: 'keyBundle', value: answer.keyBundle }, client);
      if (answer.revocationList !== undefined) await this.#deps.deliver({ case: 'revocationList', value: answer.revocationList }, client);
      await this.#deps.onConnected(client);
      const sequences = core.state.sequences();
      const stream = client.streamCommands(
        { lastCommandSequence: sequences.command, lastKeyBundleSequence: BigInt(sequences.keyBundle), lastRevocationSequence: core.revocationSequence() },
        { signal },
      );
      for await (const response of stream) {
        core.recordContact();
        const item = response.item;
        if (item.case === undefined) continue;
        await this.#deps.deliver(item, client);
        if (signal.aborted) break;
      }
      if (!signal.aborted) logger.info({ controller: target }, 'the controller ended the command stream; reconnecting');
    } catch (error) {
      // device.proto: a revoked device is refused with PERMISSION_DENIED; connecting again is futile.
      if (!signal.aborted && error instanceof RpcError && error.status === Status.PERMISSION_DENIED) {
        giveUp();
        this.#deps.onRevoked(`the controller refused this device (${error.code})`);
      } else {
        failed(error);
      }
    } finally {
      const wasConnected = this.#client !== undefined;
      this.#client = undefined;
      if (client !== undefined) closeQuietly(client);
      if (wasConnected && !signal.aborted) logger.warn({}, 'disconnected from the controller');
    }
  }
}

function closeQuietly(client: DeviceClient): void {
  try {
    closeClient(client);
  } catch {
    // Already closed.
  }
}
