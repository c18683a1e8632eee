/**
 * One established TLS connection to a peer agent whose certificate has been validated: frames in
 * and out (frames.ts), backpressure both ways, and one well-defined end.
 *
 * Reading: decoded frames queue in order; DATA frames go to the sink (the local app's gRPC writer)
 * one at a time, and the socket is paused while a delivery is pending, so a fast peer is slowed by
 * TCP instead of filling memory. CLOSE, end of stream and malformed input are handled in the same
 * order, so an app sees every byte the peer sent before the close. Until a sink is attached (a
 * held incoming connection, a dial waiting for ACCEPT) DATA stays unread in the socket.
 *
 * Ending: the first of peer CLOSE, local close (app, lock, revocation, shutdown), malformed input,
 * end of stream or socket error settles `ended`; a local close sends a CLOSE frame and ends the TLS
 * stream; the socket is destroyed after LINGER_MS if the peer never finishes its side.
 *
 * Trust boundary: the peer is a fleet member, not a trusted party: every frame is bounded, an
 * ACCEPT or DATA out of place is malformed, and nothing it sends reaches a log line but its size.
 */
import type { TLSSocket } from 'node:tls';
import type { ValidatedDevice } from '@fleetkey/crypto';
import { PeerRefused } from '@fleetkey/key-types';
import type { MessageMalformed } from '@fleetkey/protocol';
import type { AgentLogger } from '../runtime/agent-core.js';
import { PeerUnavailable } from './errors.js';
import { FrameDecoder, MAX_DATA_BYTES, encodeAccept, encodeClose, encodeData, type Frame } from './frames.js';

/** How long a locally closed connection waits for the peer to finish its side before it is cut. */
export const LINGER_MS = 5_000;

/** Close reasons this agent sends and shows (the contract: a lockdown closes with "locked"). */
export const CLOSE_REASON = Object.freeze({
  locked: 'locked',
  revokedToPeer: 'revoked',
  peerRevoked: 'peer revoked',
  expiredToPeer: 'certificate expired',
  peerExpired: 'peer certificate expired',
  shutdown: 'agent shutting down',
  cancelled: 'cancelled',
  protocolError: 'protocol error',
  malformedToPeer: 'malformed frame',
  peerMalformed: 'malformed frame from the peer agent',
  noApplication: 'no application is waiting for this peer',
  busy: 'busy',
  peerEnded: 'the peer agent ended the connection',
  connectionLost: 'connection to the peer agent lost',
} as const);

export type LinkRole = 'dialer' | 'acceptor';

export type LinkEndCause = 'peer-close' | 'local-close' | 'malformed' | 'eof' | 'error';

export interface LinkEnd {
  readonly cause: LinkEndCause;
  /** The reason as the local application is told it. */
  readonly reason: string;
}

export type DataSink = (data: Uint8Array) => Promise<void>;

export interface PeerLinkOptions {
  readonly socket: TLSSocket;
  readonly peer: ValidatedDevice;
  /** `host:port` of the other end, for logs. */
  readonly remote: string;
  readonly role: LinkRole;
  readonly logger: AgentLogger;
}

type Queued = Frame | { readonly type: 'eof' } | { readonly type: 'lost' } | { readonly type: 'malformed'; readonly error: MessageMalformed };

export class PeerLink {
  readonly peer: ValidatedDevice;
  readonly remote: string;
  readonly role: LinkRole;
  /** Settles once, with why the link ended. Never rejects. */
  readonly ended: Promise<LinkEnd>;
  /** Resolves when the socket is closed for good. */
  readonly closed: Promise<void>;
  readonly #socket: TLSSocket;
  readonly #logger: AgentLogger;
  readonly #decoder = new FrameDecoder();
  readonly #queue: Queued[] = [];
  readonly #drainWaiters = new Set<() => void>();
  readonly #accepted: Promise<void>;
  #resolveEnded!: (end: LinkEnd) => void;
  #resolveAccepted!: () => void;
  #rejectAccepted!: (error: Error) => void;
  #end: LinkEnd | undefined;
  #sink: DataSink | undefined;
  #reading = false;
  #pumping = false;
  #acceptSeen = false;
  #eofQueued = false;
  #linger: NodeJS.Timeout | undefined;

  constructor(options: PeerLinkOptions) {
    this.peer = options.peer;
    this.remote = options.remote;
    this.role = options.role;
    this.#socket = options.socket;
    this.#logger = options.logger;
    this.ended = new Promise((resolve) => (this.#resolveEnded = resolve));
    this.#accepted = new Promise<void>((resolve, reject) => {
      this.#resolveAccepted = resolve;
      this.#rejectAccepted = reject;
    });
    // Awaited only by a dialer; the rejection must not surface as unhandled elsewhere.
    this.#accepted.catch(() => undefined);
    this.closed = new Promise((resolve) => this.#socket.once('close', () => resolve()));
    this.#socket.on('error', (error: NodeJS.ErrnoException) => {
      if (this.#end === undefined) this.#logger.info({ peer: this.peer.deviceId, remote: this.remote, code: error.code ?? 'ERROR' }, 'peer channel connection failed');
      this.#finish({ cause: 'error', reason: CLOSE_REASON.connectionLost });
    });
    this.#socket.on('drain', () => this.#wakeWriters());
    this.#socket.once('close', () => {
      if (this.#linger !== undefined) clearTimeout(this.#linger);
      // Frames read before the socket closed are still delivered, in order, before the end.
      if (this.#sink !== undefined && (this.#pumping || this.#queue.length > 0)) {
        if (!this.#eofQueued) this.#queue.push({ type: 'lost' });
        void this.#pump();
      } else {
        this.#finish({ cause: 'error', reason: CLOSE_REASON.connectionLost });
      }
    });
    // Dead peers are found even on an idle channel.
    this.#socket.setKeepAlive(true, 30_000);
  }

  get isEnded(): boolean {
    return this.#end !== undefined;
  }

  /**
   * Dialer only: resolves when the accepting agent sent ACCEPT.
   * @throws PeerUnavailable (it closed with a reason first) | PeerRefused (it cut the connection:
   * typically our certificate was refused) — or the end of a local close.
   */
  accepted(): Promise<void> {
    return this.#accepted;
  }

  /** Starts reading frames from the socket (DATA waits for a sink). */
  start(): void {
    if (this.#reading) return;
    this.#reading = true;
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('end', () => {
      this.#eofQueued = true;
      this.#queue.push({ type: 'eof' });
      void this.#pump();
    });
  }

  /** Acceptor only: tells the dialing agent a local app took the connection, and starts reading. */
  accept(): void {
    if (this.role !== 'acceptor' || this.#end !== undefined) return;
    this.#socket.write(encodeAccept());
    this.start();
  }

  /** Where DATA from the peer goes from now on (the socket stays paused while it is busy). */
  setSink(sink: DataSink): void {
    this.#sink = sink;
    void this.#pump();
  }

  /**
   * Sends DATA; resolves when the socket took it (waits for 'drain' when its buffer is full).
   * @throws PeerUnavailable once the link has ended. RangeError over MAX_DATA_BYTES.
   */
  async send(data: Uint8Array): Promise<void> {
    if (data.length > MAX_DATA_BYTES) throw new RangeError(`"data" expected at most ${MAX_DATA_BYTES} bytes, got ${data.length}`);
    if (this.#end !== undefined) throw new PeerUnavailable('the channel is closed');
    if (this.#socket.write(encodeData(data))) return;
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        this.#drainWaiters.delete(wake);
        resolve();
      };
      this.#drainWaiters.add(wake);
    });
  }

  /**
   * Ends the link from this side: a CLOSE frame with `toPeer`, then the end of the TLS stream. The
   * local app is told `toApp` (default: the same reason). Does nothing once ended.
   */
  close(toPeer: string, toApp: string = toPeer): void {
    if (this.#end !== undefined) return;
    this.#finish({ cause: 'local-close', reason: toApp });
    this.#endSocket(toPeer);
  }

  /** Cuts the connection without a CLOSE frame. */
  destroy(): void {
    this.#finish({ cause: 'error', reason: CLOSE_REASON.connectionLost });
    this.#socket.destroy();
  }

  #endSocket(reason: string | undefined): void {
    if (this.#socket.destroyed) return;
    if (reason !== undefined && this.#socket.writable) this.#socket.end(encodeClose(reason));
    else this.#socket.end();
    this.#linger = setTimeout(() => this.#socket.destroy(), LINGER_MS);
    this.#linger.unref();
  }

  #onData(chunk: Buffer): void {
    // After the end, input is read only to reach the peer's end of stream, and dropped.
    if (this.#end !== undefined) return;
    const { frames, error } = this.#decoder.push(chunk);
    this.#queue.push(...frames);
    if (error !== undefined) this.#queue.push({ type: 'malformed', error });
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#end === undefined && this.#queue.length > 0) {
        const item = this.#queue[0]!;
        // Precondition: a dialer gets DATA only after ACCEPT.
        if (item.type === 'data' && this.role === 'dialer' && !this.#acceptSeen) {
          this.#malformed('data before accept');
          break;
        }
        if (item.type === 'data' && this.#sink === undefined) {
          this.#socket.pause();
          return;
        }
        this.#queue.shift();
        switch (item.type) {
          case 'data': {
            this.#socket.pause();
            try {
              await this.#sink!(item.data);
            } catch {
              this.close(CLOSE_REASON.cancelled);
            }
            break;
          }
          case 'accept':
            // Precondition: ACCEPT comes once, first, and only from the accepting side.
            if (this.role !== 'dialer' || this.#acceptSeen) {
              this.#malformed('unexpected accept');
              break;
            }
            this.#acceptSeen = true;
            this.#resolveAccepted();
            break;
          case 'close':
            this.#finish({ cause: 'peer-close', reason: item.reason });
            this.#endSocket(undefined);
            break;
          case 'eof': {
            const truncated = this.#decoder.finish();
            if (truncated !== undefined) this.#malformed(truncated.message);
            else this.#finish({ cause: 'eof', reason: CLOSE_REASON.peerEnded });
            break;
          }
          case 'lost':
            this.#finish({ cause: 'error', reason: CLOSE_REASON.connectionLost });
            break;
          case 'malformed':
            this.#malformed(item.error.message);
            break;
        }
      }
    } finally {
      this.#pumping = false;
      if (this.#reading && this.#end === undefined && this.#queue.length === 0 && !this.#socket.destroyed) this.#socket.resume();
    }
  }

  #malformed(detail: string): void {
    if (this.#end !== undefined) return;
    this.#logger.warn({ peer: this.peer.deviceId, remote: this.remote, detail }, 'peer channel closed: malformed frame');
    this.#finish({ cause: 'malformed', reason: CLOSE_REASON.peerMalformed });
    this.#endSocket(CLOSE_REASON.malformedToPeer);
  }

  #finish(end: LinkEnd): void {
    if (this.#end !== undefined) return;
    this.#end = end;
    this.#queue.length = 0;
    this.#wakeWriters();
    if (!this.#acceptSeen) this.#rejectAccepted(notAcceptedError(end));
    this.#resolveEnded(end);
    // Keep reading (and dropping) so the peer's end of stream, and with it 'close', is seen.
    if (this.#reading && !this.#socket.destroyed) this.#socket.resume();
  }

  #wakeWriters(): void {
    for (const wake of [...this.#drainWaiters]) wake();
  }
}

function notAcceptedError(end: LinkEnd): Error {
  switch (end.cause) {
    case 'peer-close':
      return new PeerUnavailable(`the peer agent closed the channel before accepting it: ${JSON.stringify(end.reason)}`);
    case 'malformed':
      return new PeerRefused('the peer agent sent a malformed frame');
    case 'local-close':
      return new PeerUnavailable(`the channel was closed: ${end.reason}`);
    default:
      // Node accepted the TLS handshake on our side; the peer then cut the connection, which is
      // what it does when its own check of our certificate (fleet, revocation) fails.
      return new PeerRefused('the peer agent closed the connection before accepting it');
  }
}
