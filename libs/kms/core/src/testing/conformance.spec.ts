/**
 * The conformance suite run against the in-memory provider (every spec supported), against a
 * restricted one (the "unsupported" branch), and against one that hides its fault injector (the
 * "faults: NOT REGISTERED" branch).
 */
import { runKmsProviderConformance } from '../testing.js';
import { createMemoryKmsProvider } from './memory-provider.js';

runKmsProviderConformance({
  name: 'memory',
  create: async () => {
    const { provider, faults } = createMemoryKmsProvider();
    return { provider, faults, cleanup: () => provider.close() };
  },
});

runKmsProviderConformance({
  name: 'memory (restricted specs)',
  unsupported: ['RSA_4096', 'ED25519', 'ECDSA_P521'],
  create: async () => {
    const { provider, faults } = createMemoryKmsProvider({ name: 'memory-restricted', supportedKeySpecs: ['AES_256', 'RSA_2048', 'RSA_3072', 'ECDSA_P256', 'ECDSA_P384'] });
    return { provider, faults, cleanup: () => provider.close() };
  },
});

runKmsProviderConformance({
  name: 'memory (no fault injector)',
  create: async () => {
    const { provider } = createMemoryKmsProvider({ name: 'memory-nofaults' });
    return { provider, cleanup: () => provider.close() };
  },
});
