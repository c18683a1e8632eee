/**
 * `npm start -w @fleetkey/example-controller-tour` (and part of `npm run demo`): runs the
 * controller tour in a fresh temporary directory, prints one line per step with what happened and
 * how long it took, and removes everything it made.
 */
import { dropIpServerNameWarning } from '@fleetkey/cli';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redactTokens } from './processes.js';
import { runControllerTour } from './tour.js';

dropIpServerNameWarning();

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
