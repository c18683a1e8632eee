/** Process entry point of fleet-controller: parse argv, run, and turn failures into one clear line and an exit code. */
import { runCli } from './cli.js';

process.exitCode = await runCli(process.argv.slice(2));
