/** Bearer token generation, hashing and comparison. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateToken, hashToken, MAX_TOKEN_LENGTH, TOKEN_HASH_LENGTH, tokenHashesEqual } from './tokens.js';

describe('tokens', () => {
  it('have the kind prefix and 32 random bytes in base64url', () => {
    const op = generateToken('operator');
    const enr = generateToken('enrollment');
    expect(op).toMatch(/^fk_op_[A-Za-z0-9_-]{43}$/);
    expect(enr).toMatch(/^fk_enr_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(op.slice('fk_op_'.length), 'base64url')).toHaveLength(32);
    expect(new Set(Array.from({ length: 100 }, () => generateToken('operator'))).size).toBe(100);
  });

  it('use the injected randomness and refuse a short read', () => {
    expect(generateToken('operator', (n) => Buffer.alloc(n, 0xff))).toBe(`fk_op_${Buffer.alloc(32, 0xff).toString('base64url')}`);
    expect(() => generateToken('operator', () => Buffer.alloc(16))).toThrow(RangeError);
  });

  it('hash with SHA-256 (known answer)', () => {
    // FIPS 180-4 test vector: SHA-256("abc").
    expect(hashToken('abc').toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const t = generateToken('enrollment');
    expect(hashToken(t).equals(createHash('sha256').update(t).digest())).toBe(true);
    expect(hashToken(t)).toHaveLength(TOKEN_HASH_LENGTH);
  });

  it('Precondition: a presented token is bounded before any work is done on it', () => {
    expect(() => hashToken('x'.repeat(MAX_TOKEN_LENGTH + 1))).toThrow(RangeError);
    expect(() => hashToken('')).toThrow(TypeError);
    expect(() => hashToken(42 as unknown as string)).toThrow(TypeError);
  });

  it('compare hashes in constant time, false on any length mismatch', () => {
    const a = hashToken('a');
    expect(tokenHashesEqual(a, hashToken('a'))).toBe(true);
    expect(tokenHashesEqual(a, hashToken('b'))).toBe(false);
    expect(tokenHashesEqual(a, a.subarray(0, 31))).toBe(false);
  });
});
