/**
 * Destroying one communication epoch (crypto-shredding, issue 6): the key that only existed as a
 * KMS data key wrapped by the fleet KEK is erased from the store, so nothing the controller holds
 * can ever open what it sealed again. In order:
 * 1. refuse unless the epoch is RETIRING or EXPIRED (a pending or active epoch is in use: rotate
 *    first);
 * 2. a RETIRING epoch is still listed in its series' signed manifest: sign the next manifest
 *    without it (one KMS signature);
 * 3. in one transaction, checked against a concurrent rotation step: retiring → expired, then
 *    `destroyEpoch` (state destroyed, wrapped key overwritten with an empty blob), the manifest,
 *    the audit records, and the caller's own records (the approval);
 * 4. the core's cached plaintext zeroized, the store's write-ahead log scrubbed, and the series'
 *    bundles republished without the epoch.
 *
 * Robots that already hold the epoch keep it until their own keystore drops it (its manifest
 * validity); what the controller can shred is its own copy — docs/operations.md says so.
 *
 * Trust boundary: runs behind the two-operator approval (./approvals.ts). Plaintext keys are copied
 * only to commit the new manifest and zeroized at once.
 */
import { IllegalStateTransition } from '@fleetkey/key-types';
import type { SignedEpochManifest } from '@fleetkey/protocol';
import type { ControllerCore } from '../core/core.js';
import { saveEpochManifest } from '../fleets/settings.js';
import type { Logger } from '../runtime/logger.js';
import { RotationConflict, distributorOf } from '../rotation/index.js';
import { copyEpochKeys, readSeries, seriesName, seriesUnchanged, signSeriesManifest, withSeriesLock, type PlannedEpoch } from '../rotation/series.js';
import { RecordNotFound, type CommunicationEpoch, type RepositoryTx } from '../store/index.js';
import type { EpochTarget } from './targets.js';

/** The only states an operator may destroy an epoch from: it no longer seals anything. */
export const DESTROYABLE_STATES = Object.freeze(['retiring', 'expired'] as const);

/**
 * The epoch named, when it may be destroyed.
 * @throws RecordNotFound for an unknown epoch; IllegalStateTransition for any other state.
 */
export async function destroyableEpoch(core: ControllerCore, fleetId: string, target: EpochTarget): Promise<CommunicationEpoch> {
  const epoch = await core.repository.getEpoch(fleetId, target.groupId, target.version);
  const name = `epoch ${target.version} of ${seriesName(fleetId, target.groupId)}`;
  if (epoch === undefined) throw new RecordNotFound(`${name} does not exist`);
  // Precondition: a pending or active epoch is never destroyed (robots seal with it, or are about to).
  if (!(DESTROYABLE_STATES as readonly string[]).includes(epoch.state)) {
    throw new IllegalStateTransition(`${name} is ${epoch.state}; only a retiring or expired epoch can be destroyed (rotate first)`);
  }
  return epoch;
}

export interface DestroyEpochInput {
  readonly fleetId: string;
  readonly target: EpochTarget;
  /** Operator id (audit). */
  readonly actor: string;
  /** The approval request executing it (audit). */
  readonly requestId: string;
}

/**
 * Destroys the epoch (see the module comment); `withinTransaction` adds the caller's records to
 * the same transaction.
 * @throws RecordNotFound, IllegalStateTransition (see destroyableEpoch); RotationConflict when a
 *   rotation step changed the series meanwhile (nothing changed; approve again); KMS errors.
 */
export function destroyEpoch(core: ControllerCore, logger: Logger, input: DestroyEpochInput, withinTransaction: (tx: RepositoryTx) => Promise<void>): Promise<CommunicationEpoch> {
  const { fleetId, target } = input;
  return withSeriesLock(core, fleetId, target.groupId, async () => {
    const epoch = await destroyableEpoch(core, fleetId, target);
    const state = await readSeries(core.repository, fleetId, target.groupId);
    const keyId = seriesName(fleetId, target.groupId);
    const listed = state.epochs.some((each) => each.version === epoch.version);
    let manifest: SignedEpochManifest | undefined;
    if (listed) {
      const remaining = state.epochs.filter((each) => each.version !== epoch.version);
      const planned: PlannedEpoch[] = remaining.map((each) => ({ version: each.version, state: each.state, ...state.timing(each) }));
      const copies = await copyEpochKeys(core, remaining);
      try {
        manifest = planned.length === 0 ? undefined : await signSeriesManifest(core, fleetId, target.groupId, state.manifestSequence + 1, planned, copies.keys, core.clock());
      } finally {
        copies.release();
      }
    }
    const destroyed = await core.repository.transaction(async (tx) => {
      if (!(await seriesUnchanged(tx, state))) throw new RotationConflict(keyId);
      const current = await tx.getEpoch(fleetId, target.groupId, target.version);
      if (current === undefined || current.state !== epoch.state) throw new RotationConflict(keyId);
      const keyRef = `${keyId}@${epoch.version}`;
      if (current.state === 'retiring') {
        await tx.setEpochState(fleetId, target.groupId, epoch.version, 'expired');
        await tx.audit.append({ actor: input.actor, action: 'epoch.state', fleetId, keyRef, result: 'ok', details: { from: 'retiring', to: 'expired', cause: 'destroy' } });
      }
      const after = await tx.destroyEpoch(fleetId, target.groupId, epoch.version);
      if (manifest !== undefined) await saveEpochManifest(tx, fleetId, target.groupId, manifest);
      await tx.audit.append({
        actor: input.actor,
        action: 'epoch.destroy',
        fleetId,
        keyRef,
        result: 'ok',
        details: { request: input.requestId, from: current.state, manifestSequence: manifest === undefined ? state.manifestSequence : state.manifestSequence + 1 },
      });
      await withinTransaction(tx);
      return after;
    });
    core.forgetEpochKey(fleetId, target.groupId, epoch.version);
    if (!(await core.repository.scrub())) logger.warn({ fleet: fleetId }, 'the state store log could not be scrubbed now (a reader held it); the next scrub completes it');
    void distributorOf(core)?.distribute(fleetId, target.groupId === null ? { kind: 'fleet' } : { kind: 'groups', groupIds: new Set([target.groupId]) });
    return destroyed;
  });
}
