/**
 * Vault Transit adapter benchmarks against the in-process emulator: wrap / unwrap / sign calls per
 * second through node-vault, the decorator stack (core's withDefaults: timeout, retry, circuit
 * breaker, cache) over the bare adapter in the same run (target ≤ 5% overhead), and a cache hit
 * against a provider call. Run with `npm run bench` (about 20 s).
 *
 * Trust boundary: test tooling only; the emulator's keys are throwaway.
 */
import { randomBytes } from 'node:crypto';
import { percentile, printMeasurements, runComparison } from '@fleetkey/bench';
import { KMS_PROVIDER_METHODS, withDefaults } from '@fleetkey/kms-core';
import type { KmsProvider } from '@fleetkey/kms-core';
import { startVaultEmulator } from '@fleetkey/kms-emulators';
import nodeVault from 'node-vault';
import { createVaultKmsProvider } from '../src/index.js';

const CONTEXT = { fleet: 'acme', purpose: 'bench' };
/** Pairs measured in the interleaved A/B run (each pair: one bare call, one stack call, order alternating). */
const AB_PAIRS = 200;

/**
 * Interleaved A/B: tinybench runs its tasks one after another, so on a shared machine the first
 * task pays for JIT warm-up and neighbours' load. Alternating bare / stack calls pair by pair puts
 * both under the same conditions; the medians are the figure to read for the overhead target.
 */
async function interleaved(title: string, bare: () => Promise<unknown>, stacked: () => Promise<unknown>): Promise<void> {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < 20; i += 1) await Promise.all([bare(), stacked()]);
  for (let i = 0; i < AB_PAIRS; i += 1) {
    const order: Array<[() => Promise<unknown>, number[]]> = i % 2 === 0 ? [[bare, a], [stacked, b]] : [[stacked, b], [bare, a]];
    for (const [fn, samples] of order) {
      const started = performance.now();
      await fn();
      samples.push(performance.now() - started);
    }
  }
  const ratio = percentile(b, 50) / percentile(a, 50);
  printMeasurements(`${title} (interleaved, ${AB_PAIRS} pairs)`, [
    ['bare adapter p50 / p99 ms (baseline)', `${percentile(a, 50).toFixed(3)} / ${percentile(a, 99).toFixed(3)}`],
    ['withDefaults p50 / p99 ms', `${percentile(b, 50).toFixed(3)} / ${percentile(b, 99).toFixed(3)}`],
    ['stack / bare median', `${ratio.toFixed(3)}x (target <= 1.05x: ${ratio <= 1.05 ? 'met' : 'MISSED'})`],
  ]);
}
const MESSAGE = randomBytes(256);

async function main(): Promise<void> {
  const vault = await startVaultEmulator({ port: 0, disableUpsert: true });
  const bare = createVaultKmsProvider({ endpoint: vault.url, token: vault.rootToken });
  const stack = withDefaults(bare);
  const raw = nodeVault({ endpoint: vault.url, token: vault.rootToken, noCustomHTTPVerbs: true, debug: () => undefined });
  try {
    const aes = await bare.createKey({ spec: 'AES_256' });
    const ec = await bare.createKey({ spec: 'ECDSA_P256' });
    const plaintext = randomBytes(32);
    const envelope = await bare.wrap({ keyId: aes.keyId, plaintext, context: CONTEXT });
    await bare.sign({ keyId: ec.keyId, data: MESSAGE });
    const cek = randomBytes(32).toString('base64');

    const wrapRows = await runComparison({
      time: 700,
      iterations: 32,
      title: 'vault wrap (32-byte key, with context) over HTTP: decorator stack vs bare adapter',
      baseline: { name: 'bare adapter wrap', fn: () => bare.wrap({ keyId: aes.keyId, plaintext, context: CONTEXT }) },
      cases: [
        { name: 'withDefaults(adapter) wrap', fn: () => stack.wrap({ keyId: aes.keyId, plaintext, context: CONTEXT }), maxCostRatio: 1.05 },
        { name: 'raw node-vault encryptData (no envelope)', fn: () => raw.encryptData({ name: aes.keyId, plaintext: cek }) },
      ],
    });
    const wrapP50 = wrapRows[0]!.p50Ms;
    await runComparison({
      time: 700,
      iterations: 32,
      title: 'vault unwrap over HTTP: decorator stack vs bare adapter',
      baseline: { name: 'bare adapter unwrap', fn: () => bare.unwrap({ envelope, context: CONTEXT }) },
      cases: [{ name: 'withDefaults(adapter) unwrap', fn: () => stack.unwrap({ envelope, context: CONTEXT }), maxCostRatio: 1.05 }],
    });
    await runComparison({
      time: 700,
      iterations: 32,
      title: 'vault sign ECDSA P-256 (prehashed, DER) over HTTP: decorator stack vs bare adapter',
      baseline: { name: 'bare adapter sign', fn: () => bare.sign({ keyId: ec.keyId, data: MESSAGE }) },
      cases: [{ name: 'withDefaults(adapter) sign', fn: () => stack.sign({ keyId: ec.keyId, data: MESSAGE }), maxCostRatio: 1.05 }],
    });
    await interleaved('vault wrap overhead', () => bare.wrap({ keyId: aes.keyId, plaintext, context: CONTEXT }), () => stack.wrap({ keyId: aes.keyId, plaintext, context: CONTEXT }));
    await interleaved('vault unwrap overhead', () => bare.unwrap({ envelope, context: CONTEXT }), () => stack.unwrap({ envelope, context: CONTEXT }));
    await interleaved('vault sign overhead', () => bare.sign({ keyId: ec.keyId, data: MESSAGE }), () => stack.sign({ keyId: ec.keyId, data: MESSAGE }));
    // The stack's own cost without the network: the same decorators over a provider whose wrap
    // resolves at once (the adapter's envelope work included), so HTTP noise cannot hide or fake it.
    const delegated = Object.fromEntries(KMS_PROVIDER_METHODS.map((method) => [method, (bare[method] as (...args: unknown[]) => unknown).bind(bare)]));
    const instant = { ...delegated, name: bare.name, supportedKeySpecs: bare.supportedKeySpecs, wrap: async () => envelope } as unknown as KmsProvider;
    const instantStack = withDefaults(instant);
    const decorated = await runComparison({
      time: 500,
      title: 'decorator stack cost alone (wrap on a provider that answers at once)',
      baseline: { name: 'instant provider wrap', fn: () => instant.wrap({ keyId: aes.keyId, plaintext, context: CONTEXT }) },
      cases: [{ name: 'withDefaults(instant) wrap', fn: () => instantStack.wrap({ keyId: aes.keyId, plaintext, context: CONTEXT }) }],
    });
    const costUs = (1 / decorated[1]!.opsPerSecond - 1 / decorated[0]!.opsPerSecond) * 1e6;
    printMeasurements('decorator overhead relative to one Vault call', [
      ['withDefaults cost per call', `${costUs.toFixed(1)} µs`],
      ['as a share of the bare wrap p50 above', `${((costUs / 1000 / wrapP50) * 100).toFixed(2)} % (target <= 5 %)`],
    ]);
    await runComparison({
      time: 700,
      iterations: 32,
      title: 'vault getPublicKey: cache hit vs provider call',
      baseline: { name: 'bare adapter getPublicKey (GET transit/keys/:name)', fn: () => bare.getPublicKey({ keyId: ec.keyId }) },
      cases: [{ name: 'withDefaults(adapter) getPublicKey (cache hit)', fn: () => stack.getPublicKey({ keyId: ec.keyId }) }],
    });
  } finally {
    await stack.close();
    await vault.close();
  }
}

await main();
