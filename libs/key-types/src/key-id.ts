/**
 * Versioned key ids. Every key id carries its version, and every ciphertext names the id and
 * version that made it, so old data stays readable through a rotation and nothing has to guess.
 *
 * Text form: `<kind>/<fleet>/<name>@<version>`, e.g. `communication/acme/fleet@17`.
 * The parser is strict: one form only, no leading zeros, bounded length and version.
 */
import { InvalidKeyId } from './errors.js';
import { isValidIdentifier } from './identifiers.js';
import { isKeyKind, type KeyKind } from './kinds.js';

export interface KeyId {
  readonly kind: KeyKind;
  readonly fleet: string;
  readonly name: string;
}

export interface VersionedKeyId extends KeyId {
  readonly version: number;
}

export const MAX_KEY_VERSION = 0x7fff_ffff;
export const MAX_KEY_ID_LENGTH = 255;

const VERSION_PATTERN = /^[1-9][0-9]{0,9}$/;

function checkParts(kind: unknown, fleet: unknown, name: unknown): void {
  if (!isKeyKind(kind)) throw new InvalidKeyId('key id: unknown key kind');
  if (!isValidIdentifier(fleet)) throw new InvalidKeyId('key id: invalid fleet segment');
  if (!isValidIdentifier(name)) throw new InvalidKeyId('key id: invalid name segment');
}

/** @throws InvalidKeyId when the version is not an integer in 1..2^31-1. */
export function assertKeyVersion(version: unknown): number {
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > MAX_KEY_VERSION) {
    throw new InvalidKeyId(`key version must be an integer in 1..${MAX_KEY_VERSION}`);
  }
  return version;
}

/** @throws InvalidKeyId when any part is invalid. */
export function keyId(kind: KeyKind, fleet: string, name: string): KeyId {
  checkParts(kind, fleet, name);
  return Object.freeze({ kind, fleet, name });
}

/** @throws InvalidKeyId when any part is invalid. */
export function versionedKeyId(kind: KeyKind, fleet: string, name: string, version: number): VersionedKeyId {
  checkParts(kind, fleet, name);
  return Object.freeze({ kind, fleet, name, version: assertKeyVersion(version) });
}

export function formatKeyId(id: KeyId): string {
  return `${id.kind}/${id.fleet}/${id.name}`;
}

export function formatVersionedKeyId(id: VersionedKeyId): string {
  return `${formatKeyId(id)}@${id.version}`;
}

/** @throws InvalidKeyId for anything but exactly `<kind>/<fleet>/<name>`. */
export function parseKeyId(text: unknown): KeyId {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_KEY_ID_LENGTH) {
    throw new InvalidKeyId('key id: expected a string of 1-255 characters');
  }
  const parts = text.split('/');
  if (parts.length !== 3) throw new InvalidKeyId('key id: expected <kind>/<fleet>/<name>');
  const [kind, fleet, name] = parts;
  checkParts(kind, fleet, name);
  return Object.freeze({ kind: kind as KeyKind, fleet: fleet as string, name: name as string });
}

/** @throws InvalidKeyId for anything but exactly `<kind>/<fleet>/<name>@<version>`. */
export function parseVersionedKeyId(text: unknown): VersionedKeyId {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_KEY_ID_LENGTH) {
    throw new InvalidKeyId('key id: expected a string of 1-255 characters');
  }
  const at = text.indexOf('@');
  if (at < 0 || at !== text.lastIndexOf('@')) throw new InvalidKeyId('key id: expected exactly one @<version>');
  const base = parseKeyId(text.slice(0, at));
  const versionText = text.slice(at + 1);
  if (!VERSION_PATTERN.test(versionText)) throw new InvalidKeyId('key id: version must be a positive integer without leading zeros');
  return Object.freeze({ ...base, version: assertKeyVersion(Number(versionText)) });
}

export function sameKeyId(a: KeyId, b: KeyId): boolean {
  return a.kind === b.kind && a.fleet === b.fleet && a.name === b.name;
}
