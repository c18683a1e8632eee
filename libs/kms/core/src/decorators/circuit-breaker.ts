/**
 * `withCircuitBreaker`: after `failureThreshold` consecutive availability failures (Throttled,
 * ProviderUnavailable, KmsTimeout) the circuit opens and every call fails fast with `CircuitOpen`
 * for `resetAfterMs`; then ONE probe call is let through (half-open): success closes the circuit,
 * failure opens it again for another `resetAfterMs`. A business error (KeyNotFound, AccessDenied,
 * InvalidCiphertext, …) proves the provider is answering and counts as a success here.
 * (The pattern as in Nygard, "Release It!", ch. 5.)
 *
 * `close()` always goes through. The clock is injected.
 *
 * Trust boundary: none beyond the inner provider's.
 */
import { CircuitOpen, isKmsError } from '../errors.js';
import type { KmsProvider, KmsProviderMethod } from '../provider.js';
import { checkInteger, checkProvider, interceptProvider } from './intercept.js';

export const DEFAULT_FAILURE_THRESHOLD = 5;
export const MAX_FAILURE_THRESHOLD = 1_000;
export const DEFAULT_RESET_AFTER_MS = 30_000;
/** One hour: a circuit open longer than that hides an outage someone should look at. */
export const MAX_RESET_AFTER_MS = 3_600_000;

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive availability failures that open the circuit, 1..1000; default 5. */
  readonly failureThreshold?: number;
  /** How long the circuit stays open before a probe, 1..MAX_RESET_AFTER_MS; default 30 s. */
  readonly resetAfterMs?: number;
  /** Milliseconds clock; default Date.now. */
  readonly now?: () => number;
}

export interface CircuitBreakingKmsProvider extends KmsProvider {
  /** The state as of now (an open circuit past resetAfterMs reads as half-open). */
  circuitState(): CircuitState;
}

function isAvailabilityFailure(error: unknown): boolean {
  return isKmsError(error) && error.retryable;
}

/** @throws RangeError for options out of bounds. Calls on the result throw CircuitOpen while open. */
export function withCircuitBreaker(provider: KmsProvider, options: CircuitBreakerOptions = {}): CircuitBreakingKmsProvider {
  checkProvider(provider);
  const failureThreshold = options.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD;
  const resetAfterMs = options.resetAfterMs ?? DEFAULT_RESET_AFTER_MS;
  checkInteger(failureThreshold, 'failureThreshold', 1, MAX_FAILURE_THRESHOLD);
  checkInteger(resetAfterMs, 'resetAfterMs', 1, MAX_RESET_AFTER_MS);
  const now = options.now ?? Date.now;

  let failures = 0;
  let openedAt: number | undefined;
  let probing = false;

  const state = (): CircuitState => {
    if (openedAt === undefined) return 'closed';
    return now() - openedAt >= resetAfterMs ? 'half-open' : 'open';
  };

  // Not an async function: the closed-circuit fast path is one `then`, no extra await ticks.
  const intercepted = interceptProvider(provider, <T>(operation: KmsProviderMethod, keyId: string | undefined, call: () => Promise<T>): Promise<T> => {
    if (operation === 'close') return call();
    let isProbe = false;
    if (openedAt !== undefined) {
      // Precondition: an open circuit (or a half-open one whose probe is in flight) refuses the call.
      if (state() === 'open' || probing) {
        return Promise.reject(new CircuitOpen({ provider: provider.name, operation, ...(keyId === undefined ? {} : { keyId }) }));
      }
      isProbe = true;
      probing = true;
    }
    const onSuccess = (result: T): T => {
      if (isProbe) probing = false;
      failures = 0;
      openedAt = undefined;
      return result;
    };
    const onFailure = (error: unknown): never => {
      if (isProbe) probing = false;
      if (isAvailabilityFailure(error)) {
        failures += 1;
        if (isProbe || failures >= failureThreshold) openedAt = now();
      } else {
        failures = 0;
        openedAt = undefined;
      }
      throw error;
    };
    try {
      return call().then(onSuccess, onFailure);
    } catch (error) {
      return Promise.reject(error).catch(onFailure);
    }
  });
  return { ...intercepted, circuitState: state };
}
