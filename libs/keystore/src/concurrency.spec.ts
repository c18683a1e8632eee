/**
 * Two processes on one store (the agent and the CLI): a child writes while the parent reads and
 * writes through its own connection. WAL lets readers run beside the writer; busy_timeout and
 * IMMEDIATE transactions let two writers take turns without SQLITE_BUSY.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { versionedKeyId } from '@fleetkey/key-types';
import { fileProtector } from './protectors/file.js';
import { SecureKeyStore } from './store.js';
import { writerKeyId, writerMaterial } from './test-support/materials.js';
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

const COUNT = 150;

describe('two processes', () => {
  it('a child writes while the parent reads and writes; both see a consistent store', async () => {
    const dir = dirs.make();
    const db = path.join(dir, 'keys.db');
    const keyFile = path.join(dir, 'store.key');
    const parent = await SecureKeyStore.create(db, fileProtector({ keyFile }), { busyTimeoutMs: 30_000 });
    try {
      const writer = spawnWriter(db, keyFile, 'child', COUNT);
      writers.push(writer);
      await writer.ready;

      let reads = 0;
      let parentWrites = 0;
      let lastSeen = 0;
      while (writer.child.exitCode === null) {
        // Everything the child reported committed is visible to the parent, with the right material.
        const reported = writer.committed.length;
        const seen = parent.list({ tag: { name: 'writer', value: 'child' } }).length;
        expect(seen).toBeGreaterThanOrEqual(reported);
        expect(seen).toBeGreaterThanOrEqual(lastSeen);
        lastSeen = seen;
        if (reported > 0) {
          const index = reported - 1;
          const got = parent.get(writerKeyId('child', index), 1);
          expect(Buffer.from(got.material).equals(Buffer.from(writerMaterial('child', index)))).toBe(true);
        }
        parent.put({ keyId: versionedKeyId('storage', 'parent', `p-${parentWrites}`, 1), algorithm: 'AES_256_GCM', state: 'active', material: new Uint8Array(32).fill(1) });
        parentWrites += 1;
        reads += 1;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const { code } = await writer.exited;
      expect({ code, stderr: writer.stderr() }).toEqual({ code: 0, stderr: '' });
      expect(writer.committed).toHaveLength(COUNT);
      expect(reads).toBeGreaterThan(1);
      expect(parent.list({ tag: { name: 'writer', value: 'child' } })).toHaveLength(COUNT);
      expect(parent.list({ kind: 'storage', fleet: 'parent' })).toHaveLength(parentWrites);
      expect(parent.integrityCheck()).toEqual(['ok']);
    } finally {
      parent.close();
    }
  }, 60_000);
});
