/**
 * ECDSA over a digest the caller already computed (AWS KMS `MessageType: DIGEST`, Key Vault ES*,
 * Cloud KMS AsymmetricSign, Vault Transit `prehashed`). node:crypto only signs messages it hashes
 * itself, so the signing and verifying equations of FIPS 186-5 §6.4 are written out here in bigint.
 * Curves: P-256, P-384, P-521 (FIPS 186-5 / SP 800-186 §3.2.1) and secp256k1 ("P-256K" in Key
 * Vault, SEC 2 v2 §2.4.1).
 *
 * Signatures are raw fixed-width r‖s (IEEE P1363, RFC 7518 §3.4): callers that want DER
 * `Ecdsa-Sig-Value` (RFC 3279 §2.2.3) convert with `p1363ToDer` / `derToP1363` from
 * @fleetkey/crypto.
 *
 * Where the secret is used: the per-message secret k is uniform in [1, n−1] by rejection sampling
 * from the CSPRNG (FIPS 186-5 §A.3.2), fresh for every signature, and k·G is computed by OpenSSL
 * (through ECDH: the public key of private scalar k is exactly k·G). The rest (s = k⁻¹(e + r·d),
 * and all of verification) is plain bigint arithmetic and NOT constant time.
 *
 * Trust boundary: test tooling for the KMS wire emulators only, never production. Digests and
 * signatures are client bytes; malformed signatures verify as false, malformed digests throw.
 */
import { createECDH, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { checkDigestLength } from './digests.js';
import type { DigestName } from './digests.js';

export type NistCurve = 'P-256' | 'P-384' | 'P-521';
export type EcCurve = NistCurve | 'P-256K';

export interface CurveParameters {
  /** OpenSSL name, for createECDH and KeyObject.asymmetricKeyDetails.namedCurve. */
  readonly ecdhName: string;
  /** Field prime p. */
  readonly p: bigint;
  /** Coefficient a of y² = x³ + ax + b. */
  readonly a: bigint;
  /** Order n of the base point. */
  readonly n: bigint;
  readonly gx: bigint;
  readonly gy: bigint;
  /** Bytes of one coordinate or scalar: ceil(bits(n) / 8). */
  readonly bytes: number;
}

// SEC 2 v2 §2.4.2 (secp256r1), §2.5.1 (secp384r1), §2.6.1 (secp521r1), §2.4.1 (secp256k1);
// the NIST values are also SP 800-186 §3.2.1.3–§3.2.1.5.
export const CURVES: Readonly<Record<EcCurve, CurveParameters>> = Object.freeze({
  'P-256': {
    ecdhName: 'prime256v1',
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    bytes: 32,
  },
  'P-384': {
    ecdhName: 'secp384r1',
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    a: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffcn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    bytes: 48,
  },
  'P-521': {
    ecdhName: 'secp521r1',
    p: (1n << 521n) - 1n,
    a: (1n << 521n) - 4n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    gx: 0x00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66n,
    gy: 0x011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650n,
    bytes: 66,
  },
  'P-256K': {
    ecdhName: 'secp256k1',
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn,
    a: 0n,
    n: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
    gx: 0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n,
    gy: 0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n,
    bytes: 32,
  },
});

function curveOf(curve: EcCurve): CurveParameters {
  const c = (CURVES as Record<string, CurveParameters | undefined>)[curve];
  if (!c) throw new RangeError(`"curve" expected P-256, P-384, P-521 or P-256K, got ${JSON.stringify(String(curve).slice(0, 16))}`);
  return c;
}

function mod(value: bigint, m: bigint): bigint {
  const r = value % m;
  return r < 0n ? r + m : r;
}

/** Modular inverse by the extended Euclidean algorithm; m is prime and value ≢ 0 (mod m). */
function invert(value: bigint, m: bigint): bigint {
  let [a, b, x, y] = [mod(value, m), m, 1n, 0n];
  while (b !== 0n) {
    const q = a / b;
    [a, b, x, y] = [b, a - q * b, y, x - q * y];
  }
  return mod(x, m);
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`);
}

function bigIntToBytes(value: bigint, length: number): Buffer {
  return Buffer.from(value.toString(16).padStart(length * 2, '0'), 'hex');
}

function bitLength(value: bigint): number {
  return value.toString(2).length;
}

/**
 * FIPS 186-5 §6.4.1 step 2 / §6.4.2 step 3 (bits2int): e is the leftmost min(bits(n), bits(digest))
 * bits of the digest, read as a big-endian integer. (Not reduced mod n; the equations reduce.)
 */
function digestToInteger(c: CurveParameters, digest: Uint8Array): bigint {
  const excess = digest.length * 8 - bitLength(c.n);
  const e = bytesToBigInt(digest);
  return excess > 0 ? e >> BigInt(excess) : e;
}

/**
 * FIPS 186-5 §A.3.2 (rejection sampling): draw bits(n) random bits, retry while the value is 0
 * or ≥ n, so k is uniform in [1, n − 1]. At most one retry in 2^31 for these curves on average.
 */
function randomScalar(c: CurveParameters): bigint {
  const nBits = bitLength(c.n);
  const excess = BigInt(c.bytes * 8 - nBits);
  for (;;) {
    const k = bytesToBigInt(randomBytes(c.bytes)) >> excess;
    if (k >= 1n && k < c.n) return k;
  }
}

/** x-coordinate of k·G, by OpenSSL: an ECDH key with private scalar k has public point k·G. */
function baseMultiplyX(c: CurveParameters, k: bigint): bigint {
  const ecdh = createECDH(c.ecdhName);
  ecdh.setPrivateKey(bigIntToBytes(k, c.bytes));
  const point = ecdh.getPublicKey(); // 0x04 ‖ X ‖ Y (SEC 1 v2 §2.3.3)
  return bytesToBigInt(point.subarray(1, 1 + c.bytes));
}

/** Jacobian coordinates (X, Y, Z) for x = X/Z², y = Y/Z³; Z = 0 is the point at infinity. */
type Jacobian = readonly [bigint, bigint, bigint];
const INFINITY: Jacobian = [1n, 1n, 0n];

/** Point doubling, "dbl-1998-cmo-2" with a general a (EFD, short Weierstrass Jacobian). */
function double(c: CurveParameters, [x, y, z]: Jacobian): Jacobian {
  if (z === 0n || y === 0n) return INFINITY;
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

/** Point addition, "add-1998-cmo-2" (EFD); falls back to doubling for P = Q. */
function add(c: CurveParameters, P: Jacobian, Q: Jacobian): Jacobian {
  if (P[2] === 0n) return Q;
  if (Q[2] === 0n) return P;
  const { p } = c;
  const z1z1 = mod(P[2] * P[2], p);
  const z2z2 = mod(Q[2] * Q[2], p);
  const u1 = mod(P[0] * z2z2, p);
  const u2 = mod(Q[0] * z1z1, p);
  const s1 = mod(P[1] * Q[2] * z2z2, p);
  const s2 = mod(Q[1] * P[2] * z1z1, p);
  if (u1 === u2) return s1 === s2 ? double(c, P) : INFINITY;
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

/** u1·G + u2·Q with one shared doubling chain (Shamir's trick). Public inputs only. */
function doubleScalarMultiply(c: CurveParameters, u1: bigint, u2: bigint, Q: Jacobian): Jacobian {
  const G: Jacobian = [c.gx, c.gy, 1n];
  const GQ = add(c, G, Q);
  let R: Jacobian = INFINITY;
  for (let i = Math.max(bitLength(u1), bitLength(u2)) - 1; i >= 0; i -= 1) {
    R = double(c, R);
    const b1 = (u1 >> BigInt(i)) & 1n;
    const b2 = (u2 >> BigInt(i)) & 1n;
    if (b1 && b2) R = add(c, R, GQ);
    else if (b1) R = add(c, R, G);
    else if (b2) R = add(c, R, Q);
  }
  return R;
}

function keyCurveMatches(key: KeyObject, c: CurveParameters): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === c.ecdhName;
}

/**
 * ECDSA signature generation over a precomputed digest (FIPS 186-5 §6.4.1).
 * @param hash when given, `digest` must be exactly that hash's length (else RangeError); when
 *   omitted any length is accepted and truncated per §6.4.1 step 2 (Go's ecdsa.Sign behaviour).
 * @returns r‖s, each left-padded to the curve's scalar size (IEEE P1363).
 * @throws TypeError when `privateKey` is not an EC private key on `curve`.
 */
export function ecdsaSignDigest(curve: EcCurve, privateKey: KeyObject, digest: Uint8Array, hash?: DigestName): Buffer {
  const c = curveOf(curve);
  if (privateKey.type !== 'private' || !keyCurveMatches(privateKey, c)) throw new TypeError(`"privateKey" expected an EC private key on ${curve}`);
  if (hash !== undefined) checkDigestLength(hash, digest);
  const d = bytesToBigInt(Buffer.from(String(privateKey.export({ format: 'jwk' }).d), 'base64url'));
  const e = digestToInteger(c, digest);
  for (;;) {
    // Steps 3–4: a fresh secret k for every attempt, never stored or reused.
    const k = randomScalar(c);
    // Steps 5–8: R = k·G, r = x_R mod n; retry on r = 0.
    const r = mod(baseMultiplyX(c, k), c.n);
    if (r === 0n) continue;
    // Step 9–10: s = k⁻¹(e + r·d) mod n; retry on s = 0.
    const s = mod(invert(k, c.n) * (e + r * d), c.n);
    if (s === 0n) continue;
    return Buffer.concat([bigIntToBytes(r, c.bytes), bigIntToBytes(s, c.bytes)]);
  }
}

/**
 * ECDSA signature verification over a precomputed digest (FIPS 186-5 §6.4.2). `signature` is r‖s
 * (IEEE P1363). False for a signature of the wrong length, r or s outside [1, n − 1], a digest of
 * the wrong length for `hash`, or any mismatch; never throws on signature bytes.
 * @throws TypeError when `publicKey` is not an EC key on `curve`.
 */
export function ecdsaVerifyDigest(curve: EcCurve, publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array, hash?: DigestName): boolean {
  const c = curveOf(curve);
  if (!keyCurveMatches(publicKey, c)) throw new TypeError(`"publicKey" expected an EC key on ${curve}`);
  if (signature.length !== 2 * c.bytes) return false;
  if (hash !== undefined) {
    try {
      checkDigestLength(hash, digest);
    } catch {
      return false;
    }
  }
  const r = bytesToBigInt(signature.subarray(0, c.bytes));
  const s = bytesToBigInt(signature.subarray(c.bytes));
  // Step 1: 1 ≤ r, s ≤ n − 1.
  if (r < 1n || r >= c.n || s < 1n || s >= c.n) return false;
  const jwk = publicKey.export({ format: 'jwk' });
  const Q: Jacobian = [bytesToBigInt(Buffer.from(String(jwk.x), 'base64url')), bytesToBigInt(Buffer.from(String(jwk.y), 'base64url')), 1n];
  // Steps 3–7: e, w = s⁻¹, u1 = e·w, u2 = r·w, R = u1·G + u2·Q; reject R = O.
  const e = digestToInteger(c, digest);
  const w = invert(s, c.n);
  const R = doubleScalarMultiply(c, mod(e * w, c.n), mod(r * w, c.n), Q);
  if (R[2] === 0n) return false;
  // Steps 8–9: v = x_R mod n, accept iff v = r.
  const zInv = invert(R[2], c.p);
  const x = mod(R[0] * zInv * zInv, c.p);
  return mod(x, c.n) === r;
}
