/**
 * Child process for the cross-process burn race in sqlite-repository.spec.ts: opens the store
 * file given in argv, prints "ready", waits for "go" on stdin, then burns every token hash
 * (hex, comma-separated) and prints one JSON line of the hashes it won.
 *
 * Test support only: never imported by production code.
 */
import { createInterface } from 'node:readline';
import { openSqliteRepository } from './sqlite-repository.js';

const [path, hashesHex, nowText] = process.argv.slice(2);
if (path === undefined || hashesHex === undefined || nowText === undefined) throw new TypeError('usage: burn-child PATH HASHES NOW');
const now = Number(nowText);
const repository = await openSqliteRepository({ path, clock: () => now });
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() !== 'go') continue;
  const won: string[] = [];
  for (const hex of hashesHex.split(',')) {
    const result = await repository.burnEnrollmentToken(Buffer.from(hex, 'hex'), now);
    if (result.ok) won.push(hex);
  }
  process.stdout.write(`${JSON.stringify({ won })}\n`);
  break;
}
lines.close();
await repository.close();
