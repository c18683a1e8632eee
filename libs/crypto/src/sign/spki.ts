/**
 * The SubjectPublicKeyInfo DER of a key, computed once per KeyObject (KeyObjects are immutable):
 * issuance, wrapping and comparisons all need it, and exporting it costs more than the signature
 * it goes with. A parser that made the KeyObject from SPKI bytes records them, so the bytes it
 * checked are the bytes used.
 *
 * Trust boundary: public keys only; a private KeyObject yields its public half's SPKI.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';

const spkiByKey = new WeakMap<KeyObject, Uint8Array>();

/** Records the SPKI DER a public KeyObject was created from. */
export function rememberSpki(publicKey: KeyObject, spkiDer: Uint8Array): void {
  if (publicKey.type === 'public') spkiByKey.set(publicKey, new Uint8Array(spkiDer));
}

/** The SPKI DER of `key`'s public half (the same bytes for every call; do not modify them). */
export function spkiDerOf(key: KeyObject): Uint8Array {
  const cached = spkiByKey.get(key);
  if (cached !== undefined) return cached;
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const der = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  spkiByKey.set(key, der);
  return der;
}
