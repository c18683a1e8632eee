/**
 * Argument checks shared by every repository implementation, so SQLite and PostgreSQL refuse the
 * same inputs with the same errors. Every stored string and blob has a written-down bound.
 *
 * Trust boundary: values arrive from the operator API and from provisioning requests; messages
 * name the argument and its length, never its content (it may be a certificate or wrapped key).
 */
import { assertIdentifier, isKeyState, type IdentifierKind, type KeyState } from '@fleetkey/key-types';
import { ALL_FLEETS, OPERATOR_ROLES, type CommandScope, type FleetSelector, type OperatorFleetScope, type OperatorRole } from './repository.js';

/** Display names of fleets, groups and operators. */
export const MAX_NAME_LENGTH = 256;
/** Hardware serial of a device. */
export const MAX_SERIAL_LENGTH = 128;
/** Serial pattern of an enrollment token. */
export const MAX_SERIAL_PATTERN_LENGTH = 256;
/** A device certificate in DER; real ones are under 2 KiB (RSA 4096 with extensions ~1.5 KiB). */
export const MAX_CERTIFICATE_DER_LENGTH = 16 * 1024;
/** A KEK-wrapped 32-byte epoch key envelope is ~100 bytes; generous headroom for provider metadata. */
export const MAX_WRAPPED_KEY_LENGTH = 4 * 1024;
/** RFC 5280 §4.1.2.2: serial numbers are at most 20 octets = 40 hex digits. */
export const CERTIFICATE_SERIAL_PATTERN = /^[0-9a-f]{1,40}$/;
/** Key algorithm names such as "ECDSA_P256", "RSA_2048". */
export const KEY_ALGORITHM_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
export const MAX_SETTING_KEY_LENGTH = 128;
export const MAX_SETTING_VALUE_LENGTH = 64 * 1024;
/** An operator may be scoped to at most this many fleets (beyond that, scope them to all). */
export const MAX_OPERATOR_FLEETS = 1024;

export function id(kind: IdentifierKind, value: unknown): string {
  return assertIdentifier(kind, value);
}

export function optionalGroup(value: unknown): string | null {
  return value === undefined || value === null ? null : assertIdentifier('group', value);
}

export function boundedString(name: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`"${name}" expected a non-empty string`);
  if (value.length > max) throw new RangeError(`"${name}" expected at most ${max} characters, got ${value.length}`);
  return value;
}

/** Like boundedString but admits the empty string (a field that may be unknown, such as a device serial). */
export function stringUpTo(name: string, value: unknown, max: number): string {
  if (typeof value !== 'string') throw new TypeError(`"${name}" expected a string`);
  if (value.length > max) throw new RangeError(`"${name}" expected at most ${max} characters, got ${value.length}`);
  return value;
}

export function optionalBoundedString(name: string, value: unknown, max: number): string | null {
  return value === undefined || value === null ? null : boundedString(name, value, max);
}

export function matching(name: string, value: unknown, pattern: RegExp): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw new TypeError(`"${name}" does not match ${String(pattern)}`);
  return value;
}

export function bytes(name: string, value: unknown, max: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`"${name}" expected a Uint8Array`);
  if (value.length === 0 || value.length > max) throw new RangeError(`"${name}" expected 1-${max} bytes, got ${value.length}`);
  return value;
}

export function millis(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`"${name}" expected a non-negative integer of milliseconds`);
  }
  return value;
}

export function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new TypeError(`"${name}" expected a positive integer`);
  return value;
}

export function keyState(value: unknown): KeyState {
  if (!isKeyState(value)) throw new TypeError(`"state" expected a key state`);
  return value;
}

export function role(value: unknown): OperatorRole {
  if (typeof value !== 'string' || !(OPERATOR_ROLES as readonly string[]).includes(value)) {
    throw new TypeError(`"role" expected one of ${OPERATOR_ROLES.join(', ')}`);
  }
  return value as OperatorRole;
}

export function fleetScope(value: OperatorFleetScope): OperatorFleetScope {
  if (value?.kind === 'all') return { kind: 'all' };
  if (value?.kind === 'fleets' && Array.isArray(value.fleetIds)) {
    if (value.fleetIds.length === 0 || value.fleetIds.length > MAX_OPERATOR_FLEETS) {
      throw new RangeError(`"fleetScope.fleetIds" expected 1-${MAX_OPERATOR_FLEETS} fleets, got ${value.fleetIds.length}`);
    }
    const ids = [...new Set(value.fleetIds.map((f) => assertIdentifier('fleet', f)))].sort();
    return { kind: 'fleets', fleetIds: ids };
  }
  throw new TypeError('"fleetScope" expected { kind: "all" } or { kind: "fleets", fleetIds }');
}

/**
 * Returns the one fleet selected, or null for the explicit all-fleets selector.
 * @throws TypeError for anything else (no implicit "all" from a missing or empty fleet).
 */
export function fleetSelector(value: FleetSelector): string | null {
  // Precondition: listing across fleets needs the explicit ALL_FLEETS selector.
  if (value === ALL_FLEETS || (value as { allFleets?: unknown })?.allFleets === true) {
    if ('fleetId' in value) throw new TypeError('"fleets" must not combine allFleets with fleetId');
    return null;
  }
  if (value !== null && typeof value === 'object' && 'fleetId' in value) return assertIdentifier('fleet', value.fleetId);
  throw new TypeError('"fleets" expected { fleetId } or ALL_FLEETS');
}

/** Longest reason text (revocations, commands, lift requests). */
export const MAX_REASON_LENGTH = 512;
/** Largest SignedCommand (payload 8 KiB + signature and key ref). */
export const MAX_SIGNED_COMMAND_LENGTH = 12 * 1024;
/** Largest signed artefact (a revocation list of 10,000 devices is about 1 MiB). */
export const MAX_SIGNED_ARTIFACT_LENGTH = 2 * 1024 * 1024 + 4096;
/** Largest page a list method returns. */
export const MAX_LIST_PAGE = 1000;

/** A sequence number: a safe integer ≥ `min` (default 1). */
export function sequence(name: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw new RangeError(`"${name}" expected an integer of at least ${min}`);
  return value;
}

export function oneOf<T extends string>(name: string, value: unknown, values: readonly T[]): T {
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) throw new TypeError(`"${name}" expected one of ${values.join(', ')}`);
  return value as T;
}

/** A command scope as its two columns. */
export function scope(value: CommandScope): { kind: CommandScope['kind']; id: string | null } {
  switch (value?.kind) {
    case 'fleet':
      return { kind: 'fleet', id: null };
    case 'group':
      return { kind: 'group', id: id('group', value.groupId) };
    case 'device':
      return { kind: 'device', id: id('device', value.deviceId) };
    default:
      throw new TypeError('"scope" expected { kind: fleet | group | device }');
  }
}

/**
 * A JSON object as text, at most `max` characters, stored verbatim.
 * @throws TypeError when it is not a string or not a JSON object; RangeError when too long.
 */
export function jsonObjectText(name: string, value: unknown, max: number): string {
  const text = boundedString(name, value, max);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TypeError(`"${name}" expected a JSON object`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError(`"${name}" expected a JSON object`);
  return text;
}
