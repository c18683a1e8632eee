/** The option parsers: what each accepts, and a table of what each refuses. */
import { InvalidArgumentError } from 'commander';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_TOKEN_TTL_SECONDS,
  MIN_TOKEN_TTL_SECONDS,
  boundedText,
  identifier,
  identifierList,
  integerIn,
  sequenceNumber,
  timeoutSeconds,
  tokenTtlSeconds,
} from './arguments.js';

function refuses(parse: (value: string) => unknown, value: string): void {
  expect(() => parse(value), JSON.stringify(value)).toThrow(InvalidArgumentError);
}

describe('tokenTtlSeconds', () => {
  it.each([
    ['1m', 60],
    ['60s', 60],
    ['30m', 1800],
    ['24h', 86_400],
    ['7d', 604_800],
    ['30d', 2_592_000],
    ['720h', 2_592_000],
  ])('parses %s as %i seconds', (text, seconds) => {
    expect(tokenTtlSeconds(text)).toBe(seconds);
  });

  it.each(['59s', '0m', '31d', '721h', '2592001s', '', '24', 'h', '1h30m', '-1h', '1.5h', '24H', ' 24h', '24h ', '1w', '99999999d', '0x10h'])('refuses %j', (text) => {
    refuses(tokenTtlSeconds, text);
  });

  it('accepts every whole number of seconds within bounds, in any unit that divides it', () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN_TOKEN_TTL_SECONDS, max: MAX_TOKEN_TTL_SECONDS }), (seconds) => {
        expect(tokenTtlSeconds(`${seconds}s`)).toBe(seconds);
        if (seconds % 60 === 0) expect(tokenTtlSeconds(`${seconds / 60}m`)).toBe(seconds);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: MAX_TOKEN_TTL_SECONDS + 1, max: 9_999_999 }), (seconds) => {
        expect(() => tokenTtlSeconds(`${seconds}s`)).toThrow(InvalidArgumentError);
      }),
    );
  });
});

describe('integerIn', () => {
  const count = integerIn(1, 1000);
  it('accepts the bounds and refuses anything else', () => {
    expect(count('1')).toBe(1);
    expect(count('1000')).toBe(1000);
    for (const bad of ['0', '1001', '-1', '1.0', '1e3', ' 5', '', 'ten', '99999999999999999']) refuses(count, bad);
  });
});

describe('sequenceNumber', () => {
  it('accepts 0 to 2^64-1 as a bigint', () => {
    expect(sequenceNumber('0')).toBe(0n);
    expect(sequenceNumber('18446744073709551615')).toBe(2n ** 64n - 1n);
    for (const bad of ['18446744073709551616', '-1', '1.5', '', 'abc', '0x10']) refuses(sequenceNumber, bad);
  });
});

describe('timeoutSeconds', () => {
  it('accepts (0, 3600] with up to three decimals', () => {
    expect(timeoutSeconds('10')).toBe(10);
    expect(timeoutSeconds('0.25')).toBe(0.25);
    expect(timeoutSeconds('3600')).toBe(3600);
    for (const bad of ['0', '0.0', '3601', '-1', '1e2', '', '1.2345', 'Infinity', 'NaN']) refuses(timeoutSeconds, bad);
  });
});

describe('identifier', () => {
  it('accepts the shared identifier grammar and refuses topic-breaking characters', () => {
    const fleet = identifier('fleet id');
    expect(fleet('acme-1.prod_eu')).toBe('acme-1.prod_eu');
    for (const bad of ['', '-acme', '.acme', 'a/b', 'a+b', 'a#b', 'a b', 'a:b', 'x'.repeat(65), 'ünï']) refuses(fleet, bad);
    expect(() => fleet('a/b')).toThrow('not a valid fleet id');
  });

  it('collects a repeated option', () => {
    const fleets = identifierList('fleet id');
    expect(fleets('b', fleets('a', undefined))).toEqual(['a', 'b']);
    refuses((v) => fleets(v, ['a']), 'a/b');
  });
});

describe('boundedText', () => {
  it('bounds UTF-8 bytes and refuses control characters', () => {
    const reason = boundedText(8);
    expect(reason('12345678')).toBe('12345678');
    for (const bad of ['123456789', 'éééé1', 'a\nb', 'a\u001bb', 'a\u007f']) refuses(reason, bad);
  });
});
