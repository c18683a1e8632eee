/**
 * Test-only: runs fleetctl in-process through `runCli` with captured stdout/stderr, an explicit
 * environment (never the test runner's own) and an optional stdin.
 *
 * Trust boundary: test code only.
 */
import { Readable } from 'node:stream';
import { runCli } from '../cli.js';
import type { Environment } from '../config.js';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: Environment;
  readonly stdin?: string;
  readonly cwd?: string;
}

/** Runs `fleetctl ...argv`; `env` replaces the environment entirely (HOME included). */
export async function runFleetctl(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
  });
  return { code, stdout, stderr };
}
