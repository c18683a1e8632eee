/**
 * The framing of a peer channel on the TLS stream between two agents:
 *
 *   length (4 bytes, big-endian, counts the body only) | type (1 byte) | body (length bytes)
 *
 *   type 1 DATA    body = application bytes, 0..65536 (ChannelData.data's bound)
 *   type 2 CLOSE   body = the reason, UTF-8, 0..512 bytes (ChannelClose.reason's bound)
 *   type 3 ACCEPT  body empty; sent once, first, by the accepting agent when a local application
 *                  took the connection (so the dialing app is told "opened" only once the far app
 *                  is attached and the far agent accepted its certificate)
 *
 * Anything else (another type, a body over its type's bound, a reason that is not UTF-8, a
 * truncated frame at end of stream) is malformed and closes the connection.
 *
 * Trust boundary: the bytes come from a peer agent whose certificate was validated, which makes it
 * a fleet member, not a trusted parser input. The header is judged as soon as its 5 bytes arrive,
 * so at most one frame (65,541 bytes) plus one read chunk is ever buffered, and chunks are joined
 * once per frame (no quadratic re-copying with a peer sending one-byte TLS records).
 */
import { MessageMalformed } from '@fleetkey/protocol';

export const FRAME_HEADER_BYTES = 5;
/** Largest DATA body (ChannelData.data, agent.proto). */
export const MAX_DATA_BYTES = 65_536;
/** Largest CLOSE reason in UTF-8 bytes (ChannelClose.reason, agent.proto). */
export const MAX_CLOSE_REASON_BYTES = 512;

export const FRAME_TYPE = Object.freeze({ data: 1, close: 2, accept: 3 } as const);

export type Frame = { readonly type: 'data'; readonly data: Uint8Array } | { readonly type: 'close'; readonly reason: string } | { readonly type: 'accept' };

export interface DecodeResult {
  /** The frames completed by this chunk, in order. */
  readonly frames: Frame[];
  /** Set when the stream turned malformed after `frames`; the decoder refuses everything after it. */
  readonly error?: MessageMalformed;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

function header(type: number, length: number): Buffer {
  const bytes = Buffer.alloc(FRAME_HEADER_BYTES);
  bytes.writeUInt32BE(length, 0);
  bytes[4] = type;
  return bytes;
}

/** @throws RangeError when `data` is over MAX_DATA_BYTES. */
export function encodeData(data: Uint8Array): Buffer {
  if (data.length > MAX_DATA_BYTES) throw new RangeError(`"data" expected at most ${MAX_DATA_BYTES} bytes, got ${data.length}`);
  return Buffer.concat([header(FRAME_TYPE.data, data.length), data]);
}

/** A CLOSE frame; a reason over MAX_CLOSE_REASON_BYTES is cut at a character boundary. */
export function encodeClose(reason: string): Buffer {
  const body = truncateUtf8(reason, MAX_CLOSE_REASON_BYTES);
  return Buffer.concat([header(FRAME_TYPE.close, body.length), body]);
}

export function encodeAccept(): Buffer {
  return header(FRAME_TYPE.accept, 0);
}

/** `text` as UTF-8, at most `maxBytes`, never splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): Uint8Array {
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  // Back up over continuation bytes (10xxxxxx) so the cut lands on a character start.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end);
}

function maxBodyOf(type: number): number | undefined {
  switch (type) {
    case FRAME_TYPE.data:
      return MAX_DATA_BYTES;
    case FRAME_TYPE.close:
      return MAX_CLOSE_REASON_BYTES;
    case FRAME_TYPE.accept:
      return 0;
    default:
      return undefined;
  }
}

/** Splits a byte stream into frames; one decoder per connection. */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #size = 0;
  #failed = false;

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.#size;
  }

  push(chunk: Uint8Array): DecodeResult {
    const frames: Frame[] = [];
    if (this.#failed) return { frames, error: new MessageMalformed('malformed channel frame') };
    if (chunk.length > 0) {
      this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.#size += chunk.length;
    }
    while (this.#size >= FRAME_HEADER_BYTES) {
      const head = this.#peek(FRAME_HEADER_BYTES);
      const length = head.readUInt32BE(0);
      const type = head[4]!;
      const max = maxBodyOf(type);
      // Precondition: an unknown type or a body over its type's bound is refused before it is buffered.
      if (max === undefined) return this.#fail(frames, `unknown channel frame type ${type}`);
      if (length > max) return this.#fail(frames, `channel frame of type ${type} too long: ${length} bytes, at most ${max}`);
      if (this.#size < FRAME_HEADER_BYTES + length) break;
      const body = this.#take(FRAME_HEADER_BYTES + length).subarray(FRAME_HEADER_BYTES);
      if (type === FRAME_TYPE.data) {
        // A copy: the frame outlives the read chunk it came in.
        frames.push({ type: 'data', data: new Uint8Array(body) });
      } else if (type === FRAME_TYPE.close) {
        let reason: string;
        try {
          reason = utf8.decode(body);
        } catch {
          return this.#fail(frames, 'channel close reason is not UTF-8');
        }
        frames.push({ type: 'close', reason });
      } else {
        frames.push({ type: 'accept' });
      }
    }
    return { frames };
  }

  /** The stream ended: a partial frame is malformed. */
  finish(): MessageMalformed | undefined {
    if (this.#failed) return new MessageMalformed('malformed channel frame');
    if (this.#size === 0) return undefined;
    this.#failed = true;
    this.#chunks = [];
    this.#size = 0;
    return new MessageMalformed('channel stream ended inside a frame');
  }

  #fail(frames: Frame[], message: string): DecodeResult {
    this.#failed = true;
    this.#chunks = [];
    this.#size = 0;
    return { frames, error: new MessageMalformed(message) };
  }

  /** The first `count` bytes without consuming them (count <= #size). */
  #peek(count: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= count) return first.subarray(0, count);
    // Only the few chunks the header spans are copied, never the buffered body.
    const out = Buffer.alloc(count);
    let filled = 0;
    for (const chunk of this.#chunks) {
      filled += chunk.copy(out, filled, 0, Math.min(chunk.length, count - filled));
      if (filled === count) break;
    }
    return out;
  }

  /** Consumes exactly `count` bytes (count <= #size), joining chunks once. */
  #take(count: number): Buffer {
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length >= count) {
      out = first.subarray(0, count);
      if (first.length === count) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(count);
    } else {
      const joined = Buffer.concat(this.#chunks, this.#size);
      out = joined.subarray(0, count);
      this.#chunks = joined.length > count ? [joined.subarray(count)] : [];
    }
    this.#size -= count;
    return out;
  }
}
