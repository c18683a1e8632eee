/**
 * @fleetkey/kms-local — the local KMS provider: keys in one file encrypted under a
 * passphrase-derived key (scrypt), versions and rotation, AES-256 wrapping and ECDSA / RSA /
 * Ed25519 signing. The embedded default and the offline fallback. File format:
 * docs/providers/local.md.
 *
 * Trust boundary: the key file and everything handed to unwrap / verify are untrusted; private
 * keys and AES key versions never leave the provider.
 */
export { localKmsProvider, type LocalKmsProvider, type LocalKmsProviderOptions } from './provider.js';
export { LocalKeyFileCorrupt, LocalKeyFileLocked, KEYFILE_LOCKED_DETAIL, mapIoError } from './errors.js';
export { nodeIo, type FileIdentity, type LocalKmsIo, type ReadResult } from './io.js';
export { LOCAL_KEY_SPECS } from './keyfile/body.js';
export type { ScryptParams } from './keyfile/header.js';
export {
  DEFAULT_LOCK_TIMEOUT_MS,
  KEYFILE_FORMAT_VERSION,
  KEYFILE_HEADER_LENGTH,
  LOCAL_PROVIDER_NAME,
  MAX_KEYFILE_BYTES,
  MAX_KEYS,
  MAX_TAGS,
  MAX_VERSIONS_PER_KEY,
} from './constants.js';
