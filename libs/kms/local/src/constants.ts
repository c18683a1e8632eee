/**
 * Every bound and label of the local key file in one place, so the code, the tests and
 * docs/providers/local.md cite the same numbers. Changing a label here changes the file format.
 *
 * Trust boundary: none (constants only).
 */

/** The provider name written into every envelope this provider makes. */
export const LOCAL_PROVIDER_NAME = 'local';

/** "FKLK": the first four bytes of a local key file. */
export const KEYFILE_MAGIC = Object.freeze([0x46, 0x4b, 0x4c, 0x4b] as const);
/** The only key-file format version this build reads or writes. */
export const KEYFILE_FORMAT_VERSION = 1;
/** KDF identifier byte: 1 = scrypt (RFC 7914). No other KDF is defined. */
export const KDF_SCRYPT = 1;
export const SCRYPT_SALT_LENGTH = 16;
/** magic 4 ‖ version 1 ‖ kdf 1 ‖ log2N 1 ‖ r 1 ‖ p 1 ‖ saltLength 1 ‖ salt 16 ‖ generation 8. */
export const KEYFILE_HEADER_LENGTH = 4 + 1 + 1 + 1 + 1 + 1 + 1 + SCRYPT_SALT_LENGTH + 8;

/** scrypt floor (what a new file gets by default) and ceiling (what a read file may ask for). */
export const DEFAULT_SCRYPT_LOG2_N = 15;
export const MIN_SCRYPT_LOG2_N = 15;
export const MAX_SCRYPT_LOG2_N = 20;
export const DEFAULT_SCRYPT_R = 8;
export const MIN_SCRYPT_R = 8;
export const MAX_SCRYPT_R = 16;
export const DEFAULT_SCRYPT_P = 1;
export const MIN_SCRYPT_P = 1;
export const MAX_SCRYPT_P = 16;
/** RFC 7914 §6: scrypt needs about 128·N·r bytes; refuse a file that asks for more. */
export const MAX_SCRYPT_MEMORY_BYTES = 1024 * 1024 * 1024;
export const FILE_KEY_LENGTH = 32;

/** Envelope fields of the sealed body (the body is one AES-256-GCM envelope v1). */
export const BODY_ENVELOPE_KEY_ID = 'keyfile';
export const BODY_ENVELOPE_KEY_VERSION = 1;
export const BODY_CONTEXT_PURPOSE = 'fleetkey local kms key file';

/** Largest key file read or written (the envelope's own ceiling is 16 MiB). */
export const MAX_KEYFILE_BYTES = 8 * 1024 * 1024;
/** Largest metadata JSON inside the body. */
export const MAX_BODY_JSON_BYTES = 4 * 1024 * 1024;
/** Keys per file, versions per key. */
export const MAX_KEYS = 4096;
export const MAX_VERSIONS_PER_KEY = 256;
/** Tags per key (AWS KMS allows 50), tag name 1..128 and value 0..256 characters. */
export const MAX_TAGS = 50;
export const MAX_TAG_KEY_LENGTH = 128;
export const MAX_TAG_VALUE_LENGTH = 256;
export const TAG_KEY_PATTERN = /^[\x21-\x7e][\x20-\x7e]*$/;
export const TAG_VALUE_PATTERN = /^[\x20-\x7e]*$/;
/** Longest description of a key. */
export const MAX_DESCRIPTION_LENGTH = 1024;
/** Key ids this provider makes are UUIDs; a file may only hold ids of this shape. */
export const KEY_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Largest private key (PKCS#8 DER; RSA-4096 is about 2.4 KiB). */
export const MAX_PRIVATE_KEY_DER_LENGTH = 4096;
/** AES-256 key versions are 32 raw bytes. */
export const AES_KEY_LENGTH = 32;
/** Largest CEK wrap (a nested AES-256-GCM envelope) an unwrap accepts. */
export const MAX_WRAPPED_CEK_LENGTH = 2048;
/** Largest number of keys one `listKeys` call returns. */
export const MAX_LIST_LIMIT = MAX_KEYS;

/** Passphrase bounds (bytes after NFC + UTF-8), and the passphrase file's bound. */
export const MIN_PASSPHRASE_BYTES = 8;
export const MAX_PASSPHRASE_BYTES = 1024;
/** Permission bits a passphrase file must not have: any access by group or others. */
export const PASSPHRASE_FILE_FORBIDDEN_MODE = 0o077;

/** The key file and its temp files are private to the owner. */
export const KEYFILE_MODE = 0o600;

/** Writer lock: `<path>.lock`, made with O_CREAT|O_EXCL; how long a writer waits for it. */
export const LOCK_SUFFIX = '.lock';
export const DEFAULT_LOCK_TIMEOUT_MS = 5_000;
export const MAX_LOCK_TIMEOUT_MS = 60_000;
export const LOCK_POLL_MS = 15;
/** Largest lock file read back (it holds a pid and a timestamp). */
export const MAX_LOCK_FILE_BYTES = 256;
