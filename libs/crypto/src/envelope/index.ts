/**
 * Public surface of envelope v1 (re-exported by the package index). Internal seams that take a
 * fixed nonce (`sealEnvelopeWithNonce`, `sealWithContentKeyAndNonce`) are deliberately absent.
 *
 * Trust boundary: see each module; decoders and openers take attacker bytes.
 */
export {
  ENVELOPE_ALGORITHMS,
  isEnvelopeAlgorithm,
  isSymmetricEnvelopeAlgorithm,
  type EnvelopeAlgorithm,
  type SymmetricEnvelopeAlgorithm,
} from './algorithms.js';
export {
  CONTENT_KEY_LENGTH,
  ENVELOPE_FORMAT_VERSION,
  ENVELOPE_NONCE_LENGTH,
  ENVELOPE_TAG_LENGTH,
  ECIES_P256_POINT_LENGTH,
  MAX_CONTEXT_ENTRIES,
  MAX_CONTEXT_KEY_BYTES,
  MAX_CONTEXT_VALUE_BYTES,
  MAX_ENVELOPE_CIPHERTEXT,
  MAX_ENVELOPE_KEY_ID_LENGTH,
  MAX_ENVELOPE_KEY_VERSION,
  MAX_ENVELOPE_PLAINTEXT,
  MAX_KMS_ENCAPSULATED_KEY_LENGTH,
  MIN_KMS_ENCAPSULATED_KEY_LENGTH,
  MAX_PROVIDER_LENGTH,
  MAX_RSA_ENCAPSULATED_KEY_LENGTH,
  MIN_RSA_ENCAPSULATED_KEY_LENGTH,
} from './constants.js';
export type { DecodeOptions, Envelope, EnvelopeContext, EnvelopeHeader } from './types.js';
export { encodeContext } from './context.js';
export { decodeEnvelope, encodeEnvelope, readEnvelopeHeader } from './codec.js';
export { openWithContentKey, sealWithContentKey, type ContentHeaderFields } from './content.js';
export { openEnvelope, sealEnvelope, type SealParams } from './seal.js';
