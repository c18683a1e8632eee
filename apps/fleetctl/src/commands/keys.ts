/**
 * `fleetctl keys destroy --fleet F [--group G] --epoch N --reason R`: asks for a RETIRING or
 * EXPIRED communication epoch to be destroyed (crypto-shredding in the controller). Like a lift it
 * needs a second, different admin: `fleetctl approve REQUEST_ID --fleet F` executes it. Table
 * output is the request id alone on stdout; how to approve it goes to stderr.
 *
 * Trust boundary: the reason is the operator's text, bounded before it is sent; what is shown comes
 * from the controller and is printed through the Printer.
 */
import { Option, type Command } from 'commander';
import { MAX_REASON_BYTES, boundedText, identifier, integerIn } from '../arguments.js';
import type { Runtime } from '../context.js';
import { tableTime } from '../output.js';
import { liftRequestJson } from './lockdown.js';

/** operator.proto RequestDestroyEpochRequest.version: a uint32 epoch version, at least 1. */
const MAX_EPOCH_VERSION = 2 ** 31 - 1;

interface DestroyOptions {
  readonly fleet: string;
  readonly group?: string;
  readonly epoch: number;
  readonly reason: string;
}

export function registerKeyCommands(program: Command, runtime: Runtime): void {
  const keys = program.command('keys').description("destroy a fleet's communication keys (two admins)");

  keys
    .command('destroy')
    .description('ask for a retiring or expired epoch to be destroyed; a second, different admin approves it with `fleetctl approve` (role admin). Table output is the request id alone')
    .requiredOption('--fleet <fleet>', 'the fleet', identifier('fleet id'))
    .option('--group <group>', "the group whose own key series holds the epoch; default: the fleet key", identifier('group id'))
    .requiredOption('--epoch <version>', 'the epoch version', integerIn(1, MAX_EPOCH_VERSION))
    .addOption(new Option('--reason <text>', 'why (required; shown in the request and in the audit log)').argParser(boundedText(MAX_REASON_BYTES)).makeOptionMandatory())
    .action(async (options: DestroyOptions, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const { request } = await client.requestDestroyEpoch({ fleet: options.fleet, group: options.group ?? '', version: options.epoch, reason: options.reason });
        if (out.json) {
          out.document({ request: request === undefined ? null : { ...liftRequestJson(request), target: request.target } });
          return;
        }
        if (request === undefined) return;
        out.note(`request to destroy ${request.target} recorded, expiring ${tableTime(request.expiresAt)}; another admin approves it with: fleetctl approve ${request.liftRequestId} --fleet ${options.fleet}`);
        out.line(request.liftRequestId);
      });
    });
}
