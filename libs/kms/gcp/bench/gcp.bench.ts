/**
 * Google Cloud KMS adapter benchmarks against the in-process emulator (real `@google-cloud/kms`
 * SDK, real gRPC over 127.0.0.1): wrap, unwrap and sign calls per second for the bare adapter and
 * the same calls through core's `withDefaults` stack in the same run (target: at most 5%
 * overhead), and a cached getPublicKey against a provider call. Figures include the emulator's own
 * work on the same shared machine, so they size the adapter and decorators, not Google (whose
 * latency is network-bound). A sign is two RPCs here (ListCryptoKeyVersions for the current
 * version, then AsymmetricSign), because Cloud KMS asymmetric keys have no primary version.
 *
 * Trust boundary: benchmark tooling only.
 */
import { percentile, printMeasurements, runComparison } from '@fleetkey/bench';
import { withCache, withDefaults } from '@fleetkey/kms-core';
import { startGcpKmsEmulator } from '@fleetkey/kms-emulators';
import { createGcpKmsProvider } from '../src/index.js';
import { tokenAuthClient } from '../src/test-support.js';

const emulator = await startGcpKmsEmulator({ port: 0 });
const bare = createGcpKmsProvider({ projectId: 'fleetkey-bench', location: 'global', keyRing: 'bench', endpoint: emulator.url }, { authClient: tokenAuthClient() });
let recorded = 0;
const decorated = withDefaults(bare, { metrics: { record: () => void (recorded += 1) } });
const context = { fleet: 'bench', purpose: 'store-key' };

try {
  const aes = await bare.createKey({ spec: 'AES_256' });
  const ec = await bare.createKey({ spec: 'ECDSA_P256' });
  const ed = await bare.createKey({ spec: 'ED25519' });
  const plaintext = new Uint8Array(32).fill(7);
  const envelope = await bare.wrap({ keyId: aes.keyId, plaintext, context });
  const message = new TextEncoder().encode('rotate fleet acme key 42');
  // Warm the JIT, gax and the channel for both stacks before measuring, so the baseline (which
  // runs first) is not charged for warm-up.
  for (let i = 0; i < 100; i += 1) {
    for (const p of [bare, decorated]) {
      await p.unwrap({ envelope: await p.wrap({ keyId: aes.keyId, plaintext, context }), context });
      await p.sign({ keyId: ed.keyId, data: message });
    }
  }

  await runComparison({
    title: 'GCP wrap (Encrypt of a CEK + local seal) — bare adapter vs withDefaults',
    baseline: { name: 'wrap, bare adapter', fn: () => bare.wrap({ keyId: aes.keyId, plaintext, context }) },
    cases: [{ name: 'wrap, withDefaults stack', fn: () => decorated.wrap({ keyId: aes.keyId, plaintext, context }), maxCostRatio: 1.05 }],
  });

  await runComparison({
    title: 'GCP unwrap (Decrypt + local open) — bare adapter vs withDefaults',
    baseline: { name: 'unwrap, bare adapter', fn: () => bare.unwrap({ envelope, context }) },
    cases: [{ name: 'unwrap, withDefaults stack', fn: () => decorated.unwrap({ envelope, context }), maxCostRatio: 1.05 }],
  });

  await runComparison({
    title: 'GCP sign — Ed25519 (data) and ECDSA P-256 (digest; the emulator signs digests in bigint JS, so it is emulator-bound)',
    baseline: { name: 'sign Ed25519, bare adapter', fn: () => bare.sign({ keyId: ed.keyId, data: message }) },
    cases: [
      { name: 'sign Ed25519, withDefaults stack', fn: () => decorated.sign({ keyId: ed.keyId, data: message }), maxCostRatio: 1.05 },
      { name: 'sign ECDSA P-256, bare adapter', fn: () => bare.sign({ keyId: ec.keyId, data: message }) },
    ],
  });

  const cached = withCache(bare, { ttlMs: 300_000 });
  await cached.getPublicKey({ keyId: ec.keyId });
  const before = emulator.faults.requests;
  await runComparison({
    title: 'GCP getPublicKey — provider call (ListCryptoKeyVersions + GetPublicKey) vs withCache hit',
    baseline: { name: 'getPublicKey, provider call', fn: () => bare.getPublicKey({ keyId: ec.keyId }) },
    cases: [{ name: 'getPublicKey, cache hit', fn: () => cached.getPublicKey({ keyId: ec.keyId }) }],
  });
  const cacheRequests = emulator.faults.requests - before;

  // Interleaved A/B: on a shared machine sequential tables drift between tasks; alternating bare
  // and decorated calls and comparing medians isolates what the decorators themselves cost.
  const ab = async (label: string, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[string, string]> => {
    const [sa, sb]: [number[], number[]] = [[], []];
    for (let i = 0; i < 300; i += 1) {
      for (const [fn, out] of (i % 2 ? [[a, sa], [b, sb]] : [[b, sb], [a, sa]]) as [() => Promise<unknown>, number[]][]) {
        const started = performance.now();
        await fn();
        out.push(performance.now() - started);
      }
    }
    const [pa, pb] = [percentile(sa, 50), percentile(sb, 50)];
    return [label, `bare p50 ${pa.toFixed(3)} ms, withDefaults p50 ${pb.toFixed(3)} ms, overhead ${(((pb - pa) / pa) * 100).toFixed(1)}% (target <= 5%)`];
  };
  printMeasurements('withDefaults overhead, interleaved A/B (300 rounds each)', [
    await ab('wrap', () => bare.wrap({ keyId: aes.keyId, plaintext, context }), () => decorated.wrap({ keyId: aes.keyId, plaintext, context })),
    await ab('unwrap', () => bare.unwrap({ envelope, context }), () => decorated.unwrap({ envelope, context })),
    await ab('sign Ed25519', () => bare.sign({ keyId: ed.keyId, data: message }), () => decorated.sign({ keyId: ed.keyId, data: message })),
  ]);

  const samples: number[] = [];
  for (let i = 0; i < 200; i += 1) {
    const started = performance.now();
    await bare.unwrap({ envelope: await bare.wrap({ keyId: aes.keyId, plaintext, context }), context });
    samples.push(performance.now() - started);
  }
  printMeasurements('GCP wrap+unwrap round trip against the emulator (200 sequential)', [
    ['p50', `${percentile(samples, 50).toFixed(3)} ms`],
    ['p99', `${percentile(samples, 99).toFixed(3)} ms`],
    ['emulator requests during the cache comparison (all from the provider-call baseline)', String(cacheRequests)],
    ['metrics records seen by the decorated stack', String(recorded)],
  ]);
} finally {
  await bare.close();
  await emulator.close();
}
