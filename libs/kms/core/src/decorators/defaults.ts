/**
 * `withDefaults(provider, options)`: the standard decorator stack, composed in this order from the
 * inside out (each wraps the one before):
 *
 *   provider → timeout → retry → circuit breaker → cache → metrics
 *
 * - timeout innermost: the deadline applies to each attempt, so one hung call does not eat the
 *   whole retry budget;
 * - retry around it: a throttled / timed-out attempt is repeated with full-jitter backoff;
 * - circuit breaker around retry: it counts calls that failed after every retry, and fails fast
 *   while the provider is down;
 * - cache around the breaker: a cached public key or description is served even while the
 *   circuit is open (that is the point of caching it);
 * - metrics outermost: records what the caller saw (a cache hit is a fast success).
 *
 * Trust boundary: none beyond the decorators'.
 */
import type { KmsProvider } from '../provider.js';
import { withCache, type CacheOptions, type CachingKmsProvider } from './cache.js';
import { withCircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';
import { withMetrics, type KmsMetricsSink } from './metrics.js';
import { withRetry, type RetryOptions } from './retry.js';
import { withTimeout, type TimeoutOptions } from './timeout.js';

export interface DefaultsOptions {
  readonly timeout?: TimeoutOptions;
  readonly retry?: RetryOptions;
  readonly circuitBreaker?: CircuitBreakerOptions;
  readonly cache?: CacheOptions;
  /** No metrics decorator when absent. */
  readonly metrics?: KmsMetricsSink;
}

export interface DefaultStack {
  /** The composed provider (metrics outermost when a sink was given). */
  readonly provider: KmsProvider;
  /** The cache layer, for `invalidate(keyId?)` and `stats()`. */
  readonly cache: CachingKmsProvider;
}

/**
 * Composes the stack and returns the outermost provider plus a handle on the cache layer.
 * @throws RangeError / TypeError when any decorator's options are out of bounds.
 */
export function composeDefaults(provider: KmsProvider, options: DefaultsOptions = {}): DefaultStack {
  const timed = withTimeout(provider, options.timeout);
  const retried = withRetry(timed, options.retry);
  const guarded = withCircuitBreaker(retried, options.circuitBreaker);
  const cache = withCache(guarded, options.cache);
  const outer = options.metrics === undefined ? cache : withMetrics(cache, options.metrics);
  return { provider: outer, cache };
}

/** `composeDefaults(provider, options).provider`. */
export function withDefaults(provider: KmsProvider, options: DefaultsOptions = {}): KmsProvider {
  return composeDefaults(provider, options).provider;
}
