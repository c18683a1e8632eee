/**
 * The gRPC half of the link: DeviceService over mutual TLS, reconnected forever with backoff. Each
 * connection first fetches the current key bundle and revocation list (GetKeyBundle), then opens
 * StreamCommands with the persisted sequences (the controller replays what the robot missed, then
 * forwards what is issued) and hands every item, in order, to the link, awaiting each (the stream's
 * backpressure). A stream that ends is reconnected; PERMISSION_DENIED (a revoked device) stops
 * the session for good.
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
import { sleep, type Backoff } from './backoff.js';

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
  readonly #stop = new AbortController();
  #attempt: AbortController | undefined;
  #client: DeviceClient | undefined;
  #loop: Promise<void> | undefined;
  #restart = false;
  #outageLogged = false;

  constructor(deps: ControllerSessionDeps) {
    this.#deps = deps;
  }

  start(): void {
    this.#loop ??= this.#run();
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
    this.#restart = true;
    this.#attempt?.abort();
  }

  /** Stops for good; resolves once the loop has ended. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#attempt?.abort();
    // Closing the channel fails the unary calls in flight (an ack, a status report) at once
    // instead of letting shutdown wait for their deadlines.
    const client = this.#client;
    if (client !== undefined) closeQuietly(client);
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { core, logger, backoff } = this.#deps;
    while (!this.#stop.signal.aborted) {
      const attempt = new AbortController();
      this.#attempt = attempt;
      this.#restart = false;
      let client: DeviceClient | undefined;
      try {
        const target = core.state.endpoints().controller;
        client = createClient(DeviceService, target, this.#deps.credentials(), { defaultTimeoutMs: CONTROLLER_CALL_TIMEOUT_MS });
        const answer = await client.getKeyBundle({ knownSequence: BigInt(core.state.sequences().keyBundle) }, { signal: attempt.signal });
        core.recordContact();
        this.#client = client;
        backoff.reset();
        this.#outageLogged = false;
        logger.info({ controller: target }, 'connected to the controller');
        this.#deps.onStateChange();
        if (answer.keyBundle !== undefined) await this.#deps.deliver({ case: 'keyBundle', value: answer.keyBundle }, client);
        if (answer.revocationList !== undefined) await this.#deps.deliver({ case: 'revocationList', value: answer.revocationList }, client);
        await this.#deps.onConnected(client);
        const sequences = core.state.sequences();
        const stream = client.streamCommands(
          { lastCommandSequence: sequences.command, lastKeyBundleSequence: BigInt(sequences.keyBundle), lastRevocationSequence: core.revocationSequence() },
          { signal: attempt.signal },
        );
        for await (const response of stream) {
          core.recordContact();
          const item = response.item;
          if (item.case === undefined) continue;
          await this.#deps.deliver(item, client);
          if (attempt.signal.aborted) break;
        }
        if (!attempt.signal.aborted) logger.info({ controller: target }, 'the controller ended the command stream; reconnecting');
      } catch (error) {
        if (!attempt.signal.aborted) this.#failed(error);
      } finally {
        const wasConnected = this.#client !== undefined;
        this.#client = undefined;
        if (client !== undefined) closeQuietly(client);
        if (wasConnected && !attempt.signal.aborted) logger.warn({}, 'disconnected from the controller');
        // A deliberate reconnect (renewed certificate) is not an outage.
        if (!this.#restart) this.#deps.onStateChange();
      }
      if (this.#stop.signal.aborted) break;
      if (this.#restart) continue;
      await sleep(backoff.next(), this.#stop.signal);
    }
  }

  #failed(error: unknown): void {
    const { logger } = this.#deps;
    // device.proto: a revoked device is refused with PERMISSION_DENIED; connecting again is futile.
    if (error instanceof RpcError && error.status === Status.PERMISSION_DENIED) {
      this.#stop.abort();
      this.#deps.onRevoked(`the controller refused this device (${error.code})`);
      return;
    }
    if (this.#outageLogged) return;
    this.#outageLogged = true;
    const status = error instanceof RpcError ? error.status : undefined;
    logger.warn({ status, err: error instanceof Error ? error.message : String(error) }, 'the controller is not reachable; retrying with backoff');
  }
}

function closeQuietly(client: DeviceClient): void {
  try {
    closeClient(client);
  } catch {
    // Already closed.
  }
}
