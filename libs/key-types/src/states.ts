/**
 * The key lifecycle as an explicit state machine (DESIGN.md "Keys"):
 * pending -> active -> retiring -> expired, with revoked and destroyed reachable as the table says.
 * Anything not in the table is an illegal transition; callers never edit a state field directly.
 */
import { IllegalStateTransition } from './errors.js';

export const KEY_STATES = ['pending', 'active', 'retiring', 'expired', 'revoked', 'destroyed'] as const;
export type KeyState = (typeof KEY_STATES)[number];

export function isKeyState(value: unknown): value is KeyState {
  return typeof value === 'string' && (KEY_STATES as readonly string[]).includes(value);
}

const TRANSITIONS: Readonly<Record<KeyState, readonly KeyState[]>> = Object.freeze({
  // A pending epoch that is superseded before activation simply expires.
  pending: ['active', 'expired', 'revoked', 'destroyed'],
  active: ['retiring', 'revoked'],
  retiring: ['expired', 'revoked'],
  expired: ['destroyed'],
  revoked: ['destroyed'],
  destroyed: [],
});

export function allowedTransitions(from: KeyState): readonly KeyState[] {
  return TRANSITIONS[from];
}

export function canTransition(from: KeyState, to: KeyState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** @throws IllegalStateTransition when `from -> to` is not in the lifecycle table. */
export function assertTransition(from: KeyState, to: KeyState): void {
  if (!canTransition(from, to)) {
    throw new IllegalStateTransition(`illegal key state transition ${from} -> ${to}`);
  }
}

/** Only an active key seals, encrypts or signs new data. */
export function canSeal(state: KeyState): boolean {
  return state === 'active';
}

/**
 * Pending keys open too: a peer may activate epoch N+1 moments before this robot hears that it
 * did, and no robot is ever asked to open a message with a key it could not have.
 */
export function canOpen(state: KeyState): boolean {
  return state === 'pending' || state === 'active' || state === 'retiring';
}
