/**
 * SecureKeyStore costs, each next to a baseline measured in the same run:
 *  1. open + unlock of a 10,000-key store, file and passphrase protectors, with the scrypt cost
 *     shown on its own (baseline: opening the same rows in a plain, unencrypted SQLite file);
 *  2. get / put latency p50 / p99 (baseline: the same SELECT / INSERT on a plain SQLite file, no
 *     cipher, no envelope, same WAL + synchronous=FULL, so the difference is encryption + sealing
 *     and not fsync policy);
 *  3. sealing / opening 1 KiB through the store's record sealing vs raw AES-256-GCM.
 * The 10,000-key stores are built once in a temp directory (one import transaction each) and
 * removed at the end. Keep the whole run under ~60 s.
 *
 * Trust boundary: none; benchmark with throwaway keys in a temp directory.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3-multiple-ciphers';
import { percentile, printMeasurements, runComparison } from '@fleetkey/bench';
import { keyId, versionedKeyId, type VersionedKeyId } from '@fleetkey/key-types';
import { fileProtector, passphraseProtector, SecureKeyStore, sidecarPath, type ExportedKeyRecord } from '../src/index.js';
import { deriveRecordKey } from '../src/derive.js';
import { readSidecar } from '../src/sidecar.js';
import { openRecordMaterial, sealRecordMaterial } from '../src/records/seal.js';
import { deriveScryptKey } from '../src/protectors/scrypt.js';
import { decodeBase64Field } from '../src/base64.js';

const KEYS = 10_000;
const PASSPHRASE = 'benchmark passphrase';
const dir = mkdtempSync(path.join(os.tmpdir(), 'fleetkey-keystore-bench-'));

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function idFor(i: number): VersionedKeyId {
  return versionedKeyId('communication', 'bench', `key-${i}`, 1);
}

try {
  // ---- build: one file-protected store of 10,000 keys, a passphrase-protected copy, a plain baseline
  const fileDb = path.join(dir, 'file.db');
  const keyFile = path.join(dir, 'file.key');
  const start = process.hrtime.bigint();
  const builder = await SecureKeyStore.create(fileDb, fileProtector({ keyFile }));
  const now = new Date();
  const records: ExportedKeyRecord[] = Array.from({ length: KEYS }, (_, i) => ({
    keyId: idFor(i),
    algorithm: 'AES_256_GCM',
    state: 'active',
    tags: { group: `g${i % 10}` },
    createdAt: now,
    updatedAt: now,
    wrappedMaterial: new Uint8Array(randomBytes(32)),
  }));
  builder.importRecords(records, { unwrap: (wrapped) => new Uint8Array(wrapped) });
  builder.close();
  const buildMs = ms(start);

  const passDb = path.join(dir, 'pass.db');
  copyFileSync(fileDb, passDb);
  copyFileSync(sidecarPath(fileDb), sidecarPath(passDb));
  const passKeyFile = path.join(dir, 'pass.key');
  copyFileSync(keyFile, passKeyFile);
  const converting = await SecureKeyStore.open(passDb, fileProtector({ keyFile: passKeyFile }));
  await converting.changeProtector(passphraseProtector({ passphrase: PASSPHRASE }));
  converting.close();
  rmSync(passKeyFile);

  const plainDb = path.join(dir, 'plain.db');
  const plain = new Database(plainDb);
  plain.pragma('journal_mode = WAL');
  plain.pragma('synchronous = FULL');
  plain.exec('CREATE TABLE keys (kind TEXT, fleet TEXT, name TEXT, version INTEGER, algorithm TEXT, state TEXT, material BLOB, PRIMARY KEY (kind, fleet, name, version)) WITHOUT ROWID');
  const plainInsert = plain.prepare('INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?, ?)');
  plain.transaction(() => {
    for (let i = 0; i < KEYS; i += 1) plainInsert.run('communication', 'bench', `key-${i}`, 1, 'AES_256_GCM', 'active', randomBytes(32));
  })();
  plain.close();

  // ---- 1. open + unlock
  const samples = (n: number, fn: () => Promise<void> | void) => async () => {
    const out: number[] = [];
    for (let i = 0; i < n; i += 1) {
      const t = process.hrtime.bigint();
      await fn();
      out.push(ms(t));
    }
    return out;
  };
  const plainOpen = await samples(20, () => {
    const db = new Database(plainDb, { fileMustExist: true });
    db.prepare('SELECT count(*) FROM keys').pluck().get();
    db.close();
  })();
  const fileOpen = await samples(20, async () => {
    const store = await SecureKeyStore.open(fileDb, fileProtector({ keyFile }));
    store.getMeta(keyId('communication', 'bench', 'key-1'), 1);
    store.close();
  })();
  const passOpen = await samples(5, async () => {
    const store = await SecureKeyStore.open(passDb, passphraseProtector({ passphrase: PASSPHRASE }));
    store.getMeta(keyId('communication', 'bench', 'key-1'), 1);
    store.close();
  })();
  const sidecar = await readSidecar(passDb);
  const salt = decodeBase64Field(sidecar.protector['salt'], 'salt', 16, 16);
  const passphraseBytes = new TextEncoder().encode(PASSPHRASE);
  const scryptOnly = await samples(5, async () => {
    (await deriveScryptKey(passphraseBytes, salt, { N: 2 ** 15, r: 8, p: 1 })).fill(0);
  })();
  const p50 = (s: number[]) => percentile(s, 50);
  printMeasurements(`open + unlock of a ${KEYS.toLocaleString('en')}-key store (ms, p50 of n runs)`, [
    [`build: import ${KEYS} keys in one transaction`, `${buildMs.toFixed(0)} ms`],
    ['baseline: plain SQLite open + first read (n=20)', `${p50(plainOpen).toFixed(2)} ms`],
    ['file protector: open + unlock + first read (n=20)', `${p50(fileOpen).toFixed(2)} ms (${(p50(fileOpen) / p50(plainOpen)).toFixed(1)}x baseline)`],
    ['passphrase protector: open + unlock + first read (n=5)', `${p50(passOpen).toFixed(2)} ms`],
    ['  of which scrypt N=2^15 r=8 p=1 alone (n=5)', `${p50(scryptOnly).toFixed(2)} ms`],
    ['  passphrase minus scrypt', `${(p50(passOpen) - p50(scryptOnly)).toFixed(2)} ms`],
  ]);

  // ---- 2. get / put latency
  const store = await SecureKeyStore.open(fileDb, fileProtector({ keyFile }));
  const baseline = new Database(plainDb, { fileMustExist: true });
  baseline.pragma('journal_mode = WAL');
  baseline.pragma('synchronous = FULL');
  const baselineGet = baseline.prepare('SELECT * FROM keys WHERE kind = ? AND fleet = ? AND name = ? AND version = ?');
  const baselinePut = baseline.prepare('INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?, ?)');
  let cursor = 0;
  const nextIndex = () => (cursor = (cursor * 7919 + 17) % KEYS);
  await runComparison({
    title: `get one key of ${KEYS.toLocaleString('en')} (vs plain SQLite SELECT, no cipher, no envelope)`,
    baseline: { name: 'plain SELECT by primary key', fn: () => baselineGet.get('communication', 'bench', `key-${nextIndex()}`, 1) },
    cases: [
      {
        name: 'SecureKeyStore.get (decrypt page + open envelope)',
        fn: () => store.get(keyId('communication', 'bench', `key-${nextIndex()}`), 1).material.fill(0),
      },
    ],
    time: 1500,
  });
  let written = 0;
  const material = new Uint8Array(randomBytes(32));
  await runComparison({
    title: 'put one key, committed with synchronous=FULL (vs plain SQLite INSERT, same WAL + fsync policy)',
    baseline: { name: 'plain INSERT (own transaction)', fn: () => baselinePut.run('communication', 'bench', `plain-${written++}`, 1, 'AES_256_GCM', 'active', material) },
    cases: [
      {
        name: 'SecureKeyStore.put (seal + tags + transaction)',
        fn: () => store.put({ keyId: versionedKeyId('communication', 'bench', `put-${written++}`, 1), algorithm: 'AES_256_GCM', state: 'active', material }),
      },
    ],
    time: 1500,
    iterations: 32,
  });
  store.close();
  baseline.close();

  // ---- 3. seal / open 1 KiB
  const recordKey = deriveRecordKey(new Uint8Array(randomBytes(32)));
  const kib = new Uint8Array(randomBytes(1024));
  const id = idFor(1);
  const sealed = sealRecordMaterial(recordKey, id, 'AES_256_GCM', kib);
  const rawKey = Buffer.from(recordKey);
  const rawSeal = () => {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', rawKey, nonce, { authTagLength: 16 });
    return [nonce, cipher.update(kib), cipher.final(), cipher.getAuthTag()];
  };
  const [rawNonce, rawBody, , rawTag] = rawSeal() as [Buffer, Buffer, Buffer, Buffer];
  const rawOpen = () => {
    const decipher = createDecipheriv('aes-256-gcm', rawKey, rawNonce, { authTagLength: 16 });
    decipher.setAuthTag(rawTag);
    const out = decipher.update(rawBody);
    decipher.final();
    return out;
  };
  if (Buffer.compare(Buffer.from(openRecordMaterial(recordKey, id, 'AES_256_GCM', sealed)), Buffer.from(kib)) !== 0) throw new Error('record round trip failed');
  await runComparison({
    title: 'record sealing, 1 KiB (vs raw AES-256-GCM encrypt of 1 KiB)',
    baseline: { name: 'raw aes-256-gcm encrypt 1 KiB', fn: rawSeal },
    cases: [{ name: 'sealRecordMaterial 1 KiB', fn: () => sealRecordMaterial(recordKey, id, 'AES_256_GCM', kib), maxCostRatio: 3 }],
    time: 1000,
  });
  await runComparison({
    title: 'record opening, 1 KiB (vs raw AES-256-GCM decrypt of 1 KiB)',
    baseline: { name: 'raw aes-256-gcm decrypt 1 KiB', fn: rawOpen },
    cases: [{ name: 'openRecordMaterial 1 KiB', fn: () => openRecordMaterial(recordKey, id, 'AES_256_GCM', sealed).fill(0), maxCostRatio: 3 }],
    time: 1000,
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
