/** The agent's persistent state (one SecureKeyStore in the data directory): layout and typed access. */
export * from './layout.js';
export * from './agent-state.js';
export { readRevocationList, writeRevocationList, REVOCATION_CHUNK_BYTES, MAX_REVOCATION_CHUNKS, type StoredRevocationList } from './revocation-store.js';
export { VALUE_NAMES, STATE_FORMAT_VERSION } from './values.js';
