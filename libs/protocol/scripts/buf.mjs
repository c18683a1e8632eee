/**
 * Runs the buf CLI from the repository root with the workspace's node_modules/.bin first on PATH,
 * so `local: protoc-gen-es` in buf.gen.yaml resolves to the pinned npm plugin, never to a global
 * one. Usage: node scripts/buf.mjs <buf arguments...>
 *
 * Trust boundary: developer tooling; reads proto/ and writes only where buf.gen.yaml says.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const binDir = path.join(repoRoot, 'node_modules', '.bin');

/** Runs `buf ...args` in the repository root; returns the exit status. */
export function runBuf(args, options = {}) {
  const result = spawnSync(path.join(binDir, 'buf'), args, {
    cwd: repoRoot,
    stdio: options.stdio ?? 'inherit',
    encoding: 'utf8',
    env: { ...process.env, PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ''}` },
  });
  if (result.error) throw result.error;
  return result;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = runBuf(process.argv.slice(2)).status ?? 1;
}
