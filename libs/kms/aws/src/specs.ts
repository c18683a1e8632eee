/**
 * How the port's key specs and signature algorithms map to AWS KMS names
 * (https://docs.aws.amazon.com/kms/latest/developerguide/symm-asymm-choose-key-spec.html).
 * Ed25519 is ECC_NIST_EDWARDS25519 with ED25519_SHA_512 over the RAW message (AWS added it in 2025;
 * @aws-sdk/client-kms 3.1164 has the enum). Every other algorithm is sent as a DIGEST that the
 * adapter computes, so messages of any size (up to the crypto bound) can be signed.
 *
 * Trust boundary: none; constants and pure lookups.
 */
import type { KeySpec, KeyUsageType, SigningAlgorithmSpec } from '@aws-sdk/client-kms';
import type { SignatureAlgorithm } from '@fleetkey/crypto';
import type { KmsKeySpec } from '@fleetkey/kms-core';

export interface AwsKeySpecMapping {
  readonly keySpec: KeySpec;
  readonly keyUsage: KeyUsageType;
}

export const AWS_KEY_SPECS: Readonly<Record<KmsKeySpec, AwsKeySpecMapping>> = Object.freeze({
  AES_256: { keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT' },
  RSA_2048: { keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' },
  RSA_3072: { keySpec: 'RSA_3072', keyUsage: 'SIGN_VERIFY' },
  RSA_4096: { keySpec: 'RSA_4096', keyUsage: 'SIGN_VERIFY' },
  ECDSA_P256: { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' },
  ECDSA_P384: { keySpec: 'ECC_NIST_P384', keyUsage: 'SIGN_VERIFY' },
  ECDSA_P521: { keySpec: 'ECC_NIST_P521', keyUsage: 'SIGN_VERIFY' },
  ED25519: { keySpec: 'ECC_NIST_EDWARDS25519', keyUsage: 'SIGN_VERIFY' },
});

/** Every spec of the port: AWS KMS has them all. */
export const AWS_SUPPORTED_KEY_SPECS: readonly KmsKeySpec[] = Object.freeze(Object.keys(AWS_KEY_SPECS) as KmsKeySpec[]);

/**
 * The port spec of an AWS key, or undefined for keys the port does not model (HMAC, SM2, ML-DSA,
 * ECC_SECG_P256K1, RSA encryption keys, key-agreement keys).
 */
export function kmsSpecOf(keySpec: string | undefined, keyUsage: string | undefined): KmsKeySpec | undefined {
  for (const [spec, mapping] of Object.entries(AWS_KEY_SPECS) as [KmsKeySpec, AwsKeySpecMapping][]) {
    if (mapping.keySpec === keySpec && mapping.keyUsage === keyUsage) return spec;
  }
  return undefined;
}

export interface AwsSigningMapping {
  readonly algorithm: SigningAlgorithmSpec;
  /** The digest the adapter computes and sends as MessageType DIGEST; null = send RAW. */
  readonly digest: 'sha256' | 'sha384' | 'sha512' | null;
}

export const AWS_SIGNING_ALGORITHMS: Readonly<Record<SignatureAlgorithm, AwsSigningMapping>> = Object.freeze({
  ECDSA_P256_SHA256: { algorithm: 'ECDSA_SHA_256', digest: 'sha256' },
  ECDSA_P384_SHA384: { algorithm: 'ECDSA_SHA_384', digest: 'sha384' },
  ECDSA_P521_SHA512: { algorithm: 'ECDSA_SHA_512', digest: 'sha512' },
  RSA_PKCS1_SHA256: { algorithm: 'RSASSA_PKCS1_V1_5_SHA_256', digest: 'sha256' },
  // AWS KMS PSS uses MGF1 with the same hash and a salt as long as the digest (32 bytes), which is
  // RSA_PSS_SALT_LENGTH in @fleetkey/crypto, so its signatures verify locally.
  RSA_PSS_SHA256: { algorithm: 'RSASSA_PSS_SHA_256', digest: 'sha256' },
  // Pure Ed25519 (RFC 8032) hashes internally: AWS requires MessageType RAW for ED25519_SHA_512.
  ED25519: { algorithm: 'ED25519_SHA_512', digest: null },
});

/** AWS: Sign/Verify take at most 4096 bytes of RAW message (Ed25519 here). */
export const MAX_AWS_RAW_MESSAGE = 4096;
