/**
 * Known-answer vectors (test-vectors/envelope-v1.json): each vector is recomputed through the
 * internal fixed-nonce seam and compared byte for byte, rebuilt by hand from the layout table with
 * raw node:crypto (so the format itself, not only our encoder, is pinned), and opened.
 */
import { createCipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ENVELOPE_VECTOR_FILE,
  renderEnvelopeVectors,
  type EnvelopeVector,
  type EnvelopeVectorFile,
} from '../../test-vectors/generate-envelope-vectors.js';
import { decodeEnvelope } from './codec.js';
import { openEnvelope, sealEnvelopeWithNonce } from './seal.js';
import { ascii, fromHex, handContext, hex, rawEnvelope, rawHeader, thrownCode } from './test-support.js';

const fileText = readFileSync(ENVELOPE_VECTOR_FILE, 'utf8');
const file = JSON.parse(fileText) as EnvelopeVectorFile;
const vectors: readonly EnvelopeVector[] = file.vectors;
const contextOf = (v: EnvelopeVector) => (v.context === null ? undefined : v.context);

/** Envelope v1 by hand: header from the layout table, AAD rule, raw node:crypto AEAD. */
function handSeal(v: EnvelopeVector): string {
  const key = fromHex(v.keyHex);
  const nonce = fromHex(v.nonceHex);
  const parts = {
    algorithmId: v.algorithm === 'AES_256_GCM' ? 0x01 : 0x02,
    provider: ascii(v.provider),
    keyId: ascii(v.keyId),
    keyVersion: v.keyVersion,
    encapsulatedKey: [],
    nonce: [...nonce],
  };
  const ctx = handContext(v.context);
  const ctxLength = Buffer.alloc(4);
  ctxLength.writeUInt32BE(ctx.length);
  const options = { authTagLength: 16 } as const;
  const cipher =
    v.algorithm === 'AES_256_GCM' ? createCipheriv('aes-256-gcm', key, nonce, options) : createCipheriv('chacha20-poly1305', key, nonce, options);
  cipher.setAAD(Buffer.concat([rawHeader(parts), ctxLength, ctx]));
  const ciphertext = Buffer.concat([cipher.update(fromHex(v.plaintextHex)), cipher.final(), cipher.getAuthTag()]);
  return hex(rawEnvelope({ ...parts, ciphertext: [...ciphertext] }));
}

describe('envelope v1 known-answer vectors', () => {
  it('covers both symmetric algorithms, empty plaintext, several sizes and a unicode context', () => {
    expect(file.format).toBe('fleetkey envelope v1');
    expect(new Set(vectors.map((v) => v.algorithm))).toEqual(new Set(['AES_256_GCM', 'CHACHA20_POLY1305']));
    for (const algorithm of ['AES_256_GCM', 'CHACHA20_POLY1305']) {
      const mine = vectors.filter((v) => v.algorithm === algorithm);
      expect(mine.some((v) => v.plaintextHex === '')).toBe(true);
      expect(new Set(mine.map((v) => v.plaintextHex.length / 2)).size).toBeGreaterThanOrEqual(5);
      const nonAscii = (text: string) => [...text].some((ch) => ch.charCodeAt(0) > 0x7f);
      expect(mine.some((v) => Object.entries(v.context ?? {}).some(([k, x]) => nonAscii(k + x)))).toBe(true);
    }
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s: recomputes to the checked-in bytes', (_name, v) => {
    const sealed = sealEnvelopeWithNonce(
      {
        key: fromHex(v.keyHex),
        algorithm: v.algorithm,
        provider: v.provider,
        keyId: v.keyId,
        keyVersion: v.keyVersion,
        plaintext: fromHex(v.plaintextHex),
        ...(v.context === null ? {} : { context: v.context }),
      },
      fromHex(v.nonceHex),
    );
    expect(hex(sealed)).toBe(v.envelopeHex);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s: matches a by-hand construction from the spec', (_name, v) => {
    expect(handSeal(v)).toBe(v.envelopeHex);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s: opens, and names its key', (_name, v) => {
    const bytes = fromHex(v.envelopeHex);
    expect(hex(openEnvelope(bytes, fromHex(v.keyHex), contextOf(v)))).toBe(v.plaintextHex);
    expect(decodeEnvelope(bytes)).toMatchObject({ algorithm: v.algorithm, provider: v.provider, keyId: v.keyId, keyVersion: v.keyVersion });
    expect(thrownCode(() => openEnvelope(bytes, fromHex(v.keyHex), { ...contextOf(v), extra: 'x' }))).toBe('DECRYPTION_FAILED');
  });

  it('the checked-in file is exactly what the generator produces', () => {
    expect(fileText).toBe(renderEnvelopeVectors());
  });
});
