/**
 * `npm run demo`: runs the foundation tour in a fresh temporary directory, prints one line per
 * step with what happened and how long it took, and removes everything it made.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTour } from './tour.js';

const workDir = mkdtempSync(join(tmpdir(), 'fleetkey-demo-'));
console.log('fleetkey foundation tour: a fleet CA, two robots, wrapped communication keys, rotation, revocation, lockdown.\n');
const started = performance.now();
try {
  await runTour({
    workDir,
    onStep: (step) => console.log(`✔ ${step.title.padEnd(48)} ${step.ms.toFixed(1).padStart(7)} ms  ${step.detail}`),
  });
  console.log(`\nDone in ${((performance.now() - started) / 1000).toFixed(2)} s. Temporary files removed.`);
} catch (error) {
  console.error(`✘ the tour stopped: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
