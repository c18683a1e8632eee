/**
 * The one AEAD code path of envelope v1: AES-256-GCM (NIST SP 800-38D) and ChaCha20-Poly1305
 * (RFC 8439) through node:crypto, always with a 12-byte nonce and a 16-byte tag.
 *
 * Trust boundary: `aeadDecrypt` receives attacker ciphertext. Every failure inside OpenSSL becomes
 * `DecryptionFailed` with its one fixed message, and any plaintext produced before the tag check
 * failed is zeroed before we throw. Key and nonce sizes were checked by the callers (misuse).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { DecryptionFailed } from '../errors.js';
import type { ContentCipher } from './algorithms.js';
import { ENVELOPE_TAG_LENGTH } from './constants.js';

const AEAD_OPTIONS = { authTagLength: ENVELOPE_TAG_LENGTH } as const;

/**
 * Encrypts `plaintext` and writes ciphertext ‖ tag at `target[offset..]` (the caller sized it:
 * plaintext.length + 16 bytes). Returns the offset after the tag.
 */
export function aeadEncryptInto(
  cipherName: ContentCipher,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  target: Uint8Array,
  offset: number,
): number {
  const cipher =
    cipherName === 'aes-256-gcm'
      ? createCipheriv(cipherName, key, nonce, AEAD_OPTIONS)
      : createCipheriv(cipherName, key, nonce, AEAD_OPTIONS);
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const rest = cipher.final();
  target.set(body, offset);
  let o = offset + body.length;
  // GCM and ChaCha20-Poly1305 are stream modes: final() is empty, but copy it if OpenSSL ever
  // holds bytes back rather than assume.
  if (rest.length > 0) {
    target.set(rest, o);
    o += rest.length;
  }
  target.set(cipher.getAuthTag(), o);
  return o + ENVELOPE_TAG_LENGTH;
}

/**
 * Decrypts ciphertext ‖ tag and returns the plaintext (a fresh buffer the caller owns).
 * @throws DecryptionFailed when authentication fails for any reason.
 */
export function aeadDecrypt(
  cipherName: ContentCipher,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  ciphertextWithTag: Uint8Array,
): Uint8Array {
  const tagStart = ciphertextWithTag.length - ENVELOPE_TAG_LENGTH;
  // Precondition: the ciphertext holds at least a full tag (the parser guarantees it; checked
  // again because a short tag would make OpenSSL verify a truncated MAC).
  if (tagStart < 0) throw new DecryptionFailed();
  let body: Buffer | undefined;
  try {
    const decipher =
      cipherName === 'aes-256-gcm'
        ? createDecipheriv(cipherName, key, nonce, AEAD_OPTIONS)
        : createDecipheriv(cipherName, key, nonce, AEAD_OPTIONS);
    decipher.setAuthTag(ciphertextWithTag.subarray(tagStart));
    decipher.setAAD(aad);
    body = decipher.update(ciphertextWithTag.subarray(0, tagStart));
    const rest = decipher.final();
    if (rest.length === 0) return body;
    const joined = Buffer.concat([body, rest]);
    body.fill(0);
    rest.fill(0);
    return joined;
  } catch {
    // No unauthenticated plaintext survives a failed open: zero what update() produced.
    body?.fill(0);
    throw new DecryptionFailed();
  }
}
