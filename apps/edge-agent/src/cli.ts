/**
 * Composition root of the edge-agent command line. Commands are registered here as their
 * capabilities land; until then the frame answers --help and --version only.
 */
import { createProgram, runProgram } from '@fleetkey/cli';
import type { Command } from 'commander';

export const DESCRIPTION = [
  'fleetkey edge agent: the key-management daemon on every robot.',
  'It keeps the robot identity and fleet communication keys in an encrypted keystore, serves robot applications over a local gRPC API on a Unix socket, and enforces emergency lockdown commands signed by the fleet controller.',
  'This build ships the command-line frame only: provision, serve and status are not in it yet.',
].join('\n\n');

export function buildCli(): Command {
  return createProgram({ name: 'edge-agent', description: DESCRIPTION, manifestUrl: new URL('../package.json', import.meta.url) });
}

/** Runs the CLI on argv (without node and script) and returns the exit code. */
export function runCli(argv: readonly string[]): Promise<number> {
  return runProgram(buildCli(), argv);
}
