/**
 * The settings of `edge-agent serve`: flags win over FLEETKEY_* environment variables, which win
 * over the JSON config file (`--config`), which wins over the defaults. The config file is the
 * only place for structured settings (the app token list and the peer directory).
 *
 * Trust boundary: the config file is the robot operator's, but it is parsed strictly (unknown keys
 * are refused, every number and address bounded) and holds no secret: app tokens appear only as
 * SHA-256 digests.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { durationArgument } from '@fleetkey/cli';
import { InvalidArgument, isValidIdentifier } from '@fleetkey/key-types';
import { z } from 'zod';
import { DEFAULT_MAX_OFFLINE_MS } from '../runtime/agent-core.js';
import { DEFAULT_BURST as DEFAULT_RATE_BURST, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_RATE_PER_SECOND, DEFAULT_SOCKET_MODE } from '../local-api/index.js';

/** Where robot apps find the agent unless told otherwise. */
export const DEFAULT_SOCKET_PATH = '/run/fleetkey/agent.sock';
/** The peer listener: every interface, a fixed port so peers can be listed in a directory. */
export const DEFAULT_PEER_LISTEN = '0.0.0.0:7845';
export const DEFAULT_STATUS_INTERVAL_MS = 60_000;
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** Prefix of app tokens made by `edge-agent app-token` (and redacted from logs). */
export const APP_TOKEN_PREFIX = 'fk_app_';
export const LOG_LEVEL_NAMES = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):(?:0|[1-9][0-9]{0,4})$/;
const hostPort = z
  .string()
  .max(260)
  .regex(HOST_PORT, 'expected HOST:PORT')
  .refine((text) => Number(text.slice(text.lastIndexOf(':') + 1)) <= 65_535, 'port out of range');
const duration = z.string().max(32);

const configFileSchema = z.strictObject({
  dataDir: z.string().min(1).max(4096).optional(),
  socket: z.string().min(1).max(107).optional(),
  socketMode: z.string().regex(/^0?[0-7]{3}$/).optional(),
  socketGid: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  peerListen: hostPort.optional(),
  peers: z
    .record(z.string().refine(isValidIdentifier, 'expected a device id'), hostPort)
    .refine((peers) => Object.keys(peers).length <= 10_000, 'at most 10000 peers')
    .optional(),
  apps: z
    .array(z.strictObject({ name: z.string().refine(isValidIdentifier, 'expected an identifier'), tokenSha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits') }))
    .max(256)
    .optional(),
  rateLimit: z.strictObject({ perSecond: z.number().int().min(1).max(1_000_000), burst: z.number().int().min(1).max(1_000_000) }).optional(),
  maxMessageBytes: z.number().int().min(1024).max(4 * 1024 * 1024).optional(),
  maxOffline: duration.optional(),
  statusInterval: duration.optional(),
  logLevel: z.enum(LOG_LEVEL_NAMES).optional(),
});

export type ConfigFile = z.output<typeof configFileSchema>;

export interface AppTokenEntry {
  readonly name: string;
  readonly tokenSha256: string;
}

export interface ServeSettings {
  readonly dataDir: string;
  readonly passphraseFile: string | undefined;
  readonly socketPath: string;
  readonly socketMode: number;
  readonly socketGid: number | undefined;
  readonly peerListen: string;
  readonly peers: ReadonlyMap<string, string>;
  readonly apps: readonly AppTokenEntry[];
  readonly ratePerSecond: number;
  readonly rateBurst: number;
  readonly maxMessageBytes: number;
  readonly maxOfflineMs: number;
  readonly statusIntervalMs: number;
  readonly logLevel: (typeof LOG_LEVEL_NAMES)[number];
}

export interface ServeFlags {
  readonly dataDir?: string;
  readonly passphraseFile?: string;
  readonly config?: string;
  readonly socket?: string;
  readonly socketMode?: string;
  readonly socketGid?: string;
  readonly peerListen?: string;
  readonly maxOffline?: string;
  readonly logLevel?: string;
}

/**
 * Reads and checks the config file.
 * @throws InvalidArgument naming the file and the first bad setting, never echoing the file.
 */
export function readConfigFile(path: string): ConfigFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new InvalidArgument(`cannot read the config file ${path}: ${String((error as NodeJS.ErrnoException).code ?? 'unreadable')}`);
  }
  let text: string;
  try {
    const info = fstatSync(fd);
    if (!info.isFile() || info.size > MAX_CONFIG_FILE_BYTES) throw new InvalidArgument(`the config file ${path} is not a file of at most ${MAX_CONFIG_FILE_BYTES} bytes`);
    const bytes = Buffer.alloc(info.size);
    text = bytes.subarray(0, readSync(fd, bytes, 0, bytes.length, 0)).toString('utf8');
  } finally {
    closeSync(fd);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidArgument(`the config file ${path} is not JSON`);
  }
  const parsed = configFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidArgument(`the config file ${path}: ${issue?.path.join('.') || '(top level)'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

function durationMs(text: string, name: string, min: number, max: number): number {
  try {
    return durationArgument({ minMs: min, maxMs: max })(text);
  } catch (error) {
    throw new InvalidArgument(`${name} ${(error as Error).message}`);
  }
}

function mode(text: string, name: string): number {
  if (!/^0?[0-7]{3}$/.test(text)) throw new InvalidArgument(`${name} expected an octal mode like 0660`);
  const value = Number.parseInt(text, 8);
  if ((value & 0o007) !== 0) throw new InvalidArgument(`${name} must not give other users access to the socket (got ${text})`);
  return value;
}

/**
 * Merges flags, environment and config file into checked settings.
 * @throws InvalidArgument for a missing data dir or a bad value.
 */
export function resolveServeSettings(flags: ServeFlags, env: Readonly<Record<string, string | undefined>>): ServeSettings {
  const configPath = flags.config ?? env['FLEETKEY_AGENT_CONFIG'];
  const file: ConfigFile = configPath === undefined || configPath === '' ? {} : readConfigFile(configPath);
  const pick = (flag: string | undefined, envName: string, fromFile: string | undefined): string | undefined => flag ?? (env[envName] || undefined) ?? fromFile;
  const dataDir = pick(flags.dataDir, 'FLEETKEY_DATA_DIR', file.dataDir);
  if (dataDir === undefined) throw new InvalidArgument('--data-dir (or FLEETKEY_DATA_DIR, or dataDir in --config) is required');
  const peerListen = pick(flags.peerListen, 'FLEETKEY_PEER_LISTEN', file.peerListen) ?? DEFAULT_PEER_LISTEN;
  if (!hostPort.safeParse(peerListen).success) throw new InvalidArgument('--peer-listen expected HOST:PORT (port 0 picks a free one)');
  const socketGidText = pick(flags.socketGid, 'FLEETKEY_AGENT_SOCKET_GID', file.socketGid?.toString());
  if (socketGidText !== undefined && !/^\d{1,10}$/.test(socketGidText)) throw new InvalidArgument('--socket-gid expected a numeric group id');
  const logLevel = pick(flags.logLevel, 'FLEETKEY_LOG_LEVEL', file.logLevel) ?? 'info';
  if (!(LOG_LEVEL_NAMES as readonly string[]).includes(logLevel)) throw new InvalidArgument(`--log-level expected one of ${LOG_LEVEL_NAMES.join(', ')}`);
  const socketModeText = pick(flags.socketMode, 'FLEETKEY_AGENT_SOCKET_MODE', file.socketMode);
  const socketPath = pick(flags.socket, 'FLEETKEY_AGENT_SOCKET', file.socket) ?? DEFAULT_SOCKET_PATH;
  // sockaddr_un holds 108 bytes with the terminating NUL.
  if (Buffer.byteLength(socketPath) > 107) throw new InvalidArgument('--socket path is longer than a Unix socket address allows (107 bytes)');
  return {
    dataDir,
    passphraseFile: flags.passphraseFile,
    socketPath,
    socketMode: socketModeText === undefined ? DEFAULT_SOCKET_MODE : mode(socketModeText, '--socket-mode'),
    socketGid: socketGidText === undefined ? undefined : Number(socketGidText),
    peerListen,
    peers: new Map(Object.entries(file.peers ?? {})),
    apps: file.apps ?? [],
    ratePerSecond: file.rateLimit?.perSecond ?? DEFAULT_RATE_PER_SECOND,
    rateBurst: file.rateLimit?.burst ?? DEFAULT_RATE_BURST,
    maxMessageBytes: file.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    maxOfflineMs: durationMs(pick(flags.maxOffline, 'FLEETKEY_MAX_OFFLINE', file.maxOffline) ?? `${DEFAULT_MAX_OFFLINE_MS / 3_600_000}h`, '--max-offline', 60_000, 365 * 24 * 3_600_000),
    statusIntervalMs: file.statusInterval === undefined ? DEFAULT_STATUS_INTERVAL_MS : durationMs(file.statusInterval, 'statusInterval', 1_000, 24 * 3_600_000),
    logLevel: logLevel as ServeSettings['logLevel'],
  };
}
