#!/usr/bin/env node
/**
 * Builds the production form of the agent: one ES module bundle (`dist/edge-agent.mjs`) that Node
 * runs without tsx. Robots run this (smaller, starts faster: see docs/edge-agent.md, Performance);
 * `bin/edge-agent.mjs` stays the development launcher that needs no build step.
 *
 * The SQLite binding stays outside the bundle (a native addon is loaded from node_modules).
 * Usage: node scripts/build.mjs [OUTFILE]
 */
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('../src/main.ts', import.meta.url));
export const DEFAULT_OUTFILE = fileURLToPath(new URL('../dist/edge-agent.mjs', import.meta.url));

/** Bundles src/main.ts into `outfile`. */
export async function buildAgentBundle(outfile = DEFAULT_OUTFILE) {
  await build({
    entryPoints: [ENTRY],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['better-sqlite3-multiple-ciphers'],
    // The version is written into the bundle, so it runs without the package.json beside it.
    define: { FLEETKEY_BUILD_VERSION: JSON.stringify(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version) },
    // CommonJS dependencies call require(); an ES module bundle has to provide it.
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as fleetkeyCreateRequire } from 'node:module';\nconst require = fleetkeyCreateRequire(import.meta.url);" },
    minify: true,
    keepNames: true,
    logLevel: 'warning',
  });
  return outfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outfile = await buildAgentBundle(process.argv[2]);
  process.stdout.write(`built ${outfile}\n`);
}
