/**
 * The schema, as an ordered list of migrations. `PRAGMA user_version` holds the version of the
 * last migration applied; each migration runs in its own IMMEDIATE transaction together with the
 * user_version bump, so a crash or a failing step leaves the previous version intact, and two
 * processes opening an old store at once apply each step exactly once.
 *
 * Append only: never edit a released migration; add the next one.
 *
 * Trust boundary: runs on a database already authenticated by its key; a user_version newer than
 * this build knows is refused (StoreCorrupt) rather than guessed at.
 */
import { StoreCorrupt } from '../errors.js';
import type { SqliteDatabase } from './open-database.js';

export interface Migration {
  /** 1, 2, 3, … in order; the value `PRAGMA user_version` takes once it is applied. */
  readonly version: number;
  readonly description: string;
  readonly up: (db: SqliteDatabase) => void;
}

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    description: 'keys and their tags',
    up: (db: SqliteDatabase) => {
      db.exec(`
        CREATE TABLE keys (
          kind            TEXT    NOT NULL,
          fleet           TEXT    NOT NULL,
          name            TEXT    NOT NULL,
          version         INTEGER NOT NULL CHECK (version >= 1),
          algorithm       TEXT    NOT NULL,
          state           TEXT    NOT NULL,
          public_key      BLOB,
          not_before      INTEGER,
          not_after       INTEGER,
          created_at      INTEGER NOT NULL,
          updated_at      INTEGER NOT NULL,
          -- envelope v1 (provider "keystore"); NULL once the key is destroyed
          sealed_material BLOB,
          PRIMARY KEY (kind, fleet, name, version)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX keys_by_state ON keys (state);
        CREATE TABLE key_tags (
          kind    TEXT    NOT NULL,
          fleet   TEXT    NOT NULL,
          name    TEXT    NOT NULL,
          version INTEGER NOT NULL,
          tag     TEXT    NOT NULL,
          value   TEXT    NOT NULL,
          PRIMARY KEY (kind, fleet, name, version, tag),
          FOREIGN KEY (kind, fleet, name, version) REFERENCES keys (kind, fleet, name, version) ON DELETE CASCADE
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX key_tags_by_tag ON key_tags (tag, value);
      `);
    },
  },
  {
    version: 2,
    description: 'sealed meta values (setValue / getValue)',
    up: (db: SqliteDatabase) => {
      db.exec(`
        CREATE TABLE meta (
          name       TEXT    NOT NULL PRIMARY KEY,
          type       TEXT    NOT NULL CHECK (type IN ('bytes', 'text')),
          -- envelope v1 (provider "keystore"), context binds name and type
          sealed     BLOB    NOT NULL,
          updated_at INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
      `);
    },
  },
]);

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** @throws RangeError when `migrations` is not numbered 1..n in order (a programming error). */
export function assertMigrationsOrdered(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new RangeError(`"migrations" expected version ${index + 1} at index ${index}, got ${migration.version}`);
    }
  });
}

export function schemaVersion(db: SqliteDatabase): number {
  return Number(db.pragma('user_version', { simple: true }));
}

export interface MigrationResult {
  readonly from: number;
  readonly to: number;
}

/**
 * Brings the schema up to the last of `migrations`.
 * @throws StoreCorrupt when the database is newer than `migrations` knows; rethrows a failing
 * step's error after rolling that step back.
 */
export function migrate(db: SqliteDatabase, migrations: readonly Migration[] = MIGRATIONS): MigrationResult {
  assertMigrationsOrdered(migrations);
  const target = migrations.length;
  const from = schemaVersion(db);
  // Precondition: a schema newer than this build is refused, never downgraded or written to.
  if (from > target) {
    throw new StoreCorrupt(`keystore schema version ${from} is newer than this build supports (${target})`);
  }
  for (const migration of migrations.slice(from)) {
    db.transaction(() => {
      // Re-read inside the write lock: another process may have applied this step meanwhile.
      if (schemaVersion(db) >= migration.version) return;
      migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
  return { from, to: Math.max(from, schemaVersion(db)) };
}
