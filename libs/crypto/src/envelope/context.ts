/**
 * Canonical encoding of the caller context, the part of the AAD the opener supplies.
 *
 * ctx = for each entry sorted by key (UTF-16 code unit order):
 *         uint16 len(key) ‖ key UTF-8 ‖ uint16 len(value) ‖ value UTF-8
 * at most 32 entries, keys 1..64 bytes, values 0..1024 bytes (docs/envelope.md, "AAD").
 *
 * Trust boundary: the context comes from our own callers, so a bad one is misuse (TypeError /
 * RangeError naming the argument), never an envelope error. Strings must be well-formed UTF-16:
 * a lone surrogate would encode to U+FFFD and two different contexts would share one encoding.
 *
 * Split in two (prepare = validate + measure, write = copy into a caller's buffer) so the sealers
 * encode the context straight into the AAD buffer without an intermediate allocation.
 */
import {
  MAX_CONTEXT_ENTRIES,
  MAX_CONTEXT_KEY_BYTES,
  MAX_CONTEXT_VALUE_BYTES,
  MIN_CONTEXT_KEY_BYTES,
} from './constants.js';
import type { EnvelopeContext } from './types.js';

/** A validated context: sorted keys, their values, UTF-8 lengths, and the total encoded size. */
export interface PreparedContext {
  readonly keys: readonly string[];
  readonly values: readonly string[];
  /** UTF-8 byte length of keys[i] and values[i], interleaved: [k0, v0, k1, v1, ...]. */
  readonly lengths: readonly number[];
  readonly byteLength: number;
}

const EMPTY: PreparedContext = Object.freeze({ keys: [], values: [], lengths: [], byteLength: 0 });
const LENGTH_PREFIX = 2;

/**
 * UTF-8 byte length of `text` (RFC 3629 §3), refusing lone surrogates in the same pass.
 * @throws TypeError on a lone surrogate.
 */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (c > 0xdbff || next < 0xdc00 || next > 0xdfff) {
        throw new TypeError('"context" keys and values must be well-formed UTF-16');
      }
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Validates and measures `context` (undefined = no context = the empty encoding).
 * @throws TypeError when the context is not a plain record of strings, or holds lone surrogates.
 * @throws RangeError when an entry count, key length or value length is out of bounds.
 */
export function prepareContext(context: EnvelopeContext | undefined): PreparedContext {
  if (context === undefined) return EMPTY;
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw new TypeError('"context" expected a record of strings');
  }
  const keys = Object.keys(context);
  if (keys.length === 0) return EMPTY;
  if (keys.length > MAX_CONTEXT_ENTRIES) {
    throw new RangeError(`"context" expected at most ${MAX_CONTEXT_ENTRIES} entries, got ${keys.length}`);
  }
  // Default sort compares UTF-16 code units, which is the order the format specifies.
  keys.sort();
  const values: string[] = new Array<string>(keys.length);
  const lengths: number[] = new Array<number>(keys.length * 2);
  let byteLength = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const value: unknown = context[key];
    if (typeof value !== 'string') throw new TypeError('"context" value of an entry is not a string');
    const keyBytes = utf8Length(key);
    const valueBytes = utf8Length(value);
    if (keyBytes < MIN_CONTEXT_KEY_BYTES || keyBytes > MAX_CONTEXT_KEY_BYTES) {
      throw new RangeError(`"context" keys expected ${MIN_CONTEXT_KEY_BYTES}..${MAX_CONTEXT_KEY_BYTES} bytes, got ${keyBytes}`);
    }
    if (valueBytes > MAX_CONTEXT_VALUE_BYTES) {
      throw new RangeError(`"context" values expected at most ${MAX_CONTEXT_VALUE_BYTES} bytes, got ${valueBytes}`);
    }
    values[i] = value;
    lengths[2 * i] = keyBytes;
    lengths[2 * i + 1] = valueBytes;
    byteLength += LENGTH_PREFIX + keyBytes + LENGTH_PREFIX + valueBytes;
  }
  return { keys, values, lengths, byteLength };
}

/**
 * Writes a prepared context at `target[offset..]` (the caller reserved `byteLength` bytes) and
 * returns the offset after it.
 */
export function writeContext(prepared: PreparedContext, target: Buffer, offset: number): number {
  let o = offset;
  for (let i = 0; i < prepared.keys.length; i++) {
    o = writeString(target, o, prepared.keys[i]!, prepared.lengths[2 * i]!);
    o = writeString(target, o, prepared.values[i]!, prepared.lengths[2 * i + 1]!);
  }
  return o;
}

function writeString(target: Buffer, offset: number, text: string, byteLength: number): number {
  target[offset] = (byteLength >>> 8) & 0xff;
  target[offset + 1] = byteLength & 0xff;
  const start = offset + LENGTH_PREFIX;
  if (byteLength === text.length) {
    // ASCII: one byte per code unit (the common case; avoids a native call per string).
    for (let i = 0; i < byteLength; i++) target[start + i] = text.charCodeAt(i);
  } else {
    const written = target.write(text, start, byteLength, 'utf8');
    // Defensive: utf8Length mirrors Node's encoder, so this cannot differ; if it ever did, the
    // AAD would be wrong, so fail loudly rather than authenticate the wrong bytes.
    if (written !== byteLength) throw new Error('context encoding length mismatch');
  }
  return start + byteLength;
}

/**
 * The canonical bytes of `context` (empty for `undefined` or `{}`).
 * @throws TypeError when the context is not a plain record of strings, or holds lone surrogates.
 * @throws RangeError when an entry count, key length or value length is out of bounds.
 */
export function encodeContext(context: EnvelopeContext | undefined): Uint8Array {
  const prepared = prepareContext(context);
  const out = Buffer.alloc(prepared.byteLength);
  writeContext(prepared, out, 0);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
