/**
 * Signing and verifying a precomputed digest for the four KMS wire emulators (AWS KMS, Azure Key
 * Vault, Google Cloud KMS, Vault Transit): ECDSA over P-256 / P-384 / P-521 / secp256k1 (FIPS
 * 186-5 §6.4, raw r‖s) and RSA PKCS#1 v1.5 / PSS (RFC 8017 §8.1, §8.2) over SHA-224/256/384/512.
 *
 * Trust boundary: test tooling for the emulators only, never production: the ECDSA arithmetic is
 * not constant time and the keys it holds protect nothing.
 */
export { DIGEST_LENGTH, checkDigestLength } from './digests.js';
export type { DigestName } from './digests.js';
export { CURVES, ecdsaSignDigest, ecdsaVerifyDigest } from './ecdsa.js';
export type { CurveParameters, EcCurve, NistCurve } from './ecdsa.js';
export { maxPssSaltLength, rsaPkcs1SignDigest, rsaPkcs1VerifyDigest, rsaPssSignDigest, rsaPssVerifyDigest } from './rsa.js';
