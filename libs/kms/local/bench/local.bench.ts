/**
 * The local provider on a real key file in a temp dir, each figure next to a same-run baseline:
 *  - wrap / unwrap of 32 bytes (one stat of the key file + two AES-256-GCM envelopes) and
 *    ECDSA P-256 sign, bare vs through kms-core's `composeDefaults` stack (timeout -> retry ->
 *    circuit breaker -> cache -> metrics). Target: at most 5% overhead (1.05x).
 *  - a cached getPublicKey (withCache) vs the provider call (a stat of the key file).
 *  - the baseline of the raw work: sealEnvelope of 32 bytes in memory, to show what the stat costs.
 *
 * Trust boundary: none; benchmark with throwaway keys, the temp dir is removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runComparison } from '@fleetkey/bench';
import { sealEnvelope } from '@fleetkey/crypto';
import { InMemoryMetricsSink, composeDefaults, withCache } from '@fleetkey/kms-core';
import { localKmsProvider } from '../src/index.js';

const time = 1500;
const dir = mkdtempSync(path.join(os.tmpdir(), 'fleetkey-kms-local-bench-'));
try {
  const bare = await localKmsProvider({ path: path.join(dir, 'keys.fkl'), passphrase: 'benchmark passphrase', create: true });
  const aes = await bare.createKey({ spec: 'AES_256' });
  const ec = await bare.createKey({ spec: 'ECDSA_P256' });
  const { provider: stacked } = composeDefaults(bare, { metrics: new InMemoryMetricsSink() });
  const plaintext = new Uint8Array(32).fill(7);
  const context = { fleet: 'acme', purpose: 'bench' };
  const envelope = await bare.wrap({ keyId: aes.keyId, plaintext, context });
  const message = new TextEncoder().encode('fleetkey bench: sign me');
  const rawKey = new Uint8Array(randomBytes(32));

  // Sanity: what we time must work through both paths.
  if ((await stacked.unwrap({ envelope, context })).length !== 32) throw new Error('stacked unwrap failed');

  await runComparison({
    title: 'local wrap 32 bytes: withDefaults stack vs bare (and the in-memory seal it does twice)',
    baseline: { name: 'bare wrap', fn: () => bare.wrap({ keyId: aes.keyId, plaintext, context }) },
    cases: [
      { name: 'withDefaults wrap', fn: () => stacked.wrap({ keyId: aes.keyId, plaintext, context }), maxCostRatio: 1.05 },
      { name: 'sealEnvelope only (no file check)', fn: () => sealEnvelope({ key: rawKey, provider: 'local', keyId: 'k', keyVersion: 1, plaintext, context }) },
    ],
    time,
  });

  await runComparison({
    title: 'local unwrap 32 bytes: withDefaults stack vs bare',
    baseline: { name: 'bare unwrap', fn: () => bare.unwrap({ envelope, context }) },
    cases: [{ name: 'withDefaults unwrap', fn: () => stacked.unwrap({ envelope, context }), maxCostRatio: 1.05 }],
    time,
  });

  await runComparison({
    title: 'local sign ECDSA P-256: withDefaults stack vs bare',
    baseline: { name: 'bare sign', fn: () => bare.sign({ keyId: ec.keyId, data: message }) },
    cases: [{ name: 'withDefaults sign', fn: () => stacked.sign({ keyId: ec.keyId, data: message }), maxCostRatio: 1.05 }],
    time,
  });

  const cached = withCache(bare);
  await cached.getPublicKey({ keyId: ec.keyId });
  await runComparison({
    title: 'local getPublicKey: provider call (stat of the key file) vs cache hit',
    baseline: { name: 'provider getPublicKey', fn: () => bare.getPublicKey({ keyId: ec.keyId }) },
    cases: [{ name: 'cached getPublicKey', fn: () => cached.getPublicKey({ keyId: ec.keyId }) }],
    time,
  });
  await bare.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
// kms-core's withTimeout keeps its timer armed after the last call; do not wait 30 s for it.
process.exit(0);
