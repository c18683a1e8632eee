/**
 * withCircuitBreaker (open, half-open probe, reset) and withCache (TTL, LRU, invalidation, data-key limits).
 *
 * Trust boundary: none; test code.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryKmsProvider } from '../testing/memory-provider.js';
import { codeOf, fakeClock, hex } from '../test-support.js';
import { withCache } from './cache.js';
import { withCircuitBreaker } from './circuit-breaker.js';

describe('withCircuitBreaker', () => {
  async function setup(failureThreshold = 2) {
    const clock = fakeClock();
    const memory = createMemoryKmsProvider();
    const key = await memory.provider.createKey({ spec: 'AES_256' });
    const breaker = withCircuitBreaker(memory.provider, { failureThreshold, resetAfterMs: 1_000, now: clock.now });
    return { ...memory, key, breaker, clock };
  }

  it('opens after failureThreshold consecutive availability failures, then fails fast without a request', async () => {
    const { faults, key, breaker } = await setup(2);
    faults.set({ outage: true });
    expect(await codeOf(breaker.describeKey(key.keyId))).toBe('PROVIDER_UNAVAILABLE');
    expect(breaker.circuitState()).toBe('closed');
    expect(await codeOf(breaker.describeKey(key.keyId))).toBe('PROVIDER_UNAVAILABLE');
    expect(breaker.circuitState()).toBe('open');
    faults.reset();
    const before = faults.requests;
    const refused = breaker.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) });
    await expect(refused).rejects.toMatchObject({ code: 'CIRCUIT_OPEN', provider: 'memory', keyId: key.keyId, operation: 'wrap', retryable: false });
    expect(faults.requests).toBe(before);
  });

  it('Precondition: an open circuit (or a half-open one whose probe is in flight) refuses the call', async () => {
    const { faults, key, breaker, clock } = await setup(1);
    faults.set({ outage: true });
    await codeOf(breaker.describeKey(key.keyId));
    expect(await codeOf(breaker.describeKey(key.keyId))).toBe('CIRCUIT_OPEN');
    clock.advance(1_000);
    expect(breaker.circuitState()).toBe('half-open');
    faults.set({ latencyMs: 30 });
    const probe = breaker.describeKey(key.keyId);
    expect(await codeOf(breaker.describeKey(key.keyId))).toBe('CIRCUIT_OPEN');
    expect((await probe).keyId).toBe(key.keyId);
    expect(breaker.circuitState()).toBe('closed');
  });

  it('a failed half-open probe opens the circuit for another resetAfterMs', async () => {
    const { faults, key, breaker, clock } = await setup(1);
    faults.set({ outage: true });
    await codeOf(breaker.describeKey(key.keyId));
    clock.advance(1_500);
    expect(await codeOf(breaker.describeKey(key.keyId))).toBe('PROVIDER_UNAVAILABLE');
    expect(breaker.circuitState()).toBe('open');
    clock.advance(999);
    expect(await codeOf(breaker.describeKey(key.keyId))).toBe('CIRCUIT_OPEN');
    clock.advance(1);
    faults.reset();
    expect(await codeOf(breaker.describeKey(key.keyId))).toBe('NO_ERROR');
    expect(breaker.circuitState()).toBe('closed');
  });

  it('business errors prove the provider answers: they reset the failure count', async () => {
    const { faults, key, breaker } = await setup(2);
    faults.set({ outage: true });
    await codeOf(breaker.describeKey(key.keyId));
    faults.reset();
    expect(await codeOf(breaker.describeKey('unknown'))).toBe('KMS_KEY_NOT_FOUND');
    faults.set({ outage: true });
    await codeOf(breaker.describeKey(key.keyId));
    expect(breaker.circuitState()).toBe('closed');
  });

  it('close() goes through an open circuit', async () => {
    const { faults, key, breaker } = await setup(1);
    faults.set({ outage: true });
    await codeOf(breaker.describeKey(key.keyId));
    expect(await codeOf(breaker.close())).toBe('NO_ERROR');
  });

  it('refuses options out of bounds', () => {
    const { provider } = createMemoryKmsProvider();
    expect(() => withCircuitBreaker(provider, { failureThreshold: 0 })).toThrow(RangeError);
    expect(() => withCircuitBreaker(provider, { resetAfterMs: 3_600_001 })).toThrow(RangeError);
  });
});

describe('withCache', () => {
  async function setup(options: Parameters<typeof withCache>[1] = {}) {
    const clock = fakeClock();
    const memory = createMemoryKmsProvider();
    const signKey = await memory.provider.createKey({ spec: 'ECDSA_P256' });
    const aesKey = await memory.provider.createKey({ spec: 'AES_256' });
    const cache = withCache(memory.provider, { now: clock.now, ...options });
    return { ...memory, signKey, aesKey, cache, clock };
  }

  it('answers a second getPublicKey / describeKey without a provider call', async () => {
    const { faults, signKey, cache } = await setup();
    const first = await cache.getPublicKey({ keyId: signKey.keyId });
    await cache.describeKey(signKey.keyId);
    const before = faults.requests;
    const second = await cache.getPublicKey({ keyId: signKey.keyId });
    await cache.describeKey(signKey.keyId);
    expect(second).toBe(first);
    expect(faults.requests).toBe(before);
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 2, entries: 2 });
  });

  it('serves concurrent misses with one provider call', async () => {
    const { faults, signKey, cache } = await setup();
    const before = faults.requests;
    await Promise.all([cache.describeKey(signKey.keyId), cache.describeKey(signKey.keyId), cache.describeKey(signKey.keyId)]);
    expect(faults.requests - before).toBe(1);
  });

  it('expires entries after ttlMs (default 300 s)', async () => {
    const { faults, signKey, cache, clock } = await setup();
    await cache.describeKey(signKey.keyId);
    clock.advance(299_999);
    let before = faults.requests;
    await cache.describeKey(signKey.keyId);
    expect(faults.requests).toBe(before);
    clock.advance(1);
    before = faults.requests;
    await cache.describeKey(signKey.keyId);
    expect(faults.requests - before).toBe(1);
  });

  it('is a size-bounded LRU', async () => {
    const { provider, faults, cache } = await setup({ maxEntries: 2 });
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => provider.createKey({ spec: 'AES_256' })));
    await cache.describeKey(a!.keyId);
    await cache.describeKey(b!.keyId);
    await cache.describeKey(a!.keyId); // a is now most recent
    await cache.describeKey(c!.keyId); // evicts b
    expect(cache.stats().entries).toBe(2);
    let before = faults.requests;
    await cache.describeKey(a!.keyId);
    expect(faults.requests).toBe(before);
    before = faults.requests;
    await cache.describeKey(b!.keyId);
    expect(faults.requests - before).toBe(1);
  });

  it('invalidate(keyId) drops that key, invalidate() drops everything', async () => {
    const { faults, signKey, aesKey, cache } = await setup();
    await cache.describeKey(signKey.keyId);
    await cache.getPublicKey({ keyId: signKey.keyId });
    await cache.describeKey(aesKey.keyId);
    cache.invalidate(signKey.keyId);
    expect(cache.stats().entries).toBe(1);
    const before = faults.requests;
    await cache.describeKey(aesKey.keyId);
    expect(faults.requests).toBe(before);
    cache.invalidate();
    expect(cache.stats().entries).toBe(0);
  });

  it('rotateKey invalidates the rotated key, so the new version is seen at once', async () => {
    const { signKey, cache } = await setup();
    const before = await cache.getPublicKey({ keyId: signKey.keyId });
    expect((await cache.describeKey(signKey.keyId)).currentVersion).toBe(1);
    await cache.rotateKey(signKey.keyId);
    expect((await cache.describeKey(signKey.keyId)).currentVersion).toBe(2);
    const after = await cache.getPublicKey({ keyId: signKey.keyId });
    expect(after.equals(before)).toBe(false);
    expect((await cache.getPublicKey({ keyId: signKey.keyId, keyVersion: 1 })).equals(before)).toBe(true);
  });

  it('never caches a failure', async () => {
    const { faults, signKey, cache } = await setup();
    faults.set({ outage: true });
    expect(await codeOf(cache.describeKey(signKey.keyId))).toBe('PROVIDER_UNAVAILABLE');
    faults.reset();
    expect((await cache.describeKey(signKey.keyId)).keyId).toBe(signKey.keyId);
  });

  it('data-key reuse is off by default: every generateDataKey is a provider call and a fresh key', async () => {
    const { faults, aesKey, cache } = await setup();
    const before = faults.requests;
    const a = await cache.generateDataKey({ keyId: aesKey.keyId });
    const b = await cache.generateDataKey({ keyId: aesKey.keyId });
    expect(faults.requests - before).toBe(2);
    expect(hex(a.plaintext)).not.toBe(hex(b.plaintext));
  });

  it('Precondition: data-key reuse needs BOTH a maximum age and a maximum use count', () => {
    const { provider } = createMemoryKmsProvider();
    expect(() => withCache(provider, { dataKeys: { maxAgeMs: 1000 } as never })).toThrow(RangeError);
    expect(() => withCache(provider, { dataKeys: { maxUses: 10 } as never })).toThrow(RangeError);
    expect(() => withCache(provider, { dataKeys: { maxAgeMs: 0, maxUses: 10 } })).toThrow(RangeError);
    expect(() => withCache(provider, { dataKeys: { maxAgeMs: 1000, maxUses: 0 } })).toThrow(RangeError);
    expect(() => withCache(provider, { dataKeys: { maxAgeMs: 3_600_001, maxUses: 10 } })).toThrow(RangeError);
    expect(() => withCache(provider, { dataKeys: { maxAgeMs: 1000, maxUses: 10 } })).not.toThrow();
  });

  it('reuses a data key at most maxUses times, hands out copies, and zeroizes its own copy when done', async () => {
    const { faults, aesKey, cache } = await setup({ dataKeys: { maxAgeMs: 60_000, maxUses: 3 } });
    const before = faults.requests;
    const uses = [];
    for (let i = 0; i < 4; i++) uses.push(await cache.generateDataKey({ keyId: aesKey.keyId, context: { a: '1' } }));
    expect(faults.requests - before).toBe(2);
    expect(hex(uses[1]!.plaintext)).toBe(hex(uses[0]!.plaintext));
    expect(hex(uses[2]!.plaintext)).toBe(hex(uses[0]!.plaintext));
    expect(hex(uses[3]!.plaintext)).not.toBe(hex(uses[0]!.plaintext));
    uses[1]!.plaintext.fill(0); // the caller zeroizes its copy; nobody else's changes
    expect(hex(uses[2]!.plaintext)).toBe(hex(uses[0]!.plaintext));
    expect(hex(await cache.unwrap({ envelope: uses[2]!.wrapped, context: { a: '1' } }))).toBe(hex(uses[0]!.plaintext));
    expect(cache.stats()).toMatchObject({ dataKeyHits: 2, dataKeyMisses: 2 });
  });

  it('drops a cached data key after maxAgeMs, and keys per (key id, context)', async () => {
    const { faults, aesKey, cache, clock } = await setup({ dataKeys: { maxAgeMs: 1_000, maxUses: 100 } });
    const a = await cache.generateDataKey({ keyId: aesKey.keyId, context: { a: '1' } });
    const other = await cache.generateDataKey({ keyId: aesKey.keyId, context: { a: '2' } });
    expect(hex(other.plaintext)).not.toBe(hex(a.plaintext));
    clock.advance(999);
    expect(hex((await cache.generateDataKey({ keyId: aesKey.keyId, context: { a: '1' } })).plaintext)).toBe(hex(a.plaintext));
    clock.advance(1);
    const before = faults.requests;
    expect(hex((await cache.generateDataKey({ keyId: aesKey.keyId, context: { a: '1' } })).plaintext)).not.toBe(hex(a.plaintext));
    expect(faults.requests - before).toBe(1);
    cache.invalidate(aesKey.keyId);
    expect(cache.stats().dataKeyEntries).toBe(0);
  });

  it('passes every other call straight through', async () => {
    const { aesKey, signKey, cache, faults } = await setup();
    const before = faults.requests;
    const envelope = await cache.wrap({ keyId: aesKey.keyId, plaintext: Uint8Array.of(3) });
    expect(hex(await cache.unwrap({ envelope }))).toBe('03');
    const signature = await cache.sign({ keyId: signKey.keyId, data: Uint8Array.of(1) });
    expect(await cache.verify({ keyId: signKey.keyId, data: Uint8Array.of(1), signature: signature.signature })).toBe(true);
    expect((await cache.listKeys()).length).toBe(2);
    expect((await cache.health()).ok).toBe(true);
    expect(faults.requests - before).toBe(6);
  });

  it('refuses options out of bounds', () => {
    const { provider } = createMemoryKmsProvider();
    expect(() => withCache(provider, { ttlMs: 0 })).toThrow(RangeError);
    expect(() => withCache(provider, { maxEntries: 100_001 })).toThrow(RangeError);
  });

});
