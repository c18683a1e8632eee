/**
 * Conversion between the two ECDSA signature encodings: DER `Ecdsa-Sig-Value` (RFC 3279 §2.2.3,
 * what X.509, node:crypto and AWS/GCP KMS use) and raw fixed-width r‖s (IEEE P1363, what WebCrypto
 * and Azure Key Vault use). The DER parser is strict: definite minimal lengths, minimal positive
 * INTEGERs, 1 <= r, s < n, no trailing bytes, so there is exactly one accepted encoding of each
 * signature (no malleability through re-encoding).
 *
 * Trust boundary: both inputs may be attacker bytes; every malformed input is `SignatureInvalid`.
 */
import type { NamedCurve } from '@fleetkey/key-types';
import { SignatureInvalid } from './errors.js';

interface CurveParams {
  /** Bytes of one scalar in P1363 form: ceil(bits / 8). */
  readonly size: number;
  /** The group order n (SEC 2 §2.4.2, §2.5.1, §2.6.1). */
  readonly order: bigint;
}

const CURVE_PARAMS: Readonly<Record<NamedCurve, CurveParams>> = Object.freeze({
  'P-256': { size: 32, order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n },
  'P-384': {
    size: 48,
    order: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
  'P-521': {
    size: 66,
    order:
      0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  },
});

const DER_SEQUENCE = 0x30;
const DER_INTEGER = 0x02;
/** Long-form length prefix for one length byte (X.690 §8.1.3.5); never more is needed here. */
const DER_LENGTH_ONE_BYTE = 0x81;

function curveParams(curve: NamedCurve): CurveParams {
  const params = (CURVE_PARAMS as Record<string, CurveParams | undefined>)[curve];
  if (!params) throw new RangeError(`"curve" expected P-256, P-384 or P-521, got ${JSON.stringify(String(curve).slice(0, 16))}`);
  return params;
}

/**
 * Most content bytes of one INTEGER below n: the scalar size, plus a sign byte when n's top bit
 * is set (P-256, P-384; not P-521, whose order starts 0x01).
 */
function maxIntegerLength(params: CurveParams): number {
  return params.size + (params.order >> BigInt(params.size * 8 - 1) === 1n ? 1 : 0);
}

/** Largest DER signature for a curve: SEQUENCE header + two INTEGERs of maximal length. */
export function maxEcdsaDerLength(curve: NamedCurve): number {
  const content = 2 * (2 + maxIntegerLength(curveParams(curve)));
  return content + (content < 0x80 ? 2 : 3);
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`);
}

function inRange(value: bigint, params: CurveParams): boolean {
  return value >= 1n && value < params.order;
}

/**
 * Reads one INTEGER at `offset`; returns its value bytes without a sign byte and the next offset.
 * X.690 §8.3.2: the first nine bits are never all 0 or all 1 (minimal encoding).
 */
function readInteger(der: Uint8Array, offset: number, params: CurveParams): { value: Uint8Array; next: number } {
  if (der[offset] !== DER_INTEGER) throw new SignatureInvalid();
  const length = der[offset + 1];
  // Precondition: the INTEGER length is short-form and at most what a value below n needs.
  if (length === undefined || length < 1 || length > maxIntegerLength(params)) throw new SignatureInvalid();
  const start = offset + 2;
  const end = start + length;
  if (end > der.length) throw new SignatureInvalid();
  const first = der[start]!;
  // Precondition: the INTEGER is positive (high bit of the first byte clear).
  if (first & 0x80) throw new SignatureInvalid();
  // Precondition: no superfluous leading zero byte.
  if (first === 0 && (length === 1 || (der[start + 1]! & 0x80) === 0)) throw new SignatureInvalid();
  const value = first === 0 ? der.subarray(start + 1, end) : der.subarray(start, end);
  if (value.length > params.size) throw new SignatureInvalid();
  return { value, next: end };
}

/**
 * DER `Ecdsa-Sig-Value` -> raw r‖s of exactly 2 × scalar size bytes.
 * @throws RangeError for an unknown `curve`.
 * @throws SignatureInvalid for any malformed or out-of-range input.
 */
export function derToP1363(signature: Uint8Array, curve: NamedCurve): Uint8Array {
  const params = curveParams(curve);
  if (!(signature instanceof Uint8Array)) throw new TypeError('"signature" expected a Uint8Array');
  // Precondition: the DER signature is no longer than the curve allows.
  if (signature.length < 8 || signature.length > maxEcdsaDerLength(curve)) throw new SignatureInvalid();
  if (signature[0] !== DER_SEQUENCE) throw new SignatureInvalid();
  let offset: number;
  let contentLength: number;
  const lengthByte = signature[1]!;
  if (lengthByte < 0x80) {
    contentLength = lengthByte;
    offset = 2;
  } else if (lengthByte === DER_LENGTH_ONE_BYTE) {
    contentLength = signature[2]!;
    // Precondition: long-form lengths are used only when short form cannot hold the length.
    if (contentLength < 0x80) throw new SignatureInvalid();
    offset = 3;
  } else {
    throw new SignatureInvalid();
  }
  // Precondition: the SEQUENCE length covers exactly the rest of the input (no trailing bytes).
  if (offset + contentLength !== signature.length) throw new SignatureInvalid();
  const r = readInteger(signature, offset, params);
  const s = readInteger(signature, r.next, params);
  if (s.next !== signature.length) throw new SignatureInvalid();
  // Precondition: r and s of a DER signature are in 1..n-1 (SEC 1 §4.1.4 step 1).
  if (!inRange(toBigInt(r.value), params) || !inRange(toBigInt(s.value), params)) throw new SignatureInvalid();
  const out = new Uint8Array(2 * params.size);
  out.set(r.value, params.size - r.value.length);
  out.set(s.value, 2 * params.size - s.value.length);
  return out;
}

function encodeInteger(scalar: Uint8Array): Uint8Array {
  let start = 0;
  while (start < scalar.length - 1 && scalar[start] === 0) start += 1;
  const trimmed = scalar.subarray(start);
  const pad = trimmed[0]! & 0x80 ? 1 : 0;
  const out = new Uint8Array(2 + pad + trimmed.length);
  out[0] = DER_INTEGER;
  out[1] = pad + trimmed.length;
  out.set(trimmed, 2 + pad);
  return out;
}

/**
 * Raw r‖s -> DER `Ecdsa-Sig-Value`.
 * @throws RangeError for an unknown `curve`.
 * @throws SignatureInvalid when the input is not exactly 2 × scalar size bytes or r, s are out of range.
 */
export function p1363ToDer(signature: Uint8Array, curve: NamedCurve): Uint8Array {
  const params = curveParams(curve);
  if (!(signature instanceof Uint8Array)) throw new TypeError('"signature" expected a Uint8Array');
  // Precondition: a P1363 signature is exactly two scalars wide.
  if (signature.length !== 2 * params.size) throw new SignatureInvalid();
  const r = signature.subarray(0, params.size);
  const s = signature.subarray(params.size);
  // Precondition: r and s of a P1363 signature are in 1..n-1.
  if (!inRange(toBigInt(r), params) || !inRange(toBigInt(s), params)) throw new SignatureInvalid();
  const rDer = encodeInteger(r);
  const sDer = encodeInteger(s);
  const contentLength = rDer.length + sDer.length;
  const header = contentLength < 0x80 ? [DER_SEQUENCE, contentLength] : [DER_SEQUENCE, DER_LENGTH_ONE_BYTE, contentLength];
  const out = new Uint8Array(header.length + contentLength);
  out.set(header, 0);
  out.set(rDer, header.length);
  out.set(sDer, header.length + rDer.length);
  return out;
}

/** P1363 scalar size in bytes for a curve (32, 48, 66). @throws RangeError for an unknown curve. */
export function ecdsaScalarSize(curve: NamedCurve): number {
  return curveParams(curve).size;
}
