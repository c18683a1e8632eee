/**
 * Versioned schema migrations of the SQLite state store. The schema version is `PRAGMA
 * user_version`; migration N takes the schema from N-1 to N inside one transaction that also sets
 * user_version, so a crash leaves the database at N-1 or N, never between.
 *
 * Trust boundary: the database file. A file written by a newer controller is refused rather than
 * half-understood. Migrations are append-only: a released migration is never edited.
 */
import type Database from 'better-sqlite3-multiple-ciphers';
import { SchemaVersionUnsupported } from '../errors.js';

export interface Migration {
  /** 1, 2, 3… in order, no gaps. */
  readonly version: number;
  readonly description: string;
  readonly up: (db: Database.Database) => void;
}

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    description: 'tenants, operators and settings',
    up: (db) => {
      db.exec(`
        CREATE TABLE settings (
          key   TEXT PRIMARY KEY,
          value TEXT NOT NULL
        ) STRICT;
        CREATE TABLE fleets (
          id         TEXT PRIMARY KEY,
          name       TEXT NOT NULL,
          created_at INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE groups (
          fleet_id   TEXT NOT NULL REFERENCES fleets(id),
          id         TEXT NOT NULL,
          name       TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          PRIMARY KEY (fleet_id, id)
        ) STRICT;
        CREATE TABLE operators (
          id         TEXT PRIMARY KEY,
          name       TEXT NOT NULL,
          role       TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'factory', 'auditor')),
          all_fleets INTEGER NOT NULL CHECK (all_fleets IN (0, 1)),
          token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
          created_at INTEGER NOT NULL,
          revoked_at INTEGER
        ) STRICT;
        CREATE TABLE operator_fleets (
          operator_id TEXT NOT NULL REFERENCES operators(id),
          fleet_id    TEXT NOT NULL REFERENCES fleets(id),
          PRIMARY KEY (operator_id, fleet_id)
        ) STRICT;
      `);
    },
  },
  {
    version: 2,
    description: 'enrollment tokens, devices, communication epochs, command sequences',
    up: (db) => {
      db.exec(`
        CREATE TABLE enrollment_tokens (
          id                TEXT PRIMARY KEY,
          fleet_id          TEXT NOT NULL REFERENCES fleets(id),
          group_id          TEXT,
          serial_pattern    TEXT,
          token_hash        BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
          created_at        INTEGER NOT NULL,
          expires_at        INTEGER NOT NULL,
          used_at           INTEGER,
          used_by_device_id TEXT,
          revoked_at        INTEGER,
          FOREIGN KEY (fleet_id, group_id) REFERENCES groups(fleet_id, id)
        ) STRICT;
        CREATE INDEX enrollment_tokens_by_fleet ON enrollment_tokens(fleet_id, created_at);
        CREATE TABLE devices (
          fleet_id           TEXT NOT NULL REFERENCES fleets(id),
          device_id          TEXT NOT NULL,
          group_id           TEXT,
          serial             TEXT NOT NULL,
          certificate_der    BLOB NOT NULL,
          certificate_serial TEXT NOT NULL,
          key_algorithm      TEXT NOT NULL,
          status             TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
          enrolled_at        INTEGER NOT NULL,
          revoked_at         INTEGER,
          PRIMARY KEY (fleet_id, device_id),
          FOREIGN KEY (fleet_id, group_id) REFERENCES groups(fleet_id, id)
        ) STRICT;
        CREATE TABLE epochs (
          fleet_id    TEXT NOT NULL REFERENCES fleets(id),
          group_id    TEXT,
          version     INTEGER NOT NULL CHECK (version >= 1),
          state       TEXT NOT NULL,
          wrapped_key BLOB NOT NULL,
          not_before  INTEGER NOT NULL,
          not_after   INTEGER NOT NULL,
          created_at  INTEGER NOT NULL,
          FOREIGN KEY (fleet_id, group_id) REFERENCES groups(fleet_id, id)
        ) STRICT;
        -- NULL group ids are distinct in a UNIQUE constraint, so the fleet-wide series is keyed as ''.
        CREATE UNIQUE INDEX epochs_by_series ON epochs(fleet_id, coalesce(group_id, ''), version);
        CREATE TABLE command_sequences (
          fleet_id TEXT PRIMARY KEY REFERENCES fleets(id),
          last     INTEGER NOT NULL
        ) STRICT;
      `);
    },
  },
  {
    version: 3,
    description: 'append-only hash-chained audit log and its signed heads',
    up: (db) => {
      // No foreign keys: a denied request may name a fleet or device that does not exist, and the
      // log must outlive whatever it describes. The triggers stop accidental edits through the
      // controller's own connection; a hand edit of the file is caught by verifyAuditChain.
      db.exec(`
        CREATE TABLE audit_records (
          sequence   INTEGER PRIMARY KEY CHECK (sequence >= 1),
          time       INTEGER NOT NULL,
          actor      TEXT NOT NULL,
          action     TEXT NOT NULL,
          fleet_id   TEXT,
          device_id  TEXT,
          key_ref    TEXT,
          result     TEXT NOT NULL CHECK (result IN ('ok', 'denied', 'error')),
          error_code TEXT,
          details    TEXT NOT NULL,
          prev_hash  BLOB NOT NULL CHECK (length(prev_hash) = 32),
          hash       BLOB NOT NULL CHECK (length(hash) = 32)
        ) STRICT;
        CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
          BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
        CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
          BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
        CREATE TABLE audit_heads (
          id        INTEGER PRIMARY KEY,
          sequence  INTEGER NOT NULL CHECK (sequence >= 1),
          hash      BLOB NOT NULL CHECK (length(hash) = 32),
          signature BLOB NOT NULL,
          algorithm TEXT NOT NULL,
          key_id    TEXT NOT NULL,
          signed_at INTEGER NOT NULL
        ) STRICT;
        CREATE TRIGGER audit_heads_no_update BEFORE UPDATE ON audit_heads
          BEGIN SELECT RAISE(ABORT, 'audit_heads is append-only'); END;
        CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads
          BEGIN SELECT RAISE(ABORT, 'audit_heads is append-only'); END;
      `);
    },
  },
  {
    version: 4,
    description: 'device acknowledgements, signed commands and their acks, lift requests, signed artefacts',
    up: (db) => {
      db.exec(`
        ALTER TABLE devices ADD COLUMN revocation_reason TEXT;
        ALTER TABLE devices ADD COLUMN last_contact INTEGER;
        ALTER TABLE devices ADD COLUMN acked_bundle_sequence INTEGER NOT NULL DEFAULT 0 CHECK (acked_bundle_sequence >= 0);
        ALTER TABLE devices ADD COLUMN acked_command_sequence INTEGER NOT NULL DEFAULT 0 CHECK (acked_command_sequence >= 0);
        ALTER TABLE devices ADD COLUMN acked_revocation_sequence INTEGER NOT NULL DEFAULT 0 CHECK (acked_revocation_sequence >= 0);
        CREATE TABLE commands (
          fleet_id       TEXT NOT NULL REFERENCES fleets(id),
          sequence       INTEGER NOT NULL CHECK (sequence >= 1),
          action         TEXT NOT NULL CHECK (action IN ('lockdown', 'lift', 'revoke', 'fetch-keys', 'pin-emergency-key')),
          scope_kind     TEXT NOT NULL CHECK (scope_kind IN ('fleet', 'group', 'device')),
          scope_id       TEXT,
          reason         TEXT NOT NULL,
          issued_by      TEXT NOT NULL,
          issued_at      INTEGER NOT NULL,
          expires_at     INTEGER NOT NULL,
          request_id     TEXT,
          wipe           INTEGER NOT NULL CHECK (wipe IN (0, 1)),
          signed_command BLOB NOT NULL,
          PRIMARY KEY (fleet_id, sequence),
          CHECK ((scope_kind = 'fleet') = (scope_id IS NULL))
        ) STRICT;
        CREATE TABLE command_acks (
          fleet_id  TEXT NOT NULL,
          sequence  INTEGER NOT NULL,
          device_id TEXT NOT NULL,
          outcome   TEXT NOT NULL CHECK (outcome IN ('applied', 'rejected-signature', 'rejected-replay', 'rejected-expired', 'rejected-malformed', 'failed')),
          acked_at  INTEGER NOT NULL,
          PRIMARY KEY (fleet_id, sequence, device_id),
          FOREIGN KEY (fleet_id, sequence) REFERENCES commands(fleet_id, sequence),
          FOREIGN KEY (fleet_id, device_id) REFERENCES devices(fleet_id, device_id)
        ) STRICT;
        CREATE TABLE lift_requests (
          id                TEXT PRIMARY KEY,
          fleet_id          TEXT NOT NULL REFERENCES fleets(id),
          scope_kind        TEXT NOT NULL CHECK (scope_kind IN ('fleet', 'group', 'device')),
          scope_id          TEXT,
          reason            TEXT NOT NULL,
          requested_by      TEXT NOT NULL,
          requested_at      INTEGER NOT NULL,
          expires_at        INTEGER NOT NULL,
          state             TEXT NOT NULL CHECK (state IN ('pending', 'executed', 'expired', 'superseded')),
          executed_sequence INTEGER,
          CHECK ((scope_kind = 'fleet') = (scope_id IS NULL))
        ) STRICT;
        CREATE INDEX lift_requests_by_fleet ON lift_requests(fleet_id, requested_at);
        CREATE TABLE lift_approvals (
          request_id  TEXT NOT NULL REFERENCES lift_requests(id),
          operator_id TEXT NOT NULL,
          approved_at INTEGER NOT NULL,
          PRIMARY KEY (request_id, operator_id)
        ) STRICT;
        CREATE TABLE signed_artifacts (
          fleet_id  TEXT NOT NULL REFERENCES fleets(id),
          kind      TEXT NOT NULL CHECK (kind IN ('epoch-manifest', 'revocation-list')),
          name      TEXT NOT NULL,
          sequence  INTEGER NOT NULL CHECK (sequence >= 0),
          bytes     BLOB NOT NULL,
          issued_at INTEGER NOT NULL,
          PRIMARY KEY (fleet_id, kind, name)
        ) STRICT;
      `);
      // Artefacts kept in settings by schema 3 move over with sequence 0: the next one written
      // (sequence 1 or more) replaces them. Their bytes are carried over unchanged.
      const rows = db.prepare("SELECT key, value FROM settings WHERE key LIKE 'epoch-manifest/%' OR key LIKE 'revocation-list/%'").all() as { key: string; value: string }[];
      const insert = db.prepare('INSERT INTO signed_artifacts (fleet_id, kind, name, sequence, bytes, issued_at) VALUES (?, ?, ?, 0, ?, 0)');
      for (const row of rows) {
        const [kind, fleetId, name] = row.key.split('/');
        insert.run(fleetId, kind, kind === 'revocation-list' ? '' : (name ?? ''), Buffer.from(row.value, 'base64'));
      }
      db.exec("DELETE FROM settings WHERE key LIKE 'epoch-manifest/%' OR key LIKE 'revocation-list/%'");
    },
  },
  {
    version: 5,
    description: 'two-operator requests for destructive actions, deleted fleets',
    up: (db) => {
      // A deleted fleet keeps its rows (the audit log and revocations refer to them); the triggers
      // refuse anything new in it at the store itself, so no code path can revive it by mistake.
      // 'fleet deleted' is matched by the SQLite layer to answer RecordNotFound.
      const inserts = ['groups', 'enrollment_tokens', 'devices', 'epochs', 'commands', 'lift_requests', 'signed_artifacts', 'command_sequences'];
      db.exec(`
        ALTER TABLE lift_requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'lift' CHECK (kind IN ('lift', 'destroy-epoch', 'delete-fleet'));
        ALTER TABLE lift_requests ADD COLUMN target TEXT CHECK (target IS NULL OR (json_valid(target) AND json_type(target) = 'object'));
        ALTER TABLE fleets ADD COLUMN deleted_at INTEGER;
        ${inserts
          .map(
            (table) => `CREATE TRIGGER ${table}_not_in_deleted_fleet BEFORE INSERT ON ${table}
          WHEN (SELECT deleted_at FROM fleets WHERE id = NEW.fleet_id) IS NOT NULL
          BEGIN SELECT RAISE(ABORT, 'fleet deleted'); END;`,
          )
          .join('\n')}
        CREATE TRIGGER command_sequences_frozen_in_deleted_fleet BEFORE UPDATE ON command_sequences
          WHEN (SELECT deleted_at FROM fleets WHERE id = NEW.fleet_id) IS NOT NULL
          BEGIN SELECT RAISE(ABORT, 'fleet deleted'); END;
        CREATE TRIGGER signed_artifacts_frozen_in_deleted_fleet BEFORE UPDATE ON signed_artifacts
          WHEN (SELECT deleted_at FROM fleets WHERE id = NEW.fleet_id) IS NOT NULL
          BEGIN SELECT RAISE(ABORT, 'fleet deleted'); END;
      `);
    },
  },
]);

/** The schema version this build writes. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.length;

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings `db` to the newest version in `migrations`, one transaction per migration.
 * Returns the versions applied.
 * @throws SchemaVersionUnsupported when the database is newer than `migrations` knows;
 *   TypeError when `migrations` is not numbered 1..N; whatever a migration throws (that
 *   migration is rolled back, earlier ones stay).
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  migrations.forEach((m, index) => {
    if (m.version !== index + 1) throw new TypeError(`"migrations" expected version ${index + 1} at index ${index}, got ${m.version}`);
  });
  const latest = migrations.length;
  const current = schemaVersion(db);
  // Precondition: a database from a newer controller is refused and left unchanged (never guessed at).
  if (current > latest) throw new SchemaVersionUnsupported(current, latest);
  const applied: number[] = [];
  for (const m of migrations.slice(current)) {
    const apply = db.transaction((): boolean => {
      // Re-read under the write lock: another process may have applied it while we waited.
      if (schemaVersion(db) >= m.version) return false;
      m.up(db);
      // PRAGMA takes no bound parameters; the version is an integer from our own table.
      db.pragma(`user_version = ${m.version}`);
      return true;
    });
    if (apply.immediate()) applied.push(m.version);
  }
  return applied;
}
