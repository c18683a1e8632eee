/**
 * Conformance: usableForSeal / usableForOpen / materialForSeal / materialForOpen against the
 * injected clock (state AND validity window).
 *
 * Trust boundary: test-only.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_OPEN_CLOCK_SKEW_MS } from '../constants.js';
import { codeOf, commId, record } from './fixtures.js';
import type { SuiteContext } from './context.js';

const HOUR = 3_600_000;

export function usableSuite(ctx: SuiteContext): void {
  describe('usable for seal / open', () => {
    it('an active key seals only inside [notBefore, notAfter)', async () => {
      const store = await ctx.newStore();
      const t0 = ctx.clock().ms;
      store.put(record(commId('fleet', 1), { notBefore: new Date(t0 + HOUR), notAfter: new Date(t0 + 2 * HOUR) }));
      expect(store.usableForSeal(commId('fleet', 1), 1)).toBe(false);
      expect(codeOf(() => store.materialForSeal(commId('fleet', 1), 1))).toBe('KEY_NOT_USABLE');
      ctx.clock().set(t0 + HOUR);
      expect(store.usableForSeal(commId('fleet', 1), 1)).toBe(true);
      expect(store.materialForSeal(commId('fleet', 1), 1).material).toHaveLength(32);
      ctx.clock().set(t0 + 2 * HOUR);
      expect(store.usableForSeal(commId('fleet', 1), 1)).toBe(false);
      expect(codeOf(() => store.materialForSeal(commId('fleet', 1), 1))).toBe('KEY_NOT_USABLE');
    });

    it('after notAfter an active key no longer seals but still opens old data', async () => {
      const store = await ctx.newStore();
      const t0 = ctx.clock().ms;
      store.put(record(commId('fleet', 1), { notAfter: new Date(t0 + HOUR) }));
      ctx.clock().set(t0 + 10 * HOUR);
      expect(store.usableForSeal(commId('fleet', 1), 1)).toBe(false);
      expect(store.usableForOpen(commId('fleet', 1), 1)).toBe(true);
      expect(store.materialForOpen(commId('fleet', 1), 1).material).toHaveLength(32);
    });

    it.each([
      ['pending', false, true],
      ['active', true, true],
      ['retiring', false, true],
      ['expired', false, false],
      ['revoked', false, false],
    ] as const)('state %s: seal %s, open %s', async (state, seal, open) => {
      const store = await ctx.newStore();
      store.put(record(commId('fleet', 1), { state }));
      expect(store.usableForSeal(commId('fleet', 1), 1)).toBe(seal);
      expect(store.usableForOpen(commId('fleet', 1), 1)).toBe(open);
      expect(codeOf(() => store.materialForOpen(commId('fleet', 1), 1))).toBe(open ? undefined : 'KEY_NOT_USABLE');
    });

    it('opening tolerates a peer clock running ahead by the skew allowance, not more', async () => {
      const store = await ctx.newStore();
      const t0 = ctx.clock().ms;
      store.put(record(commId('fleet', 2), { state: 'pending', notBefore: new Date(t0 + DEFAULT_OPEN_CLOCK_SKEW_MS) }));
      expect(store.usableForOpen(commId('fleet', 2), 2)).toBe(true);
      ctx.clock().set(t0 - 1);
      expect(store.usableForOpen(commId('fleet', 2), 2)).toBe(false);
    });

    it('a destroyed key is usable for nothing; a missing one is KEY_NOT_FOUND', async () => {
      const store = await ctx.newStore();
      store.put(record(commId('fleet', 1), { state: 'pending' }));
      store.transition(commId('fleet', 1), 1, 'destroyed');
      expect(store.usableForOpen(commId('fleet', 1), 1)).toBe(false);
      expect(store.usableForSeal(commId('fleet', 1), 1)).toBe(false);
      expect(codeOf(() => store.usableForSeal(commId('nope', 1), 1))).toBe('KEY_NOT_FOUND');
    });
  });
}
