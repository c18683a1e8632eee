/**
 * SecureKeyStore on real files: nothing readable on disk without the store key (database AND
 * WAL), a wrong key leaves every file untouched, create/open preconditions, protector changes,
 * zeroization on close.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3-multiple-ciphers';
import { afterEach, describe, expect, it } from 'vitest';
import { keyId, versionedKeyId } from '@fleetkey/key-types';
import { deriveKeyCheck } from './derive.js';
import { fileProtector, passphraseProtector, SecureKeyStore, type StoreKeyProtector } from './index.js';
import { readSidecar, sidecarPath, writeSidecar } from './sidecar.js';
import { contains, fileFingerprint } from './test-support/raw.js';
import { TempDirs } from './test-support/temp-dir.js';

const dirs = new TempDirs();
const open: SecureKeyStore[] = [];
afterEach(() => {
  for (const store of open.splice(0)) store.close();
  dirs.removeAll();
});

function track(store: SecureKeyStore): SecureKeyStore {
  open.push(store);
  return store;
}

async function codeOfAsync(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).name;
  }
  return undefined;
}

function layout() {
  const dir = dirs.make();
  return { dir, db: path.join(dir, 'keys.db'), keyFile: path.join(dir, 'store.key') };
}

const NEEDLE_FLEET = 'needlefleet';
const NEEDLE_NAME = 'needlename';
const NEEDLE_MATERIAL = new Uint8Array(randomBytes(32));
const NEEDLE_TAG = 'needle-tag-value';
const NEEDLE_VALUE = 'needle-meta-value';

function writeNeedles(store: SecureKeyStore): void {
  store.put({
    keyId: versionedKeyId('communication', NEEDLE_FLEET, NEEDLE_NAME, 7),
    algorithm: 'AES_256_GCM',
    state: 'active',
    material: NEEDLE_MATERIAL,
    tags: { group: NEEDLE_TAG },
  });
  store.setValue('note', NEEDLE_VALUE);
}

const NEEDLES: ReadonlyArray<readonly [string, Uint8Array | string]> = [
  ['key material', NEEDLE_MATERIAL],
  ['key id text', `communication/${NEEDLE_FLEET}/${NEEDLE_NAME}`],
  ['fleet', NEEDLE_FLEET],
  ['name', NEEDLE_NAME],
  ['tag value', NEEDLE_TAG],
  ['meta value', NEEDLE_VALUE],
];

describe('nothing on disk is readable without the store key', () => {
  it('the needle scan finds every needle in an unencrypted database (the scan can fail)', () => {
    const { db } = layout();
    const plain = new Database(db);
    plain.pragma('journal_mode = WAL');
    plain.exec('CREATE TABLE t (a BLOB, b TEXT, c TEXT)');
    plain.prepare('INSERT INTO t VALUES (?, ?, ?)').run(
      Buffer.from(NEEDLE_MATERIAL),
      `communication/${NEEDLE_FLEET}/${NEEDLE_NAME} ${NEEDLE_TAG}`,
      NEEDLE_VALUE,
    );
    const wal = readFileSync(`${db}-wal`);
    for (const [, needle] of NEEDLES) expect(contains(wal, needle)).toBe(true);
    plain.close();
  });

  it.each([
    ['file', (l: ReturnType<typeof layout>) => fileProtector({ keyFile: l.keyFile })],
    ['passphrase', () => passphraseProtector({ passphrase: 'a long enough passphrase' })],
  ])('%s protector: the database and the live WAL hold no id, material, tag or value in the clear', async (_name, make) => {
    const l = layout();
    const store = track(await SecureKeyStore.create(l.db, make(l)));
    writeNeedles(store);
    // The WAL is still present: the store is open and has not checkpointed.
    expect(existsSync(`${l.db}-wal`)).toBe(true);
    const wal = readFileSync(`${l.db}-wal`);
    expect(wal.length).toBeGreaterThan(0);
    for (const file of [l.db, `${l.db}-wal`, `${l.db}-shm`, sidecarPath(l.db)]) {
      const bytes = readFileSync(file);
      for (const [label, needle] of NEEDLES) expect({ file: path.basename(file), label, found: contains(bytes, needle) }).toMatchObject({ found: false });
    }
    store.close();
    const closed = readFileSync(l.db);
    for (const [, needle] of NEEDLES) expect(contains(closed, needle)).toBe(false);
    expect(contains(closed, 'SQLite format 3')).toBe(false);
  });

  it('the database, WAL and key file are created mode 0600', async () => {
    const l = layout();
    const store = track(await SecureKeyStore.create(l.db, fileProtector({ keyFile: l.keyFile })));
    writeNeedles(store);
    for (const file of [l.db, `${l.db}-wal`, l.keyFile, sidecarPath(l.db)]) {
      expect({ file: path.basename(file), mode: statSync(file).mode & 0o777 }).toEqual({ file: path.basename(file), mode: 0o600 });
    }
  });
});

describe('a wrong key changes nothing', () => {
  async function populated(protector: StoreKeyProtector, l: ReturnType<typeof layout>) {
    const store = await SecureKeyStore.create(l.db, protector);
    writeNeedles(store);
    store.close();
    await new Promise((resolve) => setTimeout(resolve, 20)); // let an mtime change be visible
    return { db: fileFingerprint(l.db), sidecar: fileFingerprint(sidecarPath(l.db)), listing: readdirSync(l.dir).sort() };
  }

  function expectUnchanged(l: ReturnType<typeof layout>, before: Awaited<ReturnType<typeof populated>>) {
    const after = fileFingerprint(l.db);
    expect(after.bytes.equals(before.db.bytes)).toBe(true);
    expect(after.mtimeMs).toBe(before.db.mtimeMs);
    expect(fileFingerprint(sidecarPath(l.db)).bytes.equals(before.sidecar.bytes)).toBe(true);
    expect(readdirSync(l.dir).sort()).toEqual(before.listing);
  }

  it('wrong passphrase -> STORE_KEY_INVALID, files untouched', async () => {
    const l = layout();
    const before = await populated(passphraseProtector({ passphrase: 'the right passphrase' }), l);
    expect(await codeOfAsync(SecureKeyStore.open(l.db, passphraseProtector({ passphrase: 'the wrong passphrase' })))).toBe('STORE_KEY_INVALID');
    expectUnchanged(l, before);
  });

  it('Precondition: the unlocked key matches the sidecar\'s key check before SQLite sees the file', async () => {
    const l = layout();
    const before = await populated(fileProtector({ keyFile: l.keyFile }), l);
    writeFileSync(l.keyFile, randomBytes(32), { mode: 0o600 });
    chmodSync(l.keyFile, 0o600);
    const listing = readdirSync(l.dir).sort();
    expect(await codeOfAsync(SecureKeyStore.open(l.db, fileProtector({ keyFile: l.keyFile })))).toBe('STORE_KEY_INVALID');
    expectUnchanged(l, { ...before, listing });
  });

  it('a key that passes a forged key check still fails at SQLite (NOTADB -> STORE_KEY_INVALID), files untouched', async () => {
    const l = layout();
    const before = await populated(fileProtector({ keyFile: l.keyFile }), l);
    const wrongKey = new Uint8Array(randomBytes(32));
    writeFileSync(l.keyFile, wrongKey, { mode: 0o600 });
    const sidecar = await readSidecar(l.db);
    await writeSidecar(l.db, { ...sidecar, keyCheck: deriveKeyCheck(wrongKey) });
    const forged = { ...before, sidecar: fileFingerprint(sidecarPath(l.db)), listing: readdirSync(l.dir).sort() };
    expect(await codeOfAsync(SecureKeyStore.open(l.db, fileProtector({ keyFile: l.keyFile })))).toBe('STORE_KEY_INVALID');
    expectUnchanged(l, forged);
  });

  it('Precondition: the protector is of the kind that protected this store', async () => {
    const l = layout();
    const before = await populated(fileProtector({ keyFile: l.keyFile }), l);
    expect(await codeOfAsync(SecureKeyStore.open(l.db, passphraseProtector({ passphrase: 'whatever passphrase' })))).toBe('STORE_KEY_INVALID');
    expectUnchanged(l, before);
  });
});

describe('create / open', () => {
  it.each(['', '-wal', '-shm', '-journal', '.keyinfo.json'])(
    'Precondition: create never touches an existing store (%s exists -> STORE_EXISTS)',
    async (suffix) => {
      const l = layout();
      writeFileSync(l.db + suffix, 'occupied');
      expect(await codeOfAsync(SecureKeyStore.create(l.db, fileProtector({ keyFile: l.keyFile })))).toBe('STORE_EXISTS');
      expect(readFileSync(l.db + suffix, 'utf8')).toBe('occupied');
      expect(existsSync(l.keyFile)).toBe(false);
    },
  );

  it('create over an existing key file fails and leaves no database or sidecar behind', async () => {
    const l = layout();
    writeFileSync(l.keyFile, randomBytes(32), { mode: 0o600 });
    expect(await codeOfAsync(SecureKeyStore.create(l.db, fileProtector({ keyFile: l.keyFile })))).toBe('STORE_EXISTS');
    expect(readdirSync(l.dir)).toEqual(['store.key']);
  });

  it('open of a missing database or sidecar is STORE_NOT_FOUND', async () => {
    const l = layout();
    expect(await codeOfAsync(SecureKeyStore.open(l.db, fileProtector({ keyFile: l.keyFile })))).toBe('STORE_NOT_FOUND');
    track(await SecureKeyStore.create(l.db, fileProtector({ keyFile: l.keyFile }))).close();
    rmSync(sidecarPath(l.db));
    expect(await codeOfAsync(SecureKeyStore.open(l.db, fileProtector({ keyFile: l.keyFile })))).toBe('STORE_NOT_FOUND');
  });

  it('Precondition: an existing keystore has a schema (a truncated file is STORE_CORRUPT, not an empty store)', async () => {
    const l = layout();
    track(await SecureKeyStore.create(l.db, fileProtector({ keyFile: l.keyFile }))).close();
    truncateSync(l.db, 0);
    expect(await codeOfAsync(SecureKeyStore.open(l.db, fileProtector({ keyFile: l.keyFile })))).toBe('STORE_CORRUPT');
  });

  it('a damaged database page is STORE_CORRUPT or STORE_KEY_INVALID, never data', async () => {
    const l = layout();
    const store = track(await SecureKeyStore.create(l.db, fileProtector({ keyFile: l.keyFile })));
    writeNeedles(store);
    store.close();
    const bytes = readFileSync(l.db);
    bytes[100] = bytes[100]! ^ 0xff; // inside page 1, past the plaintext header bytes
    writeFileSync(l.db, bytes);
    const code = await codeOfAsync(SecureKeyStore.open(l.db, fileProtector({ keyFile: l.keyFile })));
    expect(['STORE_CORRUPT', 'STORE_KEY_INVALID']).toContain(code);
  });

  it('close zeroizes the store key the protector handed over', async () => {
    const l = layout();
    const inner = fileProtector({ keyFile: l.keyFile });
    const handed: Uint8Array[] = [];
    const spy: StoreKeyProtector = {
      kind: inner.kind,
      create: async () => {
        const created = await inner.create();
        handed.push(created.storeKey);
        return created;
      },
      protect: (key) => inner.protect(key),
      unlock: async (descriptor) => {
        const key = await inner.unlock(descriptor);
        handed.push(key);
        return key;
      },
    };
    const store = await SecureKeyStore.create(l.db, spy);
    expect(handed[0]!.some((b) => b !== 0)).toBe(true);
    store.close();
    expect(handed[0]!.every((b) => b === 0)).toBe(true);
    const reopened = await SecureKeyStore.open(l.db, spy);
    expect(handed[1]!.some((b) => b !== 0)).toBe(true);
    reopened.close();
    expect(handed[1]!.every((b) => b === 0)).toBe(true);
  });

  it('a wrong key zeroizes the key the protector handed over', async () => {
    const l = layout();
    track(await SecureKeyStore.create(l.db, fileProtector({ keyFile: l.keyFile }))).close();
    writeFileSync(l.keyFile, randomBytes(32), { mode: 0o600 });
    let handed: Uint8Array | undefined;
    const inner = fileProtector({ keyFile: l.keyFile });
    const spy: StoreKeyProtector = {
      kind: inner.kind,
      create: () => inner.create(),
      protect: (key) => inner.protect(key),
      unlock: async (descriptor) => (handed = await inner.unlock(descriptor)),
    };
    expect(await codeOfAsync(SecureKeyStore.open(l.db, spy))).toBe('STORE_KEY_INVALID');
    expect(handed!.every((b) => b === 0)).toBe(true);
  });

  it('refuses bad options', async () => {
    const l = layout();
    const protector = fileProtector({ keyFile: l.keyFile });
    expect(await codeOfAsync(SecureKeyStore.create(l.db, protector, { busyTimeoutMs: -1 }))).toBe('RangeError');
    expect(await codeOfAsync(SecureKeyStore.create(l.db, protector, { openClockSkewMs: 1.5 }))).toBe('RangeError');
    expect(await codeOfAsync(SecureKeyStore.create(l.db, protector, { now: 5 as never }))).toBe('TypeError');
    expect(await codeOfAsync(SecureKeyStore.create('', protector))).toBe('TypeError');
    expect(existsSync(l.db)).toBe(false);
  });
});

describe('changing the protector', () => {
  it('a new passphrase re-wraps the store key without re-encrypting the database', async () => {
    const l = layout();
    const store = await SecureKeyStore.create(l.db, passphraseProtector({ passphrase: 'old passphrase!' }));
    writeNeedles(store);
    store.close();
    const dbBefore = fileFingerprint(l.db);
    const sidecarBefore = readFileSync(sidecarPath(l.db));
    const reopened = await SecureKeyStore.open(l.db, passphraseProtector({ passphrase: 'old passphrase!' }));
    await reopened.changeProtector(passphraseProtector({ passphrase: 'new passphrase!' }));
    reopened.close();
    expect(fileFingerprint(l.db).bytes.equals(dbBefore.bytes)).toBe(true);
    expect(readFileSync(sidecarPath(l.db)).equals(sidecarBefore)).toBe(false);
    expect(await codeOfAsync(SecureKeyStore.open(l.db, passphraseProtector({ passphrase: 'old passphrase!' })))).toBe('STORE_KEY_INVALID');
    const withNew = track(await SecureKeyStore.open(l.db, passphraseProtector({ passphrase: 'new passphrase!' })));
    expect(Buffer.from(withNew.get(keyId('communication', NEEDLE_FLEET, NEEDLE_NAME), 7).material).equals(Buffer.from(NEEDLE_MATERIAL))).toBe(true);
    expect(readdirSync(l.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('moves from a passphrase to a key file', async () => {
    const l = layout();
    const store = await SecureKeyStore.create(l.db, passphraseProtector({ passphrase: 'old passphrase!' }));
    writeNeedles(store);
    await store.changeProtector(fileProtector({ keyFile: l.keyFile }));
    store.close();
    const reopened = track(await SecureKeyStore.open(l.db, fileProtector({ keyFile: l.keyFile })));
    expect(reopened.getValue('note')).toBe(NEEDLE_VALUE);
  });
});
