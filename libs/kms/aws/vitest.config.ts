/**
 * Vitest settings of @fleetkey/kms-aws: the tests start emulators and make RSA-4096 keys, which
 * take seconds on a loaded 2-core machine, so tests and hooks get 60 s instead of 5 s.
 *
 * Trust boundary: none; test configuration.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
