/**
 * Strict base64 for the sidecar's binary fields. `Buffer.from(s, 'base64')` silently skips junk,
 * which would let a damaged sidecar decode to something; this refuses anything non-canonical.
 *
 * Trust boundary: input comes from the sidecar file on disk (attacker-controlled).
 */
import { StoreCorrupt } from './errors.js';

const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * Decodes canonical base64 of `minLength..maxLength` bytes.
 * @throws StoreCorrupt naming `field` (never echoing the value) when it is not.
 */
export function decodeBase64Field(value: unknown, field: string, minLength: number, maxLength: number): Uint8Array {
  // Precondition: the field is canonical base64 of a bounded length before any byte is used.
  if (typeof value !== 'string' || value.length > 4 * Math.ceil(maxLength / 3) || !BASE64_PATTERN.test(value)) {
    throw new StoreCorrupt(`keystore sidecar: "${field}" is not canonical base64`);
  }
  const bytes = new Uint8Array(Buffer.from(value, 'base64'));
  if (bytes.length < minLength || bytes.length > maxLength) {
    throw new StoreCorrupt(`keystore sidecar: "${field}" expected ${minLength}..${maxLength} bytes, got ${bytes.length}`);
  }
  return bytes;
}
