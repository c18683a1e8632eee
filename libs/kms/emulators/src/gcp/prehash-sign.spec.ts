/** Prehash signatures made by the emulator verify with node:crypto over the original message. */
import { constants, createHash, generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ecdsaSignDigest, rsaPkcs1SignDigest, rsaPssSignDigest } from './prehash-sign.js';

const message = Buffer.from('fleetkey prehash test message');

describe('prehash signing', () => {
  it.each([
    ['P-256', 'sha256'],
    ['P-384', 'sha384'],
  ] as const)('ECDSA %s over a %s digest verifies over the message', (curve, hash) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    const digest = createHash(hash).update(message).digest();
    for (let i = 0; i < 5; i++) {
      const sig = ecdsaSignDigest(privateKey, curve, digest);
      expect(verify(hash, message, publicKey, sig)).toBe(true);
      expect(verify(hash, Buffer.from('other'), publicKey, sig)).toBe(false);
    }
  });

  it('ECDSA refuses a digest of the wrong length', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => ecdsaSignDigest(privateKey, 'P-256', new Uint8Array(48))).toThrow(RangeError);
  });

  it.each([2048, 3072])('RSA PKCS#1 v1.5 and PSS (%i bits) over a SHA-256 digest verify', (bits) => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
    const digest = createHash('sha256').update(message).digest();
    expect(verify('sha256', message, publicKey, rsaPkcs1SignDigest(privateKey, 'sha256', digest))).toBe(true);
    const pss = rsaPssSignDigest(privateKey, 'sha256', digest);
    expect(verify('sha256', message, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, pss)).toBe(true);
    expect(verify('sha256', Buffer.from('x'), { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, pss)).toBe(false);
  });
});
