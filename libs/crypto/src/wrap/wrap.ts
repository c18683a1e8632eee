/**
 * Wrapping to a device key: the public API that picks ECIES P-256 (0x10) or RSA-OAEP-SHA256 (0x20)
 * from the recipient key, and unwraps with the device's private key. Per-robot wrapping during a
 * rotation is this local public-key work, not a KMS call (DESIGN.md, two-phase rotation).
 *
 * Trust boundary: `unwrapWithPrivateKey` takes attacker bytes: parse errors are typed
 * (`EnvelopeMalformed` / `EnvelopeUnsupported`), and everything after parsing that fails is the one
 * `DecryptionFailed`. Keys and context come from trusted callers; misuse is TypeError / RangeError
 * / UnsupportedAlgorithm.
 */
import { KeyObject, createPublicKey } from 'node:crypto';
import { UnsupportedAlgorithm, algorithmInfo } from '@fleetkey/key-types';
import type { AsymmetricAlgorithm } from '@fleetkey/key-types';
import { DecryptionFailed, EnvelopeUnsupported } from '../errors.js';
import { encodeEnvelope, readEnvelopeHeader } from '../envelope/index.js';
import type { DecodeOptions, Envelope, EnvelopeContext } from '../envelope/index.js';
import { keyAlgorithmOf } from '../sign/key-algorithm.js';
import { ECIES_ALGORITHM, unwrapEcies, wrapEcies } from './ecies.js';
import type { EciesTestRandomness } from './ecies.js';
import { RSA_OAEP_ALGORITHM, unwrapRsaOaep, wrapRsaOaep } from './rsa-oaep.js';

export interface WrapToPublicKeyParams {
  /** The device's public key: P-256 (ECIES) or RSA 2048..4096 (RSA-OAEP). */
  readonly recipient: KeyObject;
  readonly provider: string;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly plaintext: Uint8Array;
  readonly context?: EnvelopeContext;
}

/**
 * The KeyAlgorithm of a wrapping key, refusing keys that cannot wrap (key-types `canWrap`).
 * @throws TypeError when `key` is not an asymmetric KeyObject (named `name`).
 * @throws UnsupportedAlgorithm for P-384, P-521, Ed25519 and anything else that is not P-256 or RSA 2048..4096.
 */
function wrappingAlgorithmOf(key: unknown, name: string): AsymmetricAlgorithm {
  if (!(key instanceof KeyObject) || key.type === 'secret') throw new TypeError(`"${name}" expected an asymmetric KeyObject`);
  const algorithm = keyAlgorithmOf(key);
  if (!algorithmInfo(algorithm).canWrap) throw new UnsupportedAlgorithm(`key algorithm ${algorithm} cannot receive wrapped keys`);
  return algorithm;
}

/**
 * Seals `plaintext` to a device public key as envelope v1: ECIES P-256 for P-256 keys, RSA-OAEP-SHA256
 * for RSA keys (a private KeyObject is reduced to its public half).
 * @throws UnsupportedAlgorithm for other key types (P-384, P-521, Ed25519, X25519, ...).
 * @throws TypeError / RangeError for bad provider, key id, key version, plaintext or context.
 */
export function wrapToPublicKey(params: WrapToPublicKeyParams): Uint8Array {
  return wrapToPublicKeyWith(params);
}

/** INTERNAL seam: `wrapToPublicKey` with fixed ECIES randomness for known-answer tests. Not exported from the package. */
export function wrapToPublicKeyWith(params: WrapToPublicKeyParams, testRandomness?: EciesTestRandomness): Uint8Array {
  const algorithm = wrappingAlgorithmOf(params.recipient, 'recipient');
  const recipient = params.recipient.type === 'private' ? createPublicKey(params.recipient) : params.recipient;
  const fields = { provider: params.provider, keyId: params.keyId, keyVersion: params.keyVersion };
  if (algorithmInfo(algorithm).family === 'ec') return wrapEcies(recipient, fields, params.plaintext, params.context, testRandomness);
  return wrapRsaOaep(recipient, fields, params.plaintext, params.context);
}

/**
 * Opens an envelope made by `wrapToPublicKey` with the device's private key.
 * @throws EnvelopeMalformed / EnvelopeUnsupported for bytes that are not a well-formed v1 envelope,
 *   and EnvelopeUnsupported for a symmetric envelope (use openEnvelope for those).
 * @throws DecryptionFailed (message "decryption failed") for a wrong key, wrong context, an
 *   envelope for the other key family, any flipped bit, an RSA padding failure or an invalid point.
 * @throws TypeError when `privateKey` is not a private KeyObject; UnsupportedAlgorithm when it cannot wrap.
 */
export function unwrapWithPrivateKey(
  envelope: Uint8Array | Envelope,
  privateKey: KeyObject,
  context?: EnvelopeContext,
  options?: DecodeOptions,
): Uint8Array {
  if (!(privateKey instanceof KeyObject) || privateKey.type !== 'private') throw new TypeError('"privateKey" expected a private KeyObject');
  const family = algorithmInfo(wrappingAlgorithmOf(privateKey, 'privateKey')).family;
  const bytes = envelope instanceof Uint8Array ? envelope : encodeEnvelope(envelope);
  const header = readEnvelopeHeader(bytes, options);
  switch (header.algorithm) {
    case ECIES_ALGORITHM:
      // Precondition: the envelope's algorithm matches the private key's family.
      if (family !== 'ec') throw new DecryptionFailed();
      return unwrapEcies(bytes, header.encapsulatedKey, privateKey, context, options);
    case RSA_OAEP_ALGORITHM:
      if (family !== 'rsa') throw new DecryptionFailed();
      return unwrapRsaOaep(bytes, header.encapsulatedKey, privateKey, context, options);
    default:
      throw new EnvelopeUnsupported('symmetric envelopes are opened with openEnvelope, not a private key');
  }
}
