/**
 * The decorator stack's cost over the bare provider, measured in the same run:
 *  - wrap / unwrap of 32 bytes and ECDSA P-256 sign through `withDefaults` (timeout -> retry ->
 *    circuit breaker -> cache -> metrics into an InMemoryMetricsSink) vs the bare in-memory
 *    provider. Target: at most 5% overhead (1.05x). The in-memory provider answers in 15-30 µs,
 *    so this is the worst case; the absolute overhead per call is printed too.
 *  - the same stack over a provider that takes 1 ms per call (the memory provider with 1 ms
 *    injected latency, standing in for a nearby KMS or an emulator): target 1.05x.
 *  - a cache hit (withCache getPublicKey) vs a provider call that takes 1 ms (the memory provider
 *    with 1 ms injected latency, standing in for a nearby KMS).
 *
 * Trust boundary: none; benchmark with throwaway in-memory keys.
 */
import { printMeasurements, runComparison, type CaseFigures } from '@fleetkey/bench';
import { InMemoryMetricsSink, composeDefaults, withCache } from '../src/index.js';
import { createMemoryKmsProvider } from '../src/testing.js';

const time = 1000;
const { provider: bare } = createMemoryKmsProvider({ name: 'bench' });
const aes = await bare.createKey({ spec: 'AES_256' });
const ec = await bare.createKey({ spec: 'ECDSA_P256' });
const sink = new InMemoryMetricsSink();
const { provider: stacked } = composeDefaults(bare, { metrics: sink });

const plaintext = new Uint8Array(32).fill(7);
const context = { fleet: 'acme', purpose: 'bench' };
const envelope = await bare.wrap({ keyId: aes.keyId, plaintext, context });
const message = new TextEncoder().encode('fleetkey bench: sign me');

// Sanity: what we time must work through both paths.
if ((await stacked.unwrap({ envelope, context })).length !== 32) throw new Error('stacked unwrap failed');
if ((await stacked.sign({ keyId: ec.keyId, data: message })).signature.length < 8) throw new Error('stacked sign failed');

const overheads: Array<[string, string]> = [];
function overhead(rows: CaseFigures[], label: string): void {
  const [base, stack] = rows as [CaseFigures, CaseFigures];
  const perCallUs = (1 / stack.opsPerSecond - 1 / base.opsPerSecond) * 1e6;
  overheads.push([`${label}: stack overhead per call (mean)`, `${perCallUs.toFixed(2)} µs`]);
  overheads.push([`${label}: stack overhead per call (p50)`, `${((stack.p50Ms - base.p50Ms) * 1000).toFixed(2)} µs`]);
}

overhead(await runComparison({
  title: 'wrap 32 bytes: withDefaults stack vs bare in-memory provider',
  baseline: { name: 'bare wrap', fn: () => bare.wrap({ keyId: aes.keyId, plaintext, context }) },
  cases: [{ name: 'withDefaults wrap', fn: () => stacked.wrap({ keyId: aes.keyId, plaintext, context }), maxCostRatio: 1.05 }],
  time,
}), 'wrap');

overhead(await runComparison({
  title: 'unwrap 32 bytes: withDefaults stack vs bare in-memory provider',
  baseline: { name: 'bare unwrap', fn: () => bare.unwrap({ envelope, context }) },
  cases: [{ name: 'withDefaults unwrap', fn: () => stacked.unwrap({ envelope, context }), maxCostRatio: 1.05 }],
  time,
}), 'unwrap');

overhead(await runComparison({
  title: 'sign ECDSA P-256: withDefaults stack vs bare in-memory provider',
  baseline: { name: 'bare sign', fn: () => bare.sign({ keyId: ec.keyId, data: message }) },
  cases: [{ name: 'withDefaults sign', fn: () => stacked.sign({ keyId: ec.keyId, data: message }), maxCostRatio: 1.05 }],
  time,
}), 'sign');

const { provider: remote, faults } = createMemoryKmsProvider({ name: 'remote' });
const remoteKey = await remote.createKey({ spec: 'ECDSA_P256' });
faults.set({ latencyMs: 1 });
const remoteAes = await remote.createKey({ spec: 'AES_256' });
const remoteEnvelope = await remote.wrap({ keyId: remoteAes.keyId, plaintext, context });
const { provider: remoteStacked } = composeDefaults(remote, { metrics: new InMemoryMetricsSink() });
overhead(await runComparison({
  title: 'unwrap 32 bytes from a provider taking 1 ms: withDefaults stack vs bare',
  baseline: { name: 'bare unwrap (1 ms provider)', fn: () => remote.unwrap({ envelope: remoteEnvelope, context }) },
  cases: [{ name: 'withDefaults unwrap (1 ms provider)', fn: () => remoteStacked.unwrap({ envelope: remoteEnvelope, context }), maxCostRatio: 1.05 }],
  time: 800,
}), 'unwrap, 1 ms provider');

const cached = withCache(remote);
await cached.getPublicKey({ keyId: remoteKey.keyId });
await runComparison({
  title: 'getPublicKey: cache hit vs a provider call with 1 ms latency',
  baseline: { name: 'provider getPublicKey (1 ms)', fn: () => remote.getPublicKey({ keyId: remoteKey.keyId }) },
  cases: [{ name: 'withCache hit', fn: () => cached.getPublicKey({ keyId: remoteKey.keyId }) }],
  time: 1000,
});
printMeasurements('decorator stack overhead (same run)', overheads);
await bare.close();
await remote.close();
