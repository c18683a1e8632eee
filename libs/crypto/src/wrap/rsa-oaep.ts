/**
 * RSA-OAEP to an RSA device key, envelope algorithm 0x20 `RSA_OAEP_SHA256_AES_256_GCM`: a fresh
 * 32-byte CEK is encrypted with RSAES-OAEP (SHA-256, MGF1-SHA256, empty label; RFC 8017 §7.1) as
 * the encapsulated key, and the plaintext is sealed under the CEK through the envelope's one
 * AES-256-GCM content path.
 *
 * Trust boundary: unwrapping takes attacker bytes. An OAEP failure does not return early: it
 * continues with a random CEK so the GCM check fails the same way (implicit rejection, as TLS does
 * against Bleichenbacher/Manger-style oracles), and every failure is the one `DecryptionFailed`.
 * The CEK is zeroized in `finally`.
 */
import { constants, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { DecryptionFailed } from '../errors.js';
import { CONTENT_KEY_LENGTH, openWithContentKey, sealWithContentKey } from '../envelope/index.js';
import type { DecodeOptions, EnvelopeContext } from '../envelope/index.js';
import type { WrapFields } from './ecies.js';

export const RSA_OAEP_ALGORITHM = 'RSA_OAEP_SHA256_AES_256_GCM' as const;

function modulusBytes(key: KeyObject): number {
  return Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
}

/**
 * Seals `plaintext` to an RSA public key (2048..4096 bits; checked by the caller).
 * @throws TypeError / RangeError for bad header fields, plaintext or context.
 */
export function wrapRsaOaep(recipient: KeyObject, fields: WrapFields, plaintext: Uint8Array, context: EnvelopeContext | undefined): Uint8Array {
  const cek = randomBytes(CONTENT_KEY_LENGTH);
  try {
    const encapsulatedKey = new Uint8Array(
      publicEncrypt({ key: recipient, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek),
    );
    return sealWithContentKey(
      { algorithm: RSA_OAEP_ALGORITHM, provider: fields.provider, keyId: fields.keyId, keyVersion: fields.keyVersion, encapsulatedKey },
      cek,
      plaintext,
      context,
    );
  } finally {
    cek.fill(0);
  }
}

/**
 * Opens an RSA-OAEP envelope (already encoded; its header already read) with an RSA private key.
 * @throws DecryptionFailed for any failure after parsing; EnvelopeMalformed / EnvelopeUnsupported from parsing.
 */
export function unwrapRsaOaep(
  bytes: Uint8Array,
  encapsulatedKey: Uint8Array,
  privateKey: KeyObject,
  context: EnvelopeContext | undefined,
  options: DecodeOptions | undefined,
): Uint8Array {
  // Precondition: the encapsulated key is exactly as long as the recipient's modulus (RFC 8017 §7.1.2 step 1).
  if (encapsulatedKey.length !== modulusBytes(privateKey)) throw new DecryptionFailed();
  let cek: Buffer | undefined;
  try {
    try {
      cek = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, encapsulatedKey);
    } catch {
      cek = undefined;
    }
    if (cek?.length !== CONTENT_KEY_LENGTH) {
      cek?.fill(0);
      // Implicit rejection: a random CEK makes the content check fail exactly like a wrong key would.
      cek = randomBytes(CONTENT_KEY_LENGTH);
    }
    return openWithContentKey(bytes, cek, context, options);
  } finally {
    cek?.fill(0);
  }
}
