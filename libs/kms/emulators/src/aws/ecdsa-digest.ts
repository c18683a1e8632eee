/**
 * ECDSA over a caller-supplied digest (AWS KMS `MessageType: DIGEST`) for P-256, P-384 and P-521.
 * node:crypto only signs messages it hashes itself, so the emulator does the group arithmetic
 * with bigint here (FIPS 186-5 §6.4). Constant time is NOT a goal: this is test tooling whose keys
 * protect nothing. Signatures are DER `Ecdsa-Sig-Value` (RFC 3279 §2.2.3), as AWS returns them.
 *
 * Trust boundary: test and demo only; the digest is caller bytes, the key is emulator state.
 */
import { randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

export type EcCurveName = 'P-256' | 'P-384' | 'P-521';

interface Curve {
  readonly p: bigint;
  readonly a: bigint;
  readonly n: bigint;
  readonly gx: bigint;
  readonly gy: bigint;
  readonly bits: number;
}

// SEC 2 v2 §2.4.2, §2.5.1, §2.6.1 (a = p - 3 for all three).
const CURVES: Readonly<Record<EcCurveName, Curve>> = Object.freeze({
  'P-256': {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    bits: 256,
  },
  'P-384': {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    a: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffcn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    bits: 384,
  },
  'P-521': {
    p: (1n << 521n) - 1n,
    a: (1n << 521n) - 4n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    gx: 0x00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66n,
    gy: 0x011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650n,
    bits: 521,
  },
});

type Jacobian = readonly [bigint, bigint, bigint];

function mod(value: bigint, m: bigint): bigint {
  const r = value % m;
  return r >= 0n ? r : r + m;
}

function invert(value: bigint, m: bigint): bigint {
  // Extended Euclid; m is prime so the inverse exists for value != 0.
  let [a, b, x0, x1] = [mod(value, m), m, 1n, 0n];
  while (b !== 0n) {
    const q = a / b;
    [a, b] = [b, a - q * b];
    [x0, x1] = [x1, x0 - q * x1];
  }
  return mod(x0, m);
}

function double(c: Curve, [x, y, z]: Jacobian): Jacobian {
  if (y === 0n || z === 0n) return [0n, 1n, 0n];
  const { p } = c;
  const yy = mod(y * y, p);
  const s = mod(4n * x * yy, p);
  const zz = mod(z * z, p);
  const m = mod(3n * x * x + c.a * zz * zz, p);
  const x3 = mod(m * m - 2n * s, p);
  const y3 = mod(m * (s - x3) - 8n * yy * yy, p);
  const z3 = mod(2n * y * z, p);
  return [x3, y3, z3];
}

function add(c: Curve, P: Jacobian, Q: Jacobian): Jacobian {
  if (P[2] === 0n) return Q;
  if (Q[2] === 0n) return P;
  const { p } = c;
  const z1z1 = mod(P[2] * P[2], p);
  const z2z2 = mod(Q[2] * Q[2], p);
  const u1 = mod(P[0] * z2z2, p);
  const u2 = mod(Q[0] * z1z1, p);
  const s1 = mod(P[1] * Q[2] * z2z2, p);
  const s2 = mod(Q[1] * P[2] * z1z1, p);
  if (u1 === u2) return s1 === s2 ? double(c, P) : [0n, 1n, 0n];
  const h = mod(u2 - u1, p);
  const r = mod(s2 - s1, p);
  const hh = mod(h * h, p);
  const hhh = mod(h * hh, p);
  const v = mod(u1 * hh, p);
  const x3 = mod(r * r - hhh - 2n * v, p);
  const y3 = mod(r * (v - x3) - s1 * hhh, p);
  const z3 = mod(h * P[2] * Q[2], p);
  return [x3, y3, z3];
}

function multiply(c: Curve, k: bigint, P: Jacobian): Jacobian {
  let result: Jacobian = [0n, 1n, 0n];
  for (let i = BigInt(k.toString(2).length - 1); i >= 0n; i -= 1n) {
    result = double(c, result);
    if ((k >> i) & 1n) result = add(c, result, P);
  }
  return result;
}

function affineX(c: Curve, P: Jacobian): bigint | null {
  if (P[2] === 0n) return null;
  const zInv = invert(P[2], c.p);
  return mod(P[0] * zInv * zInv, c.p);
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

/** FIPS 186-5 §6.4.1 step 3: the leftmost min(bits(n), bits(digest)) bits of the digest. */
function digestToInteger(c: Curve, digest: Uint8Array): bigint {
  const e = bytesToBigInt(digest);
  const excess = digest.length * 8 - c.bits;
  return excess > 0 ? e >> BigInt(excess) : e;
}

function fromBase64Url(value: string | undefined): bigint {
  if (value === undefined) throw new TypeError('"key" expected an EC JWK');
  return bytesToBigInt(Buffer.from(value, 'base64url'));
}

function encodeInteger(value: bigint): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

function encodeLength(length: number): Buffer {
  return length < 0x80 ? Buffer.from([length]) : Buffer.from([0x81, length]);
}

/** DER Ecdsa-Sig-Value (RFC 3279 §2.2.3). */
function toDer(r: bigint, s: bigint): Buffer {
  const body = Buffer.concat([encodeInteger(r), encodeInteger(s)]);
  return Buffer.concat([Buffer.from([0x30]), encodeLength(body.length), body]);
}

/** Lenient-enough DER reader for the emulator's verify: returns null on anything malformed. */
function fromDer(der: Uint8Array): { r: bigint; s: bigint } | null {
  const buf = Buffer.from(der);
  let offset = 0;
  if (buf[offset++] !== 0x30) return null;
  let length = buf[offset++];
  if (length === 0x81) length = buf[offset++];
  if (length === undefined || offset + length !== buf.length) return null;
  const values: bigint[] = [];
  for (let i = 0; i < 2; i += 1) {
    if (buf[offset++] !== 0x02) return null;
    const intLength = buf[offset++];
    if (intLength === undefined || intLength === 0 || offset + intLength > buf.length) return null;
    values.push(bytesToBigInt(buf.subarray(offset, offset + intLength)));
    offset += intLength;
  }
  if (offset !== buf.length) return null;
  return { r: values[0]!, s: values[1]! };
}

/** Signs `digest` with an EC private KeyObject; returns a DER signature. */
export function signEcdsaDigest(curveName: EcCurveName, privateKey: KeyObject, digest: Uint8Array): Buffer {
  const c = CURVES[curveName];
  const d = fromBase64Url(privateKey.export({ format: 'jwk' }).d);
  const e = digestToInteger(c, digest);
  const G: Jacobian = [c.gx, c.gy, 1n];
  for (;;) {
    // Random k with rejection sampling (FIPS 186-5 A.3.2-style), never 0 and below n.
    const k = mod(bytesToBigInt(randomBytes(Math.ceil(c.bits / 8) + 8)), c.n);
    if (k === 0n) continue;
    const x = affineX(c, multiply(c, k, G));
    if (x === null) continue;
    const r = mod(x, c.n);
    if (r === 0n) continue;
    const s = mod(invert(k, c.n) * (e + r * d), c.n);
    if (s === 0n) continue;
    return toDer(r, s);
  }
}

/** Verifies a DER signature over `digest` with an EC public KeyObject; false on anything wrong. */
export function verifyEcdsaDigest(curveName: EcCurveName, publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const c = CURVES[curveName];
  const parsed = fromDer(signature);
  if (!parsed) return false;
  const { r, s } = parsed;
  if (r < 1n || r >= c.n || s < 1n || s >= c.n) return false;
  const jwk = publicKey.export({ format: 'jwk' });
  const Q: Jacobian = [fromBase64Url(jwk.x), fromBase64Url(jwk.y), 1n];
  const w = invert(s, c.n);
  const e = digestToInteger(c, digest);
  const point = add(c, multiply(c, mod(e * w, c.n), [c.gx, c.gy, 1n]), multiply(c, mod(r * w, c.n), Q));
  const x = affineX(c, point);
  return x !== null && mod(x, c.n) === r;
}
