/**
 * Shared helpers for kms-core's own specs (not exported): the code a promise rejected with, and a
 * memory provider with a controllable per-call hook.
 *
 * Trust boundary: none; test code.
 */
import { isFleetkeyError } from '@fleetkey/key-types';

/** The FleetkeyError code a promise rejected with, the constructor name of another error, or 'NO_ERROR'. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'NO_ERROR';
  } catch (error) {
    if (isFleetkeyError(error)) return error.code;
    return error instanceof Error ? error.constructor.name : typeof error;
  }
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** A manual clock for TTL / circuit tests. */
export function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}
