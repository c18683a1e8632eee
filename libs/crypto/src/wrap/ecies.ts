/**
 * ECIES to a P-256 device key, envelope algorithm 0x10 `ECIES_P256_HKDF_SHA256_AES_256_GCM`:
 *   ephemeral P-256 key pair e; Z = x-coordinate of ECDH(e, recipient)  (SEC 1 §3.3.1)
 *   CEK = HKDF-SHA256(ikm = Z, salt = E ‖ R, info = "fleetkey envelope v1 ecies", L = 32)
 *   (RFC 5869 §2.2-2.3; E, R = uncompressed ephemeral and recipient points)
 *   then AES-256-GCM through the envelope's one content path, with E as the encapsulated key.
 * Binding both points into the salt ties the CEK to this recipient and this ephemeral key.
 *
 * Trust boundary: unwrapping takes attacker bytes. Every failure after parsing (off-curve or
 * malformed point, wrong key, wrong context, flipped bit) is the one `DecryptionFailed`. The
 * shared secret and the CEK are zeroized in `finally`.
 */
import { createECDH, diffieHellman, hkdfSync } from 'node:crypto';
import type { ECDH, KeyObject } from 'node:crypto';
import { DecryptionFailed } from '../errors.js';
import { CONTENT_KEY_LENGTH, openWithContentKey, sealWithContentKey } from '../envelope/index.js';
import type { DecodeOptions, EnvelopeContext } from '../envelope/index.js';
import { sealWithContentKeyAndNonce } from '../envelope/content.js';
import { UNCOMPRESSED_POINT_PREFIX, p256PointOf, publicKeyFromPoint } from './p256.js';

export const ECIES_ALGORITHM = 'ECIES_P256_HKDF_SHA256_AES_256_GCM' as const;
/** HKDF `info` for envelope v1 ECIES (envelope spec, algorithm 0x10). */
export const ECIES_HKDF_INFO = 'fleetkey envelope v1 ecies';
/** P-256 scalars and ECDH x-coordinates are 32 bytes. */
const P256_SCALAR_LENGTH = 32;

export interface WrapFields {
  readonly provider: string;
  readonly keyId: string;
  readonly keyVersion: number;
}

/** Fixed randomness for known-answer tests. INTERNAL: never exported from the package index. */
export interface EciesTestRandomness {
  readonly ephemeralPrivateKey: Uint8Array;
  readonly nonce: Uint8Array;
}

/** RFC 5869 HKDF-SHA256 with salt = ephemeral point ‖ recipient point. The caller zeroizes the result. */
export function deriveEciesContentKey(sharedSecret: Uint8Array, ephemeralPoint: Uint8Array, recipientPoint: Uint8Array): Uint8Array {
  const salt = Buffer.concat([ephemeralPoint, recipientPoint]);
  return new Uint8Array(hkdfSync('sha256', sharedSecret, salt, ECIES_HKDF_INFO, CONTENT_KEY_LENGTH));
}

/**
 * Seals `plaintext` to a P-256 public key. Uses `createECDH` for the ephemeral key (about twice
 * as fast as KeyObject generation + diffieHellman). The ephemeral private scalar lives only inside
 * the ECDH object's OpenSSL key, which is dropped on return.
 * @throws RangeError when `recipient` is not a P-256 public key; TypeError / RangeError for bad fields.
 */
export function wrapEcies(
  recipient: KeyObject,
  fields: WrapFields,
  plaintext: Uint8Array,
  context: EnvelopeContext | undefined,
  testRandomness?: EciesTestRandomness,
): Uint8Array {
  const recipientPoint = p256PointOf(recipient);
  const ecdh: ECDH = createECDH('prime256v1');
  if (testRandomness) ecdh.setPrivateKey(Buffer.from(testRandomness.ephemeralPrivateKey));
  else ecdh.generateKeys();
  const ephemeralPoint = new Uint8Array(ecdh.getPublicKey());
  let shared: Buffer | undefined;
  let cek: Uint8Array | undefined;
  try {
    shared = ecdh.computeSecret(recipientPoint);
    cek = deriveEciesContentKey(shared, ephemeralPoint, recipientPoint);
    const header = { algorithm: ECIES_ALGORITHM, ...pickFields(fields), encapsulatedKey: ephemeralPoint };
    return testRandomness
      ? sealWithContentKeyAndNonce(header, cek, plaintext, context, testRandomness.nonce)
      : sealWithContentKey(header, cek, plaintext, context);
  } finally {
    shared?.fill(0);
    cek?.fill(0);
  }
}

function pickFields(fields: WrapFields): WrapFields {
  return { provider: fields.provider, keyId: fields.keyId, keyVersion: fields.keyVersion };
}

/**
 * Opens an ECIES envelope (already encoded; its header already read) with a P-256 private key.
 * @throws DecryptionFailed for any failure after parsing; EnvelopeMalformed / EnvelopeUnsupported from parsing.
 */
export function unwrapEcies(
  bytes: Uint8Array,
  ephemeralPoint: Uint8Array,
  privateKey: KeyObject,
  context: EnvelopeContext | undefined,
  options: DecodeOptions | undefined,
): Uint8Array {
  // Precondition: the ephemeral key is an uncompressed point (SEC 1 §2.3.3) on P-256.
  if (ephemeralPoint[0] !== UNCOMPRESSED_POINT_PREFIX) throw new DecryptionFailed();
  let shared: Buffer | undefined;
  let cek: Uint8Array | undefined;
  try {
    let ephemeralKey: KeyObject;
    try {
      // OpenSSL refuses points that are not on the curve (and the point at infinity) here.
      ephemeralKey = publicKeyFromPoint(ephemeralPoint);
      shared = diffieHellman({ privateKey, publicKey: ephemeralKey });
    } catch {
      throw new DecryptionFailed();
    }
    if (shared.length !== P256_SCALAR_LENGTH) throw new DecryptionFailed();
    cek = deriveEciesContentKey(shared, ephemeralPoint, p256PointOf(privateKey));
    return openWithContentKey(bytes, cek, context, options);
  } finally {
    shared?.fill(0);
    cek?.fill(0);
  }
}
