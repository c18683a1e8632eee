/**
 * The `kms` protector over a KMS provider (kms-core's in-memory provider: real AES-GCM under real keys): round trip,
 * binding to the store, one outcome for every "does not open", KMS errors passed through, and the
 * KeyStore conformance suite with a store protected by it.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '@fleetkey/crypto';
import type { KmsProvider } from '@fleetkey/kms-core';
import { createMemoryKmsProvider, type MemoryKms } from '@fleetkey/kms-core/testing';
import { SecureKeyStore, type KeyStore } from '../index.js';
import { runKeyStoreConformance } from '../testing.js';
import { TempDirs } from '../test-support/temp-dir.js';
import { kmsProtector } from './kms.js';
import type { ProtectorDescriptor } from './types.js';

async function codeOfAsync(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).name;
  }
  return undefined;
}

const storeDirs = new TempDirs();
let provider: KmsProvider;
let memoryKms: MemoryKms;
let keyId: string;

beforeAll(async () => {
  // The in-memory provider of kms-core's testing entry does real AES-GCM under real keys; the
  // keystore may not import an adapter, and the protector only sees the KmsProvider port.
  memoryKms = createMemoryKmsProvider();
  provider = memoryKms.provider;
  keyId = (await provider.createKey({ spec: 'AES_256', tags: { use: 'keystore' } })).keyId;
});

afterAll(async () => {
  await provider.close();
  storeDirs.removeAll();
});

describe('kms protector', () => {
  it('wraps a random store key with the KMS key and unlocks it; the descriptor names provider, key and store', async () => {
    const protector = kmsProtector({ provider, keyId, store: 'robot-7' });
    const { storeKey, descriptor } = await protector.create();
    expect(storeKey).toHaveLength(32);
    expect(descriptor).toMatchObject({ kind: 'kms', provider: 'memory', keyId, store: 'robot-7' });
    const envelope = decodeEnvelope(Buffer.from(descriptor['wrappedStoreKey'] as string, 'base64'));
    expect(envelope).toMatchObject({ algorithm: 'KMS_AES_256_GCM', provider: 'memory', keyId });
    expect(Buffer.from(await protector.unlock(descriptor)).equals(Buffer.from(storeKey))).toBe(true);
  });

  it('still unlocks after the KMS key was rotated (the envelope names its version)', async () => {
    const own = (await provider.createKey({ spec: 'AES_256' })).keyId;
    const protector = kmsProtector({ provider, keyId: own, store: 'robot-7' });
    const { storeKey, descriptor } = await protector.create();
    await provider.rotateKey(own);
    expect(Buffer.from(await protector.unlock(descriptor)).equals(Buffer.from(storeKey))).toBe(true);
  });

  describe('one outcome for every unlock that does not open', () => {
    let base: ProtectorDescriptor;
    it.each([
      ['another store name', (d: ProtectorDescriptor) => d, 'robot-8'],
      [
        'a flipped bit in the wrap',
        (d: ProtectorDescriptor) => {
          const bytes = Buffer.from(d['wrappedStoreKey'] as string, 'base64');
          bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
          return { ...d, wrappedStoreKey: bytes.toString('base64') };
        },
        'robot-7',
      ],
      ['a wrap that is not an envelope', (d: ProtectorDescriptor) => ({ ...d, wrappedStoreKey: Buffer.alloc(60, 1).toString('base64') }), 'robot-7'],
    ])('%s -> STORE_KEY_INVALID', async (_title, tamper, store) => {
      base ??= (await kmsProtector({ provider, keyId, store: 'robot-7' }).create()).descriptor;
      const error = await kmsProtector({ provider, keyId, store }).unlock(tamper(base)).catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('STORE_KEY_INVALID');
    });
  });

  it.each([
    ['another kind', { kind: 'passphrase' }],
    ['a malformed provider', { provider: 'Not A Provider' }],
    ['a missing key id', { keyId: undefined }],
    ['a non-canonical wrap', { wrappedStoreKey: '!!!!' }],
    ['an oversized wrap', { wrappedStoreKey: Buffer.alloc(3073).toString('base64') }],
    ['a key id the envelope does not name', { keyId: 'some-other-key' }],
  ])('a malformed descriptor (%s) is STORE_CORRUPT', async (_title, change) => {
    const protector = kmsProtector({ provider, keyId, store: 'robot-7' });
    const { descriptor } = await protector.create();
    expect(await codeOfAsync(protector.unlock({ ...descriptor, ...change } as unknown as ProtectorDescriptor))).toBe('STORE_CORRUPT');
  });

  it('Precondition: the store is unlocked through a provider of the name that wrapped its key', async () => {
    const protector = kmsProtector({ provider, keyId, store: 'robot-7' });
    const { descriptor } = await protector.create();
    // The same key service under another name, as if the sidecar came from an AWS-protected store.
    const aws = { name: 'aws', wrap: provider.wrap.bind(provider), unwrap: provider.unwrap.bind(provider) } as unknown as KmsProvider;
    expect(await codeOfAsync(kmsProtector({ provider: aws, keyId, store: 'robot-7' }).unlock(descriptor))).toBe('STORE_CORRUPT');
  });

  it('Precondition: the envelope names the provider and key the descriptor records', async () => {
    const other = (await provider.createKey({ spec: 'AES_256' })).keyId;
    const protector = kmsProtector({ provider, keyId, store: 'robot-7' });
    const { descriptor } = await protector.create();
    const fromOther = (await kmsProtector({ provider, keyId: other, store: 'robot-7' }).create()).descriptor;
    expect(await codeOfAsync(protector.unlock({ ...descriptor, wrappedStoreKey: fromOther['wrappedStoreKey']! }))).toBe('STORE_CORRUPT');
  });

  it('KMS errors pass through: a disabled key is KEY_DISABLED, an unknown key KMS_KEY_NOT_FOUND', async () => {
    const own = (await provider.createKey({ spec: 'AES_256' })).keyId;
    const protector = kmsProtector({ provider, keyId: own, store: 'robot-7' });
    const { descriptor } = await protector.create();
    memoryKms.disableKey(own);
    expect(await codeOfAsync(protector.unlock(descriptor))).toBe('KEY_DISABLED');
    expect(await codeOfAsync(kmsProtector({ provider, keyId: '00000000-0000-4000-8000-000000000000', store: 'x' }).create())).toBe('KMS_KEY_NOT_FOUND');
  });

  it('refuses a missing provider, key id or store name (TypeError)', () => {
    expect(() => kmsProtector({ provider: undefined as never, keyId, store: 's' })).toThrow(TypeError);
    expect(() => kmsProtector({ provider, keyId: '', store: 's' })).toThrow(TypeError);
    expect(() => kmsProtector({ provider, keyId, store: 'has space' })).toThrow(TypeError);
  });
});

const paths = new WeakMap<KeyStore, string>();

runKeyStoreConformance({
  name: 'SecureKeyStore (kms protector, in-memory KMS provider)',
  async create({ now }) {
    const dir = storeDirs.make();
    const store = await SecureKeyStore.create(path.join(dir, 'keys.db'), kmsProtector({ provider, keyId, store: dir }), { now });
    paths.set(store, dir);
    return store;
  },
  async reopen(store, { now }) {
    store.close();
    const dir = paths.get(store)!;
    const reopened = await SecureKeyStore.open(path.join(dir, 'keys.db'), kmsProtector({ provider, keyId, store: dir }), { now });
    paths.set(reopened, dir);
    return reopened;
  },
  cleanup: () => storeDirs.removeAll(),
});
