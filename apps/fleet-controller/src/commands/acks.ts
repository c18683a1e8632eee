/**
 * What a robot's acknowledgement changes, whichever way it arrived (DeviceService.Ack over mutual
 * TLS, or `.../devices/{device}/up/acks` over MQTT): a command ack is kept per device and command
 * (lockdown status counts APPLIED ones) and audited; an APPLIED ack of a command, key bundle or
 * revocation list raises the device's acknowledged sequence of that kind (the store keeps the
 * maximum); every ack counts as contact.
 *
 * Preconditions (tested end to end in ./commands.e2e.spec.ts):
 * - the device is named by the transport (certificate, or topic), never by the ack's body alone;
 *   callers refuse an ack whose body names another device before calling here;
 * - a sequence the controller never issued is refused: a robot cannot claim a bundle, list or
 *   command from the future (which would make later ones look acknowledged).
 *
 * Trust boundary: the Ack is robot input, already decoded with the codec's bounds; enum values are
 * checked here (proto3 enums are open). The robot's free-text `detail` is not stored or logged.
 */
import { InvalidArgument } from '@fleetkey/key-types';
import { AckKind, AckOutcome, EpochManifestSchema, MAX_SIGNED_PAYLOAD_BYTES, decodeMessage, type Ack } from '@fleetkey/protocol';
import type { ControllerCore } from '../core/core.js';
import { loadEpochManifest, loadRevocationList } from '../fleets/settings.js';
import { RecordNotFound, type CommandAckOutcome, type Device } from '../store/index.js';
import { revocationListSequence } from './revocation.js';

const OUTCOMES: ReadonlyMap<AckOutcome, CommandAckOutcome> = new Map([
  [AckOutcome.APPLIED, 'applied'],
  [AckOutcome.REJECTED_SIGNATURE, 'rejected-signature'],
  [AckOutcome.REJECTED_REPLAY, 'rejected-replay'],
  [AckOutcome.REJECTED_EXPIRED, 'rejected-expired'],
  [AckOutcome.REJECTED_MALFORMED, 'rejected-malformed'],
  [AckOutcome.FAILED, 'failed'],
]);

/** How an ack reached the controller (audit detail). */
export type AckTransport = 'grpc' | 'mqtt';

function outcomeOf(ack: Ack): CommandAckOutcome {
  const outcome = OUTCOMES.get(ack.outcome);
  if (outcome === undefined) throw new InvalidArgument('"ack.outcome" expected a known outcome');
  return outcome;
}

function sequenceOf(ack: Ack): number {
  if (ack.sequence < 1n || ack.sequence > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidArgument('"ack.sequence" is out of range');
  return Number(ack.sequence);
}

/** The device's current key-bundle sequence: the sum of its manifests' sequences (as ../provisioning/device-keys.ts builds bundles). */
export async function currentBundleSequence(core: ControllerCore, device: Pick<Device, 'fleetId' | 'groupId'>): Promise<number> {
  let sequence = 0;
  for (const groupId of device.groupId === null ? [null] : [null, device.groupId]) {
    const manifest = await loadEpochManifest(core.repository, device.fleetId, groupId);
    if (manifest !== undefined) sequence += Number(decodeMessage(EpochManifestSchema, manifest.payload, { maxBytes: MAX_SIGNED_PAYLOAD_BYTES }).sequence);
  }
  return sequence;
}

/**
 * Records an acknowledgement of `device` (already authenticated by its transport, and matching
 * the ack's fleet and device).
 * @throws InvalidArgument for an unspecified kind or outcome, or a sequence out of range or never
 *   issued; RecordNotFound for an unknown command.
 */
export async function applyDeviceAck(core: ControllerCore, device: Device, ack: Ack, transport: AckTransport): Promise<void> {
  const outcome = outcomeOf(ack);
  const sequence = sequenceOf(ack);
  const applied = outcome === 'applied';
  const { fleetId, deviceId } = device;
  const repository = core.repository;
  switch (ack.kind) {
    case AckKind.COMMAND: {
      const command = await repository.getCommand(fleetId, sequence);
      if (command === undefined) throw new RecordNotFound(`command ${sequence} does not exist in fleet "${fleetId}"`);
      await repository.transaction(async (tx) => {
        await tx.recordCommandAck({ fleetId, sequence, deviceId, outcome });
        if (applied) await tx.recordDeviceAck(fleetId, deviceId, 'command', sequence);
        else await tx.touchDevice(fleetId, deviceId);
        await tx.audit.append({ actor: `device:${deviceId}`, action: 'command.ack', fleetId, deviceId, result: 'ok', details: { sequence, command: command.action, outcome, transport } });
      });
      return;
    }
    case AckKind.KEY_BUNDLE: {
      // Precondition: a sequence the controller never issued is refused.
      if (sequence > (await currentBundleSequence(core, device))) throw new InvalidArgument('"ack.sequence" names a key bundle that was never issued');
      if (applied) await repository.recordDeviceAck(fleetId, deviceId, 'key-bundle', sequence);
      else await repository.touchDevice(fleetId, deviceId);
      return;
    }
    case AckKind.REVOCATION_LIST: {
      if (sequence > revocationListSequence(await loadRevocationList(repository, fleetId))) throw new InvalidArgument('"ack.sequence" names a revocation list that was never issued');
      if (applied) await repository.recordDeviceAck(fleetId, deviceId, 'revocation-list', sequence);
      else await repository.touchDevice(fleetId, deviceId);
      return;
    }
    default:
      throw new InvalidArgument('"ack.kind" expected COMMAND, KEY_BUNDLE or REVOCATION_LIST');
  }
}
