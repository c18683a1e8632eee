/**
 * `withRetry`: repeats a call that failed with a retryable KmsError (Throttled,
 * ProviderUnavailable, KmsTimeout) after exponential backoff with FULL jitter:
 *   sleep = random(0, min(maxDelayMs, baseDelayMs * 2^attempt))
 * (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015). Never retries AccessDenied,
 * InvalidCiphertext, KeyNotFound or any other non-retryable error, nor anything that is not a
 * KmsError (a bug does not get better by repetition).
 *
 * createKey and rotateKey are not idempotent: a timeout or a 5xx may hide a call that did succeed,
 * so they are retried only on Throttled, which the service answers before doing anything.
 *
 * Trust boundary: none beyond the inner provider's. Randomness and sleep are injected.
 */
import { isKmsError } from '../errors.js';
import type { KmsProvider, KmsProviderMethod } from '../provider.js';
import { checkInteger, checkProvider, interceptProvider } from './intercept.js';

export const DEFAULT_MAX_RETRIES = 3;
/** Upper bound of `maxRetries`: past 10 the caller wants a circuit breaker, not more retries. */
export const MAX_RETRIES_LIMIT = 10;
export const DEFAULT_BASE_DELAY_MS = 100;
export const DEFAULT_MAX_DELAY_MS = 5_000;
/** Upper bound of `maxDelayMs` (one minute). */
export const MAX_RETRY_DELAY_MS = 60_000;

export interface RetryOptions {
  /** Retries after the first attempt, 0..MAX_RETRIES_LIMIT; default 3. */
  readonly maxRetries?: number;
  /** Backoff base, 0..MAX_RETRY_DELAY_MS; default 100 ms. */
  readonly baseDelayMs?: number;
  /** Backoff cap, baseDelayMs..MAX_RETRY_DELAY_MS; default 5 s. */
  readonly maxDelayMs?: number;
  /** Uniform in [0, 1); default Math.random (jitter needs no cryptographic randomness). */
  readonly random?: () => number;
  /** Waits `ms`; default a timer. Tests pass a recorder. */
  readonly sleep?: (ms: number) => Promise<void>;
}

const NOT_IDEMPOTENT: ReadonlySet<KmsProviderMethod> = new Set(['createKey', 'rotateKey']);
/** Closing is not an operation to repeat. */
const NEVER_RETRIED: ReadonlySet<KmsProviderMethod> = new Set(['close']);

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The full-jitter delay before retry number `attempt` (0-based). */
export function fullJitterDelay(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
  const r = random();
  // A misbehaving random source cannot stretch the wait past the cap.
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(unit * ceiling);
}

function retryable(operation: KmsProviderMethod, error: unknown): boolean {
  if (!isKmsError(error) || !error.retryable) return false;
  if (NOT_IDEMPOTENT.has(operation)) return error.code === 'THROTTLED';
  return true;
}

/**
 * @throws RangeError for options out of bounds. Calls on the result throw the last error when every
 * attempt failed, or the first non-retryable error at once.
 */
export function withRetry(provider: KmsProvider, options: RetryOptions = {}): KmsProvider {
  checkProvider(provider);
  const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
  const baseDelayMs = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
  const maxDelayMs = options.maxDelayMs ?? Math.max(DEFAULT_MAX_DELAY_MS, baseDelayMs);
  checkInteger(maxRetries, 'maxRetries', 0, MAX_RETRIES_LIMIT);
  checkInteger(baseDelayMs, 'baseDelayMs', 0, MAX_RETRY_DELAY_MS);
  checkInteger(maxDelayMs, 'maxDelayMs', baseDelayMs, MAX_RETRY_DELAY_MS);
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? defaultSleep;
  if (typeof random !== 'function') throw new TypeError('"random" expected a function');
  if (typeof sleep !== 'function') throw new TypeError('"sleep" expected a function');

  // The first attempt is a plain `then` (no async wrapper), so a call that succeeds pays nothing
  // but one rejection handler; the retry loop only runs after a failure.
  return interceptProvider(provider, <T>(operation: KmsProviderMethod, _keyId: string | undefined, call: () => Promise<T>): Promise<T> => {
    if (NEVER_RETRIED.has(operation)) return call();
    const retryFrom = (attempt: number) => (error: unknown): Promise<T> => {
      if (attempt >= maxRetries || !retryable(operation, error)) return Promise.reject(error);
      return sleep(fullJitterDelay(attempt, baseDelayMs, maxDelayMs, random)).then(() => invoke(call).then(undefined, retryFrom(attempt + 1)));
    };
    return invoke(call).then(undefined, retryFrom(0));
  });
}

/** `call()`, with a synchronous throw turned into a rejection. */
function invoke<T>(call: () => Promise<T>): Promise<T> {
  try {
    return call();
  } catch (error) {
    return Promise.reject(error);
  }
}
