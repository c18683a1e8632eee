/**
 * Envelope v1 cost against raw node:crypto, measured in the same run: seal / open of 1 KiB with
 * AES_256_GCM (and CHACHA20_POLY1305) vs a bare AES-256-GCM encrypt / decrypt of 1 KiB. Target:
 * the envelope costs at most 2x the raw operation (header encode + parse, context encoding, AAD).
 *
 * The raw baselines draw their 12-byte nonce with randomBytes too, because any correct use of GCM
 * has to; the envelope's extra cost is then the format, not the randomness.
 *
 * Trust boundary: none; benchmark with throwaway keys.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { runComparison } from '@fleetkey/bench';
import { openEnvelope, sealEnvelope, type SealParams } from '../src/index.js';

const KIB = 1024;
const key = randomBytes(32);
const plaintext = randomBytes(KIB);
const context = { device: 'robot-17', purpose: 'telemetry', fleet: 'acme' };
const aes: SealParams = { key, provider: 'local', keyId: 'communication/acme/fleet', keyVersion: 17, plaintext, context };
const chacha: SealParams = { ...aes, algorithm: 'CHACHA20_POLY1305' };

function rawSeal(): Buffer[] {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
  return [nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()];
}

const [rawNonce, rawBody, , rawTag] = rawSeal() as [Buffer, Buffer, Buffer, Buffer];
function rawOpen(): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, rawNonce, { authTagLength: 16 });
  decipher.setAuthTag(rawTag);
  const out = decipher.update(rawBody);
  decipher.final();
  return out;
}

const sealedAes = sealEnvelope(aes);
const sealedChacha = sealEnvelope(chacha);

// Sanity: what we time must work.
if (Buffer.compare(Buffer.from(openEnvelope(sealedAes, key, context)), plaintext) !== 0) throw new Error('AES envelope round trip failed');
if (Buffer.compare(Buffer.from(openEnvelope(sealedChacha, key, context)), plaintext) !== 0) throw new Error('ChaCha envelope round trip failed');
if (Buffer.compare(rawOpen(), plaintext) !== 0) throw new Error('raw round trip failed');

const time = 1500;
await runComparison({
  title: 'envelope v1 seal, 1 KiB (vs raw AES-256-GCM encrypt of 1 KiB)',
  baseline: { name: 'raw aes-256-gcm encrypt 1 KiB', fn: rawSeal },
  cases: [
    { name: 'sealEnvelope AES_256_GCM 1 KiB', fn: () => sealEnvelope(aes), maxCostRatio: 2 },
    { name: 'sealEnvelope CHACHA20_POLY1305 1 KiB', fn: () => sealEnvelope(chacha) },
  ],
  time,
});
await runComparison({
  title: 'envelope v1 open, 1 KiB (vs raw AES-256-GCM decrypt of 1 KiB)',
  baseline: { name: 'raw aes-256-gcm decrypt 1 KiB', fn: rawOpen },
  cases: [
    { name: 'openEnvelope AES_256_GCM 1 KiB', fn: () => openEnvelope(sealedAes, key, context), maxCostRatio: 2 },
    { name: 'openEnvelope CHACHA20_POLY1305 1 KiB', fn: () => openEnvelope(sealedChacha, key, context) },
  ],
  time,
});
