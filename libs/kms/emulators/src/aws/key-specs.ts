/**
 * The AWS KMS key specs, usages and algorithms the emulator implements, as AWS names them
 * (https://docs.aws.amazon.com/kms/latest/developerguide/symm-asymm-choose-key-spec.html).
 * ECC_NIST_EDWARDS25519 (added by AWS in 2025, present in @aws-sdk/client-kms 3.1164) signs with
 * ED25519_SHA_512 over a RAW message; ED25519_PH_SHA_512 (Ed25519ph) is not implemented because
 * node:crypto has no Ed25519ph, and is answered UnsupportedOperationException.
 *
 * Trust boundary: none; constants.
 */
import type { DigestName, NistCurve } from '../digest-signing/index.js';

type EcCurveName = NistCurve;
/** The hashes AWS KMS signing algorithms use. */
type RsaHash = Exclude<DigestName, 'sha224'>;

export type AwsKeySpec =
  | 'SYMMETRIC_DEFAULT'
  | 'RSA_2048'
  | 'RSA_3072'
  | 'RSA_4096'
  | 'ECC_NIST_P256'
  | 'ECC_NIST_P384'
  | 'ECC_NIST_P521'
  | 'ECC_NIST_EDWARDS25519';
export type AwsKeyUsage = 'ENCRYPT_DECRYPT' | 'SIGN_VERIFY';

export interface KeySpecInfo {
  readonly usages: readonly AwsKeyUsage[];
  readonly rsaBits?: number;
  readonly curve?: EcCurveName;
  readonly ed25519?: boolean;
}

export const KEY_SPECS: Readonly<Record<AwsKeySpec, KeySpecInfo>> = Object.freeze({
  SYMMETRIC_DEFAULT: { usages: ['ENCRYPT_DECRYPT'] },
  RSA_2048: { usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], rsaBits: 2048 },
  RSA_3072: { usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], rsaBits: 3072 },
  RSA_4096: { usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], rsaBits: 4096 },
  ECC_NIST_P256: { usages: ['SIGN_VERIFY'], curve: 'P-256' },
  ECC_NIST_P384: { usages: ['SIGN_VERIFY'], curve: 'P-384' },
  ECC_NIST_P521: { usages: ['SIGN_VERIFY'], curve: 'P-521' },
  ECC_NIST_EDWARDS25519: { usages: ['SIGN_VERIFY'], ed25519: true },
});

export function isAwsKeySpec(value: unknown): value is AwsKeySpec {
  return typeof value === 'string' && Object.hasOwn(KEY_SPECS, value);
}

export interface SigningAlgorithmInfo {
  readonly kind: 'rsa-pkcs1' | 'rsa-pss' | 'ecdsa' | 'ed25519';
  /** Digest the algorithm signs; null for pure Ed25519 (RFC 8032 hashes internally). */
  readonly hash: RsaHash | null;
  readonly curve?: EcCurveName;
}

export const SIGNING_ALGORITHMS = Object.freeze({
  RSASSA_PSS_SHA_256: { kind: 'rsa-pss', hash: 'sha256' },
  RSASSA_PSS_SHA_384: { kind: 'rsa-pss', hash: 'sha384' },
  RSASSA_PSS_SHA_512: { kind: 'rsa-pss', hash: 'sha512' },
  RSASSA_PKCS1_V1_5_SHA_256: { kind: 'rsa-pkcs1', hash: 'sha256' },
  RSASSA_PKCS1_V1_5_SHA_384: { kind: 'rsa-pkcs1', hash: 'sha384' },
  RSASSA_PKCS1_V1_5_SHA_512: { kind: 'rsa-pkcs1', hash: 'sha512' },
  ECDSA_SHA_256: { kind: 'ecdsa', hash: 'sha256', curve: 'P-256' },
  ECDSA_SHA_384: { kind: 'ecdsa', hash: 'sha384', curve: 'P-384' },
  ECDSA_SHA_512: { kind: 'ecdsa', hash: 'sha512', curve: 'P-521' },
  ED25519_SHA_512: { kind: 'ed25519', hash: null },
} satisfies Record<string, SigningAlgorithmInfo>);

export type AwsSigningAlgorithm = keyof typeof SIGNING_ALGORITHMS;

/** Every signing algorithm name AWS defines, including the ones the emulator refuses. */
export const KNOWN_UNIMPLEMENTED_SIGNING_ALGORITHMS: readonly string[] = ['ED25519_PH_SHA_512', 'SM2DSA', 'ML_DSA_SHAKE_256'];

export function isAwsSigningAlgorithm(value: unknown): value is AwsSigningAlgorithm {
  return typeof value === 'string' && Object.hasOwn(SIGNING_ALGORITHMS, value);
}

/** The signing algorithms DescribeKey lists for a key spec. */
export function signingAlgorithmsFor(spec: AwsKeySpec): AwsSigningAlgorithm[] {
  const info = KEY_SPECS[spec];
  if (info.rsaBits) {
    return ['RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512', 'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512'];
  }
  if (info.ed25519) return ['ED25519_SHA_512'];
  if (info.curve === 'P-256') return ['ECDSA_SHA_256'];
  if (info.curve === 'P-384') return ['ECDSA_SHA_384'];
  if (info.curve === 'P-521') return ['ECDSA_SHA_512'];
  return [];
}

export type AwsEncryptionAlgorithm = 'SYMMETRIC_DEFAULT' | 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256';

export function encryptionAlgorithmsFor(spec: AwsKeySpec): AwsEncryptionAlgorithm[] {
  if (spec === 'SYMMETRIC_DEFAULT') return ['SYMMETRIC_DEFAULT'];
  if (KEY_SPECS[spec].rsaBits) return ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];
  return [];
}
