/**
 * The door every OperatorService rpc goes through: authenticate the bearer credential, check the
 * rpc's roles (./policy.ts), then the fleet the request names against the caller's scope, and
 * only then run the handler. Every refusal — at the door or later inside a handler (a scoped
 * admin reaching outside its fleets, self-revocation) — is appended to the audit log with result
 * 'denied' before the error goes back.
 *
 * Trust boundary: requests and metadata are untrusted until `run` hands the handler an
 * authenticated, authorized Operator. Denial records carry the rpc name, the refusal reason (role
 * and fleet names) and the peer address, never the credential or its hash.
 */
import { isFleetkeyError, Unauthenticated } from '@fleetkey/key-types';
import type { CallContext } from '@fleetkey/protocol';
import { looksSecret } from '../audit/index.js';
import type { AuditDetails, NewAuditRecord, Operator, Repository } from '../store/index.js';
import { authorizeFleet, authorizeRole, checkOperatorCredential } from './auth.js';
import { RPC_POLICIES, type OperatorRpc } from './policy.js';

/** The actor of a refused call whose caller is not known. */
export const ANONYMOUS_ACTOR = 'anonymous';
/** Audit detail values are at most this long (../audit/details.ts MAX_AUDIT_DETAIL_VALUE_LENGTH). */
const MAX_DETAIL_TEXT = 256;

const clip = (text: string): string => (text.length > MAX_DETAIL_TEXT ? text.slice(0, MAX_DETAIL_TEXT) : text);

export interface Guard {
  /**
   * Runs `handler` for an authenticated operator allowed to call `rpc` on the fleet `fleetOf()`
   * returns (undefined: the request names no fleet). `fleetOf` runs after the role check, so it
   * may validate the request (throwing InvalidArgument) without telling an anonymous caller
   * anything.
   * @throws Unauthenticated, PermissionDenied (both audited), and whatever `fleetOf` and
   *   `handler` throw.
   */
  run<T>(rpc: OperatorRpc, context: CallContext, fleetOf: () => string | undefined, handler: (caller: Operator) => Promise<T>): Promise<T>;
}

export function createGuard(repository: Repository): Guard {
  /** Appends a denial; when the guard refuses a field (an id that looks opaque), records without it. */
  const appendDenial = async (record: NewAuditRecord): Promise<void> => {
    try {
      await repository.audit.append(record);
    } catch (error) {
      if (!isFleetkeyError(error, 'AUDIT_DETAILS_REFUSED')) throw error;
      const details: AuditDetails = { rpc: record.details?.['rpc'] ?? null, redacted: true };
      await repository.audit.append({ actor: record.actor, action: record.action, result: record.result, errorCode: record.errorCode ?? null, details });
    }
  };

  const peerDetail = (context: CallContext): AuditDetails => {
    const peer = clip(context.peer);
    return peer !== '' && !looksSecret(peer) ? { peer } : {};
  };

  return {
    async run(rpc, context, fleetOf, handler) {
      const policy = RPC_POLICIES[rpc];
      const check = await checkOperatorCredential(repository, context.metadata);
      if (!check.ok) {
        await appendDenial({
          actor: ANONYMOUS_ACTOR,
          action: 'operator.authenticate',
          result: 'denied',
          errorCode: 'UNAUTHENTICATED',
          details: { rpc: policy.name, cause: check.reason, ...(check.operatorId === undefined ? {} : { operator: check.operatorId }), ...peerDetail(context) },
        });
        throw new Unauthenticated();
      }
      const caller = check.operator;
      let fleetId: string | undefined;
      try {
        authorizeRole(caller, policy.roles, policy.name);
        fleetId = fleetOf();
        if (fleetId !== undefined) authorizeFleet(caller, fleetId);
        return await handler(caller);
      } catch (error) {
        if (isFleetkeyError(error, 'PERMISSION_DENIED')) {
          await appendDenial({
            actor: caller.id,
            action: policy.deniedAction,
            fleetId: fleetId ?? null,
            result: 'denied',
            errorCode: 'PERMISSION_DENIED',
            details: { rpc: policy.name, reason: clip(error.message), ...peerDetail(context) },
          });
        }
        throw error;
      }
    },
  };
}
