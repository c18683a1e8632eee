/**
 * Keys derived from the store key with HKDF-SHA256 (RFC 5869). The store key goes to SQLite as
 * the page-encryption key; everything else the keystore needs is derived under a distinct `info`
 * label so no two uses share a key: the record-sealing key (per-record envelopes) and the
 * key-check value (published in the sidecar).
 *
 * Trust boundary: inputs are the unlocked store key; outputs are secret (record key) or public
 * (key check). The caller owns and zeroizes returned buffers.
 */
import { hkdfSync, timingSafeEqual } from 'node:crypto';
import { DERIVED_KEY_LENGTH, KEY_CHECK_INFO, RECORD_KEY_INFO, STORE_KEY_LENGTH } from './constants.js';

// RFC 5869 §2.2: the salt is optional; the store key is already uniformly random, so an empty salt
// (HashLen zeros) loses nothing and keeps the derivation a pure function of the store key.
const EMPTY_SALT = new Uint8Array(0);

function derive(storeKey: Uint8Array, info: string): Uint8Array {
  if (!(storeKey instanceof Uint8Array) || storeKey.length !== STORE_KEY_LENGTH) {
    throw new RangeError(`"storeKey" expected ${STORE_KEY_LENGTH} bytes`);
  }
  // RFC 5869 §2.3: OKM = HKDF-Expand(HKDF-Extract(salt, IKM), info, L).
  return new Uint8Array(hkdfSync('sha256', storeKey, EMPTY_SALT, info, DERIVED_KEY_LENGTH));
}

/** The 32-byte key that seals each record's material (envelope v1, AES-256-GCM). */
export function deriveRecordKey(storeKey: Uint8Array): Uint8Array {
  return derive(storeKey, RECORD_KEY_INFO);
}

/** The public key-check value stored in the sidecar. */
export function deriveKeyCheck(storeKey: Uint8Array): Uint8Array {
  return derive(storeKey, KEY_CHECK_INFO);
}

/** Constant-time comparison of the expected and the computed key check. */
export function keyCheckMatches(storeKey: Uint8Array, expected: Uint8Array): boolean {
  const actual = deriveKeyCheck(storeKey);
  try {
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  } finally {
    actual.fill(0);
  }
}
