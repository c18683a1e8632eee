import { describe, expect, it } from 'vitest';
import { isFleetkeyError } from './errors.js';
import { KEY_STATES, assertTransition, canOpen, canSeal, canTransition, type KeyState } from './states.js';

const LEGAL: ReadonlyArray<readonly [KeyState, KeyState]> = [
  ['pending', 'active'],
  ['pending', 'expired'],
  ['pending', 'revoked'],
  ['pending', 'destroyed'],
  ['active', 'retiring'],
  ['active', 'revoked'],
  ['retiring', 'expired'],
  ['retiring', 'revoked'],
  ['expired', 'destroyed'],
  ['revoked', 'destroyed'],
];

describe('key state machine', () => {
  it('allows exactly the lifecycle table', () => {
    for (const from of KEY_STATES) {
      for (const to of KEY_STATES) {
        const legal = LEGAL.some(([a, b]) => a === from && b === to);
        expect(canTransition(from, to), `${from} -> ${to}`).toBe(legal);
      }
    }
  });

  it('throws a typed error on an illegal transition', () => {
    let caught: unknown;
    try {
      assertTransition('expired', 'active');
    } catch (error) {
      caught = error;
    }
    expect(isFleetkeyError(caught, 'ILLEGAL_STATE_TRANSITION')).toBe(true);
  });

  it('never leaves destroyed and never returns to pending', () => {
    for (const to of KEY_STATES) expect(canTransition('destroyed', to)).toBe(false);
    for (const from of KEY_STATES) expect(canTransition(from, 'pending')).toBe(false);
  });

  it('seals only with active keys and opens with pending, active and retiring', () => {
    expect(KEY_STATES.filter(canSeal)).toEqual(['active']);
    expect(KEY_STATES.filter(canOpen)).toEqual(['pending', 'active', 'retiring']);
  });
});
