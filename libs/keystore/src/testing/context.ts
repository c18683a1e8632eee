/**
 * Per-test context of the conformance suite: a fresh clock and the stores a test opened, closed
 * (and the factory's cleanup run) after each test whatever its outcome.
 *
 * Trust boundary: test-only.
 */
import { afterEach, beforeEach } from 'vitest';
import type { KeyStore } from '../records/types.js';
import { FakeClock, OpenStores, type KeyStoreConformanceFactory } from './fixtures.js';

export interface SuiteContext {
  readonly factory: KeyStoreConformanceFactory;
  clock(): FakeClock;
  newStore(): Promise<KeyStore>;
  reopen(store: KeyStore): Promise<KeyStore>;
}

export function suiteContext(factory: KeyStoreConformanceFactory): SuiteContext {
  let clock = new FakeClock();
  const stores = new OpenStores();
  beforeEach(() => {
    clock = new FakeClock();
  });
  afterEach(async () => {
    stores.closeAll();
    await factory.cleanup?.();
  });
  return {
    factory,
    clock: () => clock,
    newStore: async () => stores.track(await factory.create({ now: clock.now })),
    reopen: async (store) => {
      if (!factory.reopen) throw new Error(`${factory.name} has no reopen()`);
      return stores.track(await factory.reopen(store, { now: clock.now }));
    },
  };
}
