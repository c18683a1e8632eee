/**
 * The first phase of a two-phase rotation (DESIGN.md "Two-phase rotation"): epoch N+1 of a key
 * series is made as ONE KMS data key under the fleet KEK, stored wrapped as `pending` (notBefore =
 * its activation deadline), and a new signed manifest (sequence + 1) lists every usable epoch —
 * all in one store transaction with its audit records ('rotation.start', 'epoch.create'). Then the
 * bundles of the series' active devices are published (./bundles.ts) while N stays active.
 *
 * A rotation is refused while one is pending for the series — unless it is a revocation rotation
 * (`excludeDeviceIds`), or a device of the series was revoked since the pending epoch was made:
 * the pending epoch may already have reached the revoked robot, so it is SUPERSEDED (pending ->
 * expired, never activated) and the new epoch is made on top. Excluded
 * devices must already be revoked in the store: only active devices ever get a bundle (here, in
 * GetKeyBundle and in every later distribution), and their retained bundles are cleared.
 *
 * Crash safety: nothing is stored before the commit; the version is latest + 1 and the commit
 * checks the series did not move (`seriesUnchanged`, unique versions), so no epoch is ever made
 * twice; a crash or a conflict wastes at most one data key. Distribution after the commit is
 * idempotent and redone at the next start.
 *
 * Trust boundary: the data key's plaintext lives from generateDataKey to the end of this function
 * (for its manifest commitment) and is zeroized on every path. Operator text (`reason`) is bounded
 * and refused when it looks like secret material, before any KMS call.
 */
import { InvalidArgument, assertIdentifier, isFleetkeyError } from '@fleetkey/key-types';
import { MAX_MANIFEST_EPOCHS } from '@fleetkey/protocol';
import { looksSecret } from '../audit/index.js';
import { epochWrapContext, type ControllerCore } from '../core/core.js';
import { saveEpochManifest } from '../fleets/settings.js';
import { RecordNotFound, type CommunicationEpoch, type Millis } from '../store/index.js';
import { distributorOf, type DistributionReport, type DistributionScope } from './bundles.js';
import { RotationConflict, RotationInProgress } from './errors.js';
import { loadRotationPolicy } from './policy.js';
import { copyEpochKeys, readSeries, revokedSince, seriesName, seriesUnchanged, signSeriesManifest, withSeriesLock, type PlannedEpoch } from './series.js';

/** Longest reason accepted (RotateKeysRequest.reason, UTF-8 bytes). */
export const MAX_ROTATION_REASON_BYTES = 512;
/** Longest reason copied into the audit record (../audit MAX_AUDIT_DETAIL_VALUE_LENGTH). */
export const MAX_AUDITED_REASON_LENGTH = 256;
/** Most devices one revocation rotation excludes. */
export const MAX_EXCLUDED_DEVICES = 1000;

export interface RotateNowRequest {
  readonly fleetId: string;
  /** null or undefined: the fleet-wide series; otherwise that group's own series. */
  readonly groupId?: string | null;
  /** Operator id, `device:<id>` or 'system' (audit). */
  readonly actor: string;
  /** Why (audit); may be empty. */
  readonly reason: string;
  /** Revoked devices this rotation is for (makes it a revocation rotation). */
  readonly excludeDeviceIds?: readonly string[];
}

export interface RotationStarted {
  readonly fleetId: string;
  readonly groupId: string | null;
  /** `communication/<fleet>/<fleet|group>`. */
  readonly keyId: string;
  readonly version: number;
  readonly state: 'pending';
  /** Activated at the latest at this time (at the first scheduler tick after it). */
  readonly activationDeadline: Millis;
  /** Pending epochs a revocation rotation superseded (expired without ever being active). */
  readonly supersededVersions: readonly number[];
  /** Resolves when the series' bundles are published; never rejects. Resolves incomplete when no distributor is registered. */
  readonly distribution: Promise<DistributionReport>;
}

const NO_DISTRIBUTION: DistributionReport = Object.freeze({ published: 0, failed: 0, complete: false });

function checkReason(reason: string): string {
  if (typeof reason !== 'string') throw new TypeError('"reason" expected a string');
  if (Buffer.byteLength(reason, 'utf8') > MAX_ROTATION_REASON_BYTES) throw new InvalidArgument(`"reason" expected at most ${MAX_ROTATION_REASON_BYTES} bytes`);
  // Precondition: operator text that looks like a secret never reaches the audit log (nor wastes a data key).
  if (looksSecret(reason)) throw new InvalidArgument('"reason" looks like secret material; describe the reason in words');
  return reason.length > MAX_AUDITED_REASON_LENGTH ? reason.slice(0, MAX_AUDITED_REASON_LENGTH) : reason;
}

async function checkExcluded(core: ControllerCore, fleetId: string, excluded: readonly string[]): Promise<string[]> {
  if (excluded.length > MAX_EXCLUDED_DEVICES) throw new InvalidArgument(`"excludeDeviceIds" expected at most ${MAX_EXCLUDED_DEVICES} devices`);
  const ids = [...new Set(excluded.map((id) => assertIdentifier('device', id)))].sort();
  for (const deviceId of ids) {
    const device = await core.repository.getDevice(fleetId, deviceId);
    if (device === undefined) throw new RecordNotFound(`device ${deviceId} does not exist in fleet ${fleetId}`);
    // Precondition: an excluded device is revoked in the store first, or GetKeyBundle and every
    // later distribution would still hand it the new epoch.
    if (device.status !== 'revoked') throw new InvalidArgument(`device ${deviceId} is still active: revoke it before rotating it out`);
  }
  return ids;
}

/**
 * Starts a rotation of one key series now (see the module comment).
 * @throws RecordNotFound for an unknown fleet, group or excluded device; InvalidArgument for a bad
 *   reason or an excluded device that is not revoked; InvalidIdentifier; RotationInProgress while
 *   an epoch is pending (not for a revocation rotation); RotationConflict when another process
 *   changed the series meanwhile; KMS errors.
 */
export async function rotateNow(core: ControllerCore, request: RotateNowRequest): Promise<RotationStarted> {
  const fleetId = assertIdentifier('fleet', request.fleetId);
  const groupId = request.groupId === undefined || request.groupId === null ? null : assertIdentifier('group', request.groupId);
  const reason = checkReason(request.reason);
  const keys = await core.fleetKeys(fleetId);
  if (groupId !== null && (await core.repository.getGroup(fleetId, groupId)) === undefined) throw new RecordNotFound(`group ${groupId} does not exist in fleet ${fleetId}`);
  const excluded = await checkExcluded(core, fleetId, request.excludeDeviceIds ?? []);
  const revocation = excluded.length > 0;
  const keyId = seriesName(fleetId, groupId);

  const started = await withSeriesLock(core, fleetId, groupId, async () => {
    const policy = await loadRotationPolicy(core.repository, fleetId, groupId);
    const state = await readSeries(core.repository, fleetId, groupId);
    const pending = state.epochs.filter((epoch) => epoch.state === 'pending');
    // A pending epoch made before a device of the series was revoked may be on that device: it is
    // superseded whoever asks (an operator retrying a failed revocation rotation, the scheduler).
    const compromised = pending.length === 0 ? [] : await revokedSince(core.repository, fleetId, groupId, pending[0]!.createdAt);
    if (pending.length > 0 && !revocation && compromised.length === 0) {
      const refusal = new RotationInProgress(keyId, pending[pending.length - 1]!.version);
      await core.repository.audit.append({
        actor: request.actor,
        action: 'rotation.start',
        fleetId,
        keyRef: keyId,
        result: 'denied',
        errorCode: refusal.code,
        details: { pendingVersion: refusal.pendingVersion },
      });
      throw refusal;
    }

    const now = core.clock();
    const version = state.latestVersion + 1;
    const activationDeadline = now + policy.deadlineMs;
    const fresh: PlannedEpoch = { version, state: 'pending', notBefore: activationDeadline, notAfter: activationDeadline + policy.intervalMs + policy.graceMs };
    const kept = state.epochs.filter((epoch) => epoch.state !== 'pending');
    // Bound: a manifest lists at most MAX_MANIFEST_EPOCHS; the oldest retiring epochs go first.
    const overflow: CommunicationEpoch[] = [];
    while (kept.length + 1 > MAX_MANIFEST_EPOCHS) {
      const index = kept.findIndex((epoch) => epoch.state === 'retiring');
      if (index < 0) break;
      overflow.push(...kept.splice(index, 1));
    }
    const planned: PlannedEpoch[] = [...kept.map((epoch) => ({ version: epoch.version, state: epoch.state, ...state.timing(epoch) })), fresh];

    const dataKey = await core.kms.generateDataKey({ keyId: keys.kekId, context: epochWrapContext(fleetId, groupId, version) });
    const copies = await copyEpochKeys(core, kept).catch((error: unknown) => {
      dataKey.plaintext.fill(0);
      throw error;
    });
    try {
      copies.keys.set(version, dataKey.plaintext);
      const manifest = await signSeriesManifest(core, fleetId, groupId, state.manifestSequence + 1, planned, copies.keys, now);
      await core.repository.transaction(async (tx) => {
        if (!(await seriesUnchanged(tx, state))) throw new RotationConflict(keyId);
        for (const [epoch, cause] of [...pending.map((e) => [e, 'superseded'] as const), ...overflow.map((e) => [e, 'manifest-bound'] as const)]) {
          await tx.setEpochState(fleetId, groupId, epoch.version, 'expired');
          await tx.audit.append({ actor: request.actor, action: 'epoch.state', fleetId, keyRef: `${keyId}@${epoch.version}`, result: 'ok', details: { from: epoch.state, to: 'expired', cause } });
        }
        await tx.createEpoch({ fleetId, groupId, version, state: 'pending', wrappedKey: dataKey.wrapped, notBefore: fresh.notBefore, notAfter: fresh.notAfter });
        await saveEpochManifest(tx, fleetId, groupId, manifest);
        await tx.audit.append({
          actor: request.actor,
          action: 'rotation.start',
          fleetId,
          keyRef: `${keyId}@${version}`,
          result: 'ok',
          details: {
            version,
            activationDeadline: new Date(activationDeadline).toISOString(),
            revocation: revocation || compromised.length > 0,
            excludedDevices: excluded.length,
            supersededVersion: pending.length === 0 ? null : pending[pending.length - 1]!.version,
            ...(reason === '' ? {} : { reason }),
          },
        });
        await tx.audit.append({ actor: request.actor, action: 'epoch.create', fleetId, keyRef: `${keyId}@${version}`, result: 'ok', details: { state: 'pending' } });
      });
    } catch (error) {
      // createEpoch's RecordExists means another process made this version first: the same conflict.
      if (isFleetkeyError(error, 'RECORD_EXISTS')) throw new RotationConflict(keyId);
      throw error;
    } finally {
      copies.release();
      dataKey.plaintext.fill(0);
    }
    return { version, activationDeadline, supersededVersions: pending.map((epoch) => epoch.version) };
  });

  const distributor = distributorOf(core);
  const scope: DistributionScope = groupId === null ? { kind: 'fleet' } : { kind: 'groups', groupIds: new Set([groupId]) };
  const distribution =
    distributor === undefined
      ? Promise.resolve(NO_DISTRIBUTION)
      : (async () => {
          await distributor.clearRetained(fleetId, excluded).catch(() => undefined);
          return distributor.distribute(fleetId, scope);
        })();
  return { fleetId, groupId, keyId, state: 'pending', ...started, distribution };
}
