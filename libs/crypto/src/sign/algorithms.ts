/**
 * Signature algorithms fleetkey signs and verifies with, and which key algorithm each one needs.
 * Pure data: no keys are touched here.
 *
 * Trust boundary: none; these are constants the rest of the signing code agrees on.
 */
import { UnsupportedAlgorithm, algorithmInfo } from '@fleetkey/key-types';
import type { AsymmetricAlgorithm, KeyAlgorithm, KeyFamily, NamedCurve } from '@fleetkey/key-types';

export const SIGNATURE_ALGORITHMS = [
  'ECDSA_P256_SHA256',
  'ECDSA_P384_SHA384',
  'ECDSA_P521_SHA512',
  'RSA_PKCS1_SHA256',
  'RSA_PSS_SHA256',
  'ED25519',
] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];

export interface SignatureAlgorithmInfo {
  readonly family: Exclude<KeyFamily, 'symmetric'>;
  /** node:crypto digest name, or null for Ed25519 (which hashes internally, RFC 8032 §5.1.6). */
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null;
  readonly curve?: NamedCurve;
  /** Key algorithms whose keys can make this signature. */
  readonly keyAlgorithms: readonly AsymmetricAlgorithm[];
}

const RSA_KEYS: readonly AsymmetricAlgorithm[] = ['RSA_2048', 'RSA_3072', 'RSA_4096'];

const INFO: Readonly<Record<SignatureAlgorithm, SignatureAlgorithmInfo>> = Object.freeze({
  ECDSA_P256_SHA256: { family: 'ec', hash: 'sha256', curve: 'P-256', keyAlgorithms: ['ECDSA_P256'] },
  ECDSA_P384_SHA384: { family: 'ec', hash: 'sha384', curve: 'P-384', keyAlgorithms: ['ECDSA_P384'] },
  ECDSA_P521_SHA512: { family: 'ec', hash: 'sha512', curve: 'P-521', keyAlgorithms: ['ECDSA_P521'] },
  RSA_PKCS1_SHA256: { family: 'rsa', hash: 'sha256', keyAlgorithms: RSA_KEYS },
  RSA_PSS_SHA256: { family: 'rsa', hash: 'sha256', keyAlgorithms: RSA_KEYS },
  ED25519: { family: 'okp', hash: null, keyAlgorithms: ['ED25519'] },
});

/**
 * RSA-PSS salt length in bytes: the digest length, as AWS KMS, Azure Key Vault (PS256) and Google
 * Cloud KMS use it, so a local signature and a KMS signature verify the same way (RFC 8017 §9.1).
 */
export const RSA_PSS_SALT_LENGTH = 32;

export function isSignatureAlgorithm(value: unknown): value is SignatureAlgorithm {
  return typeof value === 'string' && (SIGNATURE_ALGORITHMS as readonly string[]).includes(value);
}

/** @throws UnsupportedAlgorithm for anything that is not one of SIGNATURE_ALGORITHMS. */
export function signatureAlgorithmInfo(algorithm: string): SignatureAlgorithmInfo {
  if (!isSignatureAlgorithm(algorithm)) {
    throw new UnsupportedAlgorithm(`unsupported signature algorithm ${JSON.stringify(String(algorithm).slice(0, 32))}`);
  }
  return INFO[algorithm];
}

/**
 * The signature algorithm a key signs with unless told otherwise. RSA keys default to PKCS#1 v1.5
 * because every X.509 stack verifies it; RSA_PSS_SHA256 is selectable.
 * @throws UnsupportedAlgorithm for symmetric or unknown key algorithms.
 */
export function defaultSignatureAlgorithm(keyAlgorithm: KeyAlgorithm): SignatureAlgorithm {
  const info = algorithmInfo(keyAlgorithm);
  switch (info.family) {
    case 'rsa':
      return 'RSA_PKCS1_SHA256';
    case 'okp':
      return 'ED25519';
    case 'ec':
      if (info.curve === 'P-256') return 'ECDSA_P256_SHA256';
      if (info.curve === 'P-384') return 'ECDSA_P384_SHA384';
      return 'ECDSA_P521_SHA512';
    default:
      throw new UnsupportedAlgorithm(`key algorithm ${keyAlgorithm} cannot sign`);
  }
}

/** Every signature algorithm a key of `keyAlgorithm` can make (empty for symmetric keys). */
export function signatureAlgorithmsFor(keyAlgorithm: KeyAlgorithm): SignatureAlgorithm[] {
  return SIGNATURE_ALGORITHMS.filter((s) => (INFO[s].keyAlgorithms as readonly string[]).includes(keyAlgorithm));
}
