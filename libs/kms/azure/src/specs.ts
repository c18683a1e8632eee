/**
 * How the port's key specs and signature algorithms map onto Azure Key Vault. Standard Key Vault
 * has no symmetric keys (oct keys exist only in Managed HSM), so `AES_256` — the `encrypt` purpose —
 * is served by an RSA-3072 key restricted to wrapKey / unwrapKey and used with RSA-OAEP-256 to
 * wrap each envelope's 32-byte content key; the payload itself is AES-256-GCM as in every KMS
 * envelope. Ed25519 does not exist in Key Vault. ECDSA signatures come back as raw r‖s (JWA
 * RFC 7518 §3.4) and are converted to DER.
 *
 * Trust boundary: none; tables and pure functions over SDK values.
 */
import type { SignatureAlgorithm } from '@fleetkey/crypto';
import type { KmsKeySpec } from '@fleetkey/kms-core';

export interface AzureKeyShape {
  readonly kty: 'RSA' | 'EC';
  readonly keySize?: number;
  readonly curve?: 'P-256' | 'P-384' | 'P-521';
  readonly keyOps: readonly ('wrapKey' | 'unwrapKey' | 'sign' | 'verify')[];
}

/** The wrap algorithm of the `encrypt` purpose: RSAES-OAEP with SHA-256 and MGF1-SHA-256 (RFC 8017 §7.1). */
export const AZURE_WRAP_ALGORITHM = 'RSA-OAEP-256';

export const AZURE_KEY_SHAPES: Readonly<Partial<Record<KmsKeySpec, AzureKeyShape>>> = Object.freeze({
  AES_256: { kty: 'RSA', keySize: 3072, keyOps: ['wrapKey', 'unwrapKey'] },
  RSA_2048: { kty: 'RSA', keySize: 2048, keyOps: ['sign', 'verify'] },
  RSA_3072: { kty: 'RSA', keySize: 3072, keyOps: ['sign', 'verify'] },
  RSA_4096: { kty: 'RSA', keySize: 4096, keyOps: ['sign', 'verify'] },
  ECDSA_P256: { kty: 'EC', curve: 'P-256', keyOps: ['sign', 'verify'] },
  ECDSA_P384: { kty: 'EC', curve: 'P-384', keyOps: ['sign', 'verify'] },
  ECDSA_P521: { kty: 'EC', curve: 'P-521', keyOps: ['sign', 'verify'] },
});

/** Every port spec but Ed25519, which Key Vault does not offer. */
export const AZURE_SUPPORTED_KEY_SPECS: readonly KmsKeySpec[] = Object.freeze(Object.keys(AZURE_KEY_SHAPES) as KmsKeySpec[]);

/** JWA names of the signature algorithms (RFC 7518 §3.1) Key Vault signs digests with. */
export const AZURE_SIGNATURE_ALGORITHMS: Readonly<Partial<Record<SignatureAlgorithm, { alg: string; hash: 'sha256' | 'sha384' | 'sha512' }>>> =
  Object.freeze({
    ECDSA_P256_SHA256: { alg: 'ES256', hash: 'sha256' },
    ECDSA_P384_SHA384: { alg: 'ES384', hash: 'sha384' },
    ECDSA_P521_SHA512: { alg: 'ES512', hash: 'sha512' },
    RSA_PKCS1_SHA256: { alg: 'RS256', hash: 'sha256' },
    RSA_PSS_SHA256: { alg: 'PS256', hash: 'sha256' },
  });

/** Tag holding the port spec a key was created for (so listing can filter by purpose without a GET per key). */
export const SPEC_TAG = 'fleetkey-spec';
/** Tag numbering each version 1, 2, 3 … in creation order (Key Vault versions are opaque ids). */
export const VERSION_TAG = 'fleetkey-version';
/** Tags the adapter owns; they never appear in a description's `tags` and callers may not set them. */
export const RESERVED_TAGS: readonly string[] = Object.freeze([SPEC_TAG, VERSION_TAG]);

/**
 * The port spec of a Key Vault key, from what the service reports: key type, modulus size or
 * curve, and whether its operations are wrap (the `encrypt` purpose) or sign. Undefined for keys
 * fleetkey cannot use (oct, P-256K, RSA-1024, …).
 */
export function specOfAzureKey(key: {
  readonly kty?: string;
  readonly modulusBytes?: number;
  readonly crv?: string;
  readonly keyOps?: readonly string[];
}): KmsKeySpec | undefined {
  const ops = key.keyOps ?? [];
  if (key.kty === 'RSA' || key.kty === 'RSA-HSM') {
    const wraps = ops.includes('wrapKey') || ops.includes('unwrapKey');
    if (wraps && !ops.includes('sign')) return key.modulusBytes === 384 ? 'AES_256' : undefined;
    return ({ 256: 'RSA_2048', 384: 'RSA_3072', 512: 'RSA_4096' } as Record<number, KmsKeySpec>)[key.modulusBytes ?? 0];
  }
  if (key.kty === 'EC' || key.kty === 'EC-HSM') {
    return ({ 'P-256': 'ECDSA_P256', 'P-384': 'ECDSA_P384', 'P-521': 'ECDSA_P521' } as Record<string, KmsKeySpec>)[key.crv ?? ''];
  }
  return undefined;
}
