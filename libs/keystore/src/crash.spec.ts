/**
 * Crash safety with a real process kill: a child puts keys in a loop and reports each commit; the
 * parent SIGKILLs it mid-loop, reopens, and finds every reported key intact with
 * `PRAGMA integrity_check` = ok. (synchronous = FULL: each reported commit was fsynced to the
 * WAL before put() returned.)
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseVersionedKeyId } from '@fleetkey/key-types';
import { fileProtector } from './protectors/file.js';
import { SecureKeyStore } from './store.js';
import { writerMaterial } from './test-support/materials.js';
import { spawnWriter, type Writer } from './test-support/spawn-writer.js';
import { TempDirs } from './test-support/temp-dir.js';

const dirs = new TempDirs();
const writers: Writer[] = [];
afterEach(async () => {
  for (const writer of writers.splice(0)) {
    if (writer.child.exitCode === null && writer.child.signalCode === null) writer.child.kill('SIGKILL');
    await writer.exited;
  }
  dirs.removeAll();
});

describe('crash safety', () => {
  it('every key reported committed before a SIGKILL is intact after reopening', async () => {
    const dir = dirs.make();
    const db = path.join(dir, 'keys.db');
    const keyFile = path.join(dir, 'store.key');
    (await SecureKeyStore.create(db, fileProtector({ keyFile }))).close();

    const writer = spawnWriter(db, keyFile, 'crash', 1_000_000);
    writers.push(writer);
    await writer.ready;
    await writer.waitFor(40);
    writer.child.kill('SIGKILL');
    const { signal } = await writer.exited;
    expect(signal).toBe('SIGKILL');
    const reported = [...writer.committed];
    expect(reported.length).toBeGreaterThanOrEqual(40);
    // The kill left an un-checkpointed WAL behind: reopening has to recover from it.
    expect(existsSync(`${db}-wal`) && statSync(`${db}-wal`).size > 0).toBe(true);

    const store = await SecureKeyStore.open(db, fileProtector({ keyFile }));
    try {
      expect(store.integrityCheck()).toEqual(['ok']);
      for (const text of reported) {
        const id = parseVersionedKeyId(text);
        const index = Number(id.name.slice('crash-'.length));
        const got = store.get(id, id.version);
        expect({ text, equal: Buffer.from(got.material).equals(Buffer.from(writerMaterial('crash', index))) }).toEqual({ text, equal: true });
        got.material.fill(0);
      }
      // At most the one put in flight when the kill landed may exist beyond what was reported.
      const stored = store.list({ tag: { name: 'writer', value: 'crash' } });
      expect(stored.length - reported.length).toBeGreaterThanOrEqual(0);
      expect(stored.length - reported.length).toBeLessThanOrEqual(1);
    } finally {
      store.close();
    }
  }, 60_000);
});
