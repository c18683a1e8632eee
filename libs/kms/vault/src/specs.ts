/**
 * Key specs of the port and the Transit key types that hold them, and how each signature
 * algorithm is asked of Vault (`hash_algorithm`, `signature_algorithm`, `salt_length`, and
 * whether the adapter sends a digest with `prehashed: true` or, for Ed25519, the message).
 *
 * Trust boundary: none; constants only.
 */
import type { SignatureAlgorithm } from '@fleetkey/crypto';
import type { KmsKeySpec } from '@fleetkey/kms-core';

export type VaultKeyType = 'aes256-gcm96' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096' | 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521' | 'ed25519';

export const VAULT_KEY_TYPES: Readonly<Record<KmsKeySpec, VaultKeyType>> = Object.freeze({
  AES_256: 'aes256-gcm96',
  RSA_2048: 'rsa-2048',
  RSA_3072: 'rsa-3072',
  RSA_4096: 'rsa-4096',
  ECDSA_P256: 'ecdsa-p256',
  ECDSA_P384: 'ecdsa-p384',
  ECDSA_P521: 'ecdsa-p521',
  ED25519: 'ed25519',
});

/** Vault Transit has every spec of the port. */
export const VAULT_SUPPORTED_KEY_SPECS: readonly KmsKeySpec[] = Object.freeze(Object.keys(VAULT_KEY_TYPES) as KmsKeySpec[]);

/** The spec of a Transit key type, or undefined for types the port does not use (hmac, chacha20, …). */
export function specOfVaultType(type: unknown): KmsKeySpec | undefined {
  for (const [spec, vaultType] of Object.entries(VAULT_KEY_TYPES)) {
    if (vaultType === type) return spec as KmsKeySpec;
  }
  return undefined;
}

export interface VaultSigningParams {
  /** node:crypto digest name, or null: Ed25519 is signed over the message (Vault CE signs pure Ed25519). */
  readonly digest: 'sha256' | 'sha384' | 'sha512' | null;
  readonly body: Readonly<Record<string, unknown>>;
}

/** How each signature algorithm is requested from /transit/sign (always DER / asn1 marshaling). */
export const VAULT_SIGNING: Readonly<Record<SignatureAlgorithm, VaultSigningParams>> = Object.freeze({
  ECDSA_P256_SHA256: { digest: 'sha256', body: { hash_algorithm: 'sha2-256', prehashed: true, marshaling_algorithm: 'asn1' } },
  ECDSA_P384_SHA384: { digest: 'sha384', body: { hash_algorithm: 'sha2-384', prehashed: true, marshaling_algorithm: 'asn1' } },
  ECDSA_P521_SHA512: { digest: 'sha512', body: { hash_algorithm: 'sha2-512', prehashed: true, marshaling_algorithm: 'asn1' } },
  RSA_PKCS1_SHA256: { digest: 'sha256', body: { hash_algorithm: 'sha2-256', prehashed: true, signature_algorithm: 'pkcs1v15', marshaling_algorithm: 'asn1' } },
  // salt_length "hash": a 32-byte salt, what @fleetkey/crypto verifies (RFC 8017 §9.1).
  RSA_PSS_SHA256: { digest: 'sha256', body: { hash_algorithm: 'sha2-256', prehashed: true, signature_algorithm: 'pss', salt_length: 'hash', marshaling_algorithm: 'asn1' } },
  ED25519: { digest: null, body: { marshaling_algorithm: 'asn1' } },
});
