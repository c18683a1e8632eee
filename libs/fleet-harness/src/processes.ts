/**
 * The process table of the fleet demo and the example scenarios: every child they start —
 * `fleet-controller`, `fleetctl`, `edge-agent` — goes through one `Processes` object, which runs
 * one-shot commands, keeps the daemons (controller, agents) with their logs, and stops whatever
 * is still running on success, failure and Ctrl-C. They drive the system only through these
 * binaries, never by importing the apps.
 *
 * Trust boundary: secrets (operator and enrollment tokens, the emulators' credentials) reach a
 * child only through its environment, never its command line where `ps` would show them. The
 * caller's FLEETKEY_* and cloud-vendor variables are dropped, so a developer's own controller,
 * token or cloud credentials can neither leak into a scenario nor be used by it. Error messages
 * built here carry a command's stderr (scrubbed of every known secret and token shape), never its
 * stdout, which may hold secrets.
 */
import { execFile, spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const CONTROLLER_BIN = new URL('../../../apps/fleet-controller/bin/fleet-controller.mjs', import.meta.url).pathname;
export const FLEETCTL_BIN = new URL('../../../apps/fleetctl/bin/fleetctl.mjs', import.meta.url).pathname;
export const AGENT_BIN = new URL('../../../apps/edge-agent/bin/edge-agent.mjs', import.meta.url).pathname;

/** How long a daemon may take to print its ready line (tsx compiles it first; two shared cores). */
const READY_TIMEOUT_MS = 60_000;
/** How long a one-shot command may run (`fleetctl rotate --wait` bounds itself below this). */
const COMMAND_TIMEOUT_MS = 90_000;
/** How long a daemon may drain after SIGTERM before it is killed. */
export const STOP_GRACE_MS = 10_000;
/** Stderr kept in an error message; fleetkey tools write one line. */
const MAX_ERROR_TEXT = 400;
/** Log kept per daemon (the tail), enough for a whole run at the default level. */
const MAX_LOG_CHARS = 4 * 1024 * 1024;

/** Variables of the caller that never reach a child. */
const DROPPED_VARIABLES = /^(?:FLEETKEY_|AWS_|AZURE_|GOOGLE_|GCLOUD_|CLOUDSDK_|VAULT_)/;

/** A token's kind, its first two characters, and the rest (a hint like `fk_op_Ab…` is left alone). */
const TOKEN_SHAPE = /\b(fk_(?:op|enr|app)_)([A-Za-z0-9_-]{2})[A-Za-z0-9_-]{6,}/g;

/**
 * Removes secrets from text that is about to be shown: every registered secret is replaced, and
 * every fleetkey token shape is cut to its kind and two characters (as the scenarios print tokens).
 */
export class Scrubber {
  readonly #secrets = new Set<string>();

  /** Registers a secret; strings shorter than 8 characters are not secrets worth matching. */
  add(...secrets: readonly string[]): void {
    for (const secret of secrets) if (secret.length >= 8) this.#secrets.add(secret);
  }

  scrub(text: string): string {
    let out = text;
    for (const secret of this.#secrets) out = out.split(secret).join('[redacted]');
    return out.replace(TOKEN_SHAPE, '$1$2…');
  }

  /** Whether `text` holds none of the registered secrets. */
  clean(text: string): boolean {
    for (const secret of this.#secrets) if (text.includes(secret)) return false;
    return true;
  }

  get size(): number {
    return this.#secrets.size;
  }
}

/** A child's environment: the caller's, minus FLEETKEY_* and vendor variables, plus `extra`. */
export function childEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!DROPPED_VARIABLES.test(name)) env[name] = value;
  return { ...env, ...extra };
}

export interface StopOutcome {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when SIGTERM was not enough within STOP_GRACE_MS and SIGKILL ended it. */
  readonly killed: boolean;
}

export interface Daemon {
  readonly name: string;
  readonly pid: number;
  /** The first stdout line, parsed (`{"event":"ready", …}`). */
  readonly ready: Readonly<Record<string, unknown>>;
  /** What the daemon logged to stderr (the last MAX_LOG_CHARS). */
  log(): string;
  running(): boolean;
  /** SIGTERM, then SIGKILL after STOP_GRACE_MS; resolves once it has exited. Idempotent. */
  stop(): Promise<StopOutcome>;
}

/**
 * A one-shot command that did not succeed. `exitCode` is null when it was killed (timeout) or
 * aborted; `stderr` is its last stderr line, already scrubbed, so a scenario can show why a
 * refusal happened (`fleetctl: …`, `edge-agent: …`).
 */
export class CommandFailed extends Error {
  override readonly name = 'CommandFailed';
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export interface RunOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

/** Every child a run starts, so that one call stops all of them. */
export class Processes {
  readonly #daemons: Daemon[] = [];
  readonly #pids: number[] = [];
  /** One-shot commands still running (a failure elsewhere leaves them for stopAll). */
  readonly #commands = new Set<ChildProcess>();
  readonly #scrubber: Scrubber;

  constructor(scrubber: Scrubber) {
    this.#scrubber = scrubber;
  }

  /** Every pid started so far, daemons and one-shot commands alike. */
  pids(): readonly number[] {
    return [...this.#pids];
  }

  daemons(): readonly Daemon[] {
    return [...this.#daemons];
  }

  /**
   * Runs `node BIN ARGS…` to completion and returns its stdout.
   * @throws CommandFailed naming `what`, with the exit code and scrubbed stderr, when it exits non-zero,
   *   times out or is aborted (the child is killed then).
   */
  async run(what: string, bin: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
    const running = execFileAsync(process.execPath, [bin, ...args], {
      env: childEnv(options.env),
      timeout: COMMAND_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const child = running.child;
    if (child.pid !== undefined) this.#pids.push(child.pid);
    this.#commands.add(child);
    child.once('exit', () => this.#commands.delete(child));
    try {
      return (await running).stdout;
    } catch (error) {
      throw this.#failure(what, error);
    }
  }

  /**
   * Starts a daemon and resolves once it printed its JSON ready line.
   * @throws Error when it exits first, prints something else, is not ready within
   *   READY_TIMEOUT_MS, or `signal` aborts (it is stopped first).
   */
  async start(name: string, bin: string, args: readonly string[], options: RunOptions = {}): Promise<Daemon> {
    options.signal?.throwIfAborted();
    const child: ChildProcessByStdio<null, Readable, Readable> = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(options.env) });
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString('utf8')).slice(-MAX_LOG_CHARS);
    });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    // A spawn failure (no such binary) arrives as 'error' and must not crash the run.
    child.once('error', () => undefined);
    let stopping: Promise<StopOutcome> | undefined;
    const stop = (): Promise<StopOutcome> => {
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
    };
    const daemonShell = { name, running: () => child.exitCode === null && child.signalCode === null, stop };
    if (child.pid !== undefined) this.#pids.push(child.pid);
    // Tracked before it is ready, so a failure or Ctrl-C during start-up stops it too.
    const placeholder: Daemon = { ...daemonShell, pid: child.pid ?? -1, ready: {}, log: () => log };
    this.#daemons.push(placeholder);

    const lines = createInterface({ input: child.stdout });
    const timer = new AbortController();
    const aborted = new Promise<'aborted'>((resolve) => {
      if (options.signal === undefined) return;
      options.signal.addEventListener('abort', () => resolve('aborted'), { once: true, signal: timer.signal });
    });
    try {
      const first = await Promise.race([
        once(lines, 'line').then(([line]) => line as string),
        exited.then(() => 'exited' as const),
        delay(READY_TIMEOUT_MS, 'timeout' as const, { signal: timer.signal }),
        aborted,
      ]);
      if (first === 'aborted') throw options.signal!.reason instanceof Error ? options.signal!.reason : new Error('stopped');
      if (first === 'timeout') throw new Error(`${name} was not ready within ${READY_TIMEOUT_MS / 1000} s`);
      if (first === 'exited') throw new Error(`${name} exited before it was ready: ${this.#scrubber.scrub(lastLines(log))}`);
      let ready: unknown;
      try {
        ready = JSON.parse(first);
      } catch {
        ready = undefined;
      }
      if (typeof ready !== 'object' || ready === null || (ready as { event?: unknown }).event !== 'ready') {
        throw new Error(`${name} printed an unexpected first line`);
      }
      const daemon: Daemon = { ...placeholder, ready: ready as Record<string, unknown> };
      this.#daemons[this.#daemons.indexOf(placeholder)] = daemon;
      return daemon;
    } catch (error) {
      await stop();
      throw error;
    } finally {
      timer.abort();
      lines.close();
    }
  }

  /**
   * Stops every daemon and one-shot command still running, all at once, and resolves when each
   * has exited, with each daemon's outcome by name.
   */
  async stopAll(): Promise<Readonly<Record<string, StopOutcome>>> {
    const [outcomes] = await Promise.all([
      Promise.all(this.#daemons.map(async (daemon) => [daemon.name, await daemon.stop()] as const)),
      Promise.all([...this.#commands].map((child) => stopCommand(child))),
    ]);
    return Object.fromEntries(outcomes);
  }

  #failure(what: string, error: unknown): CommandFailed {
    const { stderr, code, killed, signal } = error as { stderr?: unknown; code?: unknown; killed?: boolean; signal?: unknown };
    if ((error as { name?: string }).name === 'AbortError') return new CommandFailed(`${what} was stopped`, null, '');
    const text = this.#scrubber.scrub(typeof stderr === 'string' && stderr.trim() !== '' ? lastLines(stderr) : 'no output');
    const how = killed === true ? `killed (${String(signal)}), after ${COMMAND_TIMEOUT_MS / 1000} s at most` : `exit ${String(code)}`;
    const exitCode = killed !== true && typeof code === 'number' ? code : null;
    return new CommandFailed(`${what} failed (${how}): ${text}`, exitCode, text);
  }
}

async function stopCommand(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const grace = new AbortController();
  const first = await Promise.race([exited, delay(STOP_GRACE_MS, 'late' as const, { signal: grace.signal }).catch(() => undefined)]);
  grace.abort();
  if (first !== 'late') return;
  child.kill('SIGKILL');
  await exited;
}

/** The end of a process's output, for an error message: its last non-empty line, bounded. */
function lastLines(text: string): string {
  const lines = text.trim().split('\n').filter((line) => line.trim() !== '');
  const last = lines.at(-1) ?? '';
  // Daemons log JSON lines (pino); their message is what a person needs.
  try {
    const parsed = JSON.parse(last) as { msg?: unknown; err?: { message?: unknown } };
    if (typeof parsed.msg === 'string') {
      const cause = typeof parsed.err?.message === 'string' ? `: ${parsed.err.message}` : '';
      return `${parsed.msg}${cause}`.slice(0, MAX_ERROR_TEXT);
    }
  } catch {
    // not JSON: a CLI's one-line error
  }
  return last.slice(0, MAX_ERROR_TEXT);
}
