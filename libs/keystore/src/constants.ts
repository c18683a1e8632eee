/**
 * Every bound and label of the keystore format in one place, so the code, the tests and
 * docs/keystore.md read the same numbers. Changing a label here changes the on-disk format.
 *
 * Trust boundary: none (constants only).
 */

/** The store key: 32 random bytes, handed to SQLite3MultipleCiphers as a raw key (no KDF). */
export const STORE_KEY_LENGTH = 32;

/** SQLite3MultipleCiphers cipher scheme. ChaCha20-Poly1305 per page; see docs/keystore.md. */
export const SQLITE_CIPHER = 'chacha20';

/** Envelope provider name for everything the keystore seals with its own keys. */
export const KEYSTORE_PROVIDER = 'keystore';
/** Envelope provider name for records re-wrapped under a caller's export key. */
export const EXPORT_PROVIDER = 'keystore-export';

/** HKDF-SHA256 `info` labels (RFC 5869 §2.3). Distinct labels => independent keys. */
export const RECORD_KEY_INFO = 'fleetkey keystore v1 record sealing';
export const KEY_CHECK_INFO = 'fleetkey keystore v1 key check';
export const DERIVED_KEY_LENGTH = 32;

/** Envelope context `purpose` values; each kind of sealed blob has its own. */
export const RECORD_PURPOSE = 'fleetkey keystore record';
export const VALUE_PURPOSE = 'fleetkey keystore value';
export const EXPORT_PURPOSE = 'fleetkey keystore export';
export const STORE_KEY_PURPOSE = 'fleetkey keystore store key';

/** Largest key material a record may hold (an RSA-4096 PKCS#8 DER is about 2.4 KiB). */
export const MAX_MATERIAL_LENGTH = 16 * 1024;
/** Largest public key a record may hold (an RSA-4096 SPKI DER is about 550 bytes). */
export const MAX_PUBLIC_KEY_LENGTH = 4 * 1024;
/** Largest meta value (`setValue`). */
export const MAX_VALUE_LENGTH = 64 * 1024;
/** AES-GCM tag; a sealed blob's ciphertext is plaintext + tag. */
export const SEAL_TAG_LENGTH = 16;

/** Tags: at most this many per record; names and values bounded and restricted. */
export const MAX_TAGS = 32;
export const MAX_TAG_VALUE_LENGTH = 256;
export const TAG_NAME_PATTERN = /^[a-z0-9][a-z0-9._:-]{0,63}$/;
/** Meta value names (`setValue(name, …)`). */
export const VALUE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Largest number of rows one `list` / `exportRecords` call returns. */
export const MAX_LIST_RESULTS = 100_000;

/** Default SQLite busy timeout: how long a writer waits for another process's write lock. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;
export const MAX_BUSY_TIMEOUT_MS = 60_000;
/** Default clock skew allowed before a key's not_before when opening (a peer's clock may run ahead). */
export const DEFAULT_OPEN_CLOCK_SKEW_MS = 5 * 60_000;
export const MAX_OPEN_CLOCK_SKEW_MS = 24 * 60 * 60_000;

/** The sidecar (`<db>.keyinfo.json`): its format label, version and size bound. */
export const SIDECAR_SUFFIX = '.keyinfo.json';
export const SIDECAR_FORMAT = 'fleetkey-keystore-keyinfo';
export const SIDECAR_VERSION = 1;
export const MAX_SIDECAR_BYTES = 16 * 1024;
