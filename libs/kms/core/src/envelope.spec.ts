/**
 * KMS_AES_256_GCM helpers: round trips, CEK zeroization on every path, error mapping, preconditions.
 *
 * Trust boundary: none; test code.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, readEnvelopeHeader, sealEnvelope, type EnvelopeHeader } from '@fleetkey/crypto';
import { KeyNotFound, Throttled } from './errors.js';
import { KMS_ENVELOPE_ALGORITHM, openKmsEnvelope, sealWithKmsWrappedKey } from './envelope.js';
import { codeOf, hex } from './test-support.js';

const CONTEXT = { fleet: 'acme', purpose: 'test' };

function sealed(cek: Uint8Array, plaintext = Uint8Array.of(1, 2, 3), extra: Partial<Parameters<typeof sealWithKmsWrappedKey>[0]> = {}) {
  return sealWithKmsWrappedKey({
    provider: 'aws',
    keyId: 'arn:aws:kms:eu-west-1:111122223333:key/abc',
    keyVersion: 0,
    encapsulatedKey: Uint8Array.of(9, 9, 9),
    cek: cek.slice(),
    plaintext,
    context: CONTEXT,
    ...extra,
  });
}

describe('sealWithKmsWrappedKey / openKmsEnvelope', () => {
  it('round-trips, writes a KMS_AES_256_GCM header with the vendor blob, and hands the header to unwrapCek', async () => {
    const cek = new Uint8Array(randomBytes(32));
    const envelope = sealed(cek);
    const header = readEnvelopeHeader(envelope);
    expect(header).toMatchObject({ algorithm: KMS_ENVELOPE_ALGORITHM, provider: 'aws', keyVersion: 0 });
    expect(hex(header.encapsulatedKey)).toBe('090909');
    let seen: EnvelopeHeader | undefined;
    const plaintext = await openKmsEnvelope(envelope, async (h) => ((seen = h), cek.slice()), CONTEXT, { provider: 'aws' });
    expect(hex(plaintext)).toBe('010203');
    expect(seen?.keyId).toBe('arn:aws:kms:eu-west-1:111122223333:key/abc');
  });

  it('zeroizes the CEK it was given, also when sealing fails', () => {
    const cek = new Uint8Array(randomBytes(32));
    sealWithKmsWrappedKey({ provider: 'gcp', keyId: 'k', keyVersion: 1, encapsulatedKey: Uint8Array.of(1), cek, plaintext: Uint8Array.of(1) });
    expect(cek.every((b) => b === 0)).toBe(true);
    const again = new Uint8Array(randomBytes(32));
    expect(() => sealWithKmsWrappedKey({ provider: 'GCP', keyId: 'k', keyVersion: 1, encapsulatedKey: Uint8Array.of(1), cek: again, plaintext: Uint8Array.of(1) })).toThrow(RangeError);
    expect(again.every((b) => b === 0)).toBe(true);
  });

  it('refuses misuse: empty or oversized encapsulated key, a 16-byte CEK', () => {
    const cek = () => new Uint8Array(32);
    const base = { provider: 'gcp', keyId: 'k', keyVersion: 1, plaintext: Uint8Array.of(1) };
    expect(() => sealWithKmsWrappedKey({ ...base, encapsulatedKey: new Uint8Array(0), cek: cek() })).toThrow(RangeError);
    expect(() => sealWithKmsWrappedKey({ ...base, encapsulatedKey: new Uint8Array(2049), cek: cek() })).toThrow(RangeError);
    expect(() => sealWithKmsWrappedKey({ ...base, encapsulatedKey: Uint8Array.of(1), cek: new Uint8Array(16) })).toThrow(RangeError);
  });

  it('zeroizes the CEK unwrapCek returned, on success and on failure', async () => {
    const cek = new Uint8Array(randomBytes(32));
    const envelope = sealed(cek);
    const handed = cek.slice();
    await openKmsEnvelope(envelope, async () => handed, CONTEXT);
    expect(handed.every((b) => b === 0)).toBe(true);
    const handedAgain = cek.slice();
    expect(await codeOf(openKmsEnvelope(envelope, async () => handedAgain, { other: 'context' }))).toBe('INVALID_CIPHERTEXT');
    expect(handedAgain.every((b) => b === 0)).toBe(true);
  });

  it('turns an authentication failure into INVALID_CIPHERTEXT with no cause', async () => {
    const cek = new Uint8Array(randomBytes(32));
    const envelope = sealed(cek);
    const tampered = envelope.slice();
    tampered[tampered.length - 1]! ^= 1;
    try {
      await openKmsEnvelope(tampered, async () => cek.slice(), CONTEXT);
      expect.unreachable();
    } catch (error) {
      expect((error as { code?: string }).code).toBe('INVALID_CIPHERTEXT');
      expect((error as Error).cause).toBeUndefined();
    }
    expect(await codeOf(openKmsEnvelope(envelope, async () => new Uint8Array(randomBytes(32)), CONTEXT))).toBe('INVALID_CIPHERTEXT');
  });

  it('turns a non-KMS failure of unwrapCek into INVALID_CIPHERTEXT, and passes KmsErrors through', async () => {
    const envelope = sealed(new Uint8Array(32));
    expect(await codeOf(openKmsEnvelope(envelope, async () => Promise.reject(new Error('OpenSSL: bad decrypt')), CONTEXT))).toBe('INVALID_CIPHERTEXT');
    const throttled = new Throttled({ provider: 'aws', operation: 'unwrap' });
    await expect(openKmsEnvelope(envelope, async () => Promise.reject(throttled), CONTEXT)).rejects.toBe(throttled);
    expect(await codeOf(openKmsEnvelope(envelope, async () => Promise.reject(new KeyNotFound({ provider: 'aws', operation: 'unwrap' })), CONTEXT))).toBe('KMS_KEY_NOT_FOUND');
  });

  it('keeps parse errors typed: ENVELOPE_MALFORMED for garbage, without calling unwrapCek', async () => {
    let calls = 0;
    const unwrapCek = async () => (calls++, new Uint8Array(32));
    expect(await codeOf(openKmsEnvelope(new Uint8Array(randomBytes(40)), unwrapCek))).toBe('ENVELOPE_MALFORMED');
    const envelope = sealed(new Uint8Array(32));
    expect(await codeOf(openKmsEnvelope(envelope.subarray(0, 20), unwrapCek))).toBe('ENVELOPE_MALFORMED');
    expect(await codeOf(openKmsEnvelope(envelope, unwrapCek, CONTEXT, { maxCiphertextLength: 16 }))).toBe('ENVELOPE_MALFORMED');
    expect(calls).toBe(0);
  });

  it('Precondition: only KMS_AES_256_GCM envelopes are opened through a KMS', async () => {
    const symmetric = sealEnvelope({ key: new Uint8Array(32), provider: 'aws', keyId: 'k', keyVersion: 1, plaintext: Uint8Array.of(1) });
    let calls = 0;
    expect(await codeOf(openKmsEnvelope(symmetric, async () => (calls++, new Uint8Array(32))))).toBe('INVALID_CIPHERTEXT');
    expect(calls).toBe(0);
  });

  it('Precondition: the envelope names the provider that is opening it', async () => {
    const envelope = sealed(new Uint8Array(32));
    let calls = 0;
    expect(await codeOf(openKmsEnvelope(envelope, async () => (calls++, new Uint8Array(32)), CONTEXT, { provider: 'gcp' }))).toBe('INVALID_CIPHERTEXT');
    expect(calls).toBe(0);
  });

  it('Precondition: the provider returned a 32-byte CEK', async () => {
    const cek = new Uint8Array(randomBytes(32));
    const envelope = sealed(cek);
    const short = cek.slice(0, 31);
    expect(await codeOf(openKmsEnvelope(envelope, async () => short, CONTEXT))).toBe('INVALID_CIPHERTEXT');
    expect(short.every((b) => b === 0)).toBe(true);
    expect(await codeOf(openKmsEnvelope(envelope, async () => 'not bytes' as unknown as Uint8Array, CONTEXT))).toBe('INVALID_CIPHERTEXT');
  });

  it('authenticates the encapsulated key and header: a relabelled key id fails even with the right CEK', async () => {
    const cek = new Uint8Array(randomBytes(32));
    const envelope = sealed(cek);
    const relabelled = encodeEnvelope({ ...decodeEnvelope(envelope), keyId: 'another-key' });
    expect(await codeOf(openKmsEnvelope(relabelled, async () => cek.slice(), CONTEXT))).toBe('INVALID_CIPHERTEXT');
    const reblob = encodeEnvelope({ ...decodeEnvelope(envelope), encapsulatedKey: Uint8Array.of(9, 9, 8) });
    expect(await codeOf(openKmsEnvelope(reblob, async () => cek.slice(), CONTEXT))).toBe('INVALID_CIPHERTEXT');
  });

  it('misuse: unwrapCek not a function is a TypeError', async () => {
    expect(await codeOf(openKmsEnvelope(sealed(new Uint8Array(32)), 'x' as unknown as () => Promise<Uint8Array>))).toBe('TypeError');
  });
});
