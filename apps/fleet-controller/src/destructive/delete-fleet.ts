/**
 * Deleting a fleet (decommissioning, issue 6), once two operators approved it:
 * 1. sign the fleet's last revocation list (emergency key in the KMS), naming every device whose
 *    certificate is still valid, active and already revoked ones alike;
 * 2. in one transaction: every active device revoked (with the request's reason), the list
 *    stored, every unused enrollment token revoked, every epoch destroyed (active and retiring ones
 *    revoked first, as the key lifecycle requires; wrapped keys erased), every other pending
 *    request of the fleet superseded, the caller's records (the approval), and the fleet marked
 *    deleted — from then on the store refuses anything new in it and every rpc naming it answers
 *    NOT_FOUND, while its records and the audit log stay readable;
 * 3. after the commit: the cached epoch keys zeroized, the store's log scrubbed, the list
 *    published retained and pushed to open streams, every device dropped from the broker and its
 *    retained key bundle removed.
 *
 * The fleet's KMS keys (CA, emergency, master) are NOT deleted: the provider port has no delete,
 * and a backup made before may still need them. The outcome names them for the operator.
 *
 * Trust boundary: runs behind the two-operator approval (./approvals.ts), under the fleet's lock.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { summarizeCertificate } from '@fleetkey/crypto';
import { IllegalStateTransition, type KeyState } from '@fleetkey/key-types';
import { RevocationListSchema, SignedRevocationListSchema, TOPIC_SPECS, deviceKeysTopic, revocationsTopic, signPayload } from '@fleetkey/protocol';
import { MAX_REVOCATION_ENTRIES, revocationListSequence, type CommandIssuerDeps } from '../commands/index.js';
import { emergencyPayloadSigner, reasonDetail } from '../commands/signing.js';
import { loadRevocationList, saveRevocationList } from '../fleets/settings.js';
import { seriesName } from '../rotation/series.js';
import { RecordNotFound, type Device, type RepositoryTx } from '../store/index.js';

/** States an epoch passes through on its way to destroyed (libs/key-types states.ts). */
const ROUTE_TO_DESTROYED: Readonly<Record<KeyState, readonly KeyState[]>> = Object.freeze({
  pending: [],
  active: ['revoked'],
  retiring: ['revoked'],
  expired: [],
  revoked: [],
  destroyed: [],
});

export interface DeleteFleetInput {
  readonly fleetId: string;
  readonly reason: string;
  readonly actor: string;
  readonly requestId: string;
}

export interface DeleteFleetOutcome {
  readonly revokedDevices: number;
  readonly revokedTokens: number;
  readonly destroyedEpochs: number;
  readonly revocationListSequence: number;
  /** The fleet's KMS keys the controller cannot delete (ids, not material). */
  readonly kmsKeyIds: readonly string[];
}

function certificateStillValid(device: Device, now: number): boolean {
  try {
    return summarizeCertificate(device.certificateDer).notAfter.getTime() > now;
  } catch {
    return true; // unparsable: listing too much is the safe side
  }
}

/**
 * Deletes the fleet (see the module comment). Call it under the fleet's lock.
 * @throws RecordNotFound for an unknown or deleted fleet; IllegalStateTransition when more
 *   devices hold valid certificates than a revocation list can name; KMS errors (nothing changed).
 */
export async function deleteFleetLocked(deps: CommandIssuerDeps, input: DeleteFleetInput, withinTransaction: (tx: RepositoryTx) => Promise<void>): Promise<DeleteFleetOutcome> {
  const { core, logger, publisher, events } = deps;
  const { repository } = core;
  const { fleetId, reason } = input;
  if ((await repository.getFleet(fleetId)) === undefined) throw new RecordNotFound(`fleet "${fleetId}" does not exist`);
  const keys = await core.fleetKeys(fleetId);
  const now = core.clock();
  const devices = await repository.listDevices({ fleetId });
  const listed = devices
    .map((device) => (device.status === 'active' ? { ...device, status: 'revoked' as const, revokedAt: now, revocationReason: reason } : device))
    .filter((device) => certificateStillValid(device, now));
  if (listed.length > MAX_REVOCATION_ENTRIES) {
    throw new IllegalStateTransition(`fleet "${fleetId}" has more than ${MAX_REVOCATION_ENTRIES} devices with valid certificates; a revocation list cannot name them all`);
  }
  const sequence = revocationListSequence(await loadRevocationList(repository, fleetId)) + 1;
  const { sign } = await emergencyPayloadSigner(core, fleetId);
  const list = create(
    SignedRevocationListSchema,
    await signPayload(
      RevocationListSchema,
      {
        fleet: fleetId,
        sequence: BigInt(sequence),
        issuedAt: timestampFromMs(now),
        revoked: listed.map((device) => ({ deviceId: device.deviceId, serialNumber: device.certificateSerial, revokedAt: timestampFromMs(device.revokedAt ?? now), reason: device.revocationReason ?? '' })),
      },
      sign,
    ),
  );

  const outcome = await repository.transaction(async (tx) => {
    let revokedDevices = 0;
    for (const device of devices) {
      if (device.status !== 'active') continue;
      await tx.revokeDevice(fleetId, device.deviceId, reason);
      await tx.audit.append({ actor: input.actor, action: 'device.revoke', fleetId, deviceId: device.deviceId, result: 'ok', details: { certificateSerial: device.certificateSerial, revocationListSequence: sequence, cause: 'fleet.delete', request: input.requestId } });
      revokedDevices += 1;
    }
    await saveRevocationList(tx, fleetId, list);
    let revokedTokens = 0;
    for (const token of await tx.listEnrollmentTokens({ fleetId })) {
      if (token.usedAt !== null || token.revokedAt !== null) continue;
      await tx.revokeEnrollmentToken(fleetId, token.id);
      await tx.audit.append({ actor: input.actor, action: 'token.revoke', fleetId, result: 'ok', details: { subject: token.id, cause: 'fleet.delete' } });
      revokedTokens += 1;
    }
    let destroyedEpochs = 0;
    for (const epoch of await tx.listEpochs(fleetId)) {
      if (epoch.state === 'destroyed') continue;
      const keyRef = `${seriesName(fleetId, epoch.groupId)}@${epoch.version}`;
      for (const step of ROUTE_TO_DESTROYED[epoch.state]) await tx.setEpochState(fleetId, epoch.groupId, epoch.version, step);
      await tx.destroyEpoch(fleetId, epoch.groupId, epoch.version);
      await tx.audit.append({ actor: input.actor, action: 'epoch.destroy', fleetId, keyRef, result: 'ok', details: { request: input.requestId, from: epoch.state, cause: 'fleet.delete' } });
      destroyedEpochs += 1;
    }
    for (const pending of await tx.listLiftRequests(fleetId, { state: 'pending', kind: 'any' })) {
      if (pending.id !== input.requestId) await tx.setLiftRequestState(fleetId, pending.id, 'superseded');
    }
    await withinTransaction(tx);
    await tx.deleteFleet(fleetId);
    await tx.audit.append({
      actor: input.actor,
      action: 'fleet.delete',
      fleetId,
      result: 'ok',
      details: { request: input.requestId, revokedDevices, revokedEnrollments: revokedTokens, destroyedEpochs, revocationListSequence: sequence, ...reasonDetail(reason) },
    });
    return { revokedDevices, revokedTokens, destroyedEpochs };
  });

  for (const epoch of await repository.listEpochs(fleetId)) core.forgetEpochKey(fleetId, epoch.groupId, epoch.version);
  if (!(await repository.scrub())) logger.warn({ fleet: fleetId }, 'the state store log could not be scrubbed now (a reader held it); the next scrub completes it');
  try {
    await publisher.publish(revocationsTopic(fleetId), toBinary(SignedRevocationListSchema, list), { qos: 1, retain: true });
  } catch (error) {
    logger.error({ err: error, fleet: fleetId, sequence }, 'publishing the last revocation list of a deleted fleet failed');
  }
  events.emit('revocationList', fleetId, list, sequence);
  for (const device of devices) {
    try {
      // An empty retained message deletes the retained bundle [MQTT-3.3.1-10].
      await publisher.publish(deviceKeysTopic(fleetId, device.deviceId), new Uint8Array(0), { qos: TOPIC_SPECS['device-keys'].qos, retain: true });
      await publisher.disconnectDevice(fleetId, device.deviceId);
    } catch (error) {
      logger.error({ err: error, fleet: fleetId, deviceId: device.deviceId }, 'dropping a device of a deleted fleet from the broker failed; it is refused when it reconnects');
    }
  }
  return { ...outcome, revocationListSequence: sequence, kmsKeyIds: [keys.caKeyId, keys.emergencyKeyId, keys.kekId] };
}
