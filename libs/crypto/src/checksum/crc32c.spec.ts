/** Known-answer tests for CRC32C: the RFC 3720 §B.4 vectors plus the common "123456789" check. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc32c } from './crc32c.js';

function bytes(length: number, at: (i: number) => number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => at(i));
}

describe('crc32c (RFC 3720 §B.4)', () => {
  // RFC 3720 §B.4 lists the CRC as the bytes sent on the wire (least significant first); the
  // integers below are those bytes read little-endian.
  it.each([
    ['32 bytes of zeros', bytes(32, () => 0x00), 0x8a9136aa],
    ['32 bytes of ones (0xff)', bytes(32, () => 0xff), 0x62a8ab43],
    ['32 incrementing bytes 0x00..0x1f', bytes(32, (i) => i), 0x46dd794e],
    ['32 decrementing bytes 0x1f..0x00', bytes(32, (i) => 31 - i), 0x113fdb5c],
    [
      'an iSCSI read command PDU',
      Uint8Array.from([
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
        0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      ]),
      0xd9963a56,
    ],
  ])('%s', (_name, data, expected) => {
    expect(crc32c(data)).toBe(expected);
  });

  it('matches the catalogue check value for "123456789" (0xE3069283)', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  it('is 0 for empty input', () => {
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('continues over chunks with a seed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.uint8Array({ maxLength: 256 }), (a, b) => {
        const joined = new Uint8Array(a.length + b.length);
        joined.set(a);
        joined.set(b, a.length);
        expect(crc32c(b, crc32c(a))).toBe(crc32c(joined));
      }),
    );
  });

  it('always returns an unsigned 32-bit integer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 128 }), (data) => {
        const value = crc32c(data);
        expect(Number.isInteger(value) && value >= 0 && value <= 0xffffffff).toBe(true);
      }),
    );
  });
});
