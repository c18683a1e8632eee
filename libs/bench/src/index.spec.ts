import { describe, expect, it } from 'vitest';
import { percentile, runComparison } from './index.js';

describe('percentile', () => {
  it('uses the nearest rank', () => {
    const samples = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(samples, 50)).toBe(50);
    expect(percentile(samples, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
  });
  it('refuses an empty sample set', () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
  });
});

describe('runComparison', () => {
  it('reports a slower case with a cost ratio above one', async () => {
    const spin = (n: number) => { let x = 0; for (let i = 0; i < n; i++) x += i; return x; };
    const rows = await runComparison({
      title: 'self-test',
      time: 50,
      iterations: 20,
      baseline: { name: 'small', fn: () => spin(10) },
      cases: [{ name: 'large', fn: () => spin(200_000) }],
    });
    expect(rows.map((r) => r.name)).toEqual(['small', 'large']);
    expect(rows[0]!.costRatio).toBe(1);
    expect(rows[1]!.costRatio).toBeGreaterThan(1);
  });
});
