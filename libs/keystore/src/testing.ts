/**
 * @fleetkey/keystore/testing — the conformance suite every KeyStore implementation runs, and its
 * fixtures. Test-only: imports vitest; never import it from production code.
 *
 * Trust boundary: test-only.
 */
export { runKeyStoreConformance } from './testing/conformance.js';
export {
  FakeClock,
  type ConformanceStoreOptions,
  type KeyStoreConformanceFactory,
} from './testing/fixtures.js';
