/**
 * The public envelope v1 codec: bytes <-> `Envelope`. Encoding checks every field first (misuse
 * is a TypeError / RangeError naming it); decoding delegates to the strict reader in parse.ts.
 *
 * Trust boundary: `decodeEnvelope` / `readEnvelopeHeader` take attacker bytes and only ever throw
 * `EnvelopeMalformed` / `EnvelopeUnsupported` for them. Decoded fields are copies of the input.
 */
import { CIPHERTEXT_LENGTH_SIZE, ENVELOPE_FORMAT_VERSION, MAX_ENVELOPE_CIPHERTEXT, MIN_ENVELOPE_CIPHERTEXT } from './constants.js';
import { checkHeaderFields, headerLength, writeHeader } from './header.js';
import { copyOut, headerOf, parseEnvelope } from './parse.js';
import type { DecodeOptions, Envelope, EnvelopeHeader } from './types.js';

/**
 * Encodes an envelope.
 * @throws TypeError / RangeError when a field is of the wrong type or out of bounds (format
 * version other than 1, unknown algorithm, provider / key id outside their alphabet or length,
 * key version outside uint32, wrong encapsulated key or nonce length, ciphertext outside 16..16 MiB).
 */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  checkHeaderFields(envelope);
  if (envelope.formatVersion !== ENVELOPE_FORMAT_VERSION) throw new RangeError(`"formatVersion" expected ${ENVELOPE_FORMAT_VERSION}`);
  const ciphertext = envelope.ciphertext;
  if (!(ciphertext instanceof Uint8Array)) throw new TypeError('"ciphertext" expected a Uint8Array');
  if (ciphertext.length < MIN_ENVELOPE_CIPHERTEXT || ciphertext.length > MAX_ENVELOPE_CIPHERTEXT) {
    throw new RangeError(`"ciphertext" expected ${MIN_ENVELOPE_CIPHERTEXT}..${MAX_ENVELOPE_CIPHERTEXT} bytes, got ${ciphertext.length}`);
  }
  const out = new Uint8Array(headerLength(envelope) + CIPHERTEXT_LENGTH_SIZE + ciphertext.length);
  let o = writeHeader(envelope, out, 0);
  o = writeUint32(out, o, ciphertext.length);
  out.set(ciphertext, o);
  return out;
}

/**
 * Decodes and checks an envelope. The result holds copies, never views of `bytes`.
 * @throws EnvelopeMalformed (bad magic, lengths, truncation, trailing bytes, bad provider / key id
 * characters, ciphertext over `maxCiphertextLength`) | EnvelopeUnsupported (format version,
 * algorithm); TypeError / RangeError when `bytes` or `options` are misused.
 */
export function decodeEnvelope(bytes: Uint8Array, options?: DecodeOptions): Envelope {
  const layout = parseEnvelope(bytes, options);
  return Object.freeze({ ...headerOf(bytes, layout), ciphertext: copyOut(bytes, layout.ciphertextStart, layout.ciphertextEnd) });
}

/**
 * Runs every check `decodeEnvelope` runs and returns only the header, so a caller can pick the
 * key (provider, key id, version, algorithm) before it decrypts.
 * @throws the same errors as `decodeEnvelope`.
 */
export function readEnvelopeHeader(bytes: Uint8Array, options?: DecodeOptions): EnvelopeHeader {
  return headerOf(bytes, parseEnvelope(bytes, options));
}

export function writeUint32(target: Uint8Array, offset: number, value: number): number {
  target[offset] = (value >>> 24) & 0xff;
  target[offset + 1] = (value >>> 16) & 0xff;
  target[offset + 2] = (value >>> 8) & 0xff;
  target[offset + 3] = value & 0xff;
  return offset + 4;
}
