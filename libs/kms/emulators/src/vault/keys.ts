/**
 * Transit named keys as the emulator keeps them: a type, numbered versions (1, 2, …) each with real
 * key material, and the policy fields Vault exposes (`min_decryption_version`, `deletion_allowed`,
 * …). `readKey` renders a key the way `GET /transit/keys/:name` does; private material never
 * leaves this module except to the crypto in operations.ts.
 *
 * Trust boundary: test and demo tooling only; the material is real but lives in process memory.
 */
import { generateKeyPair, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { NistCurve as EcCurve } from '../digest-signing/index.js';

export const TRANSIT_KEY_TYPES = [
  'aes256-gcm96',
  'rsa-2048',
  'rsa-3072',
  'rsa-4096',
  'ecdsa-p256',
  'ecdsa-p384',
  'ecdsa-p521',
  'ed25519',
] as const;
export type TransitKeyType = (typeof TRANSIT_KEY_TYPES)[number];

/** Vault's framework.GenericNameRegex for a key name. */
export const KEY_NAME_PATTERN = /^\w(?:[\w\-.@]*\w)?$/;
/** Bound on how many versions one key may accumulate in the emulator. */
export const MAX_KEY_VERSIONS = 1_000;
/** AES-256 key length in bytes. */
export const AES_KEY_LENGTH = 32;

export interface KeyVersion {
  readonly createdAt: Date;
  /** AES key bytes (aes256-gcm96 only). */
  readonly secret?: Buffer;
  readonly privateKey?: KeyObject;
  readonly publicKey?: KeyObject;
}

export interface TransitKey {
  readonly name: string;
  readonly type: TransitKeyType;
  readonly versions: Map<number, KeyVersion>;
  latestVersion: number;
  minDecryptionVersion: number;
  minEncryptionVersion: number;
  deletionAllowed: boolean;
}

export function isTransitKeyType(value: unknown): value is TransitKeyType {
  return typeof value === 'string' && (TRANSIT_KEY_TYPES as readonly string[]).includes(value);
}

export function isSymmetric(type: TransitKeyType): boolean {
  return type === 'aes256-gcm96';
}

export function isRsa(type: TransitKeyType): boolean {
  return type.startsWith('rsa-');
}

export function ecCurveOf(type: TransitKeyType): EcCurve | undefined {
  switch (type) {
    case 'ecdsa-p256':
      return 'P-256';
    case 'ecdsa-p384':
      return 'P-384';
    case 'ecdsa-p521':
      return 'P-521';
    default:
      return undefined;
  }
}

/** keysutil: KeyType.EncryptionSupported / DecryptionSupported. */
export function supportsEncryption(type: TransitKeyType): boolean {
  return isSymmetric(type) || isRsa(type);
}

/** keysutil: KeyType.SigningSupported. */
export function supportsSigning(type: TransitKeyType): boolean {
  return !isSymmetric(type);
}

function pair(type: 'rsa' | 'ec' | 'ed25519', options: object): Promise<KeyVersion> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, publicKey: KeyObject, privateKey: KeyObject): void => {
      if (error) reject(error);
      else resolve({ createdAt: new Date(), privateKey, publicKey });
    };
    // The overloads of generateKeyPair differ per type; one cast keeps the three calls together.
    (generateKeyPair as unknown as (t: string, o: object, cb: typeof done) => void)(type, options, done);
  });
}

/** Fresh material for a new version, made the way Vault makes it (keysutil RotateInMemory). */
export async function generateVersion(type: TransitKeyType): Promise<KeyVersion> {
  switch (type) {
    case 'aes256-gcm96':
      return { createdAt: new Date(), secret: randomBytes(AES_KEY_LENGTH) };
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return pair('rsa', { modulusLength: Number(type.slice(4)), publicExponent: 0x10001 });
    case 'ecdsa-p256':
      return pair('ec', { namedCurve: 'prime256v1' });
    case 'ecdsa-p384':
      return pair('ec', { namedCurve: 'secp384r1' });
    case 'ecdsa-p521':
      return pair('ec', { namedCurve: 'secp521r1' });
    case 'ed25519':
      return pair('ed25519', {});
  }
}

function publicKeyText(type: TransitKeyType, version: KeyVersion): string {
  if (!version.publicKey) return '';
  if (type === 'ed25519') {
    // Vault formats Ed25519 public keys as base64 of the raw 32 bytes, not PEM.
    const jwk = version.publicKey.export({ format: 'jwk' });
    return Buffer.from(String(jwk.x), 'base64url').toString('base64');
  }
  return String(version.publicKey.export({ format: 'pem', type: 'spki' }));
}

function curveLabel(type: TransitKeyType): string {
  const curve = ecCurveOf(type);
  if (curve) return curve;
  return type;
}

/** The `data` of `GET /transit/keys/:name`. */
export function readKey(key: TransitKey): Record<string, unknown> {
  const keys: Record<string, unknown> = {};
  for (const [number, version] of key.versions) {
    if (number < key.minDecryptionVersion) continue; // archived versions are not listed
    keys[String(number)] = isSymmetric(key.type)
      ? Math.floor(version.createdAt.getTime() / 1000)
      : {
          certificate_chain: '',
          creation_time: version.createdAt.toISOString(),
          name: curveLabel(key.type),
          public_key: publicKeyText(key.type, version),
        };
  }
  return {
    name: key.name,
    type: key.type,
    keys,
    latest_version: key.latestVersion,
    min_available_version: 0,
    min_decryption_version: key.minDecryptionVersion,
    min_encryption_version: key.minEncryptionVersion,
    deletion_allowed: key.deletionAllowed,
    exportable: false,
    allow_plaintext_backup: false,
    derived: false,
    convergent_encryption: false,
    auto_rotate_period: 0,
    imported_key: false,
    supports_encryption: supportsEncryption(key.type),
    supports_decryption: supportsEncryption(key.type),
    supports_derivation: isSymmetric(key.type) || key.type === 'ed25519',
    supports_signing: supportsSigning(key.type),
  };
}
