/**
 * @fleetkey/kms-core — the KMS provider port, its error hierarchy, the KMS envelope helpers, the
 * decorators (retry, timeout, circuit breaker, cache, failover, metrics), batch forms, the KMS
 * signer, and configuration. The conformance suite and the in-memory provider live under the
 * `@fleetkey/kms-core/testing` entry point, never here.
 *
 * Trust boundary: see each module.
 */
export * from './provider.js';
export * from './errors.js';
export * from './envelope.js';
export * from './decorators/index.js';
export * from './batch.js';
export * from './rewrap.js';
export * from './signer.js';
export * from './config.js';
