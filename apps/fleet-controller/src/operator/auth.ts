/**
 * Operator authentication (bearer credential -> Operator) and authorization (role and fleet
 * scope) for the operator API.
 *
 * Trust boundary: the `authorization` metadata is attacker-controlled. It is bounded and parsed
 * strictly before any work is done on it, hashed (SHA-256, ../store/tokens.ts), and looked up by
 * hash; the store re-compares the hash in constant time. Every authentication failure is the same
 * `Unauthenticated` (one fixed message) so a caller learns nothing about why; the reason is kept
 * for the audit record only. Authorization failures name the role or fleet problem, never the
 * credential.
 */
import type { Metadata } from '@grpc/grpc-js';
import { PermissionDenied, Unauthenticated } from '@fleetkey/key-types';
import { hashToken, MAX_TOKEN_LENGTH, TOKEN_PREFIX, type Operator, type OperatorFleetScope, type OperatorRole, type RepositoryTx } from '../store/index.js';

/** The metadata key of the credential (gRPC lower-cases metadata keys). */
export const AUTHORIZATION_METADATA_KEY = 'authorization';
/** RFC 6750 §2.1: `Bearer` 1*SP b64token; we accept exactly one space. */
const BEARER_SCHEME = 'bearer';
/** Longest `authorization` value looked at: the scheme, one space and the longest token. */
export const MAX_AUTHORIZATION_LENGTH = BEARER_SCHEME.length + 1 + MAX_TOKEN_LENGTH;
// The exact shape generateToken('operator') makes: prefix + base64url without padding.
const OPERATOR_TOKEN_PATTERN = new RegExp(`^${TOKEN_PREFIX.operator}[A-Za-z0-9_-]+$`);

/** Why a credential was refused; for the audit record, never for the caller. */
export type CredentialFailure = 'missing' | 'malformed' | 'unknown' | 'revoked';

export type CredentialCheck =
  | { readonly ok: true; readonly operator: Operator }
  | { readonly ok: false; readonly reason: CredentialFailure; /** Set for a revoked operator's credential. */ readonly operatorId?: string };

/** The bearer token of `metadata`, or why there is none usable. Pure parsing, no lookup. */
export function parseBearerCredential(metadata: Metadata): { readonly ok: true; readonly token: string } | { readonly ok: false; readonly reason: 'missing' | 'malformed' } {
  const values = metadata.get(AUTHORIZATION_METADATA_KEY);
  if (values.length === 0) return { ok: false, reason: 'missing' };
  // Precondition: exactly one credential; two `authorization` entries are ambiguous, not a choice.
  if (values.length !== 1) return { ok: false, reason: 'malformed' };
  const value = values[0];
  // Precondition: the value is bounded before it is split, matched or hashed.
  if (typeof value !== 'string' || value.length > MAX_AUTHORIZATION_LENGTH) return { ok: false, reason: 'malformed' };
  const space = value.indexOf(' ');
  if (space < 0) return { ok: false, reason: 'malformed' };
  // RFC 7235 §2.1: the auth-scheme is case-insensitive.
  if (value.slice(0, space).toLowerCase() !== BEARER_SCHEME) return { ok: false, reason: 'malformed' };
  const token = value.slice(space + 1);
  if (token.length > MAX_TOKEN_LENGTH || !OPERATOR_TOKEN_PATTERN.test(token)) return { ok: false, reason: 'malformed' };
  return { ok: true, token };
}

/**
 * Checks the call's credential against the store. Never throws for a bad credential: the caller
 * decides how to record and refuse it (./guard.ts audits, then throws Unauthenticated).
 * @throws whatever the store throws.
 */
export async function checkOperatorCredential(repository: Pick<RepositoryTx, 'findOperatorByTokenHash'>, metadata: Metadata): Promise<CredentialCheck> {
  const parsed = parseBearerCredential(metadata);
  if (!parsed.ok) return parsed;
  const hash = hashToken(parsed.token);
  try {
    const operator = await repository.findOperatorByTokenHash(hash);
    if (operator === undefined) return { ok: false, reason: 'unknown' };
    // Precondition: a revoked credential authenticates nothing.
    if (operator.revokedAt !== null) return { ok: false, reason: 'revoked', operatorId: operator.id };
    return { ok: true, operator };
  } finally {
    hash.fill(0);
  }
}

/**
 * The operator behind the call's `authorization: Bearer <credential>` metadata.
 * @throws Unauthenticated (one fixed message) when the credential is missing, malformed, unknown
 *   or revoked; whatever the store throws.
 */
export async function authenticateOperator(repository: Pick<RepositoryTx, 'findOperatorByTokenHash'>, metadata: Metadata): Promise<Operator> {
  const check = await checkOperatorCredential(repository, metadata);
  if (!check.ok) throw new Unauthenticated();
  return check.operator;
}

/** True when the operator's fleet scope includes `fleetId`. */
export function mayActOnFleet(operator: Pick<Operator, 'fleetScope'>, fleetId: string): boolean {
  return operator.fleetScope.kind === 'all' || operator.fleetScope.fleetIds.includes(fleetId);
}

/** The fleets a caller may list: every fleet, or exactly these. */
export function visibleFleets(operator: Pick<Operator, 'fleetScope'>): 'all' | ReadonlySet<string> {
  return operator.fleetScope.kind === 'all' ? 'all' : new Set(operator.fleetScope.fleetIds);
}

/** True when every fleet of `inner` is in `outer` (an all-fleets scope is within all-fleets only). */
export function scopeWithin(inner: OperatorFleetScope, outer: OperatorFleetScope): boolean {
  if (outer.kind === 'all') return true;
  if (inner.kind === 'all') return false;
  return inner.fleetIds.every((fleetId) => outer.fleetIds.includes(fleetId));
}

/** @throws PermissionDenied when the operator's role is not in `allowedRoles`. */
export function authorizeRole(operator: Pick<Operator, 'role'>, allowedRoles: readonly OperatorRole[], rpc = 'this rpc'): void {
  // Precondition: deny by default; only the roles listed for the rpc pass.
  if (!allowedRoles.includes(operator.role)) {
    throw new PermissionDenied(`role "${operator.role}" may not call ${rpc} (allowed: ${allowedRoles.join(', ')})`);
  }
}

/** @throws PermissionDenied when `fleetId` is outside the operator's fleet scope. */
export function authorizeFleet(operator: Pick<Operator, 'fleetScope'>, fleetId: string): void {
  // Precondition: an operator limited to some fleets sees and touches only those.
  if (!mayActOnFleet(operator, fleetId)) throw new PermissionDenied(`the caller's fleet scope does not include fleet "${fleetId}"`);
}

/** @throws PermissionDenied unless the operator may act on every fleet (controller-wide actions). */
export function authorizeAllFleets(operator: Pick<Operator, 'fleetScope'>, what: string): void {
  // Precondition: controller-wide actions need the all-fleets scope.
  if (operator.fleetScope.kind !== 'all') throw new PermissionDenied(`${what} needs the all-fleets scope`);
}

/**
 * Role check, then (when the call names a fleet) fleet-scope check.
 * @throws PermissionDenied naming the role or fleet problem.
 */
export function authorize(operator: Pick<Operator, 'role' | 'fleetScope'>, allowedRoles: readonly OperatorRole[], fleetId: string | undefined, rpc?: string): void {
  authorizeRole(operator, allowedRoles, rpc);
  if (fleetId !== undefined) authorizeFleet(operator, fleetId);
}
