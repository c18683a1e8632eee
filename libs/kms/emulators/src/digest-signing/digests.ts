/**
 * The hash functions a precomputed digest may come from, and their output lengths, shared by the
 * ECDSA and RSA digest signers of this folder (FIPS 180-4 SHA-2).
 *
 * Trust boundary: test tooling for the KMS wire emulators only, never production code.
 */

export type DigestName = 'sha224' | 'sha256' | 'sha384' | 'sha512';

/** Output length in bytes of each hash (FIPS 180-4 §1). */
export const DIGEST_LENGTH: Readonly<Record<DigestName, number>> = Object.freeze({ sha224: 28, sha256: 32, sha384: 48, sha512: 64 });

/** Throws RangeError unless `digest` is exactly as long as `hash`'s output. */
export function checkDigestLength(hash: DigestName, digest: Uint8Array): void {
  const expected = DIGEST_LENGTH[hash];
  if (expected === undefined) throw new RangeError(`"hash" expected sha224, sha256, sha384 or sha512, got ${JSON.stringify(String(hash).slice(0, 16))}`);
  if (digest.length !== expected) throw new RangeError(`"digest" expected ${expected} bytes for ${hash}, got ${digest.length}`);
}
