/**
 * Fails when the committed generated code (libs/protocol/src/gen) differs from what
 * `buf generate` makes from proto/ now, and runs `buf lint`. Part of the root `npm test`.
 *
 * It regenerates into a temporary directory (never touching the committed files), compares file
 * lists and contents, and removes the temporary directory afterwards.
 *
 * Trust boundary: developer tooling; reads proto/ and src/gen, writes only under the OS temp dir.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, runBuf } from './buf.mjs';

const GENERATED_DIR = 'libs/protocol/src/gen';

function listFiles(root) {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.push(path.relative(root, full).split(path.sep).join('/'));
    }
  };
  try {
    walk(root);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  return files.sort();
}

function compare(committedDir, freshDir) {
  const committed = listFiles(committedDir);
  const fresh = listFiles(freshDir);
  const problems = [];
  for (const file of fresh) if (!committed.includes(file)) problems.push(`missing: ${file}`);
  for (const file of committed) if (!fresh.includes(file)) problems.push(`not generated any more: ${file}`);
  for (const file of fresh.filter((f) => committed.includes(f))) {
    if (!readFileSync(path.join(committedDir, file)).equals(readFileSync(path.join(freshDir, file)))) {
      problems.push(`differs: ${file}`);
    }
  }
  return problems;
}

const temp = mkdtempSync(path.join(os.tmpdir(), 'fleetkey-gen-'));
let failed = false;
try {
  const generate = runBuf(['generate', '--output', temp]);
  if (generate.status !== 0) {
    console.error('buf generate failed');
    failed = true;
  } else {
    const problems = compare(path.join(repoRoot, GENERATED_DIR), path.join(temp, GENERATED_DIR));
    if (problems.length > 0) {
      console.error('generated code is stale: run npm run generate');
      for (const problem of problems) console.error(`  ${problem}`);
      failed = true;
    } else {
      console.log(`${GENERATED_DIR} matches proto/`);
    }
  }
  const lint = runBuf(['lint']);
  if (lint.status !== 0) {
    console.error('buf lint failed');
    failed = true;
  } else {
    console.log('buf lint: clean (STANDARD + COMMENTS)');
  }
} finally {
  rmSync(temp, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
