/**
 * Cloud KMS resource names (AIP-122): parsing and validation of
 * `projects/{p}/locations/{l}/keyRings/{r}/cryptoKeys/{k}/cryptoKeyVersions/{v}` and its prefixes.
 *
 * Trust boundary: names come from clients; anything that does not parse is INVALID_ARGUMENT.
 */
import { invalidArgument } from './status.js';

/** Key ring and crypto key ids: `[a-zA-Z0-9_-]{1,63}` (Cloud KMS resource id rules). */
export const RESOURCE_ID = /^[a-zA-Z0-9_-]{1,63}$/;
const SEGMENT = '([a-zA-Z0-9_.-]{1,63})';
export const MAX_RESOURCE_NAME_LENGTH = 1024;

const LOCATION = new RegExp(`^projects/${SEGMENT}/locations/${SEGMENT}$`);
const KEY_RING = new RegExp(`^(projects/${SEGMENT}/locations/${SEGMENT})/keyRings/${SEGMENT}$`);
const CRYPTO_KEY = new RegExp(`^(projects/${SEGMENT}/locations/${SEGMENT}/keyRings/${SEGMENT})/cryptoKeys/${SEGMENT}$`);
const VERSION = new RegExp(`^(projects/${SEGMENT}/locations/${SEGMENT}/keyRings/${SEGMENT}/cryptoKeys/${SEGMENT})/cryptoKeyVersions/([1-9][0-9]{0,9})$`);

function bounded(name: unknown, field: string): string {
  if (typeof name !== 'string' || name.length === 0) throw invalidArgument(`${field} is required.`);
  if (name.length > MAX_RESOURCE_NAME_LENGTH) throw invalidArgument(`${field} is too long.`);
  return name;
}

/** @throws GcpStatusError INVALID_ARGUMENT */
export function parseLocation(name: unknown, field = 'parent'): string {
  const n = bounded(name, field);
  if (!LOCATION.test(n)) throw invalidArgument(`${field} must be of the form projects/*/locations/*.`);
  return n;
}

/** @throws GcpStatusError INVALID_ARGUMENT */
export function parseKeyRingName(name: unknown, field = 'name'): string {
  const n = bounded(name, field);
  if (!KEY_RING.test(n)) throw invalidArgument(`${field} must be of the form projects/*/locations/*/keyRings/*.`);
  return n;
}

export type CryptoKeyOrVersion = { readonly key: string; readonly version?: number };

/** @throws GcpStatusError INVALID_ARGUMENT */
export function parseCryptoKeyName(name: unknown, field = 'name'): string {
  const n = bounded(name, field);
  if (!CRYPTO_KEY.test(n)) throw invalidArgument(`${field} must be of the form projects/*/locations/*/keyRings/*/cryptoKeys/*.`);
  return n;
}

/** @throws GcpStatusError INVALID_ARGUMENT */
export function parseVersionName(name: unknown, field = 'name'): { key: string; version: number } {
  const n = bounded(name, field);
  const m = VERSION.exec(n);
  if (!m) throw invalidArgument(`${field} must be of the form projects/*/locations/*/keyRings/*/cryptoKeys/*/cryptoKeyVersions/*.`);
  return { key: m[1]!, version: Number(m[6]) };
}

/** A CryptoKey or one of its versions (Encrypt takes either). @throws GcpStatusError INVALID_ARGUMENT */
export function parseKeyOrVersion(name: unknown, field = 'name'): CryptoKeyOrVersion {
  const n = bounded(name, field);
  if (CRYPTO_KEY.test(n)) return { key: n };
  return parseVersionName(n, field);
}

/** The key ring a crypto key name belongs to. */
export function keyRingOf(cryptoKeyName: string): string {
  return cryptoKeyName.slice(0, cryptoKeyName.lastIndexOf('/cryptoKeys/'));
}
