/**
 * Opens the encrypted SQLite file: SQLite3MultipleCiphers with the ChaCha20-Poly1305 cipher chosen
 * explicitly (never the build's default, which could change), the store key as a raw key, and the
 * connection settings every keystore connection needs. See docs/keystore.md for why each is set.
 *
 * Trust boundary: the file on disk is untrusted until the first read decrypts and authenticates
 * page 1 with the store key (each page carries a Poly1305 tag); a wrong key is StoreKeyInvalid
 * and nothing is written to the file before that read succeeds.
 */
import Database from 'better-sqlite3-multiple-ciphers';
import { DEFAULT_BUSY_TIMEOUT_MS, SQLITE_CIPHER } from '../constants.js';
import { StoreCorrupt, StoreKeyInvalid } from '../errors.js';
import { rawKeyPragmaValue } from './raw-key.js';

export type SqliteDatabase = Database.Database;

export interface OpenDatabaseOptions {
  /** true only from `SecureKeyStore.create`, on the empty file it just made. */
  readonly create: boolean;
  readonly busyTimeoutMs?: number;
}

function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps a SQLite error met while reading the schema to the keystore's typed errors. */
export function mapOpenError(error: unknown): Error {
  const code = sqliteCode(error);
  // SQLITE_NOTADB: page 1 did not decrypt and authenticate under this key.
  if (code === 'SQLITE_NOTADB') return new StoreKeyInvalid();
  if (code?.startsWith('SQLITE_CORRUPT')) return new StoreCorrupt('keystore database is corrupt', { cause: error });
  return error instanceof Error ? error : new Error(String(error));
}

/** Sets `name = value`, then reads it back. @throws StoreCorrupt when it did not take. */
export function setPragma(db: SqliteDatabase, name: string, value: string, expected: string | number): void {
  db.pragma(`${name} = ${value}`);
  const actual = db.pragma(name, { simple: true });
  // Precondition: a security-relevant pragma really took effect (a silently ignored pragma
  // would, for example, leave the database in rollback-journal mode or on the default cipher).
  if (String(actual).toLowerCase() !== String(expected)) {
    throw new StoreCorrupt(`keystore database: PRAGMA ${name} is ${String(actual)}, expected ${expected}`);
  }
}

/**
 * Opens (or, with `create`, initialises) the database with `storeKey`.
 * @throws StoreKeyInvalid when the key does not decrypt the file | StoreCorrupt.
 */
export function openEncryptedDatabase(path: string, storeKey: Uint8Array, options: OpenDatabaseOptions): SqliteDatabase {
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  // fileMustExist even on create: `create` has already made the empty file with O_EXCL and 0600.
  const db = new Database(path, { fileMustExist: true, timeout: busyTimeoutMs });
  try {
    setPragma(db, 'cipher', `'${SQLITE_CIPHER}'`, SQLITE_CIPHER);
    const rawKey = rawKeyPragmaValue(storeKey);
    try {
      db.key(rawKey);
    } finally {
      rawKey.fill(0);
    }
    // The first read decrypts page 1: a wrong key fails here, before anything is written.
    let schemaObjects: number;
    try {
      schemaObjects = Number(db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get());
    } catch (error) {
      throw mapOpenError(error);
    }
    // Precondition: an existing keystore has a schema. A file truncated to zero bytes reads as an
    // empty database under any key; it must not be silently re-initialised as an empty store.
    if (!options.create && schemaObjects === 0) throw new StoreCorrupt('keystore database is empty (truncated?)');
    // Temporary tables and sort spills stay in memory: temp files are not encrypted.
    setPragma(db, 'temp_store', 'MEMORY', 2);
    // Deleted content is overwritten with zeros (secureDelete, destroyed material, old tags).
    setPragma(db, 'secure_delete', 'ON', 1);
    setPragma(db, 'foreign_keys', 'ON', 1);
    db.pragma('trusted_schema = OFF');
    // WAL: readers never block the writer (agent and CLI share the file). FULL: the WAL is
    // fsynced at every commit, so a reported commit survives power loss, not only a process kill.
    setPragma(db, 'journal_mode', 'WAL', 'wal');
    setPragma(db, 'synchronous', 'FULL', 2);
    db.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
