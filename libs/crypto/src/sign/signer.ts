/**
 * The one signing port of fleetkey. A `Signer` is a handle that signs; the private key stays on
 * the other side of it, so the same interface fits a local key now and a KMS key later (the KMS
 * adapters implement it; SPIRE's keymanager is the model). `createLocalSigner` wraps a node:crypto
 * private KeyObject.
 *
 * Trust boundary: the private key is held in the closure only; nothing here logs or returns it.
 */
import { KeyObject, constants, createPublicKey, sign } from 'node:crypto';
import type { SignKeyObjectInput } from 'node:crypto';
import { RSA_PSS_SALT_LENGTH, defaultSignatureAlgorithm, signatureAlgorithmInfo } from './algorithms.js';
import type { SignatureAlgorithm } from './algorithms.js';
import { assertKeyMatches, keyAlgorithmOf, publicKeyFingerprint } from './key-algorithm.js';
import { MAX_SIGNED_MESSAGE_LENGTH } from './verify.js';

export interface Signer {
  readonly algorithm: SignatureAlgorithm;
  /** Opaque name for logs and audit records; never secret. */
  readonly keyId: string;
  /** The public half, as a node:crypto public KeyObject. */
  publicKey(): Promise<KeyObject>;
  /** Signs `data`. ECDSA signatures are DER `Ecdsa-Sig-Value` (RFC 3279 §2.2.3). */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

export interface LocalSignerOptions {
  /** Defaults to `defaultSignatureAlgorithm` of the key (RSA keys: RSA_PKCS1_SHA256). */
  readonly algorithm?: SignatureAlgorithm;
  /** Defaults to `local:` + the SHA-256 fingerprint of the public key. */
  readonly keyId?: string;
}

/** Longest accepted `keyId` (it ends up in audit records and envelope headers). */
export const MAX_SIGNER_KEY_ID_LENGTH = 1024;
const KEY_ID_PATTERN = /^[\x21-\x7e]+$/;

/**
 * A Signer over a local private key.
 * @throws TypeError when `privateKey` is not a private KeyObject, or `keyId` is not printable ASCII.
 * @throws UnsupportedAlgorithm when the key type, curve or size is not one fleetkey supports.
 * @throws RangeError when the key does not fit `options.algorithm`, or `keyId` is too long.
 */
export function createLocalSigner(privateKey: KeyObject, options: LocalSignerOptions = {}): Signer {
  if (!(privateKey instanceof KeyObject) || privateKey.type !== 'private') {
    throw new TypeError('"privateKey" expected a private KeyObject');
  }
  const algorithm = options.algorithm ?? defaultSignatureAlgorithm(keyAlgorithmOf(privateKey));
  assertKeyMatches(privateKey, algorithm);
  const keyId = options.keyId ?? `local:${publicKeyFingerprint(privateKey)}`;
  if (typeof keyId !== 'string' || !KEY_ID_PATTERN.test(keyId)) {
    throw new TypeError('"keyId" expected printable ASCII (0x21..0x7E)');
  }
  if (keyId.length > MAX_SIGNER_KEY_ID_LENGTH) {
    throw new RangeError(`"keyId" expected at most ${MAX_SIGNER_KEY_ID_LENGTH} characters, got ${keyId.length}`);
  }
  const info = signatureAlgorithmInfo(algorithm);
  const publicKey = createPublicKey(privateKey);
  const keyInput: SignKeyObjectInput =
    info.family === 'ec'
      ? { key: privateKey, dsaEncoding: 'der' }
      : algorithm === 'RSA_PSS_SHA256'
        ? { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: RSA_PSS_SALT_LENGTH }
        : info.family === 'rsa'
          ? { key: privateKey, padding: constants.RSA_PKCS1_PADDING }
          : { key: privateKey };

  return Object.freeze({
    algorithm,
    keyId,
    publicKey: () => Promise.resolve(publicKey),
    sign(data: Uint8Array): Promise<Uint8Array> {
      if (!(data instanceof Uint8Array)) return Promise.reject(new TypeError('"data" expected a Uint8Array'));
      if (data.length > MAX_SIGNED_MESSAGE_LENGTH) {
        return Promise.reject(new RangeError(`"data" expected at most ${MAX_SIGNED_MESSAGE_LENGTH} bytes, got ${data.length}`));
      }
      // The callback form runs in libuv's thread pool, so an RSA-4096 signature does not block the loop.
      return new Promise((resolve, reject) => {
        sign(info.hash, data, keyInput, (error, signature) => {
          if (error) reject(error);
          else resolve(new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength));
        });
      });
    },
  });
}
