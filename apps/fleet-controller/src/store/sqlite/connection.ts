/**
 * Opens and configures one SQLite connection for the state store.
 *
 * Trust boundary: the database file in the controller's data dir. It is opened WITHOUT an
 * encryption key on purpose: the controller holds only KMS-wrapped material (epoch keys under the
 * KEK) and SHA-256 hashes of bearer tokens, so file encryption would add a key to manage and
 * protect nothing more. better-sqlite3-multiple-ciphers is a superset of better-sqlite3; without
 * `PRAGMA key` it reads and writes plain SQLite files.
 */
import Database from 'better-sqlite3-multiple-ciphers';

/** How long a write waits for another connection's lock before failing with SQLITE_BUSY. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;
/** Upper bound on the busy timeout: a writer stuck longer than this is a bug, not contention. */
export const MAX_BUSY_TIMEOUT_MS = 60_000;

/**
 * Applies the store's pragmas to `db`:
 * - journal_mode=WAL: readers never block the writer (https://sqlite.org/wal.html);
 * - busy_timeout: other processes' write locks are waited for, not failed on;
 * - foreign_keys=ON: off by default in SQLite, and tenancy relies on the references;
 * - synchronous=FULL: a committed burn or revocation survives power loss, not only a crash;
 * - secure_delete=ON: freed content is overwritten with zeros, so an erased (destroyed) wrapped
 *   key does not linger in free space of the file (https://sqlite.org/pragma.html#pragma_secure_delete).
 * @throws RangeError when `busyTimeoutMs` is not an integer in 0..MAX_BUSY_TIMEOUT_MS.
 */
export function configureConnection(db: Database.Database, busyTimeoutMs: number = DEFAULT_BUSY_TIMEOUT_MS): void {
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0 || busyTimeoutMs > MAX_BUSY_TIMEOUT_MS) {
    throw new RangeError(`"busyTimeoutMs" expected an integer in 0..${MAX_BUSY_TIMEOUT_MS}, got ${busyTimeoutMs}`);
  }
  db.pragma('journal_mode = WAL');
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = FULL');
  db.pragma('secure_delete = ON');
}

/** Opens (creating when missing) and configures the state database at `path`. */
export function openConnection(path: string, busyTimeoutMs?: number): Database.Database {
  const db = new Database(path);
  try {
    configureConnection(db, busyTimeoutMs);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
