/**
 * The digest signers against node:crypto: a signature made here over sha-X(message) verifies with
 * crypto.verify('sha-X', message, …), and node's signatures verify here, for every curve, hash and
 * padding the emulators use; malformed digests, keys and signatures are refused.
 *
 * Trust boundary: test tooling; keys are generated per run.
 */
import { constants, createECDH, createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { derToP1363, p1363ToDer } from '@fleetkey/crypto';
import { describe, expect, it } from 'vitest';
import { CURVES, DIGEST_LENGTH, ecdsaSignDigest, ecdsaVerifyDigest, maxPssSaltLength, rsaPkcs1SignDigest, rsaPkcs1VerifyDigest, rsaPssSignDigest, rsaPssVerifyDigest } from './index.js';
import type { DigestName, EcCurve } from './index.js';

const HASHES: readonly DigestName[] = ['sha224', 'sha256', 'sha384', 'sha512'];
const message = Buffer.from('fleetkey digest-signing cross-check');
const other = Buffer.from('a different message');
const digestOf = (hash: DigestName, data: Buffer = message): Buffer => createHash(hash).update(data).digest();

function bigIntBytes(value: bigint, length: number): Buffer {
  return Buffer.from(value.toString(16).padStart(length * 2, '0'), 'hex');
}

describe('ECDSA over a digest', () => {
  const curves = Object.keys(CURVES) as EcCurve[];
  const keys = new Map(curves.map((curve) => [curve, generateKeyPairSync('ec', { namedCurve: CURVES[curve].ecdhName })]));

  describe.each(curves)('%s', (curve) => {
    const { privateKey, publicKey } = keys.get(curve)!;

    it.each(HASHES)('signature over %s(message) verifies with node:crypto, and node signatures verify here', (hash) => {
      const digest = digestOf(hash);
      for (let i = 0; i < 3; i += 1) {
        const sig = ecdsaSignDigest(curve, privateKey, digest, hash);
        expect(sig).toHaveLength(2 * CURVES[curve].bytes);
        expect(verify(hash, message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
        expect(verify(hash, other, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)).toBe(false);
        if (curve !== 'P-256K') expect(verify(hash, message, publicKey, p1363ToDer(sig, curve))).toBe(true);
        expect(ecdsaVerifyDigest(curve, publicKey, digest, sig, hash)).toBe(true);
        expect(ecdsaVerifyDigest(curve, publicKey, digestOf(hash, other), sig, hash)).toBe(false);

        const nodeSig = sign(hash, message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        expect(ecdsaVerifyDigest(curve, publicKey, digest, nodeSig, hash)).toBe(true);
        expect(ecdsaVerifyDigest(curve, publicKey, digestOf(hash, other), nodeSig, hash)).toBe(false);
        if (curve !== 'P-256K') expect(ecdsaVerifyDigest(curve, publicKey, digest, derToP1363(sign(hash, message, privateKey), curve), hash)).toBe(true);
      }
    });

    it('uses a fresh k for every signature (r differs)', () => {
      const digest = digestOf('sha256');
      const rs = new Set(Array.from({ length: 8 }, () => ecdsaSignDigest(curve, privateKey, digest).subarray(0, CURVES[curve].bytes).toString('hex')));
      expect(rs.size).toBe(8);
    });

    it('refuses a digest of the wrong length for the named hash', () => {
      expect(() => ecdsaSignDigest(curve, privateKey, Buffer.alloc(31), 'sha256')).toThrow(RangeError);
      expect(() => ecdsaSignDigest(curve, privateKey, Buffer.alloc(48), 'sha256')).toThrow(RangeError);
      const sig = ecdsaSignDigest(curve, privateKey, digestOf('sha256'), 'sha256');
      expect(ecdsaVerifyDigest(curve, publicKey, digestOf('sha256').subarray(0, 31), sig, 'sha256')).toBe(false);
    });

    it('refuses signatures of the wrong length or with r, s outside [1, n − 1]', () => {
      const { n, bytes } = CURVES[curve];
      const digest = digestOf('sha256');
      const sig = ecdsaSignDigest(curve, privateKey, digest);
      const r = sig.subarray(0, bytes);
      const s = sig.subarray(bytes);
      expect(ecdsaVerifyDigest(curve, publicKey, digest, sig.subarray(1))).toBe(false);
      expect(ecdsaVerifyDigest(curve, publicKey, digest, Buffer.concat([sig, Buffer.alloc(1)]))).toBe(false);
      expect(ecdsaVerifyDigest(curve, publicKey, digest, Buffer.alloc(0))).toBe(false);
      for (const bad of [0n, n, n + 1n, (1n << BigInt(8 * bytes)) - 1n]) {
        expect(ecdsaVerifyDigest(curve, publicKey, digest, Buffer.concat([bigIntBytes(bad, bytes), s]))).toBe(false);
        expect(ecdsaVerifyDigest(curve, publicKey, digest, Buffer.concat([r, bigIntBytes(bad, bytes)]))).toBe(false);
      }
      // s and n − s are both valid ECDSA signatures: (r, n − s) verifies too.
      const negated = Buffer.concat([r, bigIntBytes(n - BigInt(`0x${s.toString('hex')}`), bytes)]);
      expect(ecdsaVerifyDigest(curve, publicKey, digest, negated)).toBe(true);
    });
  });

  it('refuses a key on another curve or of another type', () => {
    const p256 = keys.get('P-256')!;
    const p384 = keys.get('P-384')!;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => ecdsaSignDigest('P-256', p384.privateKey, digestOf('sha256'))).toThrow(TypeError);
    expect(() => ecdsaSignDigest('P-256', p256.publicKey, digestOf('sha256'))).toThrow(TypeError);
    expect(() => ecdsaSignDigest('P-256', rsa.privateKey, digestOf('sha256'))).toThrow(TypeError);
    expect(() => ecdsaVerifyDigest('P-384', p256.publicKey, digestOf('sha256'), Buffer.alloc(96, 1))).toThrow(TypeError);
    expect(() => ecdsaSignDigest('P-999' as EcCurve, p256.privateKey, digestOf('sha256'))).toThrow(RangeError);
  });

  it('has the right curve constants: 1·G = (gx, gy) and (n − 1)·G = −G for every curve', () => {
    for (const curve of Object.values(CURVES)) {
      const point = (k: bigint): { x: bigint; y: bigint } => {
        const ecdh = createECDH(curve.ecdhName);
        ecdh.setPrivateKey(bigIntBytes(k, curve.bytes));
        const pub = ecdh.getPublicKey();
        return { x: BigInt(`0x${pub.subarray(1, 1 + curve.bytes).toString('hex')}`), y: BigInt(`0x${pub.subarray(1 + curve.bytes).toString('hex')}`) };
      };
      const g = point(1n);
      const minusG = point(curve.n - 1n);
      expect(g).toEqual({ x: curve.gx, y: curve.gy });
      expect(minusG.x).toBe(curve.gx);
      expect(minusG.y + curve.gy).toBe(curve.p);
      // a: y² − x³ − a·x is the same b for G and for 2·G.
      const twoG = point(2n);
      const b = (pt: { x: bigint; y: bigint }): bigint => (((pt.y * pt.y - pt.x ** 3n - curve.a * pt.x) % curve.p) + curve.p) % curve.p;
      expect(b(twoG)).toBe(b(g));
    }
  });
});

describe('RSA over a digest', () => {
  // 2048 bits, and 1025 bits so that emLen = k − 1 (modBits − 1 is a multiple of 8).
  const keys = [2048, 1025].map((bits) => ({ bits, ...generateKeyPairSync('rsa', { modulusLength: bits }) }));

  describe.each(keys)('$bits-bit key', ({ privateKey, publicKey }) => {
    const usable = HASHES.filter((hash) => maxPssSaltLength(publicKey, hash) >= 0);

    it.each(usable)('PKCS#1 v1.5 with %s both ways', (hash) => {
      const digest = digestOf(hash);
      const sig = rsaPkcs1SignDigest(privateKey, hash, digest);
      expect(verify(hash, message, publicKey, sig)).toBe(true);
      expect(verify(hash, other, publicKey, sig)).toBe(false);
      expect(rsaPkcs1VerifyDigest(publicKey, hash, digest, sig)).toBe(true);
      expect(rsaPkcs1VerifyDigest(publicKey, hash, digestOf(hash, other), sig)).toBe(false);
      // Deterministic encoding: the same bytes as node's.
      expect(sig.equals(sign(hash, message, privateKey))).toBe(true);
      expect(rsaPkcs1VerifyDigest(publicKey, hash, digest, sign(hash, message, privateKey))).toBe(true);
      // A PSS signature is not a PKCS#1 v1.5 one.
      expect(rsaPkcs1VerifyDigest(publicKey, hash, digest, sign(hash, message, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING }))).toBe(false);
    });

    it.each(usable)('PSS with %s and salt 0, hash length and maximum, both ways, verify with a fixed or auto salt', (hash) => {
      const digest = digestOf(hash);
      const hLen = DIGEST_LENGTH[hash];
      const max = maxPssSaltLength(privateKey, hash);
      for (const saltLength of [...new Set([0, Math.min(hLen, max), max])]) {
        const nodeKey = { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength };
        const sig = rsaPssSignDigest(privateKey, hash, digest, saltLength);
        expect(verify(hash, message, nodeKey, sig)).toBe(true);
        expect(verify(hash, other, nodeKey, sig)).toBe(false);
        expect(rsaPssVerifyDigest(publicKey, hash, digest, sig, saltLength)).toBe(true);
        expect(rsaPssVerifyDigest(publicKey, hash, digest, sig, 'auto')).toBe(true);
        expect(rsaPssVerifyDigest(publicKey, hash, digestOf(hash, other), sig, 'auto')).toBe(false);
        expect(rsaPssVerifyDigest(publicKey, hash, digest, sig, saltLength === 0 ? 1 : saltLength - 1)).toBe(false);

        const nodeSig = sign(hash, message, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
        expect(rsaPssVerifyDigest(publicKey, hash, digest, nodeSig, saltLength)).toBe(true);
        expect(rsaPssVerifyDigest(publicKey, hash, digest, nodeSig, 'auto')).toBe(true);
        expect(rsaPkcs1VerifyDigest(publicKey, hash, digest, nodeSig)).toBe(false);
      }
      if (hLen <= max) {
        // Default salt length = hash length.
        const sig = rsaPssSignDigest(privateKey, hash, digest);
        expect(verify(hash, message, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hLen }, sig)).toBe(true);
        expect(rsaPssVerifyDigest(publicKey, hash, digest, sig)).toBe(true);
      }
    });

    it('refuses a digest of the wrong length and an impossible salt length', () => {
      const short = Buffer.alloc(31);
      expect(() => rsaPkcs1SignDigest(privateKey, 'sha256', short)).toThrow(RangeError);
      expect(() => rsaPssSignDigest(privateKey, 'sha256', short)).toThrow(RangeError);
      expect(() => rsaPkcs1SignDigest(privateKey, 'sha256', digestOf('sha384'))).toThrow(RangeError);
      const max = maxPssSaltLength(privateKey, 'sha256');
      expect(() => rsaPssSignDigest(privateKey, 'sha256', digestOf('sha256'), max + 1)).toThrow(RangeError);
      expect(() => rsaPssSignDigest(privateKey, 'sha256', digestOf('sha256'), -1)).toThrow(RangeError);
      expect(() => rsaPssSignDigest(privateKey, 'sha256', digestOf('sha256'), 1.5)).toThrow(RangeError);
      const sig = rsaPkcs1SignDigest(privateKey, 'sha256', digestOf('sha256'));
      expect(rsaPkcs1VerifyDigest(publicKey, 'sha256', digestOf('sha256').subarray(1), sig)).toBe(false);
      const pss = rsaPssSignDigest(privateKey, 'sha256', digestOf('sha256'), 0);
      expect(rsaPssVerifyDigest(publicKey, 'sha256', digestOf('sha256').subarray(1), pss, 'auto')).toBe(false);
    });

    it('refuses signatures of the wrong length or not below the modulus', () => {
      const digest = digestOf('sha256');
      const k = Math.ceil(publicKey.asymmetricKeyDetails!.modulusLength! / 8);
      const n = Buffer.from(publicKey.export({ format: 'jwk' }).n!, 'base64url');
      const sig = rsaPkcs1SignDigest(privateKey, 'sha256', digest);
      const pss = rsaPssSignDigest(privateKey, 'sha256', digest, 0);
      for (const bad of [Buffer.alloc(0), Buffer.alloc(k), Buffer.alloc(k, 0xff), n, Buffer.alloc(k - 1, 1), Buffer.concat([Buffer.alloc(1), sig]), sig.subarray(1)]) {
        expect(rsaPkcs1VerifyDigest(publicKey, 'sha256', digest, bad)).toBe(false);
        expect(rsaPssVerifyDigest(publicKey, 'sha256', digest, bad, 'auto')).toBe(false);
      }
      const flipped = Buffer.from(pss);
      flipped[k - 1]! ^= 1;
      expect(rsaPssVerifyDigest(publicKey, 'sha256', digest, flipped, 'auto')).toBe(false);
      expect(() => rsaPkcs1VerifyDigest(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey, 'sha256', digest, sig)).toThrow(TypeError);
    });
  });

  it('signs and verifies with a 3072-bit key too', () => {
    for (const bits of [3072]) {
      const { privateKey, publicKey }: { privateKey: KeyObject; publicKey: KeyObject } = generateKeyPairSync('rsa', { modulusLength: bits });
      const digest = digestOf('sha512');
      expect(verify('sha512', message, publicKey, rsaPkcs1SignDigest(privateKey, 'sha512', digest))).toBe(true);
      const pss = rsaPssSignDigest(privateKey, 'sha512', digest);
      expect(verify('sha512', message, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }, pss)).toBe(true);
    }
  });
});
