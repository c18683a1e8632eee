/** The raw-key string handed to sqlite3_key. */
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3-multiple-ciphers';
import { StoreCorrupt } from '../errors.js';
import { setPragma } from './open-database.js';
import { rawKeyPragmaValue } from './raw-key.js';

describe('rawKeyPragmaValue', () => {
  it("is x'<64 lowercase hex>' for a 32-byte key", () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i * 8);
    expect(rawKeyPragmaValue(key).toString('latin1')).toBe(`x'${Buffer.from(key).toString('hex')}'`);
  });

  it('refuses a key that is not 32 bytes (RangeError)', () => {
    expect(() => rawKeyPragmaValue(new Uint8Array(31))).toThrow(RangeError);
  });
});

describe('setPragma', () => {
  it('Precondition: a security-relevant pragma really took effect', () => {
    // An in-memory database cannot be in WAL mode: SQLite answers "memory" and we must notice.
    const db = new Database(':memory:');
    try {
      expect(() => setPragma(db, 'journal_mode', 'WAL', 'wal')).toThrow(StoreCorrupt);
      expect(() => setPragma(db, 'foreign_keys', 'ON', 1)).not.toThrow();
    } finally {
      db.close();
    }
  });
});
