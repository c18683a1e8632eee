import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { durationArgument, formatDuration } from './duration.js';

describe('durationArgument', () => {
  const parse = durationArgument({ minMs: 60_000, maxMs: 30 * 86_400_000 });

  it.each([
    ['1m', 60_000],
    ['90s', 90_000],
    ['24h', 86_400_000],
    ['30d', 30 * 86_400_000],
  ])('reads %s', (text, ms) => {
    expect(parse(text)).toBe(ms);
  });

  it.each(['59s', '31d', '24', 'h', '1.5h', '1h30m', ' 1h', '-1h', '99999999d', '1H'])('refuses %j with the bounds in the message', (text) => {
    expect(() => parse(text)).toThrow(InvalidArgumentError);
    expect(() => parse(text)).toThrow(/from 1m to 30d/);
  });

  it('formats bounds in the largest whole unit', () => {
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(1500)).toBe('1500ms');
  });
});
