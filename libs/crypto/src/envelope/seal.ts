/**
 * Symmetric envelopes: seal / open with a 32-byte key held by the caller (AES_256_GCM or
 * CHACHA20_POLY1305). Built on content.ts, the one content-encryption path.
 *
 * Trust boundary: `openEnvelope` takes attacker bytes; parse failures are EnvelopeMalformed /
 * EnvelopeUnsupported, authentication failures DecryptionFailed (one fixed message). It refuses
 * the asymmetric algorithms: a symmetric key must never be tried as an ECIES / RSA CEK.
 */
import { EnvelopeUnsupported } from '../errors.js';
import { isSymmetricEnvelopeAlgorithm, type SymmetricEnvelopeAlgorithm } from './algorithms.js';
import {
  checkContentKey,
  openParsedWithContentKey,
  parseEnvelopeInput,
  sealWithContentKey,
  sealWithContentKeyAndNonce,
  type ContentHeaderFields,
} from './content.js';
import type { DecodeOptions, Envelope, EnvelopeContext } from './types.js';

export interface SealParams {
  /** 32-byte symmetric key. */
  readonly key: Uint8Array;
  /** Defaults to AES_256_GCM. */
  readonly algorithm?: SymmetricEnvelopeAlgorithm;
  readonly provider: string;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly plaintext: Uint8Array;
  readonly context?: EnvelopeContext;
}

const NO_ENCAPSULATED_KEY = new Uint8Array(0);

function fieldsOf(params: SealParams): ContentHeaderFields {
  if (typeof params !== 'object' || params === null) throw new TypeError('"params" expected an object');
  const algorithm = params.algorithm ?? 'AES_256_GCM';
  if (!isSymmetricEnvelopeAlgorithm(algorithm)) {
    throw new RangeError('"algorithm" expected AES_256_GCM or CHACHA20_POLY1305');
  }
  checkContentKey(params.key, 'key');
  return {
    algorithm,
    provider: params.provider,
    keyId: params.keyId,
    keyVersion: params.keyVersion,
    encapsulatedKey: NO_ENCAPSULATED_KEY,
  };
}

/**
 * Seals `plaintext` into envelope v1 bytes with a fresh random nonce.
 * @throws TypeError / RangeError when a parameter is missing, of the wrong type or out of bounds.
 */
export function sealEnvelope(params: SealParams): Uint8Array {
  const fields = fieldsOf(params);
  return sealWithContentKey(fields, params.key, params.plaintext, params.context);
}

/**
 * INTERNAL seam for the known-answer vectors: `sealEnvelope` with a fixed nonce. Not exported
 * from the package index. Never use a fixed nonce outside the vector generator and its test.
 */
export function sealEnvelopeWithNonce(params: SealParams, nonce: Uint8Array): Uint8Array {
  const fields = fieldsOf(params);
  return sealWithContentKeyAndNonce(fields, params.key, params.plaintext, params.context, nonce);
}

/**
 * Opens a symmetric envelope with `key` (32 bytes) and the same `context` it was sealed with.
 * @throws EnvelopeMalformed (bad bytes, ciphertext over `maxCiphertextLength`) |
 * EnvelopeUnsupported (unknown version / algorithm, or an asymmetric algorithm) |
 * DecryptionFailed (wrong key, wrong / missing / extra context, tampering);
 * TypeError / RangeError on misuse.
 */
export function openEnvelope(
  envelope: Uint8Array | Envelope,
  key: Uint8Array,
  context?: EnvelopeContext,
  options?: DecodeOptions,
): Uint8Array {
  checkContentKey(key, 'key');
  const { bytes, layout } = parseEnvelopeInput(envelope, options);
  // Precondition: only symmetric algorithms open with a symmetric key.
  if (!isSymmetricEnvelopeAlgorithm(layout.algorithm)) {
    throw new EnvelopeUnsupported(`envelope algorithm ${layout.algorithm} needs a private key (unwrapWithPrivateKey)`);
  }
  return openParsedWithContentKey(bytes, layout, key, context);
}
