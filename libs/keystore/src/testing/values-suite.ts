/**
 * Conformance: the small named values (`setValue` / `getValue` / `deleteValue`) later issues keep
 * in the store (the lockdown state, the last command sequence, …).
 *
 * Trust boundary: test-only.
 */
import { describe, expect, it } from 'vitest';
import { MAX_VALUE_LENGTH } from '../constants.js';
import { bytesEqual, codeOf } from './fixtures.js';
import type { SuiteContext } from './context.js';

export function valuesSuite(ctx: SuiteContext): void {
  describe('values', () => {
    it('stores text and bytes and returns each as it was set', async () => {
      const store = await ctx.newStore();
      store.setValue('locked', 'true');
      store.setValue('last-command-seq', new Uint8Array([0, 0, 0, 7]));
      store.setValue('empty', new Uint8Array(0));
      expect(store.getValue('locked')).toBe('true');
      const seq = store.getValue('last-command-seq');
      expect(seq).toBeInstanceOf(Uint8Array);
      expect(bytesEqual(seq as Uint8Array, new Uint8Array([0, 0, 0, 7]))).toBe(true);
      expect((store.getValue('empty') as Uint8Array).length).toBe(0);
      expect(store.getValue('missing')).toBeUndefined();
    });

    it('overwrites and deletes', async () => {
      const store = await ctx.newStore();
      store.setValue('locked', 'true');
      store.setValue('locked', new Uint8Array([1]));
      expect(store.getValue('locked')).toBeInstanceOf(Uint8Array);
      expect(store.deleteValue('locked')).toBe(true);
      expect(store.deleteValue('locked')).toBe(false);
      expect(store.getValue('locked')).toBeUndefined();
    });

    it.each([
      ['an empty name', '', 'x'],
      ['an upper-case name', 'Locked', 'x'],
      ['a name with a slash', 'a/b', 'x'],
      ['an oversized value', 'big', new Uint8Array(MAX_VALUE_LENGTH + 1)],
    ])('refuses %s (RangeError)', async (_title, name, value) => {
      const store = await ctx.newStore();
      expect(codeOf(() => store.setValue(name, value))).toBe('RangeError');
    });
  });
}
