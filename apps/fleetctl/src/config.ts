/**
 * Where fleetctl's connection settings come from, and the config file `fleetctl login` keeps them
 * in. Each of controller, token and CA file is taken from its flag, else its environment variable,
 * else the config file; every problem is reported at once, in one message.
 *
 * Trust boundary: flags, environment and config file are the operator's own input, but the config
 * file holds a bearer credential. It is written atomically (temp file + rename) with mode 0600 in
 * a directory created 0700, and a config file holding a token that other users can read is
 * refused, as ssh refuses such a key. No message here ever contains the token.
 */
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { FleetkeyError } from '@fleetkey/key-types';

/** The environment variables fleetctl reads. */
export const ENV = Object.freeze({
  controller: 'FLEETKEY_CONTROLLER',
  token: 'FLEETKEY_TOKEN',
  caFile: 'FLEETKEY_CA_FILE',
  config: 'FLEETKEY_CONFIG',
});

/** A config file larger than this is not one fleetctl wrote. */
export const MAX_CONFIG_FILE_BYTES = 64 * 1024;
/** Operator credentials are at most 256 bytes (CreateOperatorResponse.credential). */
export const MAX_TOKEN_LENGTH = 256;

const CONFIG_KEYS = ['controller', 'caFile', 'token'] as const;

export type Environment = Readonly<Record<string, string | undefined>>;

/** A settings, config or local-file problem: the operator has to fix how fleetctl is called. */
export class SettingsInvalid extends FleetkeyError {
  readonly code = 'INVALID_CONFIG' as const;
}

/** The content of the config file; every key optional. */
export interface StoredConfig {
  readonly controller?: string;
  readonly caFile?: string;
  readonly token?: string;
}

/** The connection settings flags may give. */
export interface ConnectionFlags {
  readonly controller?: string | undefined;
  readonly token?: string | undefined;
  readonly caFile?: string | undefined;
  readonly config?: string | undefined;
}

/** Everything a call to the controller needs, each with where it came from (for error messages). */
export interface ConnectionSettings {
  readonly controller: string;
  /** Absolute path of the PEM bundle of CAs trusted for the controller's TLS certificate. */
  readonly caFile: string;
  readonly token: string;
  readonly controllerSource: string;
  readonly caFileSource: string;
  readonly tokenSource: string;
}

// HOST:PORT with HOST a DNS name, an IPv4 literal or a bracketed IPv6 literal. No scheme: gRPC
// target schemes (unix:, dns:///) are not offered, and plaintext is not offered at all.
const CONTROLLER_PATTERN = /^(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?):(\d{1,5})$/;

/** True for `HOST:PORT` with a port from 1 to 65535. */
export function isControllerAddress(value: string): boolean {
  const match = CONTROLLER_PATTERN.exec(value);
  const port = Number(match?.[2]);
  return match !== null && port >= 1 && port <= 65_535;
}

/** True for 1 to MAX_TOKEN_LENGTH visible ASCII characters: what can travel in an HTTP/2 header. */
export function isWellFormedToken(value: string): boolean {
  return value.length >= 1 && value.length <= MAX_TOKEN_LENGTH && /^[\x21-\x7e]+$/.test(value);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The config file path: --config, else FLEETKEY_CONFIG, else `$XDG_CONFIG_HOME/fleetkey/fleetctl.json`,
 * else `$HOME/.config/fleetkey/fleetctl.json` (XDG Base Directory Specification 0.8).
 */
export function configFilePath(flag: string | undefined, env: Environment, cwd: string): string {
  const explicit = nonEmpty(flag) ?? nonEmpty(env[ENV.config]);
  if (explicit !== undefined) return resolve(cwd, explicit);
  // XDG: a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = nonEmpty(env.XDG_CONFIG_HOME);
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(nonEmpty(env.HOME) ?? homedir(), '.config');
  return join(base, 'fleetkey', 'fleetctl.json');
}

function describeFsError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'unreadable';
}

/**
 * Reads and validates the config file; undefined when there is none.
 * @throws SettingsInvalid listing every problem: not a regular file, too large, not JSON, unknown
 *   keys, wrong types, or a token readable by other users.
 */
export function readConfigFile(path: string): StoredConfig | undefined {
  let fd: number;
  try {
    // A symlink is followed (dotfile managers link config files); the checks below apply to its target.
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new SettingsInvalid(`cannot read the config file ${path} (${describeFsError(error)})`);
  }
  let text: string;
  let mode: number;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new SettingsInvalid(`the config file ${path} is not a regular file`);
    if (stat.size > MAX_CONFIG_FILE_BYTES) throw new SettingsInvalid(`the config file ${path} is larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
    mode = stat.mode;
    const buffer = Buffer.alloc(stat.size);
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    text = buffer.subarray(0, read).toString('utf8');
    buffer.fill(0);
  } finally {
    closeSync(fd);
  }
  return parseConfig(path, text, mode);
}

function parseConfig(path: string, text: string, mode: number): StoredConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's message may quote the file's content, which holds the token: not repeated.
    throw new SettingsInvalid(`the config file ${path} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SettingsInvalid(`the config file ${path} must hold a JSON object`);
  const problems: string[] = [];
  const record = parsed as Record<string, unknown>;
  const config: Record<string, string> = {};
  for (const key of Object.keys(record)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      problems.push(`unknown key ${JSON.stringify(key.slice(0, 64))}`);
      continue;
    }
    const value = record[key];
    if (typeof value !== 'string' || value === '') problems.push(`"${key}" must be a non-empty string`);
    else config[key] = value;
  }
  if (config.caFile !== undefined && !isAbsolute(config.caFile)) config.caFile = resolve(dirname(path), config.caFile);
  // Precondition: a config file holding a token that other users can read is refused.
  if (config.token !== undefined && process.platform !== 'win32' && (mode & 0o077) !== 0) {
    problems.push(`it holds a token but other users may read it (mode ${(mode & 0o777).toString(8)}); run chmod 600 ${path}`);
  }
  if (problems.length > 0) throw new SettingsInvalid(`the config file ${path} is invalid: ${problems.join('; ')}`);
  return config;
}

/** A setting with where it came from. */
export interface SettingValue {
  readonly value: string;
  readonly source: string;
}

function pick(flag: string | undefined, flagName: string, env: Environment, envName: string, stored: string | undefined, storedSource: string): SettingValue | undefined {
  const fromFlag = nonEmpty(flag);
  if (fromFlag !== undefined) return { value: fromFlag, source: flagName };
  const fromEnv = nonEmpty(env[envName]);
  if (fromEnv !== undefined) return { value: fromEnv, source: envName };
  return stored === undefined ? undefined : { value: stored, source: storedSource };
}

export interface ResolveOptions {
  /** Read the config file for settings the flags and environment leave out (false for `login`). */
  readonly useConfigFile: boolean;
  /** A token obtained another way (`login --token-stdin`); it wins over every other source. */
  readonly tokenOverride?: SettingValue;
}

/**
 * Resolves controller, token and CA file: flag > environment > config file.
 * @throws SettingsInvalid naming every missing or malformed setting at once (never the token's value).
 */
export function resolveConnectionSettings(flags: ConnectionFlags, env: Environment, cwd: string, options: ResolveOptions): ConnectionSettings {
  const configPath = configFilePath(flags.config, env, cwd);
  const needsFile =
    options.useConfigFile &&
    [
      nonEmpty(flags.controller) ?? nonEmpty(env[ENV.controller]),
      options.tokenOverride?.value ?? nonEmpty(flags.token) ?? nonEmpty(env[ENV.token]),
      nonEmpty(flags.caFile) ?? nonEmpty(env[ENV.caFile]),
    ].includes(undefined);
  // The file is read only when a setting is left to it, so a broken file does not block an
  // operator who passes everything explicitly.
  const stored = needsFile ? (readConfigFile(configPath) ?? {}) : {};
  const fileSource = `the config file ${configPath}`;

  const controller = pick(flags.controller, '--controller', env, ENV.controller, stored.controller, fileSource);
  const token = options.tokenOverride ?? pick(flags.token, '--token', env, ENV.token, stored.token, fileSource);
  const caFile = pick(flags.caFile, '--ca-file', env, ENV.caFile, stored.caFile, fileSource);

  const hint = options.useConfigFile ? ', or run `fleetctl login`' : '';
  const problems: string[] = [];
  if (controller === undefined) problems.push(`no controller address: pass --controller HOST:PORT or set ${ENV.controller}${hint}`);
  else if (!isControllerAddress(controller.value)) problems.push(`the controller address from ${controller.source} is not HOST:PORT`);
  if (token === undefined) problems.push(`no operator token: set ${ENV.token} or pass --token${hint}`);
  else if (!isWellFormedToken(token.value)) problems.push(`the token from ${token.source} is malformed (expected 1-${MAX_TOKEN_LENGTH} visible ASCII characters)`);
  if (caFile === undefined) problems.push(`no CA file: pass --ca-file FILE (the controller's DIR/ca.pem) or set ${ENV.caFile}${hint}`);
  if (problems.length > 0 || controller === undefined || token === undefined || caFile === undefined) throw new SettingsInvalid(problems.join('; '));

  return Object.freeze({
    controller: controller.value,
    caFile: resolve(cwd, caFile.value),
    token: token.value,
    controllerSource: controller.source,
    caFileSource: caFile.source,
    tokenSource: token.source,
  });
}

/**
 * Writes the config file atomically: a 0600 temp file beside it, fsync, rename. Missing parent
 * directories are created 0700; an existing directory is left as it is (it may be shared, /tmp).
 * @throws SettingsInvalid when the file cannot be written.
 */
export function writeConfigFile(path: string, config: Required<StoredConfig>): void {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const body = Buffer.from(`${JSON.stringify({ controller: config.controller, caFile: config.caFile, token: config.token }, null, 2)}\n`, 'utf8');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // 'wx': never follow or reuse a file someone planted at the temp name.
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // Postcondition: the config file is 0600, in directories created 0700, and replaces any file at the path in one rename.
    renameSync(temp, path);
  } catch (error) {
    try {
      rmSync(temp, { force: true });
    } catch {
      // The temp file was never created (its directory is missing or not a directory).
    }
    throw new SettingsInvalid(`cannot write the config file ${path} (${describeFsError(error)})`);
  } finally {
    body.fill(0);
  }
}

/**
 * Deletes the config file; false when there was none.
 * @throws SettingsInvalid when it exists but cannot be deleted.
 */
export function deleteConfigFile(path: string): boolean {
  try {
    rmSync(path);
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return false;
    throw new SettingsInvalid(`cannot delete the config file ${path} (${describeFsError(error)})`);
  }
}
