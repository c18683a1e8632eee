/**
 * Checks of operator request fields beyond what the wire codec already enforces (byte limits and
 * the identifier grammar from the proto's `limit` options): presence, ranges and combinations,
 * and that the fleet a request names exists.
 *
 * Trust boundary: request fields are attacker-controlled (an authenticated caller may still be
 * hostile or buggy). Messages name the field and the bound, never echo a secret.
 */
import type { Duration } from '@bufbuild/protobuf/wkt';
import { assertIdentifier, InvalidArgument, type IdentifierKind } from '@fleetkey/key-types';
import { RecordNotFound, type RepositoryTx } from '../store/index.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Enrollment token lifetime when the request gives none (operator.proto). */
export const DEFAULT_ENROLLMENT_TTL_MS = 24 * HOUR_MS;
/** Longest enrollment token lifetime (operator.proto: at most 30 days). */
export const MAX_ENROLLMENT_TTL_MS = 30 * DAY_MS;
/** Shortest: below a minute a token expires before a station can use it. */
export const MIN_ENROLLMENT_TTL_MS = MINUTE_MS;
/** Most tokens one CreateEnrollmentToken mints (operator.proto). */
export const MAX_ENROLLMENT_TOKEN_COUNT = 1000;
/** Longest free text (a revocation reason) copied into an audit record (../audit MAX_AUDIT_DETAIL_VALUE_LENGTH). */
export const MAX_AUDITED_REASON_LENGTH = 256;

/**
 * A required identifier field.
 * @throws InvalidArgument when empty; InvalidIdentifier when malformed.
 */
export function requiredIdentifier(field: string, kind: IdentifierKind, value: string): string {
  if (value === '') throw new InvalidArgument(`"${field}" is required`);
  return assertIdentifier(kind, value);
}

/** An optional identifier field: '' means none. @throws InvalidIdentifier when malformed. */
export function optionalIdentifier(kind: IdentifierKind, value: string): string | undefined {
  return value === '' ? undefined : assertIdentifier(kind, value);
}

/** A required opaque id (operator or token handle): non-empty, at most 64 characters. */
export function requiredHandle(field: string, value: string): string {
  if (value === '') throw new InvalidArgument(`"${field}" is required`);
  if (value.length > 64) throw new InvalidArgument(`"${field}" expected at most 64 characters`);
  return value;
}

/**
 * The lifetime of new enrollment tokens in milliseconds: unset means 24 hours.
 * @throws InvalidArgument outside MIN_ENROLLMENT_TTL_MS..MAX_ENROLLMENT_TTL_MS or for a malformed Duration.
 */
export function enrollmentTtlMs(ttl: Duration | undefined): number {
  if (ttl === undefined) return DEFAULT_ENROLLMENT_TTL_MS;
  // google/protobuf/duration.proto: nanos has the sign of seconds and |nanos| < 1e9.
  if (!Number.isInteger(ttl.nanos) || ttl.nanos < 0 || ttl.nanos > 999_999_999 || ttl.seconds < 0n) {
    throw new InvalidArgument('"ttl" expected a positive duration');
  }
  // Precondition: bound the seconds before converting, so a huge bigint never loses precision.
  if (ttl.seconds > BigInt(MAX_ENROLLMENT_TTL_MS / 1000)) throw new InvalidArgument('"ttl" expected at most 30 days');
  const ms = Number(ttl.seconds) * 1000 + Math.floor(ttl.nanos / 1_000_000);
  if (ms > MAX_ENROLLMENT_TTL_MS) throw new InvalidArgument('"ttl" expected at most 30 days');
  if (ms < MIN_ENROLLMENT_TTL_MS) throw new InvalidArgument('"ttl" expected at least 1 minute');
  return ms;
}

/** How many enrollment tokens to mint: 0 means 1. @throws InvalidArgument above MAX_ENROLLMENT_TOKEN_COUNT. */
export function enrollmentTokenCount(count: number): number {
  if (!Number.isSafeInteger(count) || count < 0) throw new InvalidArgument('"count" expected a non-negative integer');
  if (count > MAX_ENROLLMENT_TOKEN_COUNT) throw new InvalidArgument(`"count" expected at most ${MAX_ENROLLMENT_TOKEN_COUNT}`);
  return count === 0 ? 1 : count;
}

/** A uint64 sequence from the wire as a safe integer. @throws InvalidArgument past 2^53-1. */
export function sequenceNumber(field: string, value: bigint): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidArgument(`"${field}" is out of range`);
  return Number(value);
}

/** Free text for an audit record, cut to MAX_AUDITED_REASON_LENGTH; undefined when empty. */
export function auditedReason(reason: string): string | undefined {
  if (reason === '') return undefined;
  return reason.length > MAX_AUDITED_REASON_LENGTH ? reason.slice(0, MAX_AUDITED_REASON_LENGTH) : reason;
}

/** @throws RecordNotFound when the fleet does not exist (AIP-132: listing under a missing parent). */
export async function requireFleetExists(tx: Pick<RepositoryTx, 'getFleet'>, fleetId: string): Promise<void> {
  if ((await tx.getFleet(fleetId)) === undefined) throw new RecordNotFound(`fleet "${fleetId}" does not exist`);
}
