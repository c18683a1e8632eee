/**
 * Test support: module resolution hooks (node:module register) that append every resolved URL to
 * a log file, so a test can list which packages a child process actually loaded.
 *
 * Trust boundary: test-only.
 */
import { appendFileSync } from 'node:fs';

let logFile;

export function initialize(data) {
  logFile = data.logFile;
}

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  appendFileSync(logFile, `${result.url}\n`);
  return result;
}
