/**
 * The shapes of envelope v1 as the rest of fleetkey sees them. Data only.
 *
 * Trust boundary: an `Envelope` returned by the decoder holds copies of the input's bytes, never
 * views into it, so a caller that reuses or zeroes its input buffer cannot change a decoded envelope
 * (and vice versa).
 */
import type { EnvelopeAlgorithm } from './algorithms.js';

/**
 * The caller context authenticated with every envelope (device id, purpose, ...). It is NOT stored
 * in the envelope: the opener must supply the same one, and a different one fails as a forgery.
 */
export type EnvelopeContext = Readonly<Record<string, string>>;

export interface EnvelopeHeader {
  readonly formatVersion: 1;
  readonly algorithm: EnvelopeAlgorithm;
  /** `[a-z0-9-]`, 1..32 characters, e.g. `local`, `aws`, `keystore`, `device`. */
  readonly provider: string;
  /** Printable ASCII 0x21..0x7E, 1..1024 characters; opaque to the envelope. */
  readonly keyId: string;
  /** uint32; 0 means "the provider tracks versions itself". */
  readonly keyVersion: number;
  /** Empty for symmetric algorithms; the ephemeral point (ECIES), the OAEP block (RSA) or the KMS's ciphertext of the CEK (KMS). */
  readonly encapsulatedKey: Uint8Array;
  /** 12 bytes for every v1 algorithm. */
  readonly nonce: Uint8Array;
}

export interface Envelope extends EnvelopeHeader {
  /** Ciphertext ‖ 16-byte tag. */
  readonly ciphertext: Uint8Array;
}

export interface DecodeOptions {
  /**
   * Largest ciphertext (tag included) the caller accepts, 16..MAX_ENVELOPE_CIPHERTEXT; defaults to
   * MAX_ENVELOPE_CIPHERTEXT (16 MiB). Lower it where the expected payload is small (a wrapped key).
   */
  readonly maxCiphertextLength?: number;
}
