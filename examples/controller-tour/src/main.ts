/**
 * `npm start -w @fleetkey/example-controller-tour` (and part of `npm run demo`): runs the
 * controller tour in a fresh temporary directory, prints one line per step with what happened and
 * how long it took, and removes everything it made.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redactTokens } from './processes.js';
import { runControllerTour } from './tour.js';

// grpc-js sets the TLS server name to the target host even for an IP literal (127.0.0.1 here), and
// node then prints DEP0123 in the middle of the tour. The IP is still checked against the
// certificate's IP SANs; only this one warning is dropped (as fleetctl's entry point does).
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const [typeOrOptions, code] = rest;
  const warningCode = typeof typeOrOptions === 'object' && typeOrOptions !== null ? (typeOrOptions as { code?: unknown }).code : code;
  if (warningCode === 'DEP0123') return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

const workDir = mkdtempSync(join(tmpdir(), 'fleetkey-controller-tour-'));
console.log('fleetkey controller tour: a real fleet controller, fleetctl, three robots over gRPC + TLS, mutual TLS, the broker, the audit chain.\n');
const started = performance.now();
try {
  await runControllerTour({
    workDir,
    onStep: (step) => console.log(`✔ ${step.title.padEnd(44)} ${step.ms.toFixed(1).padStart(7)} ms  ${step.detail}`),
  });
  console.log(`\nDone in ${((performance.now() - started) / 1000).toFixed(2)} s. Nothing left running; temporary files removed.`);
} catch (error) {
  // Unexpected failures only; the message is scrubbed of token shapes all the same.
  console.error(`✘ the tour stopped: ${redactTokens(error instanceof Error ? error.message : String(error))}`);
  process.exitCode = 1;
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
