/**
 * Test support for end-to-end tests through the real binaries: run `fleet-controller init`, start
 * `fleet-controller serve` on port 0 everywhere and wait for its ready line, stop it with SIGTERM.
 */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';

export const run = promisify(execFile);
export const CONTROLLER_BIN = new URL('../../bin/fleet-controller.mjs', import.meta.url).pathname;
export const FLEETCTL_BIN = new URL('../../../fleetctl/bin/fleetctl.mjs', import.meta.url).pathname;

export interface ReadyAddresses {
  readonly grpc: string;
  readonly mqtt: string;
  readonly http: string;
}

export interface ServeProcess {
  readonly ready: ReadyAddresses;
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  /** Everything the controller wrote to stderr so far (its log). */
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export async function initDataDir(dataDir: string, fleet: string, env: NodeJS.ProcessEnv = process.env, extra: readonly string[] = []): Promise<{ adminToken: string; caFile: string; fleet: string }> {
  const init = await run(process.execPath, [CONTROLLER_BIN, 'init', '--data-dir', dataDir, '--fleet', fleet, '-o', 'json', ...extra], { env });
  return JSON.parse(init.stdout) as { adminToken: string; caFile: string; fleet: string };
}

export async function startServe(dataDir: string, env: NodeJS.ProcessEnv = process.env, extra: readonly string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CONTROLLER_BIN, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--mqtt-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', ...extra], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env,
  });
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => {
    log += chunk.toString('utf8');
  });
  const lines = createInterface({ input: child.stdout });
  const [first] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => [undefined])])) as [string | undefined];
  if (first === undefined) throw new Error(`the controller exited before it was ready:\n${log}`);
  const parsed = JSON.parse(first) as { event: string } & ReadyAddresses;
  if (parsed.event !== 'ready') throw new Error(`unexpected first line: ${first}`);
  return {
    ready: parsed,
    child,
    stderr: () => log,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}
