/**
 * One run of an example scenario: a temporary directory, the process table, one line per step,
 * and the clean-up every example owes its caller — every process stopped, the directory removed
 * — on success, failure and Ctrl-C. Plus the moves the scenarios share: `fleet-controller init`
 * and `serve`, `fleetctl` as an operator, `edge-agent provision` and `serve`, a robot app on an
 * agent's socket.
 *
 * Trust boundary: none of its own; it drives the three binaries as operators and robot apps do.
 * Tokens reach a child only through its environment (`FLEETKEY_TOKEN`,
 * `FLEETKEY_ENROLLMENT_TOKEN`), every one is registered with the scrubber before it can be
 * printed, step lines and failure messages are scrubbed, and the final step checks that no
 * process log holds a token or a message the scenario registered.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_BIN, CONTROLLER_BIN, CommandFailed, FLEETCTL_BIN, Processes, Scrubber, type Daemon, type StopOutcome } from './processes.js';
import { closeClient, robotApp, settle, type RobotApp } from './robot-app.js';

export interface ScenarioStep {
  readonly title: string;
  readonly detail: string;
  readonly ms: number;
}

export interface ScenarioOptions {
  /** Parent of the scenario's temporary directory; default the system's. */
  readonly tmpRoot?: string;
  /** Ctrl-C: aborting stops every process and removes the directory; the run rejects. */
  readonly signal?: AbortSignal;
  readonly onStep?: (step: ScenarioStep) => void;
}

export interface ScenarioReport<T> {
  readonly steps: readonly ScenarioStep[];
  /** What the scenario established, for its test. */
  readonly facts: T;
  readonly workDir: string;
  /** Every process the run started. */
  readonly pids: readonly number[];
  /** Each daemon's SIGTERM outcome, by name. */
  readonly stopped: Readonly<Record<string, StopOutcome>>;
  /** No process log held a registered secret or message. */
  readonly logsClean: boolean;
}

/** A failed run: which step, with a scrubbed message; every process was stopped first. */
export class ScenarioFailed extends Error {
  override readonly name: string = 'ScenarioFailed';
  constructor(
    readonly step: string,
    message: string,
    readonly pids: readonly number[],
    readonly workDir: string | undefined,
  ) {
    super(message);
  }
}

export interface ControllerInit {
  readonly fleet: string;
  readonly dataDir: string;
  readonly adminToken: string;
  readonly caFile: string;
}

export interface ServingController {
  readonly init: ControllerInit;
  readonly daemon: Daemon;
  readonly grpc: string;
  readonly mqtt: string;
  readonly http: string;
}

export interface ProvisionedStatus {
  readonly provisioned?: boolean;
  readonly fleet?: string;
  readonly deviceId?: string;
  readonly epochs?: readonly { readonly version: number; readonly state: string }[];
}

export interface Robot {
  readonly deviceId: string;
  readonly dataDir: string;
  readonly daemon: Daemon;
  readonly app: RobotApp;
}

/** A token as the scenarios print it: its kind prefix and two characters, never enough to use. */
export function tokenHint(token: string): string {
  const kind = /^fk_[a-z]+_/.exec(token)?.[0] ?? '';
  return `${kind}${token.slice(kind.length, kind.length + 2)}…`;
}

/** How a command a scenario expects to be refused ended: its exit code and its stderr line. */
export interface Refusal {
  readonly exitCode: number | null;
  readonly reason: string;
}

/**
 * Awaits a command that should fail and returns how it was refused.
 * @throws Error when it succeeded; rethrows anything that is not a CommandFailed.
 */
export async function refusalOf(command: Promise<unknown>, what: string): Promise<Refusal> {
  try {
    await command;
  } catch (error) {
    if (error instanceof CommandFailed) return { exitCode: error.exitCode, reason: error.stderr };
    throw error;
  }
  throw new Error(`${what} was accepted`);
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Whether no process with this pid exists any more. */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export class Scenario {
  readonly processes: Processes;
  readonly scrubber = new Scrubber();
  readonly #steps: ScenarioStep[] = [];
  readonly #apps = new Set<RobotApp>();
  /** Plaintexts the scenario sends through the agents: printed in step lines, never in a log. */
  readonly #messages = new Set<string>();
  readonly #onStep: ((step: ScenarioStep) => void) | undefined;
  #current = 'start';

  constructor(
    /** The temporary directory, removed when the run ends. */
    readonly dir: string,
    /** Aborted by Ctrl-C and by a failure, so commands in flight end too. */
    readonly signal: AbortSignal,
    onStep: ((step: ScenarioStep) => void) | undefined,
  ) {
    this.processes = new Processes(this.scrubber);
    this.#onStep = onStep;
  }

  get current(): string {
    return this.#current;
  }

  get steps(): readonly ScenarioStep[] {
    return [...this.#steps];
  }

  /** Runs one step, timing it, and reports its (scrubbed) line. */
  async step<T>(title: string, body: () => Promise<{ detail: string; value: T }>): Promise<T> {
    this.signal.throwIfAborted();
    this.#current = title;
    const started = performance.now();
    const { detail, value } = await body();
    const done: ScenarioStep = { title, detail: this.scrubber.scrub(detail), ms: performance.now() - started };
    this.#steps.push(done);
    this.#onStep?.(done);
    return value;
  }

  /**
   * Reports a line that is part of the current step (e.g. what a robot app printed), as a step of
   * its own with the time it took.
   */
  record(title: string, detail: string, ms: number): void {
    const done: ScenarioStep = { title, detail: this.scrubber.scrub(detail), ms };
    this.#steps.push(done);
    this.#onStep?.(done);
  }

  /** Registers secrets: scrubbed from every line and error, and looked for in every log. */
  secret(...secrets: readonly string[]): void {
    this.scrubber.add(...secrets);
  }

  /** Registers a plaintext the scenario sends: it may be printed, but no process may log it. */
  message(text: string): string {
    this.#messages.add(text);
    return text;
  }

  /** `fleet-controller init` on the local KMS; the admin token stays in memory. */
  async initController(fleet: string, dataDir = join(this.dir, 'controller')): Promise<ControllerInit> {
    const out = await this.processes.run('fleet-controller init', CONTROLLER_BIN, ['init', '--data-dir', dataDir, '--fleet', fleet, '--kms', 'local', '-o', 'json'], { signal: this.signal });
    const parsed = JSON.parse(out) as { adminToken?: unknown; caFile?: unknown; fleet?: unknown };
    if (typeof parsed.adminToken !== 'string' || typeof parsed.caFile !== 'string' || parsed.fleet !== fleet) throw new Error('fleet-controller init printed an unexpected document');
    this.secret(parsed.adminToken);
    return { fleet, dataDir, adminToken: parsed.adminToken, caFile: parsed.caFile };
  }

  /**
   * `fleet-controller serve` with gRPC, MQTT and HTTP on `listen` (default port 0 each) and
   * `dataDir` (default the init's).
   */
  async serveController(init: ControllerInit, options: { name?: string; dataDir?: string; listen?: { grpc: string; mqtt: string; http: string } } = {}): Promise<ServingController> {
    const listen = options.listen ?? { grpc: '127.0.0.1:0', mqtt: '127.0.0.1:0', http: '127.0.0.1:0' };
    const daemon = await this.processes.start(
      options.name ?? 'fleet-controller',
      CONTROLLER_BIN,
      ['serve', '--data-dir', options.dataDir ?? init.dataDir, '--listen', listen.grpc, '--mqtt-listen', listen.mqtt, '--http-listen', listen.http],
      { signal: this.signal },
    );
    const { grpc, mqtt, http } = daemon.ready as { grpc?: unknown; mqtt?: unknown; http?: unknown };
    if (typeof grpc !== 'string' || typeof mqtt !== 'string' || typeof http !== 'string') throw new Error('fleet-controller serve printed an unexpected ready line');
    return { init, daemon, grpc, mqtt, http };
  }

  /** `fleetctl ARGS… -o json` with `token` (default the init's admin) in its environment. */
  async fleetctl(controller: ServingController, args: readonly string[], token = controller.init.adminToken): Promise<Record<string, unknown>> {
    const out = await this.processes.run(`fleetctl ${args.slice(0, 2).join(' ')}`, FLEETCTL_BIN, ['--controller', controller.grpc, '--ca-file', controller.init.caFile, ...args, '-o', 'json'], {
      // A config file that does not exist: the caller's own ~/.config/fleetkey is never read.
      env: { FLEETKEY_CONFIG: join(this.dir, 'no-fleetctl-config.json'), FLEETKEY_TOKEN: token },
      signal: this.signal,
    });
    return JSON.parse(out) as Record<string, unknown>;
  }

  /** Mints enrollment tokens (`fleetctl tokens create --count N …`) and registers each secret. */
  async tokens(controller: ServingController, count: number, extra: readonly string[] = []): Promise<string[]> {
    const minted = (await this.fleetctl(controller, ['tokens', 'create', '--fleet', controller.init.fleet, '--count', String(count), '--ttl', '1h', ...extra])) as { tokens?: { token?: unknown }[] };
    const tokens = (minted.tokens ?? []).map((t) => t.token).filter((t): t is string => typeof t === 'string');
    if (tokens.length !== count) throw new Error(`fleetctl minted ${tokens.length} tokens, not ${count}`);
    this.secret(...tokens);
    return tokens;
  }

  /** `edge-agent provision` with the token in its environment (on a command line `ps` shows it). */
  async provision(controller: ServingController, robot: { deviceId: string; token: string; serial?: string; dataDir?: string }): Promise<ProvisionedStatus> {
    const serial = robot.serial === undefined ? [] : ['--serial', robot.serial];
    const out = await this.processes.run(
      `edge-agent provision ${robot.deviceId}`,
      AGENT_BIN,
      ['provision', '--controller', controller.grpc, '--ca-file', controller.init.caFile, '--device-id', robot.deviceId, ...serial, '--data-dir', robot.dataDir ?? this.agentDir(robot.deviceId), '-o', 'json'],
      { env: { FLEETKEY_ENROLLMENT_TOKEN: robot.token }, signal: this.signal },
    );
    const status = JSON.parse(out) as ProvisionedStatus;
    if (status.provisioned !== true || status.deviceId !== robot.deviceId || status.fleet !== controller.init.fleet) throw new Error(`${robot.deviceId} was not provisioned as expected`);
    return status;
  }

  agentDir(deviceId: string): string {
    return join(this.dir, deviceId);
  }

  /**
   * `edge-agent serve` for a provisioned robot (local API on DIR/<id>.sock, peer listener on
   * port 0) and `args` (e.g. `--config F`), with a robot app on its socket; resolves once the
   * agent reports contact with the controller unless `waitForContact` is false (an agent that
   * asks for app tokens answers this app's GetStatus with UNAUTHENTICATED).
   */
  async startAgent(deviceId: string, options: { name?: string; waitForContact?: boolean; args?: readonly string[] } = {}): Promise<Robot> {
    const dataDir = this.agentDir(deviceId);
    const args = ['serve', '--data-dir', dataDir, '--socket', join(this.dir, `${deviceId}.sock`), '--peer-listen', '127.0.0.1:0', ...(options.args ?? [])];
    const daemon = await this.processes.start(options.name ?? `edge-agent ${deviceId}`, AGENT_BIN, args, {
      signal: this.signal,
    });
    const app = this.app(daemon.ready['socket'] as string);
    if (options.waitForContact !== false) {
      await settle(`${deviceId} to reach the controller`, async () => ((await app.getStatus({})).lastContact === undefined ? undefined : true), { signal: this.signal });
    }
    return { deviceId, dataDir, daemon, app };
  }

  /** A robot app on an agent's socket, closed when the run ends. */
  app(socketPath: string): RobotApp {
    const app = robotApp(socketPath);
    this.#apps.add(app);
    return app;
  }

  closeApp(app: RobotApp): void {
    if (this.#apps.delete(app)) closeClient(app);
  }

  /**
   * The last step: SIGTERM to every daemon, then checks that each exited 0, no process the run
   * started is left, and no log holds a registered secret or message.
   * @throws Error naming what was not clean.
   */
  async stopEverything(): Promise<{ outcomes: Readonly<Record<string, StopOutcome>>; logsClean: boolean }> {
    return this.step('everything stopped', async () => {
      this.closeApps();
      const outcomes = await this.processes.stopAll();
      const unclean = Object.entries(outcomes).filter(([, outcome]) => outcome.killed || outcome.exitCode !== 0);
      if (unclean.length > 0) throw new Error(`${unclean.map(([name]) => name).join(', ')} did not stop cleanly`);
      const alive = this.processes.pids().filter((pid) => !processGone(pid));
      if (alive.length > 0) throw new Error(`${alive.length} processes still run`);
      const logs = this.processes.daemons().map((daemon) => daemon.log());
      const logsClean = logs.every((log) => this.scrubber.clean(log) && [...this.#messages].every((text) => !log.includes(text)));
      if (!logsClean) throw new Error('a secret or a message reached a process log');
      return {
        detail: `SIGTERM: ${plural(Object.keys(outcomes).length, 'daemon')} exited 0; ${this.processes.pids().length} processes started, none left; no token or message in their logs`,
        value: { outcomes, logsClean },
      };
    });
  }

  closeApps(): void {
    for (const app of this.#apps) closeClient(app);
    this.#apps.clear();
  }
}

/**
 * Runs a scenario in a fresh temporary directory: `body` establishes its facts, then every
 * process is stopped and checked (the 'everything stopped' step). The directory and every
 * process are gone when it returns or rejects.
 * @throws ScenarioFailed naming the step that failed (or the interruption), with a scrubbed message.
 */
export async function runScenario<T>(name: string, options: ScenarioOptions, body: (scenario: Scenario) => Promise<T>): Promise<ScenarioReport<T>> {
  const inner = new AbortController();
  const stopOnAbort = (): void => inner.abort(options.signal?.reason);
  if (options.signal?.aborted === true) stopOnAbort();
  options.signal?.addEventListener('abort', stopOnAbort, { once: true });
  let workDir: string | undefined;
  let scenario: Scenario | undefined;
  try {
    workDir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), `fleetkey-${name}-`));
    scenario = new Scenario(workDir, inner.signal, options.onStep);
    const facts = await body(scenario);
    const { outcomes, logsClean } = await scenario.stopEverything();
    return { steps: scenario.steps, facts, workDir, pids: scenario.processes.pids(), stopped: outcomes, logsClean };
  } catch (error) {
    inner.abort();
    const interrupted = options.signal?.aborted === true;
    const message = interrupted ? 'stopped (interrupted)' : (scenario?.scrubber ?? new Scrubber()).scrub(error instanceof Error ? error.message : String(error));
    throw new ScenarioFailed(scenario?.current ?? 'start', message, scenario?.processes.pids() ?? [], workDir);
  } finally {
    options.signal?.removeEventListener('abort', stopOnAbort);
    scenario?.closeApps();
    await scenario?.processes.stopAll();
    if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
  }
}

/**
 * The command line of a scenario: prints `intro`, one `✔` line per step and a summary; Ctrl-C
 * stops every process and removes the directory (a second one leaves at once). Exit 1 on a
 * failure, 130 when interrupted.
 */
export async function scenarioMain(intro: string, run: (options: ScenarioOptions) => Promise<unknown>): Promise<void> {
  const interrupt = new AbortController();
  process.on('SIGINT', () => {
    if (interrupt.signal.aborted) process.exit(130);
    console.error('\nstopping every process (Ctrl-C again to leave at once)…');
    interrupt.abort(new Error('interrupted'));
  });
  console.log(`${intro}\n`);
  const started = performance.now();
  try {
    await run({ signal: interrupt.signal, onStep: (step) => console.log(`✔ ${step.title.padEnd(44)} ${step.ms.toFixed(0).padStart(6)} ms  ${step.detail}`) });
    console.log(`\nDone in ${((performance.now() - started) / 1000).toFixed(1)} s. Nothing left running; temporary files removed.`);
  } catch (error) {
    // runScenario scrubs its messages; anything else is a bug, shown by its message only.
    const failed = error instanceof ScenarioFailed ? `${error.step}: ${error.message}` : error instanceof Error ? error.message : String(error);
    console.error(`✘ ${failed}`);
    console.error('Every process was stopped and the temporary files removed.');
    process.exitCode = interrupt.signal.aborted ? 130 : 1;
  }
}
