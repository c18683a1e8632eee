/**
 * Reading Vault's key answers: `GET /transit/keys/:name` data into a KmsKeyDescription, public
 * keys (PEM for RSA / ECDSA, base64 raw for Ed25519) into KeyObjects, and `vault:vN:…` strings
 * into their version and body.
 *
 * Trust boundary: the answers come from Vault over the network; shapes are checked and anything
 * unexpected is a ProviderUnavailable (the service answered something that is not Vault).
 */
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { KmsKeyDescription, KmsKeySpec } from '@fleetkey/kms-core';
import { ProviderUnavailable, purposeOfSpec } from '@fleetkey/kms-core';
import { VAULT_PROVIDER_NAME } from './errors.js';
import { specOfVaultType } from './specs.js';

/** Largest version number accepted from Vault (keeps `vault:vN:` parsing bounded). */
export const MAX_KEY_VERSION = 1_000_000_000;
/** Ed25519 public keys are 32 bytes (RFC 8032 §5.1.5). */
export const ED25519_PUBLIC_KEY_LENGTH = 32;

export interface VaultKeyInfo {
  readonly name: string;
  readonly spec: KmsKeySpec;
  readonly latestVersion: number;
  readonly minDecryptionVersion: number;
  readonly createdAt: Date | undefined;
  /** version -> public key text (asymmetric keys only). */
  readonly publicKeys: ReadonlyMap<number, string>;
}

function malformed(keyId: string, operation: 'describeKey' | 'getPublicKey' | 'sign' | 'rotateKey' | 'verify' | 'listKeys'): ProviderUnavailable {
  return new ProviderUnavailable({ provider: VAULT_PROVIDER_NAME, keyId, operation, detail: 'unexpected answer shape from vault' });
}

/**
 * Parses the data of a key read.
 * @throws ProviderUnavailable when the answer is not a Transit key of a type the port knows.
 */
export function parseKeyData(keyId: string, data: Record<string, unknown> | undefined, operation: Parameters<typeof malformed>[1]): VaultKeyInfo {
  const spec = specOfVaultType(data?.type);
  const latest = data?.latest_version;
  const keys = data?.keys;
  if (!data || !spec || typeof latest !== 'number' || !Number.isSafeInteger(latest) || latest < 1 || typeof keys !== 'object' || keys === null) {
    throw malformed(keyId, operation);
  }
  const publicKeys = new Map<number, string>();
  let createdAt: Date | undefined;
  for (const [version, entry] of Object.entries(keys as Record<string, unknown>)) {
    const number = Number(version);
    if (!Number.isSafeInteger(number) || number < 1 || number > MAX_KEY_VERSION) continue;
    if (typeof entry === 'number' && number === 1) createdAt = new Date(entry * 1000);
    if (typeof entry === 'object' && entry !== null) {
      const { public_key: publicKey, creation_time: creation } = entry as { public_key?: unknown; creation_time?: unknown };
      if (typeof publicKey === 'string') publicKeys.set(number, publicKey);
      if (number === 1 && typeof creation === 'string') createdAt = new Date(creation);
    }
  }
  const minDecryption = typeof data.min_decryption_version === 'number' ? data.min_decryption_version : 1;
  return { name: keyId, spec, latestVersion: latest, minDecryptionVersion: minDecryption, createdAt, publicKeys };
}

export function describe(info: VaultKeyInfo): KmsKeyDescription {
  return Object.freeze({
    provider: VAULT_PROVIDER_NAME,
    keyId: info.name,
    spec: info.spec,
    purpose: purposeOfSpec(info.spec),
    // Transit keys cannot be disabled; old versions are retired with min_decryption_version instead.
    enabled: true,
    currentVersion: info.latestVersion,
    ...(info.createdAt && !Number.isNaN(info.createdAt.getTime()) ? { createdAt: info.createdAt } : {}),
    // Vault Transit keeps no tags or labels on keys.
    tags: Object.freeze({}),
  });
}

/**
 * The KeyObject of a Vault public key text.
 * @throws ProviderUnavailable when the text is not a key of the expected form.
 */
export function toPublicKey(keyId: string, spec: KmsKeySpec, text: string): KeyObject {
  try {
    if (spec === 'ED25519') {
      const raw = Buffer.from(text, 'base64');
      if (raw.length !== ED25519_PUBLIC_KEY_LENGTH) throw new RangeError('length');
      return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    }
    return createPublicKey(text);
  } catch {
    throw malformed(keyId, 'getPublicKey');
  }
}

/** `vault:vN:body` → N and body, or undefined when the string is not of that form. */
export function splitVersioned(value: string): { version: number; body: string } | undefined {
  const match = /^vault:v(\d{1,10}):([A-Za-z0-9+/=_-]*)$/.exec(value);
  if (!match?.[1] || match[2] === undefined) return undefined;
  const version = Number(match[1]);
  if (!Number.isSafeInteger(version) || version < 1 || version > MAX_KEY_VERSION) return undefined;
  return { version, body: match[2] };
}
