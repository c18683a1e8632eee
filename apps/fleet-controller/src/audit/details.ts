/**
 * Validation, bounds and the redaction guard for audit record fields, and the canonical JSON of
 * `details`. Every implementation of AuditRepository calls `prepareAuditRecord` before it hashes.
 *
 * Trust boundary: input from every controller code path. A value that looks like a secret is
 * REFUSED (AuditDetailsRefused), never silently redacted: a caller that tried to log a secret has
 * a bug that must surface in tests, and a redacted record would hide it.
 */
import { AUDIT_ACTIONS, AUDIT_RESULTS, type AuditAction, type AuditResult, type NewAuditRecord } from '../store/repository.js';
import { AuditDetailsRefused } from './errors.js';

/** Longest actor, fleet id, device id (characters). */
export const MAX_AUDIT_NAME_LENGTH = 128;
/** Longest key reference (key id + version). */
export const MAX_AUDIT_KEY_REF_LENGTH = 256;
/** Longest error code. */
export const MAX_AUDIT_ERROR_CODE_LENGTH = 64;
/** Most keys in `details`. */
export const MAX_AUDIT_DETAIL_KEYS = 32;
/** Longest `details` key name. */
export const MAX_AUDIT_DETAIL_KEY_LENGTH = 64;
/** Longest `details` string value. */
export const MAX_AUDIT_DETAIL_VALUE_LENGTH = 256;
/** Longest canonical `details` JSON (bytes). */
export const MAX_AUDIT_DETAILS_BYTES = 4096;
/**
 * Longest run of base64/hex-alphabet characters allowed in a value. 40 admits a SHA-1-sized hex
 * identifier or a 20-byte certificate serial; a 32-byte key in base64 (44) or hex (64) is refused.
 */
export const MAX_OPAQUE_RUN = 40;

/** Key-name fragments that mark a secret (matched case-insensitively as substrings). */
export const DENIED_KEY_FRAGMENTS: readonly string[] = Object.freeze([
  'token',
  'secret',
  'password',
  'passphrase',
  'passwd',
  'key',
  'kek',
  'plaintext',
  'material',
  'privatekey',
  'credential',
  'pem',
  'seed',
  'signature',
  'authorization',
  'cookie',
]);

const OPAQUE_RUNS = new RegExp(`[A-Za-z0-9+/_=-]{${MAX_OPAQUE_RUN + 1},}`, 'g');
const SECRET_VALUE_PATTERNS: readonly RegExp[] = Object.freeze([
  /fk_(op|enr)_/i, // operator and enrollment token prefixes (../store/tokens.ts)
  /-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----/i, // RFC 7468 §10/§11 private key labels
]);

/**
 * A long run of base64 / hex characters is an opaque blob unless it reads as a hyphenated or
 * underscored name whose every part is at most MAX_OPAQUE_RUN long (`warehouse-north-robots-
 * fleet-2026`, `robot-<uuid>`): identifiers up to 64 characters are names, not secrets. A hex
 * key, standard base64 (`+`, `/`, `=`) or one long unbroken part is still refused; base64url
 * that happens to break into short parts is the accepted gap (token prefixes are caught above).
 */
function hasOpaqueRun(value: string): boolean {
  for (const [run] of value.matchAll(OPAQUE_RUNS)) {
    const nameLike = /^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(run) && run.split(/[-_]/).every((part) => part.length <= MAX_OPAQUE_RUN);
    if (!nameLike) return true;
  }
  return false;
}

const DETAIL_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_.]*$/;

/** True when `value` looks like secret material (token prefix, PEM private key, long opaque blob). */
export function looksSecret(value: string): boolean {
  return SECRET_VALUE_PATTERNS.some((pattern) => pattern.test(value)) || hasOpaqueRun(value);
}

/** Token prefixes and PEM private keys only: key references legitimately hold long fingerprints. */
function looksLikeTokenOrPrivateKey(value: string): boolean {
  return SECRET_VALUE_PATTERNS.some((pattern) => pattern.test(value));
}

/** True when a details key name is on the deny list. */
export function isDeniedKeyName(name: string): boolean {
  const lower = name.toLowerCase();
  return DENIED_KEY_FRAGMENTS.some((fragment) => lower.includes(fragment));
}

function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit < 0x20 || unit === 0x7f) return true;
  }
  return false;
}

function text(field: string, value: unknown, max: number, allowOpaque = false): string {
  if (typeof value !== 'string') throw new TypeError(`"${field}" expected a string`);
  if (value.length === 0 || value.length > max) throw new RangeError(`"${field}" expected 1..${max} characters, got ${value.length}`);
  // Control characters have no place in an audit field and would confuse a terminal reader.
  if (hasControlCharacter(value)) throw new RangeError(`"${field}" contains control characters`);
  // Precondition: no audit field may carry a token, key or opaque blob.
  if (allowOpaque ? looksLikeTokenOrPrivateKey(value) : looksSecret(value)) throw new AuditDetailsRefused(field);
  return value;
}

function optional(field: string, value: unknown, max: number, allowOpaque = false): string | null {
  return value === undefined || value === null ? null : text(field, value, max, allowOpaque);
}

/** Canonical JSON of a flat details object: keys sorted by UTF-16 code unit, no whitespace. */
export function canonicalDetailsJson(details: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(details).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(details[k])}`).join(',')}}`;
}

/**
 * Checks `details` and returns its canonical JSON.
 * @throws AuditDetailsRefused for a denied key name or a secret-looking value; TypeError/RangeError
 *   for a non-flat object, a bad value type, or a bound exceeded.
 */
export function prepareDetails(details: unknown): string {
  if (details === undefined) return '{}';
  if (typeof details !== 'object' || details === null || Array.isArray(details) || Object.getPrototypeOf(details) !== Object.prototype) {
    throw new TypeError('"details" expected a plain object');
  }
  const entries = Object.entries(details);
  if (entries.length > MAX_AUDIT_DETAIL_KEYS) throw new RangeError(`"details" expected at most ${MAX_AUDIT_DETAIL_KEYS} keys, got ${entries.length}`);
  for (const [key, value] of entries) {
    if (key.length > MAX_AUDIT_DETAIL_KEY_LENGTH || !DETAIL_KEY_PATTERN.test(key)) {
      throw new RangeError(`"details" key expected ${DETAIL_KEY_PATTERN.source}, at most ${MAX_AUDIT_DETAIL_KEY_LENGTH} characters`);
    }
    // Precondition: a details key named like a secret is refused whatever its value.
    if (isDeniedKeyName(key)) throw new AuditDetailsRefused(`details.${key}`);
    if (typeof value === 'string') {
      if (value.length > MAX_AUDIT_DETAIL_VALUE_LENGTH) {
        throw new RangeError(`"details.${key}" expected at most ${MAX_AUDIT_DETAIL_VALUE_LENGTH} characters, got ${value.length}`);
      }
      // Precondition: a details value that looks like a token, PEM private key or opaque blob is refused.
      if (looksSecret(value)) throw new AuditDetailsRefused(`details.${key}`);
    } else if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) throw new RangeError(`"details.${key}" expected a safe integer`);
    } else if (typeof value !== 'boolean' && value !== null) {
      throw new TypeError(`"details.${key}" expected a string, safe integer, boolean or null`);
    }
  }
  const json = canonicalDetailsJson(details as Record<string, unknown>);
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > MAX_AUDIT_DETAILS_BYTES) throw new RangeError(`"details" expected at most ${MAX_AUDIT_DETAILS_BYTES} bytes of JSON, got ${bytes}`);
  return json;
}

/** A validated record, ready for hashing (all but sequence, time and chain fields). */
export interface PreparedAuditFields {
  readonly actor: string;
  readonly action: AuditAction;
  readonly fleetId: string | null;
  readonly deviceId: string | null;
  readonly keyRef: string | null;
  readonly result: AuditResult;
  readonly errorCode: string | null;
  readonly detailsJson: string;
}

/**
 * Validates and bounds every field of a new record and applies the redaction guard.
 * @throws AuditDetailsRefused, TypeError, RangeError (see prepareDetails).
 */
export function prepareAuditRecord(input: NewAuditRecord): PreparedAuditFields {
  if (typeof input !== 'object' || input === null) throw new TypeError('"input" expected an object');
  if (!(AUDIT_ACTIONS as readonly string[]).includes(input.action)) throw new RangeError('"action" expected a known audit action');
  if (!(AUDIT_RESULTS as readonly string[]).includes(input.result)) throw new RangeError('"result" expected ok, denied or error');
  const errorCode = optional('errorCode', input.errorCode, MAX_AUDIT_ERROR_CODE_LENGTH);
  if (input.result === 'ok' && errorCode !== null) throw new RangeError('"errorCode" must be absent when result is ok');
  if (input.result !== 'ok' && errorCode === null) throw new RangeError('"errorCode" expected when result is not ok');
  return {
    actor: text('actor', input.actor, MAX_AUDIT_NAME_LENGTH),
    action: input.action,
    fleetId: optional('fleetId', input.fleetId, MAX_AUDIT_NAME_LENGTH),
    deviceId: optional('deviceId', input.deviceId, MAX_AUDIT_NAME_LENGTH),
    keyRef: optional('keyRef', input.keyRef, MAX_AUDIT_KEY_REF_LENGTH, true),
    result: input.result,
    errorCode,
    detailsJson: prepareDetails(input.details),
  };
}
