/**
 * The second phase of a rotation, one step of the key-state machine per series (DESIGN.md "Keys",
 * "Two-phase rotation"):
 *   pending  -> active    when the acknowledged share of the series' active devices reaches the
 *                         policy threshold, or the activation deadline (its notBefore) has passed;
 *   active   -> retiring  at that moment, openable for the grace window (notAfter = now + grace);
 *   retiring -> expired   once its notAfter has passed.
 * Every change re-signs the series' manifest (sequence + 1) in the same transaction as the state
 * changes and their 'epoch.state' audit records; the caller then republishes the bundles.
 *
 * A device counts as having acknowledged when its ackedBundleSequence reaches the sequence of the
 * bundle it holds now (the sum of its series' manifest sequences), which carries the pending
 * epoch. Any later manifest change raises that bar again: activation can only come later than
 * exact accounting would allow, never earlier.
 *
 * Crash safety: the only state is the epochs table and the signed manifest, changed together; a
 * step interrupted before its commit changed nothing and is simply taken again at the next tick.
 *
 * Trust boundary: reads acknowledgements recorded by the ack ingestion (device-reported numbers,
 * only ever compared); plaintext epoch keys are copied for the manifest commitments and zeroized.
 */
import type { KeyState } from '@fleetkey/key-types';
import type { ControllerCore } from '../core/core.js';
import { loadEpochManifest, saveEpochManifest } from '../fleets/settings.js';
import type { CommunicationEpoch, Millis } from '../store/index.js';
import { RotationConflict } from './errors.js';
import { loadRotationPolicy, type RotationPolicy } from './policy.js';
import { copyEpochKeys, manifestFacts, readSeries, revokedSince, seriesName, seriesUnchanged, signSeriesManifest, withSeriesLock, type EpochTiming, type PlannedEpoch, type SeriesState } from './series.js';

export interface AckProgress {
  /** Active devices of the series whose acknowledged bundle carries the series' current manifest. */
  readonly acked: number;
  /** Active devices of the series (fleet-wide series: every device of the fleet). */
  readonly total: number;
}

/** How many of the series' active devices acknowledged the bundle they hold now. */
export async function ackProgress(core: ControllerCore, state: Pick<SeriesState, 'fleetId' | 'groupId' | 'manifestSequence'>): Promise<AckProgress> {
  const { repository } = core;
  const devices = await repository.listDevices({ fleetId: state.fleetId }, state.groupId === null ? { status: 'active' } : { groupId: state.groupId, status: 'active' });
  const sequences = new Map<string | null, number>([[state.groupId, state.manifestSequence]]);
  const sequenceOf = async (groupId: string | null): Promise<number> => {
    let sequence = sequences.get(groupId);
    if (sequence === undefined) {
      sequence = manifestFacts(await loadEpochManifest(repository, state.fleetId, groupId)).sequence;
      sequences.set(groupId, sequence);
    }
    return sequence;
  };
  let acked = 0;
  for (const device of devices) {
    const required = (await sequenceOf(null)) + (device.groupId === null ? 0 : await sequenceOf(device.groupId));
    if (device.ackedBundleSequence >= required) acked += 1;
  }
  return { acked, total: devices.length };
}

interface Transition {
  readonly epoch: CommunicationEpoch;
  readonly to: KeyState;
  readonly cause: 'acknowledged' | 'deadline' | 'successor-active' | 'grace-ended' | 'superseded';
}

export interface AdvanceOutcome {
  readonly fleetId: string;
  readonly groupId: string | null;
  /** Whether anything changed (then the manifest was re-signed and bundles must be republished). */
  readonly changed: boolean;
  readonly activated: number | null;
  readonly retired: readonly number[];
  readonly expired: readonly number[];
  /** Whether an epoch is still pending after this step. */
  readonly pending: boolean;
  /** A device of the series was revoked after the pending epoch was made: it must be superseded (rotateNow). */
  readonly compromised: boolean;
  /** When the newest usable epoch was made (the last rotation's start); null for an empty series. */
  readonly lastRotationAt: Millis | null;
  readonly policy: RotationPolicy;
}

/**
 * Takes one step of the series' state machine at the core's current time (see the module comment).
 * @throws RotationConflict when another process changed the series meanwhile (the next tick
 *   retries); InvalidArgument for a malformed stored policy; KMS and store errors.
 */
export function advanceSeries(core: ControllerCore, fleetId: string, groupId: string | null): Promise<AdvanceOutcome> {
  return withSeriesLock(core, fleetId, groupId, async () => {
    const policy = await loadRotationPolicy(core.repository, fleetId, groupId);
    const state = await readSeries(core.repository, fleetId, groupId);
    const now = core.clock();
    const times = new Map<number, EpochTiming>(state.epochs.map((epoch) => [epoch.version, state.timing(epoch)]));
    const transitions: Transition[] = [];

    const pending = state.epochs.filter((epoch) => epoch.state === 'pending');
    const candidate = pending.at(-1);
    // Precondition: a pending epoch that a since-revoked device may hold is never activated; the
    // scheduler supersedes it with a new rotation instead.
    const compromised = candidate === undefined ? false : (await revokedSince(core.repository, fleetId, groupId, pending[0]!.createdAt)).length > 0;
    if (candidate !== undefined && !compromised) {
      const deadlinePassed = now >= times.get(candidate.version)!.notBefore;
      let cause: Transition['cause'] | undefined = deadlinePassed ? 'deadline' : undefined;
      if (cause === undefined) {
        const progress = await ackProgress(core, state);
        if (progress.total === 0 || progress.acked / progress.total >= policy.threshold) cause = 'acknowledged';
      }
      if (cause !== undefined) {
        for (const older of pending.slice(0, -1)) transitions.push({ epoch: older, to: 'expired', cause: 'superseded' });
        for (const active of state.epochs.filter((epoch) => epoch.state === 'active')) {
          transitions.push({ epoch: active, to: 'retiring', cause: 'successor-active' });
          times.set(active.version, { notBefore: times.get(active.version)!.notBefore, notAfter: now + policy.graceMs });
        }
        transitions.push({ epoch: candidate, to: 'active', cause });
        times.set(candidate.version, { notBefore: now, notAfter: now + policy.intervalMs + policy.graceMs });
      }
    }
    for (const retiring of state.epochs.filter((epoch) => epoch.state === 'retiring')) {
      if (times.get(retiring.version)!.notAfter <= now) transitions.push({ epoch: retiring, to: 'expired', cause: 'grace-ended' });
    }

    const newest = state.epochs.at(-1);
    const base = { fleetId, groupId, policy, compromised, lastRotationAt: newest === undefined ? null : newest.createdAt };
    if (transitions.length === 0) return { ...base, changed: false, activated: null, retired: [], expired: [], pending: candidate !== undefined };

    const stateAfter = new Map<number, KeyState>(state.epochs.map((epoch) => [epoch.version, epoch.state]));
    for (const transition of transitions) stateAfter.set(transition.epoch.version, transition.to);
    const remaining = state.epochs.filter((epoch) => stateAfter.get(epoch.version) !== 'expired');
    const planned: PlannedEpoch[] = remaining.map((epoch) => ({ version: epoch.version, state: stateAfter.get(epoch.version)!, ...times.get(epoch.version)! }));
    const keyId = seriesName(fleetId, groupId);

    const copies = await copyEpochKeys(core, remaining);
    try {
      // A series never loses its last usable epoch: retiring epochs only expire beside an active one.
      const manifest = planned.length === 0 ? undefined : await signSeriesManifest(core, fleetId, groupId, state.manifestSequence + 1, planned, copies.keys, now);
      await core.repository.transaction(async (tx) => {
        if (!(await seriesUnchanged(tx, state))) throw new RotationConflict(keyId);
        for (const { epoch, to, cause } of transitions) {
          await tx.setEpochState(fleetId, groupId, epoch.version, to);
          await tx.audit.append({ actor: 'system', action: 'epoch.state', fleetId, keyRef: `${keyId}@${epoch.version}`, result: 'ok', details: { from: epoch.state, to, cause } });
        }
        if (manifest !== undefined) await saveEpochManifest(tx, fleetId, groupId, manifest);
      });
    } finally {
      copies.release();
    }
    const changedTo = (to: KeyState) => transitions.filter((t) => t.to === to).map((t) => t.epoch.version);
    return {
      ...base,
      changed: true,
      activated: changedTo('active')[0] ?? null,
      retired: changedTo('retiring'),
      expired: changedTo('expired'),
      pending: remaining.some((epoch) => stateAfter.get(epoch.version) === 'pending'),
    };
  });
}
