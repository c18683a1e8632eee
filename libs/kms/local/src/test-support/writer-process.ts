/**
 * Test support: a real second process that opens the same key file and creates keys, printing
 * `created <keyId>` per key and `done` at the end. Run with `node --import tsx`.
 * Usage: writer-process.ts <keyFile> <passphrase> <count>
 *
 * Trust boundary: test-only.
 */
import { localKmsProvider } from '../index.js';

const [keyFile, passphrase, count] = process.argv.slice(2);
const provider = await localKmsProvider({ path: keyFile!, passphrase: passphrase!, lockTimeoutMs: 30_000 });
for (let i = 0; i < Number(count); i += 1) {
  const { keyId } = await provider.createKey({ spec: 'AES_256', tags: { writer: String(process.pid) } });
  process.stdout.write(`created ${keyId}\n`);
}
await provider.close();
process.stdout.write('done\n');
