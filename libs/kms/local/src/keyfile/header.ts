/**
 * The key file's clear header: magic, format version, KDF and its parameters, salt and a
 * generation counter. It is authenticated (it is bound into the sealed body's envelope context),
 * but it must be read before anything can be decrypted, so it is parsed strictly and bounded
 * here: a tampered header can neither weaken scrypt nor make it exhaust memory.
 *
 *   offset size field
 *   0      4    magic "FKLK"
 *   4      1    format version (1)
 *   5      1    KDF id (1 = scrypt, RFC 7914)
 *   6      1    log2(N)  15..20
 *   7      1    r        8..16
 *   8      1    p        1..16      (and 128·N·r <= 1 GiB)
 *   9      1    salt length (16)
 *   10     16   salt
 *   26     8    generation, uint64 big-endian, 1.. (+1 on every write)
 *
 * Trust boundary: the bytes come from disk (attacker-controlled); every failure is
 * LocalKeyFileCorrupt naming the field, never echoing bytes.
 */
import {
  KDF_SCRYPT,
  KEYFILE_FORMAT_VERSION,
  KEYFILE_HEADER_LENGTH,
  KEYFILE_MAGIC,
  MAX_SCRYPT_LOG2_N,
  MAX_SCRYPT_MEMORY_BYTES,
  MAX_SCRYPT_P,
  MAX_SCRYPT_R,
  MIN_SCRYPT_LOG2_N,
  MIN_SCRYPT_P,
  MIN_SCRYPT_R,
  SCRYPT_SALT_LENGTH,
} from '../constants.js';
import { LocalKeyFileCorrupt } from '../errors.js';

export interface ScryptParams {
  readonly log2N: number;
  readonly r: number;
  readonly p: number;
}

export interface KeyFileHeader {
  readonly scrypt: ScryptParams;
  readonly salt: Uint8Array;
  readonly generation: number;
}

/** Whether scrypt parameters lie inside the floor and the ceiling. */
export function scryptParamsWithinBounds(params: ScryptParams): boolean {
  const { log2N, r, p } = params;
  if (![log2N, r, p].every(Number.isInteger)) return false;
  if (log2N < MIN_SCRYPT_LOG2_N || log2N > MAX_SCRYPT_LOG2_N) return false;
  if (r < MIN_SCRYPT_R || r > MAX_SCRYPT_R || p < MIN_SCRYPT_P || p > MAX_SCRYPT_P) return false;
  return 128 * 2 ** log2N * r <= MAX_SCRYPT_MEMORY_BYTES;
}

/** @throws RangeError on out-of-bounds fields (programming error: we only encode what we made). */
export function encodeHeader(header: KeyFileHeader): Uint8Array {
  if (!scryptParamsWithinBounds(header.scrypt)) throw new RangeError('"scrypt" parameters out of bounds');
  if (header.salt.length !== SCRYPT_SALT_LENGTH) throw new RangeError(`"salt" expected ${SCRYPT_SALT_LENGTH} bytes`);
  if (!Number.isSafeInteger(header.generation) || header.generation < 1) throw new RangeError('"generation" expected a positive safe integer');
  const out = new Uint8Array(KEYFILE_HEADER_LENGTH);
  const view = new DataView(out.buffer);
  out.set(KEYFILE_MAGIC, 0);
  out[4] = KEYFILE_FORMAT_VERSION;
  out[5] = KDF_SCRYPT;
  out[6] = header.scrypt.log2N;
  out[7] = header.scrypt.r;
  out[8] = header.scrypt.p;
  out[9] = SCRYPT_SALT_LENGTH;
  out.set(header.salt, 10);
  view.setBigUint64(10 + SCRYPT_SALT_LENGTH, BigInt(header.generation));
  return out;
}

/**
 * Parses the header at the start of `bytes`.
 * @throws LocalKeyFileCorrupt for a short file, wrong magic, unknown version or KDF, scrypt
 *   parameters outside the bounds, a wrong salt length, or a generation of 0 / beyond 2^53-1.
 */
export function decodeHeader(bytes: Uint8Array): KeyFileHeader {
  if (bytes.length < KEYFILE_HEADER_LENGTH) throw new LocalKeyFileCorrupt('header truncated');
  if (!KEYFILE_MAGIC.every((b, i) => bytes[i] === b)) throw new LocalKeyFileCorrupt('not a fleetkey local key file (bad magic)');
  if (bytes[4] !== KEYFILE_FORMAT_VERSION) throw new LocalKeyFileCorrupt(`unsupported format version ${bytes[4]}`);
  if (bytes[5] !== KDF_SCRYPT) throw new LocalKeyFileCorrupt(`unknown KDF id ${bytes[5]}`);
  const scrypt = { log2N: bytes[6]!, r: bytes[7]!, p: bytes[8]! };
  // Precondition: scrypt parameters read from the file are within bounds before scrypt runs.
  if (!scryptParamsWithinBounds(scrypt)) throw new LocalKeyFileCorrupt('scrypt parameters out of bounds');
  if (bytes[9] !== SCRYPT_SALT_LENGTH) throw new LocalKeyFileCorrupt('salt length is not 16');
  const salt = new Uint8Array(bytes.subarray(10, 10 + SCRYPT_SALT_LENGTH));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const generation = view.getBigUint64(10 + SCRYPT_SALT_LENGTH);
  if (generation < 1n || generation > BigInt(Number.MAX_SAFE_INTEGER)) throw new LocalKeyFileCorrupt('generation out of range');
  return { scrypt, salt, generation: Number(generation) };
}
