/**
 * The envelope v1 algorithm registry: id byte <-> name, which content cipher each uses, and what
 * encapsulated-key length each allows. One table, so the parser, the encoder and the sealers
 * cannot disagree.
 *
 * Trust boundary: `algorithmFromId` is fed attacker bytes; it answers `undefined` for anything
 * not in the table and the caller turns that into `EnvelopeUnsupported`.
 */
import {
  ECIES_P256_POINT_LENGTH,
  MAX_KMS_ENCAPSULATED_KEY_LENGTH,
  MAX_RSA_ENCAPSULATED_KEY_LENGTH,
  MIN_KMS_ENCAPSULATED_KEY_LENGTH,
  MIN_RSA_ENCAPSULATED_KEY_LENGTH,
} from './constants.js';

export type EnvelopeAlgorithm =
  | 'AES_256_GCM'
  | 'CHACHA20_POLY1305'
  | 'ECIES_P256_HKDF_SHA256_AES_256_GCM'
  | 'RSA_OAEP_SHA256_AES_256_GCM'
  | 'KMS_AES_256_GCM';

/** The symmetric subset: the key in hand is the content key. */
export type SymmetricEnvelopeAlgorithm = 'AES_256_GCM' | 'CHACHA20_POLY1305';

/** The AEAD that encrypts the content once the content key is known. */
export type ContentCipher = 'aes-256-gcm' | 'chacha20-poly1305';

interface AlgorithmSpec {
  readonly id: number;
  readonly cipher: ContentCipher;
  readonly symmetric: boolean;
  /** Inclusive bounds of the encapsulated key length. */
  readonly minEncapsulated: number;
  readonly maxEncapsulated: number;
}

const SPECS: Readonly<Record<EnvelopeAlgorithm, AlgorithmSpec>> = Object.freeze({
  AES_256_GCM: { id: 0x01, cipher: 'aes-256-gcm', symmetric: true, minEncapsulated: 0, maxEncapsulated: 0 },
  CHACHA20_POLY1305: { id: 0x02, cipher: 'chacha20-poly1305', symmetric: true, minEncapsulated: 0, maxEncapsulated: 0 },
  ECIES_P256_HKDF_SHA256_AES_256_GCM: {
    id: 0x10,
    cipher: 'aes-256-gcm',
    symmetric: false,
    minEncapsulated: ECIES_P256_POINT_LENGTH,
    maxEncapsulated: ECIES_P256_POINT_LENGTH,
  },
  RSA_OAEP_SHA256_AES_256_GCM: {
    id: 0x20,
    cipher: 'aes-256-gcm',
    symmetric: false,
    minEncapsulated: MIN_RSA_ENCAPSULATED_KEY_LENGTH,
    maxEncapsulated: MAX_RSA_ENCAPSULATED_KEY_LENGTH,
  },
  // The CEK encrypted by a KMS key (AWS / GCP / Vault / Azure / local); the bytes are the
  // vendor's, opaque here, and only the provider named in the header can turn them back.
  KMS_AES_256_GCM: {
    id: 0x30,
    cipher: 'aes-256-gcm',
    symmetric: false,
    minEncapsulated: MIN_KMS_ENCAPSULATED_KEY_LENGTH,
    maxEncapsulated: MAX_KMS_ENCAPSULATED_KEY_LENGTH,
  },
});

export const ENVELOPE_ALGORITHMS: readonly EnvelopeAlgorithm[] = Object.freeze(
  Object.keys(SPECS) as EnvelopeAlgorithm[],
);

const BY_ID: ReadonlyMap<number, EnvelopeAlgorithm> = new Map(
  ENVELOPE_ALGORITHMS.map((name) => [SPECS[name].id, name] as const),
);

export function isEnvelopeAlgorithm(value: unknown): value is EnvelopeAlgorithm {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(SPECS, value);
}

export function isSymmetricEnvelopeAlgorithm(value: unknown): value is SymmetricEnvelopeAlgorithm {
  return isEnvelopeAlgorithm(value) && SPECS[value].symmetric;
}

/** The id byte, or `undefined` for an id this build does not know. */
export function algorithmFromId(id: number): EnvelopeAlgorithm | undefined {
  return BY_ID.get(id);
}

export function algorithmId(algorithm: EnvelopeAlgorithm): number {
  return SPECS[algorithm].id;
}

export function contentCipherOf(algorithm: EnvelopeAlgorithm): ContentCipher {
  return SPECS[algorithm].cipher;
}

/** Whether `length` is an encapsulated-key length the algorithm allows (0 for symmetric). */
export function encapsulatedKeyLengthAllowed(algorithm: EnvelopeAlgorithm, length: number): boolean {
  const spec = SPECS[algorithm];
  return length >= spec.minEncapsulated && length <= spec.maxEncapsulated;
}
