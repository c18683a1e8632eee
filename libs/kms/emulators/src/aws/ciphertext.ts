/**
 * The emulator's symmetric CiphertextBlob: opaque to clients (as AWS's is), but the emulator can
 * parse it back to the key and backing-key version that made it, and it is authenticated:
 *
 *   0x01 | key id (36 ASCII bytes, a UUID) | backing version (uint32 BE) | IV (12) | ct | tag (16)
 *
 * AES-256-GCM under the backing key; AAD = the 41 header bytes ‖ the canonical encryption context
 * (entries sorted by key, each as uint16-length-prefixed UTF-8 key and value). So a changed key
 * id, version, context or ciphertext byte fails as InvalidCiphertextException.
 *
 * Trust boundary: `parseCiphertextBlob` and `openCiphertext` take client bytes.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const BLOB_FORMAT = 0x01;
export const KEY_ID_LENGTH = 36;
export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;
export const HEADER_LENGTH = 1 + KEY_ID_LENGTH + 4;
/** AWS: CiphertextBlob is at most 6144 bytes. */
export const MAX_CIPHERTEXT_BLOB = 6144;
/** AWS: Encrypt takes at most 4096 bytes of plaintext. */
export const MAX_PLAINTEXT = 4096;

export type EncryptionContext = Readonly<Record<string, string>>;

export function encodeEncryptionContext(context: EncryptionContext): Buffer {
  const parts: Buffer[] = [];
  for (const key of Object.keys(context).sort()) {
    for (const text of [key, context[key]!]) {
      const bytes = Buffer.from(text, 'utf8');
      const length = Buffer.alloc(2);
      length.writeUInt16BE(bytes.length);
      parts.push(length, bytes);
    }
  }
  return Buffer.concat(parts);
}

export interface ParsedBlob {
  readonly keyId: string;
  readonly version: number;
  readonly header: Buffer;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

/** @returns null when the bytes are not one of this emulator's blobs. */
export function parseCiphertextBlob(blob: Uint8Array): ParsedBlob | null {
  const buf = Buffer.from(blob);
  // Precondition: bytes too short, too long or of another format are not a blob.
  if (buf.length < HEADER_LENGTH + IV_LENGTH + TAG_LENGTH || buf.length > MAX_CIPHERTEXT_BLOB) return null;
  if (buf[0] !== BLOB_FORMAT) return null;
  const keyId = buf.subarray(1, 1 + KEY_ID_LENGTH).toString('latin1');
  if (!/^[0-9a-f-]{36}$/.test(keyId)) return null;
  return {
    keyId,
    version: buf.readUInt32BE(1 + KEY_ID_LENGTH),
    header: buf.subarray(0, HEADER_LENGTH),
    iv: buf.subarray(HEADER_LENGTH, HEADER_LENGTH + IV_LENGTH),
    ciphertext: buf.subarray(HEADER_LENGTH + IV_LENGTH, buf.length - TAG_LENGTH),
    tag: buf.subarray(buf.length - TAG_LENGTH),
  };
}

export function sealCiphertext(keyId: string, version: number, backingKey: Buffer, plaintext: Uint8Array, context: EncryptionContext): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  header[0] = BLOB_FORMAT;
  header.write(keyId, 1, KEY_ID_LENGTH, 'latin1');
  header.writeUInt32BE(version, 1 + KEY_ID_LENGTH);
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', backingKey, iv);
  cipher.setAAD(Buffer.concat([header, encodeEncryptionContext(context)]));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, iv, ciphertext, cipher.getAuthTag()]);
}

/** @returns the plaintext, or null when authentication fails. */
export function openCiphertext(parsed: ParsedBlob, backingKey: Buffer, context: EncryptionContext): Buffer | null {
  try {
    const decipher = createDecipheriv('aes-256-gcm', backingKey, parsed.iv, { authTagLength: TAG_LENGTH });
    decipher.setAAD(Buffer.concat([parsed.header, encodeEncryptionContext(context)]));
    decipher.setAuthTag(parsed.tag);
    return Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]);
  } catch {
    return null;
  }
}
