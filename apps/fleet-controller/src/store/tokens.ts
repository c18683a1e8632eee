/**
 * Bearer tokens for operators and enrollment: generation, hashing and constant-time comparison.
 *
 * Trust boundary: a token exists in clear only in the response that mints it and in the request
 * that presents it. The store keeps SHA-256(token) and looks tokens up by that hash.
 *
 * Why a fast, unsalted hash is right here: every token carries 256 bits from the CSPRNG, so there
 * is no dictionary to precompute and nothing for a salt or a slow KDF (scrypt, argon2) to protect;
 * a preimage search on SHA-256 over 2^256 candidates is the bar. A slow hash would only make every
 * authenticated call expensive (and be a CPU-exhaustion lever for unauthenticated callers).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type TokenKind = 'operator' | 'enrollment';

/** Token prefixes: they make a leaked token recognisable to secret scanners and to people. */
export const TOKEN_PREFIX: Readonly<Record<TokenKind, string>> = Object.freeze({
  operator: 'fk_op_',
  enrollment: 'fk_enr_',
});
/** Random bytes per token (256 bits). */
export const TOKEN_RANDOM_BYTES = 32;
/** Length of a token hash (SHA-256). */
export const TOKEN_HASH_LENGTH = 32;
/** Longest string accepted as a presented token: prefix + base64url(32 bytes) with room to spare. */
export const MAX_TOKEN_LENGTH = 128;

/** Makes a new bearer token: prefix + base64url of 32 random bytes. `random` is injectable for tests. */
export function generateToken(kind: TokenKind, random: (size: number) => Buffer = randomBytes): string {
  const bytes = random(TOKEN_RANDOM_BYTES);
  if (bytes.length !== TOKEN_RANDOM_BYTES) {
    throw new RangeError(`"random" expected ${TOKEN_RANDOM_BYTES} bytes, got ${bytes.length}`);
  }
  try {
    return TOKEN_PREFIX[kind] + bytes.toString('base64url');
  } finally {
    bytes.fill(0);
  }
}

/**
 * SHA-256 of a presented token (FIPS 180-4). This is what the store keeps and looks up.
 * @throws TypeError when `token` is not a non-empty string; RangeError past MAX_TOKEN_LENGTH.
 */
export function hashToken(token: string): Buffer {
  if (typeof token !== 'string' || token.length === 0) throw new TypeError('"token" expected a non-empty string');
  // Precondition: a presented token is bounded before any work is done on it.
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new RangeError(`"token" expected at most ${MAX_TOKEN_LENGTH} characters, got ${token.length}`);
  }
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Constant-time equality of two token hashes; false (not a throw) on a length mismatch. */
export function tokenHashesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== TOKEN_HASH_LENGTH || b.length !== TOKEN_HASH_LENGTH) return false;
  return timingSafeEqual(a, b);
}

/**
 * @throws TypeError when `hash` is not a 32-byte SHA-256 value (a caller passed the token itself,
 * or a truncated hash).
 */
export function assertTokenHash(name: string, hash: Uint8Array): void {
  if (!(hash instanceof Uint8Array) || hash.length !== TOKEN_HASH_LENGTH) {
    const got = hash instanceof Uint8Array ? `${hash.length} bytes` : typeof hash;
    throw new TypeError(`"${name}" expected ${TOKEN_HASH_LENGTH} bytes, got ${got}`);
  }
}
