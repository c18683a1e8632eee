/**
 * Runs the KeyStore conformance suite against SecureKeyStore with each protector, on real SQLite
 * files in temporary directories.
 */
import path from 'node:path';
import { fileProtector, passphraseProtector, SecureKeyStore, type KeyStore } from './index.js';
import { runKeyStoreConformance } from './testing.js';
import { TempDirs } from './test-support/temp-dir.js';

const dirs = new TempDirs();
const paths = new WeakMap<KeyStore, string>();

runKeyStoreConformance({
  name: 'SecureKeyStore (file protector)',
  async create({ now }) {
    const dir = dirs.make();
    const store = await SecureKeyStore.create(path.join(dir, 'keys.db'), fileProtector({ keyFile: path.join(dir, 'store.key') }), { now });
    paths.set(store, dir);
    return store;
  },
  async reopen(store, { now }) {
    store.close();
    const dir = paths.get(store)!;
    const reopened = await SecureKeyStore.open(path.join(dir, 'keys.db'), fileProtector({ keyFile: path.join(dir, 'store.key') }), { now });
    paths.set(reopened, dir);
    return reopened;
  },
  cleanup: () => dirs.removeAll(),
});

const PASSPHRASE = 'correct horse battery staple';

runKeyStoreConformance({
  name: 'SecureKeyStore (passphrase protector)',
  async create({ now }) {
    const dir = dirs.make();
    const store = await SecureKeyStore.create(path.join(dir, 'keys.db'), passphraseProtector({ passphrase: PASSPHRASE }), { now });
    paths.set(store, dir);
    return store;
  },
  async reopen(store, { now }) {
    store.close();
    const dir = paths.get(store)!;
    const reopened = await SecureKeyStore.open(path.join(dir, 'keys.db'), passphraseProtector({ passphrase: PASSPHRASE }), { now });
    paths.set(reopened, dir);
    return reopened;
  },
  cleanup: () => dirs.removeAll(),
});
