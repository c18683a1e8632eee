/** Process entry point of fleetctl: parse argv, run, and turn failures into one clear line and an exit code. */
import { dropIpServerNameWarning } from '@fleetkey/cli';
import { runCli } from './cli.js';
import { processIo } from './context.js';

// A reader that stops early (`fleetctl tokens create ... | head -1`) closes the pipe: that is
// not an error of fleetctl's, and must not end in a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

dropIpServerNameWarning();

process.exitCode = await runCli(process.argv.slice(2), processIo());
