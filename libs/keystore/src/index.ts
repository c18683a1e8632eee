/**
 * @fleetkey/keystore — SecureKeyStore: keys in an encrypted SQLite file (SQLite3MultipleCiphers,
 * ChaCha20-Poly1305 pages) with each record's material sealed again as an envelope v1, a store
 * key recovered by a protector (`file`, `passphrase`, `kms`; later `pkcs11`), WAL for sharing
 * between the agent and the CLI, and crash-safe commits. Format and guarantees: docs/keystore.md.
 *
 * Trust boundary: everything on disk (database, WAL, sidecar, key file) is untrusted until the
 * store key authenticates it. Returned `material` buffers belong to the caller, who zeroizes them.
 * Test seams (migration subsets, raw database access) are not exported here; the conformance
 * suite lives under the `./testing` entry.
 */
export * from './errors.js';
export {
  DEFAULT_BUSY_TIMEOUT_MS,
  DEFAULT_OPEN_CLOCK_SKEW_MS,
  MAX_LIST_RESULTS,
  MAX_MATERIAL_LENGTH,
  MAX_PUBLIC_KEY_LENGTH,
  MAX_TAGS,
  MAX_TAG_VALUE_LENGTH,
  MAX_VALUE_LENGTH,
  SIDECAR_SUFFIX,
  SQLITE_CIPHER,
  STORE_KEY_LENGTH,
} from './constants.js';
export type { ProtectorDescriptor, StoreKeyProtector } from './protectors/types.js';
export { FILE_PROTECTOR_KIND, fileProtector, type FileProtectorOptions } from './protectors/file.js';
export {
  PASSPHRASE_PROTECTOR_KIND,
  passphraseProtector,
  type PassphraseProtector,
  type PassphraseProtectorOptions,
} from './protectors/passphrase.js';
export {
  KMS_PROTECTOR_KIND,
  MAX_KMS_WRAPPED_STORE_KEY_BYTES,
  kmsProtector,
  type KmsProtectorOptions,
} from './protectors/kms.js';
export { DEFAULT_SCRYPT_PARAMS, type ScryptParams } from './protectors/scrypt.js';
export { sidecarPath } from './sidecar.js';
export { SCHEMA_VERSION } from './sqlite/migrations.js';
export { isUsableForOpen, isUsableForSeal, type UnusableReason } from './records/usable.js';
export type {
  ExportWrapping,
  ExportedKeyRecord,
  ImportOptions,
  ImportResult,
  ImportUnwrapping,
  KeyRecord,
  KeyRecordInput,
  KeyRecordMeta,
  KeyStore,
  ListFilter,
  StoredValue,
  TagFilter,
  Tags,
  UnwrapFunction,
  WrapFunction,
} from './records/types.js';
export { SecureKeyStore, type SecureKeyStoreOptions } from './store.js';
