/** Tests for the Signer port, local signers and signature verification, for every algorithm. */
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KeyAlgorithm } from '@fleetkey/key-types';
import { SIGNATURE_ALGORITHMS, defaultSignatureAlgorithm, signatureAlgorithmInfo, signatureAlgorithmsFor } from './algorithms.js';
import type { SignatureAlgorithm } from './algorithms.js';
import { derToP1363 } from './ecdsa-der.js';
import { generateKeyPair } from './keys.js';
import { keyAlgorithmOf, publicKeyFingerprint } from './key-algorithm.js';
import { createLocalSigner } from './signer.js';
import { MAX_SIGNED_MESSAGE_LENGTH, assertSignature, verifySignature } from './verify.js';

const KEY_FOR: Record<SignatureAlgorithm, KeyAlgorithm> = {
  ECDSA_P256_SHA256: 'ECDSA_P256',
  ECDSA_P384_SHA384: 'ECDSA_P384',
  ECDSA_P521_SHA512: 'ECDSA_P521',
  RSA_PKCS1_SHA256: 'RSA_2048',
  RSA_PSS_SHA256: 'RSA_2048',
  ED25519: 'ED25519',
};

const keys = new Map<KeyAlgorithm, { privateKey: KeyObject; publicKey: KeyObject }>();
beforeAll(async () => {
  for (const algorithm of new Set(Object.values(KEY_FOR))) keys.set(algorithm, await generateKeyPair(algorithm));
});

function pair(algorithm: KeyAlgorithm) {
  return keys.get(algorithm)!;
}

/** The public key as a peer would have it: re-imported from SPKI bytes, no private half around. */
function publicOnly(key: KeyObject): KeyObject {
  return createPublicKey({ key: key.export({ type: 'spki', format: 'der' }), format: 'der', type: 'spki' });
}

describe('signature algorithms', () => {
  it('maps each asymmetric key algorithm to its default signature algorithm', () => {
    expect(defaultSignatureAlgorithm('ECDSA_P256')).toBe('ECDSA_P256_SHA256');
    expect(defaultSignatureAlgorithm('ECDSA_P384')).toBe('ECDSA_P384_SHA384');
    expect(defaultSignatureAlgorithm('ECDSA_P521')).toBe('ECDSA_P521_SHA512');
    for (const rsa of ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const) expect(defaultSignatureAlgorithm(rsa)).toBe('RSA_PKCS1_SHA256');
    expect(defaultSignatureAlgorithm('ED25519')).toBe('ED25519');
    expect(signatureAlgorithmsFor('RSA_3072')).toEqual(['RSA_PKCS1_SHA256', 'RSA_PSS_SHA256']);
    expect(signatureAlgorithmsFor('AES_256_GCM')).toEqual([]);
  });

  it('refuses symmetric and unknown algorithms with UNSUPPORTED_ALGORITHM', () => {
    expect(() => defaultSignatureAlgorithm('AES_256_GCM')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_ALGORITHM' }));
    expect(() => defaultSignatureAlgorithm('DSA_1024' as KeyAlgorithm)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_ALGORITHM' }));
    expect(() => signatureAlgorithmInfo('HS256')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_ALGORITHM' }));
  });
});

describe('createLocalSigner + verifySignature', () => {
  for (const algorithm of SIGNATURE_ALGORITHMS) {
    describe(algorithm, () => {
      const data = new TextEncoder().encode(`fleetkey ${algorithm}`);

      it('signs, and the public key alone verifies', async () => {
        const { privateKey } = pair(KEY_FOR[algorithm]);
        const signer = createLocalSigner(privateKey, { algorithm });
        expect(signer.algorithm).toBe(algorithm);
        const signature = await signer.sign(data);
        const publicKey = publicOnly(await signer.publicKey());
        expect(publicKey.type).toBe('public');
        expect(verifySignature(publicKey, algorithm, data, signature)).toBe(true);
        expect(() => assertSignature(publicKey, algorithm, data, signature)).not.toThrow();
        if (signatureAlgorithmInfo(algorithm).family === 'ec') {
          // ECDSA signatures leave the signer as DER Ecdsa-Sig-Value.
          expect(signature[0]).toBe(0x30);
          expect(() => derToP1363(signature, signatureAlgorithmInfo(algorithm).curve!)).not.toThrow();
        }
      });

      it('refuses tampered data and a tampered signature', async () => {
        const { privateKey, publicKey } = pair(KEY_FOR[algorithm]);
        const signer = createLocalSigner(privateKey, { algorithm });
        const signature = await signer.sign(data);
        const otherData = Uint8Array.from(data);
        otherData[0]! ^= 0x01;
        expect(verifySignature(publicKey, algorithm, otherData, signature)).toBe(false);
        for (const index of [0, Math.floor(signature.length / 2), signature.length - 1]) {
          const flipped = Uint8Array.from(signature);
          flipped[index]! ^= 0x01;
          expect(verifySignature(publicKey, algorithm, data, flipped)).toBe(false);
        }
        expect(verifySignature(publicKey, algorithm, data, signature.subarray(0, signature.length - 1))).toBe(false);
        expect(verifySignature(publicKey, algorithm, data, new Uint8Array(0))).toBe(false);
        expect(verifySignature(publicKey, algorithm, data, randomBytes(signature.length))).toBe(false);
        expect(() => assertSignature(publicKey, algorithm, otherData, signature)).toThrow(
          expect.objectContaining({ code: 'SIGNATURE_INVALID', message: 'signature invalid' }),
        );
      });

      it('refuses a signature from another key of the same kind', async () => {
        const other = await generateKeyPair(KEY_FOR[algorithm]);
        const signature = await createLocalSigner(other.privateKey, { algorithm }).sign(data);
        expect(verifySignature(pair(KEY_FOR[algorithm]).publicKey, algorithm, data, signature)).toBe(false);
      });
    });
  }

  it('picks the default algorithm from the key and names the key by its fingerprint', async () => {
    const { privateKey, publicKey } = pair('RSA_2048');
    const signer = createLocalSigner(privateKey);
    expect(signer.algorithm).toBe('RSA_PKCS1_SHA256');
    expect(signer.keyId).toBe(`local:${publicKeyFingerprint(publicKey)}`);
    expect(createLocalSigner(privateKey, { keyId: 'kms:arn:aws:kms:k/1' }).keyId).toBe('kms:arn:aws:kms:k/1');
    expect(JSON.stringify(signer)).not.toContain('PRIVATE');
  });

  it('keeps PKCS#1 v1.5 and PSS signatures apart', async () => {
    const { privateKey, publicKey } = pair('RSA_2048');
    const data = new Uint8Array([1, 2, 3]);
    const pkcs1 = await createLocalSigner(privateKey, { algorithm: 'RSA_PKCS1_SHA256' }).sign(data);
    const pss = await createLocalSigner(privateKey, { algorithm: 'RSA_PSS_SHA256' }).sign(data);
    expect(verifySignature(publicKey, 'RSA_PSS_SHA256', data, pkcs1)).toBe(false);
    expect(verifySignature(publicKey, 'RSA_PKCS1_SHA256', data, pss)).toBe(false);
  });

  it('refuses a key that does not fit the algorithm with a RangeError', () => {
    expect(() => createLocalSigner(pair('ECDSA_P384').privateKey, { algorithm: 'ECDSA_P256_SHA256' })).toThrow(RangeError);
    expect(() => createLocalSigner(pair('ECDSA_P256').privateKey, { algorithm: 'RSA_PKCS1_SHA256' })).toThrow(RangeError);
    expect(() => createLocalSigner(pair('RSA_2048').privateKey, { algorithm: 'ED25519' })).toThrow(RangeError);
    expect(() => verifySignature(pair('ED25519').publicKey, 'ECDSA_P256_SHA256', new Uint8Array(1), new Uint8Array(64))).toThrow(
      RangeError,
    );
  });

  it('refuses keys fleetkey does not support with UNSUPPORTED_ALGORITHM', () => {
    const unsupported = [
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey,
      generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).privateKey,
      generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey,
      generateKeyPairSync('x25519').privateKey,
      generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey,
    ];
    for (const key of unsupported) {
      expect(() => createLocalSigner(key)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_ALGORITHM' }));
    }
    expect(() => createLocalSigner(pair('ECDSA_P256').privateKey, { algorithm: 'ES256' as SignatureAlgorithm })).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_ALGORITHM' }),
    );
  });

  it('refuses a public key or a non-key as the signing key, and a non-printable keyId', () => {
    expect(() => createLocalSigner(pair('ECDSA_P256').publicKey)).toThrow(TypeError);
    expect(() => createLocalSigner('-----BEGIN PRIVATE KEY-----' as unknown as KeyObject)).toThrow(TypeError);
    expect(() => createLocalSigner(pair('ECDSA_P256').privateKey, { keyId: 'has space' })).toThrow(TypeError);
    expect(() => createLocalSigner(pair('ECDSA_P256').privateKey, { keyId: 'k'.repeat(1025) })).toThrow(RangeError);
  });

  it('refuses oversized input to sign', async () => {
    const signer = createLocalSigner(pair('ED25519').privateKey);
    await expect(signer.sign(new Uint8Array(MAX_SIGNED_MESSAGE_LENGTH + 1))).rejects.toThrow(RangeError);
  });

  it('Precondition: messages are bounded; an oversized one is refused, not hashed', async () => {
    const { privateKey, publicKey } = pair('ECDSA_P256');
    const big = new Uint8Array(MAX_SIGNED_MESSAGE_LENGTH);
    const signature = await createLocalSigner(privateKey).sign(big);
    expect(verifySignature(publicKey, 'ECDSA_P256_SHA256', big, signature)).toBe(true);
    const bigger = new Uint8Array(MAX_SIGNED_MESSAGE_LENGTH + 1);
    expect(verifySignature(publicKey, 'ECDSA_P256_SHA256', bigger, signature)).toBe(false);
  });

  it('Precondition: an RSA signature is exactly as long as the modulus (RFC 8017 §8.2.2 step 1)', async () => {
    const { privateKey, publicKey } = pair('RSA_2048');
    const data = new Uint8Array([9]);
    const signature = await createLocalSigner(privateKey).sign(data);
    expect(signature.length).toBe(256);
    const withLeadingZero = new Uint8Array(257);
    withLeadingZero.set(signature, 1);
    expect(verifySignature(publicKey, 'RSA_PKCS1_SHA256', data, withLeadingZero)).toBe(false);
  });
});

describe('generateKeyPair', () => {
  it('makes a key pair of each asymmetric algorithm', async () => {
    for (const algorithm of ['RSA_2048', 'RSA_3072', 'RSA_4096', 'ECDSA_P256', 'ECDSA_P384', 'ECDSA_P521', 'ED25519'] as const) {
      const { privateKey, publicKey } = await generateKeyPair(algorithm);
      expect(privateKey.type).toBe('private');
      expect(publicKey.type).toBe('public');
      expect(keyAlgorithmOf(privateKey)).toBe(algorithm);
      expect(keyAlgorithmOf(publicKey)).toBe(algorithm);
    }
  }, 60_000);

  it('refuses symmetric algorithms with UNSUPPORTED_ALGORITHM', async () => {
    await expect(generateKeyPair('AES_256_GCM')).rejects.toMatchObject({ code: 'UNSUPPORTED_ALGORITHM' });
    await expect(generateKeyPair('CHACHA20_POLY1305')).rejects.toMatchObject({ code: 'UNSUPPORTED_ALGORITHM' });
  });
});
