/**
 * The channel framing: round trips across any split into read chunks (property test), a table of
 * bad inputs each refused as MESSAGE_MALFORMED, and the bounds judged on the header alone.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePeerAddress, formatPeerAddress } from './address.js';
import { FrameDecoder, MAX_CLOSE_REASON_BYTES, MAX_DATA_BYTES, encodeAccept, encodeClose, encodeData, truncateUtf8, type Frame } from './frames.js';

function encode(frame: Frame): Buffer {
  if (frame.type === 'data') return encodeData(frame.data);
  if (frame.type === 'close') return encodeClose(frame.reason);
  return encodeAccept();
}

function frameHeader(length: number, type: number): Buffer {
  const bytes = Buffer.alloc(5);
  bytes.writeUInt32BE(length, 0);
  bytes[4] = type;
  return bytes;
}

const frameArbitrary: fc.Arbitrary<Frame> = fc.oneof(
  fc.uint8Array({ maxLength: 2_048 }).map((data): Frame => ({ type: 'data', data })),
  fc.string({ unit: 'grapheme', maxLength: 100 }).map((reason): Frame => ({ type: 'close', reason })),
  fc.constant<Frame>({ type: 'accept' }),
);

describe('channel frames', () => {
  it('decode to what was encoded, however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(fc.array(frameArbitrary, { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 50 }), (frames, cuts) => {
        const stream = Buffer.concat(frames.map(encode));
        const decoder = new FrameDecoder();
        const out: Frame[] = [];
        let at = 0;
        let cut = 0;
        while (at < stream.length) {
          const size = cuts[cut++ % cuts.length]!;
          const result = decoder.push(stream.subarray(at, at + size));
          expect(result.error).toBeUndefined();
          out.push(...result.frames);
          at += size;
        }
        expect(decoder.finish()).toBeUndefined();
        expect(out).toEqual(frames.map((frame) => (frame.type === 'data' ? { type: 'data', data: new Uint8Array(frame.data) } : frame)));
      }),
    );
  });

  it('carries a full 64 KiB data frame and a 512-byte reason', () => {
    const decoder = new FrameDecoder();
    const data = new Uint8Array(MAX_DATA_BYTES).fill(7);
    const reason = 'r'.repeat(MAX_CLOSE_REASON_BYTES);
    const { frames, error } = decoder.push(Buffer.concat([encodeData(data), encodeClose(reason)]));
    expect(error).toBeUndefined();
    expect(frames).toEqual([
      { type: 'data', data },
      { type: 'close', reason },
    ]);
  });

  const bad: ReadonlyArray<readonly [string, Buffer]> = [
    ['type 0', frameHeader(0, 0)],
    ['an unknown type 4', frameHeader(1, 4)],
    ['type 255', frameHeader(0, 255)],
    ['data one byte over 64 KiB', frameHeader(MAX_DATA_BYTES + 1, 1)],
    ['data with a 4 GiB length', frameHeader(0xffffffff, 1)],
    ['a close reason over 512 bytes', frameHeader(MAX_CLOSE_REASON_BYTES + 1, 2)],
    ['a close reason that is not UTF-8', Buffer.concat([frameHeader(2, 2), Buffer.from([0xc3, 0x28])])],
    ['a close reason with a lone surrogate (CESU)', Buffer.concat([frameHeader(3, 2), Buffer.from([0xed, 0xa0, 0x80])])],
    ['an accept with a body', Buffer.concat([frameHeader(1, 3), Buffer.from([0])])],
  ];

  for (const [name, bytes] of bad) {
    it(`Precondition: refuses ${name} as MESSAGE_MALFORMED, after the frames before it`, () => {
      const decoder = new FrameDecoder();
      const { frames, error } = decoder.push(Buffer.concat([encodeData(Uint8Array.of(1, 2)), bytes]));
      expect(frames).toEqual([{ type: 'data', data: Uint8Array.of(1, 2) }]);
      expect(error?.code).toBe('MESSAGE_MALFORMED');
      // Nothing after a malformed frame is ever decoded.
      expect(decoder.push(encodeAccept()).error?.code).toBe('MESSAGE_MALFORMED');
    });
  }

  it('Precondition: judges an oversized frame on its header, before buffering its body', () => {
    const decoder = new FrameDecoder();
    const { error } = decoder.push(frameHeader(MAX_DATA_BYTES + 1, 1));
    expect(error?.code).toBe('MESSAGE_MALFORMED');
    expect(decoder.buffered).toBe(0);
  });

  it('refuses a stream that ends inside a frame', () => {
    const decoder = new FrameDecoder();
    const frame = encodeData(Uint8Array.of(1, 2, 3));
    expect(decoder.push(frame.subarray(0, 6)).frames).toEqual([]);
    expect(decoder.finish()?.code).toBe('MESSAGE_MALFORMED');
  });

  it('cuts an over-long close reason at a character boundary', () => {
    const reason = 'é'.repeat(300); // 600 bytes
    const cut = truncateUtf8(reason, MAX_CLOSE_REASON_BYTES);
    expect(cut.length).toBe(512);
    const { frames } = new FrameDecoder().push(encodeClose(`x${reason}`));
    expect(frames[0]).toEqual({ type: 'close', reason: `x${'é'.repeat(255)}` });
  });
});

describe('peer addresses', () => {
  it('parses host:port for IPv4, bracketed IPv6 and host names', () => {
    expect(parsePeerAddress('127.0.0.1:7443')).toEqual({ host: '127.0.0.1', port: 7443 });
    expect(parsePeerAddress('[::1]:7443')).toEqual({ host: '::1', port: 7443 });
    expect(parsePeerAddress('robot-a.fleet.local:1')).toEqual({ host: 'robot-a.fleet.local', port: 1 });
    expect(parsePeerAddress('0.0.0.0:0', { allowPortZero: true })).toEqual({ host: '0.0.0.0', port: 0 });
    expect(formatPeerAddress({ host: '::1', port: 5 })).toBe('[::1]:5');
  });

  const badAddresses = ['', '127.0.0.1', ':7443', '127.0.0.1:', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:+80', '::1:80', '[::1]80', '[127.0.0.1]:80', 'host name:80', '-bad.example:80', 'a..b:80', `${'a'.repeat(260)}:80`, 'host:80/path', 'user@host:80'];
  for (const text of badAddresses) {
    it(`refuses ${JSON.stringify(text.slice(0, 40))}`, () => {
      expect(parsePeerAddress(text)).toBeUndefined();
    });
  }
});
