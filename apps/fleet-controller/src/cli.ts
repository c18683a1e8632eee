/**
 * Composition root of the fleet-controller command line. Commands are registered here as their
 * capabilities land; until then the frame answers --help and --version only.
 */
import { createProgram, runProgram } from '@fleetkey/cli';
import type { Command } from 'commander';

export const DESCRIPTION = [
  'fleetkey fleet controller: the control plane of a robot fleet.',
  'It issues device identities from a fleet CA held in a KMS, rotates the fleet communication keys every 24 hours, and signs emergency revocation and lockdown commands delivered over MQTT and gRPC.',
  'This build ships the command-line frame only: init, serve and restore are not in it yet.',
].join('\n\n');

export function buildCli(): Command {
  return createProgram({ name: 'fleet-controller', description: DESCRIPTION, manifestUrl: new URL('../package.json', import.meta.url) });
}

/** Runs the CLI on argv (without node and script) and returns the exit code. */
export function runCli(argv: readonly string[]): Promise<number> {
  return runProgram(buildCli(), argv);
}
