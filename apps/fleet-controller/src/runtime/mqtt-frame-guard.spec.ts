import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MqttFrameGuard } from './mqtt-frame-guard.js';

/** [MQTT-2.2.3] Remaining Length encoding. */
function remainingLength(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    bytes.push(byte);
  } while (value > 0);
  return bytes;
}

/** A packet with a PUBLISH type byte and `bodyLength` bytes after its fixed header. */
const packet = (bodyLength: number): Uint8Array => Uint8Array.from([0x30, ...remainingLength(bodyLength), ...new Array<number>(bodyLength).fill(0x61)]);

function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

describe('MqttFrameGuard', () => {
  it('accepts packets up to the bound, however the bytes are split', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (lengths, cuts) => {
        const guard = new MqttFrameGuard(300);
        const bytes = Uint8Array.from(lengths.flatMap((length) => [...packet(length)]));
        for (const chunk of chunked(bytes, cuts)) expect(guard.push(chunk)).toBe('ok');
      }),
    );
  });

  it('Precondition: refuses a packet over the bound as soon as its length is announced, before its body', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 201, max: 268_435_455 }), (small, large) => {
        const guard = new MqttFrameGuard(200);
        expect(guard.push(packet(small))).toBe('ok');
        const header = Uint8Array.from([0x30, ...remainingLength(large)]);
        expect(guard.push(header)).toBe('oversize');
        // Once refused, always refused.
        expect(guard.push(packet(0))).toBe('oversize');
      }),
    );
  });

  it('refuses a Remaining Length longer than four bytes', () => {
    const guard = new MqttFrameGuard(268_435_455);
    expect(guard.push(Uint8Array.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe('malformed');
  });

  it('accepts the largest four-byte length when the bound allows it', () => {
    const guard = new MqttFrameGuard(268_435_455);
    expect(guard.push(Uint8Array.from([0x30, 0xff, 0xff, 0xff, 0x7f]))).toBe('ok');
  });

  it('refuses a bound outside the MQTT range', () => {
    expect(() => new MqttFrameGuard(-1)).toThrow(RangeError);
    expect(() => new MqttFrameGuard(268_435_456)).toThrow(RangeError);
    expect(() => new MqttFrameGuard(1.5)).toThrow(RangeError);
  });
});
