/**
 * Test support: raw access to a keystore's files for tests that must look under the API (scan the
 * bytes on disk, open a second connection with the store key read from a file-protector key file).
 * Not exported from the package index.
 *
 * Trust boundary: test-only.
 */
import { readFileSync, statSync } from 'node:fs';
import { openEncryptedDatabase, type SqliteDatabase } from '../sqlite/open-database.js';

export function fileBytes(file: string): Buffer {
  return readFileSync(file);
}

export function fileFingerprint(file: string): { bytes: Buffer; mtimeMs: number; size: number } {
  const stat = statSync(file);
  return { bytes: readFileSync(file), mtimeMs: stat.mtimeMs, size: stat.size };
}

/** Opens a second connection to a store protected by a file protector. */
export function openRaw(databasePath: string, keyFile: string): SqliteDatabase {
  const key = new Uint8Array(readFileSync(keyFile));
  try {
    return openEncryptedDatabase(databasePath, key, { create: false });
  } finally {
    key.fill(0);
  }
}

/** Whether `haystack` contains `needle` as a byte string. */
export function contains(haystack: Uint8Array, needle: Uint8Array | string): boolean {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).includes(
    typeof needle === 'string' ? Buffer.from(needle, 'utf8') : Buffer.from(needle),
  );
}
