/**
 * The strict envelope v1 reader. Every field is read through an explicit bounds check before it
 * is touched; nothing is ever read past the end of the input, and trailing bytes are refused.
 *
 * Trust boundary: the input is attacker bytes. Every failure is `EnvelopeMalformed` or
 * `EnvelopeUnsupported`; the only other errors are TypeError / RangeError for caller misuse
 * (a non-Uint8Array input, a bad `maxCiphertextLength`). Messages name the field, never its bytes.
 */
import { EnvelopeMalformed, EnvelopeUnsupported } from '../errors.js';
import { algorithmFromId, encapsulatedKeyLengthAllowed, type EnvelopeAlgorithm } from './algorithms.js';
import {
  CIPHERTEXT_LENGTH_SIZE,
  ENVELOPE_FORMAT_VERSION,
  ENVELOPE_MAGIC_0,
  ENVELOPE_MAGIC_1,
  ENVELOPE_NONCE_LENGTH,
  KEY_ID_MAX_CHAR,
  KEY_ID_MIN_CHAR,
  MAX_ENVELOPE_CIPHERTEXT,
  MAX_ENVELOPE_KEY_ID_LENGTH,
  MAX_PROVIDER_LENGTH,
  MIN_ENVELOPE_CIPHERTEXT,
  MIN_ENVELOPE_KEY_ID_LENGTH,
  MIN_PROVIDER_LENGTH,
} from './constants.js';
import type { DecodeOptions, EnvelopeHeader } from './types.js';

/**
 * Where each field of a checked envelope sits in the input. Parsing only validates and records
 * offsets; `headerOf` materialises copies for callers that keep the fields, while the openers read
 * the nonce and ciphertext in place and never allocate strings they do not need.
 */
export interface EnvelopeLayout {
  readonly algorithm: EnvelopeAlgorithm;
  readonly providerStart: number;
  readonly providerEnd: number;
  readonly keyIdStart: number;
  readonly keyIdEnd: number;
  readonly keyVersion: number;
  readonly encapsulatedKeyStart: number;
  readonly encapsulatedKeyEnd: number;
  readonly nonceStart: number;
  /** End of the header = start of the ciphertext length field; header = bytes[0..headerEnd). */
  readonly headerEnd: number;
  readonly ciphertextStart: number;
  readonly ciphertextEnd: number;
}

/**
 * Resolves the caller's ciphertext bound.
 * @throws RangeError when it is not an integer in MIN_ENVELOPE_CIPHERTEXT..MAX_ENVELOPE_CIPHERTEXT.
 */
export function resolveMaxCiphertext(options: DecodeOptions | undefined): number {
  const max = options?.maxCiphertextLength;
  if (max === undefined) return MAX_ENVELOPE_CIPHERTEXT;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < MIN_ENVELOPE_CIPHERTEXT || max > MAX_ENVELOPE_CIPHERTEXT) {
    throw new RangeError(`"maxCiphertextLength" expected an integer in ${MIN_ENVELOPE_CIPHERTEXT}..${MAX_ENVELOPE_CIPHERTEXT}`);
  }
  return max;
}

/** A fresh copy of `bytes[start..end)`, so the result never aliases the input. */
export function copyOut(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(bytes.subarray(start, end));
  return out;
}

function truncated(field: string): EnvelopeMalformed {
  return new EnvelopeMalformed(`envelope truncated in the ${field}`);
}

/**
 * Parses and checks the whole envelope (header, ciphertext length, ciphertext, no trailing bytes).
 * @throws EnvelopeMalformed | EnvelopeUnsupported on bad bytes; TypeError / RangeError on misuse.
 */
export function parseEnvelope(bytes: Uint8Array, options?: DecodeOptions): EnvelopeLayout {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('"bytes" expected a Uint8Array');
  const maxCiphertext = resolveMaxCiphertext(options);
  const end = bytes.length;
  let o = 0;

  // Precondition: the envelope starts with the magic "FK".
  if (end - o < 2) throw truncated('magic');
  if (bytes[0] !== ENVELOPE_MAGIC_0 || bytes[1] !== ENVELOPE_MAGIC_1) throw new EnvelopeMalformed('envelope magic is not "FK"');
  o += 2;

  // Precondition: the format version is 1; anything else is a format we do not implement.
  if (end - o < 1) throw truncated('format version');
  const version = bytes[o]!;
  if (version !== ENVELOPE_FORMAT_VERSION) throw new EnvelopeUnsupported(`envelope format version ${version} is not supported`);
  o += 1;

  // Precondition: the algorithm id is one of the v1 table.
  if (end - o < 1) throw truncated('algorithm id');
  const algorithm = algorithmFromId(bytes[o]!);
  if (algorithm === undefined) throw new EnvelopeUnsupported(`envelope algorithm id ${bytes[o]!} is not supported`);
  o += 1;

  // Precondition: the provider is 1..32 bytes of [a-z0-9-].
  if (end - o < 1) throw truncated('provider length');
  const providerLength = bytes[o]!;
  o += 1;
  if (providerLength < MIN_PROVIDER_LENGTH || providerLength > MAX_PROVIDER_LENGTH) {
    throw new EnvelopeMalformed(`envelope provider length ${providerLength} is outside ${MIN_PROVIDER_LENGTH}..${MAX_PROVIDER_LENGTH}`);
  }
  if (end - o < providerLength) throw truncated('provider');
  for (let i = o; i < o + providerLength; i++) {
    const c = bytes[i]!;
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d;
    if (!ok) throw new EnvelopeMalformed('envelope provider has a character outside [a-z0-9-]');
  }
  const providerStart = o;
  o += providerLength;
  const providerEnd = o;

  // Precondition: the key id is 1..1024 bytes of printable ASCII 0x21..0x7E.
  if (end - o < 2) throw truncated('key id length');
  const keyIdLength = (bytes[o]! << 8) | bytes[o + 1]!;
  o += 2;
  if (keyIdLength < MIN_ENVELOPE_KEY_ID_LENGTH || keyIdLength > MAX_ENVELOPE_KEY_ID_LENGTH) {
    throw new EnvelopeMalformed(`envelope key id length ${keyIdLength} is outside ${MIN_ENVELOPE_KEY_ID_LENGTH}..${MAX_ENVELOPE_KEY_ID_LENGTH}`);
  }
  if (end - o < keyIdLength) throw truncated('key id');
  for (let i = o; i < o + keyIdLength; i++) {
    const c = bytes[i]!;
    if (c < KEY_ID_MIN_CHAR || c > KEY_ID_MAX_CHAR) throw new EnvelopeMalformed('envelope key id has a non-printable character');
  }
  const keyIdStart = o;
  o += keyIdLength;
  const keyIdEnd = o;

  // Key version: any uint32 (0 = the provider tracks versions).
  if (end - o < 4) throw truncated('key version');
  const keyVersion = ((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0;
  o += 4;

  // Precondition: the encapsulated key length is what the algorithm says (0 for symmetric).
  if (end - o < 2) throw truncated('encapsulated key length');
  const encapsulatedLength = (bytes[o]! << 8) | bytes[o + 1]!;
  o += 2;
  if (!encapsulatedKeyLengthAllowed(algorithm, encapsulatedLength)) {
    throw new EnvelopeMalformed(`envelope encapsulated key length ${encapsulatedLength} is wrong for ${algorithm}`);
  }
  if (end - o < encapsulatedLength) throw truncated('encapsulated key');
  const encapsulatedKeyStart = o;
  o += encapsulatedLength;
  const encapsulatedKeyEnd = o;

  // Precondition: the nonce is exactly 12 bytes for every v1 algorithm.
  if (end - o < 1) throw truncated('nonce length');
  const nonceLength = bytes[o]!;
  o += 1;
  if (nonceLength !== ENVELOPE_NONCE_LENGTH) {
    throw new EnvelopeMalformed(`envelope nonce length ${nonceLength} is not ${ENVELOPE_NONCE_LENGTH}`);
  }
  if (end - o < nonceLength) throw truncated('nonce');
  const nonceStart = o;
  o += nonceLength;
  const headerEnd = o;

  // Precondition: the ciphertext length is MIN_ENVELOPE_CIPHERTEXT..the caller's maximum.
  if (end - o < CIPHERTEXT_LENGTH_SIZE) throw truncated('ciphertext length');
  const ciphertextLength = ((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0;
  o += CIPHERTEXT_LENGTH_SIZE;
  if (ciphertextLength < MIN_ENVELOPE_CIPHERTEXT) {
    throw new EnvelopeMalformed(`envelope ciphertext length ${ciphertextLength} is shorter than the tag`);
  }
  if (ciphertextLength > maxCiphertext) {
    throw new EnvelopeMalformed(`envelope ciphertext length ${ciphertextLength} exceeds the limit ${maxCiphertext}`);
  }
  if (end - o < ciphertextLength) throw truncated('ciphertext');
  const ciphertextStart = o;
  o += ciphertextLength;

  // Precondition: nothing follows the ciphertext.
  if (o !== end) throw new EnvelopeMalformed(`envelope has ${end - o} trailing bytes`);

  return {
    algorithm,
    providerStart,
    providerEnd,
    keyIdStart,
    keyIdEnd,
    keyVersion,
    encapsulatedKeyStart,
    encapsulatedKeyEnd,
    nonceStart,
    headerEnd,
    ciphertextStart,
    ciphertextEnd: o,
  };
}

/**
 * The header of a checked envelope, as a frozen object of copies (never views of `bytes`).
 * `layout` must come from `parseEnvelope(bytes)` on these same bytes.
 */
export function headerOf(bytes: Uint8Array, layout: EnvelopeLayout): EnvelopeHeader {
  return Object.freeze({
    formatVersion: ENVELOPE_FORMAT_VERSION,
    algorithm: layout.algorithm,
    provider: latin1(bytes, layout.providerStart, layout.providerEnd),
    keyId: latin1(bytes, layout.keyIdStart, layout.keyIdEnd),
    keyVersion: layout.keyVersion,
    encapsulatedKey: copyOut(bytes, layout.encapsulatedKeyStart, layout.encapsulatedKeyEnd),
    nonce: copyOut(bytes, layout.nonceStart, layout.headerEnd),
  });
}

/** ASCII bytes (already checked) to a string; latin1 maps each byte to one code unit. */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}
