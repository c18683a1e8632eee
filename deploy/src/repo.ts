/**
 * The repository as the deployment test sees it: paths, and running a fleetkey binary (or any
 * Node script) as a child process with a clean environment, at most two at a time (the test
 * machine is shared).
 *
 * Trust boundary: none; everything run here comes from this repository.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEPLOY_DIR = fileURLToPath(new URL('../', import.meta.url));

export const BINARIES = Object.freeze({
  'fleet-controller': 'apps/fleet-controller/bin/fleet-controller.mjs',
  'edge-agent': 'apps/edge-agent/bin/edge-agent.mjs',
});

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Each run starts tsx and compiles a CLI: ~5 s of one core. */
const MAX_CONCURRENT = 2;
const RUN_TIMEOUT_MS = 120_000;
let running = 0;
const waiting: (() => void)[] = [];

async function slot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  running += 1;
  try {
    return await work();
  } finally {
    running -= 1;
    waiting.shift()?.();
  }
}

/** The parent's environment without FLEETKEY_* settings, which would change what the binaries read. */
function cleanEnv(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('FLEETKEY_') && value !== undefined) env[name] = value;
  return { ...env, ...extra };
}

/** Runs `node ARGS` from the repository root; resolves with the exit code, never rejects on one. */
export function runNode(args: readonly string[], options: { readonly cwd?: string; readonly env?: Readonly<Record<string, string>> } = {}): Promise<RunResult> {
  return slot(
    () =>
      new Promise<RunResult>((resolve, reject) => {
        execFile(process.execPath, [...args], { cwd: options.cwd ?? REPO_ROOT, env: cleanEnv(options.env ?? {}), timeout: RUN_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
          if (error !== null && typeof error.code !== 'number') {
            reject(new Error(`node ${args.join(' ')} did not finish: ${error.message}\n${stderr}`));
            return;
          }
          resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
        });
      }),
  );
}

/** Runs a subcommand of one of the fleetkey binaries. */
export function runBinary(binary: keyof typeof BINARIES, args: readonly string[]): Promise<RunResult> {
  return runNode([BINARIES[binary], ...args]);
}
