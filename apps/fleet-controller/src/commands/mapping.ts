/**
 * Lockdowns and lift requests as the operator API shows them (resources.proto Lockdown,
 * LiftRequest), and the lift-request state filter that comes back in.
 *
 * Trust boundary: outbound views for operators; commands and requests carry no secret (the signed
 * command bytes are never copied into a view). A pending request past its expiry is shown EXPIRED
 * even before anything marks it so in the store, so an operator never sees an approvable request
 * that the controller would refuse.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { InvalidArgument } from '@fleetkey/key-types';
import {
  LiftRequestSchema,
  LiftRequestState as PbLiftRequestState,
  LockdownSchema,
  type LiftRequest as PbLiftRequest,
  type Lockdown as PbLockdown,
} from '@fleetkey/protocol';
import { truncateUtf8 } from '../operator/mapping.js';
import type { IssuedCommand, LiftRequest, LiftRequestState, Millis } from '../store/index.js';
import type { LockdownAcknowledgements } from './lockdown-state.js';
import { scopeToProto } from './scope.js';
import { MAX_REASON_BYTES } from './signing.js';

/** resources.proto LiftRequest.approvals: at most 8. */
const MAX_SHOWN_APPROVALS = 8;
/** Operator ids and request ids are identifiers of at most 64 characters on the wire. */
const MAX_ID_BYTES = 64;

export function lockdownToProto(command: IssuedCommand, acks: LockdownAcknowledgements): PbLockdown {
  return create(LockdownSchema, {
    scope: scopeToProto(command.fleetId, command.scope),
    reason: truncateUtf8(command.reason, MAX_REASON_BYTES),
    commandSequence: BigInt(command.sequence),
    requestId: command.requestId ?? '',
    issuedAt: timestampFromMs(command.issuedAt),
    issuedBy: truncateUtf8(command.issuedBy, MAX_ID_BYTES),
    wipe: command.wipe,
    devicesAcknowledged: acks.acknowledged.length,
    devicesPending: acks.pending.length,
  });
}

const STATE_TO_PROTO: Readonly<Record<LiftRequestState, PbLiftRequestState>> = Object.freeze({
  pending: PbLiftRequestState.PENDING,
  executed: PbLiftRequestState.EXECUTED,
  expired: PbLiftRequestState.EXPIRED,
  superseded: PbLiftRequestState.SUPERSEDED,
});

/** The state a request is in at `now`: a pending one past its expiry is expired. */
export function effectiveLiftState(request: Pick<LiftRequest, 'state' | 'expiresAt'>, now: Millis): LiftRequestState {
  return request.state === 'pending' && request.expiresAt <= now ? 'expired' : request.state;
}

/** undefined for UNSPECIFIED (no filter). @throws InvalidArgument for an unknown wire value. */
export function liftStateFilterFromProto(value: PbLiftRequestState): LiftRequestState | undefined {
  if (value === PbLiftRequestState.UNSPECIFIED) return undefined;
  const found = (Object.keys(STATE_TO_PROTO) as LiftRequestState[]).find((state) => STATE_TO_PROTO[state] === value);
  if (found === undefined) throw new InvalidArgument('"state" expected a lift request state');
  return found;
}

export function liftRequestToProto(request: LiftRequest, now: Millis): PbLiftRequest {
  return create(LiftRequestSchema, {
    liftRequestId: request.id,
    scope: scopeToProto(request.fleetId, request.scope),
    reason: truncateUtf8(request.reason, MAX_REASON_BYTES),
    requestedBy: truncateUtf8(request.requestedBy, MAX_ID_BYTES),
    requestedAt: timestampFromMs(request.requestedAt),
    approvals: request.approvals.slice(0, MAX_SHOWN_APPROVALS).map((approval) => ({ operatorId: truncateUtf8(approval.operatorId, MAX_ID_BYTES), approvedAt: timestampFromMs(approval.approvedAt) })),
    state: STATE_TO_PROTO[effectiveLiftState(request, now)],
    expiresAt: timestampFromMs(request.expiresAt),
    commandSequence: BigInt(request.executedSequence ?? 0),
  });
}
