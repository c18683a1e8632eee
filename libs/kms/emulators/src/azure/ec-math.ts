/**
 * Just enough prime-field elliptic-curve arithmetic for the emulator to do what Key Vault does and
 * node:crypto cannot: ECDSA over a digest the client already computed. Signing takes k and k·G
 * from a fresh node:crypto key pair (so the scalar multiplication on the secret nonce is
 * OpenSSL's); only verification (public data) multiplies here, in Jacobian coordinates.
 *
 * Trust boundary: test and demo tooling only. Not constant time; never use it for real keys.
 */

export interface CurveParameters {
  /** Field prime p. */
  readonly p: bigint;
  /** Curve coefficient a (y² = x³ + ax + b). */
  readonly a: bigint;
  /** Group order n. */
  readonly n: bigint;
  readonly gx: bigint;
  readonly gy: bigint;
  /** Bytes of one coordinate / scalar. */
  readonly size: number;
}

// SEC 2 v2 §2.4.2 (secp256r1), §2.5.1 (secp384r1), §2.6.1 (secp521r1), §2.4.1 (secp256k1).
export const CURVES: Readonly<Record<string, CurveParameters>> = Object.freeze({
  'P-256': {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    size: 32,
  },
  'P-384': {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    a: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffcn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    size: 48,
  },
  'P-521': {
    p: (1n << 521n) - 1n,
    a: (1n << 521n) - 4n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    gx: 0x00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66n,
    gy: 0x011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650n,
    size: 66,
  },
  'P-256K': {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn,
    a: 0n,
    n: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
    gx: 0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n,
    gy: 0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n,
    size: 32,
  },
});

type Jacobian = readonly [bigint, bigint, bigint];
const INFINITY: Jacobian = [1n, 1n, 0n];

function mod(value: bigint, m: bigint): bigint {
  const r = value % m;
  return r < 0n ? r + m : r;
}

/** Modular inverse by the extended Euclidean algorithm; m is prime, value non-zero mod m. */
export function invert(value: bigint, m: bigint): bigint {
  let [a, b, x, y] = [mod(value, m), m, 1n, 0n];
  while (b !== 0n) {
    const q = a / b;
    [a, b, x, y] = [b, a - q * b, y, x - q * y];
  }
  return mod(x, m);
}

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

function affineX(c: CurveParameters, [x, , z]: Jacobian): bigint | undefined {
  if (z === 0n) return undefined;
  const zi = invert(z, c.p);
  return mod(x * zi * zi, c.p);
}

/** u1·G + u2·Q by Shamir's trick (one shared doubling chain). */
function doubleScalarMultiply(c: CurveParameters, u1: bigint, u2: bigint, qx: bigint, qy: bigint): Jacobian {
  const G: Jacobian = [c.gx, c.gy, 1n];
  const Q: Jacobian = [qx, qy, 1n];
  const GQ = add(c, G, Q);
  let R: Jacobian = INFINITY;
  const bits = Math.max(u1.toString(2).length, u2.toString(2).length);
  for (let i = bits - 1; i >= 0; i -= 1) {
    R = double(c, R);
    const b1 = (u1 >> BigInt(i)) & 1n;
    const b2 = (u2 >> BigInt(i)) & 1n;
    if (b1 && b2) R = add(c, R, GQ);
    else if (b1) R = add(c, R, G);
    else if (b2) R = add(c, R, Q);
  }
  return R;
}

/** The leftmost bits of the digest as an integer (SEC 1 v2 §4.1.3 step 5, FIPS 186-5 §6.4.1). */
export function digestToInteger(c: CurveParameters, digest: Uint8Array): bigint {
  let e = BigInt(`0x${Buffer.from(digest).toString('hex') || '0'}`);
  const excess = digest.length * 8 - c.n.toString(2).length;
  if (excess > 0) e >>= BigInt(excess);
  return e;
}

/** s = k⁻¹(e + r·d) mod n (SEC 1 v2 §4.1.3 step 6). */
export function ecdsaS(c: CurveParameters, k: bigint, r: bigint, d: bigint, digest: Uint8Array): bigint {
  return mod(invert(k, c.n) * (digestToInteger(c, digest) + r * d), c.n);
}

/** SEC 1 v2 §4.1.4: accepts (r, s) for `digest` under public point (qx, qy). */
export function ecdsaVerify(c: CurveParameters, qx: bigint, qy: bigint, digest: Uint8Array, r: bigint, s: bigint): boolean {
  if (r <= 0n || r >= c.n || s <= 0n || s >= c.n) return false;
  const w = invert(s, c.n);
  const e = digestToInteger(c, digest);
  const point = doubleScalarMultiply(c, mod(e * w, c.n), mod(r * w, c.n), qx, qy);
  const x = affineX(c, point);
  return x !== undefined && mod(x, c.n) === r;
}

export function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

export function bigIntToBytes(value: bigint, size: number): Uint8Array {
  return new Uint8Array(Buffer.from(value.toString(16).padStart(size * 2, '0'), 'hex'));
}
