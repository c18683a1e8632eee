/**
 * Input checks for records, tags, filters and value names: every length bounded, every id
 * re-validated through key-types (a caller may hand us a forged "VersionedKeyId" object literal),
 * the algorithm checked against the kind's policy.
 *
 * Trust boundary: inputs come from callers (the agent's API handlers, the CLI, a backup being
 * imported). Misuse is TypeError / RangeError naming the argument; ids are InvalidKeyId;
 * algorithms UnsupportedAlgorithm. Messages never echo material.
 */
import {
  assertAlgorithmAllowed,
  assertKeyVersion,
  isKeyAlgorithm,
  isKeyKind,
  isKeyState,
  isValidIdentifier,
  keyId as makeKeyId,
  versionedKeyId,
  type KeyAlgorithm,
  type KeyId,
  type KeyState,
  type VersionedKeyId,
  UnsupportedAlgorithm,
} from '@fleetkey/key-types';
import {
  MAX_LIST_RESULTS,
  MAX_MATERIAL_LENGTH,
  MAX_PUBLIC_KEY_LENGTH,
  MAX_TAGS,
  MAX_TAG_VALUE_LENGTH,
  MAX_VALUE_LENGTH,
  TAG_NAME_PATTERN,
  VALUE_NAME_PATTERN,
} from '../constants.js';
import type { KeyRecordInput, ListFilter, Tags } from './types.js';

/** Re-validates a key id (object literals are not trusted to have come from key-types). */
export function checkKeyId(id: KeyId): KeyId {
  if (typeof id !== 'object' || id === null) throw new TypeError('"keyId" expected a KeyId');
  return makeKeyId(id.kind, id.fleet, id.name);
}

export function checkVersionedKeyId(id: VersionedKeyId): VersionedKeyId {
  if (typeof id !== 'object' || id === null) throw new TypeError('"keyId" expected a VersionedKeyId');
  return versionedKeyId(id.kind, id.fleet, id.name, id.version);
}

export function checkVersion(version: number): number {
  return assertKeyVersion(version);
}

export function checkState(state: unknown, argument = 'state'): KeyState {
  if (!isKeyState(state)) throw new RangeError(`"${argument}" expected a key state`);
  return state;
}

function checkBytes(value: unknown, argument: string, min: number, max: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`"${argument}" expected a Uint8Array`);
  if (value.length < min || value.length > max) {
    throw new RangeError(`"${argument}" expected ${min}..${max} bytes, got ${value.length}`);
  }
  return value;
}

function checkDate(value: unknown, argument: string): Date | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new TypeError(`"${argument}" expected a valid Date`);
  return new Date(value.getTime());
}

/** Copies and checks tags. @throws RangeError / TypeError. */
export function checkTags(tags: unknown): Tags {
  if (tags === undefined) return Object.freeze({});
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) throw new TypeError('"tags" expected a record of strings');
  const entries = Object.entries(tags as Record<string, unknown>);
  if (entries.length > MAX_TAGS) throw new RangeError(`"tags" expected at most ${MAX_TAGS} entries, got ${entries.length}`);
  const out: Record<string, string> = {};
  for (const [name, value] of entries) {
    checkTagName(name);
    if (typeof value !== 'string' || value.length > MAX_TAG_VALUE_LENGTH) {
      throw new RangeError(`"tags.${name}" expected a string of at most ${MAX_TAG_VALUE_LENGTH} characters`);
    }
    out[name] = value;
  }
  return Object.freeze(out);
}

export function checkTagName(name: unknown): string {
  if (typeof name !== 'string' || !TAG_NAME_PATTERN.test(name)) {
    throw new RangeError(`tag name expected ${TAG_NAME_PATTERN.source}`);
  }
  return name;
}

export function checkValueName(name: unknown): string {
  if (typeof name !== 'string' || !VALUE_NAME_PATTERN.test(name)) {
    throw new RangeError(`"name" expected ${VALUE_NAME_PATTERN.source}`);
  }
  return name;
}

export function checkValue(value: unknown): { type: 'bytes' | 'text'; bytes: Uint8Array } {
  if (typeof value === 'string') {
    const bytes = new Uint8Array(Buffer.from(value, 'utf8'));
    if (bytes.length > MAX_VALUE_LENGTH) throw new RangeError(`"value" expected at most ${MAX_VALUE_LENGTH} bytes`);
    return { type: 'text', bytes };
  }
  checkBytes(value, 'value', 0, MAX_VALUE_LENGTH);
  return { type: 'bytes', bytes: value as Uint8Array };
}

export interface CheckedRecord {
  readonly keyId: VersionedKeyId;
  readonly algorithm: KeyAlgorithm;
  readonly state: KeyState;
  readonly material: Uint8Array;
  readonly publicKey?: Uint8Array;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly tags: Tags;
}

export type CheckedRecordMeta = Omit<CheckedRecord, 'material'>;

/**
 * Checks everything but the material (import of a destroyed key has none).
 * @throws InvalidKeyId | UnsupportedAlgorithm | TypeError | RangeError.
 */
export function checkRecordMeta(record: Omit<KeyRecordInput, 'material'>, options: { allowDestroyed?: boolean } = {}): CheckedRecordMeta {
  if (typeof record !== 'object' || record === null) throw new TypeError('"record" expected an object');
  const keyId = checkVersionedKeyId(record.keyId);
  if (!isKeyAlgorithm(record.algorithm)) throw new UnsupportedAlgorithm('unsupported key algorithm');
  assertAlgorithmAllowed(keyId.kind, record.algorithm);
  const state = checkState(record.state);
  if (state === 'destroyed' && !options.allowDestroyed) {
    throw new RangeError('"state" cannot be destroyed for a new record');
  }
  const publicKey =
    record.publicKey === undefined ? undefined : new Uint8Array(checkBytes(record.publicKey, 'publicKey', 1, MAX_PUBLIC_KEY_LENGTH));
  const notBefore = checkDate(record.notBefore, 'notBefore');
  const notAfter = checkDate(record.notAfter, 'notAfter');
  if (notBefore && notAfter && notBefore.getTime() >= notAfter.getTime()) {
    throw new RangeError('"notBefore" must be earlier than "notAfter"');
  }
  return {
    keyId,
    algorithm: record.algorithm,
    state,
    ...(publicKey ? { publicKey } : {}),
    ...(notBefore ? { notBefore } : {}),
    ...(notAfter ? { notAfter } : {}),
    tags: checkTags(record.tags),
  };
}

/**
 * Checks a record for `put` / import. The material is NOT copied (the caller keeps ownership).
 * @throws InvalidKeyId | UnsupportedAlgorithm | TypeError | RangeError.
 */
export function checkRecordInput(record: KeyRecordInput, options: { allowDestroyed?: boolean } = {}): CheckedRecord {
  const meta = checkRecordMeta(record, options);
  return { ...meta, material: checkBytes(record.material, 'material', 1, MAX_MATERIAL_LENGTH) };
}

/** @throws TypeError for anything but a valid Date. */
export function checkRequiredDate(value: unknown, argument: string): Date {
  const date = checkDate(value, argument);
  if (date === undefined) throw new TypeError(`"${argument}" expected a valid Date`);
  return date;
}

export interface CheckedFilter {
  readonly kind: string | null;
  readonly state: string | null;
  readonly fleet: string | null;
  readonly tagName: string | null;
  readonly tagValue: string | null;
  readonly limit: number;
}

/** @throws RangeError for an unknown kind / state, an invalid fleet or tag, or a bad limit. */
export function checkFilter(filter: ListFilter = {}): CheckedFilter {
  if (typeof filter !== 'object' || filter === null) throw new TypeError('"filter" expected an object');
  if (filter.kind !== undefined && !isKeyKind(filter.kind)) throw new RangeError('"filter.kind" expected a key kind');
  if (filter.state !== undefined) checkState(filter.state, 'filter.state');
  if (filter.fleet !== undefined && !isValidIdentifier(filter.fleet)) throw new RangeError('"filter.fleet" expected a fleet id');
  if (filter.tag !== undefined) {
    checkTagName(filter.tag?.name);
    if (filter.tag.value !== undefined && (typeof filter.tag.value !== 'string' || filter.tag.value.length > MAX_TAG_VALUE_LENGTH)) {
      throw new RangeError(`"filter.tag.value" expected a string of at most ${MAX_TAG_VALUE_LENGTH} characters`);
    }
  }
  const limit = filter.limit ?? MAX_LIST_RESULTS;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_RESULTS) {
    throw new RangeError(`"filter.limit" expected 1..${MAX_LIST_RESULTS}`);
  }
  return {
    kind: filter.kind ?? null,
    state: filter.state ?? null,
    fleet: filter.fleet ?? null,
    tagName: filter.tag?.name ?? null,
    tagValue: filter.tag?.value ?? null,
    limit,
  };
}
