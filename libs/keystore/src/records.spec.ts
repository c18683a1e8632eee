/**
 * SecureKeyStore record rules beyond the conformance suite: the full transition table, import
 * preconditions, and what the per-record AAD buys (a sealed blob moved to another row fails).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KEY_STATES, canTransition, versionedKeyId, type KeyState } from '@fleetkey/key-types';
import { fileProtector } from './protectors/file.js';
import { SecureKeyStore } from './store.js';
import { openRaw } from './test-support/raw.js';
import { TempDirs } from './test-support/temp-dir.js';

const dirs = new TempDirs();
const stores: SecureKeyStore[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  dirs.removeAll();
});

async function newStore() {
  const dir = dirs.make();
  const db = path.join(dir, 'keys.db');
  const keyFile = path.join(dir, 'store.key');
  const store = await SecureKeyStore.create(db, fileProtector({ keyFile }));
  stores.push(store);
  return { store, db, keyFile };
}

const id = (name: string, version = 1) => versionedKeyId('communication', 'acme', name, version);
const put = (store: SecureKeyStore, name: string, state: KeyState = 'active') =>
  store.put({ keyId: id(name), algorithm: 'AES_256_GCM', state, material: new Uint8Array(randomBytes(32)) });

describe('records', () => {
  it('Precondition: only transitions in the key-types lifecycle table are applied', async () => {
    const { store } = await newStore();
    const startStates = KEY_STATES.filter((s) => s !== 'destroyed');
    for (const from of startStates) {
      for (const to of KEY_STATES) {
        const name = `${from}-to-${to}`;
        put(store, name, from);
        const before = store.getMeta(id(name), 1);
        if (canTransition(from, to)) {
          expect(store.transition(id(name), 1, to).state).toBe(to);
        } else {
          expect(() => store.transition(id(name), 1, to)).toThrow(expect.objectContaining({ code: 'ILLEGAL_STATE_TRANSITION' }));
          expect(store.getMeta(id(name), 1)).toEqual(before);
        }
      }
    }
  });

  it('Precondition: only a destroyed key may come without material', async () => {
    const { store } = await newStore();
    put(store, 'fleet');
    const exportKey = new Uint8Array(randomBytes(32));
    const [exported] = store.exportRecords({ exportKey });
    const { wrappedMaterial: _dropped, ...withoutMaterial } = exported!;
    const { store: target } = await newStore();
    expect(() => target.importRecords([withoutMaterial], { exportKey })).toThrow(RangeError);
    expect(() => target.importRecords([{ ...withoutMaterial, state: 'destroyed' }], { exportKey })).not.toThrow();
    expect(target.getMeta(id('fleet'), 1).materialDestroyed).toBe(true);
  });

  it('a sealed blob moved to another row does not open there (STORE_CORRUPT)', async () => {
    const { store, db, keyFile } = await newStore();
    put(store, 'alpha');
    put(store, 'beta');
    const raw = openRaw(db, keyFile);
    try {
      raw.exec(`UPDATE keys SET sealed_material = (SELECT sealed_material FROM keys WHERE name = 'alpha') WHERE name = 'beta'`);
    } finally {
      raw.close();
    }
    expect(() => store.get(id('beta'), 1)).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
    expect(store.get(id('alpha'), 1).material).toHaveLength(32);
  });

  it('a row whose algorithm column was edited does not open (STORE_CORRUPT)', async () => {
    const { store, db, keyFile } = await newStore();
    put(store, 'alpha');
    const raw = openRaw(db, keyFile);
    try {
      raw.exec(`UPDATE keys SET kind = 'storage', algorithm = 'CHACHA20_POLY1305' WHERE name = 'alpha'`);
    } finally {
      raw.close();
    }
    expect(() => store.get(versionedKeyId('storage', 'acme', 'alpha', 1), 1)).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
  });

  it('a row with an out-of-domain state is STORE_CORRUPT, not a half-valid record', async () => {
    const { store, db, keyFile } = await newStore();
    put(store, 'alpha');
    const raw = openRaw(db, keyFile);
    try {
      raw.exec(`UPDATE keys SET state = 'zombie' WHERE name = 'alpha'`);
    } finally {
      raw.close();
    }
    expect(() => store.getMeta(id('alpha'), 1)).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
  });
});
