/**
 * secureDelete and `destroyed`: the sealed blob's bytes are gone from the database image after
 * the delete and its checkpoint (secure_delete = ON overwrites freed cells with zeros). The image
 * is read decrypted through a second connection (`serialize`), since the raw file is ciphertext
 * anyway; a control run with secure_delete OFF shows the check can fail.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { keyId, versionedKeyId } from '@fleetkey/key-types';
import { fileProtector } from './protectors/file.js';
import { SecureKeyStore } from './store.js';
import { contains, openRaw } from './test-support/raw.js';
import { TempDirs } from './test-support/temp-dir.js';

const dirs = new TempDirs();
afterEach(() => dirs.removeAll());

const TARGET = versionedKeyId('communication', 'acme', 'doomed', 1);

async function storeWithTarget() {
  const dir = dirs.make();
  const db = path.join(dir, 'keys.db');
  const keyFile = path.join(dir, 'store.key');
  const store = await SecureKeyStore.create(db, fileProtector({ keyFile }));
  // Neighbours on the same page, so the freed cell sits among live ones.
  for (let i = 0; i < 5; i += 1) {
    store.put({ keyId: versionedKeyId('communication', 'acme', `keep-${i}`, 1), algorithm: 'AES_256_GCM', state: 'active', material: new Uint8Array(randomBytes(32)) });
  }
  store.put({ keyId: TARGET, algorithm: 'AES_256_GCM', state: 'active', material: new Uint8Array(randomBytes(32)), tags: { doomed: 'yes' } });
  store.checkpoint();
  const raw = openRaw(db, keyFile);
  let sealed: Uint8Array;
  let image: Uint8Array;
  try {
    sealed = new Uint8Array(raw.prepare("SELECT sealed_material FROM keys WHERE name = 'doomed'").pluck().get() as Uint8Array);
    image = raw.serialize();
  } finally {
    raw.close();
  }
  // Sanity: before the delete the blob is in the decrypted image (so the checks below can fail).
  expect(contains(image, sealed)).toBe(true);
  return { db, keyFile, store, sealed };
}

function imageOf(db: string, keyFile: string): Uint8Array {
  const raw = openRaw(db, keyFile);
  try {
    return raw.serialize();
  } finally {
    raw.close();
  }
}

describe('secure delete', () => {
  it('secureDelete leaves no byte of the sealed blob in the database image or on disk', async () => {
    const { db, keyFile, store, sealed } = await storeWithTarget();
    try {
      store.secureDelete(keyId('communication', 'acme', 'doomed'), 1);
      expect(contains(imageOf(db, keyFile), sealed)).toBe(false);
      expect(store.list()).toHaveLength(5);
    } finally {
      store.close();
    }
    expect(contains(imageOf(db, keyFile), sealed)).toBe(false);
  });

  it('reaching destroyed overwrites the sealed blob too', async () => {
    const { db, keyFile, store, sealed } = await storeWithTarget();
    try {
      store.transition(TARGET, 1, 'revoked');
      store.transition(TARGET, 1, 'destroyed');
      store.checkpoint();
      expect(contains(imageOf(db, keyFile), sealed)).toBe(false);
    } finally {
      store.close();
    }
  });

  it('control: a plain DELETE with secure_delete OFF leaves the blob in the image', async () => {
    const { db, keyFile, store, sealed } = await storeWithTarget();
    store.close();
    const raw = openRaw(db, keyFile);
    try {
      raw.pragma('secure_delete = OFF');
      raw.prepare("DELETE FROM keys WHERE name = 'doomed'").run();
      raw.pragma('wal_checkpoint(TRUNCATE)');
      expect(contains(raw.serialize(), sealed)).toBe(true);
    } finally {
      raw.close();
    }
  });
});
