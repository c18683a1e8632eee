/**
 * The shared KmsProvider conformance suite against the Azure adapter, driving the real
 * @azure/keyvault-keys + @azure/identity against the in-process Key Vault emulator (a fresh one
 * per instance, so the failover test has a truly separate second vault). Key Vault has no Ed25519.
 */
import { runKmsProviderConformance } from '@fleetkey/kms-core/testing';
import { startAzureAdapter } from './test-emulator.js';

runKmsProviderConformance({
  name: 'azure (emulator)',
  unsupported: ['ED25519'],
  create: async () => {
    const { emulator, provider, cleanup } = await startAzureAdapter();
    return { provider, faults: emulator.faults, cleanup };
  },
});
