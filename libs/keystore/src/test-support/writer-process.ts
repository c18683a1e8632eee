/**
 * Test support: a child process that opens a keystore (file protector) and puts keys in a loop,
 * writing `committed <key id>` to stdout after each put returns, i.e. after its transaction
 * committed. The crash test SIGKILLs it mid-loop; the concurrency test lets it finish while the
 * parent reads. Run with `node --import tsx src/test-support/writer-process.ts <db> <key file> <prefix> <count>`.
 *
 * Trust boundary: test-only. Prints key ids, never material (the parent recomputes it).
 */
import { writeSync } from 'node:fs';
import { formatVersionedKeyId } from '@fleetkey/key-types';
import { SecureKeyStore } from '../store.js';
import { fileProtector } from '../protectors/file.js';
import { writerKeyId, writerMaterial } from './materials.js';

const [databasePath, keyFile, prefix, countText] = process.argv.slice(2);
if (!databasePath || !keyFile || !prefix || !countText) {
  writeSync(2, 'usage: writer-process <db> <key file> <prefix> <count>\n');
  process.exit(2);
}
const count = Number(countText);

const store = await SecureKeyStore.open(databasePath, fileProtector({ keyFile }), { busyTimeoutMs: 30_000 });
writeSync(1, 'ready\n');
for (let index = 0; index < count; index += 1) {
  const keyId = writerKeyId(prefix, index);
  const material = writerMaterial(prefix, index);
  store.put({ keyId, algorithm: 'AES_256_GCM', state: 'active', material, tags: { writer: prefix } });
  material.fill(0);
  // Synchronous write: the line reaches the pipe only after put() returned (the commit is done).
  writeSync(1, `committed ${formatVersionedKeyId(keyId)}\n`);
}
store.close();
writeSync(1, 'done\n');
