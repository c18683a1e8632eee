/**
 * Conformance: close (idempotent, refuses later use) and, for persistent stores, that every
 * record, tag, state and value survives a reopen.
 *
 * Trust boundary: test-only.
 */
import { describe, expect, it } from 'vitest';
import { bytesEqual, codeOf, commId, record } from './fixtures.js';
import type { SuiteContext } from './context.js';

export function lifecycleSuite(ctx: SuiteContext): void {
  describe('close', () => {
    it('is idempotent and every later call is a TypeError', async () => {
      const store = await ctx.newStore();
      store.put(record(commId('fleet', 1)));
      store.close();
      store.close();
      expect(codeOf(() => store.get(commId('fleet', 1), 1))).toBe('TypeError');
      expect(codeOf(() => store.list())).toBe('TypeError');
      expect(codeOf(() => store.setValue('x', 'y'))).toBe('TypeError');
    });
  });

  if (ctx.factory.reopen) {
    describe('persistence', () => {
      it('records, tags, states, windows and values survive a reopen', async () => {
        const store = await ctx.newStore();
        const a = record(commId('fleet', 1), { state: 'pending', tags: { group: 'north' }, notAfter: new Date(Date.UTC(2031, 1, 1)) });
        store.put(a);
        store.transition(commId('fleet', 1), 1, 'active');
        store.setValue('locked', 'false');
        const before = store.getMeta(commId('fleet', 1), 1);
        const reopened = await ctx.reopen(store);
        expect(reopened.getMeta(commId('fleet', 1), 1)).toEqual(before);
        expect(bytesEqual(reopened.get(commId('fleet', 1), 1).material, a.material)).toBe(true);
        expect(reopened.getValue('locked')).toBe('false');
      });
    });
  }
}
