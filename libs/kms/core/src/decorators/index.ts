/** The decorators of the KMS port; each is `KmsProvider -> KmsProvider`, composed, never copied. */
export { interceptProvider, type CallInterceptor } from './intercept.js';
export * from './timeout.js';
export * from './retry.js';
export * from './circuit-breaker.js';
export * from './cache.js';
export * from './failover.js';
export * from './metrics.js';
export * from './defaults.js';
