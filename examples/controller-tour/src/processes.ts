/**
 * The tour's operator side: runs `fleet-controller init`, keeps `fleet-controller serve` as a
 * child process, and runs `fleetctl` against it — only through the binaries, as an operator
 * would, never by importing the apps.
 *
 * Trust boundary: the admin token crosses into child processes through their environment
 * (`FLEETKEY_TOKEN`), never on a command line where `ps` would show it. Error messages built here
 * carry fleetctl's stderr (which fleetctl scrubs) but never its stdout, which may hold secrets.
 */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const CONTROLLER_BIN = new URL('../../../apps/fleet-controller/bin/fleet-controller.mjs', import.meta.url).pathname;
export const FLEETCTL_BIN = new URL('../../../apps/fleetctl/bin/fleetctl.mjs', import.meta.url).pathname;

/** How long `serve` may take to bind its listeners before the tour gives up. */
const READY_TIMEOUT_MS = 30_000;
/** How long a command-line run may take (tsx compiles the app on first start). */
const COMMAND_TIMEOUT_MS = 60_000;
/** How long the controller may drain after SIGTERM before it is killed (the brief's bound). */
export const STOP_GRACE_MS = 10_000;
/** fleetctl's stderr kept in an error message; one line is all it ever writes. */
const MAX_ERROR_TEXT = 400;

const TOKEN_SHAPE = /\b(fk_(?:op|enr)_)([A-Za-z0-9_-]{2})[A-Za-z0-9_-]*/g;

/** Replaces every token-shaped run with its first characters, as the tour prints tokens. */
export function redactTokens(text: string): string {
  return text.replace(TOKEN_SHAPE, '$1$2…');
}

/**
 * The caller's environment without FLEETKEY_* settings, so a developer's own controller address,
 * token or KMS paths cannot leak into (or redirect) the tour.
 */
function tourEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('FLEETKEY_')) env[name] = value;
  return { ...env, ...extra };
}

function failure(what: string, error: unknown): Error {
  const stderr = (error as { stderr?: unknown }).stderr;
  const code = (error as { code?: unknown }).code;
  const text = typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim().slice(0, MAX_ERROR_TEXT) : 'no output';
  return new Error(`${what} failed (exit ${String(code)}): ${redactTokens(text)}`);
}

export interface InitResult {
  readonly adminToken: string;
  readonly caFile: string;
  readonly fleet: string;
}

/** `fleet-controller init --data-dir DIR --fleet FLEET -o json`. */
export async function initController(dataDir: string, fleet: string): Promise<InitResult> {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(process.execPath, [CONTROLLER_BIN, 'init', '--data-dir', dataDir, '--fleet', fleet, '-o', 'json'], { env: tourEnv(), timeout: COMMAND_TIMEOUT_MS }));
  } catch (error) {
    throw failure('fleet-controller init', error);
  }
  const parsed = JSON.parse(stdout) as Partial<InitResult>;
  if (typeof parsed.adminToken !== 'string' || typeof parsed.caFile !== 'string' || parsed.fleet !== fleet) {
    throw new Error('fleet-controller init printed an unexpected document');
  }
  return { adminToken: parsed.adminToken, caFile: parsed.caFile, fleet: parsed.fleet };
}

export interface ReadyAddresses {
  readonly grpc: string;
  readonly mqtt: string;
  readonly http: string;
}

export interface StopOutcome {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when SIGTERM was not enough within STOP_GRACE_MS and SIGKILL ended it. */
  readonly killed: boolean;
}

export interface RunningController {
  readonly pid: number;
  readonly ready: ReadyAddresses;
  /** Everything the controller logged to stderr so far. */
  log(): string;
  /** Whether the process is still running. */
  running(): boolean;
  /** SIGTERM, then SIGKILL after STOP_GRACE_MS; resolves once the process has exited. Idempotent. */
  stop(): Promise<StopOutcome>;
}

/**
 * Starts `fleet-controller serve` with every listener on 127.0.0.1:0 and resolves with the
 * addresses of its ready line. The caller must call `stop()` (in a finally).
 * @throws Error when it exits, prints something else, or is not ready within READY_TIMEOUT_MS
 *   (the process is stopped first).
 */
export async function startController(dataDir: string): Promise<RunningController> {
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(
    process.execPath,
    [CONTROLLER_BIN, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--mqtt-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: tourEnv() },
  );
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => {
    log += chunk.toString('utf8');
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  let stopping: Promise<StopOutcome> | undefined;

  async function stop(): Promise<StopOutcome> {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return { exitCode: child.exitCode, signal: child.signalCode, killed: false };
      child.kill('SIGTERM');
      const grace = new AbortController();
      const first = await Promise.race([exited, delay(STOP_GRACE_MS, undefined, { signal: grace.signal }).catch(() => undefined)]);
      grace.abort();
      if (first !== undefined) return { exitCode: first[0], signal: first[1], killed: false };
      child.kill('SIGKILL');
      const [exitCode, signal] = await exited;
      return { exitCode, signal, killed: true };
    })();
    return stopping;
  }

  const lines = createInterface({ input: child.stdout });
  const timer = new AbortController();
  try {
    const first = await Promise.race([
      once(lines, 'line').then(([line]) => line as string),
      exited.then(() => undefined),
      delay(READY_TIMEOUT_MS, null, { signal: timer.signal }),
    ]);
    if (first === null) throw new Error(`fleet-controller serve was not ready within ${READY_TIMEOUT_MS / 1000} s`);
    if (first === undefined) throw new Error(`fleet-controller serve exited before it was ready: ${redactTokens(log.trim().slice(-MAX_ERROR_TEXT))}`);
    const parsed = JSON.parse(first) as { event?: unknown } & Partial<ReadyAddresses>;
    if (parsed.event !== 'ready' || typeof parsed.grpc !== 'string' || typeof parsed.mqtt !== 'string' || typeof parsed.http !== 'string') {
      throw new Error('fleet-controller serve printed an unexpected first line');
    }
    const ready: ReadyAddresses = { grpc: parsed.grpc, mqtt: parsed.mqtt, http: parsed.http };
    return {
      pid: child.pid!,
      ready,
      log: () => log,
      running: () => child.exitCode === null && child.signalCode === null,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  } finally {
    timer.abort();
  }
}

export type Fleetctl = (...args: string[]) => Promise<unknown>;

/**
 * A `fleetctl` bound to one controller and credential; each call runs the binary with `-o json`
 * appended and returns the parsed document. The config file points into `workDir`, where none
 * exists, so a developer's own `fleetctl login` is never read.
 * @throws Error with fleetctl's exit code and (scrubbed) stderr when it exits non-zero.
 */
export function fleetctlFor(controller: string, caFile: string, token: string, workDir: string): Fleetctl {
  const env = tourEnv({ FLEETKEY_TOKEN: token, FLEETKEY_CONFIG: join(workDir, 'no-fleetctl-config.json') });
  return async (...args) => {
    let stdout: string;
    try {
      ({ stdout } = await execFileAsync(process.execPath, [FLEETCTL_BIN, '--controller', controller, '--ca-file', caFile, ...args, '-o', 'json'], { env, timeout: COMMAND_TIMEOUT_MS }));
    } catch (error) {
      throw failure(`fleetctl ${args.slice(0, 2).join(' ')}`, error);
    }
    return JSON.parse(stdout) as unknown;
  };
}
