/**
 * Signature verification with a public key. `verifySignature` answers true or false and never
 * throws on the signature or the message (attacker bytes); it throws only on programming misuse
 * (a key that does not fit the algorithm). `assertSignature` turns false into `SignatureInvalid`.
 *
 * Trust boundary: `data` and `signature` come from the network; the key and algorithm come from
 * configuration or a validated certificate.
 */
import { KeyObject, constants, verify } from 'node:crypto';
import { RSA_PSS_SALT_LENGTH, signatureAlgorithmInfo } from './algorithms.js';
import type { SignatureAlgorithm } from './algorithms.js';
import { derToP1363 } from './ecdsa-der.js';
import { SignatureInvalid } from './errors.js';
import { assertKeyMatches } from './key-algorithm.js';

/** Largest message signed or verified in one call (16 MiB); larger input is a caller bug. */
export const MAX_SIGNED_MESSAGE_LENGTH = 16 * 1024 * 1024;
/** Ed25519 signatures are exactly 64 bytes (RFC 8032 §5.1.6). */
export const ED25519_SIGNATURE_LENGTH = 64;

function checkKey(publicKey: KeyObject, algorithm: SignatureAlgorithm): void {
  if (!(publicKey instanceof KeyObject) || publicKey.type === 'secret') {
    throw new TypeError('"publicKey" expected an asymmetric KeyObject');
  }
  assertKeyMatches(publicKey, algorithm);
}

/**
 * Checks `signature` over `data` with `publicKey` (a private key also works: its public half is used).
 * ECDSA signatures are DER `Ecdsa-Sig-Value` (RFC 3279), parsed strictly; RSA-PSS uses MGF1-SHA256
 * with a 32-byte salt; Ed25519 is pure Ed25519 (RFC 8032).
 * @returns false for any malformed, truncated, oversized or wrong signature, and for oversized data.
 * @throws TypeError when `publicKey`, `data` or `signature` are of the wrong type.
 * @throws UnsupportedAlgorithm for an unknown algorithm or unsupported key.
 * @throws RangeError when the key does not fit the algorithm.
 */
export function verifySignature(
  publicKey: KeyObject,
  algorithm: SignatureAlgorithm,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  checkKey(publicKey, algorithm);
  if (!(data instanceof Uint8Array)) throw new TypeError('"data" expected a Uint8Array');
  if (!(signature instanceof Uint8Array)) throw new TypeError('"signature" expected a Uint8Array');
  // Precondition: messages are bounded; an oversized one is refused, not hashed.
  if (data.length > MAX_SIGNED_MESSAGE_LENGTH) return false;
  const info = signatureAlgorithmInfo(algorithm);
  try {
    switch (info.family) {
      case 'ec': {
        // One strict DER parser for every ECDSA signature; node then checks the raw form.
        const raw = derToP1363(signature, info.curve!);
        return verify(info.hash!, data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw);
      }
      case 'rsa': {
        // Precondition: an RSA signature is exactly as long as the modulus (RFC 8017 §8.2.2 step 1).
        const modulusBytes = Math.ceil((publicKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
        if (signature.length !== modulusBytes) return false;
        const pss = algorithm === 'RSA_PSS_SHA256';
        return verify(
          info.hash!,
          data,
          pss
            ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: RSA_PSS_SALT_LENGTH }
            : { key: publicKey, padding: constants.RSA_PKCS1_PADDING },
          signature,
        );
      }
      case 'okp':
        if (signature.length !== ED25519_SIGNATURE_LENGTH) return false;
        return verify(null, data, publicKey, signature);
    }
  } catch {
    // Malformed signatures surface as SignatureInvalid or OpenSSL errors: both are just "no".
    return false;
  }
}

/**
 * Like `verifySignature`, but throws instead of returning false.
 * @throws SignatureInvalid (code SIGNATURE_INVALID) when the signature does not verify.
 * @throws TypeError / UnsupportedAlgorithm / RangeError as `verifySignature`.
 */
export function assertSignature(
  publicKey: KeyObject,
  algorithm: SignatureAlgorithm,
  data: Uint8Array,
  signature: Uint8Array,
): void {
  if (!verifySignature(publicKey, algorithm, data, signature)) throw new SignatureInvalid();
}
