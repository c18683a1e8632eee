/**
 * Public surface of the controller's state store: the repository port, the SQLite
 * implementation, token helpers and the store's errors. The conformance suite is in ./testing.ts.
 *
 * Trust boundary: see ./repository.ts — hashes of tokens and KMS-wrapped material only.
 */
export * from './repository.js';
export * from './errors.js';
export { generateToken, hashToken, tokenHashesEqual, TOKEN_PREFIX, TOKEN_RANDOM_BYTES, TOKEN_HASH_LENGTH, MAX_TOKEN_LENGTH, type TokenKind } from './tokens.js';
export { openSqliteRepository, DEFAULT_BUSY_TIMEOUT_MS, type SqliteRepositoryOptions } from './sqlite/sqlite-repository.js';
export { LATEST_SCHEMA_VERSION } from './sqlite/migrations.js';
