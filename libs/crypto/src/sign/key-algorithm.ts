/**
 * Reads which fleetkey KeyAlgorithm a node:crypto KeyObject is, and checks a key against a
 * signature algorithm. Keys reach this from KMS adapters, CSRs and certificates, so anything
 * outside the small set fleetkey supports is refused rather than guessed at.
 *
 * Trust boundary: the key may come from an attacker (a CSR); only its public parameters are read.
 */
import { KeyObject, createHash, createPublicKey } from 'node:crypto';
import { UnsupportedAlgorithm } from '@fleetkey/key-types';
import type { AsymmetricAlgorithm } from '@fleetkey/key-types';
import { signatureAlgorithmInfo } from './algorithms.js';
import type { SignatureAlgorithm } from './algorithms.js';

/** The only RSA public exponent accepted (F4; what every KMS and `generateKeyPair` use). */
export const RSA_PUBLIC_EXPONENT = 65537n;

const CURVES: Readonly<Record<string, AsymmetricAlgorithm>> = Object.freeze({
  prime256v1: 'ECDSA_P256',
  secp384r1: 'ECDSA_P384',
  secp521r1: 'ECDSA_P521',
});

const RSA_SIZES: Readonly<Record<number, AsymmetricAlgorithm>> = Object.freeze({
  2048: 'RSA_2048',
  3072: 'RSA_3072',
  4096: 'RSA_4096',
});

/**
 * The KeyAlgorithm of an asymmetric key (public or private).
 * @throws TypeError when `key` is not an asymmetric KeyObject.
 * @throws UnsupportedAlgorithm for key types, curves, RSA sizes or exponents fleetkey does not use
 *   (for example RSA-1024, RSA-PSS-restricted keys, secp256k1, X25519).
 */
export function keyAlgorithmOf(key: KeyObject): AsymmetricAlgorithm {
  if (!(key instanceof KeyObject) || key.type === 'secret') {
    throw new TypeError('"key" expected an asymmetric KeyObject');
  }
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const algorithm = CURVES[details.namedCurve ?? ''];
      if (algorithm) return algorithm;
      throw new UnsupportedAlgorithm('unsupported elliptic curve');
    }
    case 'rsa': {
      const algorithm = RSA_SIZES[details.modulusLength ?? 0];
      if (!algorithm) throw new UnsupportedAlgorithm('unsupported RSA modulus size');
      if (details.publicExponent !== RSA_PUBLIC_EXPONENT) throw new UnsupportedAlgorithm('unsupported RSA public exponent');
      return algorithm;
    }
    case 'ed25519':
      return 'ED25519';
    default:
      throw new UnsupportedAlgorithm('unsupported asymmetric key type');
  }
}

/** Whether `key` can make or check `algorithm` signatures. Never throws on an unsupported key. */
export function keyMatchesSignatureAlgorithm(key: KeyObject, algorithm: SignatureAlgorithm): boolean {
  let keyAlgorithm: AsymmetricAlgorithm;
  try {
    keyAlgorithm = keyAlgorithmOf(key);
  } catch {
    return false;
  }
  return signatureAlgorithmInfo(algorithm).keyAlgorithms.includes(keyAlgorithm);
}

/**
 * Checks that `key` fits `algorithm`.
 * @throws TypeError when `key` is not an asymmetric KeyObject.
 * @throws UnsupportedAlgorithm when the key or the algorithm is not one fleetkey supports.
 * @throws RangeError when both are supported but do not belong together (P-384 key for ES256).
 */
export function assertKeyMatches(key: KeyObject, algorithm: SignatureAlgorithm): AsymmetricAlgorithm {
  const info = signatureAlgorithmInfo(algorithm);
  const keyAlgorithm = keyAlgorithmOf(key);
  if (!info.keyAlgorithms.includes(keyAlgorithm)) {
    throw new RangeError(`"key" is ${keyAlgorithm}, which cannot be used with ${algorithm}`);
  }
  return keyAlgorithm;
}

/**
 * SHA-256 of the key's SubjectPublicKeyInfo DER, as lowercase hex: a stable, non-secret name for
 * a key in logs and audit records.
 * @throws TypeError when `key` is not an asymmetric KeyObject.
 */
export function publicKeyFingerprint(key: KeyObject): string {
  if (!(key instanceof KeyObject) || key.type === 'secret') {
    throw new TypeError('"key" expected an asymmetric KeyObject');
  }
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}
