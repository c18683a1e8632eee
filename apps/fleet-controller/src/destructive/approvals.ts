/**
 * Destroying an epoch and deleting a fleet behind the same two-operator approval as a lift
 * (../commands/lockdown.ts): a request records what it destroys (kind and target) with the
 * requester's approval as the first; a second, DIFFERENT operator's approval executes it in the
 * same transaction as that approval and the request's EXECUTED state.
 *
 * Preconditions (each with a test of the same name):
 * - only an admin requests or approves a destruction; a fleet deletion needs the all-fleets scope
 *   for both (PERMISSION_DENIED, audited by the guard);
 * - the same operator approving twice is PERMISSION_DENIED and destroys nothing;
 * - an expired request is marked EXPIRED and refused with FAILED_PRECONDITION, destroying nothing;
 * - a request of another fleet is NOT_FOUND in the fleet named;
 * - a pending or active epoch is refused at the request and again at the execution.
 *
 * Every step runs under the fleet's lock (../commands/fleet-lock.ts): two simultaneous approvals
 * execute once, and a deletion cannot interleave with a revocation's list or a command.
 *
 * Trust boundary: runs behind the operator API's guard (authenticated, role and fleet checked);
 * the caller's id is what the store records as requester and approver.
 */
import { IllegalStateTransition, PermissionDenied } from '@fleetkey/key-types';
import { LIFT_APPROVALS_REQUIRED, LIFT_REQUEST_TTL_MS, withFleetLock, type CommandIssuerDeps } from '../commands/index.js';
import { reasonDetail, requiredReason } from '../commands/signing.js';
import { seriesName } from '../rotation/series.js';
import { RecordExists, RecordNotFound, type LiftRequest, type Operator, type RepositoryTx } from '../store/index.js';
import { deleteFleetLocked } from './delete-fleet.js';
import { destroyEpoch, destroyableEpoch } from './destroy-epoch.js';
import { describeTarget, encodeEpochTarget, encodeFleetTarget, epochTargetOf, type EpochTarget } from './targets.js';

/** How long a destructive request waits for its second approval: as long as a lift request. */
export const DESTRUCTIVE_REQUEST_TTL_MS = LIFT_REQUEST_TTL_MS;

export type Caller = Pick<Operator, 'id' | 'role' | 'fleetScope'>;

/**
 * Precondition: destructive requests are an admin's, and deleting a fleet (which an admin scoped
 * to it could then never see again) needs the all-fleets scope.
 * @throws PermissionDenied.
 */
export function authorizeDestruction(caller: Caller, kind: LiftRequest['kind']): void {
  if (caller.role !== 'admin') throw new PermissionDenied(`only an admin may request or approve a ${kind}`);
  if (kind === 'delete-fleet' && caller.fleetScope.kind !== 'all') throw new PermissionDenied('deleting a fleet needs the all-fleets scope');
}

async function requireNoPendingTwin(tx: RepositoryTx, fleetId: string, kind: LiftRequest['kind'], target: string, now: number): Promise<void> {
  for (const pending of await tx.listLiftRequests(fleetId, { state: 'pending', kind })) {
    if (pending.target !== target) continue;
    if (pending.expiresAt > now) throw new RecordExists(`request ${pending.id} for the same ${kind} is already pending; a second admin approves it with ApproveLift`);
    await tx.setLiftRequestState(fleetId, pending.id, 'expired');
  }
}

async function createRequest(deps: CommandIssuerDeps, caller: Caller, fleetId: string, kind: 'destroy-epoch' | 'delete-fleet', target: string, reason: string, scope: LiftRequest['scope']): Promise<LiftRequest> {
  const { core } = deps;
  const now = core.clock();
  return core.repository.transaction(async (tx) => {
    await requireNoPendingTwin(tx, fleetId, kind, target, now);
    const request = await tx.createLiftRequest({ kind, target, fleetId, scope, reason, requestedBy: caller.id, expiresAt: now + DESTRUCTIVE_REQUEST_TTL_MS });
    await tx.audit.append({
      actor: caller.id,
      action: 'approval.request',
      fleetId,
      result: 'ok',
      details: { request: request.id, kind, target: describeTarget(request), expiresAt: request.expiresAt, ...reasonDetail(reason) },
    });
    return request;
  });
}

/**
 * Records a request to destroy an epoch.
 * @throws PermissionDenied (not an admin); RecordNotFound (fleet, group or epoch); IllegalStateTransition
 *   (the epoch is pending, active or gone); RecordExists (the same request is pending); InvalidArgument.
 */
export function requestEpochDestruction(deps: CommandIssuerDeps, caller: Caller, input: { readonly fleetId: string; readonly target: EpochTarget; readonly reason: string }): Promise<LiftRequest> {
  authorizeDestruction(caller, 'destroy-epoch');
  const reason = requiredReason('reason', input.reason);
  return withFleetLock(deps.core, input.fleetId, async () => {
    if ((await deps.core.repository.getFleet(input.fleetId)) === undefined) throw new RecordNotFound(`fleet "${input.fleetId}" does not exist`);
    await destroyableEpoch(deps.core, input.fleetId, input.target);
    const scope = input.target.groupId === null ? ({ kind: 'fleet' } as const) : ({ kind: 'group', groupId: input.target.groupId } as const);
    return createRequest(deps, caller, input.fleetId, 'destroy-epoch', encodeEpochTarget(input.target), reason, scope);
  });
}

/**
 * Records a request to delete a fleet.
 * @throws PermissionDenied (not an all-fleets admin); RecordNotFound; RecordExists; InvalidArgument.
 */
export function requestFleetDeletion(deps: CommandIssuerDeps, caller: Caller, input: { readonly fleetId: string; readonly reason: string }): Promise<LiftRequest> {
  authorizeDestruction(caller, 'delete-fleet');
  const reason = requiredReason('reason', input.reason);
  return withFleetLock(deps.core, input.fleetId, async () => {
    if ((await deps.core.repository.getFleet(input.fleetId)) === undefined) throw new RecordNotFound(`fleet "${input.fleetId}" does not exist`);
    return createRequest(deps, caller, input.fleetId, 'delete-fleet', encodeFleetTarget(input.fleetId), reason, { kind: 'fleet' });
  });
}

async function refuseApproval(deps: CommandIssuerDeps, caller: Caller, request: LiftRequest, why: string, state?: 'expired'): Promise<never> {
  await deps.core.repository.transaction(async (tx) => {
    if (state !== undefined) await tx.setLiftRequestState(request.fleetId, request.id, state);
    await tx.audit.append({ actor: caller.id, action: 'approval.approve', fleetId: request.fleetId, result: 'denied', errorCode: 'ILLEGAL_STATE_TRANSITION', details: { request: request.id, kind: request.kind, refused: why } });
  });
  throw new IllegalStateTransition(`request ${request.id} ${why}; nothing was destroyed`);
}

export interface ApprovalOutcome {
  /** The request after this approval. */
  readonly request: LiftRequest;
  /** What an operator must still do by hand; '' when nothing. */
  readonly notice: string;
}

/**
 * Approves a destructive request (kind other than 'lift'); with the requester's, that makes two
 * different operators and executes it.
 * @throws RecordNotFound (no such request or fleet); PermissionDenied (see authorizeDestruction; the
 *   caller already approved); IllegalStateTransition (not pending, expired, the epoch no longer
 *   destroyable); RotationConflict; KMS errors (nothing destroyed then).
 */
export function approveDestruction(deps: CommandIssuerDeps, caller: Caller, input: { readonly fleetId: string; readonly requestId: string }): Promise<ApprovalOutcome> {
  const { core } = deps;
  return withFleetLock(core, input.fleetId, async () => {
    const request = await core.repository.getLiftRequest(input.fleetId, input.requestId);
    if (request === undefined || (await core.repository.getFleet(input.fleetId)) === undefined) throw new RecordNotFound(`request ${input.requestId} does not exist in fleet "${input.fleetId}"`);
    if (request.kind === 'lift') throw new TypeError('a lift is approved by the commands power');
    authorizeDestruction(caller, request.kind);
    if (request.state !== 'pending') return refuseApproval(deps, caller, request, `is ${request.state}, not pending`);
    if (request.expiresAt <= core.clock()) return refuseApproval(deps, caller, request, `expired at ${new Date(request.expiresAt).toISOString()}`, 'expired');
    // Precondition: a destruction needs two DIFFERENT operators; the same one approving again is refused.
    if (request.approvals.some((approval) => approval.operatorId === caller.id)) {
      throw new PermissionDenied(`operator ${caller.id} already approved request ${request.id}; it needs a second, different admin`);
    }
    const executes = new Set([...request.approvals.map((approval) => approval.operatorId), caller.id]).size >= LIFT_APPROVALS_REQUIRED;
    let approved: LiftRequest | undefined;
    const record = async (tx: RepositoryTx): Promise<void> => {
      const after = await tx.addLiftApproval(request.fleetId, request.id, caller.id);
      approved = executes ? await tx.setLiftRequestState(request.fleetId, request.id, 'executed') : after;
      await tx.audit.append({
        actor: caller.id,
        action: 'approval.approve',
        fleetId: request.fleetId,
        result: 'ok',
        details: { request: request.id, kind: request.kind, requestedBy: request.requestedBy, approvals: approved.approvals.length, executed: executes },
      });
    };
    if (!executes) {
      await core.repository.transaction(record);
      return { request: approved!, notice: '' };
    }
    if (request.kind === 'destroy-epoch') {
      const target = epochTargetOf(request);
      await destroyEpoch(core, deps.logger, { fleetId: request.fleetId, target, actor: caller.id, requestId: request.id }, record);
      return { request: approved!, notice: `${seriesName(request.fleetId, target.groupId)}@${target.version} is destroyed in the controller; robots drop their copy when its validity ends, and backups made before still hold it wrapped` };
    }
    const outcome = await deleteFleetLocked(deps, { fleetId: request.fleetId, reason: request.reason, actor: caller.id, requestId: request.id }, record);
    return {
      request: approved!,
      notice: `fleet ${request.fleetId} is deleted; the controller cannot delete KMS keys, so schedule the deletion of ${outcome.kmsKeyIds.join(', ')} in the KMS once no backup you keep needs them`,
    };
  });
}
