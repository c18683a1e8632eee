/**
 * Reconnect delays: exponential backoff with full jitter (the delay is uniform in
 * [0, min(max, initial * 2^attempt)]), so a fleet that lost the controller at the same moment does
 * not come back at the same moment. The attempt count stops growing once the cap is reached, so
 * the arithmetic stays bounded however long the robot is offline.
 *
 * Trust boundary: none; options come from the composition root.
 */

export interface BackoffOptions {
  /** First ceiling (default 1 s). */
  readonly initialMs?: number;
  /** Largest ceiling (default 5 min). */
  readonly maxMs?: number;
  /** Uniform in [0, 1); injected by tests. */
  readonly random?: () => number;
}

export const DEFAULT_BACKOFF_INITIAL_MS = 1_000;
export const DEFAULT_BACKOFF_MAX_MS = 5 * 60_000;

export interface Backoff {
  /** The delay before the next attempt; each call counts one failed attempt. */
  next(): number;
  /** A connection succeeded: start again from the first ceiling. */
  reset(): void;
}

/** @throws RangeError for a non-positive initial delay or a maximum below it. */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  const initialMs = options.initialMs ?? DEFAULT_BACKOFF_INITIAL_MS;
  const maxMs = options.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
  const random = options.random ?? Math.random;
  if (!Number.isFinite(initialMs) || initialMs <= 0) throw new RangeError(`"initialMs" expected a positive number, got ${String(initialMs)}`);
  if (!Number.isFinite(maxMs) || maxMs < initialMs) throw new RangeError(`"maxMs" expected at least "initialMs" (${initialMs}), got ${String(maxMs)}`);
  let attempt = 0;
  return {
    next() {
      const ceiling = Math.min(maxMs, initialMs * 2 ** attempt);
      if (ceiling < maxMs) attempt += 1;
      return Math.floor(random() * ceiling);
    },
    reset() {
      attempt = 0;
    },
  };
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
