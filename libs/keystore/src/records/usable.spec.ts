/** The pure usability rules: state AND window, with the open-side clock skew. */
import { describe, expect, it } from 'vitest';
import { KEY_STATES, canOpen, canSeal } from '@fleetkey/key-types';
import { isUsableForOpen, isUsableForSeal, openBlocker, sealBlocker } from './usable.js';

const NOW = new Date(Date.UTC(2030, 0, 1));
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs);

describe('usability', () => {
  it.each(KEY_STATES)('state %s follows canSeal / canOpen when the window is open', (state) => {
    const meta = { state, materialDestroyed: false };
    expect(isUsableForSeal(meta, NOW)).toBe(canSeal(state));
    expect(isUsableForOpen(meta, NOW, 0)).toBe(canOpen(state));
  });

  it.each([
    ['before notBefore', { notBefore: at(1) }, 'not-yet-valid'],
    ['at notBefore', { notBefore: at(0) }, undefined],
    ['just before notAfter', { notAfter: at(1) }, undefined],
    ['at notAfter', { notAfter: at(0) }, 'expired'],
    ['after notAfter', { notAfter: at(-1) }, 'expired'],
  ])('seal %s -> %s', (_title, window, blocker) => {
    expect(sealBlocker({ state: 'active', materialDestroyed: false, ...window }, NOW)).toBe(blocker);
  });

  it.each([
    ['inside the skew before notBefore', { notBefore: at(1000) }, 1000, undefined],
    ['beyond the skew before notBefore', { notBefore: at(1001) }, 1000, 'not-yet-valid'],
    ['long after notAfter', { notAfter: at(-1e9) }, 0, undefined],
  ])('open %s -> %s', (_title, window, skew, blocker) => {
    expect(openBlocker({ state: 'retiring', materialDestroyed: false, ...window }, NOW, skew)).toBe(blocker);
  });

  it('a destroyed key is usable for nothing whatever its state says', () => {
    expect(sealBlocker({ state: 'active', materialDestroyed: true }, NOW)).toBe('destroyed');
    expect(openBlocker({ state: 'active', materialDestroyed: true }, NOW, 0)).toBe('destroyed');
  });
});
