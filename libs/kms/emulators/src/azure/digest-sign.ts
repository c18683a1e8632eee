/**
 * Signing and verifying a digest the client computed, as Key Vault's `sign` / `verify` do
 * (JWA RFC 7518 §3): RS* (RSASSA-PKCS1-v1_5, RFC 8017 §8.2 with the §9.2 DigestInfo), PS*
 * (RSASSA-PSS, RFC 8017 §8.1 / §9.1, MGF1 with the same hash, salt length = hash length) and ES*
 * (ECDSA, raw r‖s of fixed width, RFC 7518 §3.4). node:crypto signs messages, not digests, so the
 * padding is built here and the RSA private operation runs through `privateEncrypt` without
 * padding; ECDSA uses ec-math.ts.
 *
 * Trust boundary: inputs are request bytes from an authenticated test client; lengths are checked
 * before any key operation and failures are reported, never thrown past the caller.
 */
import { constants, createHash, generateKeyPairSync, privateEncrypt, publicDecrypt, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { CURVES, bigIntToBytes, bytesToBigInt, ecdsaS, ecdsaVerify } from './ec-math.js';

type Hash = 'sha256' | 'sha384' | 'sha512';

export interface SignatureAlgorithmSpec {
  readonly family: 'RSA' | 'EC';
  readonly hash: Hash;
  readonly scheme: 'pkcs1' | 'pss' | 'ecdsa';
  /** Key Vault curve name, ECDSA only. */
  readonly curve?: string;
}

/** The JWA signature algorithms Key Vault accepts for RSA and EC keys. */
export const SIGNATURE_ALGORITHMS: Readonly<Record<string, SignatureAlgorithmSpec>> = Object.freeze({
  RS256: { family: 'RSA', hash: 'sha256', scheme: 'pkcs1' },
  RS384: { family: 'RSA', hash: 'sha384', scheme: 'pkcs1' },
  RS512: { family: 'RSA', hash: 'sha512', scheme: 'pkcs1' },
  PS256: { family: 'RSA', hash: 'sha256', scheme: 'pss' },
  PS384: { family: 'RSA', hash: 'sha384', scheme: 'pss' },
  PS512: { family: 'RSA', hash: 'sha512', scheme: 'pss' },
  ES256: { family: 'EC', hash: 'sha256', scheme: 'ecdsa', curve: 'P-256' },
  ES384: { family: 'EC', hash: 'sha384', scheme: 'ecdsa', curve: 'P-384' },
  ES512: { family: 'EC', hash: 'sha512', scheme: 'ecdsa', curve: 'P-521' },
  ES256K: { family: 'EC', hash: 'sha256', scheme: 'ecdsa', curve: 'P-256K' },
});

export const DIGEST_LENGTHS: Readonly<Record<Hash, number>> = Object.freeze({ sha256: 32, sha384: 48, sha512: 64 });

// RFC 8017 §9.2 note 1: DER DigestInfo prefixes.
const DIGEST_INFO_PREFIX: Readonly<Record<Hash, string>> = Object.freeze({
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
});

const NODE_CURVE: Readonly<Record<string, string>> = Object.freeze({
  'P-256': 'prime256v1',
  'P-384': 'secp384r1',
  'P-521': 'secp521r1',
  'P-256K': 'secp256k1',
});

function modulusBits(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits === undefined) throw new TypeError('"key" expected an RSA key');
  return bits;
}

/** RFC 8017 §B.2.1 MGF1. */
function mgf1(hash: Hash, seed: Uint8Array, length: number): Buffer {
  const out: Buffer[] = [];
  let produced = 0;
  for (let counter = 0; produced < length; counter += 1) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(c).digest();
    out.push(block);
    produced += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** RFC 8017 §9.1.1 EMSA-PSS-ENCODE with sLen = hLen, left-padded to the modulus length. */
function pssEncode(hash: Hash, digest: Uint8Array, modBits: number): Buffer {
  const hLen = DIGEST_LENGTHS[hash];
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(hLen);
  const h = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - 2 * hLen - 2), Buffer.from([0x01]), salt]);
  const mask = mgf1(hash, h, emLen - hLen - 1);
  for (let i = 0; i < db.length; i += 1) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  const em = Buffer.concat([db, h, Buffer.from([0xbc])]);
  const k = Math.ceil(modBits / 8);
  return em.length === k ? em : Buffer.concat([Buffer.alloc(k - em.length), em]);
}

/** RFC 8017 §9.1.2 EMSA-PSS-VERIFY with sLen = hLen. */
function pssVerify(hash: Hash, digest: Uint8Array, decoded: Buffer, modBits: number): boolean {
  const hLen = DIGEST_LENGTHS[hash];
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const k = Math.ceil(modBits / 8);
  if (k > emLen && decoded[0] !== 0) return false;
  const em = decoded.subarray(k - emLen);
  if (emLen < 2 * hLen + 2 || em[emLen - 1] !== 0xbc) return false;
  const db = Buffer.from(em.subarray(0, emLen - hLen - 1));
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  if ((db[0]! & ~(0xff >> (8 * emLen - emBits)) & 0xff) !== 0) return false;
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i += 1) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  const psLen = emLen - 2 * hLen - 2;
  for (let i = 0; i < psLen; i += 1) if (db[i] !== 0) return false;
  if (db[psLen] !== 0x01) return false;
  const salt = db.subarray(db.length - hLen);
  const expected = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  return timingSafeEqual(expected, h);
}

/** Signs `digest` (already checked to be the hash's length) with the private key. */
export function signDigest(alg: SignatureAlgorithmSpec, privateKey: KeyObject, digest: Uint8Array): Uint8Array {
  if (alg.scheme === 'pkcs1') {
    const input = Buffer.concat([Buffer.from(DIGEST_INFO_PREFIX[alg.hash], 'hex'), digest]);
    return new Uint8Array(privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, input));
  }
  if (alg.scheme === 'pss') {
    const em = pssEncode(alg.hash, digest, modulusBits(privateKey));
    return new Uint8Array(privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, em));
  }
  const curve = CURVES[alg.curve!]!;
  const d = bytesToBigInt(Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url'));
  for (;;) {
    // k and k·G from OpenSSL: a fresh key pair is a fresh nonce and its public point.
    const nonce = generateKeyPairSync('ec', { namedCurve: NODE_CURVE[alg.curve!]! }).privateKey.export({ format: 'jwk' });
    const k = bytesToBigInt(Buffer.from(nonce.d!, 'base64url'));
    const r = bytesToBigInt(Buffer.from(nonce.x!, 'base64url')) % curve.n;
    if (r === 0n) continue;
    const s = ecdsaS(curve, k, r, d, digest);
    if (s === 0n) continue;
    return new Uint8Array(Buffer.concat([bigIntToBytes(r, curve.size), bigIntToBytes(s, curve.size)]));
  }
}

/** True when `signature` is valid for `digest` under the public key; false for anything malformed. */
export function verifyDigest(alg: SignatureAlgorithmSpec, publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (alg.scheme === 'ecdsa') {
      const curve = CURVES[alg.curve!]!;
      if (signature.length !== 2 * curve.size) return false;
      const jwk = publicKey.export({ format: 'jwk' });
      return ecdsaVerify(
        curve,
        bytesToBigInt(Buffer.from(jwk.x!, 'base64url')),
        bytesToBigInt(Buffer.from(jwk.y!, 'base64url')),
        digest,
        bytesToBigInt(signature.subarray(0, curve.size)),
        bytesToBigInt(signature.subarray(curve.size)),
      );
    }
    const modBits = modulusBits(publicKey);
    if (signature.length !== Math.ceil(modBits / 8)) return false;
    if (alg.scheme === 'pkcs1') {
      const decoded = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
      const expected = Buffer.concat([Buffer.from(DIGEST_INFO_PREFIX[alg.hash], 'hex'), digest]);
      return decoded.length === expected.length && timingSafeEqual(decoded, expected);
    }
    const decoded = publicDecrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, signature);
    return pssVerify(alg.hash, digest, decoded, modBits);
  } catch {
    // A signature value ≥ n, or any other malformed input, simply does not verify.
    return false;
  }
}
