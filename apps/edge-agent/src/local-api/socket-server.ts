/**
 * The local API's listener: AgentService over gRPC on a Unix domain socket (plaintext; the socket
 * never leaves the robot).
 *
 * Trust boundary: the socket file is the first gate. It is bound inside a fresh private (0700)
 * directory, given its mode (default 0660) and owner there, and only then hard-linked to its
 * public path, so no process ever sees it with wider permissions than configured (a umask of 0
 * would otherwise leave a window of 0777). A path that holds anything but a socket is never
 * touched; a socket something still answers on is never taken over; only a socket nobody
 * listens on (a crash left it) is replaced. Requests over `maxMessageBytes` are refused by grpc-js
 * (RESOURCE_EXHAUSTED) before they are parsed.
 */
import { constants as fsConstants } from 'node:fs';
import { chmod, lchown, link, lstat, mkdir, mkdtemp, rm, rmdir, unlink } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { ServerCredentials, type Server } from '@grpc/grpc-js';
import { FleetkeyError, type FleetkeyErrorOptions } from '@fleetkey/key-types';
import { AgentService, MAX_GRPC_MESSAGE_BYTES, MAX_SEALED_MESSAGE_BYTES, addService, bindServer, createServer, shutdownServer } from '@fleetkey/protocol';
import type { AgentCore, AgentLogger } from '../runtime/agent-core.js';
import { createAccessControl, type AppToken, type RateLimitOptions } from './access.js';
import { agentServiceHandlers, type OpenChannelHandler } from './agent-service.js';

/** Default mode of the socket file: owner and group may connect. */
export const DEFAULT_SOCKET_MODE = 0o660;
/** Mode of the socket's parent directory when the agent creates it. */
export const SOCKET_DIR_MODE = 0o750;
/**
 * Default bound of one request: the largest SealedMessage (1 MiB + 32 KiB) plus room for the
 * largest associated data (4 KiB) and framing, so every request the proto allows fits.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = MAX_SEALED_MESSAGE_BYTES + 8 * 1024;
/** Smallest configurable bound (a GetStatus or a small Sign must always fit). */
export const MIN_MAX_MESSAGE_BYTES = 4 * 1024;
/** Linux sun_path is 108 bytes including the terminating NUL (unix(7)). */
export const MAX_SOCKET_PATH_BYTES = 107;
/** How long a probe of an existing socket waits for an answer before treating it as in use. */
export const SOCKET_PROBE_TIMEOUT_MS = 2_000;
/** How long close() lets running calls finish before cutting them. */
export const SHUTDOWN_GRACE_MS = 5_000;

const TEMP_DIR_PREFIX = '.fk';
const TEMP_SOCKET_NAME = 's';

export type SocketRefusalReason = 'not-a-socket' | 'in-use' | 'unreachable';

/** The socket path cannot be used: it holds something else, or another agent is listening on it. */
export class LocalApiSocketRefused extends FleetkeyError {
  readonly code = 'INVALID_CONFIG' as const;
  readonly reason: SocketRefusalReason;
  constructor(reason: SocketRefusalReason, message: string, options: FleetkeyErrorOptions = {}) {
    super(message, options);
    this.reason = reason;
  }
}

export interface LocalApiOptions {
  readonly core: AgentCore;
  readonly socketPath: string;
  /** Mode of the socket file; default 0660. */
  readonly mode?: number;
  /** Owner of the socket file (and of its directory when the agent creates it). */
  readonly uid?: number;
  /** Group of the socket file (and of its directory when the agent creates it). */
  readonly gid?: number;
  /** Per-app tokens (SHA-256 digests); empty or absent: no tokens. */
  readonly tokens?: readonly AppToken[];
  readonly rateLimit?: RateLimitOptions;
  /** Largest request in bytes; default DEFAULT_MAX_MESSAGE_BYTES. */
  readonly maxMessageBytes?: number;
  readonly agentVersion: string;
  readonly openChannel?: OpenChannelHandler;
  readonly logger?: AgentLogger;
}

export interface LocalApi {
  /** The absolute path the socket is bound to. */
  readonly socketPath: string;
  /** Stops accepting calls, lets running ones finish (bounded), removes the socket file. */
  close(): Promise<void>;
}

const SILENT: AgentLogger = { info() {}, warn() {}, error() {} };

function errnoOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? ((error as { code?: unknown }).code as string | undefined) : undefined;
}

function optionalId(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0 || value > 0xffff_fffe)) {
    throw new RangeError(`"${name}" expected a non-negative integer id, got ${String(value)}`);
  }
}

function checkPathLength(name: string, path: string): void {
  const bytes = Buffer.byteLength(path, 'utf8');
  if (bytes > MAX_SOCKET_PATH_BYTES) throw new RangeError(`"${name}" expected at most ${MAX_SOCKET_PATH_BYTES} bytes for a Unix socket, got ${bytes}`);
}

/** Whether something accepts connections on the socket at `path`. */
function probe(path: string): Promise<'live' | 'stale'> {
  return new Promise((resolvePromise, reject) => {
    const socket = createConnection({ path });
    const finish = (outcome: 'live' | 'stale' | Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolvePromise(outcome);
    };
    // A listener too busy to accept is still a listener: never take its path over.
    const timer = setTimeout(() => finish('live'), SOCKET_PROBE_TIMEOUT_MS);
    socket.once('connect', () => finish('live'));
    socket.once('error', (error) => finish(errnoOf(error) === 'ECONNREFUSED' ? 'stale' : error));
  });
}

/**
 * Makes `path` free for the socket: absent is fine, a stale socket is removed.
 * @throws LocalApiSocketRefused when it holds a non-socket, a live socket, or cannot be probed.
 */
async function clearSocketPath(path: string, logger: AgentLogger): Promise<void> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return;
    throw error;
  }
  // Precondition: a path that holds anything but a socket (a file, a directory, a symlink) is refused and left alone.
  if (!stats.isSocket()) throw new LocalApiSocketRefused('not-a-socket', `${path} exists and is not a socket; refusing to replace it`);
  let outcome: 'live' | 'stale';
  try {
    outcome = await probe(path);
  } catch (cause) {
    throw new LocalApiSocketRefused('unreachable', `cannot probe the existing socket ${path} (${errnoOf(cause) ?? 'error'}); refusing to replace it`, { cause });
  }
  // Precondition: a socket something answers on belongs to a running agent and is not taken over.
  if (outcome === 'live') throw new LocalApiSocketRefused('in-use', `${path} is in use (another agent is listening on it)`);
  await unlink(path).catch((error: unknown) => {
    if (errnoOf(error) !== 'ENOENT') throw error;
  });
  logger.info({ socketPath: path }, 'removed a stale local API socket');
}

/**
 * Starts the local API on `socketPath`.
 * @throws LocalApiSocketRefused (path holds a non-socket, or another agent listens on it) |
 *   RangeError / TypeError for invalid options | the file system's or grpc-js's error when the
 *   socket cannot be bound, its mode or owner set.
 */
export async function startLocalApi(options: LocalApiOptions): Promise<LocalApi> {
  const logger = options.logger ?? SILENT;
  const mode = options.mode ?? DEFAULT_SOCKET_MODE;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) throw new RangeError(`"mode" expected permission bits 0..0o777, got ${String(mode)}`);
  optionalId('uid', options.uid);
  optionalId('gid', options.gid);
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < MIN_MAX_MESSAGE_BYTES || maxMessageBytes > MAX_GRPC_MESSAGE_BYTES) {
    throw new RangeError(`"maxMessageBytes" expected ${MIN_MAX_MESSAGE_BYTES}..${MAX_GRPC_MESSAGE_BYTES}, got ${String(maxMessageBytes)}`);
  }
  if (typeof options.socketPath !== 'string' || options.socketPath.length === 0) throw new TypeError('"socketPath" expected a non-empty path');
  const socketPath = resolve(options.socketPath);
  const parent = dirname(socketPath);
  checkPathLength('socketPath', socketPath);
  // The private directory's path is about as long as the socket's: check it before anything is made.
  checkPathLength('socketPath', join(parent, `${TEMP_DIR_PREFIX}XXXXXX`, TEMP_SOCKET_NAME));
  if (basename(socketPath) === '') throw new TypeError('"socketPath" expected a file path');

  // Everything that can fail on configuration fails before the file system is touched.
  const access = createAccessControl({ ...(options.tokens === undefined ? {} : { tokens: options.tokens }), ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }) });
  const handlers = agentServiceHandlers(options.core, {
    agentVersion: options.agentVersion,
    access,
    ...(options.openChannel === undefined ? {} : { openChannel: options.openChannel }),
    onRefused: (refusal) => logger.warn({ method: refusal.method, app: refusal.app ?? null, code: refusal.code }, 'local API call refused'),
  });

  const created = await mkdir(parent, { recursive: true, mode: SOCKET_DIR_MODE });
  if (created !== undefined) {
    // mkdir's mode is filtered by the umask; the directory the agent makes is exactly 0750.
    await chmod(parent, SOCKET_DIR_MODE);
    // Apps of the socket's group must be able to reach it through a directory the agent made.
    if (options.uid !== undefined || options.gid !== undefined) await lchown(parent, options.uid ?? -1, options.gid ?? -1);
  }
  await clearSocketPath(socketPath, logger);

  const server: Server = createServer({ 'grpc.max_receive_message_length': maxMessageBytes });
  addService(server, AgentService, handlers, {
    onUnexpectedError: (error, method) =>
      logger.error({ method, error: error instanceof Error ? { name: error.name, message: error.message.slice(0, 200) } : typeof error }, 'local API call failed unexpectedly'),
  });
  // mkdtemp makes the directory 0700: nobody else can reach the socket until it is linked out.
  const privateDir = await mkdtemp(join(parent, TEMP_DIR_PREFIX));
  const privatePath = join(privateDir, TEMP_SOCKET_NAME);
  let linked = false;
  try {
    await bindServer(server, `unix://${privatePath}`, ServerCredentials.createInsecure());
    await chmod(privatePath, mode);
    if (options.uid !== undefined || options.gid !== undefined) await lchown(privatePath, options.uid ?? -1, options.gid ?? -1);
    try {
      // link(2), not rename(2): it fails instead of replacing whatever appeared at the path meanwhile.
      await link(privatePath, socketPath);
    } catch (error) {
      if (errnoOf(error) === 'EEXIST') throw new LocalApiSocketRefused('in-use', `${socketPath} appeared while the local API was starting`, { cause: error });
      throw error;
    }
    linked = true;
    await unlink(privatePath);
    await rmdir(privateDir);
  } catch (error) {
    server.forceShutdown();
    await rm(privateDir, { recursive: true, force: true });
    if (linked) await unlink(socketPath).catch(() => undefined);
    throw error;
  }
  const bound = await lstat(socketPath);
  logger.info({ socketPath, mode: `0${mode.toString(8)}`, tokens: access.tokensRequired, maxMessageBytes }, 'local API listening');

  let closing: Promise<void> | undefined;
  return Object.freeze({
    socketPath,
    close(): Promise<void> {
      closing ??= (async () => {
        await shutdownServer(server, SHUTDOWN_GRACE_MS);
        // Postcondition: only our own socket is removed, never one another agent bound since.
        try {
          const current = await lstat(socketPath);
          if (current.ino === bound.ino && current.dev === bound.dev && (current.mode & fsConstants.S_IFMT) === fsConstants.S_IFSOCK) await unlink(socketPath);
        } catch (error) {
          if (errnoOf(error) !== 'ENOENT') throw error;
        }
        logger.info({ socketPath }, 'local API closed');
      })();
      return closing;
    },
  });
}
