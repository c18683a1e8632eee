/**
 * withFailover (first available; unwrap by envelope provider), withMetrics, and the withDefaults order.
 *
 * Trust boundary: none; test code.
 */
import { describe, expect, it } from 'vitest';
import { readEnvelopeHeader } from '@fleetkey/crypto';
import { Throttled } from '../errors.js';
import { createMemoryKmsProvider } from '../testing/memory-provider.js';
import { codeOf, fakeClock, hex } from '../test-support.js';
import { withCache } from './cache.js';
import { withCircuitBreaker } from './circuit-breaker.js';
import { composeDefaults, withDefaults } from './defaults.js';
import { withFailover } from './failover.js';
import { InMemoryMetricsSink, withMetrics } from './metrics.js';
import { withTimeout } from './timeout.js';

async function pair() {
  const alpha = createMemoryKmsProvider({ name: 'alpha' });
  const beta = createMemoryKmsProvider({ name: 'beta' });
  const alphaKey = await alpha.provider.createKey({ spec: 'AES_256' });
  const betaKey = await beta.provider.createKey({ spec: 'AES_256' });
  const failover = withFailover([alpha.provider, { provider: beta.provider, mapKeyId: (id) => (id === alphaKey.keyId ? betaKey.keyId : id) }]);
  return { alpha, beta, alphaKey, betaKey, failover };
}

describe('withFailover', () => {
  it('wraps with the primary while it is up', async () => {
    const { alpha, beta, alphaKey, failover } = await pair();
    const before = beta.faults.requests;
    const envelope = await failover.wrap({ keyId: alphaKey.keyId, plaintext: Uint8Array.of(1) });
    expect(readEnvelopeHeader(envelope)).toMatchObject({ provider: 'alpha', keyId: alphaKey.keyId });
    expect(beta.faults.requests).toBe(before);
    expect(failover.name).toBe('alpha');
    expect(alpha.faults.requests).toBeGreaterThan(0);
  });

  it.each([
    ['PROVIDER_UNAVAILABLE', { outage: true }],
    ['TIMEOUT', { latencyMs: 100 }],
  ] as const)('skips a primary failing with %s: wrap and generateDataKey go to the secondary', async (code, spec) => {
    const { alpha, alphaKey, betaKey, failover } = await pair();
    if (code === 'TIMEOUT') {
      const { beta, betaKey } = await pair();
      const slowAlpha = withTimeout(alpha.provider, { timeoutMs: 10 });
      alpha.faults.set({ latencyMs: 100 });
      const chain = withFailover([slowAlpha, { provider: beta.provider, mapKeyId: () => betaKey.keyId }]);
      const envelope = await chain.wrap({ keyId: alphaKey.keyId, plaintext: Uint8Array.of(1) });
      expect(readEnvelopeHeader(envelope)).toMatchObject({ provider: 'beta', keyId: betaKey.keyId });
      alpha.faults.reset();
      await new Promise((r) => setTimeout(r, 120));
      return;
    }
    alpha.faults.set(spec);
    const envelope = await failover.wrap({ keyId: alphaKey.keyId, plaintext: Uint8Array.of(2), context: { a: 'b' } });
    expect(readEnvelopeHeader(envelope)).toMatchObject({ provider: 'beta', keyId: betaKey.keyId });
    const dataKey = await failover.generateDataKey({ keyId: alphaKey.keyId });
    expect(readEnvelopeHeader(dataKey.wrapped).provider).toBe('beta');
    expect(hex(await failover.unwrap({ envelope, context: { a: 'b' } }))).toBe('02');
  });

  it('skips an open circuit without touching the primary', async () => {
    const clock = fakeClock();
    const alpha = createMemoryKmsProvider({ name: 'alpha' });
    const beta = createMemoryKmsProvider({ name: 'beta' });
    const alphaKey = await alpha.provider.createKey({ spec: 'AES_256' });
    const betaKey = await beta.provider.createKey({ spec: 'AES_256' });
    const guarded = withCircuitBreaker(alpha.provider, { failureThreshold: 1, now: clock.now });
    const failover = withFailover([guarded, { provider: beta.provider, mapKeyId: () => betaKey.keyId }]);
    alpha.faults.set({ outage: true });
    await failover.wrap({ keyId: alphaKey.keyId, plaintext: Uint8Array.of(1) });
    expect(guarded.circuitState()).toBe('open');
    const before = alpha.faults.requests;
    const envelope = await failover.wrap({ keyId: alphaKey.keyId, plaintext: Uint8Array.of(1) });
    expect(alpha.faults.requests).toBe(before);
    expect(readEnvelopeHeader(envelope).provider).toBe('beta');
  });

  it('does not fail over on a non-availability error (the primary said "no")', async () => {
    const { beta, failover } = await pair();
    const before = beta.faults.requests;
    expect(await codeOf(failover.wrap({ keyId: 'unknown-key', plaintext: Uint8Array.of(1) }))).toBe('KMS_KEY_NOT_FOUND');
    expect(beta.faults.requests).toBe(before);
  });

  it('throws the last availability error when every provider is down', async () => {
    const { alpha, beta, alphaKey, failover } = await pair();
    alpha.faults.set({ outage: true });
    beta.faults.set({ outage: true });
    await expect(failover.wrap({ keyId: alphaKey.keyId, plaintext: Uint8Array.of(1) })).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE', provider: 'beta' });
  });

  it('unwrap goes to the provider named in the envelope, whatever the order of the chain', async () => {
    const { alpha, beta, alphaKey, betaKey, failover } = await pair();
    const fromAlpha = await alpha.provider.wrap({ keyId: alphaKey.keyId, plaintext: Uint8Array.of(0xa) });
    const fromBeta = await beta.provider.wrap({ keyId: betaKey.keyId, plaintext: Uint8Array.of(0xb) });
    const alphaBefore = alpha.faults.requests;
    expect(hex(await failover.unwrap({ envelope: fromBeta }))).toBe('0b');
    expect(alpha.faults.requests).toBe(alphaBefore);
    const betaBefore = beta.faults.requests;
    expect(hex(await failover.unwrap({ envelope: fromAlpha }))).toBe('0a');
    expect(beta.faults.requests).toBe(betaBefore);
    // while alpha is down its envelopes cannot be opened by beta: unavailable, not a silent retry elsewhere
    alpha.faults.set({ outage: true });
    expect(await codeOf(failover.unwrap({ envelope: fromAlpha }))).toBe('PROVIDER_UNAVAILABLE');
    expect(beta.faults.requests).toBe(betaBefore);
  });

  it('Precondition: an envelope is only ever opened by a provider of the name it carries', async () => {
    const { failover } = await pair();
    const gamma = createMemoryKmsProvider({ name: 'gamma' });
    const key = await gamma.provider.createKey({ spec: 'AES_256' });
    const envelope = await gamma.provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) });
    await expect(failover.unwrap({ envelope })).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE', provider: 'gamma' });
    expect(await codeOf(failover.unwrap({ envelope: Uint8Array.of(1, 2, 3) }))).toBe('ENVELOPE_MALFORMED');
  });

  it('with two instances of one name, unwrap hands over on KMS_KEY_NOT_FOUND and reports the telling error', async () => {
    const one = createMemoryKmsProvider({ name: 'same' });
    const two = createMemoryKmsProvider({ name: 'same' });
    const keyTwo = await two.provider.createKey({ spec: 'AES_256' });
    const envelope = await two.provider.wrap({ keyId: keyTwo.keyId, plaintext: Uint8Array.of(7), context: { c: '1' } });
    const chain = withFailover([one.provider, two.provider]);
    expect(hex(await chain.unwrap({ envelope, context: { c: '1' } }))).toBe('07');
    expect(await codeOf(chain.unwrap({ envelope, context: { c: '2' } }))).toBe('INVALID_CIPHERTEXT');
    two.faults.set({ outage: true });
    expect(await codeOf(chain.unwrap({ envelope, context: { c: '1' } }))).toBe('PROVIDER_UNAVAILABLE');
  });

  it('keeps key management on the primary; health reports the chain; close closes every provider', async () => {
    const { alpha, beta, failover } = await pair();
    alpha.faults.set({ outage: true });
    expect(await codeOf(failover.createKey({ spec: 'AES_256' }))).toBe('PROVIDER_UNAVAILABLE');
    expect(await codeOf(failover.listKeys())).toBe('PROVIDER_UNAVAILABLE');
    const health = await failover.health();
    expect(health).toMatchObject({ ok: true, detail: '1/2 providers healthy' });
    beta.faults.set({ outage: true });
    expect((await failover.health()).ok).toBe(false);
    alpha.faults.reset();
    beta.faults.reset();
    await failover.close();
    expect(await codeOf(alpha.provider.health())).toBe('PROVIDER_UNAVAILABLE');
    expect(await codeOf(beta.provider.health())).toBe('PROVIDER_UNAVAILABLE');
  });

  it('sign / verify / getPublicKey fail over with the mapped key id', async () => {
    const alpha = createMemoryKmsProvider({ name: 'alpha' });
    const beta = createMemoryKmsProvider({ name: 'beta' });
    const a = await alpha.provider.createKey({ spec: 'ED25519' });
    const b = await beta.provider.createKey({ spec: 'ED25519' });
    const chain = withFailover([alpha.provider, { provider: beta.provider, mapKeyId: () => b.keyId }]);
    alpha.faults.set({ outage: true });
    const signature = await chain.sign({ keyId: a.keyId, data: Uint8Array.of(1) });
    expect(await chain.verify({ keyId: a.keyId, data: Uint8Array.of(1), signature: signature.signature })).toBe(true);
    expect((await chain.getPublicKey({ keyId: a.keyId })).equals(await beta.provider.getPublicKey({ keyId: b.keyId }))).toBe(true);
  });

  it('refuses an empty or oversized chain and non-providers', () => {
    const { provider } = createMemoryKmsProvider();
    expect(() => withFailover([])).toThrow(RangeError);
    expect(() => withFailover(Array.from({ length: 9 }, () => provider))).toThrow(RangeError);
    expect(() => withFailover([{} as never])).toThrow(TypeError);
    expect(() => withFailover('x' as never)).toThrow(TypeError);
  });
});

describe('withMetrics', () => {
  it('records provider, operation, ok, error code and latency for every call — and nothing else', async () => {
    const { provider } = createMemoryKmsProvider();
    const sink = new InMemoryMetricsSink();
    let t = 0;
    const measured = withMetrics(provider, sink, { now: () => (t += 5) });
    const key = await measured.createKey({ spec: 'AES_256' });
    await measured.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) });
    await codeOf(measured.describeKey('unknown'));
    expect(sink.records()).toEqual([
      { provider: 'memory', operation: 'createKey', ok: true, latencyMs: 5 },
      { provider: 'memory', operation: 'wrap', ok: true, latencyMs: 5 },
      { provider: 'memory', operation: 'describeKey', ok: false, errorCode: 'KMS_KEY_NOT_FOUND', latencyMs: 5 },
    ]);
    const describe = sink.summary().find((s) => s.operation === 'describeKey')!;
    expect(describe).toMatchObject({ calls: 1, errors: 1, errorsByCode: { KMS_KEY_NOT_FOUND: 1 } });
  });

  it('records non-fleetkey errors as UNKNOWN and survives a sink that throws', async () => {
    const { provider } = createMemoryKmsProvider({ fault: () => { throw new Error('boom'); } });
    const records: unknown[] = [];
    const measured = withMetrics(provider, { record: (r) => void records.push(r) });
    expect(await codeOf(measured.health())).toBe('Error');
    expect(records).toMatchObject([{ operation: 'health', ok: false, errorCode: 'UNKNOWN' }]);
    const broken = withMetrics(createMemoryKmsProvider().provider, { record: () => { throw new Error('sink down'); } });
    expect((await broken.health()).ok).toBe(true);
    expect(() => withMetrics(provider, {} as never)).toThrow(TypeError);
  });

  it('InMemoryMetricsSink keeps a bounded window, oldest first, and resets', () => {
    const sink = new InMemoryMetricsSink(3);
    for (let i = 0; i < 5; i++) sink.record({ provider: 'p', operation: 'wrap', ok: true, latencyMs: i });
    expect(sink.records().map((r) => r.latencyMs)).toEqual([2, 3, 4]);
    expect(sink.summary()[0]).toMatchObject({ calls: 5, totalLatencyMs: 10, maxLatencyMs: 4 });
    sink.reset();
    expect(sink.records()).toEqual([]);
    expect(() => new InMemoryMetricsSink(0)).toThrow(RangeError);
  });
});

describe('withDefaults', () => {
  it('timeout is per attempt: a hung first attempt is cut and retried', async () => {
    let calls = 0;
    const { provider } = createMemoryKmsProvider({
      fault: async (operation) => {
        if (operation === 'describeKey' && calls++ === 0) await new Promise((resolve) => setTimeout(resolve, 200));
      },
    });
    const key = await provider.createKey({ spec: 'AES_256' });
    const stack = withDefaults(provider, { timeout: { timeoutMs: 20 }, retry: { sleep: async () => undefined } });
    expect((await stack.describeKey(key.keyId)).keyId).toBe(key.keyId);
    expect(calls).toBe(2);
  });

  it('the cache sits above the circuit breaker: a cached public key is served while the circuit is open', async () => {
    const { provider, faults } = createMemoryKmsProvider();
    const key = await provider.createKey({ spec: 'ECDSA_P256' });
    const sink = new InMemoryMetricsSink();
    const { provider: stack, cache } = composeDefaults(provider, {
      retry: { maxRetries: 0 },
      circuitBreaker: { failureThreshold: 1 },
      metrics: sink,
    });
    const publicKey = await stack.getPublicKey({ keyId: key.keyId });
    faults.set({ outage: true });
    expect(await codeOf(stack.describeKey(key.keyId))).toBe('PROVIDER_UNAVAILABLE');
    expect(await codeOf(stack.describeKey(key.keyId))).toBe('CIRCUIT_OPEN');
    expect((await stack.getPublicKey({ keyId: key.keyId })).equals(publicKey)).toBe(true);
    expect(cache.stats().hits).toBe(1);
    // metrics outermost: one record per caller call, a cache hit included
    expect(sink.records().map((r) => r.errorCode ?? 'ok')).toEqual(['ok', 'PROVIDER_UNAVAILABLE', 'CIRCUIT_OPEN', 'ok']);
  });

  it('retries throttling below the breaker, so a recovered call does not count as a failure', async () => {
    let n = 0;
    const { provider } = createMemoryKmsProvider({
      fault: (operation) => {
        if (operation === 'listKeys' && n++ % 2 === 0) throw new Throttled({ provider: 'memory', operation });
      },
    });
    const guardedStack = composeDefaults(provider, { retry: { sleep: async () => undefined }, circuitBreaker: { failureThreshold: 1 } });
    for (let i = 0; i < 3; i++) expect(await codeOf(guardedStack.provider.listKeys())).toBe('NO_ERROR');
    expect(n).toBe(6);
  });

  it('keeps the inner name and refuses bad options', () => {
    const { provider } = createMemoryKmsProvider({ name: 'inner' });
    expect(withDefaults(provider).name).toBe('inner');
    expect(() => withDefaults(provider, { retry: { maxRetries: 99 } })).toThrow(RangeError);
    expect(withCache(provider).name).toBe('inner');
  });
});
