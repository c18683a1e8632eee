/**
 * CreateOperator, ListOperators and RevokeOperator.
 *
 * Rules: an admin scoped to some fleets creates, sees and revokes only operators whose scope lies
 * within its own, and never creates an all-fleets operator; nobody revokes itself. A new
 * operator's credential comes from generateToken('operator'), is returned once, and only its
 * SHA-256 is stored. The operator id is the requested `operator_id` (an identifier; a taken one
 * is ALREADY_EXISTS), or a random UUID when none is given; the display name defaults to the id.
 *
 * Trust boundary: runs behind ./guard.ts. The credential never reaches a log line, an error or an
 * audit record; the hash buffer is zeroed once stored.
 */
import { assertIdentifier, InvalidArgument, PermissionDenied } from '@fleetkey/key-types';
import { generateToken, hashToken, RecordNotFound, type AuditDetails, type OperatorFleetScope } from '../store/index.js';
import { scopeWithin } from './auth.js';
import type { OperatorServiceDeps } from './deps.js';
import type { Guard } from './guard.js';
import { operatorToProto, roleFromProto } from './mapping.js';
import { takePage } from './paging.js';
import type { RpcHandlers } from './policy.js';
import { auditedReason, requiredHandle, requiredIdentifier } from './requests.js';

/** Most fleets named in one CreateOperator (operator.proto). */
export const MAX_OPERATOR_FLEETS_PER_REQUEST = 256;

/** The audit record's fleet for a scope: its only fleet, else controller-wide (null). */
function auditFleet(scope: OperatorFleetScope): string | null {
  return scope.kind === 'fleets' && scope.fleetIds.length === 1 ? (scope.fleetIds[0] ?? null) : null;
}

function scopeDetails(scope: OperatorFleetScope): AuditDetails {
  return scope.kind === 'all' ? { allFleets: true } : { allFleets: false, fleetCount: scope.fleetIds.length };
}

function requestedScope(fleets: readonly string[]): OperatorFleetScope {
  if (fleets.length > MAX_OPERATOR_FLEETS_PER_REQUEST) throw new InvalidArgument(`"fleets" expected at most ${MAX_OPERATOR_FLEETS_PER_REQUEST} fleets`);
  if (fleets.length === 0) return { kind: 'all' };
  return { kind: 'fleets', fleetIds: [...new Set(fleets.map((fleet) => assertIdentifier('fleet', fleet)))].sort() };
}

export function operatorRpcs(deps: OperatorServiceDeps, guard: Guard): RpcHandlers<'createOperator' | 'listOperators' | 'revokeOperator'> {
  const { repository } = deps;

  return {
    createOperator: (request, context) =>
      guard.run(
        'createOperator',
        context,
        () => undefined,
        async (caller) => {
          const operatorId = request.operatorId === '' ? undefined : requiredIdentifier('operator_id', 'key name', request.operatorId);
          const displayName = request.displayName === '' ? operatorId : request.displayName;
          if (displayName === undefined) throw new InvalidArgument('"operator_id" or "display_name" is required');
          const role = roleFromProto(request.role);
          const fleetScope = requestedScope(request.fleets);
          // Precondition: a fleet-scoped admin never creates an operator reaching beyond its own fleets.
          if (!scopeWithin(fleetScope, caller.fleetScope)) {
            throw new PermissionDenied(
              fleetScope.kind === 'all' ? 'a fleet-scoped admin may not create an all-fleets operator' : "the new operator's fleets must lie within the caller's fleet scope",
            );
          }
          const credential = generateToken('operator');
          const tokenHash = hashToken(credential);
          try {
            const operator = await repository.transaction(async (tx) => {
              const created = await tx.createOperator({ ...(operatorId === undefined ? {} : { id: operatorId }), name: displayName, role, fleetScope, tokenHash });
              await tx.audit.append({
                actor: caller.id,
                action: 'operator.create',
                fleetId: auditFleet(fleetScope),
                result: 'ok',
                details: { subject: created.id, role, ...scopeDetails(fleetScope) },
              });
              return created;
            });
            return { operator: operatorToProto(operator), credential };
          } finally {
            tokenHash.fill(0);
          }
        },
      ),

    listOperators: (request, context) =>
      guard.run(
        'listOperators',
        context,
        () => undefined,
        async (caller) => {
          const visible = (await repository.listOperators()).filter(
            (operator) => (request.includeRevoked || operator.revokedAt === null) && scopeWithin(operator.fleetScope, caller.fleetScope),
          );
          const page = takePage(visible, request, 'operators', ['integer', 'string'], (operator) => [operator.createdAt, operator.id]);
          return { operators: page.items.map(operatorToProto), nextPageToken: page.nextPageToken };
        },
      ),

    revokeOperator: (request, context) =>
      guard.run(
        'revokeOperator',
        context,
        () => undefined,
        async (caller) => {
          const targetId = requiredHandle('operator_id', request.operatorId);
          // Precondition: an operator cannot revoke itself (the last admin would lock everyone out).
          if (targetId === caller.id) throw new PermissionDenied('an operator cannot revoke itself');
          const reason = auditedReason(request.reason);
          const revoked = await repository.transaction(async (tx) => {
            const target = await tx.getOperator(targetId);
            if (target === undefined) throw new RecordNotFound('operator does not exist');
            // Precondition: a fleet-scoped admin revokes only operators within its fleets.
            if (!scopeWithin(target.fleetScope, caller.fleetScope)) throw new PermissionDenied("the operator's fleets are not within the caller's fleet scope");
            const after = await tx.revokeOperator(target.id);
            await tx.audit.append({
              actor: caller.id,
              action: 'operator.revoke',
              fleetId: auditFleet(target.fleetScope),
              result: 'ok',
              details: { subject: target.id, alreadyRevoked: target.revokedAt !== null, ...(reason === undefined ? {} : { reason }) },
            });
            return after;
          });
          return { operator: operatorToProto(revoked) };
        },
      ),
  };
}
