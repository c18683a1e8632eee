/**
 * Builds the SQLite3MultipleCiphers raw-key string `x'<64 hex digits>'` for `sqlite3_key` in a
 * Buffer the caller zeroizes, never in a JS string (strings are immutable and cannot be wiped).
 * A raw key bypasses the cipher's passphrase KDF (PBKDF2-SHA256): the store key is already 32
 * uniformly random bytes, so stretching it would only cost time (SQLite3MultipleCiphers
 * `sqlite3mcExtractRawKey`, the SQLCipher `x'…'` syntax).
 *
 * Trust boundary: input is the unlocked store key; output is secret.
 */
import { STORE_KEY_LENGTH } from '../constants.js';

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const PREFIX = Buffer.from("x'", 'latin1');
const SUFFIX = Buffer.from("'", 'latin1');

/** `x'…'` for `storeKey` (32 bytes -> 67 bytes). The caller owns and zeroizes the result. */
export function rawKeyPragmaValue(storeKey: Uint8Array): Buffer {
  if (!(storeKey instanceof Uint8Array) || storeKey.length !== STORE_KEY_LENGTH) {
    throw new RangeError(`"storeKey" expected ${STORE_KEY_LENGTH} bytes`);
  }
  const out = Buffer.alloc(PREFIX.length + 2 * STORE_KEY_LENGTH + SUFFIX.length);
  PREFIX.copy(out, 0);
  let offset = PREFIX.length;
  for (const byte of storeKey) {
    out[offset++] = HEX_DIGITS[byte >> 4]!;
    out[offset++] = HEX_DIGITS[byte & 0x0f]!;
  }
  SUFFIX.copy(out, offset);
  return out;
}
