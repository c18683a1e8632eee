/**
 * The shared KmsProvider conformance suite against the local provider on a real key file in a
 * temp dir. Its fault hook is the honest one for a file: an io layer that fails like a disk
 * (EAGAIN -> THROTTLED, EIO / ENOSPC -> PROVIDER_UNAVAILABLE) or runs slowly.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll } from 'vitest';
import { runKmsProviderConformance } from '@fleetkey/kms-core/testing';
import { localKmsProvider, nodeIo } from './index.js';
import { FaultInjector } from '@fleetkey/kms-emulators';
import { faultyIo } from './test-support/faulty-io.js';
import { TempDirs } from './test-support/temp-dir.js';

const dirs = new TempDirs();
afterAll(() => dirs.removeAll());

runKmsProviderConformance({
  name: 'local (temp dir)',
  async create() {
    const dir = dirs.make();
    const faults = new FaultInjector();
    const provider = await localKmsProvider({
      path: path.join(dir, 'keys.fkl'),
      passphrase: 'conformance passphrase',
      create: true,
      io: faultyIo(nodeIo, faults),
    });
    return {
      provider,
      faults,
      async cleanup() {
        await provider.close();
        // Only this instance's dir: the failover test's second instance is cleaned up first.
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
