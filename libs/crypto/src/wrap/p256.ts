/**
 * P-256 point handling for ECIES: the SubjectPublicKeyInfo prefix that turns a 65-byte uncompressed
 * point into a node:crypto public key (and back), with a per-key cache of the recipient point.
 *
 * Trust boundary: `publicKeyFromPoint` takes attacker bytes (the ephemeral point of an envelope);
 * OpenSSL checks the point is on the curve while importing it and throws otherwise.
 */
import { createPublicKey } from 'node:crypto';
import { spkiDerOf } from '../sign/spki.js';
import type { KeyObject } from 'node:crypto';
import { ECIES_P256_POINT_LENGTH } from '../envelope/index.js';

/**
 * DER SubjectPublicKeyInfo header for id-ecPublicKey / prime256v1 with a 65-byte BIT STRING
 * (RFC 5480 §2): SEQUENCE { SEQUENCE { OID ecPublicKey, OID prime256v1 }, BIT STRING (0 unused) }.
 */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
/** SEC 1 §2.3.3: an uncompressed point starts with 0x04. */
export const UNCOMPRESSED_POINT_PREFIX = 0x04;

const pointCache = new WeakMap<KeyObject, Uint8Array>();

/**
 * The uncompressed SEC 1 point of a P-256 key, public or private (its public half); cached per
 * KeyObject, which is immutable.
 * @throws RangeError when `key` is not a P-256 key.
 */
export function p256PointOf(key: KeyObject): Uint8Array {
  const cached = pointCache.get(key);
  if (cached) return cached;
  const shaped = (der: Uint8Array): boolean => der.length === P256_SPKI_PREFIX.length + ECIES_P256_POINT_LENGTH && Buffer.from(der.subarray(0, P256_SPKI_PREFIX.length)).equals(P256_SPKI_PREFIX);
  let spki = Buffer.from(spkiDerOf(key));
  // A key parsed from a compressed point remembers those bytes; OpenSSL's export is uncompressed.
  if (!shaped(spki)) spki = (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
  if (spki.length !== P256_SPKI_PREFIX.length + ECIES_P256_POINT_LENGTH || !spki.subarray(0, P256_SPKI_PREFIX.length).equals(P256_SPKI_PREFIX)) {
    throw new RangeError('"recipient" expected a P-256 public key');
  }
  const point = new Uint8Array(spki.subarray(P256_SPKI_PREFIX.length));
  pointCache.set(key, point);
  return point;
}

/**
 * A public KeyObject for a 65-byte uncompressed point.
 * @throws Error from OpenSSL when the point is malformed or not on the curve (callers map it).
 */
export function publicKeyFromPoint(point: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([P256_SPKI_PREFIX, point]), format: 'der', type: 'spki' });
}
