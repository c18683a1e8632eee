/**
 * `@fleetkey/kms-core/testing`: the KmsProvider conformance suite, the in-memory provider that
 * kms-core's own tests use, and the shared adapter benchmark (`runProviderBenchmarks`) that every
 * adapter's `bench/*.bench.ts` calls. Test and benchmark support only: it imports vitest and
 * @fleetkey/bench, so nothing in production may import this entry point.
 *
 * Trust boundary: none; test code and benchmark tooling.
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
export {
  runProviderBenchmarks,
  type AbFigures,
  type ProviderBenchFixture,
  type ProviderBenchmarkOptions,
  type ProviderBenchmarkResult,
  type ProviderBenchSignSpec,
} from './testing/provider-bench.js';
