/**
 * The emulator's GOOGLE_SYMMETRIC_ENCRYPTION ciphertext. Google's format is opaque and
 * undocumented; clients must treat it as bytes. This one carries what Decrypt needs to choose the
 * version, and binds itself to the key and the caller's AAD:
 *
 *   0x01 ‖ keyTag (16) ‖ version (uint32 BE) ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16)
 *   GCM AAD = the 21 header bytes ‖ additional_authenticated_data
 *
 * keyTag is a random id of the CryptoKey, so a ciphertext presented to another key fails early.
 *
 * Trust boundary: ciphertexts come from clients; every failure is the one fixed INVALID_ARGUMENT.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { decryptionFailed } from './status.js';

const FORMAT = 0x01;
export const KEY_TAG_LENGTH = 16;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
const HEADER_LENGTH = 1 + KEY_TAG_LENGTH + 4;
export const CIPHERTEXT_OVERHEAD = HEADER_LENGTH + NONCE_LENGTH + TAG_LENGTH;
/** EncryptRequest.plaintext and AAD limit for SOFTWARE keys: 64 KiB each. */
export const MAX_PLAINTEXT_BYTES = 64 * 1024;
export const MAX_AAD_BYTES = 64 * 1024;
export const MAX_CIPHERTEXT_BYTES = MAX_PLAINTEXT_BYTES + CIPHERTEXT_OVERHEAD;

function header(keyTag: Uint8Array, version: number): Buffer {
  const h = Buffer.alloc(HEADER_LENGTH);
  h[0] = FORMAT;
  h.set(keyTag, 1);
  h.writeUInt32BE(version, 1 + KEY_TAG_LENGTH);
  return h;
}

export function sealSymmetric(key: Buffer, keyTag: Uint8Array, version: number, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  const h = header(keyTag, version);
  const nonce = randomBytes(NONCE_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.concat([h, aad]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([h, nonce, body, cipher.getAuthTag()]);
}

/**
 * The version a ciphertext names, after checking it belongs to this key.
 * @throws GcpStatusError INVALID_ARGUMENT (fixed message) when it is not one of this key's.
 */
export function versionOf(ciphertext: Uint8Array, keyTag: Uint8Array): number {
  // Precondition: a ciphertext is at least header + nonce + tag and at most the bound.
  if (ciphertext.length < CIPHERTEXT_OVERHEAD || ciphertext.length > MAX_CIPHERTEXT_BYTES) throw decryptionFailed();
  if (ciphertext[0] !== FORMAT) throw decryptionFailed();
  if (!Buffer.from(ciphertext.subarray(1, 1 + KEY_TAG_LENGTH)).equals(Buffer.from(keyTag))) throw decryptionFailed();
  return Buffer.from(ciphertext.subarray(1 + KEY_TAG_LENGTH, HEADER_LENGTH)).readUInt32BE(0);
}

/** @throws GcpStatusError INVALID_ARGUMENT (fixed message) when the ciphertext does not open. */
export function openSymmetric(key: Buffer, ciphertext: Uint8Array, aad: Uint8Array): Buffer {
  const buf = Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.length);
  const h = buf.subarray(0, HEADER_LENGTH);
  const nonce = buf.subarray(HEADER_LENGTH, HEADER_LENGTH + NONCE_LENGTH);
  const body = buf.subarray(HEADER_LENGTH + NONCE_LENGTH, buf.length - TAG_LENGTH);
  const tag = buf.subarray(buf.length - TAG_LENGTH);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(Buffer.concat([h, aad]));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw decryptionFailed();
  }
}
