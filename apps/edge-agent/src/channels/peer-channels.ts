/**
 * Agent-to-agent channels: mutual TLS 1.3 between two agents with their device certificates, the
 * fleet CA chain as the only trust anchor, and the agent core's revocation list checked on every
 * handshake. Semantics (the contract docs/ copies):
 *
 * Listener. Every agent listens for peers on `listen` (`host:port`, port 0 allowed): a `node:tls`
 * server, TLS 1.3 only, `requestCert` + `rejectUnauthorized`, `ca` = the fleet CA chain, cert/key =
 * the device's. Node refuses a client without a certificate or with one of another CA during the
 * handshake (logged from 'tlsClientError'). Node does not know the revocation list, so in
 * 'secureConnection' the peer's certificate goes through `core.validatePeerCertificate` (chain,
 * time by the trusted clock, fleet, revocation by serial and by device id) and a refused peer's
 * socket is destroyed before a single frame is read or written (logged: remote address, reason
 * code; never certificate or key bytes). A peer presenting this robot's own device id is refused.
 * A resumed TLS session is judged the same way (its certificate comes from the session; none, and
 * the peer is refused). Node ends a client certificate of another CA without an alert or
 * 'tlsClientError'; such a connection is logged when its socket closes (CERTIFICATE_NOT_VERIFIED).
 *
 * Dialing. `tls.connect` with the same credentials, TLS 1.3 only; the host name check is replaced by
 * the same core validation, plus the `expected_device_id` pin. Refusals: PeerRefused (invalid,
 * wrong device, wrong fleet), CertificateRevoked; the far agent cutting the connection after the
 * handshake (it refused our certificate) is PeerRefused too.
 *
 * Rendezvous. A channel links one app on each robot. With `address` the agent dials. With
 * `device_id` the agent dials when its own device id sorts first (UTF-16 code unit order; ids are
 * ASCII) and the peer directory (`peers`) has the peer; otherwise it waits up to `acceptTimeoutMs`
 * for that peer's incoming connection (PeerTimeout, DEADLINE_EXCEEDED). An incoming, validated
 * connection is matched, first come first served, to a local app waiting for the device id its
 * certificate names (never anything the peer says); if none waits it is held, unread, up to
 * `acceptTimeoutMs` and then closed with "no application is waiting for this peer". The accepting
 * agent sends ACCEPT when an app takes the connection; the dialing app is told `opened` only then
 * (a CLOSE first: PeerUnavailable with its reason). The accepting app therefore opens with
 * `device_id`; two apps that both name each other by `address` both dial and neither matches.
 *
 * Bounds. At most `maxChannels` (64) channels open or opening (ChannelLimitReached,
 * RESOURCE_EXHAUSTED), `maxPendingIncoming` (16) held connections and MAX_HELD_PER_PEER (4) of them
 * from one device (more: CLOSE "busy"), TLS handshakes cut after `handshakeTimeoutMs` (10 s), and
 * sockets on the listener capped at maxChannels + maxPendingIncoming + MAX_PENDING_HANDSHAKES.
 *
 * Lock, revocation, expiry. On the core's 'locked' event every channel and held connection is
 * closed with the reason "locked" (sent to the peer and shown to the app), waiting apps fail with
 * DeviceLocked, and while locked no channel opens either way (an incoming one gets CLOSE "locked").
 * On 'revocations' every channel and held connection whose peer is now revoked closes ("peer
 * revoked" to the app, "revoked" to the peer). A channel closes when its peer's certificate
 * expires. On 'certificate' (renewal) new handshakes use the new certificate.
 *
 * Trust boundary: the TCP port faces the network. Nothing is read from a connection before its
 * certificate passed both Node's check and the core's; after that the peer is a fleet member whose
 * frames are still bounded and parsed strictly (frames.ts).
 */
import { isIP, type AddressInfo, type Socket } from 'node:net';
import { connect, createServer, type PeerCertificate, type Server, type TLSSocket } from 'node:tls';
import type { ValidatedDevice } from '@fleetkey/crypto';
import { DeviceLocked, InvalidArgument, PeerRefused, isFleetkeyError, isValidIdentifier } from '@fleetkey/key-types';
import type { AgentCore, AgentLogger } from '../runtime/agent-core.js';
import { formatPeerAddress, parsePeerAddress, type PeerAddress } from './address.js';
import { ChannelLimitReached, PeerTimeout, PeerUnavailable } from './errors.js';
import { encodeClose } from './frames.js';
import { CLOSE_REASON, LINGER_MS, PeerLink } from './peer-link.js';
import { PEER_TLS_VERSION, peerTlsCredentials, type PeerTlsCredentials } from './tls-credentials.js';

export const DEFAULT_ACCEPT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_CHANNELS = 64;
export const DEFAULT_MAX_PENDING_INCOMING = 16;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Held incoming connections one peer device may have at once (so one robot cannot fill the table). */
export const MAX_HELD_PER_PEER = 4;
/** Sockets the listener allows beyond channels and held connections: handshakes in progress. */
export const MAX_PENDING_HANDSHAKES = 16;
// setTimeout's largest delay (2^31 - 1 ms, about 24.8 days); longer waits re-arm.
const MAX_TIMER_MS = 2_147_483_647;
// Socket errors that say the peer agent cannot be reached (rather than refused us).
const NETWORK_ERRORS: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EADDRNOTAVAIL']);

const SILENT: AgentLogger = { info() {}, warn() {}, error() {} };

export interface PeerChannelsOptions {
  readonly core: AgentCore;
  /** `host:port` to listen on for peer agents; port 0 picks a free port. */
  readonly listen: string;
  /** The peer directory: device id -> `host:port` of its agent. */
  readonly peers?: ReadonlyMap<string, string>;
  readonly acceptTimeoutMs?: number;
  readonly maxChannels?: number;
  readonly maxPendingIncoming?: number;
  readonly handshakeTimeoutMs?: number;
  readonly logger?: AgentLogger;
}

/** Whom an app's OpenChannel names. */
export type ChannelTarget = { readonly deviceId: string } | { readonly address: string; readonly expectedDeviceId?: string };

export interface PeerChannelsStats {
  readonly channels: number;
  readonly opening: number;
  readonly waiting: number;
  readonly held: number;
}

interface Waiter {
  readonly deviceId: string;
  resolve(link: PeerLink): void;
  reject(error: Error): void;
}

interface Held {
  readonly link: PeerLink;
  readonly timer: NodeJS.Timeout;
}

function positiveInteger(name: string, value: number | undefined, fallback: number, problems: string[]): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) problems.push(`"${name}" expected a positive integer, got ${String(value)}`);
  return value;
}

function remoteOf(socket: Socket): string {
  const host = socket.remoteAddress ?? 'unknown';
  return formatPeerAddress({ host, port: socket.remotePort ?? 0 });
}

/** What a refusal is called in a log line: its fleetkey code (and certificate reason), or the TLS code. */
function refusalReason(error: unknown): { reason: string; detail?: string } {
  if (isFleetkeyError(error)) {
    const certificateReason = (error as { reason?: unknown }).reason;
    return typeof certificateReason === 'string' ? { reason: error.code, detail: certificateReason } : { reason: error.code };
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  return { reason: typeof code === 'string' ? code : 'UNKNOWN' };
}

/** The error an app is given for a refused peer certificate. */
function appRefusal(error: unknown): Error {
  if (isFleetkeyError(error, 'CERTIFICATE_REVOKED') || isFleetkeyError(error, 'PEER_REFUSED')) return error;
  if (isFleetkeyError(error, 'CERTIFICATE_INVALID')) {
    const reason = (error as { reason?: unknown }).reason;
    return new PeerRefused(`the peer certificate is not valid${typeof reason === 'string' ? `: ${reason}` : ''}`, { cause: error });
  }
  return new PeerRefused('the peer certificate is not valid', { cause: error });
}

export class PeerChannels {
  readonly #core: AgentCore;
  readonly #logger: AgentLogger;
  readonly #listen: PeerAddress;
  readonly #directory: ReadonlyMap<string, PeerAddress>;
  readonly #acceptTimeoutMs: number;
  readonly #maxChannels: number;
  readonly #maxPendingIncoming: number;
  readonly #handshakeTimeoutMs: number;
  readonly #active = new Set<PeerLink>();
  readonly #waiting = new Set<Waiter>();
  readonly #held = new Map<PeerLink, Held>();
  readonly #refused = new Set<TLSSocket>();
  readonly #sockets = new Set<Socket>();
  readonly #handshakes = new Map<string, { secured: boolean; logged: boolean }>();
  readonly #dials = new Set<AbortController>();
  readonly #expiryTimers = new Map<PeerLink, NodeJS.Timeout>();
  #opening = 0;
  #credentials: PeerTlsCredentials | undefined;
  #server: Server | undefined;
  #address: string | undefined;
  #closed = false;

  /** @throws RangeError listing every invalid option. */
  constructor(options: PeerChannelsOptions) {
    const problems: string[] = [];
    const listen = parsePeerAddress(options.listen, { allowPortZero: true });
    if (listen === undefined) problems.push(`"listen" expected host:port, got ${JSON.stringify(String(options.listen).slice(0, 64))}`);
    const directory = new Map<string, PeerAddress>();
    for (const [deviceId, address] of options.peers ?? []) {
      const parsed = parsePeerAddress(address);
      if (!isValidIdentifier(deviceId)) problems.push(`"peers" has an invalid device id ${JSON.stringify(String(deviceId).slice(0, 64))}`);
      else if (parsed === undefined) problems.push(`"peers.${deviceId}" expected host:port`);
      else directory.set(deviceId, parsed);
    }
    this.#acceptTimeoutMs = positiveInteger('acceptTimeoutMs', options.acceptTimeoutMs, DEFAULT_ACCEPT_TIMEOUT_MS, problems);
    this.#maxChannels = positiveInteger('maxChannels', options.maxChannels, DEFAULT_MAX_CHANNELS, problems);
    this.#maxPendingIncoming = positiveInteger('maxPendingIncoming', options.maxPendingIncoming, DEFAULT_MAX_PENDING_INCOMING, problems);
    this.#handshakeTimeoutMs = positiveInteger('handshakeTimeoutMs', options.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS, problems);
    if (problems.length > 0) throw new RangeError(`invalid peer channel options: ${problems.join('; ')}`);
    this.#core = options.core;
    this.#logger = options.logger ?? SILENT;
    this.#listen = listen!;
    this.#directory = directory;
  }

  /** The bound `host:port` (after `listen()`). */
  get address(): string {
    if (this.#address === undefined) throw new TypeError('the peer listener is not started');
    return this.#address;
  }

  stats(): PeerChannelsStats {
    return { channels: this.#active.size, opening: this.#opening, waiting: this.#waiting.size, held: this.#held.size };
  }

  /**
   * Starts the peer listener and follows the core's lock, revocation and certificate events.
   * @throws Error from Node when the address cannot be bound.
   */
  async listen(): Promise<string> {
    if (this.#server !== undefined || this.#closed) throw new TypeError('the peer listener can be started once');
    const credentials = peerTlsCredentials(this.#core);
    this.#credentials = credentials;
    const server = createServer({
      ...credentials.server,
      requestCert: true,
      rejectUnauthorized: true,
      handshakeTimeout: this.#handshakeTimeoutMs,
    });
    // The server's secure context is built; the key PEM it was given is no longer needed.
    credentials.wipe();
    this.#server = server;
    server.maxConnections = this.#maxChannels + this.#maxPendingIncoming + MAX_PENDING_HANDSHAKES;
    server.on('connection', (socket: Socket) => this.#onConnection(socket));
    server.on('secureConnection', (socket: TLSSocket) => {
      const handshake = this.#handshakes.get(remoteOf(socket));
      if (handshake !== undefined) handshake.secured = true;
      this.#onIncoming(socket);
    });
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      // A socket already gone has no address; its raw socket's close reports it (#onConnection).
      if (socket.remoteAddress === undefined) return;
      const remote = remoteOf(socket);
      const handshake = this.#handshakes.get(remote);
      if (handshake !== undefined) handshake.logged = true;
      this.#logger.warn({ remote, reason: error.code ?? 'TLS_ERROR' }, 'peer channel refused: TLS handshake failed');
    });
    server.on('error', (error: NodeJS.ErrnoException) => this.#logger.error({ code: error.code ?? 'ERROR' }, 'peer channel listener failed'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#listen.port, this.#listen.host, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    const bound = server.address() as AddressInfo;
    this.#address = formatPeerAddress({ host: bound.address, port: bound.port });
    this.#core.on('locked', this.#onLocked);
    this.#core.on('revocations', this.#onRevocations);
    this.#core.on('certificate', this.#onCertificate);
    this.#logger.info({ address: this.#address }, 'peer channel listener started');
    return this.#address;
  }

  /**
   * Opens a channel for a local app (see the module comment for the rendezvous).
   * @throws DeviceLocked | InvalidArgument | InvalidIdentifier | ChannelLimitReached | PeerRefused |
   * CertificateRevoked | PeerTimeout | PeerUnavailable; when `signal` aborts, its reason.
   */
  async open(target: ChannelTarget, signal?: AbortSignal): Promise<PeerLink> {
    if (this.#closed || this.#credentials === undefined) throw new PeerUnavailable('the peer channels are not running');
    // Precondition: a locked robot opens no channel.
    this.#core.assertUnlocked();
    if (this.#active.size + this.#opening >= this.#maxChannels) throw new ChannelLimitReached(`at most ${this.#maxChannels} peer channels may be open`);
    this.#opening += 1;
    let link: PeerLink;
    try {
      link = await this.#connect(target, signal);
    } finally {
      this.#opening -= 1;
    }
    // A lockdown, revocation or shutdown that came while the link was set up wins.
    try {
      if (this.#closed) throw new PeerUnavailable('the agent is shutting down');
      this.#core.assertUnlocked();
      if (this.#core.isRevoked(link.peer.deviceId, link.peer.serialNumber)) throw new PeerRefused(`device ${link.peer.deviceId} is revoked`);
      signal?.throwIfAborted();
    } catch (error) {
      link.close(isFleetkeyError(error, 'DEVICE_LOCKED') ? CLOSE_REASON.locked : CLOSE_REASON.cancelled);
      throw error;
    }
    this.#adopt(link);
    return link;
  }

  /** Ends every channel, held connection and wait, then the listener. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#core.off('locked', this.#onLocked);
    this.#core.off('revocations', this.#onRevocations);
    this.#core.off('certificate', this.#onCertificate);
    const shutdown = new PeerUnavailable('the agent is shutting down');
    for (const waiter of [...this.#waiting]) waiter.reject(shutdown);
    for (const dial of [...this.#dials]) dial.abort(shutdown);
    const links = [...this.#active, ...this.#held.keys()];
    for (const link of links) link.close(CLOSE_REASON.shutdown);
    for (const socket of this.#refused) socket.destroy();
    await Promise.all(links.map((link) => link.closed));
    const server = this.#server;
    if (server !== undefined) {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Connections still in their handshake are not worth waiting for.
      for (const socket of this.#sockets) socket.destroy();
      await stopped;
    }
    this.#logger.info({ channels: links.length }, 'peer channel listener stopped');
  }

  // ---- opening ------------------------------------------------------------------------------

  async #connect(target: ChannelTarget, signal: AbortSignal | undefined): Promise<PeerLink> {
    if ('address' in target) {
      const address = parsePeerAddress(target.address);
      if (address === undefined) throw new InvalidArgument('"address" expected host:port (an IPv6 host in brackets)');
      const expected = target.expectedDeviceId === undefined || target.expectedDeviceId === '' ? undefined : target.expectedDeviceId;
      if (expected !== undefined && !isValidIdentifier(expected)) throw new InvalidArgument('"expected_device_id" is not a valid device id');
      return this.#dial(address, expected, signal);
    }
    const { deviceId } = target;
    if (!isValidIdentifier(deviceId)) throw new InvalidArgument('"device_id" is not a valid device id');
    if (deviceId === this.#core.identity.deviceId) throw new InvalidArgument('a channel connects two different robots');
    if (this.#core.isRevoked(deviceId)) throw new PeerRefused(`device ${deviceId} is revoked`);
    const directory = this.#directory.get(deviceId);
    if (directory !== undefined && this.#core.identity.deviceId < deviceId) return this.#dial(directory, deviceId, signal);
    for (const [link, held] of this.#held) {
      if (link.peer.deviceId !== deviceId || link.isEnded) continue;
      clearTimeout(held.timer);
      this.#held.delete(link);
      link.accept();
      return link;
    }
    return this.#wait(deviceId, signal);
  }

  #wait(deviceId: string, signal: AbortSignal | undefined): Promise<PeerLink> {
    signal?.throwIfAborted();
    return new Promise<PeerLink>((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiting.delete(waiter);
      };
      const waiter: Waiter = {
        deviceId,
        resolve: (link) => {
          settle();
          resolve(link);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      const onAbort = (): void => waiter.reject(signal!.reason as Error);
      const timer = setTimeout(() => waiter.reject(new PeerTimeout(`no connection from ${deviceId} within ${this.#acceptTimeoutMs} ms`)), this.#acceptTimeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.add(waiter);
    });
  }

  #dial(address: PeerAddress, expectedDeviceId: string | undefined, appSignal: AbortSignal | undefined): Promise<PeerLink> {
    const remote = formatPeerAddress(address);
    const controller = new AbortController();
    const signal = appSignal === undefined ? controller.signal : AbortSignal.any([appSignal, controller.signal]);
    signal.throwIfAborted();
    this.#dials.add(controller);
    return new Promise<PeerLink>((resolve, reject) => {
      let device: ValidatedDevice | undefined;
      let refusal: unknown;
      let link: PeerLink | undefined;
      let settled = false;
      const socket = connect({
        host: address.host,
        port: address.port,
        // SNI carries host names only (RFC 6066 §3).
        ...(isIP(address.host) === 0 ? { servername: address.host } : {}),
        secureContext: this.#credentials!.client,
        minVersion: PEER_TLS_VERSION,
        maxVersion: PEER_TLS_VERSION,
        rejectUnauthorized: true,
        // The peer is named by its certificate, not by the address: the host name check is
        // replaced by the core's (fleet, validity, revocation) and the expected_device_id pin.
        checkServerIdentity: (_host: string, certificate: PeerCertificate) => {
          try {
            device = this.#validatePeer(certificate.raw, expectedDeviceId);
            return undefined;
          } catch (error) {
            refusal = error;
            return error as Error;
          }
        },
      });
      const finish = (): void => {
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#dials.delete(controller);
      };
      const fail = (error: Error): void => {
        if (settled) return;
        finish();
        if (link !== undefined) link.destroy();
        else socket.destroy();
        reject(error);
      };
      const onAbort = (): void => fail(signal.reason as Error);
      const timer = setTimeout(() => fail(new PeerTimeout(`the peer agent at ${remote} did not accept within ${this.#acceptTimeoutMs} ms`)), this.#acceptTimeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (link !== undefined || settled) return;
        if (refusal !== undefined) {
          this.#logRefusal('outgoing', remote, refusal);
          fail(appRefusal(refusal));
        } else if (error.code !== undefined && NETWORK_ERRORS.has(error.code)) {
          fail(new PeerUnavailable(`the peer agent at ${remote} is unreachable (${error.code})`));
        } else {
          // Node's own chain check, or a TLS alert from the peer (it refused our certificate).
          this.#logRefusal('outgoing', remote, error);
          fail(new PeerRefused(`the TLS handshake with ${remote} failed (${error.code ?? 'TLS error'})`));
        }
      });
      socket.once('close', () => {
        if (link === undefined) fail(new PeerRefused(`the peer agent at ${remote} closed the connection during the handshake`));
      });
      socket.once('secureConnect', () => {
        if (settled) return;
        try {
          // Precondition: both Node's chain check and the core's check passed before any frame.
          if (!socket.authorized || socket.getProtocol() !== PEER_TLS_VERSION) throw new PeerRefused('the TLS session is not verified TLS 1.3');
          device ??= this.#validatePeer(socket.getPeerX509Certificate()?.raw, expectedDeviceId);
        } catch (error) {
          this.#logRefusal('outgoing', remote, error);
          fail(appRefusal(error));
          return;
        }
        link = new PeerLink({ socket, peer: device, remote, role: 'dialer', logger: this.#logger });
        link.start();
        link.accepted().then(
          () => {
            if (settled) return;
            finish();
            resolve(link!);
          },
          (error: Error) => fail(error),
        );
      });
    });
  }

  /**
   * The core's judgement of a peer certificate (DER), and never this robot's own device id.
   * @throws PeerRefused | CertificateRevoked | CertificateInvalid.
   */
  #validatePeer(der: Uint8Array | undefined, expectedDeviceId?: string): ValidatedDevice {
    if (der === undefined || der.length === 0) throw new PeerRefused('the peer presented no certificate');
    const device = this.#core.validatePeerCertificate(new Uint8Array(der), expectedDeviceId);
    // Precondition: a certificate naming this robot is a clone or a loop, never a peer.
    if (device.deviceId === this.#core.identity.deviceId) throw new PeerRefused('the peer presents this robot\'s own device id');
    return device;
  }

  #logRefusal(direction: 'incoming' | 'outgoing', remote: string, error: unknown): void {
    this.#logger.warn({ direction, remote, ...refusalReason(error) }, 'peer channel refused');
  }

  // ---- incoming -----------------------------------------------------------------------------

  /**
   * Every TCP connection, to log the handshakes Node ends silently: with `rejectUnauthorized`, a
   * client certificate that does not chain to the fleet CA gets no alert and no 'tlsClientError';
   * Node just destroys the socket after the handshake. A connection that sent bytes and closed
   * without reaching 'secureConnection' or a logged TLS error is such a refusal.
   */
  #onConnection(socket: Socket): void {
    const remote = remoteOf(socket);
    const handshake = { secured: false, logged: false };
    this.#sockets.add(socket);
    this.#handshakes.set(remote, handshake);
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#handshakes.delete(remote);
      if (handshake.secured || handshake.logged || this.#closed || socket.bytesRead === 0) return;
      this.#logger.warn({ remote, reason: 'CERTIFICATE_NOT_VERIFIED' }, 'peer channel refused: TLS handshake failed');
    });
  }

  #onIncoming(socket: TLSSocket): void {
    const remote = remoteOf(socket);
    // Until a PeerLink owns the socket, an error must not go unheard (it would crash the process).
    const onEarlyError = (): void => undefined;
    socket.on('error', onEarlyError);
    if (this.#closed) {
      socket.destroy();
      return;
    }
    let device: ValidatedDevice;
    try {
      // Precondition: a connection is refused unless Node verified the chain and the core accepts
      // the certificate now (revocation included); nothing is read or written before.
      if (!socket.authorized) throw new PeerRefused(`the peer certificate was not verified (${String(socket.authorizationError)})`);
      device = this.#validatePeer(socket.getPeerX509Certificate()?.raw);
    } catch (error) {
      this.#logRefusal('incoming', remote, error);
      socket.destroy();
      return;
    }
    if (this.#core.isLocked()) {
      this.#logger.info({ peer: device.deviceId, remote }, 'peer channel refused: this robot is locked');
      this.#refuse(socket, CLOSE_REASON.locked);
      return;
    }
    const link = new PeerLink({ socket, peer: device, remote, role: 'acceptor', logger: this.#logger });
    socket.removeListener('error', onEarlyError);
    for (const waiter of this.#waiting) {
      if (waiter.deviceId !== device.deviceId) continue;
      link.accept();
      waiter.resolve(link);
      return;
    }
    const fromPeer = [...this.#held.keys()].filter((held) => held.peer.deviceId === device.deviceId).length;
    if (this.#held.size >= this.#maxPendingIncoming || fromPeer >= MAX_HELD_PER_PEER) {
      this.#logger.warn({ peer: device.deviceId, remote, held: this.#held.size }, 'peer channel refused: too many connections waiting for an application');
      link.close(CLOSE_REASON.busy);
      return;
    }
    const timer = setTimeout(() => {
      this.#held.delete(link);
      link.close(CLOSE_REASON.noApplication);
    }, this.#acceptTimeoutMs);
    timer.unref();
    this.#held.set(link, { link, timer });
    void link.ended.then(() => {
      clearTimeout(timer);
      this.#held.delete(link);
    });
  }

  /** Tells a validated peer why it is not taken (a CLOSE frame), then ends the connection. */
  #refuse(socket: TLSSocket, reason: string): void {
    this.#refused.add(socket);
    socket.once('close', () => this.#refused.delete(socket));
    socket.end(encodeClose(reason));
    socket.resume();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  }

  // ---- open channels ------------------------------------------------------------------------

  #adopt(link: PeerLink): void {
    this.#active.add(link);
    this.#watchExpiry(link);
    this.#logger.info({ peer: link.peer.deviceId, remote: link.remote, role: link.role }, 'peer channel opened');
    void link.ended.then((end) => {
      this.#active.delete(link);
      const timer = this.#expiryTimers.get(link);
      if (timer !== undefined) clearTimeout(timer);
      this.#expiryTimers.delete(link);
      this.#logger.info({ peer: link.peer.deviceId, remote: link.remote, cause: end.cause }, 'peer channel closed');
    });
  }

  /** Closes the channel when the peer's certificate expires (judged by the core's trusted time). */
  #watchExpiry(link: PeerLink): void {
    const arm = (): void => {
      const left = link.peer.notAfter.getTime() - this.#core.now().getTime();
      if (left < 0) {
        link.close(CLOSE_REASON.expiredToPeer, CLOSE_REASON.peerExpired);
        return;
      }
      const timer = setTimeout(arm, Math.min(left + 1, MAX_TIMER_MS));
      timer.unref();
      this.#expiryTimers.set(link, timer);
    };
    arm();
  }

  readonly #onLocked = (): void => {
    const error = new DeviceLocked(this.#core.lockState().reason);
    for (const waiter of [...this.#waiting]) waiter.reject(error);
    for (const dial of [...this.#dials]) dial.abort(error);
    const links = [...this.#active, ...this.#held.keys()];
    for (const link of links) link.close(CLOSE_REASON.locked);
    this.#logger.info({ channels: links.length }, 'lockdown: peer channels closed');
  };

  readonly #onRevocations = (): void => {
    for (const link of [...this.#active, ...this.#held.keys()]) {
      if (!this.#core.isRevoked(link.peer.deviceId, link.peer.serialNumber)) continue;
      this.#logger.warn({ peer: link.peer.deviceId, remote: link.remote }, 'peer channel closed: the peer is revoked');
      link.close(CLOSE_REASON.revokedToPeer, CLOSE_REASON.peerRevoked);
    }
    for (const waiter of [...this.#waiting]) {
      if (this.#core.isRevoked(waiter.deviceId)) waiter.reject(new PeerRefused(`device ${waiter.deviceId} is revoked`));
    }
  };

  readonly #onCertificate = (): void => {
    const server = this.#server;
    if (server === undefined || this.#closed) return;
    try {
      const credentials = peerTlsCredentials(this.#core);
      server.setSecureContext(credentials.server);
      credentials.wipe();
      this.#credentials = credentials;
      this.#logger.info({}, 'peer channels use the renewed certificate');
    } catch (error) {
      // The old credentials stay in use; the next renewal or restart retries.
      this.#logger.error({ reason: refusalReason(error).reason }, 'peer channels could not switch to the renewed certificate');
    }
  };
}
