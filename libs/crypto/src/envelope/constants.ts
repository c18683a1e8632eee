/**
 * Envelope v1 constants: the magic, the version byte and every bound of the format, each named
 * so the parser, the encoder, the docs (docs/envelope.md) and the tests cite the same number.
 *
 * Trust boundary: none (data only). Changing any value here changes the wire format; the
 * known-answer vectors in test-vectors/envelope-v1.json fail when that happens.
 */

/** "FK": the first two bytes of every envelope. */
export const ENVELOPE_MAGIC_0 = 0x46;
export const ENVELOPE_MAGIC_1 = 0x4b;

/** The only format version this build reads or writes. */
export const ENVELOPE_FORMAT_VERSION = 1;

/** Provider name: 1..32 bytes of `[a-z0-9-]`. */
export const MIN_PROVIDER_LENGTH = 1;
export const MAX_PROVIDER_LENGTH = 32;

/** Key id: 1..1024 bytes of printable ASCII 0x21..0x7E. */
export const MIN_ENVELOPE_KEY_ID_LENGTH = 1;
export const MAX_ENVELOPE_KEY_ID_LENGTH = 1024;
export const KEY_ID_MIN_CHAR = 0x21;
export const KEY_ID_MAX_CHAR = 0x7e;

/** Key version: uint32; 0 means "the provider tracks versions itself". */
export const MAX_ENVELOPE_KEY_VERSION = 0xffff_ffff;

/** Every v1 algorithm uses a 96-bit nonce (NIST SP 800-38D §8.2, RFC 8439 §2.8). */
export const ENVELOPE_NONCE_LENGTH = 12;

/** Every v1 algorithm uses a full 128-bit tag. */
export const ENVELOPE_TAG_LENGTH = 16;

/** Content keys (symmetric keys and CEKs) are 256-bit. */
export const CONTENT_KEY_LENGTH = 32;

/** ECIES P-256 ephemeral public key: uncompressed SEC1 point 0x04 ‖ X ‖ Y (SEC 1 v2 §2.3.3). */
export const ECIES_P256_POINT_LENGTH = 65;

/** RSA-OAEP encapsulated key: the modulus size in bytes, for RSA 2048..4096. */
export const MIN_RSA_ENCAPSULATED_KEY_LENGTH = 256;
export const MAX_RSA_ENCAPSULATED_KEY_LENGTH = 512;

/**
 * KMS-wrapped CEK (0x30): the vendor's ciphertext of the CEK, opaque to the envelope. 2048 bytes
 * holds every vendor blob we know (AWS ~184 bytes, GCP ~70, Vault transit text ~80, Azure
 * RSA-OAEP-256 of a 4096-bit key 512) with room for vendor framing changes.
 */
export const MIN_KMS_ENCAPSULATED_KEY_LENGTH = 1;
export const MAX_KMS_ENCAPSULATED_KEY_LENGTH = 2048;

/** Ciphertext ‖ tag: at least the tag, at most 16 MiB unless the caller lowers it. */
export const MIN_ENVELOPE_CIPHERTEXT = ENVELOPE_TAG_LENGTH;
export const MAX_ENVELOPE_CIPHERTEXT = 16 * 1024 * 1024;

/** The largest plaintext one envelope can carry. */
export const MAX_ENVELOPE_PLAINTEXT = MAX_ENVELOPE_CIPHERTEXT - ENVELOPE_TAG_LENGTH;

/** Caller context: at most 32 entries, keys 1..64 UTF-8 bytes, values 0..1024 UTF-8 bytes. */
export const MAX_CONTEXT_ENTRIES = 32;
export const MIN_CONTEXT_KEY_BYTES = 1;
export const MAX_CONTEXT_KEY_BYTES = 64;
export const MAX_CONTEXT_VALUE_BYTES = 1024;

/** Size of the fixed-width fields, so offsets are computed, never typed in by hand. */
export const MAGIC_SIZE = 2;
export const VERSION_SIZE = 1;
export const ALGORITHM_SIZE = 1;
export const PROVIDER_LENGTH_SIZE = 1;
export const KEY_ID_LENGTH_SIZE = 2;
export const KEY_VERSION_SIZE = 4;
export const ENCAPSULATED_KEY_LENGTH_SIZE = 2;
export const NONCE_LENGTH_SIZE = 1;
export const CIPHERTEXT_LENGTH_SIZE = 4;
export const CONTEXT_LENGTH_SIZE = 4;
