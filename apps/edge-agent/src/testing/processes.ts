/**
 * Test support for end-to-end tests: the real controller, fleetctl and edge-agent binaries in
 * child processes (controller on port 0, agents on a Unix socket and a port-0 peer listener), and
 * a robot-app client that uses only the generated protocol code over the socket, as any app would.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { settle } from '@fleetkey/fleet-harness';
import { AgentService, closeClient, createClient } from '@fleetkey/protocol';
import { credentials } from '@grpc/grpc-js';

const run = promisify(execFile);
export const CONTROLLER_BIN = new URL('../../../fleet-controller/bin/fleet-controller.mjs', import.meta.url).pathname;
export const FLEETCTL_BIN = new URL('../../../fleetctl/bin/fleetctl.mjs', import.meta.url).pathname;
export const AGENT_BIN = new URL('../../bin/edge-agent.mjs', import.meta.url).pathname;

/** Waits for the first stdout line of `child` (its ready line), or fails when it exits first. */
async function readyLine(child: ChildProcess, what: string, stderr: () => string): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => [undefined])])) as [string | undefined];
  if (line === undefined) throw new Error(`${what} exited before it was ready: ${stderr().slice(-2000)}`);
  return line;
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
  const exited = once(child, 'exit');
  child.kill(signal);
  const [code] = (await exited) as [number | null];
  return code;
}

export class ControllerProcess {
  readonly dataDir: string;
  readonly parent: string;
  adminToken = '';
  caFile = '';
  grpc = '';
  #child: ChildProcess | undefined;
  #stderr = '';

  constructor(parent: string, readonly fleet = 'acme') {
    this.parent = parent;
    this.dataDir = join(parent, 'controller');
  }

  /** `fleet-controller init` then `serve` on port 0. */
  async start(): Promise<void> {
    if (this.adminToken === '') {
      const init = await run(process.execPath, [CONTROLLER_BIN, 'init', '--data-dir', this.dataDir, '--fleet', this.fleet, '-o', 'json']);
      ({ adminToken: this.adminToken, caFile: this.caFile } = JSON.parse(init.stdout) as { adminToken: string; caFile: string });
    }
    // A restart reuses the same ports, so robots find the controller where their keystore says.
    const [grpcListen, mqttListen] = this.grpc === '' ? ['127.0.0.1:0', '127.0.0.1:0'] : [this.grpc, this.#mqtt];
    const child = spawn(process.execPath, [CONTROLLER_BIN, 'serve', '--data-dir', this.dataDir, '--listen', grpcListen, '--mqtt-listen', mqttListen, '--http-listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    child.stderr!.on('data', (chunk: Buffer) => void (this.#stderr = (this.#stderr + chunk.toString()).slice(-20_000)));
    const ready = JSON.parse(await readyLine(child, 'the controller', () => this.#stderr)) as { grpc: string; mqtt: string };
    this.grpc = ready.grpc;
    this.#mqtt = ready.mqtt.replace(/^mqtts?:\/\//, '');
  }

  #mqtt = '';

  async stop(): Promise<void> {
    await stopChild(this.#child);
  }

  async fleetctl(...args: string[]): Promise<string> {
    return this.fleetctlAs(this.adminToken, ...args);
  }

  async fleetctlAs(token: string, ...args: string[]): Promise<string> {
    const { stdout } = await run(process.execPath, [FLEETCTL_BIN, '--controller', this.grpc, '--ca-file', this.caFile, ...args], {
      env: { ...process.env, FLEETKEY_TOKEN: token, FLEETKEY_CONFIG: join(this.parent, 'no-config.json') },
    });
    return stdout;
  }

  /** Provisions a robot with the real `edge-agent provision` and a fresh token. */
  async provision(deviceId: string, dataDir: string, options: { group?: string } = {}): Promise<void> {
    const minted = JSON.parse(await this.fleetctl('tokens', 'create', '--fleet', this.fleet, '--ttl', '1h', ...(options.group === undefined ? [] : ['--group', options.group]), '-o', 'json')) as { tokens: { token: string }[] };
    const tokenFile = join(this.parent, `token-${deviceId}`);
    await writeFile(tokenFile, `${minted.tokens[0]!.token}\n`, { mode: 0o600 });
    await run(process.execPath, [AGENT_BIN, 'provision', '--controller', this.grpc, '--ca-file', this.caFile, '--token-file', tokenFile, '--device-id', deviceId, '--data-dir', dataDir, '-o', 'json']);
  }

  get stderr(): string {
    return this.#stderr;
  }
}

export interface AgentReady {
  readonly event: 'ready';
  readonly socket: string;
  readonly peer: string;
}

export class AgentProcess {
  #child: ChildProcess | undefined;
  #stderr = '';
  ready: AgentReady | undefined;

  constructor(
    readonly dataDir: string,
    readonly socketPath: string,
    readonly extraArgs: readonly string[] = [],
  ) {}

  async start(): Promise<AgentReady> {
    const child = spawn(process.execPath, [AGENT_BIN, 'serve', '--data-dir', this.dataDir, '--socket', this.socketPath, '--peer-listen', '127.0.0.1:0', ...this.extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    child.stderr!.on('data', (chunk: Buffer) => void (this.#stderr = (this.#stderr + chunk.toString()).slice(-200_000)));
    this.ready = JSON.parse(await readyLine(child, 'the agent', () => this.#stderr)) as AgentReady;
    return this.ready;
  }

  /** SIGTERM; resolves the exit code. */
  async stop(): Promise<number | null> {
    return stopChild(this.#child);
  }

  async kill(): Promise<void> {
    await stopChild(this.#child, 'SIGKILL');
  }

  /** Every JSON log line so far. */
  logs(): Record<string, unknown>[] {
    return this.#stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  get stderr(): string {
    return this.#stderr;
  }
}

/** A robot app's client of the local API: generated code over the Unix socket, nothing else. */
export function robotApp(socketPath: string) {
  return createClient(AgentService, `unix://${socketPath}`, credentials.createInsecure());
}

export { closeClient };

/** Polls `check` until it returns a value other than undefined (the harness's `settle`, in this file's argument order). */
export function eventually<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
  return settle(what, async () => check(), { timeoutMs });
}
