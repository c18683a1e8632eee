/**
 * Azure adapter against the in-process Key Vault emulator, through the real SDK (HTTPS, bearer
 * token, JSON): wrap / unwrap of 32 bytes (RSA-3072 RSA-OAEP-256 wrapKey + AES-256-GCM) and
 * ECDSA P-256 sign calls per second, each next to the same call through core's `withDefaults`
 * stack (timeout -> retry -> circuit breaker -> cache -> metrics) in the same run (target: at most
 * 5% overhead, 1.05x), and a cache hit against a getPublicKey provider call.
 *
 * Trust boundary: none; benchmark with the emulator's throwaway keys and credentials.
 */
import { runComparison } from '@fleetkey/bench';
import { InMemoryMetricsSink, composeDefaults, withCache } from '@fleetkey/kms-core';
import { createAzureKmsProvider } from '../src/create.js';
import { emulatorConfig, startAzureAdapter } from '../src/test-emulator.js';

const time = 3000;
const { emulator, provider: bare, cleanup } = await startAzureAdapter();
try {
  const aes = await bare.createKey({ spec: 'AES_256' });
  const ec = await bare.createKey({ spec: 'ECDSA_P256' });
  const { provider: stacked } = composeDefaults(bare, { metrics: new InMemoryMetricsSink() });
  const plaintext = new Uint8Array(32).fill(7);
  const context = { fleet: 'acme', purpose: 'bench' };
  const envelope = await bare.wrap({ keyId: aes.keyId, plaintext, context });
  const message = new TextEncoder().encode('fleetkey bench: sign me');

  // Sanity: what we time must work through both paths.
  if ((await stacked.unwrap({ envelope, context })).length !== 32) throw new Error('stacked unwrap failed');
  if ((await stacked.sign({ keyId: ec.keyId, data: message })).signature.length < 8) throw new Error('stacked sign failed');

  await runComparison({
    title: 'azure wrap 32 bytes (emulator over HTTPS): withDefaults stack vs bare adapter',
    baseline: { name: 'bare wrap', fn: () => bare.wrap({ keyId: aes.keyId, plaintext, context }) },
    cases: [{ name: 'withDefaults wrap', fn: () => stacked.wrap({ keyId: aes.keyId, plaintext, context }), maxCostRatio: 1.05 }],
    time,
  });
  await runComparison({
    title: 'azure unwrap 32 bytes (emulator over HTTPS): withDefaults stack vs bare adapter',
    baseline: { name: 'bare unwrap', fn: () => bare.unwrap({ envelope, context }) },
    cases: [{ name: 'withDefaults unwrap', fn: () => stacked.unwrap({ envelope, context }), maxCostRatio: 1.05 }],
    time,
  });
  await runComparison({
    title: 'azure sign ECDSA P-256 (emulator over HTTPS): withDefaults stack vs bare adapter',
    baseline: { name: 'bare sign', fn: () => bare.sign({ keyId: ec.keyId, data: message }) },
    cases: [{ name: 'withDefaults sign', fn: () => stacked.sign({ keyId: ec.keyId, data: message }), maxCostRatio: 1.05 }],
    time,
  });
  // The adapter remembers a key's latest version for 30 s; with that off every getPublicKey is a GET.
  const uncached = createAzureKmsProvider(emulatorConfig(emulator, { keyInfoTtlMs: 0 }));
  const cached = withCache(uncached);
  await cached.getPublicKey({ keyId: ec.keyId });
  await runComparison({
    title: 'azure getPublicKey: withCache hit vs a provider call (one GET)',
    baseline: { name: 'provider getPublicKey', fn: () => uncached.getPublicKey({ keyId: ec.keyId }) },
    cases: [{ name: 'withCache hit', fn: () => cached.getPublicKey({ keyId: ec.keyId }) }],
    time: 1000,
  });
  await uncached.close();
} finally {
  await cleanup();
}
