/**
 * Azure adapter benchmark against the in-process Key Vault emulator, through the real SDK (HTTPS,
 * bearer token, JSON): starts the emulator, builds the bare adapter and runs kms-core's shared
 * `runProviderBenchmarks` (wrap / unwrap of 32 bytes — RSA-3072 RSA-OAEP-256 wrapKey + AES-256-GCM
 * — and ECDSA P-256 sign, bare vs `withDefaults` with a 5% target, cache hit vs provider call,
 * interleaved A/B). Azure Key Vault has no Ed25519. The adapter itself remembers a key's latest
 * version for 30 s, so the getPublicKey comparison uses a second adapter with that off
 * (`keyInfoTtlMs: 0`), where every provider call is one GET.
 *
 * Trust boundary: benchmark tooling only; the emulator's keys and credentials are throwaway.
 */
import { runProviderBenchmarks } from '@fleetkey/kms-core/testing';
import { createAzureKmsProvider } from '../src/create.js';
import { emulatorConfig, startAzureAdapter } from '../src/test-emulator.js';

const { emulator, provider: bare, cleanup } = await startAzureAdapter();
const uncached = createAzureKmsProvider(emulatorConfig(emulator, { keyInfoTtlMs: 0 }));
try {
  await runProviderBenchmarks({
    label: 'Azure',
    bare,
    publicKeyProvider: uncached,
    requests: () => emulator.faults.requests,
    describe: { wrap: 'RSA-OAEP-256 wrapKey + local AES-256-GCM seal, HTTPS', unwrap: 'unwrapKey + local open, HTTPS', getPublicKey: 'one GET' },
    signSpecs: [{ spec: 'ECDSA_P256' }],
  });
} finally {
  await uncached.close();
  await cleanup();
}
