/**
 * Known-answer vectors of algorithm 0x30 KMS_AES_256_GCM (test-vectors/envelope-v1-kms.json): each
 * is recomputed through the internal fixed-nonce seam, rebuilt by hand from the docs' layout table
 * with raw node:crypto, opened with its CEK, and refused by the symmetric opener.
 */
import { createCipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  KMS_ENVELOPE_VECTOR_FILE,
  renderKmsEnvelopeVectors,
  type KmsEnvelopeVector,
  type KmsEnvelopeVectorFile,
} from '../../test-vectors/generate-kms-envelope-vectors.js';
import { decodeEnvelope } from './codec.js';
import { openWithContentKey, sealWithContentKeyAndNonce } from './content.js';
import { openEnvelope } from './seal.js';
import { ascii, fromHex, handContext, hex, rawEnvelope, rawHeader, thrownCode } from './test-support.js';

const fileText = readFileSync(KMS_ENVELOPE_VECTOR_FILE, 'utf8');
const file = JSON.parse(fileText) as KmsEnvelopeVectorFile;
const vectors: readonly KmsEnvelopeVector[] = file.vectors;
const contextOf = (v: KmsEnvelopeVector) => (v.context === null ? undefined : v.context);

function handSeal(v: KmsEnvelopeVector): string {
  const nonce = fromHex(v.nonceHex);
  const parts = {
    algorithmId: 0x30,
    provider: ascii(v.provider),
    keyId: ascii(v.keyId),
    keyVersion: v.keyVersion,
    encapsulatedKey: [...fromHex(v.encapsulatedKeyHex)],
    nonce: [...nonce],
  };
  const ctx = handContext(v.context);
  const ctxLength = Buffer.alloc(4);
  ctxLength.writeUInt32BE(ctx.length);
  const cipher = createCipheriv('aes-256-gcm', fromHex(v.cekHex), nonce, { authTagLength: 16 });
  cipher.setAAD(Buffer.concat([rawHeader(parts), ctxLength, ctx]));
  const ciphertext = Buffer.concat([cipher.update(fromHex(v.plaintextHex)), cipher.final(), cipher.getAuthTag()]);
  return hex(rawEnvelope({ ...parts, ciphertext: [...ciphertext] }));
}

describe('envelope v1 KMS_AES_256_GCM known-answer vectors', () => {
  it('covers the encapsulated-key bounds (1 and 2048 bytes), version 0 and a non-ASCII context', () => {
    const lengths = vectors.map((v) => v.encapsulatedKeyHex.length / 2);
    expect(Math.min(...lengths)).toBe(1);
    expect(Math.max(...lengths)).toBe(2048);
    expect(vectors.some((v) => v.keyVersion === 0)).toBe(true);
    expect(vectors.some((v) => Object.values(v.context ?? {}).some((x) => [...x].some((ch) => ch.charCodeAt(0) > 0x7f)))).toBe(true);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s: recomputes to the checked-in bytes', (_name, v) => {
    const sealed = sealWithContentKeyAndNonce(
      { algorithm: 'KMS_AES_256_GCM', provider: v.provider, keyId: v.keyId, keyVersion: v.keyVersion, encapsulatedKey: fromHex(v.encapsulatedKeyHex) },
      fromHex(v.cekHex),
      fromHex(v.plaintextHex),
      contextOf(v),
      fromHex(v.nonceHex),
    );
    expect(hex(sealed)).toBe(v.envelopeHex);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s: matches a by-hand construction from the spec', (_name, v) => {
    expect(handSeal(v)).toBe(v.envelopeHex);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s: opens with its CEK, names its key, refuses the symmetric opener', (_name, v) => {
    const bytes = fromHex(v.envelopeHex);
    expect(hex(openWithContentKey(bytes, fromHex(v.cekHex), contextOf(v)))).toBe(v.plaintextHex);
    expect(decodeEnvelope(bytes)).toMatchObject({ algorithm: 'KMS_AES_256_GCM', provider: v.provider, keyId: v.keyId, keyVersion: v.keyVersion });
    expect(hex(decodeEnvelope(bytes).encapsulatedKey)).toBe(v.encapsulatedKeyHex);
    expect(thrownCode(() => openWithContentKey(bytes, fromHex(v.cekHex), { ...contextOf(v), extra: 'x' }))).toBe('DECRYPTION_FAILED');
    expect(thrownCode(() => openEnvelope(bytes, fromHex(v.cekHex), contextOf(v)))).toBe('ENVELOPE_UNSUPPORTED');
  });

  it('the checked-in file is exactly what the generator produces', () => {
    expect(fileText).toBe(renderKmsEnvelopeVectors());
  });
});
