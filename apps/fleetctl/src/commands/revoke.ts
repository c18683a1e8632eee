/**
 * `fleetctl revoke DEVICE --fleet F --reason R [--wipe]`: revokes a device. The controller puts its
 * certificate on a new signed revocation list, sends it a signed REVOKE command, drops it from the
 * broker (and refuses it from then on), and rotates a new communication epoch in that is not
 * wrapped for it. Prints what changed: the device, the list and command sequences, the new epoch.
 *
 * Trust boundary: the reason is the operator's text, bounded and free of control characters before
 * it is sent; everything shown comes from the controller.
 */
import { Option, type Command } from 'commander';
import type { RevokeDeviceResponse } from '@fleetkey/protocol';
import { MAX_REASON_BYTES, boundedText, identifier } from '../arguments.js';
import type { Runtime } from '../context.js';
import { jsonInteger } from '../output.js';
import { deviceJson } from './devices.js';

export function revocationJson(response: RevokeDeviceResponse): Record<string, unknown> {
  return {
    device: response.device === undefined ? null : deviceJson(response.device),
    revocationListSequence: jsonInteger(response.revocationListSequence),
    commandSequence: jsonInteger(response.commandSequence),
    newEpoch: response.newEpoch === undefined ? null : { keyId: response.newEpoch.keyId, version: response.newEpoch.version },
  };
}

export function registerRevokeCommand(program: Command, runtime: Runtime): void {
  program
    .command('revoke')
    .description('revoke a device: signed revocation list, REVOKE command, broker disconnect, and a new epoch it cannot read (roles admin, operator)')
    .argument('<device-id>', 'the device to revoke', identifier('device id'))
    .addOption(new Option('--fleet <fleet>', 'the fleet').argParser(identifier('fleet id')).makeOptionMandatory())
    .addOption(new Option('--reason <text>', 'why (required; goes into the signed revocation list and the audit log)').argParser(boundedText(MAX_REASON_BYTES)).makeOptionMandatory())
    .option('--wipe', 'also tell the device to shred its communication keys')
    .action(async (deviceId: string, options: { fleet: string; reason: string; wipe?: boolean }, command: Command) => {
      await runtime.operator(command, async (client, out) => {
        const response = await client.revokeDevice({ fleet: options.fleet, deviceId, reason: options.reason, wipe: options.wipe === true });
        if (out.json) {
          out.document(revocationJson(response));
          return;
        }
        out.fields([
          ['Device', response.device?.deviceId ?? deviceId],
          ['Fleet', options.fleet],
          ['State', 'revoked'],
          ['Revocation list', `sequence ${response.revocationListSequence}`],
          ['REVOKE command', `sequence ${response.commandSequence}${options.wipe === true ? ' (wipe)' : ''}`],
          ['New epoch', response.newEpoch === undefined ? '' : `${response.newEpoch.keyId} v${response.newEpoch.version}`],
        ]);
      });
    });
}
