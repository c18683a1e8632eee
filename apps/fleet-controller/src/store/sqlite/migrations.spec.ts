/**
 * Schema migrations on real SQLite files: fresh, older, newer, failing and racing databases.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3-multiple-ciphers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock, rejectionCode } from '../testing.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, migrate, schemaVersion, type Migration } from './migrations.js';
import { openSqliteRepository } from './sqlite-repository.js';

describe('migrations', () => {
  let dir: string;
  let path: string;
  const dbs: Database.Database[] = [];
  const raw = () => {
    const db = new Database(path);
    dbs.push(db);
    return db;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fk-migrate-'));
    path = join(dir, 'state.db');
  });
  afterEach(() => {
    for (const db of dbs.splice(0)) if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('are numbered 1..N', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(Array.from({ length: MIGRATIONS.length }, (_, i) => i + 1));
    expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it('bring a fresh database to the latest version', async () => {
    const repo = await openSqliteRepository({ path, clock: manualClock() });
    await repo.close();
    const db = raw();
    expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
    const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all().map((r) => r.name);
    expect(tables).toEqual([
      'audit_heads',
      'audit_records',
      'command_acks',
      'command_sequences',
      'commands',
      'devices',
      'enrollment_tokens',
      'epochs',
      'fleets',
      'groups',
      'lift_approvals',
      'lift_requests',
      'operator_fleets',
      'operators',
      'settings',
      'signed_artifacts',
    ]);
    // Re-running is a no-op.
    expect(migrate(db)).toEqual([]);
  });

  it('moves the signed artefacts schema 3 kept in settings into their table, bytes unchanged, at sequence 0', async () => {
    const db = raw();
    migrate(db, MIGRATIONS.slice(0, 3));
    db.prepare('INSERT INTO fleets (id, name, created_at) VALUES (?, ?, ?)').run('alpha', 'Alpha', 1);
    const manifest = Buffer.from('manifest bytes');
    const list = Buffer.from('revocation list bytes');
    db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run('epoch-manifest/alpha/fleet', manifest.toString('base64'));
    db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run('revocation-list/alpha', list.toString('base64'));
    db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run('controller-keys', '{}');
    db.close();
    const repo = await openSqliteRepository({ path, clock: manualClock() });
    try {
      expect(await repo.getSignedArtifact('alpha', 'epoch-manifest', 'fleet')).toMatchObject({ sequence: 0, bytes: manifest });
      expect(await repo.getSignedArtifact('alpha', 'revocation-list', '')).toMatchObject({ sequence: 0, bytes: list });
      expect(await repo.getSetting('epoch-manifest/alpha/fleet')).toBeUndefined();
      expect(await repo.getSetting('controller-keys')).toBe('{}');
      // The first artefact written after the move (sequence 1) replaces the migrated one.
      await repo.putSignedArtifact({ fleetId: 'alpha', kind: 'revocation-list', name: '', sequence: 1, bytes: new Uint8Array([1]) });
    } finally {
      await repo.close();
    }
  });

  it('migrate a database at an older version, keeping its data', async () => {
    const db = raw();
    expect(migrate(db, MIGRATIONS.slice(0, 1))).toEqual([1]);
    db.prepare('INSERT INTO fleets (id, name, created_at) VALUES (?, ?, ?)').run('alpha', 'Alpha', 1);
    db.close();
    const repo = await openSqliteRepository({ path, clock: manualClock() });
    try {
      expect((await repo.getFleet('alpha'))?.name).toBe('Alpha');
      await repo.createDevice({ fleetId: 'alpha', deviceId: 'r1', serial: 's', certificateDer: new Uint8Array([1]), certificateSerial: '01', keyAlgorithm: 'ECDSA_P256' });
    } finally {
      await repo.close();
    }
    expect(schemaVersion(raw())).toBe(LATEST_SCHEMA_VERSION);
  });

  it('Precondition: a database from a newer controller is refused and left unchanged', async () => {
    const db = raw();
    migrate(db);
    db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 7}`);
    db.close();
    expect(await rejectionCode(openSqliteRepository({ path, clock: manualClock() }))).toBe('SCHEMA_VERSION_UNSUPPORTED');
    expect(schemaVersion(raw())).toBe(LATEST_SCHEMA_VERSION + 7);
  });

  it('roll back a failing migration as a whole, keeping the earlier ones', () => {
    const failing: Migration[] = [
      ...MIGRATIONS.slice(0, 1),
      {
        version: 2,
        description: 'fails half-way',
        up: (db) => {
          db.exec('CREATE TABLE half (x INTEGER)');
          throw new Error('migration failed');
        },
      },
    ];
    const db = raw();
    expect(() => migrate(db, failing)).toThrow('migration failed');
    expect(schemaVersion(db)).toBe(1);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'half'").get()).toEqual({ n: 0 });
  });

  it('refuse a migration list with a gap', () => {
    const gap: Migration[] = [{ ...MIGRATIONS[0]!, version: 2 }];
    expect(() => migrate(raw(), gap)).toThrow(TypeError);
  });

  it('let two connections migrate the same fresh file without conflict', () => {
    const a = raw();
    const b = raw();
    b.pragma('busy_timeout = 5000');
    expect(migrate(a)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(migrate(b)).toEqual([]);
    expect(schemaVersion(b)).toBe(LATEST_SCHEMA_VERSION);
  });
});
