/**
 * Content encryption under a known content key: the single place that builds the AAD and turns
 * header fields + content key + plaintext into envelope bytes (and back). Symmetric sealing
 * (seal.ts) and the asymmetric wraps (../wrap/) both go through here, so there is exactly one
 * AES-GCM / AAD code path.
 *
 * AAD = header ‖ uint32(len(ctx)) ‖ ctx   (header = magic .. nonce; ctx = encodeContext(context))
 * The ciphertext length field is not in the AAD: GCM / Poly1305 authenticate the ciphertext
 * length themselves (SP 800-38D §7.1 len(C) block, RFC 8439 §2.8), so a changed length fails.
 *
 * Trust boundary: opening takes attacker bytes (parse errors are typed, authentication failure is
 * `DecryptionFailed`); the content key and context come from trusted callers (misuse is a
 * TypeError / RangeError). Callers that derive a content key own it and must zeroize it.
 */
import { randomBytes } from 'node:crypto';
import { aeadDecrypt, aeadEncryptInto } from './aead.js';
import { contentCipherOf, type EnvelopeAlgorithm } from './algorithms.js';
import { encodeEnvelope, writeUint32 } from './codec.js';
import {
  CIPHERTEXT_LENGTH_SIZE,
  CONTENT_KEY_LENGTH,
  CONTEXT_LENGTH_SIZE,
  ENVELOPE_NONCE_LENGTH,
  ENVELOPE_TAG_LENGTH,
  MAX_ENVELOPE_PLAINTEXT,
} from './constants.js';
import { prepareContext, writeContext, type PreparedContext } from './context.js';
import { checkHeaderFields, headerLength, writeHeader, type HeaderFields } from './header.js';
import { parseEnvelope, type EnvelopeLayout } from './parse.js';
import type { DecodeOptions, Envelope, EnvelopeContext } from './types.js';

/** Header fields of an envelope about to be sealed; the nonce is drawn fresh per seal. */
export interface ContentHeaderFields {
  readonly algorithm: EnvelopeAlgorithm;
  readonly provider: string;
  readonly keyId: string;
  readonly keyVersion: number;
  /** Empty for symmetric algorithms; the ephemeral point / OAEP block for the asymmetric ones. */
  readonly encapsulatedKey: Uint8Array;
}

/** @throws TypeError / RangeError when `key` is not a 32-byte Uint8Array (named `name`). */
export function checkContentKey(key: unknown, name: string): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) throw new TypeError(`"${name}" expected a Uint8Array`);
  if (key.length !== CONTENT_KEY_LENGTH) throw new RangeError(`"${name}" expected ${CONTENT_KEY_LENGTH} bytes, got ${key.length}`);
}

function checkPlaintext(plaintext: unknown): asserts plaintext is Uint8Array {
  if (!(plaintext instanceof Uint8Array)) throw new TypeError('"plaintext" expected a Uint8Array');
  if (plaintext.length > MAX_ENVELOPE_PLAINTEXT) {
    throw new RangeError(`"plaintext" expected at most ${MAX_ENVELOPE_PLAINTEXT} bytes, got ${plaintext.length}`);
  }
}

/**
 * AAD = header ‖ uint32(len(ctx)) ‖ ctx, copying the header from `header[0..headerEnd)`.
 *
 * One allocation from Node's buffer pool: the AAD is not secret (header + caller context), is
 * never returned, and every byte of it is written below, so pooled (uninitialised) memory is safe
 * here and saves a zero-filled off-heap allocation per call.
 */
function buildAad(header: Uint8Array, headerEnd: number, ctx: PreparedContext): Buffer {
  const aad = Buffer.allocUnsafe(headerEnd + CONTEXT_LENGTH_SIZE + ctx.byteLength);
  aad.set(header.subarray(0, headerEnd), 0);
  writeUint32(aad, headerEnd, ctx.byteLength);
  const end = writeContext(ctx, aad, headerEnd + CONTEXT_LENGTH_SIZE);
  // Defensive: every byte of the pooled buffer must have been written.
  if (end !== aad.length) throw new Error('AAD length mismatch');
  return aad;
}

/**
 * Seals `plaintext` under `contentKey` (32 bytes) into envelope v1 bytes with a fresh random
 * 12-byte nonce. The content cipher follows `fields.algorithm`: ChaCha20-Poly1305 for
 * CHACHA20_POLY1305, AES-256-GCM for every other algorithm (including ECIES and RSA-OAEP, whose
 * CEK the caller derived / drew and must zeroize itself).
 * @throws TypeError / RangeError on a bad field, key, plaintext (over 16 MiB - 16) or context.
 */
export function sealWithContentKey(
  fields: ContentHeaderFields,
  contentKey: Uint8Array,
  plaintext: Uint8Array,
  context?: EnvelopeContext,
): Uint8Array {
  return sealWithContentKeyAndNonce(fields, contentKey, plaintext, context, randomBytes(ENVELOPE_NONCE_LENGTH));
}

/**
 * INTERNAL seam for known-answer vectors: `sealWithContentKey` with a caller-chosen nonce. Not
 * exported from the package index; a repeated nonce under one key breaks GCM completely.
 */
export function sealWithContentKeyAndNonce(
  fields: ContentHeaderFields,
  contentKey: Uint8Array,
  plaintext: Uint8Array,
  context: EnvelopeContext | undefined,
  nonce: Uint8Array,
): Uint8Array {
  const header: HeaderFields = {
    algorithm: fields.algorithm,
    provider: fields.provider,
    keyId: fields.keyId,
    keyVersion: fields.keyVersion,
    encapsulatedKey: fields.encapsulatedKey,
    nonce,
  };
  checkHeaderFields(header);
  checkContentKey(contentKey, 'contentKey');
  checkPlaintext(plaintext);
  const ctx = prepareContext(context);

  const headerEnd = headerLength(header);
  const ciphertextLength = plaintext.length + ENVELOPE_TAG_LENGTH;
  // One allocation for the envelope; the header is written once and copied into the AAD.
  const out = new Uint8Array(headerEnd + CIPHERTEXT_LENGTH_SIZE + ciphertextLength);
  writeHeader(header, out, 0);
  writeUint32(out, headerEnd, ciphertextLength);
  const aad = buildAad(out, headerEnd, ctx);
  aeadEncryptInto(contentCipherOf(header.algorithm), contentKey, nonce, aad, plaintext, out, headerEnd + CIPHERTEXT_LENGTH_SIZE);
  return out;
}

/**
 * Opens an already-parsed envelope with its content key. INTERNAL: shared by `openEnvelope` and
 * `openWithContentKey` so both authenticate exactly the same bytes.
 * @throws DecryptionFailed
 */
export function openParsedWithContentKey(
  bytes: Uint8Array,
  layout: EnvelopeLayout,
  contentKey: Uint8Array,
  context: EnvelopeContext | undefined,
): Uint8Array {
  const aad = buildAad(bytes, layout.headerEnd, prepareContext(context));
  // The nonce and ciphertext are read in place: OpenSSL copies them, nothing we return aliases them.
  return aeadDecrypt(
    contentCipherOf(layout.algorithm),
    contentKey,
    bytes.subarray(layout.nonceStart, layout.headerEnd),
    aad,
    bytes.subarray(layout.ciphertextStart, layout.ciphertextEnd),
  );
}

/**
 * Parses `envelope` (bytes, or an `Envelope` object which is first encoded with encodeEnvelope's
 * checks) and returns the bytes and their layout.
 * @throws EnvelopeMalformed | EnvelopeUnsupported; TypeError / RangeError for a bad object.
 */
export function parseEnvelopeInput(
  envelope: Uint8Array | Envelope,
  options: DecodeOptions | undefined,
): { readonly bytes: Uint8Array; readonly layout: EnvelopeLayout } {
  const bytes = envelope instanceof Uint8Array ? envelope : encodeEnvelope(envelope);
  return { bytes, layout: parseEnvelope(bytes, options) };
}

/**
 * Opens an envelope of ANY v1 algorithm with its content key (32 bytes): the symmetric key for
 * AES_256_GCM / CHACHA20_POLY1305, the CEK the caller recovered for ECIES / RSA-OAEP. The AAD is
 * rebuilt from the envelope's own header bytes and `context`.
 * @throws EnvelopeMalformed | EnvelopeUnsupported for bad bytes; DecryptionFailed when
 * authentication fails (wrong key, wrong / missing / extra context, any flipped bit);
 * TypeError / RangeError on misuse.
 */
export function openWithContentKey(
  envelope: Uint8Array | Envelope,
  contentKey: Uint8Array,
  context?: EnvelopeContext,
  options?: DecodeOptions,
): Uint8Array {
  checkContentKey(contentKey, 'contentKey');
  const { bytes, layout } = parseEnvelopeInput(envelope, options);
  return openParsedWithContentKey(bytes, layout, contentKey, context);
}
