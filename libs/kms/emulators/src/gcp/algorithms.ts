/**
 * The CryptoKeyVersionAlgorithms the emulator implements, with what each needs: purpose, key
 * generation and the digest AsymmetricSign expects (https://cloud.google.com/kms/docs/algorithms).
 *
 * Trust boundary: none (constants).
 */
import type { KeyAlgorithm } from '@fleetkey/key-types';

export type GcpPurpose = 'ENCRYPT_DECRYPT' | 'ASYMMETRIC_SIGN';

export interface GcpAlgorithmInfo {
  readonly purpose: GcpPurpose;
  /** Key generation (fleetkey KeyAlgorithm), or 'AES_256_GCM' for the symmetric key. */
  readonly keyAlgorithm: KeyAlgorithm;
  readonly signing?: { readonly scheme: 'ecdsa' | 'pkcs1' | 'pss' | 'ed25519'; readonly digest?: 'sha256' | 'sha384' };
}

export const GCP_ALGORITHMS: Readonly<Record<string, GcpAlgorithmInfo>> = Object.freeze({
  GOOGLE_SYMMETRIC_ENCRYPTION: { purpose: 'ENCRYPT_DECRYPT', keyAlgorithm: 'AES_256_GCM' },
  EC_SIGN_P256_SHA256: { purpose: 'ASYMMETRIC_SIGN', keyAlgorithm: 'ECDSA_P256', signing: { scheme: 'ecdsa', digest: 'sha256' } },
  EC_SIGN_P384_SHA384: { purpose: 'ASYMMETRIC_SIGN', keyAlgorithm: 'ECDSA_P384', signing: { scheme: 'ecdsa', digest: 'sha384' } },
  EC_SIGN_ED25519: { purpose: 'ASYMMETRIC_SIGN', keyAlgorithm: 'ED25519', signing: { scheme: 'ed25519' } },
  RSA_SIGN_PKCS1_2048_SHA256: { purpose: 'ASYMMETRIC_SIGN', keyAlgorithm: 'RSA_2048', signing: { scheme: 'pkcs1', digest: 'sha256' } },
  RSA_SIGN_PKCS1_3072_SHA256: { purpose: 'ASYMMETRIC_SIGN', keyAlgorithm: 'RSA_3072', signing: { scheme: 'pkcs1', digest: 'sha256' } },
  RSA_SIGN_PKCS1_4096_SHA256: { purpose: 'ASYMMETRIC_SIGN', keyAlgorithm: 'RSA_4096', signing: { scheme: 'pkcs1', digest: 'sha256' } },
  RSA_SIGN_PSS_2048_SHA256: { purpose: 'ASYMMETRIC_SIGN', keyAlgorithm: 'RSA_2048', signing: { scheme: 'pss', digest: 'sha256' } },
  RSA_SIGN_PSS_3072_SHA256: { purpose: 'ASYMMETRIC_SIGN', keyAlgorithm: 'RSA_3072', signing: { scheme: 'pss', digest: 'sha256' } },
  RSA_SIGN_PSS_4096_SHA256: { purpose: 'ASYMMETRIC_SIGN', keyAlgorithm: 'RSA_4096', signing: { scheme: 'pss', digest: 'sha256' } },
});

export function gcpAlgorithmInfo(algorithm: string): GcpAlgorithmInfo | undefined {
  return Object.prototype.hasOwnProperty.call(GCP_ALGORITHMS, algorithm) ? GCP_ALGORITHMS[algorithm] : undefined;
}
