import { describe, expect, it } from 'vitest';
import { readEnvelopeHeader } from '@fleetkey/crypto';
import { isFleetkeyError } from '@fleetkey/key-types';
import { rewrapEnvelope } from './rewrap.js';
import { createMemoryKmsProvider } from './testing/memory-provider.js';

const context = { fleet: 'acme', purpose: 'epoch' };

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'NO_ERROR';
  } catch (error) {
    return isFleetkeyError(error) ? error.code : String(error);
  }
}

describe('rewrapEnvelope', () => {
  it('moves wrapped material onto the key version made by a rotation, keeping the plaintext and context', async () => {
    const { provider } = createMemoryKmsProvider();
    const key = await provider.createKey({ spec: 'AES_256' });
    const secret = Uint8Array.from({ length: 32 }, (_, i) => i);
    const old = await provider.wrap({ keyId: key.keyId, plaintext: secret, context });
    const rotated = await provider.rotateKey(key.keyId);
    const fresh = await rewrapEnvelope(provider, { envelope: old, keyId: key.keyId, context });
    expect(readEnvelopeHeader(old).keyVersion).toBe(key.currentVersion);
    expect(readEnvelopeHeader(fresh).keyVersion).toBe(rotated.currentVersion);
    expect(rotated.currentVersion).toBeGreaterThan(key.currentVersion);
    expect(Buffer.from(await provider.unwrap({ envelope: fresh, context }))).toEqual(Buffer.from(secret));
  });

  it('moves wrapped material onto another key', async () => {
    const { provider } = createMemoryKmsProvider();
    const from = await provider.createKey({ spec: 'AES_256' });
    const to = await provider.createKey({ spec: 'AES_256' });
    const secret = new Uint8Array(32).fill(9);
    const moved = await rewrapEnvelope(provider, { envelope: await provider.wrap({ keyId: from.keyId, plaintext: secret, context }), keyId: to.keyId, context });
    expect(readEnvelopeHeader(moved).keyId).toContain(to.keyId);
    expect(Buffer.from(await provider.unwrap({ envelope: moved, context }))).toEqual(Buffer.from(secret));
  });

  it('refuses a wrong context or a tampered envelope and wraps nothing', async () => {
    const { provider, faults } = createMemoryKmsProvider();
    const key = await provider.createKey({ spec: 'AES_256' });
    const envelope = await provider.wrap({ keyId: key.keyId, plaintext: new Uint8Array(32), context });
    const before = faults.requests;
    expect(await codeOf(rewrapEnvelope(provider, { envelope, keyId: key.keyId, context: { ...context, purpose: 'other' } }))).toBe('INVALID_CIPHERTEXT');
    const tampered = Uint8Array.from(envelope);
    tampered[tampered.length - 1]! ^= 1;
    expect(await codeOf(rewrapEnvelope(provider, { envelope: tampered, keyId: key.keyId, context }))).toBe('INVALID_CIPHERTEXT');
    // Two failed unwraps, no wrap: the request count grew by the unwrap attempts only.
    expect(faults.requests - before).toBeLessThanOrEqual(2);
  });
});
