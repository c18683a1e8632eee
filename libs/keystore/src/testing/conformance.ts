/**
 * The keystore conformance suite: every KeyStore implementation (this SQLite store now; an
 * in-memory and a PKCS#11 store later) runs it, so "done" means the same thing for each.
 *
 * Trust boundary: test-only; imports vitest.
 */
import { describe } from 'vitest';
import { suiteContext } from './context.js';
import { exportSuite } from './export-suite.js';
import type { KeyStoreConformanceFactory } from './fixtures.js';
import { lifecycleSuite } from './lifecycle-suite.js';
import { recordsSuite } from './records-suite.js';
import { usableSuite } from './usable-suite.js';
import { valuesSuite } from './values-suite.js';

/** Registers the conformance tests (call it inside a *.spec.ts file). */
export function runKeyStoreConformance(factory: KeyStoreConformanceFactory): void {
  describe(`KeyStore conformance: ${factory.name}`, () => {
    const ctx = suiteContext(factory);
    recordsSuite(ctx);
    usableSuite(ctx);
    exportSuite(ctx);
    valuesSuite(ctx);
    lifecycleSuite(ctx);
  });
}
