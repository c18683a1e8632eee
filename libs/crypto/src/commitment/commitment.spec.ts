import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KEY_COMMITMENT_LENGTH, keyCommitment, keyCommitmentMatches } from './index.js';

const keyId = 'communication/acme/fleet';

describe('keyCommitment', () => {
  it('is HMAC-SHA256 over the documented input, computed independently here', () => {
    const key = new Uint8Array(32).fill(7);
    const expected = createHmac('sha256', key).update('fleetkey/v1 key-commitment\u0000communication/acme/fleet@3').digest();
    expect(Buffer.from(keyCommitment(key, keyId, 3))).toEqual(expected);
    expect(keyCommitment(key, keyId, 3)).toHaveLength(KEY_COMMITMENT_LENGTH);
  });

  it('binds key, key id and version', () => {
    const key = randomBytes(32);
    const base = keyCommitment(key, keyId, 1);
    expect(keyCommitmentMatches(key, keyId, 1, base)).toBe(true);
    expect(keyCommitmentMatches(randomBytes(32), keyId, 1, base)).toBe(false);
    expect(keyCommitmentMatches(key, 'communication/acme/other', 1, base)).toBe(false);
    expect(keyCommitmentMatches(key, keyId, 2, base)).toBe(false);
    // "fleet@1" + "1" must not equal "fleet" + "@11": the version is delimited.
    expect(keyCommitmentMatches(key, `${keyId}1`, 1, keyCommitment(key, keyId, 11))).toBe(false);
  });

  it('treats a commitment of the wrong length as a mismatch, not an error', () => {
    const key = randomBytes(32);
    expect(keyCommitmentMatches(key, keyId, 1, new Uint8Array(31))).toBe(false);
    expect(keyCommitmentMatches(key, keyId, 1, new Uint8Array(0))).toBe(false);
  });

  it.each([
    ['short key', () => keyCommitment(new Uint8Array(31), keyId, 1), RangeError],
    ['not bytes', () => keyCommitment('k' as unknown as Uint8Array, keyId, 1), TypeError],
    ['empty key id', () => keyCommitment(new Uint8Array(32), '', 1), TypeError],
    ['long key id', () => keyCommitment(new Uint8Array(32), 'k'.repeat(256), 1), RangeError],
    ['version 0', () => keyCommitment(new Uint8Array(32), keyId, 0), RangeError],
    ['version 2^31', () => keyCommitment(new Uint8Array(32), keyId, 2 ** 31), RangeError],
    ['fractional version', () => keyCommitment(new Uint8Array(32), keyId, 1.5), RangeError],
  ])('refuses a %s', (_name, call, type) => {
    expect(call).toThrow(type);
  });
});
