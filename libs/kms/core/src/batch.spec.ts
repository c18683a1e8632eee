/**
 * Batch forms: bounded concurrency, input order, per-item errors, against the memory provider.
 *
 * Trust boundary: none; test code.
 */
import { describe, expect, it } from 'vitest';
import { readEnvelopeHeader } from '@fleetkey/crypto';
import { MAX_BATCH_CONCURRENCY, mapBounded, signMany, unwrapMany, wrapMany } from './batch.js';
import { createMemoryKmsProvider } from './testing/memory-provider.js';
import { hex } from './test-support.js';

describe('batch forms', () => {
  it('mapBounded keeps input order under varying latencies and never exceeds the concurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    const delays = [30, 5, 20, 1, 15, 2, 25, 3, 10, 0];
    const results = await mapBounded(
      delays,
      async (ms, i) => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, ms));
        inFlight -= 1;
        if (i === 4) throw new Error('item 4 failed');
        return i * 10;
      },
      { concurrency: 3 },
    );
    expect(peak).toBe(3);
    expect(results.map((r) => (r.ok ? r.value : 'error'))).toEqual([0, 10, 20, 30, 'error', 50, 60, 70, 80, 90]);
    const failed = results[4]!;
    expect(!failed.ok && (failed.error as Error).message).toBe('item 4 failed');
  });

  it('defaults to 8 in flight and handles an empty batch', async () => {
    let inFlight = 0;
    let peak = 0;
    await mapBounded(Array.from({ length: 30 }, (_, i) => i), async () => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight -= 1;
    });
    expect(peak).toBe(8);
    expect(await mapBounded([], async () => 1)).toEqual([]);
  });

  it('refuses a concurrency outside 1..64 and a non-array', async () => {
    for (const concurrency of [0, MAX_BATCH_CONCURRENCY + 1, 1.5]) {
      await expect(mapBounded([1], async () => 1, { concurrency })).rejects.toThrow(RangeError);
    }
    await expect(mapBounded('x' as never, async () => 1)).rejects.toThrow(TypeError);
  });

  it('wrapMany / unwrapMany / signMany run against a provider, per-item errors in place', async () => {
    const { provider, faults } = createMemoryKmsProvider();
    const aes = await provider.createKey({ spec: 'AES_256' });
    const ed = await provider.createKey({ spec: 'ED25519' });
    const wrapped = await wrapMany(provider, [
      { keyId: aes.keyId, plaintext: Uint8Array.of(1) },
      { keyId: 'missing', plaintext: Uint8Array.of(2) },
      { keyId: aes.keyId, plaintext: Uint8Array.of(3), context: { c: 'x' } },
    ]);
    expect(wrapped.map((r) => r.ok)).toEqual([true, false, true]);
    expect(!wrapped[1]!.ok && (wrapped[1]!.error as { code: string }).code).toBe('KMS_KEY_NOT_FOUND');
    const envelopes = wrapped.filter((r) => r.ok).map((r) => (r.ok ? r.value : new Uint8Array()));
    expect(envelopes.every((e) => readEnvelopeHeader(e).keyId === aes.keyId)).toBe(true);
    const before = faults.requests;
    const opened = await unwrapMany(provider, [{ envelope: envelopes[0]! }, { envelope: envelopes[1]!, context: { c: 'x' } }, { envelope: envelopes[1]! }], { concurrency: 2 });
    expect(faults.requests - before).toBe(3);
    expect(opened.map((r) => (r.ok ? hex(r.value) : (r.error as { code: string }).code))).toEqual(['01', '03', 'INVALID_CIPHERTEXT']);
    const signed = await signMany(provider, [{ keyId: ed.keyId, data: Uint8Array.of(1) }, { keyId: aes.keyId, data: Uint8Array.of(2) }]);
    expect(signed.map((r) => (r.ok ? r.value.algorithm : (r.error as { code: string }).code))).toEqual(['ED25519', 'INVALID_KEY_USAGE']);
  });
});
