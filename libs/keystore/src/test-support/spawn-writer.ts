/**
 * Test support: starts writer-process.ts as a real child process (`node --import tsx`) and
 * collects the key ids it reports as committed.
 * Not exported from the package index.
 *
 * Trust boundary: test-only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const WRITER = path.join(PACKAGE_ROOT, 'src', 'test-support', 'writer-process.ts');

export interface Writer {
  readonly child: ChildProcess;
  /** Key ids (text) printed as committed, in order. */
  readonly committed: string[];
  /** Resolves when the child printed `ready` (the store is open). */
  readonly ready: Promise<void>;
  /** Resolves once `committed.length >= n`. */
  waitFor(n: number): Promise<void>;
  /** Resolves with the exit code / signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

export function spawnWriter(databasePath: string, keyFile: string, prefix: string, count: number): Writer {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, databasePath, keyFile, prefix, String(count)], {
    cwd: PACKAGE_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const committed: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let resolveReady!: () => void;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    if (line === 'ready') resolveReady();
    if (line.startsWith('committed ')) committed.push(line.slice('committed '.length));
    for (const waiter of waiters.filter((w) => committed.length >= w.n)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    committed,
    ready,
    exited,
    stderr: () => stderr,
    waitFor: (n) =>
      committed.length >= n
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push({ n, resolve });
            void exited.then(({ code, signal }) => {
              if (committed.length < n) reject(new Error(`writer exited (${code ?? signal}) after ${committed.length} commits: ${stderr}`));
            });
          }),
  };
}
