/**
 * The shared KmsProvider conformance suite against the Vault Transit emulator, driven through the
 * real node-vault client. Upsert is disabled on the mount (as docs/providers/vault.md recommends),
 * so encrypting to an unknown key is "encryption key not found" rather than a silent key creation.
 */
import { startVaultEmulator } from '@fleetkey/kms-emulators';
import { runKmsProviderConformance } from '@fleetkey/kms-core/testing';
import { createVaultKmsProvider } from './index.js';

runKmsProviderConformance({
  name: 'vault (emulator)',
  testTimeoutMs: 120_000,
  create: async () => {
    const vault = await startVaultEmulator({ port: 0, disableUpsert: true });
    const provider = createVaultKmsProvider({ endpoint: vault.url, token: vault.rootToken });
    return {
      provider,
      faults: vault.faults,
      cleanup: async () => {
        await provider.close();
        await vault.close();
      },
    };
  },
});
