/**
 * Signing a digest someone else computed, as Google Cloud KMS AsymmetricSign does: the client sends
 * SHA-256/384(message), never the message. node:crypto only signs messages (it always hashes), so
 * the emulator applies the private-key operation to the digest itself:
 *   - RSA PKCS#1 v1.5: EMSA-PKCS1-v1_5 (DigestInfo ‖ digest) through `privateEncrypt` (RFC 8017 §9.2)
 *   - RSA-PSS: EMSA-PSS-ENCODE with MGF1 and salt = digest length, then raw RSA (RFC 8017 §9.1.1)
 *   - ECDSA P-256 / P-384: the signing equation over the curve in bigint (FIPS 186-5 §6.4.1,
 *     SEC 1 §4.1.3), DER-encoded (RFC 3279 §2.2.3)
 * Every result verifies with node:crypto over the original message (see prehash-sign.spec.ts).
 *
 * Trust boundary: emulator only. The bigint ECDSA is not constant time; it guards test keys, never
 * a real secret.
 */
import { constants, createHash, privateEncrypt, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { p1363ToDer } from '@fleetkey/crypto';

export type DigestName = 'sha256' | 'sha384';

// RFC 8017 §9.2 note 1: DER of DigestInfo up to (but excluding) the digest octets.
const DIGEST_INFO_PREFIX: Readonly<Record<DigestName, Buffer>> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
};

/** RSASSA-PKCS1-v1_5 over a precomputed digest. */
export function rsaPkcs1SignDigest(privateKey: KeyObject, hash: DigestName, digest: Uint8Array): Buffer {
  const digestInfo = Buffer.concat([DIGEST_INFO_PREFIX[hash], digest]);
  return privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, digestInfo);
}

function mgf1(hash: DigestName, seed: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  let produced = 0;
  for (let counter = 0; produced < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(c).digest();
    blocks.push(block);
    produced += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** RSASSA-PSS over a precomputed digest, MGF1 with the same hash, salt length = digest length. */
export function rsaPssSignDigest(privateKey: KeyObject, hash: DigestName, digest: Uint8Array): Buffer {
  const modulusBits = privateKey.asymmetricKeyDetails?.modulusLength;
  if (modulusBits === undefined) throw new TypeError('"privateKey" expected an RSA key');
  // RFC 8017 §9.1.1: emBits = modBits - 1, emLen = ceil(emBits / 8).
  const emBits = modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const hLen = digest.length;
  const sLen = hLen;
  const salt = randomBytes(sLen);
  const mPrime = Buffer.concat([Buffer.alloc(8), digest, salt]);
  const h = createHash(hash).update(mPrime).digest();
  const db = Buffer.alloc(emLen - hLen - 1);
  db[emLen - sLen - hLen - 2] = 0x01;
  salt.copy(db, emLen - sLen - hLen - 1);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i] = db[i]! ^ mask[i]!;
  db[0] = db[0]! & (0xff >>> (8 * emLen - emBits));
  let em = Buffer.concat([db, h, Buffer.from([0xbc])]);
  // Raw RSA wants an input as long as the modulus; with emBits = modBits - 1 that can be one byte
  // shorter, so left-pad with a zero (the integer value is unchanged).
  const modulusBytes = Math.ceil(modulusBits / 8);
  if (em.length < modulusBytes) em = Buffer.concat([Buffer.alloc(modulusBytes - em.length), em]);
  return privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, em);
}

interface Curve {
  readonly name: 'P-256' | 'P-384';
  readonly p: bigint;
  readonly a: bigint;
  readonly n: bigint;
  readonly gx: bigint;
  readonly gy: bigint;
  readonly bytes: number;
}

// FIPS 186-5 / SP 800-186 §3.2.1.3 (P-256) and §3.2.1.4 (P-384).
const CURVES: Readonly<Record<'P-256' | 'P-384', Curve>> = {
  'P-256': {
    name: 'P-256',
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    bytes: 32,
  },
  'P-384': {
    name: 'P-384',
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    a: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffcn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    bytes: 48,
  },
};

const mod = (x: bigint, m: bigint): bigint => {
  const r = x % m;
  return r < 0n ? r + m : r;
};

function invert(x: bigint, m: bigint): bigint {
  // Extended Euclid; m is prime and 0 < x < m here.
  let [a, b, u, v] = [mod(x, m), m, 1n, 0n];
  while (a !== 0n) {
    const q = b / a;
    [a, b] = [b - q * a, a];
    [u, v] = [v - q * u, u];
  }
  return mod(v, m);
}

type Jacobian = readonly [bigint, bigint, bigint];

function double(c: Curve, [x, y, z]: Jacobian): Jacobian {
  if (y === 0n || z === 0n) return [0n, 1n, 0n];
  const { p } = c;
  const yy = (y * y) % p;
  const s = (4n * x * yy) % p;
  const zz = (z * z) % p;
  const m = mod(3n * x * x + c.a * zz * zz, p);
  const x3 = mod(m * m - 2n * s, p);
  const y3 = mod(m * (s - x3) - 8n * yy * yy, p);
  const z3 = (2n * y * z) % p;
  return [x3, y3, z3];
}

function add(c: Curve, P: Jacobian, Q: Jacobian): Jacobian {
  if (P[2] === 0n) return Q;
  if (Q[2] === 0n) return P;
  const { p } = c;
  const [x1, y1, z1] = P;
  const [x2, y2, z2] = Q;
  const z1z1 = (z1 * z1) % p;
  const z2z2 = (z2 * z2) % p;
  const u1 = (x1 * z2z2) % p;
  const u2 = (x2 * z1z1) % p;
  const s1 = (y1 * z2 * z2z2) % p;
  const s2 = (y2 * z1 * z1z1) % p;
  if (u1 === u2) return s1 === s2 ? double(c, P) : [0n, 1n, 0n];
  const h = mod(u2 - u1, p);
  const r = mod(s2 - s1, p);
  const hh = (h * h) % p;
  const hhh = (h * hh) % p;
  const v = (u1 * hh) % p;
  const x3 = mod(r * r - hhh - 2n * v, p);
  const y3 = mod(r * (v - x3) - s1 * hhh, p);
  const z3 = (h * z1 * z2) % p;
  return [x3, y3, z3];
}

// Fixed-base comb: table[i][j] = j · 16^i · G, so k·G is one addition per 4-bit window of k and
// no doublings (about 6x fewer field operations than double-and-add). Built once per curve.
const WINDOW_BITS = 4n;
const tables = new Map<string, Jacobian[][]>();

function baseTable(c: Curve): Jacobian[][] {
  let table = tables.get(c.name);
  if (table) return table;
  table = [];
  let base: Jacobian = [c.gx, c.gy, 1n];
  for (let i = 0; i < c.bytes * 2; i++) {
    const row: Jacobian[] = [[0n, 1n, 0n]];
    for (let j = 1; j < 16; j++) row.push(add(c, row[j - 1]!, base));
    table.push(row);
    base = double(c, double(c, double(c, double(c, base))));
  }
  tables.set(c.name, table);
  return table;
}

function multiplyBase(c: Curve, k: bigint): bigint {
  const table = baseTable(c);
  let result: Jacobian = [0n, 1n, 0n];
  let e = k;
  for (let i = 0; e > 0n; i++, e >>= WINDOW_BITS) {
    const nibble = Number(e & 0xfn);
    if (nibble !== 0) result = add(c, result, table[i]![nibble]!);
  }
  const zInv = invert(result[2], c.p);
  return (result[0] * zInv * zInv) % c.p; // affine x
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt('0x' + Buffer.from(bytes).toString('hex'));
}

function toFixed(value: bigint, length: number): Buffer {
  return Buffer.from(value.toString(16).padStart(length * 2, '0'), 'hex');
}

/**
 * ECDSA over a precomputed digest whose length equals the curve order's (SHA-256 for P-256,
 * SHA-384 for P-384), so no truncation is needed (FIPS 186-5 §6.4.1 step 2). Random k from the
 * CSPRNG by rejection sampling. Returns DER.
 */
export function ecdsaSignDigest(privateKey: KeyObject, curveName: 'P-256' | 'P-384', digest: Uint8Array): Buffer {
  const c = CURVES[curveName];
  if (digest.length !== c.bytes) throw new RangeError(`"digest" expected ${c.bytes} bytes, got ${digest.length}`);
  const jwk = privateKey.export({ format: 'jwk' });
  if (typeof jwk.d !== 'string') throw new TypeError('"privateKey" expected an EC private key');
  const d = toBigInt(Buffer.from(jwk.d, 'base64url'));
  const e = toBigInt(digest);
  for (;;) {
    const k = toBigInt(randomBytes(c.bytes));
    if (k === 0n || k >= c.n) continue;
    const r = mod(multiplyBase(c, k), c.n);
    if (r === 0n) continue;
    const s = mod(invert(k, c.n) * (e + r * d), c.n);
    if (s === 0n) continue;
    const raw = Buffer.concat([toFixed(r, c.bytes), toFixed(s, c.bytes)]);
    return Buffer.from(p1363ToDer(raw, curveName));
  }
}
