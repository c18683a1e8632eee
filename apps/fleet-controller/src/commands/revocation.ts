/**
 * Revoking a device (DESIGN.md flow 4), in this order:
 * 1. sign the fleet's next revocation list (sequence + 1) with the emergency key: every revoked
 *    device whose certificate has not expired yet (expired ones drop off, as CRL entries do), the
 *    new one included;
 * 2. in one transaction: the device revoked with its reason, the list stored, the audit record —
 *    from here on the controller refuses the device (PERMISSION_DENIED) and the broker refuses it
 *    at CONNECT, because both authenticate only active devices;
 * 3. the list published retained on the fleet's revocations topic and pushed to open streams;
 * 4. a signed REVOKE command for the device (its own commands topic and stream), so it locks and,
 *    with `wipe`, shreds its keys if it still listens; its open command stream then ends;
 * 5. the device dropped from the broker;
 * 6. a new communication epoch rotated in at once, not wrapped for the device (the rotation
 *    module), for the fleet-wide key and the device's group key when its group has its own.
 *
 * Steps 1-5 run under the fleet's lock (revocation-list and command sequences stay monotonic on
 * their retained topics). If the rotation fails, the revocation stands and the error says so
 * (FAILED_PRECONDITION naming the list and command); the operator runs `fleetctl rotate`
 * (docs/operations.md).
 *
 * Trust boundary: runs behind the operator API's guard. What leaves is signed (list, command) or a
 * disconnect; the reason is operator text, bounded and checked (./signing.ts).
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { summarizeCertificate } from '@fleetkey/crypto';
import { IllegalStateTransition, isFleetkeyError } from '@fleetkey/key-types';
import {
  MAX_REVOCATION_LIST_BYTES,
  RevocationListSchema,
  SignedRevocationListSchema,
  decodeMessage,
  revocationsTopic,
  signPayload,
  type SignedRevocationList,
} from '@fleetkey/protocol';
import type { ControllerCore } from '../core/core.js';
import { loadRevocationList, saveRevocationList } from '../fleets/settings.js';
import { RecordNotFound, type Device, type IssuedCommand, type Millis } from '../store/index.js';
import { issueCommandLocked, type CommandIssuerDeps } from './issue-command.js';
import { withFleetLock } from './fleet-lock.js';
import { emergencyPayloadSigner, reasonDetail, requiredReason } from './signing.js';

/** messages.proto RevocationList.revoked: at most 10,000 entries. */
export const MAX_REVOCATION_ENTRIES = 10_000;

/** What the rotation module does after a revocation: a new epoch of one key series, not wrapped for `excludeDeviceIds`. */
export type RevocationRotation = (input: {
  readonly fleetId: string;
  /** null: the fleet-wide series; a group id: that group's own series. */
  readonly groupId: string | null;
  readonly reason: string;
  readonly actor: string;
  readonly excludeDeviceIds: readonly string[];
}) => Promise<{ readonly version: number }>;

export interface RevokeDeviceInput {
  readonly fleetId: string;
  readonly deviceId: string;
  readonly reason: string;
  readonly wipe: boolean;
  /** Operator id. */
  readonly actor: string;
}

export interface RevokeDeviceOutcome {
  readonly device: Device;
  readonly revocationListSequence: number;
  readonly command: IssuedCommand;
  /** The fleet-wide epoch rotated in; undefined only when `rotate` is not given. */
  readonly newEpochVersion: number | undefined;
}

/** The sequence of a stored signed revocation list (0 when the fleet has none). */
export function revocationListSequence(list: SignedRevocationList | undefined): number {
  if (list === undefined) return 0;
  return Number(decodeMessage(RevocationListSchema, list.payload, { maxBytes: MAX_REVOCATION_LIST_BYTES }).sequence);
}

function certificateStillValid(device: Device, now: Millis): boolean {
  try {
    return summarizeCertificate(device.certificateDer).notAfter.getTime() > now;
  } catch {
    // An unparsable stored certificate: keep the entry (listing too much is the safe side).
    return true;
  }
}

/**
 * Signs the fleet's next revocation list naming `revoked` (the newly revoked device included by
 * the caller) at `sequence`.
 * @throws IllegalStateTransition when more than MAX_REVOCATION_ENTRIES certificates are still valid.
 */
async function signRevocationList(core: ControllerCore, fleetId: string, sequence: number, revoked: readonly Device[], now: Millis): Promise<SignedRevocationList> {
  const entries = revoked.filter((device) => certificateStillValid(device, now));
  if (entries.length > MAX_REVOCATION_ENTRIES) {
    throw new IllegalStateTransition(`fleet "${fleetId}" has more than ${MAX_REVOCATION_ENTRIES} revoked devices with valid certificates; the revocation list cannot hold them`);
  }
  const { sign } = await emergencyPayloadSigner(core, fleetId);
  const signed = await signPayload(
    RevocationListSchema,
    {
      fleet: fleetId,
      sequence: BigInt(sequence),
      issuedAt: timestampFromMs(now),
      revoked: entries.map((device) => ({
        deviceId: device.deviceId,
        serialNumber: device.certificateSerial,
        revokedAt: timestampFromMs(device.revokedAt ?? now),
        reason: device.revocationReason ?? '',
      })),
    },
    sign,
  );
  return create(SignedRevocationListSchema, signed);
}

/**
 * Revokes a device (see the module comment).
 * @throws RecordNotFound for an unknown fleet or device; IllegalStateTransition when it is already
 *   revoked; InvalidArgument for a missing reason; KMS errors (nothing changed when signing fails);
 *   the rotation's error after the revocation took effect.
 */
export async function revokeDevice(deps: CommandIssuerDeps, input: RevokeDeviceInput, rotate?: RevocationRotation): Promise<RevokeDeviceOutcome> {
  const reason = requiredReason('reason', input.reason);
  const { core, logger } = deps;
  const { fleetId, deviceId } = input;
  const revoked = await withFleetLock(core, fleetId, async () => {
    const device = await core.repository.getDevice(fleetId, deviceId);
    if (device === undefined) throw new RecordNotFound(`device "${deviceId}" does not exist in fleet "${fleetId}"`);
    if (device.status === 'revoked') {
      throw new IllegalStateTransition(`device "${deviceId}" is already revoked; if the rotation after its revocation failed, run fleetctl rotate --fleet ${fleetId}`);
    }
    const now = core.clock();
    const sequence = revocationListSequence(await loadRevocationList(core.repository, fleetId)) + 1;
    const others = await core.repository.listDevices({ fleetId }, { status: 'revoked' });
    const list = await signRevocationList(core, fleetId, sequence, [...others, { ...device, status: 'revoked', revokedAt: now, revocationReason: reason }], now);
    const updated = await core.repository.transaction(async (tx) => {
      const after = await tx.revokeDevice(fleetId, deviceId, reason);
      // The store refuses a list that is not newer: a concurrent writer elsewhere rolls this back.
      await saveRevocationList(tx, fleetId, list);
      await tx.audit.append({
        actor: input.actor,
        action: 'device.revoke',
        fleetId,
        deviceId,
        result: 'ok',
        details: { certificateSerial: device.certificateSerial, revocationListSequence: sequence, wipe: input.wipe, ...reasonDetail(reason) },
      });
      return after;
    });
    try {
      await deps.publisher.publish(revocationsTopic(fleetId), toBinary(SignedRevocationListSchema, list), { qos: 1, retain: true });
    } catch (error) {
      logger.error({ err: error, fleet: fleetId, sequence }, 'publishing the revocation list failed; robots get it over StreamCommands and GetKeyBundle');
    }
    deps.events.emit('revocationList', fleetId, list, sequence);
    const command = await issueCommandLocked(deps, { fleetId, action: 'revoke', scope: { kind: 'device', deviceId }, reason, issuedBy: input.actor, wipe: input.wipe });
    try {
      await deps.publisher.disconnectDevice(fleetId, deviceId);
    } catch (error) {
      logger.error({ err: error, fleet: fleetId, deviceId }, 'dropping a revoked device from the broker failed; it is refused when it reconnects');
    }
    return { device: updated, revocationListSequence: sequence, command };
  });

  if (rotate === undefined) return { ...revoked, newEpochVersion: undefined };
  const rotationInput = { fleetId, reason: `revocation of device ${deviceId}`, actor: input.actor, excludeDeviceIds: [deviceId] };
  try {
    const fleetEpoch = await rotate({ ...rotationInput, groupId: null });
    const groupId = revoked.device.groupId;
    if (groupId !== null && (await core.repository.latestEpochVersion(fleetId, groupId)) > 0) await rotate({ ...rotationInput, groupId });
    return { ...revoked, newEpochVersion: fleetEpoch.version };
  } catch (error) {
    logger.error({ err: error, fleet: fleetId, deviceId }, 'the rotation after a revocation failed');
    if (!isFleetkeyError(error)) throw error;
    // The revocation stands; say so, and what is left to do.
    throw new IllegalStateTransition(
      `device "${deviceId}" is revoked (revocation list ${revoked.revocationListSequence}, REVOKE command ${revoked.command.sequence}), but the rotation that follows failed (${error.code}: ${error.message}); run fleetctl rotate --fleet ${fleetId}`,
      { cause: error },
    );
  }
}
