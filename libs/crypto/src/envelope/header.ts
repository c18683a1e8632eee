/**
 * Writing the envelope v1 header (magic .. nonce) from fields we were handed by our own callers.
 *
 * Trust boundary: inputs come from fleetkey code, so a field out of bounds is misuse and raises a
 * TypeError / RangeError naming the field; nothing is written until every field has been checked.
 * The reading side, which faces attacker bytes, lives in parse.ts.
 */
import {
  algorithmId,
  encapsulatedKeyLengthAllowed,
  isEnvelopeAlgorithm,
  type EnvelopeAlgorithm,
} from './algorithms.js';
import {
  ALGORITHM_SIZE,
  ENCAPSULATED_KEY_LENGTH_SIZE,
  ENVELOPE_FORMAT_VERSION,
  ENVELOPE_MAGIC_0,
  ENVELOPE_MAGIC_1,
  ENVELOPE_NONCE_LENGTH,
  KEY_ID_LENGTH_SIZE,
  KEY_VERSION_SIZE,
  MAGIC_SIZE,
  MAX_ENVELOPE_KEY_ID_LENGTH,
  MAX_ENVELOPE_KEY_VERSION,
  MAX_PROVIDER_LENGTH,
  NONCE_LENGTH_SIZE,
  PROVIDER_LENGTH_SIZE,
  VERSION_SIZE,
} from './constants.js';

/** The header fields a writer supplies (the format version is implied). */
export interface HeaderFields {
  readonly algorithm: EnvelopeAlgorithm;
  readonly provider: string;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly encapsulatedKey: Uint8Array;
  readonly nonce: Uint8Array;
}

const PROVIDER_PATTERN = new RegExp(`^[a-z0-9-]{1,${MAX_PROVIDER_LENGTH}}$`);
const KEY_ID_PATTERN = new RegExp(`^[\\x21-\\x7e]{1,${MAX_ENVELOPE_KEY_ID_LENGTH}}$`);

const FIXED_HEADER_SIZE =
  MAGIC_SIZE +
  VERSION_SIZE +
  ALGORITHM_SIZE +
  PROVIDER_LENGTH_SIZE +
  KEY_ID_LENGTH_SIZE +
  KEY_VERSION_SIZE +
  ENCAPSULATED_KEY_LENGTH_SIZE +
  NONCE_LENGTH_SIZE;

/** @throws TypeError when the provider is not a string of `[a-z0-9-]`; RangeError for its length. */
export function checkProvider(provider: unknown): asserts provider is string {
  if (typeof provider !== 'string') throw new TypeError('"provider" expected a string');
  if (!PROVIDER_PATTERN.test(provider)) {
    throw new RangeError(`"provider" expected 1..${MAX_PROVIDER_LENGTH} characters of [a-z0-9-]`);
  }
}

/** @throws TypeError when the key id is not a string; RangeError when not 1..1024 printable ASCII. */
export function checkKeyId(keyId: unknown): asserts keyId is string {
  if (typeof keyId !== 'string') throw new TypeError('"keyId" expected a string');
  if (!KEY_ID_PATTERN.test(keyId)) {
    throw new RangeError(`"keyId" expected 1..${MAX_ENVELOPE_KEY_ID_LENGTH} characters of printable ASCII 0x21..0x7E`);
  }
}

/** @throws RangeError when the key version is not an integer in 0..2^32-1. */
export function checkKeyVersion(keyVersion: unknown): asserts keyVersion is number {
  if (typeof keyVersion !== 'number' || !Number.isInteger(keyVersion) || keyVersion < 0 || keyVersion > MAX_ENVELOPE_KEY_VERSION) {
    throw new RangeError(`"keyVersion" expected an integer in 0..${MAX_ENVELOPE_KEY_VERSION}`);
  }
}

/** @throws TypeError / RangeError naming the first field that is out of bounds. */
export function checkHeaderFields(fields: HeaderFields): void {
  if (typeof fields !== 'object' || fields === null) throw new TypeError('"envelope" expected an object');
  if (!isEnvelopeAlgorithm(fields.algorithm)) throw new RangeError('"algorithm" is not an envelope v1 algorithm');
  checkProvider(fields.provider);
  checkKeyId(fields.keyId);
  checkKeyVersion(fields.keyVersion);
  if (!(fields.encapsulatedKey instanceof Uint8Array)) throw new TypeError('"encapsulatedKey" expected a Uint8Array');
  if (!encapsulatedKeyLengthAllowed(fields.algorithm, fields.encapsulatedKey.length)) {
    throw new RangeError(`"encapsulatedKey" has a length ${fields.encapsulatedKey.length} that ${fields.algorithm} does not allow`);
  }
  if (!(fields.nonce instanceof Uint8Array)) throw new TypeError('"nonce" expected a Uint8Array');
  if (fields.nonce.length !== ENVELOPE_NONCE_LENGTH) {
    throw new RangeError(`"nonce" expected ${ENVELOPE_NONCE_LENGTH} bytes, got ${fields.nonce.length}`);
  }
}

/** Byte length of the header for already-checked fields (ASCII strings: one byte per char). */
export function headerLength(fields: HeaderFields): number {
  return FIXED_HEADER_SIZE + fields.provider.length + fields.keyId.length + fields.encapsulatedKey.length + fields.nonce.length;
}

/**
 * Writes the header of already-checked fields at `target[offset..]` and returns the offset after
 * it. The caller sized `target` with `headerLength`.
 */
export function writeHeader(fields: HeaderFields, target: Uint8Array, offset: number): number {
  let o = offset;
  target[o++] = ENVELOPE_MAGIC_0;
  target[o++] = ENVELOPE_MAGIC_1;
  target[o++] = ENVELOPE_FORMAT_VERSION;
  target[o++] = algorithmId(fields.algorithm);
  o = writeAscii8(target, o, fields.provider);
  o = writeAscii16(target, o, fields.keyId);
  const v = fields.keyVersion;
  target[o++] = (v >>> 24) & 0xff;
  target[o++] = (v >>> 16) & 0xff;
  target[o++] = (v >>> 8) & 0xff;
  target[o++] = v & 0xff;
  const e = fields.encapsulatedKey.length;
  target[o++] = (e >>> 8) & 0xff;
  target[o++] = e & 0xff;
  target.set(fields.encapsulatedKey, o);
  o += e;
  target[o++] = fields.nonce.length;
  target.set(fields.nonce, o);
  return o + fields.nonce.length;
}

function writeAscii8(target: Uint8Array, offset: number, text: string): number {
  target[offset] = text.length;
  for (let i = 0; i < text.length; i++) target[offset + 1 + i] = text.charCodeAt(i);
  return offset + 1 + text.length;
}

function writeAscii16(target: Uint8Array, offset: number, text: string): number {
  target[offset] = (text.length >>> 8) & 0xff;
  target[offset + 1] = text.length & 0xff;
  for (let i = 0; i < text.length; i++) target[offset + 2 + i] = text.charCodeAt(i);
  return offset + 2 + text.length;
}
