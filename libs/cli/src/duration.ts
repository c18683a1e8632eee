/**
 * Durations on the command line: `90s`, `30m`, `24h`, `7d` — one number and one unit, nothing
 * else, so a typo is an error instead of a surprise. Shared by every fleetkey CLI.
 */
import { InvalidArgumentError } from 'commander';

const UNIT_MS: Readonly<Record<string, number>> = Object.freeze({ s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 });

/** Human form of a millisecond bound (`1m`, `30d`) for messages. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of Object.entries(UNIT_MS).reverse()) if (ms % size === 0 && ms >= size) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/**
 * A commander argument parser for durations between `minMs` and `maxMs`, returning milliseconds.
 * @throws InvalidArgumentError (commander prints it as a usage error) for any other shape or bound.
 */
export function durationArgument(bounds: { readonly minMs: number; readonly maxMs: number }): (value: string) => number {
  return (value) => {
    const match = /^(\d{1,7})([smhd])$/.exec(value);
    const ms = match === null ? Number.NaN : Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN);
    if (!Number.isSafeInteger(ms) || ms < bounds.minMs || ms > bounds.maxMs) {
      throw new InvalidArgumentError(`expected a duration such as 30m, 24h or 7d (units s, m, h, d), from ${formatDuration(bounds.minMs)} to ${formatDuration(bounds.maxMs)}.`);
    }
    return ms;
  };
}
