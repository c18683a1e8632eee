/**
 * The kinds of key in DESIGN.md's key model, the algorithms each may use, and how each rotates.
 * Policy lives here, as data, so the controller, the agent and the docs read one table.
 */
import { UnsupportedAlgorithm } from './errors.js';
import type { KeyAlgorithm } from './algorithms.js';

export const KEY_KINDS = ['fleet-ca', 'emergency', 'fleet-master', 'device-identity', 'communication', 'storage'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

export function isKeyKind(value: unknown): value is KeyKind {
  return typeof value === 'string' && (KEY_KINDS as readonly string[]).includes(value);
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export type RotationPolicy =
  | { readonly mode: 'manual' }
  /** The provider rotates the key material itself (e.g. yearly AWS KMS automatic rotation). */
  | { readonly mode: 'provider' }
  /** A new version every `intervalMs`; the old one stays openable for `graceMs` after activation of the new. */
  | { readonly mode: 'interval'; readonly intervalMs: number; readonly graceMs: number };

export interface KindPolicy {
  readonly defaultAlgorithm: KeyAlgorithm;
  readonly allowedAlgorithms: readonly KeyAlgorithm[];
  readonly rotation: RotationPolicy;
  /** Whether the private or secret half may ever exist outside its home (KMS or robot keystore). */
  readonly exportable: boolean;
}

export const KIND_POLICIES: Readonly<Record<KeyKind, KindPolicy>> = Object.freeze({
  'fleet-ca': {
    defaultAlgorithm: 'ECDSA_P256',
    allowedAlgorithms: ['ECDSA_P256', 'ECDSA_P384', 'ECDSA_P521', 'RSA_2048', 'RSA_3072', 'RSA_4096'],
    rotation: { mode: 'manual' },
    exportable: false,
  },
  emergency: {
    defaultAlgorithm: 'ECDSA_P256',
    allowedAlgorithms: ['ECDSA_P256', 'RSA_2048'],
    rotation: { mode: 'interval', intervalMs: 365 * DAY_MS, graceMs: 30 * DAY_MS },
    exportable: false,
  },
  'fleet-master': {
    defaultAlgorithm: 'AES_256_GCM',
    allowedAlgorithms: ['AES_256_GCM'],
    rotation: { mode: 'provider' },
    exportable: false,
  },
  'device-identity': {
    defaultAlgorithm: 'ECDSA_P256',
    allowedAlgorithms: ['ECDSA_P256', 'RSA_2048'],
    rotation: { mode: 'manual' },
    exportable: false,
  },
  communication: {
    defaultAlgorithm: 'AES_256_GCM',
    allowedAlgorithms: ['AES_256_GCM'],
    rotation: { mode: 'interval', intervalMs: DAY_MS, graceMs: DAY_MS },
    exportable: true,
  },
  storage: {
    defaultAlgorithm: 'AES_256_GCM',
    allowedAlgorithms: ['AES_256_GCM', 'CHACHA20_POLY1305'],
    rotation: { mode: 'manual' },
    exportable: true,
  },
});

/**
 * Checks that `algorithm` may be used for a key of `kind`.
 * @throws UnsupportedAlgorithm naming both, when the policy does not allow it.
 */
export function assertAlgorithmAllowed(kind: KeyKind, algorithm: KeyAlgorithm): void {
  if (!KIND_POLICIES[kind].allowedAlgorithms.includes(algorithm)) {
    throw new UnsupportedAlgorithm(`algorithm ${algorithm} is not allowed for ${kind} keys`);
  }
}
