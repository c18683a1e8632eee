/**
 * CreateEnrollmentToken, ListEnrollmentTokens and RevokeEnrollmentToken.
 *
 * Minting: the fleet must exist; a group named for the first time is created (audited as
 * group.create; "fleet" is reserved for the fleet-wide key); ttl 1 minute..30 days (default 24 h);
 * count 1..1000 (0 means 1); a serial pattern (`*`, `?`) for any count, an exact serial only with
 * count 1, stored verbatim for provisioning to match (../provisioning/serial-pattern.ts). All tokens of a request are minted in ONE
 * transaction with ONE audit record PER TOKEN (its id as subject), so each token's life —
 * token.create, token.burn, device.enroll, token.revoke — can be followed in the log; a batch
 * either exists whole or not at all.
 *
 * Trust boundary: runs behind ./guard.ts. Token secrets exist only in the response; the store gets
 * their SHA-256, and the hash buffers are zeroed once stored. Audit records carry the token's
 * public id, never the secret or the hash.
 */
import { IllegalStateTransition, InvalidArgument } from '@fleetkey/key-types';
import { FLEET_WIDE_KEY_NAME } from '@fleetkey/protocol';
import { isValidSerial } from '../provisioning/serial-pattern.js';
import { generateToken, hashToken, RecordNotFound, type EnrollmentToken } from '../store/index.js';
import type { OperatorServiceDeps } from './deps.js';
import type { Guard } from './guard.js';
import { enrollmentTokenStatus, enrollmentTokenToProto, tokenStatusFilterFromProto } from './mapping.js';
import { takePage } from './paging.js';
import type { RpcHandlers } from './policy.js';
import { enrollmentTokenCount, enrollmentTtlMs, optionalIdentifier, requiredHandle, requiredIdentifier, requireFleetExists } from './requests.js';

interface Minted {
  readonly secret: string;
  readonly token: EnrollmentToken;
}

export function enrollmentTokenRpcs(
  deps: OperatorServiceDeps,
  guard: Guard,
): RpcHandlers<'createEnrollmentToken' | 'listEnrollmentTokens' | 'revokeEnrollmentToken'> {
  const { repository } = deps;
  const fleetOf = (request: { fleet: string }) => () => requiredIdentifier('fleet', 'fleet', request.fleet);

  return {
    createEnrollmentToken: (request, context) =>
      guard.run('createEnrollmentToken', context, fleetOf(request), async (caller) => {
        const fleetId = requiredIdentifier('fleet', 'fleet', request.fleet);
        const groupId = optionalIdentifier('group', request.group);
        const serial = request.serialNumber === '' ? undefined : request.serialNumber;
        const count = enrollmentTokenCount(request.count);
        if (serial !== undefined && !isValidSerial(serial)) throw new InvalidArgument('"serial_number" must be printable ASCII without spaces');
        // Precondition: an exact serial names one robot, so it goes on exactly one token.
        if (serial !== undefined && count !== 1 && !/[*?]/.test(serial)) {
          throw new InvalidArgument('an exact "serial_number" is allowed only with count 1 (use a pattern such as SN-2026-* for a batch)');
        }
        if (groupId === FLEET_WIDE_KEY_NAME) throw new InvalidArgument(`"${FLEET_WIDE_KEY_NAME}" is reserved and cannot name a group`);
        const expiresAt = deps.clock() + enrollmentTtlMs(request.ttl);

        const minted = await repository.transaction(async (tx) => {
          await requireFleetExists(tx, fleetId);
          if (groupId !== undefined && (await tx.getGroup(fleetId, groupId)) === undefined) {
            await tx.createGroup({ fleetId, id: groupId, name: groupId });
            await tx.audit.append({ actor: caller.id, action: 'group.create', fleetId, result: 'ok', details: { group: groupId } });
          }
          const out: Minted[] = [];
          for (let i = 0; i < count; i++) {
            const secret = generateToken('enrollment');
            const tokenHash = hashToken(secret);
            try {
              const token = await tx.createEnrollmentToken({ fleetId, groupId: groupId ?? null, serialPattern: serial ?? null, tokenHash, expiresAt });
              await tx.audit.append({
                actor: caller.id,
                action: 'token.create',
                fleetId,
                result: 'ok',
                details: { subject: token.id, group: groupId ?? null, serialBound: serial !== undefined, expiresAt, batch: i + 1, batchSize: count },
              });
              out.push({ secret, token });
            } finally {
              tokenHash.fill(0);
            }
          }
          return out;
        });
        const now = deps.clock();
        return { tokens: minted.map(({ secret, token }) => ({ token: secret, info: enrollmentTokenToProto(token, now, caller.id) })) };
      }),

    listEnrollmentTokens: (request, context) =>
      guard.run('listEnrollmentTokens', context, fleetOf(request), async () => {
        const fleetId = requiredIdentifier('fleet', 'fleet', request.fleet);
        const state = tokenStatusFilterFromProto(request.state);
        await requireFleetExists(repository, fleetId);
        const now = deps.clock();
        const tokens = (await repository.listEnrollmentTokens({ fleetId })).filter((token) => state === undefined || enrollmentTokenStatus(token, now) === state);
        const page = takePage(tokens, request, 'tokens', ['integer', 'string'], (token) => [token.createdAt, token.id]);
        return { tokens: page.items.map((token) => enrollmentTokenToProto(token, now)), nextPageToken: page.nextPageToken };
      }),

    revokeEnrollmentToken: (request, context) =>
      guard.run('revokeEnrollmentToken', context, fleetOf(request), async (caller) => {
        const fleetId = requiredIdentifier('fleet', 'fleet', request.fleet);
        const tokenId = requiredHandle('token_id', request.tokenId);
        const revoked = await repository.transaction(async (tx) => {
          const token = await tx.getEnrollmentToken(fleetId, tokenId);
          if (token === undefined) throw new RecordNotFound(`enrollment token does not exist in fleet "${fleetId}"`);
          // Precondition: only an unused token can be revoked; a burnt one already did its single job.
          if (token.usedAt !== null) throw new IllegalStateTransition('enrollment token was already used');
          const after = await tx.revokeEnrollmentToken(fleetId, tokenId);
          await tx.audit.append({
            actor: caller.id,
            action: 'token.revoke',
            fleetId,
            result: 'ok',
            details: { subject: token.id, alreadyRevoked: token.revokedAt !== null },
          });
          return after;
        });
        return { token: enrollmentTokenToProto(revoked, deps.clock()) };
      }),
  };
}
