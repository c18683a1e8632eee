/** Schema versioning: ordered migrations, upgrade of an old store, refusal of a newer one, rollback. */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fileProtector } from '../protectors/file.js';
import { SecureKeyStore } from '../store.js';
import { createStoreFiles } from '../lifecycle.js';
import { fileFingerprint, openRaw } from '../test-support/raw.js';
import { TempDirs } from '../test-support/temp-dir.js';
import { assertMigrationsOrdered, migrate, MIGRATIONS, SCHEMA_VERSION, schemaVersion, type Migration } from './migrations.js';

const dirs = new TempDirs();
afterEach(() => dirs.removeAll());

function layout() {
  const dir = dirs.make();
  return { db: path.join(dir, 'keys.db'), keyFile: path.join(dir, 'store.key') };
}

function tables(db: ReturnType<typeof openRaw>): string[] {
  return db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[];
}

describe('migrations', () => {
  it('are numbered 1..n in order and SCHEMA_VERSION is the last', () => {
    expect(() => assertMigrationsOrdered(MIGRATIONS)).not.toThrow();
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  it.each([
    ['a gap', [MIGRATIONS[0]!, { ...MIGRATIONS[1]!, version: 3 }]],
    ['a repeat', [MIGRATIONS[0]!, MIGRATIONS[0]!]],
    ['a wrong start', [MIGRATIONS[1]!]],
  ])('an unordered list (%s) is a RangeError', (_title, list) => {
    expect(() => assertMigrationsOrdered(list as Migration[])).toThrow(RangeError);
  });

  it('a new store is at SCHEMA_VERSION with every table', async () => {
    const l = layout();
    (await SecureKeyStore.create(l.db, fileProtector({ keyFile: l.keyFile }))).close();
    const raw = openRaw(l.db, l.keyFile);
    try {
      expect(schemaVersion(raw)).toBe(SCHEMA_VERSION);
      expect(tables(raw)).toEqual(['key_tags', 'keys', 'meta']);
    } finally {
      raw.close();
    }
  });

  it('open upgrades a version-1 store in place and keeps its records', async () => {
    const l = layout();
    const v1 = await createStoreFiles(l.db, fileProtector({ keyFile: l.keyFile }), { migrations: MIGRATIONS.slice(0, 1) });
    expect(schemaVersion(v1.db)).toBe(1);
    expect(tables(v1.db)).toEqual(['key_tags', 'keys']);
    v1.db.close();
    v1.storeKey.fill(0);

    const store = await SecureKeyStore.open(l.db, fileProtector({ keyFile: l.keyFile }));
    try {
      expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
      store.setValue('after-upgrade', 'yes');
      expect(store.getValue('after-upgrade')).toBe('yes');
    } finally {
      store.close();
    }
  });

  it('Precondition: a schema newer than this build is refused, never downgraded or written to', async () => {
    const l = layout();
    (await SecureKeyStore.create(l.db, fileProtector({ keyFile: l.keyFile }))).close();
    const raw = openRaw(l.db, l.keyFile);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const before = fileFingerprint(l.db);
    await expect(SecureKeyStore.open(l.db, fileProtector({ keyFile: l.keyFile }))).rejects.toMatchObject({ code: 'STORE_CORRUPT' });
    expect(fileFingerprint(l.db).bytes.equals(before.bytes)).toBe(true);
  });

  it('a failing step rolls back and leaves the previous version intact', async () => {
    const l = layout();
    (await SecureKeyStore.create(l.db, fileProtector({ keyFile: l.keyFile }))).close();
    const raw = openRaw(l.db, l.keyFile);
    try {
      const broken: Migration = {
        version: SCHEMA_VERSION + 1,
        description: 'fails half-way',
        up: (db) => {
          db.exec('CREATE TABLE half_done (x INTEGER)');
          throw new Error('step failed');
        },
      };
      expect(() => migrate(raw, [...MIGRATIONS, broken])).toThrow('step failed');
      expect(schemaVersion(raw)).toBe(SCHEMA_VERSION);
      expect(tables(raw)).not.toContain('half_done');
    } finally {
      raw.close();
    }
  });

  it('migrating an up-to-date database is a no-op', async () => {
    const l = layout();
    (await SecureKeyStore.create(l.db, fileProtector({ keyFile: l.keyFile }))).close();
    const raw = openRaw(l.db, l.keyFile);
    try {
      expect(migrate(raw)).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION });
    } finally {
      raw.close();
    }
  });
});
