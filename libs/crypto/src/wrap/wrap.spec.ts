/**
 * Tests for wrapping to device keys: round trips for P-256 and RSA 2048/3072/4096, every kind of
 * failure reported as DECRYPTION_FAILED with the one message, unsupported recipients refused, and
 * a known-answer check of the ECIES derivation against an independent KeyObject computation.
 */
import { createECDH, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { isFleetkeyError } from '@fleetkey/key-types';
import { decodeEnvelope, encodeEnvelope, openWithContentKey, readEnvelopeHeader, sealEnvelope, sealWithContentKey } from '../envelope/index.js';
import { generateKeyPair } from '../sign/keys.js';
import { ECIES_HKDF_INFO } from './ecies.js';
import { unwrapWithPrivateKey, wrapToPublicKey, wrapToPublicKeyWith } from './wrap.js';

type Pair = { privateKey: KeyObject; publicKey: KeyObject };
const keys: Record<string, Pair> = {};
const RECIPIENTS = ['ECDSA_P256', 'RSA_2048', 'RSA_3072', 'RSA_4096'] as const;

beforeAll(async () => {
  for (const algorithm of RECIPIENTS) keys[algorithm] = await generateKeyPair(algorithm);
  keys.otherP256 = await generateKeyPair('ECDSA_P256');
  keys.otherRsa = await generateKeyPair('RSA_2048');
}, 60_000);

const context = { device: 'robot-1', purpose: 'communication-key' };
const plaintext = Uint8Array.from({ length: 32 }, (_, i) => i);
const fields = { provider: 'device', keyId: 'fleet-a/robot-1/identity', keyVersion: 3 };

/** `ctx` null wraps with no context at all. */
function wrapTo(recipient: KeyObject, ctx: Record<string, string> | null = context, data = plaintext): Uint8Array {
  return wrapToPublicKey({ recipient, ...fields, plaintext: data, ...(ctx ? { context: ctx } : {}) });
}

/** Compares bytes regardless of Buffer vs Uint8Array. */
function bytes(value: Uint8Array): Buffer {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isFleetkeyError(error)) {
      if (error.code === 'DECRYPTION_FAILED') expect(error.message).toBe('decryption failed');
      return error.code;
    }
    return `${(error as Error).name}`;
  }
  return 'no error';
}

describe('wrapToPublicKey / unwrapWithPrivateKey', () => {
  for (const algorithm of RECIPIENTS) {
    it(`round-trips to a ${algorithm} device key`, () => {
      const { privateKey, publicKey } = keys[algorithm]!;
      const envelope = wrapTo(publicKey);
      const header = readEnvelopeHeader(envelope);
      expect(header.algorithm).toBe(algorithm === 'ECDSA_P256' ? 'ECIES_P256_HKDF_SHA256_AES_256_GCM' : 'RSA_OAEP_SHA256_AES_256_GCM');
      expect(header).toMatchObject(fields);
      expect(header.encapsulatedKey.length).toBe(algorithm === 'ECDSA_P256' ? 65 : Number(algorithm.slice(4)) / 8);
      expect(bytes(unwrapWithPrivateKey(envelope, privateKey, context))).toEqual(bytes(plaintext));
      // The decoded Envelope object opens too, and a fresh wrap never repeats the bytes.
      expect(bytes(unwrapWithPrivateKey(decodeEnvelope(envelope), privateKey, context))).toEqual(bytes(plaintext));
      expect(wrapTo(publicKey)).not.toEqual(envelope);
    });
  }

  it('round-trips without a context, with an empty plaintext and with a large one', () => {
    for (const pair of [keys.ECDSA_P256!, keys.RSA_2048!]) {
      expect(bytes(unwrapWithPrivateKey(wrapTo(pair.publicKey, null), pair.privateKey))).toEqual(bytes(plaintext));
      expect(bytes(unwrapWithPrivateKey(wrapTo(pair.publicKey, context, new Uint8Array(0)), pair.privateKey, context))).toEqual(bytes(new Uint8Array(0)));
      const big = randomBytes(1 << 20);
      expect(Buffer.from(unwrapWithPrivateKey(wrapTo(pair.publicKey, context, big), pair.privateKey, context)).equals(big)).toBe(true);
    }
  });

  it('accepts a private key as recipient and wraps to its public half', () => {
    const envelope = wrapTo(keys.ECDSA_P256!.privateKey);
    expect(bytes(unwrapWithPrivateKey(envelope, keys.ECDSA_P256!.privateKey, context))).toEqual(bytes(plaintext));
  });

  it('refuses the wrong private key with DECRYPTION_FAILED', () => {
    expect(codeOf(() => unwrapWithPrivateKey(wrapTo(keys.ECDSA_P256!.publicKey), keys.otherP256!.privateKey, context))).toBe('DECRYPTION_FAILED');
    expect(codeOf(() => unwrapWithPrivateKey(wrapTo(keys.RSA_2048!.publicKey), keys.otherRsa!.privateKey, context))).toBe('DECRYPTION_FAILED');
  });

  it('refuses a wrong, missing or extra context with DECRYPTION_FAILED', () => {
    for (const pair of [keys.ECDSA_P256!, keys.RSA_2048!]) {
      const envelope = wrapTo(pair.publicKey);
      expect(codeOf(() => unwrapWithPrivateKey(envelope, pair.privateKey, { ...context, device: 'robot-2' }))).toBe('DECRYPTION_FAILED');
      expect(codeOf(() => unwrapWithPrivateKey(envelope, pair.privateKey))).toBe('DECRYPTION_FAILED');
      expect(codeOf(() => unwrapWithPrivateKey(envelope, pair.privateKey, { ...context, extra: '' }))).toBe('DECRYPTION_FAILED');
    }
  });

  it('refuses flipped bytes in the encapsulated key, nonce, ciphertext and tag with DECRYPTION_FAILED', () => {
    for (const pair of [keys.ECDSA_P256!, keys.RSA_2048!]) {
      const envelope = wrapTo(pair.publicKey);
      const header = readEnvelopeHeader(envelope);
      const headerEnd = envelope.length - 4 - (plaintext.length + 16);
      const encapsulatedStart = headerEnd - 1 - 12 - header.encapsulatedKey.length;
      const positions = [
        encapsulatedStart, // first byte of the point / OAEP block
        encapsulatedStart + 1,
        encapsulatedStart + header.encapsulatedKey.length - 1,
        headerEnd - 12, // nonce
        headerEnd - 1,
        headerEnd + 4, // ciphertext
        envelope.length - 1, // tag
        encapsulatedStart - 3, // key version
      ];
      for (const position of positions) {
        const tampered = Uint8Array.from(envelope);
        tampered[position]! ^= 0x01;
        expect(codeOf(() => unwrapWithPrivateKey(tampered, pair.privateKey, context))).toBe('DECRYPTION_FAILED');
      }
    }
  });

  it('never opens a tampered envelope, and fails only with envelope codes (property)', () => {
    const pair = keys.ECDSA_P256!;
    const envelope = wrapTo(pair.publicKey);
    fc.assert(
      fc.property(fc.nat({ max: envelope.length - 1 }), fc.integer({ min: 1, max: 255 }), (position, mask) => {
        const tampered = Uint8Array.from(envelope);
        tampered[position]! ^= mask;
        const code = codeOf(() => unwrapWithPrivateKey(tampered, pair.privateKey, context));
        expect(['DECRYPTION_FAILED', 'ENVELOPE_MALFORMED', 'ENVELOPE_UNSUPPORTED']).toContain(code);
      }),
      { numRuns: 300 },
    );
  });

  it("Precondition: the envelope's algorithm matches the private key's family", () => {
    expect(codeOf(() => unwrapWithPrivateKey(wrapTo(keys.ECDSA_P256!.publicKey), keys.RSA_2048!.privateKey, context))).toBe('DECRYPTION_FAILED');
    expect(codeOf(() => unwrapWithPrivateKey(wrapTo(keys.RSA_2048!.publicKey), keys.ECDSA_P256!.privateKey, context))).toBe('DECRYPTION_FAILED');
  });

  it('Precondition: the ephemeral key is an uncompressed point (SEC 1 §2.3.3) on P-256', () => {
    const { privateKey, publicKey } = keys.ECDSA_P256!;
    const valid = readEnvelopeHeader(wrapTo(publicKey)).encapsulatedKey;
    const offCurve = Uint8Array.from(valid);
    offCurve[64]! ^= 0x01; // y no longer matches x
    const compressedPrefix = Uint8Array.from(valid);
    compressedPrefix[0] = 0x02;
    const hybridPrefix = Uint8Array.from(valid);
    hybridPrefix[0] = 0x06;
    const zeros = new Uint8Array(65);
    zeros[0] = 0x04;
    const beyondField = new Uint8Array(65).fill(0xff);
    beyondField[0] = 0x04;
    for (const point of [offCurve, compressedPrefix, hybridPrefix, zeros, beyondField]) {
      const forged = sealWithContentKey(
        { algorithm: 'ECIES_P256_HKDF_SHA256_AES_256_GCM', ...fields, encapsulatedKey: point },
        randomBytes(32),
        plaintext,
        context,
      );
      expect(codeOf(() => unwrapWithPrivateKey(forged, privateKey, context))).toBe('DECRYPTION_FAILED');
    }
  });

  it("Precondition: the encapsulated key is exactly as long as the recipient's modulus (RFC 8017 §7.1.2 step 1)", () => {
    const envelope = wrapTo(keys.RSA_3072!.publicKey);
    expect(codeOf(() => unwrapWithPrivateKey(envelope, keys.RSA_2048!.privateKey, context))).toBe('DECRYPTION_FAILED');
    expect(codeOf(() => unwrapWithPrivateKey(envelope, keys.RSA_4096!.privateKey, context))).toBe('DECRYPTION_FAILED');
  });

  it('treats an OAEP block that does not decrypt like a wrong key (implicit rejection)', () => {
    for (const block of [randomBytes(256), new Uint8Array(256), new Uint8Array(256).fill(0xff)]) {
      const forged = sealWithContentKey({ algorithm: 'RSA_OAEP_SHA256_AES_256_GCM', ...fields, encapsulatedKey: block }, randomBytes(32), plaintext, context);
      expect(codeOf(() => unwrapWithPrivateKey(forged, keys.RSA_2048!.privateKey, context))).toBe('DECRYPTION_FAILED');
    }
  });

  it('refuses recipients that cannot receive wrapped keys with UNSUPPORTED_ALGORITHM', async () => {
    const unsupported = [
      (await generateKeyPair('ECDSA_P384')).publicKey,
      (await generateKeyPair('ECDSA_P521')).publicKey,
      (await generateKeyPair('ED25519')).publicKey,
      generateKeyPairSync('x25519').publicKey,
      generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey,
      generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey,
    ];
    for (const recipient of unsupported) expect(codeOf(() => wrapTo(recipient))).toBe('UNSUPPORTED_ALGORITHM');
    const p384 = await generateKeyPair('ECDSA_P384');
    expect(codeOf(() => unwrapWithPrivateKey(wrapTo(keys.ECDSA_P256!.publicKey), p384.privateKey, context))).toBe('UNSUPPORTED_ALGORITHM');
    const ed = await generateKeyPair('ED25519');
    expect(codeOf(() => unwrapWithPrivateKey(wrapTo(keys.ECDSA_P256!.publicKey), ed.privateKey, context))).toBe('UNSUPPORTED_ALGORITHM');
  });

  it('refuses a symmetric envelope with ENVELOPE_UNSUPPORTED and garbage with envelope codes', () => {
    const symmetric = sealEnvelope({ key: randomBytes(32), ...fields, plaintext });
    expect(codeOf(() => unwrapWithPrivateKey(symmetric, keys.ECDSA_P256!.privateKey))).toBe('ENVELOPE_UNSUPPORTED');
    expect(codeOf(() => unwrapWithPrivateKey(new Uint8Array(0), keys.ECDSA_P256!.privateKey))).toBe('ENVELOPE_MALFORMED');
    expect(codeOf(() => unwrapWithPrivateKey(randomBytes(200), keys.RSA_2048!.privateKey))).toMatch(/^ENVELOPE_/);
    const small = wrapTo(keys.ECDSA_P256!.publicKey);
    expect(codeOf(() => unwrapWithPrivateKey(small, keys.ECDSA_P256!.privateKey, context, { maxCiphertextLength: 16 }))).toBe('ENVELOPE_MALFORMED');
  });

  it('reports misuse as TypeError / RangeError', () => {
    expect(codeOf(() => wrapToPublicKey({ recipient: 'pem' as unknown as KeyObject, ...fields, plaintext }))).toBe('TypeError');
    expect(codeOf(() => unwrapWithPrivateKey(wrapTo(keys.ECDSA_P256!.publicKey), keys.ECDSA_P256!.publicKey, context))).toBe('TypeError');
    expect(codeOf(() => wrapToPublicKey({ recipient: keys.ECDSA_P256!.publicKey, ...fields, provider: 'Bad Provider', plaintext }))).toMatch(/Error$/);
    expect(codeOf(() => wrapToPublicKey({ recipient: keys.RSA_2048!.publicKey, ...fields, keyVersion: -1, plaintext }))).toBe('RangeError');
  });
});

describe('ECIES known answers', () => {
  /** A P-256 private KeyObject from a raw scalar, built through JWK (independent of the wrap code). */
  function p256FromScalar(scalarHex: string): { privateKey: KeyObject; point: Buffer } {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(scalarHex, 'hex'));
    const point = ecdh.getPublicKey();
    const b64 = (b: Buffer) => b.toString('base64url');
    const jwk = { kty: 'EC', crv: 'P-256', d: b64(Buffer.from(scalarHex, 'hex')), x: b64(point.subarray(1, 33)), y: b64(point.subarray(33)) };
    return { privateKey: createPrivateKey({ key: jwk, format: 'jwk' }), point };
  }

  const RECIPIENT_SCALAR = 'c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721';
  const EPHEMERAL_SCALAR = '519b423d715f8b581f4fa8ee59f4771a5b44c8130b4e3eacca54a56dda72b464';
  const NONCE = Buffer.from('000102030405060708090a0b', 'hex');
  const KAT_CONTEXT = { device: 'robot-1', purpose: 'kat' };

  it('derives the CEK exactly as an independent ECDH (KeyObjects) + hkdfSync computation does', () => {
    const recipient = p256FromScalar(RECIPIENT_SCALAR);
    const ephemeral = p256FromScalar(EPHEMERAL_SCALAR);
    const envelope = wrapToPublicKeyWith(
      { recipient: createPublicKey(recipient.privateKey), ...fields, plaintext, context: KAT_CONTEXT },
      { ephemeralPrivateKey: Buffer.from(EPHEMERAL_SCALAR, 'hex'), nonce: NONCE },
    );
    const header = readEnvelopeHeader(envelope);
    expect(Buffer.from(header.encapsulatedKey)).toEqual(ephemeral.point);
    expect(Buffer.from(header.nonce)).toEqual(NONCE);

    // Independent: ECDH from the ephemeral side with KeyObjects, HKDF with salt = E ‖ R.
    const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: createPublicKey(recipient.privateKey) });
    const cek = new Uint8Array(hkdfSync('sha256', shared, Buffer.concat([ephemeral.point, recipient.point]), 'fleetkey envelope v1 ecies', 32));
    expect(ECIES_HKDF_INFO).toBe('fleetkey envelope v1 ecies');
    expect(bytes(openWithContentKey(envelope, cek, KAT_CONTEXT))).toEqual(bytes(plaintext));
    // And from the recipient side the same secret comes out.
    expect(diffieHellman({ privateKey: recipient.privateKey, publicKey: createPublicKey(ephemeral.privateKey) })).toEqual(shared);
    expect(bytes(unwrapWithPrivateKey(envelope, recipient.privateKey, KAT_CONTEXT))).toEqual(bytes(plaintext));
  });

  it('reproduces the checked-in ECIES vector byte for byte', () => {
    const recipient = p256FromScalar(RECIPIENT_SCALAR);
    const envelope = wrapToPublicKeyWith(
      { recipient: createPublicKey(recipient.privateKey), ...fields, plaintext, context: KAT_CONTEXT },
      { ephemeralPrivateKey: Buffer.from(EPHEMERAL_SCALAR, 'hex'), nonce: NONCE },
    );
    expect(Buffer.from(envelope).toString('hex')).toBe(ECIES_VECTOR_HEX);
    expect(bytes(unwrapWithPrivateKey(Buffer.from(ECIES_VECTOR_HEX, 'hex'), recipient.privateKey, KAT_CONTEXT))).toEqual(bytes(plaintext));
    expect(encodeEnvelope(decodeEnvelope(envelope))).toEqual(envelope);
  });
});

/**
 * Checked-in ECIES vector (recipient and ephemeral scalars, nonce, plaintext 00..1f and context as
 * above). Generated once from the independent derivation (KeyObject ECDH + hkdfSync) sealed with
 * the envelope's content path; a change here means the wire format changed.
 */
const ECIES_VECTOR_HEX = [
  '464b0110', // magic, version 1, algorithm 0x10
  '06', '646576696365', // provider "device"
  '0018', '666c6565742d612f726f626f742d312f6964656e74697479', // key id "fleet-a/robot-1/identity"
  '00000003', // key version 3
  '0041', // encapsulated key: the ephemeral point
  '041ccbe91c075fc7f4f033bfa248db8fccd3565de94bbfb12f3c59ff46c271bf83ce4014c68811f9a21a1fdb2c0e6113e06db7ca93b7404e78dc7ccd5ca89a4ca9',
  '0c', '000102030405060708090a0b', // nonce
  '00000030', // ciphertext (32) + tag (16)
  'b9a94516f1e9bbcbd76b1efd2b1284cc03ca10f0d30948be1a2b3372c53a9506',
  'fe47a583e40593a7372c88ca014d0703',
].join('');
