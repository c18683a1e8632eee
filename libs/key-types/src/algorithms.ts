/**
 * Key algorithms fleetkey knows, with the facts every other part needs about them. A string
 * literal union rather than an enum so the values are stable on the wire and in config files.
 */
import { UnsupportedAlgorithm } from './errors.js';

export const KEY_ALGORITHMS = [
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECDSA_P256',
  'ECDSA_P384',
  'ECDSA_P521',
  'ED25519',
  'AES_256_GCM',
  'CHACHA20_POLY1305',
] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

export type AsymmetricAlgorithm = Exclude<KeyAlgorithm, 'AES_256_GCM' | 'CHACHA20_POLY1305'>;
export type SymmetricAlgorithm = Extract<KeyAlgorithm, 'AES_256_GCM' | 'CHACHA20_POLY1305'>;

export type KeyFamily = 'rsa' | 'ec' | 'okp' | 'symmetric';
export type NamedCurve = 'P-256' | 'P-384' | 'P-521';

export interface AlgorithmInfo {
  readonly family: KeyFamily;
  /** RSA modulus bits, curve order bits, or symmetric key bits. */
  readonly bits: number;
  readonly curve?: NamedCurve;
  /** Digest used with this key for signatures (FIPS 186-5 pairs each curve with its own size). */
  readonly hash?: 'SHA-256' | 'SHA-384' | 'SHA-512';
  readonly canSign: boolean;
  readonly canWrap: boolean;
  readonly canEncrypt: boolean;
}

const INFO: Readonly<Record<KeyAlgorithm, AlgorithmInfo>> = Object.freeze({
  RSA_2048: { family: 'rsa', bits: 2048, hash: 'SHA-256', canSign: true, canWrap: true, canEncrypt: false },
  RSA_3072: { family: 'rsa', bits: 3072, hash: 'SHA-256', canSign: true, canWrap: true, canEncrypt: false },
  RSA_4096: { family: 'rsa', bits: 4096, hash: 'SHA-256', canSign: true, canWrap: true, canEncrypt: false },
  ECDSA_P256: { family: 'ec', bits: 256, curve: 'P-256', hash: 'SHA-256', canSign: true, canWrap: true, canEncrypt: false },
  ECDSA_P384: { family: 'ec', bits: 384, curve: 'P-384', hash: 'SHA-384', canSign: true, canWrap: false, canEncrypt: false },
  ECDSA_P521: { family: 'ec', bits: 521, curve: 'P-521', hash: 'SHA-512', canSign: true, canWrap: false, canEncrypt: false },
  ED25519: { family: 'okp', bits: 256, canSign: true, canWrap: false, canEncrypt: false },
  AES_256_GCM: { family: 'symmetric', bits: 256, canSign: false, canWrap: false, canEncrypt: true },
  CHACHA20_POLY1305: { family: 'symmetric', bits: 256, canSign: false, canWrap: false, canEncrypt: true },
});

export function isKeyAlgorithm(value: unknown): value is KeyAlgorithm {
  return typeof value === 'string' && (KEY_ALGORITHMS as readonly string[]).includes(value);
}

/** @throws UnsupportedAlgorithm for anything that is not one of KEY_ALGORITHMS. */
export function algorithmInfo(algorithm: string): AlgorithmInfo {
  if (!isKeyAlgorithm(algorithm)) {
    throw new UnsupportedAlgorithm(`unsupported key algorithm ${JSON.stringify(String(algorithm).slice(0, 32))}`);
  }
  return INFO[algorithm];
}

export function isSymmetric(algorithm: KeyAlgorithm): algorithm is SymmetricAlgorithm {
  return INFO[algorithm].family === 'symmetric';
}

export function isAsymmetric(algorithm: KeyAlgorithm): algorithm is AsymmetricAlgorithm {
  return !isSymmetric(algorithm);
}
