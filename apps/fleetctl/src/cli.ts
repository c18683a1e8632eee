/**
 * Composition root of the fleetctl command line. Commands are registered here as their
 * capabilities land; until then the frame answers --help and --version only.
 */
import { createProgram, runProgram } from '@fleetkey/cli';
import type { Command } from 'commander';

export const DESCRIPTION = [
  'fleetctl: the operator command line of a fleetkey controller.',
  'Operators use it to see the fleet, mint enrollment tokens, rotate keys, revoke devices, lock a fleet down and lift a lockdown, and verify the audit log.',
  'This build ships the command-line frame only: its commands are not in it yet.',
].join('\n\n');

export function buildCli(): Command {
  return createProgram({ name: 'fleetctl', description: DESCRIPTION, manifestUrl: new URL('../package.json', import.meta.url) });
}

/** Runs the CLI on argv (without node and script) and returns the exit code. */
export function runCli(argv: readonly string[]): Promise<number> {
  return runProgram(buildCli(), argv);
}
