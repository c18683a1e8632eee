/**
 * `npm run demo` (after the foundation tour), or `npm start -w @fleetkey/example-fleet-demo`:
 * runs the fleet demo in a fresh temporary directory and prints one line per step with what
 * happened and how long it took. `-- --kms aws|azure|gcp|vault` keeps the controller's keys in
 * that vendor's wire emulator instead of the local KMS. Ctrl-C stops every process and removes
 * the directory; a second Ctrl-C leaves at once.
 */
import { isDemoKmsProvider, DEMO_KMS_PROVIDERS, type DemoKmsProvider } from './kms.js';
import { FleetDemoFailed, runFleetDemo } from './demo.js';

const USAGE = `usage: fleet-demo [--kms ${DEMO_KMS_PROVIDERS.join('|')}]`;

/** `--kms P` or `--kms=P`, nothing else; the last one wins. */
function parseArguments(argv: readonly string[]): DemoKmsProvider {
  let kms = 'local';
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index]!;
    if (argument === '--help' || argument === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    if (argument === '--kms' && index + 1 < argv.length) {
      kms = argv[(index += 1)]!;
    } else if (argument.startsWith('--kms=')) {
      kms = argument.slice('--kms='.length);
    } else {
      console.error(`fleet-demo: unknown argument ${JSON.stringify(argument.slice(0, 40))}\n${USAGE}`);
      process.exit(2);
    }
  }
  if (!isDemoKmsProvider(kms)) {
    console.error(`fleet-demo: unknown KMS ${JSON.stringify(kms.slice(0, 40))}\n${USAGE}`);
    process.exit(2);
  }
  return kms;
}

const kms = parseArguments(process.argv.slice(2));
const interrupt = new AbortController();
process.on('SIGINT', () => {
  if (interrupt.signal.aborted) process.exit(130);
  console.error('\nstopping every process (Ctrl-C again to leave at once)…');
  interrupt.abort(new Error('interrupted'));
});

const where = kms === 'local' ? 'the local KMS' : `the ${kms} KMS emulator`;
console.log(`fleetkey fleet demo: a controller (embedded broker, SQLite, ${where}) and four edge agents, each in its own process.\n`);
const started = performance.now();
try {
  await runFleetDemo({
    kms,
    signal: interrupt.signal,
    onStep: (step) => console.log(`✔ ${step.title.padEnd(38)} ${step.ms.toFixed(0).padStart(6)} ms  ${step.detail}`),
  });
  console.log(`\nDone in ${((performance.now() - started) / 1000).toFixed(1)} s. Nothing left running; temporary files removed.`);
} catch (error) {
  // runFleetDemo scrubs its messages; anything else is a bug, shown by its message only.
  const failed = error instanceof FleetDemoFailed ? `${error.step}: ${error.message}` : error instanceof Error ? error.message : String(error);
  console.error(`✘ ${failed}`);
  console.error('Every process was stopped and the temporary files removed.');
  process.exitCode = interrupt.signal.aborted ? 130 : 1;
}
