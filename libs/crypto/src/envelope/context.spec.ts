import { describe, expect, it } from 'vitest';
import { encodeContext } from './context.js';
import { hex, thrownCode } from './test-support.js';
import type { EnvelopeContext } from './types.js';

/** Independent encoder straight from the docs: sorted keys, uint16 len ‖ UTF-8 for each part. */
function expected(entries: ReadonlyArray<readonly [string, string]>): string {
  const parts: Buffer[] = [];
  for (const [key, value] of entries) {
    for (const text of [key, value]) {
      const utf8 = Buffer.from(text, 'utf8');
      const length = Buffer.alloc(2);
      length.writeUInt16BE(utf8.length);
      parts.push(length, utf8);
    }
  }
  return Buffer.concat(parts).toString('hex');
}

describe('encodeContext', () => {
  it('encodes undefined and {} as zero bytes', () => {
    expect(encodeContext(undefined).length).toBe(0);
    expect(encodeContext({}).length).toBe(0);
  });

  it('writes uint16 len(key) ‖ key ‖ uint16 len(value) ‖ value, sorted by key', () => {
    expect(hex(encodeContext({ b: '2', a: '1' }))).toBe('0001610001310001620001' + '32');
    expect(hex(encodeContext({ purpose: '', device: 'r1' }))).toBe(expected([['device', 'r1'], ['purpose', '']]));
  });

  it('does not depend on the insertion order of the record', () => {
    const a = encodeContext({ device: 'r1', fleet: 'acme', purpose: 'telemetry' });
    const b = encodeContext({ purpose: 'telemetry', device: 'r1', fleet: 'acme' });
    expect(hex(a)).toBe(hex(b));
  });

  it('sorts by UTF-16 code unit order, not by code point', () => {
    // U+FF5E < U+1F600 by code point, but the surrogate 0xD83D < 0xFF5E by code unit.
    const context = { '\uFF5E': 'x', '😀': 'y', é: 'z', Z: 'w' };
    expect(hex(encodeContext(context))).toBe(expected([['Z', 'w'], ['é', 'z'], ['😀', 'y'], ['\uFF5E', 'x']]));
  });

  it('counts lengths in UTF-8 bytes', () => {
    expect(hex(encodeContext({ ключ: 'значение' }))).toBe(expected([['ключ', 'значение']]));
    expect(encodeContext({ k: '€' })).toEqual(Uint8Array.from([0, 1, 0x6b, 0, 3, 0xe2, 0x82, 0xac]));
  });

  it('accepts the bounds: 32 entries, 64-byte keys, 1024-byte values', () => {
    const context: Record<string, string> = {};
    for (let i = 0; i < 32; i++) context[`k${String(i).padStart(62, '0')}`] = 'v'.repeat(1024);
    expect(encodeContext(context).length).toBe(32 * (2 + 63 + 2 + 1024));
    expect(thrownCode(() => encodeContext({ ['€'.repeat(21)]: 'x' }))).toBe('NO_ERROR'); // 63 bytes
  });

  const misuse: ReadonlyArray<readonly [string, unknown, string]> = [
    ['33 entries', Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])), 'RangeError'],
    ['an empty key', { '': 'v' }, 'RangeError'],
    ['a 65-byte key', { ['k'.repeat(65)]: 'v' }, 'RangeError'],
    ['a key of 22 three-byte characters (66 bytes)', { ['€'.repeat(22)]: 'v' }, 'RangeError'],
    ['a 1025-byte value', { k: 'v'.repeat(1025) }, 'RangeError'],
    ['a value of 342 three-byte characters (1026 bytes)', { k: '€'.repeat(342) }, 'RangeError'],
    ['a number value', { k: 1 }, 'TypeError'],
    ['an undefined value', { k: undefined }, 'TypeError'],
    ['a lone high surrogate in a value', { k: 'a\uD800' }, 'TypeError'],
    ['a lone low surrogate in a key', { '\uDC00': 'v' }, 'TypeError'],
    ['an array', ['a'], 'TypeError'],
    ['null', null, 'TypeError'],
    ['a string', 'device=r1', 'TypeError'],
  ];
  it.each(misuse)('refuses %s', (_title, context, code) => {
    expect(thrownCode(() => encodeContext(context as EnvelopeContext))).toBe(code);
  });

  it('keeps two contexts that differ only by an unpaired surrogate apart (both refused)', () => {
    // Both would encode to U+FFFD; refusing them keeps the encoding injective.
    expect(thrownCode(() => encodeContext({ k: '\uD800' }))).toBe('TypeError');
    expect(thrownCode(() => encodeContext({ k: '\uDBFF' }))).toBe('TypeError');
  });

  it('is unambiguous: moving bytes between key and value changes the encoding', () => {
    expect(hex(encodeContext({ ab: 'c' }))).not.toBe(hex(encodeContext({ a: 'bc' })));
    expect(hex(encodeContext({ a: '', b: '' }))).not.toBe(hex(encodeContext({ a: '\u0000\u0001b' })));
  });
});
