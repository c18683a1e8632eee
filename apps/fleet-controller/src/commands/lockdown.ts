/**
 * Emergency lockdown and its two-operator lift (DESIGN.md flow 5):
 * - `lockDown`: a signed LOCKDOWN for the fleet, a group or a device; any pending lift request of
 *   the same scope is superseded in the same transaction (it was meant for the lockdown before).
 * - `requestLift`: records a request to lift the lockdown in force for exactly that scope; the
 *   requester's own approval is the first. One pending request per scope.
 * - `approveLift`: a DIFFERENT operator's approval executes it: a signed LIFT with a higher
 *   sequence, stored in the same transaction as the approval and the request's EXECUTED state.
 *
 * Every step runs under the fleet's lock (./fleet-lock.ts), so "what is in force" cannot change
 * between the check and the command, and two simultaneous approvals issue one LIFT.
 *
 * Preconditions (each with a test of the same name):
 * - the same operator approving twice is PERMISSION_DENIED and issues nothing;
 * - an expired request is marked EXPIRED and refused with FAILED_PRECONDITION, issuing nothing;
 * - a request of another fleet is NOT_FOUND in the fleet named (the guard already refused a fleet
 *   outside the caller's scope with PERMISSION_DENIED).
 *
 * Trust boundary: runs behind the operator API's guard (authenticated, role and fleet checked);
 * the caller's id is what the store records as requester and approver.
 */
import { IllegalStateTransition, PermissionDenied } from '@fleetkey/key-types';
import { RecordExists, RecordNotFound, type CommandScope, type IssuedCommand, type LiftRequest, type Operator, type RepositoryTx } from '../store/index.js';
import { issueCommandLocked, type CommandIssuerDeps } from './issue-command.js';
import { withFleetLock } from './fleet-lock.js';
import { lockdownInForceFor } from './lockdown-state.js';
import { describeScope, scopeKey } from './scope.js';
import { reasonDetail, requiredReason } from './signing.js';

/** How long a lift request waits for its second approval. */
export const LIFT_REQUEST_TTL_MS = 60 * 60_000;
/** Distinct operators a lift needs, the requester included. */
export const LIFT_APPROVALS_REQUIRED = 2;

export interface LockdownInput {
  readonly fleetId: string;
  readonly scope: CommandScope;
  readonly reason: string;
  readonly wipe: boolean;
}

async function requireTarget(tx: Pick<RepositoryTx, 'getGroup' | 'getDevice'>, fleetId: string, scope: CommandScope): Promise<void> {
  if (scope.kind === 'group' && (await tx.getGroup(fleetId, scope.groupId)) === undefined) {
    throw new RecordNotFound(`group "${scope.groupId}" does not exist in fleet "${fleetId}"`);
  }
  if (scope.kind === 'device') {
    const device = await tx.getDevice(fleetId, scope.deviceId);
    if (device === undefined) throw new RecordNotFound(`device "${scope.deviceId}" does not exist in fleet "${fleetId}"`);
    if (device.status === 'revoked') throw new IllegalStateTransition(`device "${scope.deviceId}" is revoked; a revoked device is refused everywhere already`);
  }
}

async function pendingRequestsFor(tx: Pick<RepositoryTx, 'listLiftRequests'>, fleetId: string, scope: CommandScope): Promise<LiftRequest[]> {
  const key = scopeKey(scope);
  return (await tx.listLiftRequests(fleetId, { state: 'pending' })).filter((request) => scopeKey(request.scope) === key);
}

/**
 * Issues a LOCKDOWN.
 * @throws RecordNotFound for an unknown fleet, group or device; IllegalStateTransition for a
 *   revoked device; InvalidArgument for a missing reason; KMS errors.
 */
export function lockDown(deps: CommandIssuerDeps, caller: Pick<Operator, 'id'>, input: LockdownInput): Promise<IssuedCommand> {
  const reason = requiredReason('reason', input.reason);
  return withFleetLock(deps.core, input.fleetId, async () => {
    if ((await deps.core.repository.getFleet(input.fleetId)) === undefined) throw new RecordNotFound(`fleet "${input.fleetId}" does not exist`);
    await requireTarget(deps.core.repository, input.fleetId, input.scope);
    return issueCommandLocked(
      deps,
      { fleetId: input.fleetId, action: 'lockdown', scope: input.scope, reason, issuedBy: caller.id, wipe: input.wipe },
      {
        async withinTransaction(tx, command) {
          for (const request of await pendingRequestsFor(tx, input.fleetId, input.scope)) {
            await tx.setLiftRequestState(input.fleetId, request.id, 'superseded');
            await tx.audit.append({
              actor: caller.id,
              action: 'lift.request',
              fleetId: input.fleetId,
              result: 'ok',
              details: { liftRequest: request.id, state: 'superseded', lockdownSequence: command.sequence },
            });
          }
        },
      },
    );
  });
}

/**
 * Records a lift request for the lockdown in force for exactly `scope`.
 * @throws IllegalStateTransition when no lockdown of that scope is in force; RecordExists when a
 *   request for it is already pending (approve that one); InvalidArgument for a missing reason.
 */
export function requestLift(deps: CommandIssuerDeps, caller: Pick<Operator, 'id'>, input: { readonly fleetId: string; readonly scope: CommandScope; readonly reason: string }): Promise<LiftRequest> {
  const reason = requiredReason('reason', input.reason);
  const { core } = deps;
  return withFleetLock(core, input.fleetId, async () => {
    if ((await core.repository.getFleet(input.fleetId)) === undefined) throw new RecordNotFound(`fleet "${input.fleetId}" does not exist`);
    const lockdown = await lockdownInForceFor(core.repository, input.fleetId, scopeKey(input.scope));
    if (lockdown === undefined) throw new IllegalStateTransition(`no lockdown of ${describeScope(input.scope)} is in force in fleet "${input.fleetId}"`);
    const now = core.clock();
    return core.repository.transaction(async (tx) => {
      for (const pending of await pendingRequestsFor(tx, input.fleetId, input.scope)) {
        if (pending.expiresAt > now) {
          throw new RecordExists(`lift request ${pending.id} for ${describeScope(input.scope)} is already pending; a second operator approves it with ApproveLift`);
        }
        await tx.setLiftRequestState(input.fleetId, pending.id, 'expired');
      }
      const request = await tx.createLiftRequest({ fleetId: input.fleetId, scope: input.scope, reason, requestedBy: caller.id, expiresAt: now + LIFT_REQUEST_TTL_MS });
      await tx.audit.append({
        actor: caller.id,
        action: 'lift.request',
        fleetId: input.fleetId,
        deviceId: input.scope.kind === 'device' ? input.scope.deviceId : null,
        result: 'ok',
        details: { liftRequest: request.id, scope: scopeKey(input.scope), lockdownSequence: lockdown.sequence, expiresAt: request.expiresAt, ...reasonDetail(reason) },
      });
      return request;
    });
  });
}

async function refuseApproval(deps: CommandIssuerDeps, caller: Pick<Operator, 'id'>, request: LiftRequest, why: string, state?: 'expired' | 'superseded'): Promise<never> {
  await deps.core.repository.transaction(async (tx) => {
    if (state !== undefined) await tx.setLiftRequestState(request.fleetId, request.id, state);
    await tx.audit.append({
      actor: caller.id,
      action: 'lift.approve',
      fleetId: request.fleetId,
      result: 'denied',
      errorCode: 'ILLEGAL_STATE_TRANSITION',
      details: { liftRequest: request.id, refused: why },
    });
  });
  throw new IllegalStateTransition(`lift request ${request.id} ${why}; nothing was issued`);
}

/**
 * Approves a lift request; with the requester's, that makes two different operators and executes
 * it (a signed LIFT). Returns the request after the approval.
 * @throws RecordNotFound (no such request in this fleet); PermissionDenied (the caller already
 *   approved: a lift needs another operator); IllegalStateTransition (not pending, expired, or its
 *   lockdown is no longer in force); KMS errors (nothing is stored then).
 */
export function approveLift(deps: CommandIssuerDeps, caller: Pick<Operator, 'id'>, input: { readonly fleetId: string; readonly liftRequestId: string }): Promise<LiftRequest> {
  const { core } = deps;
  return withFleetLock(core, input.fleetId, async () => {
    const request = await core.repository.getLiftRequest(input.fleetId, input.liftRequestId);
    if (request === undefined) throw new RecordNotFound(`lift request ${input.liftRequestId} does not exist in fleet "${input.fleetId}"`);
    if (request.state !== 'pending') return refuseApproval(deps, caller, request, `is ${request.state}, not pending`);
    if (request.expiresAt <= core.clock()) return refuseApproval(deps, caller, request, `expired at ${new Date(request.expiresAt).toISOString()}`, 'expired');
    // Precondition: a lift needs two DIFFERENT operators; the same one approving again is refused.
    if (request.approvals.some((approval) => approval.operatorId === caller.id)) {
      throw new PermissionDenied(`operator ${caller.id} already approved lift request ${request.id}; a lift needs a second, different operator`);
    }
    const lockdown = await lockdownInForceFor(core.repository, request.fleetId, scopeKey(request.scope));
    if (lockdown === undefined) return refuseApproval(deps, caller, request, `is moot: no lockdown of ${describeScope(request.scope)} is in force any more`, 'superseded');
    let approved: LiftRequest | undefined;
    const executes = new Set([...request.approvals.map((approval) => approval.operatorId), caller.id]).size >= LIFT_APPROVALS_REQUIRED;
    if (!executes) {
      return core.repository.transaction(async (tx) => {
        const after = await tx.addLiftApproval(request.fleetId, request.id, caller.id);
        await tx.audit.append({ actor: caller.id, action: 'lift.approve', fleetId: request.fleetId, result: 'ok', details: { liftRequest: request.id, approvals: after.approvals.length } });
        return after;
      });
    }
    await issueCommandLocked(
      deps,
      { fleetId: request.fleetId, action: 'lift', scope: request.scope, reason: request.reason, issuedBy: caller.id, requestId: request.id },
      {
        async withinTransaction(tx, command) {
          await tx.addLiftApproval(request.fleetId, request.id, caller.id);
          approved = await tx.setLiftRequestState(request.fleetId, request.id, 'executed', command.sequence);
          await tx.audit.append({
            actor: caller.id,
            action: 'lift.approve',
            fleetId: request.fleetId,
            result: 'ok',
            details: { liftRequest: request.id, requestedBy: request.requestedBy, liftSequence: command.sequence, lockdownSequence: lockdown.sequence, approvals: approved.approvals.length },
          });
        },
      },
    );
    return approved!;
  });
}
