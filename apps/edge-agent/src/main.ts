/** Process entry point of edge-agent: parse argv, run, and turn failures into one clear line and an exit code. */
import { dropIpServerNameWarning } from '@fleetkey/cli';
import { runCli } from './cli.js';

dropIpServerNameWarning();

process.exitCode = await runCli(process.argv.slice(2));
