/**
 * scrypt (RFC 7914) parameters and the async derivation the passphrase protector uses.
 * Bounds are enforced on both sides: creating a store refuses anything weaker than N=2^15, r=8,
 * p=1 (the floor the issue sets), and unlocking refuses parameters from the sidecar that are
 * weaker than the floor or so large that a tampered sidecar could exhaust memory or CPU.
 *
 * Trust boundary: parameters read back from the sidecar are attacker-controlled.
 */
import { scrypt } from 'node:crypto';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });
export const MIN_SCRYPT_LOG2_N = 15;
export const MAX_SCRYPT_LOG2_N = 20;
export const MIN_SCRYPT_R = 8;
export const MAX_SCRYPT_R = 16;
export const MIN_SCRYPT_P = 1;
export const MAX_SCRYPT_P = 16;
/** RFC 7914 §6: scrypt needs about 128·N·r bytes; refuse more than this. */
export const MAX_SCRYPT_MEMORY_BYTES = 1024 * 1024 * 1024;
export const SCRYPT_SALT_LENGTH = 16;
export const SCRYPT_KEY_LENGTH = 32;

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Whether `params` lie inside the accepted bounds (floor and ceiling). */
export function scryptParamsWithinBounds(params: { N: unknown; r: unknown; p: unknown }): params is ScryptParams {
  const { N, r, p } = params;
  if (typeof N !== 'number' || typeof r !== 'number' || typeof p !== 'number') return false;
  if (!isPowerOfTwo(N) || N < 2 ** MIN_SCRYPT_LOG2_N || N > 2 ** MAX_SCRYPT_LOG2_N) return false;
  if (!Number.isInteger(r) || r < MIN_SCRYPT_R || r > MAX_SCRYPT_R) return false;
  if (!Number.isInteger(p) || p < MIN_SCRYPT_P || p > MAX_SCRYPT_P) return false;
  return 128 * N * r <= MAX_SCRYPT_MEMORY_BYTES;
}

/** Derives a 32-byte key. The caller owns and zeroizes the result. */
export function deriveScryptKey(passphrase: Uint8Array, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  // Node refuses when 128·N·r exceeds maxmem; give it twice the need, bounded above.
  const maxmem = 2 * 128 * params.N * params.r;
  return new Promise((resolve, reject) => {
    scrypt(passphrase, salt, SCRYPT_KEY_LENGTH, { N: params.N, r: params.r, p: params.p, maxmem }, (error, key) => {
      if (error) {
        reject(error);
        return;
      }
      const out = new Uint8Array(key);
      key.fill(0);
      resolve(out);
    });
  });
}
