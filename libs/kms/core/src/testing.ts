/**
 * `@fleetkey/kms-core/testing`: the KmsProvider conformance suite and the in-memory provider that
 * kms-core's own tests use. Test support only: it imports vitest, so nothing in production may
 * import this entry point.
 *
 * Trust boundary: none; test code.
 */
export {
  runKmsProviderConformance,
  type ConformanceFaults,
  type ConformanceInstance,
  type KmsProviderConformanceOptions,
} from './testing/conformance.js';
export {
  createMemoryKmsProvider,
  MAX_MEMORY_KEYS,
  type FaultControl,
  type FaultSpec,
  type MemoryKms,
  type MemoryKmsOptions,
} from './testing/memory-provider.js';
