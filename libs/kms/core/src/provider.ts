/**
 * The KMS provider port: the one interface every adapter (local, aws, azure, gcp, vault) implements
 * and every decorator (retry, timeout, cache, circuit breaker, failover, metrics) wraps. Data and
 * types only, plus the small tables that tie key specs to purposes.
 *
 * Trust boundary: a `KmsProvider` is the edge between fleetkey and a key service. Private and
 * master keys never cross it: callers get envelopes, signatures and public keys back. Data-key
 * plaintext (`DataKey.plaintext`) is the one secret that does cross, and the caller owns and
 * zeroizes it.
 */
import type { KeyObject } from 'node:crypto';
import type { SignatureAlgorithm } from '@fleetkey/crypto';

export type KmsProviderName = 'local' | 'aws' | 'azure' | 'gcp' | 'vault';

/** Every provider name, in the order detection prefers them. */
export const KMS_PROVIDER_NAMES: readonly KmsProviderName[] = Object.freeze(['local', 'aws', 'azure', 'gcp', 'vault']);

export type KmsKeySpec = 'AES_256' | 'RSA_2048' | 'RSA_3072' | 'RSA_4096' | 'ECDSA_P256' | 'ECDSA_P384' | 'ECDSA_P521' | 'ED25519';

/** Every key spec of the port (an adapter supports a subset, `supportedKeySpecs`). */
export const KMS_KEY_SPECS: readonly KmsKeySpec[] = Object.freeze([
  'AES_256',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECDSA_P256',
  'ECDSA_P384',
  'ECDSA_P521',
  'ED25519',
]);

/** AES_256 is encrypt; asymmetric specs are sign (RSA may also be 'wrap' for Azure internally — not exposed). */
export type KmsKeyPurpose = 'encrypt' | 'sign';

/** Same rules as EnvelopeContext (at most 32 entries, keys 1..64 UTF-8 bytes, values 0..1024). */
export type KmsContext = Readonly<Record<string, string>>;

export interface KmsKeyDescription {
  readonly provider: string;
  readonly keyId: string;
  readonly spec: KmsKeySpec;
  readonly purpose: KmsKeyPurpose;
  readonly enabled: boolean;
  /** 0 when the vendor does not number versions (AWS). */
  readonly currentVersion: number;
  readonly createdAt?: Date;
  readonly tags: Readonly<Record<string, string>>;
}

export interface DataKey {
  /** 32 bytes; the caller zeroizes it. */
  readonly plaintext: Uint8Array;
  /** Envelope v1 (KMS_AES_256_GCM) whose payload is `plaintext`. */
  readonly wrapped: Uint8Array;
}

export interface KmsSignature {
  /** DER `Ecdsa-Sig-Value` for ECDSA (RFC 3279 §2.2.3). */
  readonly signature: Uint8Array;
  readonly algorithm: SignatureAlgorithm;
  readonly keyVersion: number;
}

export interface KmsHealth {
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly detail?: string;
}

export interface KmsCreateKeyParams {
  readonly spec: KmsKeySpec;
  readonly tags?: Record<string, string>;
  readonly description?: string;
}

export interface KmsListKeysFilter {
  readonly tags?: Record<string, string>;
  readonly purpose?: KmsKeyPurpose;
  readonly limit?: number;
}

export interface KmsGenerateDataKeyParams {
  readonly keyId: string;
  readonly context?: KmsContext;
}

export interface KmsWrapParams {
  readonly keyId: string;
  readonly plaintext: Uint8Array;
  readonly context?: KmsContext;
}

export interface KmsUnwrapParams {
  readonly envelope: Uint8Array;
  readonly context?: KmsContext;
}

export interface KmsSignParams {
  readonly keyId: string;
  /** The message; the adapter hashes it with the algorithm's digest where the vendor wants one. */
  readonly data: Uint8Array;
  readonly algorithm?: SignatureAlgorithm;
}

export interface KmsVerifyParams {
  readonly keyId: string;
  readonly data: Uint8Array;
  readonly signature: Uint8Array;
  readonly algorithm?: SignatureAlgorithm;
  readonly keyVersion?: number;
}

export interface KmsGetPublicKeyParams {
  readonly keyId: string;
  readonly keyVersion?: number;
}

export interface KmsProvider {
  /** 'aws', 'local', … (decorators keep the inner name). */
  readonly name: string;
  readonly supportedKeySpecs: readonly KmsKeySpec[];
  createKey(params: { spec: KmsKeySpec; tags?: Record<string, string>; description?: string }): Promise<KmsKeyDescription>;
  describeKey(keyId: string): Promise<KmsKeyDescription>;
  listKeys(filter?: { tags?: Record<string, string>; purpose?: KmsKeyPurpose; limit?: number }): Promise<KmsKeyDescription[]>;
  /** New primary version; old versions still unwrap / verify. */
  rotateKey(keyId: string): Promise<KmsKeyDescription>;
  generateDataKey(params: { keyId: string; context?: KmsContext }): Promise<DataKey>;
  /** Returns envelope v1. */
  wrap(params: { keyId: string; plaintext: Uint8Array; context?: KmsContext }): Promise<Uint8Array>;
  /** Key id + version come from the envelope. */
  unwrap(params: { envelope: Uint8Array; context?: KmsContext }): Promise<Uint8Array>;
  sign(params: { keyId: string; data: Uint8Array; algorithm?: SignatureAlgorithm }): Promise<KmsSignature>;
  verify(params: { keyId: string; data: Uint8Array; signature: Uint8Array; algorithm?: SignatureAlgorithm; keyVersion?: number }): Promise<boolean>;
  getPublicKey(params: { keyId: string; keyVersion?: number }): Promise<KeyObject>;
  health(): Promise<KmsHealth>;
  close(): Promise<void>;
}

/** The method names of the port (what decorators and metrics call "operations"). */
export type KmsProviderMethod =
  | 'createKey'
  | 'describeKey'
  | 'listKeys'
  | 'rotateKey'
  | 'generateDataKey'
  | 'wrap'
  | 'unwrap'
  | 'sign'
  | 'verify'
  | 'getPublicKey'
  | 'health'
  | 'close';

export const KMS_PROVIDER_METHODS: readonly KmsProviderMethod[] = Object.freeze([
  'createKey',
  'describeKey',
  'listKeys',
  'rotateKey',
  'generateDataKey',
  'wrap',
  'unwrap',
  'sign',
  'verify',
  'getPublicKey',
  'health',
  'close',
]);

/** Data keys and CEKs are 256-bit (AES-256-GCM). */
export const DATA_KEY_LENGTH = 32;

export function isKmsKeySpec(value: unknown): value is KmsKeySpec {
  return typeof value === 'string' && (KMS_KEY_SPECS as readonly string[]).includes(value);
}

export function isKmsProviderName(value: unknown): value is KmsProviderName {
  return typeof value === 'string' && (KMS_PROVIDER_NAMES as readonly string[]).includes(value);
}

/** AES_256 encrypts; every asymmetric spec signs. */
export function purposeOfSpec(spec: KmsKeySpec): KmsKeyPurpose {
  return spec === 'AES_256' ? 'encrypt' : 'sign';
}

/**
 * The signature algorithm a provider uses when `sign` is called without one: ECDSA with the
 * curve's own hash (FIPS 186-5 / RFC 5758), RSASSA-PKCS1-v1_5 SHA-256 for RSA (what X.509 issuance
 * expects by default), Ed25519 for Ed25519. Undefined for AES_256 (it cannot sign).
 */
export function defaultSignatureAlgorithmOfSpec(spec: KmsKeySpec): SignatureAlgorithm | undefined {
  switch (spec) {
    case 'AES_256':
      return undefined;
    case 'RSA_2048':
    case 'RSA_3072':
    case 'RSA_4096':
      return 'RSA_PKCS1_SHA256';
    case 'ECDSA_P256':
      return 'ECDSA_P256_SHA256';
    case 'ECDSA_P384':
      return 'ECDSA_P384_SHA384';
    case 'ECDSA_P521':
      return 'ECDSA_P521_SHA512';
    case 'ED25519':
      return 'ED25519';
  }
}
