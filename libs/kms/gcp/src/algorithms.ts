/**
 * How fleetkey key specs and signature algorithms map onto Cloud KMS CryptoKeyVersionAlgorithms
 * (https://cloud.google.com/kms/docs/algorithms). Cloud KMS has no P-521 signing key, so
 * ECDSA_P521 is refused (never substituted). A Cloud KMS key version signs with exactly one
 * algorithm, fixed at creation.
 *
 * Trust boundary: none (tables).
 */
import type { SignatureAlgorithm } from '@fleetkey/crypto';
import type { KmsKeySpec } from '@fleetkey/kms-core';

export const GCP_SUPPORTED_KEY_SPECS: readonly KmsKeySpec[] = Object.freeze(['AES_256', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECDSA_P256', 'ECDSA_P384', 'ED25519']);

export interface GcpAlgorithm {
  readonly spec: KmsKeySpec;
  /** undefined for the symmetric algorithm. */
  readonly signature?: SignatureAlgorithm;
  /** Digest AsymmetricSign expects, or undefined when it takes the message (Ed25519). */
  readonly digest?: 'sha256' | 'sha384';
}

const TABLE: Readonly<Record<string, GcpAlgorithm>> = Object.freeze({
  GOOGLE_SYMMETRIC_ENCRYPTION: { spec: 'AES_256' },
  EC_SIGN_P256_SHA256: { spec: 'ECDSA_P256', signature: 'ECDSA_P256_SHA256', digest: 'sha256' },
  EC_SIGN_P384_SHA384: { spec: 'ECDSA_P384', signature: 'ECDSA_P384_SHA384', digest: 'sha384' },
  EC_SIGN_ED25519: { spec: 'ED25519', signature: 'ED25519' },
  RSA_SIGN_PKCS1_2048_SHA256: { spec: 'RSA_2048', signature: 'RSA_PKCS1_SHA256', digest: 'sha256' },
  RSA_SIGN_PKCS1_3072_SHA256: { spec: 'RSA_3072', signature: 'RSA_PKCS1_SHA256', digest: 'sha256' },
  RSA_SIGN_PKCS1_4096_SHA256: { spec: 'RSA_4096', signature: 'RSA_PKCS1_SHA256', digest: 'sha256' },
  RSA_SIGN_PSS_2048_SHA256: { spec: 'RSA_2048', signature: 'RSA_PSS_SHA256', digest: 'sha256' },
  RSA_SIGN_PSS_3072_SHA256: { spec: 'RSA_3072', signature: 'RSA_PSS_SHA256', digest: 'sha256' },
  RSA_SIGN_PSS_4096_SHA256: { spec: 'RSA_4096', signature: 'RSA_PSS_SHA256', digest: 'sha256' },
});

/** The fleetkey view of a Cloud KMS algorithm name, or undefined for one fleetkey does not use. */
export function fromGcpAlgorithm(algorithm: string | null | undefined): GcpAlgorithm | undefined {
  if (typeof algorithm !== 'string' || !Object.prototype.hasOwnProperty.call(TABLE, algorithm)) return undefined;
  return TABLE[algorithm];
}

/** The Cloud KMS algorithm for a new key of `spec`, or undefined when Cloud KMS has none. */
export function toGcpAlgorithm(spec: KmsKeySpec, rsaPadding: 'PKCS1' | 'PSS'): string | undefined {
  switch (spec) {
    case 'AES_256':
      return 'GOOGLE_SYMMETRIC_ENCRYPTION';
    case 'ECDSA_P256':
      return 'EC_SIGN_P256_SHA256';
    case 'ECDSA_P384':
      return 'EC_SIGN_P384_SHA384';
    case 'ED25519':
      return 'EC_SIGN_ED25519';
    case 'RSA_2048':
    case 'RSA_3072':
    case 'RSA_4096':
      return `RSA_SIGN_${rsaPadding}_${spec.slice(4)}_SHA256`;
    default:
      return undefined;
  }
}
