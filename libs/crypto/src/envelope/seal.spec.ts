import { createCipheriv, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFleetkeyError } from '@fleetkey/key-types';
import { DECRYPTION_FAILED_MESSAGE } from '../errors.js';
import { aeadDecrypt } from './aead.js';
import type { SymmetricEnvelopeAlgorithm } from './algorithms.js';
import { decodeEnvelope, encodeEnvelope, readEnvelopeHeader } from './codec.js';
import { MAX_ENVELOPE_PLAINTEXT } from './constants.js';
import { openWithContentKey, sealWithContentKey, sealWithContentKeyAndNonce, type ContentHeaderFields } from './content.js';
import { encodeContext } from './context.js';
import { openEnvelope, sealEnvelope, sealEnvelopeWithNonce, type SealParams } from './seal.js';
import { hex, thrownCode } from './test-support.js';
import type { Envelope, EnvelopeContext } from './types.js';

const SYMMETRIC: readonly SymmetricEnvelopeAlgorithm[] = ['AES_256_GCM', 'CHACHA20_POLY1305'];
const CONTEXT: EnvelopeContext = { device: 'robot-17', purpose: 'telemetry', fleet: 'acme' };
const PARSE_OR_AUTH = ['DECRYPTION_FAILED', 'ENVELOPE_MALFORMED', 'ENVELOPE_UNSUPPORTED'];

function params(algorithm: SymmetricEnvelopeAlgorithm, overrides: Partial<SealParams> = {}): SealParams {
  return {
    key: KEY,
    algorithm,
    provider: 'local',
    keyId: 'communication/acme/fleet',
    keyVersion: 42,
    plaintext: new TextEncoder().encode('the quick brown robot jumps over the lazy dock'),
    context: CONTEXT,
    ...overrides,
  };
}
const KEY = new Uint8Array(randomBytes(32));
const OTHER_KEY = new Uint8Array(randomBytes(32));

describe.each(SYMMETRIC)('%s seal / open', (algorithm) => {
  it('round-trips and names the key it was sealed with', () => {
    const p = params(algorithm);
    const sealed = sealEnvelope(p);
    expect(hex(openEnvelope(sealed, KEY, CONTEXT))).toBe(hex(p.plaintext));
    expect(readEnvelopeHeader(sealed)).toMatchObject({ algorithm, provider: 'local', keyId: 'communication/acme/fleet', keyVersion: 42 });
    expect(decodeEnvelope(sealed).ciphertext.length).toBe(p.plaintext.length + 16);
  });

  it('opens a decoded Envelope object as well as bytes', () => {
    const sealed = sealEnvelope(params(algorithm));
    expect(hex(openEnvelope(decodeEnvelope(sealed), KEY, CONTEXT))).toBe(hex(params(algorithm).plaintext));
  });

  it('round-trips an empty plaintext and no context', () => {
    const sealed = sealEnvelope(params(algorithm, { plaintext: new Uint8Array(0), context: undefined }));
    expect(openEnvelope(sealed, KEY).length).toBe(0);
    // {} and no context are the same (empty) context
    expect(openEnvelope(sealed, KEY, {}).length).toBe(0);
  });

  it('defaults to AES_256_GCM', () => {
    const { algorithm: _unused, ...rest } = params(algorithm);
    expect(readEnvelopeHeader(sealEnvelope(rest)).algorithm).toBe('AES_256_GCM');
  });

  it('draws a fresh nonce for every seal', () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 50; i++) nonces.add(hex(readEnvelopeHeader(sealEnvelope(params(algorithm))).nonce));
    expect(nonces.size).toBe(50);
  });

  it('refuses the wrong key', () => {
    const sealed = sealEnvelope(params(algorithm));
    expect(thrownCode(() => openEnvelope(sealed, OTHER_KEY, CONTEXT))).toBe('DECRYPTION_FAILED');
  });

  it('refuses a wrong context value', () => {
    const sealed = sealEnvelope(params(algorithm));
    expect(thrownCode(() => openEnvelope(sealed, KEY, { ...CONTEXT, device: 'robot-18' }))).toBe('DECRYPTION_FAILED');
  });

  it('refuses a missing context', () => {
    const sealed = sealEnvelope(params(algorithm));
    expect(thrownCode(() => openEnvelope(sealed, KEY))).toBe('DECRYPTION_FAILED');
    expect(thrownCode(() => openEnvelope(sealed, KEY, {}))).toBe('DECRYPTION_FAILED');
  });

  it('refuses a missing context entry and an extra context entry', () => {
    const sealed = sealEnvelope(params(algorithm));
    const { fleet: _dropped, ...fewer } = CONTEXT;
    expect(thrownCode(() => openEnvelope(sealed, KEY, fewer))).toBe('DECRYPTION_FAILED');
    expect(thrownCode(() => openEnvelope(sealed, KEY, { ...CONTEXT, extra: '' }))).toBe('DECRYPTION_FAILED');
  });

  it('refuses a context when it was sealed without one', () => {
    const sealed = sealEnvelope(params(algorithm, { context: undefined }));
    expect(thrownCode(() => openEnvelope(sealed, KEY, { device: 'robot-17' }))).toBe('DECRYPTION_FAILED');
  });

  it('accepts the same context given in another key order', () => {
    const sealed = sealEnvelope(params(algorithm));
    expect(thrownCode(() => openEnvelope(sealed, KEY, { purpose: 'telemetry', fleet: 'acme', device: 'robot-17' }))).toBe('NO_ERROR');
  });

  it('gives every authentication failure the same fixed message', () => {
    const sealed = sealEnvelope(params(algorithm));
    const failures = [() => openEnvelope(sealed, OTHER_KEY, CONTEXT), () => openEnvelope(sealed, KEY, {})];
    for (const failure of failures) {
      try {
        failure();
        expect.unreachable();
      } catch (error) {
        expect(isFleetkeyError(error, 'DECRYPTION_FAILED')).toBe(true);
        expect((error as Error).message).toBe(DECRYPTION_FAILED_MESSAGE);
        expect((error as Error).cause).toBeUndefined();
      }
    }
  });

  it('fails with a typed error, never a plaintext, for every bit flipped anywhere in the envelope', () => {
    const sealed = sealEnvelope(params(algorithm, { plaintext: new Uint8Array(24).fill(7) }));
    const seen = new Set<string>();
    for (let i = 0; i < sealed.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const tampered = sealed.slice();
        tampered[i]! ^= 1 << bit;
        const code = thrownCode(() => openEnvelope(tampered, KEY, CONTEXT));
        expect([i, bit, PARSE_OR_AUTH.includes(code)]).toEqual([i, bit, true]);
        seen.add(code);
      }
    }
    // the header, the ciphertext and the tag are all authenticated, so most flips are forgeries
    expect(seen.has('DECRYPTION_FAILED')).toBe(true);
    expect(thrownCode(() => openEnvelope(sealed, KEY, CONTEXT))).toBe('NO_ERROR');
  });

  it('refuses a truncated, an extended and a re-labelled envelope', () => {
    const sealed = sealEnvelope(params(algorithm));
    expect(thrownCode(() => openEnvelope(sealed.subarray(0, sealed.length - 1), KEY, CONTEXT))).toBe('ENVELOPE_MALFORMED');
    expect(thrownCode(() => openEnvelope(Uint8Array.from([...sealed, 0]), KEY, CONTEXT))).toBe('ENVELOPE_MALFORMED');
    // re-label the key version (a valid header, but not the authenticated one)
    const relabelled = { ...decodeEnvelope(sealed), keyVersion: 43 };
    expect(thrownCode(() => openEnvelope(relabelled, KEY, CONTEXT))).toBe('DECRYPTION_FAILED');
    const otherAlgorithm: Envelope = { ...decodeEnvelope(sealed), algorithm: algorithm === 'AES_256_GCM' ? 'CHACHA20_POLY1305' : 'AES_256_GCM' };
    expect(thrownCode(() => openEnvelope(otherAlgorithm, KEY, CONTEXT))).toBe('DECRYPTION_FAILED');
  });

  it('refuses a ciphertext over the caller maximum before decrypting', () => {
    const sealed = sealEnvelope(params(algorithm, { plaintext: new Uint8Array(100) }));
    expect(thrownCode(() => openEnvelope(sealed, KEY, CONTEXT, { maxCiphertextLength: 115 }))).toBe('ENVELOPE_MALFORMED');
    expect(thrownCode(() => openEnvelope(sealed, KEY, CONTEXT, { maxCiphertextLength: 116 }))).toBe('NO_ERROR');
  });
});

describe('sealEnvelope / openEnvelope misuse', () => {
  const misuse: ReadonlyArray<readonly [string, Partial<Record<keyof SealParams, unknown>>, string]> = [
    ['a 31-byte key', { key: new Uint8Array(31) }, 'RangeError'],
    ['a 33-byte key', { key: new Uint8Array(33) }, 'RangeError'],
    ['a string key', { key: 'k'.repeat(32) }, 'TypeError'],
    ['an asymmetric algorithm', { algorithm: 'ECIES_P256_HKDF_SHA256_AES_256_GCM' }, 'RangeError'],
    ['the KMS algorithm', { algorithm: 'KMS_AES_256_GCM' }, 'RangeError'],
    ['an unknown algorithm', { algorithm: 'AES_128_GCM' }, 'RangeError'],
    ['a string plaintext', { plaintext: 'secret' }, 'TypeError'],
    ['a bad provider', { provider: 'AWS' }, 'RangeError'],
    ['a bad key id', { keyId: 'has space' }, 'RangeError'],
    ['a negative key version', { keyVersion: -1 }, 'RangeError'],
    ['a key version of 2^32', { keyVersion: 2 ** 32 }, 'RangeError'],
    ['a context with 33 entries', { context: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, ''])) }, 'RangeError'],
  ];
  it.each(misuse)('sealEnvelope refuses %s', (_title, overrides, code) => {
    expect(thrownCode(() => sealEnvelope({ ...params('AES_256_GCM'), ...overrides } as SealParams))).toBe(code);
  });

  it('sealEnvelope refuses a plaintext over MAX_ENVELOPE_PLAINTEXT and accepts exactly the maximum', () => {
    const big = new Uint8Array(MAX_ENVELOPE_PLAINTEXT + 1);
    expect(thrownCode(() => sealEnvelope(params('AES_256_GCM', { plaintext: big })))).toBe('RangeError');
    const max = big.subarray(0, MAX_ENVELOPE_PLAINTEXT);
    const sealed = sealEnvelope(params('AES_256_GCM', { plaintext: max }));
    expect(openEnvelope(sealed, KEY, CONTEXT).length).toBe(MAX_ENVELOPE_PLAINTEXT);
  });

  it('openEnvelope refuses a key of the wrong size as misuse, before parsing', () => {
    expect(thrownCode(() => openEnvelope(new Uint8Array(0), new Uint8Array(16)))).toBe('RangeError');
    expect(thrownCode(() => openEnvelope(new Uint8Array(0), KEY))).toBe('ENVELOPE_MALFORMED');
  });

  it('openEnvelope refuses an Envelope object with out-of-bounds fields as misuse', () => {
    const decoded = decodeEnvelope(sealEnvelope(params('AES_256_GCM')));
    expect(thrownCode(() => openEnvelope({ ...decoded, nonce: new Uint8Array(8) }, KEY, CONTEXT))).toBe('RangeError');
  });
});

describe('content-key helpers (the path the asymmetric algorithms use)', () => {
  const point = (): Uint8Array => Uint8Array.from([4, ...randomBytes(64)]);
  const eciesFields = (): ContentHeaderFields => ({
    algorithm: 'ECIES_P256_HKDF_SHA256_AES_256_GCM',
    provider: 'device',
    keyId: 'device-identity/acme/robot-17',
    keyVersion: 1,
    encapsulatedKey: point(),
  });

  it('round-trips ECIES- and RSA-shaped envelopes through sealWithContentKey / openWithContentKey', () => {
    const cek = new Uint8Array(randomBytes(32));
    const ecies = sealWithContentKey(eciesFields(), cek, Uint8Array.of(1, 2, 3), CONTEXT);
    expect(hex(openWithContentKey(ecies, cek, CONTEXT))).toBe('010203');
    expect(hex(openWithContentKey(decodeEnvelope(ecies), cek, CONTEXT))).toBe('010203');
    const rsa = sealWithContentKey({ ...eciesFields(), algorithm: 'RSA_OAEP_SHA256_AES_256_GCM', encapsulatedKey: new Uint8Array(384) }, cek, Uint8Array.of(9), CONTEXT);
    expect(hex(openWithContentKey(rsa, cek, CONTEXT))).toBe('09');
    expect(thrownCode(() => openWithContentKey(rsa, cek, {}))).toBe('DECRYPTION_FAILED');
  });

  it('uses AES-256-GCM for the asymmetric algorithms (checked with raw node:crypto)', () => {
    const cek = new Uint8Array(randomBytes(32));
    const nonce = new Uint8Array(12).fill(3);
    const fields = eciesFields();
    const sealed = sealWithContentKeyAndNonce(fields, cek, Uint8Array.of(5, 6, 7), CONTEXT, nonce);
    const parsed = decodeEnvelope(sealed);
    const headerEnd = sealed.length - 4 - parsed.ciphertext.length;
    const ctx = encodeContext(CONTEXT);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(ctx.length);
    const cipher = createCipheriv('aes-256-gcm', cek, nonce, { authTagLength: 16 });
    cipher.setAAD(Buffer.concat([sealed.subarray(0, headerEnd), length, ctx]));
    const expected = Buffer.concat([cipher.update(Uint8Array.of(5, 6, 7)), cipher.final(), cipher.getAuthTag()]);
    expect(hex(parsed.ciphertext)).toBe(hex(expected));
  });

  it('authenticates the encapsulated key: a flipped bit in it is a forgery', () => {
    const cek = new Uint8Array(randomBytes(32));
    const sealed = sealWithContentKey(eciesFields(), cek, Uint8Array.of(1), CONTEXT);
    const decoded = decodeEnvelope(sealed);
    const encapsulatedKey = decoded.encapsulatedKey.slice();
    encapsulatedKey[10]! ^= 0x01;
    expect(thrownCode(() => openWithContentKey({ ...decoded, encapsulatedKey }, cek, CONTEXT))).toBe('DECRYPTION_FAILED');
  });

  it('refuses an encapsulated key of the wrong length for the algorithm as misuse', () => {
    const cek = new Uint8Array(32);
    expect(thrownCode(() => sealWithContentKey({ ...eciesFields(), encapsulatedKey: new Uint8Array(64) }, cek, new Uint8Array(1)))).toBe('RangeError');
    expect(thrownCode(() => sealWithContentKey({ ...eciesFields(), algorithm: 'RSA_OAEP_SHA256_AES_256_GCM' }, cek, new Uint8Array(1)))).toBe('RangeError');
    expect(thrownCode(() => sealWithContentKey({ ...eciesFields(), algorithm: 'AES_256_GCM' }, cek, new Uint8Array(1)))).toBe('RangeError');
    expect(thrownCode(() => openWithContentKey(new Uint8Array(0), new Uint8Array(31)))).toBe('RangeError');
  });

  it('Precondition: only symmetric algorithms open with a symmetric key', () => {
    const cek = new Uint8Array(randomBytes(32));
    const ecies = sealWithContentKey(eciesFields(), cek, Uint8Array.of(1), CONTEXT);
    expect(thrownCode(() => openEnvelope(ecies, cek, CONTEXT))).toBe('ENVELOPE_UNSUPPORTED');
    const kms = sealWithContentKey({ ...eciesFields(), algorithm: 'KMS_AES_256_GCM', encapsulatedKey: Uint8Array.of(1, 2, 3) }, cek, Uint8Array.of(1), CONTEXT);
    expect(thrownCode(() => openEnvelope(kms, cek, CONTEXT))).toBe('ENVELOPE_UNSUPPORTED');
  });

  it('round-trips KMS-shaped envelopes (0x30, opaque 1..2048-byte encapsulated key) and authenticates the encapsulated key', () => {
    const cek = new Uint8Array(randomBytes(32));
    const kmsFields = (encapsulatedKey: Uint8Array): ContentHeaderFields => ({
      algorithm: 'KMS_AES_256_GCM',
      provider: 'aws',
      keyId: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      keyVersion: 0,
      encapsulatedKey,
    });
    for (const length of [1, 184, 2048]) {
      const sealed = sealWithContentKey(kmsFields(new Uint8Array(randomBytes(length))), cek, Uint8Array.of(4, 2), CONTEXT);
      expect(decodeEnvelope(sealed).algorithm).toBe('KMS_AES_256_GCM');
      expect(hex(openWithContentKey(sealed, cek, CONTEXT))).toBe('0402');
      const decoded = decodeEnvelope(sealed);
      const encapsulatedKey = decoded.encapsulatedKey.slice();
      encapsulatedKey[0]! ^= 0x80;
      expect(thrownCode(() => openWithContentKey({ ...decoded, encapsulatedKey }, cek, CONTEXT))).toBe('DECRYPTION_FAILED');
    }
    expect(thrownCode(() => sealWithContentKey(kmsFields(new Uint8Array(0)), cek, Uint8Array.of(1)))).toBe('RangeError');
    expect(thrownCode(() => sealWithContentKey(kmsFields(new Uint8Array(2049)), cek, Uint8Array.of(1)))).toBe('RangeError');
  });

  it('Precondition: the ciphertext holds at least a full tag', () => {
    const key = new Uint8Array(32);
    const nonce = new Uint8Array(12);
    expect(thrownCode(() => aeadDecrypt('aes-256-gcm', key, nonce, new Uint8Array(0), new Uint8Array(15)))).toBe('DECRYPTION_FAILED');
    expect(thrownCode(() => aeadDecrypt('chacha20-poly1305', key, nonce, new Uint8Array(0), new Uint8Array(0)))).toBe('DECRYPTION_FAILED');
  });

  it('openWithContentKey opens symmetric envelopes with the matching cipher', () => {
    for (const algorithm of SYMMETRIC) {
      const sealed = sealEnvelope(params(algorithm));
      expect(hex(openWithContentKey(sealed, KEY, CONTEXT))).toBe(hex(params(algorithm).plaintext));
    }
  });
});

describe('seal / open properties', () => {
  const contextArb: fc.Arbitrary<EnvelopeContext> = fc
    .dictionary(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((k) => Buffer.byteLength(k) <= 64),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      { maxKeys: 32 },
    );

  it('opens what it sealed for arbitrary plaintexts (0..4096 bytes) and contexts', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SYMMETRIC), fc.uint8Array({ maxLength: 4096 }), contextArb, fc.nat({ max: 0xffff_ffff }), (algorithm, plaintext, context, keyVersion) => {
        const sealed = sealEnvelope({ key: KEY, algorithm, provider: 'keystore', keyId: 'storage/acme/db', keyVersion, plaintext, context });
        expect(hex(openEnvelope(sealed, KEY, context))).toBe(hex(plaintext));
        expect(hex(openEnvelope(encodeEnvelope(decodeEnvelope(sealed)), KEY, context))).toBe(hex(plaintext));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses any other context for arbitrary contexts', () => {
    fc.assert(
      fc.property(contextArb, contextArb, (sealedWith, openedWith) => {
        fc.pre(hex(encodeContext(sealedWith)) !== hex(encodeContext(openedWith)));
        const sealed = sealEnvelope({ key: KEY, provider: 'local', keyId: 'k', keyVersion: 1, plaintext: Uint8Array.of(1), context: sealedWith });
        expect(thrownCode(() => openEnvelope(sealed, KEY, openedWith))).toBe('DECRYPTION_FAILED');
      }),
      { numRuns: 200 },
    );
  });

  it('the fixed-nonce seam is deterministic and equal to the random path given the same nonce', () => {
    const nonce = new Uint8Array(12).fill(9);
    const a = sealEnvelopeWithNonce(params('AES_256_GCM'), nonce);
    const b = sealEnvelopeWithNonce(params('AES_256_GCM'), nonce);
    expect(hex(a)).toBe(hex(b));
    expect(hex(openEnvelope(a, KEY, CONTEXT))).toBe(hex(params('AES_256_GCM').plaintext));
  });
});
