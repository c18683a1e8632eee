/**
 * Signing and verifying a digest the caller already computed (`prehashed: true` in Vault Transit).
 * node:crypto only signs messages (it always hashes), so the emulator builds the prehashed forms
 * from public primitives: ECDSA from the curve's scalar multiplication (via ECDH, which returns the
 * full point) plus one affine point addition, RSA PKCS#1 v1.5 from DigestInfo + private-key
 * encryption, RSA-PSS from EMSA-PSS encoding + raw RSA.
 *
 * Trust boundary: test and demo tooling only. Digests and signatures arrive from the network; every
 * malformed value answers "invalid" rather than throwing.
 */
import { constants, createECDH, createHash, privateEncrypt, publicDecrypt, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

export type EcCurve = 'P-256' | 'P-384' | 'P-521';
export type DigestName = 'sha224' | 'sha256' | 'sha384' | 'sha512';

interface CurveParams {
  readonly ecdhName: string;
  readonly p: bigint;
  readonly n: bigint;
  readonly bytes: number;
}

// SEC 2 v2 §2.4.2, §2.5.1, §2.6.1 (NIST P-256, P-384, P-521): field prime p and group order n.
export const CURVES: Readonly<Record<EcCurve, CurveParams>> = Object.freeze({
  'P-256': {
    ecdhName: 'prime256v1',
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    bytes: 32,
  },
  'P-384': {
    ecdhName: 'secp384r1',
    p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    bytes: 48,
  },
  'P-521': {
    ecdhName: 'secp521r1',
    p: 2n ** 521n - 1n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    bytes: 66,
  },
});

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function invert(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return mod(oldS, m);
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function toBytes(value: bigint, length: number): Buffer {
  return Buffer.from(value.toString(16).padStart(length * 2, '0'), 'hex');
}

interface Point {
  readonly x: bigint;
  readonly y: bigint;
}

/** k·G through native ECDH (the public key of private scalar k is exactly k·G). */
function baseMultiply(curve: CurveParams, k: bigint): Point {
  const ecdh = createECDH(curve.ecdhName);
  ecdh.setPrivateKey(toBytes(k, curve.bytes));
  const pub = ecdh.getPublicKey(); // 0x04 ‖ X ‖ Y (SEC 1 §2.3.3)
  return { x: toBigInt(pub.subarray(1, 1 + curve.bytes)), y: toBigInt(pub.subarray(1 + curve.bytes)) };
}

/** Affine addition on y² = x³ − 3x + b; null is the point at infinity. */
function add(curve: CurveParams, a: Point, b: Point): Point | null {
  const { p } = curve;
  let lambda: bigint;
  if (a.x === b.x) {
    if (mod(a.y + b.y, p) === 0n) return null;
    lambda = mod((3n * a.x * a.x - 3n) * invert(2n * a.y, p), p);
  } else {
    lambda = mod((b.y - a.y) * invert(b.x - a.x, p), p);
  }
  const x = mod(lambda * lambda - a.x - b.x, p);
  return { x, y: mod(lambda * (a.x - x) - a.y, p) };
}

/** FIPS 186-5 §6.4.1 step 2: the leftmost bits of the digest, as many as the order has. */
function digestToScalar(curve: CurveParams, digest: Uint8Array): bigint {
  const nBits = curve.n.toString(2).length;
  const z = toBigInt(digest);
  const excess = digest.length * 8 - nBits;
  return excess > 0 ? z >> BigInt(excess) : z;
}

function privateScalar(key: KeyObject): bigint {
  const jwk = key.export({ format: 'jwk' });
  return toBigInt(Buffer.from(String(jwk.d), 'base64url'));
}

/** ECDSA over a digest (FIPS 186-5 §6.4.1). Returns r and s as fixed-length big-endian bytes. */
export function ecdsaSignDigest(curveName: EcCurve, privateKey: KeyObject, digest: Uint8Array): { r: Buffer; s: Buffer } {
  const curve = CURVES[curveName];
  const d = privateScalar(privateKey);
  const z = digestToScalar(curve, digest);
  for (;;) {
    const k = mod(toBigInt(randomBytes(curve.bytes + 16)), curve.n - 1n) + 1n;
    const r = mod(baseMultiply(curve, k).x, curve.n);
    if (r === 0n) continue;
    const s = mod(invert(k, curve.n) * (z + r * d), curve.n);
    if (s === 0n) continue;
    return { r: toBytes(r, curve.bytes), s: toBytes(s, curve.bytes) };
  }
}

/**
 * ECDSA verification over a digest (FIPS 186-5 §6.4.2). u2·Q is computed as (u2·d)·G because the
 * emulator holds the private scalar; that keeps everything but one addition in native code.
 */
export function ecdsaVerifyDigest(curveName: EcCurve, privateKey: KeyObject, digest: Uint8Array, rBytes: Uint8Array, sBytes: Uint8Array): boolean {
  const curve = CURVES[curveName];
  const r = toBigInt(rBytes);
  const s = toBigInt(sBytes);
  if (r <= 0n || r >= curve.n || s <= 0n || s >= curve.n) return false;
  const d = privateScalar(privateKey);
  const w = invert(s, curve.n);
  const u1 = mod(digestToScalar(curve, digest) * w, curve.n);
  const u2d = mod(r * w * d, curve.n);
  if (u1 === 0n || u2d === 0n) return false;
  const point = add(curve, baseMultiply(curve, u1), baseMultiply(curve, u2d));
  return point !== null && mod(point.x, curve.n) === r;
}

// RFC 8017 §9.2 note 1: DER of DigestInfo up to (and including) the OCTET STRING header.
const DIGEST_INFO_PREFIX: Readonly<Record<DigestName, Buffer>> = Object.freeze({
  sha224: Buffer.from('302d300d06096086480165030402040500041c', 'hex'),
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
});

const DIGEST_LENGTH: Readonly<Record<DigestName, number>> = Object.freeze({ sha224: 28, sha256: 32, sha384: 48, sha512: 64 });

export function digestLength(hash: DigestName): number {
  return DIGEST_LENGTH[hash];
}

/** RSASSA-PKCS1-v1_5 over a digest (RFC 8017 §8.2.1 with EMSA-PKCS1-v1_5 §9.2 steps 2–5). */
export function rsaPkcs1SignDigest(privateKey: KeyObject, hash: DigestName, digest: Uint8Array): Buffer {
  return privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([DIGEST_INFO_PREFIX[hash], digest]));
}

export function rsaPkcs1VerifyDigest(publicKey: KeyObject, hash: DigestName, digest: Uint8Array, signature: Uint8Array): boolean {
  try {
    const recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
    const expected = Buffer.concat([DIGEST_INFO_PREFIX[hash], digest]);
    return recovered.length === expected.length && timingSafeEqual(recovered, expected);
  } catch {
    return false;
  }
}

/** MGF1 (RFC 8017 §B.2.1). */
function mgf1(hash: DigestName, seed: Uint8Array, length: number): Buffer {
  const chunks: Buffer[] = [];
  for (let counter = 0; chunks.length * DIGEST_LENGTH[hash] < length; counter += 1) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    chunks.push(createHash(hash).update(seed).update(c).digest());
  }
  return Buffer.concat(chunks).subarray(0, length);
}

function modulusBits(key: KeyObject): number {
  return key.asymmetricKeyDetails?.modulusLength ?? 0;
}

/** The largest PSS salt the key allows (Go's PSSSaltLengthAuto when signing). */
export function maxPssSaltLength(key: KeyObject, hash: DigestName): number {
  return Math.ceil((modulusBits(key) - 1) / 8) - 2 - DIGEST_LENGTH[hash];
}

/** RSASSA-PSS over a digest (RFC 8017 §8.1.1 with EMSA-PSS-ENCODE §9.1.1). */
export function rsaPssSignDigest(privateKey: KeyObject, hash: DigestName, digest: Uint8Array, saltLength: number): Buffer {
  const emBits = modulusBits(privateKey) - 1;
  const emLen = Math.ceil(emBits / 8);
  const hLen = DIGEST_LENGTH[hash];
  const salt = randomBytes(saltLength);
  const h = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - saltLength - hLen - 2), Buffer.from([1]), salt]);
  const mask = mgf1(hash, h, emLen - hLen - 1);
  for (let i = 0; i < db.length; i += 1) db[i] = (db[i] ?? 0) ^ (mask[i] ?? 0);
  db[0] = (db[0] ?? 0) & (0xff >> (8 * emLen - emBits));
  const em = Buffer.concat([db, h, Buffer.from([0xbc])]);
  const k = Math.ceil(modulusBits(privateKey) / 8);
  return privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, Buffer.concat([Buffer.alloc(k - em.length), em]));
}

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2); `saltLength` 'auto' accepts any salt length. */
export function rsaPssVerifyDigest(publicKey: KeyObject, hash: DigestName, digest: Uint8Array, signature: Uint8Array, saltLength: number | 'auto'): boolean {
  try {
    const k = Math.ceil(modulusBits(publicKey) / 8);
    if (signature.length !== k) return false;
    const emBits = modulusBits(publicKey) - 1;
    const emLen = Math.ceil(emBits / 8);
    const raw = publicDecrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, signature);
    const em = raw.subarray(raw.length - emLen);
    if (raw.length - emLen > 0 && raw[0] !== 0) return false;
    const hLen = DIGEST_LENGTH[hash];
    if (em[em.length - 1] !== 0xbc || emLen < hLen + 2) return false;
    const maskedDb = em.subarray(0, emLen - hLen - 1);
    const h = em.subarray(emLen - hLen - 1, emLen - 1);
    if (((maskedDb[0] ?? 0) & ~(0xff >> (8 * emLen - emBits)) & 0xff) !== 0) return false;
    const mask = mgf1(hash, h, maskedDb.length);
    const db = Buffer.alloc(maskedDb.length);
    for (let i = 0; i < db.length; i += 1) db[i] = (maskedDb[i] ?? 0) ^ (mask[i] ?? 0);
    db[0] = (db[0] ?? 0) & (0xff >> (8 * emLen - emBits));
    const one = db.indexOf(1);
    if (one < 0 || db.subarray(0, one).some((b) => b !== 0)) return false;
    const salt = db.subarray(one + 1);
    if (saltLength !== 'auto' && salt.length !== saltLength) return false;
    const expected = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
    return timingSafeEqual(expected, h);
  } catch {
    return false;
  }
}
