/**
 * The in-memory test provider itself: versions, disabled keys, fault injection, close.
 *
 * Trust boundary: none; test code.
 */
import { describe, expect, it } from 'vitest';
import { readEnvelopeHeader, verifySignature } from '@fleetkey/crypto';
import { AccessDenied } from '../errors.js';
import { codeOf, hex } from '../test-support.js';
import { createMemoryKmsProvider } from './memory-provider.js';

describe('createMemoryKmsProvider (test support)', () => {
  it('Precondition: a spec the provider does not offer is refused, never substituted', async () => {
    const { provider } = createMemoryKmsProvider({ supportedKeySpecs: ['AES_256'] });
    expect(await codeOf(provider.createKey({ spec: 'ED25519' }))).toBe('UNSUPPORTED_ALGORITHM');
    expect(await provider.listKeys()).toEqual([]);
  });

  it('numbers versions from 1, writes them into envelopes, and rotates', async () => {
    const { provider } = createMemoryKmsProvider();
    const key = await provider.createKey({ spec: 'AES_256', tags: { a: '1' } });
    expect(key.currentVersion).toBe(1);
    const v1 = await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) });
    expect(readEnvelopeHeader(v1).keyVersion).toBe(1);
    expect((await provider.rotateKey(key.keyId)).currentVersion).toBe(2);
    expect(readEnvelopeHeader(await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) })).keyVersion).toBe(2);
    expect(hex(await provider.unwrap({ envelope: v1 }))).toBe('01');
  });

  it('a disabled key refuses wrap, unwrap and sign with KEY_DISABLED', async () => {
    const memory = createMemoryKmsProvider();
    const aes = await memory.provider.createKey({ spec: 'AES_256' });
    const ec = await memory.provider.createKey({ spec: 'ECDSA_P256' });
    const envelope = await memory.provider.wrap({ keyId: aes.keyId, plaintext: Uint8Array.of(1) });
    memory.disableKey(aes.keyId);
    memory.disableKey(ec.keyId);
    expect((await memory.provider.describeKey(aes.keyId)).enabled).toBe(false);
    expect(await codeOf(memory.provider.wrap({ keyId: aes.keyId, plaintext: Uint8Array.of(1) }))).toBe('KEY_DISABLED');
    expect(await codeOf(memory.provider.unwrap({ envelope }))).toBe('KEY_DISABLED');
    expect(await codeOf(memory.provider.sign({ keyId: ec.keyId, data: Uint8Array.of(1) }))).toBe('KEY_DISABLED');
    memory.enableKey(aes.keyId);
    expect(hex(await memory.provider.unwrap({ envelope }))).toBe('01');
  });

  it('injects faults: outage, throttling and errors at a rate (injected randomness), latency; counts requests', async () => {
    let r = 0;
    const values = [0.1, 0.9];
    const memory = createMemoryKmsProvider({ random: () => values[r++ % 2]! });
    const key = await memory.provider.createKey({ spec: 'AES_256' });
    memory.faults.set({ throttleRate: 0.5 });
    expect(await codeOf(memory.provider.describeKey(key.keyId))).toBe('THROTTLED');
    expect(await codeOf(memory.provider.describeKey(key.keyId))).toBe('NO_ERROR');
    memory.faults.set({ errorRate: 0.5 });
    expect(await codeOf(memory.provider.describeKey(key.keyId))).toBe('PROVIDER_UNAVAILABLE');
    memory.faults.set({ outage: true });
    expect(await codeOf(memory.provider.health())).toBe('PROVIDER_UNAVAILABLE');
    memory.faults.set({ latencyMs: 40 });
    const started = performance.now();
    await memory.provider.describeKey(key.keyId);
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
    expect(memory.faults.requests).toBe(6);
    expect(() => memory.faults.set({ throttleRate: 2 })).toThrow(RangeError);
  });

  it('runs the fault hook once per request', async () => {
    const seen: string[] = [];
    const { provider } = createMemoryKmsProvider({
      fault: (operation, keyId) => {
        seen.push(`${operation}:${keyId ?? '-'}`);
        if (keyId === 'denied') throw new AccessDenied({ provider: 'memory', keyId, operation });
      },
    });
    expect(await codeOf(provider.describeKey('denied'))).toBe('ACCESS_DENIED');
    await provider.health();
    expect(seen).toEqual(['describeKey:denied', 'health:-']);
  });

  it('verify uses the requested version; a signature of another version does not verify', async () => {
    const { provider } = createMemoryKmsProvider();
    const key = await provider.createKey({ spec: 'ED25519' });
    const old = await provider.sign({ keyId: key.keyId, data: Uint8Array.of(1) });
    await provider.rotateKey(key.keyId);
    expect(await provider.verify({ keyId: key.keyId, data: Uint8Array.of(1), signature: old.signature })).toBe(false);
    expect(await provider.verify({ keyId: key.keyId, data: Uint8Array.of(1), signature: old.signature, keyVersion: 1 })).toBe(true);
    expect(verifySignature(await provider.getPublicKey({ keyId: key.keyId, keyVersion: 1 }), 'ED25519', Uint8Array.of(1), old.signature)).toBe(true);
    expect(await codeOf(provider.getPublicKey({ keyId: key.keyId, keyVersion: 3 }))).toBe('KMS_KEY_NOT_FOUND');
  });

  it('close() forgets every key and refuses further calls', async () => {
    const { provider } = createMemoryKmsProvider();
    await provider.createKey({ spec: 'AES_256' });
    await provider.close();
    expect(await codeOf(provider.listKeys())).toBe('PROVIDER_UNAVAILABLE');
  });
});
