/**
 * The Google Cloud KMS adapter through the real `@google-cloud/kms` SDK against the emulator:
 * round trips, rotation, signatures, every error the service answers, and the CRC32C checks.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEnvelopeHeader, verifySignature } from '@fleetkey/crypto';
import type { KmsProvider } from '@fleetkey/kms-core';
import { emulatedGcp, TEST_PROJECT } from './test-support.js';
import type { EmulatedGcp } from './test-support.js';

let gcp: EmulatedGcp;
let kms: KmsProvider;

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { code: string }).code;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  gcp = await emulatedGcp({
    tokens: {
      'fleetkey-gcp-emulator-token': ['roles/cloudkms.admin', 'roles/cloudkms.cryptoKeyEncrypterDecrypter', 'roles/cloudkms.signerVerifier'],
      'viewer-only': ['roles/cloudkms.viewer'],
    },
  });
  kms = gcp.provider();
});

afterAll(async () => {
  await gcp?.cleanup();
});

describe('gcp adapter: keys', () => {
  it('creates the key ring on demand and a symmetric key with tags, version 1', async () => {
    expect((await kms.health()).detail).toBe('key ring not created yet');
    const key = await kms.createKey({ spec: 'AES_256', tags: { fleet: 'alpha', env: 'test' } });
    expect(key).toMatchObject({ provider: 'gcp', spec: 'AES_256', purpose: 'encrypt', enabled: true, currentVersion: 1, tags: { fleet: 'alpha', env: 'test' } });
    expect(key.keyId).toMatch(new RegExp(`^projects/${TEST_PROJECT}/locations/global/keyRings/ring-[0-9-]+/cryptoKeys/fk-`));
    expect(key.createdAt).toBeInstanceOf(Date);
    expect(await kms.describeKey(key.keyId)).toEqual(key);
    const health = await kms.health();
    expect(health.ok).toBe(true);
    expect(health.detail).toBeUndefined();
  });

  it('lists keys filtered by tag and purpose', async () => {
    const p = gcp.provider();
    const a = await p.createKey({ spec: 'AES_256', tags: { group: 'a' } });
    const s = await p.createKey({ spec: 'ECDSA_P256', tags: { group: 'a' } });
    await p.createKey({ spec: 'AES_256', tags: { group: 'b' } });
    expect((await p.listKeys({ tags: { group: 'a' } })).map((k) => k.keyId).sort()).toEqual([a.keyId, s.keyId].sort());
    expect((await p.listKeys({ tags: { group: 'a' }, purpose: 'sign' })).map((k) => k.keyId)).toEqual([s.keyId]);
    expect(await p.listKeys({ limit: 1 })).toHaveLength(1);
    expect(await gcp.provider().listKeys()).toEqual([]);
  });

  it('Precondition: an unsupported spec is refused, never substituted (ECDSA_P521: Cloud KMS has none)', async () => {
    expect(kms.supportedKeySpecs).not.toContain('ECDSA_P521');
    expect(await codeOf(kms.createKey({ spec: 'ECDSA_P521' }))).toBe('UNSUPPORTED_ALGORITHM');
  });

  it('refuses tags Cloud KMS labels cannot hold, before any call', async () => {
    const before = gcp.emulator.faults.requests;
    await expect(kms.createKey({ spec: 'AES_256', tags: { Fleet: 'x' } })).rejects.toThrow(RangeError);
    expect(gcp.emulator.faults.requests).toBe(before);
  });

  it('accepts a bare crypto key id relative to the configured key ring', async () => {
    const key = await kms.createKey({ spec: 'AES_256' });
    const bare = key.keyId.slice(key.keyId.lastIndexOf('/') + 1);
    expect((await kms.describeKey(bare)).keyId).toBe(key.keyId);
  });
});

describe('gcp adapter: wrap / unwrap', () => {
  it('round-trips with a context, binds the context at Cloud KMS (AAD) and in the envelope', async () => {
    const key = await kms.createKey({ spec: 'AES_256' });
    const plaintext = new TextEncoder().encode('fleet master secret');
    const envelope = await kms.wrap({ keyId: key.keyId, plaintext, context: { device: 'r-1' } });
    const header = readEnvelopeHeader(envelope);
    expect(header).toMatchObject({ provider: 'gcp', keyId: key.keyId, keyVersion: 1, algorithm: 'KMS_AES_256_GCM' });
    expect(Uint8Array.from(await kms.unwrap({ envelope, context: { device: 'r-1' } }))).toEqual(plaintext);
    expect(await codeOf(kms.unwrap({ envelope, context: { device: 'r-2' } }))).toBe('INVALID_CIPHERTEXT');
  });

  it('a tampered encapsulated key is INVALID_CIPHERTEXT (Cloud KMS INVALID_ARGUMENT)', async () => {
    const key = await kms.createKey({ spec: 'AES_256' });
    const envelope = await kms.wrap({ keyId: key.keyId, plaintext: new Uint8Array([1, 2, 3]) });
    const header = readEnvelopeHeader(envelope);
    // Flip the last byte of the encapsulated key (Cloud KMS ciphertext) inside the envelope.
    const at = Buffer.from(envelope).indexOf(Buffer.from(header.encapsulatedKey)) + header.encapsulatedKey.length - 1;
    const tampered = Uint8Array.from(envelope);
    tampered[at]! ^= 1;
    expect(await codeOf(kms.unwrap({ envelope: tampered }))).toBe('INVALID_CIPHERTEXT');
  });

  it('rotation: the new version wraps, old envelopes still unwrap', async () => {
    const key = await kms.createKey({ spec: 'AES_256' });
    const old = await kms.wrap({ keyId: key.keyId, plaintext: new Uint8Array([1]) });
    const rotated = await kms.rotateKey(key.keyId);
    expect(rotated.currentVersion).toBe(2);
    const fresh = await kms.wrap({ keyId: key.keyId, plaintext: new Uint8Array([2]) });
    expect(readEnvelopeHeader(fresh).keyVersion).toBe(2);
    expect(Uint8Array.from(await kms.unwrap({ envelope: old }))).toEqual(new Uint8Array([1]));
    expect(Uint8Array.from(await kms.unwrap({ envelope: fresh }))).toEqual(new Uint8Array([2]));
  });

  it('generateDataKey returns 32 bytes and their envelope', async () => {
    const key = await kms.createKey({ spec: 'AES_256' });
    const dk = await kms.generateDataKey({ keyId: key.keyId, context: { purpose: 'epoch' } });
    expect(dk.plaintext).toHaveLength(32);
    expect(Uint8Array.from(await kms.unwrap({ envelope: dk.wrapped, context: { purpose: 'epoch' } }))).toEqual(dk.plaintext);
  });

  it('Precondition: the envelope names a Cloud KMS CryptoKey; anything else is never sent', async () => {
    const key = await kms.createKey({ spec: 'AES_256' });
    const envelope = await kms.wrap({ keyId: key.keyId, plaintext: new Uint8Array([1]) });
    // Same length as the real name so the header stays well-formed, but not a resource name.
    const bogus = Buffer.from(envelope);
    const at = bogus.indexOf(Buffer.from(key.keyId));
    bogus.write('x'.repeat(key.keyId.length), at, 'latin1');
    const before = gcp.emulator.faults.requests;
    expect(await codeOf(kms.unwrap({ envelope: bogus }))).toBe('INVALID_CIPHERTEXT');
    expect(gcp.emulator.faults.requests).toBe(before);
  });
});

describe('gcp adapter: signing', () => {
  const data = new TextEncoder().encode('lockdown fleet alpha');
  it.each(['ECDSA_P256', 'ECDSA_P384', 'ED25519', 'RSA_2048'] as const)('%s signs; the signature verifies with node:crypto and the public key alone', async (spec) => {
    const key = await kms.createKey({ spec });
    expect(key.purpose).toBe('sign');
    const sig = await kms.sign({ keyId: key.keyId, data });
    expect(sig.keyVersion).toBe(1);
    const pub = await kms.getPublicKey({ keyId: key.keyId });
    expect(verifySignature(pub, sig.algorithm, data, sig.signature)).toBe(true);
    expect(await kms.verify({ keyId: key.keyId, data, signature: sig.signature })).toBe(true);
    expect(await kms.verify({ keyId: key.keyId, data: new Uint8Array([0]), signature: sig.signature })).toBe(false);
  });

  it('Precondition: a Cloud KMS version signs with one algorithm; another is refused, not substituted (PSS key asked for PKCS1)', async () => {
    const p = gcp.provider({ rsaSignaturePadding: 'PSS' });
    const key = await p.createKey({ spec: 'RSA_2048' });
    const sig = await p.sign({ keyId: key.keyId, data, algorithm: 'RSA_PSS_SHA256' });
    expect(sig.algorithm).toBe('RSA_PSS_SHA256');
    expect(verifySignature(await p.getPublicKey({ keyId: key.keyId }), 'RSA_PSS_SHA256', data, sig.signature)).toBe(true);
    expect(await codeOf(p.sign({ keyId: key.keyId, data, algorithm: 'RSA_PKCS1_SHA256' }))).toBe('UNSUPPORTED_ALGORITHM');
  });

  it('rotation: the new version signs, the old signature still verifies at its version', async () => {
    const key = await kms.createKey({ spec: 'ECDSA_P256' });
    const old = await kms.sign({ keyId: key.keyId, data });
    const rotated = await kms.rotateKey(key.keyId);
    expect(rotated.currentVersion).toBe(2);
    const fresh = await kms.sign({ keyId: key.keyId, data });
    expect(fresh.keyVersion).toBe(2);
    expect(await kms.verify({ keyId: key.keyId, data, signature: old.signature, keyVersion: 1 })).toBe(true);
    expect(await kms.verify({ keyId: key.keyId, data, signature: fresh.signature })).toBe(true);
    expect(verifySignature(await kms.getPublicKey({ keyId: key.keyId, keyVersion: 1 }), old.algorithm, data, old.signature)).toBe(true);
  });

  it('the digest sent is the algorithm hash of the message (P-384 uses SHA-384)', async () => {
    const key = await kms.createKey({ spec: 'ECDSA_P384' });
    const sig = await kms.sign({ keyId: key.keyId, data });
    expect(sig.algorithm).toBe('ECDSA_P384_SHA384');
    expect(createHash('sha384').update(data).digest()).toHaveLength(48);
  });
});

// The conformance suite runs without RSA (conformance.spec.ts says why); this is its RSA part.
describe('gcp adapter: RSA (every size, each padding on its own key)', () => {
  const data = new TextEncoder().encode('fleet CA: issue robot-7');
  it.each([
    ['RSA_2048', 'PKCS1', 'RSA_PKCS1_SHA256', 'RSA_PSS_SHA256'],
    ['RSA_3072', 'PKCS1', 'RSA_PKCS1_SHA256', 'RSA_PSS_SHA256'],
    ['RSA_4096', 'PKCS1', 'RSA_PKCS1_SHA256', 'RSA_PSS_SHA256'],
    ['RSA_2048', 'PSS', 'RSA_PSS_SHA256', 'RSA_PKCS1_SHA256'],
    ['RSA_3072', 'PSS', 'RSA_PSS_SHA256', 'RSA_PKCS1_SHA256'],
    ['RSA_4096', 'PSS', 'RSA_PSS_SHA256', 'RSA_PKCS1_SHA256'],
  ] as const)('%s with %s padding signs %s (verified by node:crypto with the public key alone) and refuses %s', async (spec, padding, algorithm, other) => {
    const p = gcp.provider({ rsaSignaturePadding: padding });
    const key = await p.createKey({ spec, tags: { suite: 'rsa' } });
    expect(key).toMatchObject({ spec, purpose: 'sign', enabled: true, currentVersion: 1 });
    const publicKey = await p.getPublicKey({ keyId: key.keyId });
    expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(Number(spec.slice(4)));
    for (const requested of [undefined, algorithm] as const) {
      const sig = await p.sign({ keyId: key.keyId, data, ...(requested ? { algorithm: requested } : {}) });
      expect(sig.algorithm).toBe(algorithm);
      expect(verifySignature(publicKey, algorithm, data, sig.signature)).toBe(true);
      expect(verifySignature(publicKey, algorithm, new Uint8Array([1]), sig.signature)).toBe(false);
      expect(await p.verify({ keyId: key.keyId, data, signature: sig.signature, algorithm })).toBe(true);
    }
    expect(await codeOf(p.sign({ keyId: key.keyId, data, algorithm: other }))).toBe('UNSUPPORTED_ALGORITHM');
    expect(await codeOf(p.verify({ keyId: key.keyId, data, signature: new Uint8Array(1), algorithm: other }))).toBe('UNSUPPORTED_ALGORITHM');
  }, 60_000);

  it('RSA rotation: the old version still verifies', async () => {
    const key = await kms.createKey({ spec: 'RSA_2048' });
    const old = await kms.sign({ keyId: key.keyId, data });
    expect((await kms.rotateKey(key.keyId)).currentVersion).toBe(2);
    expect((await kms.sign({ keyId: key.keyId, data })).keyVersion).toBe(2);
    expect(verifySignature(await kms.getPublicKey({ keyId: key.keyId, keyVersion: 1 }), old.algorithm, data, old.signature)).toBe(true);
    expect(await kms.verify({ keyId: key.keyId, data, signature: old.signature, keyVersion: 1 })).toBe(true);
  }, 60_000);

  it('a provider restricted by keySpecs refuses the rest with UNSUPPORTED_ALGORITHM', async () => {
    const p = gcp.provider({ keySpecs: ['AES_256'] });
    expect(p.supportedKeySpecs).toEqual(['AES_256']);
    expect(await codeOf(p.createKey({ spec: 'RSA_2048' }))).toBe('UNSUPPORTED_ALGORITHM');
  });
});

describe('gcp adapter: errors as Cloud KMS answers them', () => {
  it('unknown key -> KMS_KEY_NOT_FOUND (NOT_FOUND), and a malformed key id without a call', async () => {
    await kms.createKey({ spec: 'AES_256' });
    expect(await codeOf(kms.describeKey('fk-does-not-exist'))).toBe('KMS_KEY_NOT_FOUND');
    expect(await codeOf(kms.wrap({ keyId: 'fk-does-not-exist', plaintext: new Uint8Array(1) }))).toBe('KMS_KEY_NOT_FOUND');
    const before = gcp.emulator.faults.requests;
    expect(await codeOf(kms.describeKey('../../etc/passwd'))).toBe('KMS_KEY_NOT_FOUND');
    expect(gcp.emulator.faults.requests).toBe(before);
  });

  it('wrong key usage -> INVALID_KEY_USAGE (FAILED_PRECONDITION told apart from a disabled key)', async () => {
    const signing = await kms.createKey({ spec: 'ECDSA_P256' });
    const symmetric = await kms.createKey({ spec: 'AES_256' });
    expect(await codeOf(kms.wrap({ keyId: signing.keyId, plaintext: new Uint8Array(1) }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOf(kms.sign({ keyId: symmetric.keyId, data: new Uint8Array(1) }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOf(kms.getPublicKey({ keyId: symmetric.keyId, keyVersion: 1 }))).toBe('INVALID_KEY_USAGE');
  });

  it('disabled key -> KEY_DISABLED for wrap, unwrap and sign', async () => {
    const { KeyManagementServiceClient } = await import('@google-cloud/kms');
    const { credentials } = await import('@grpc/grpc-js');
    const admin = new KeyManagementServiceClient({ apiEndpoint: gcp.emulator.host, port: gcp.emulator.port, sslCreds: credentials.createInsecure(), projectId: TEST_PROJECT, universeDomain: 'googleapis.com' });
    const auth = { retry: null, otherArgs: { headers: { authorization: 'Bearer fleetkey-gcp-emulator-token' } } };
    const disable = (name: string) => admin.updateCryptoKeyVersion({ cryptoKeyVersion: { name: `${name}/cryptoKeyVersions/1`, state: 'DISABLED' }, updateMask: { paths: ['state'] } }, auth);
    try {
      const sym = await kms.createKey({ spec: 'AES_256' });
      const envelope = await kms.wrap({ keyId: sym.keyId, plaintext: new Uint8Array(1) });
      const signing = await kms.createKey({ spec: 'ECDSA_P256' });
      await disable(sym.keyId);
      await disable(signing.keyId);
      expect(await codeOf(kms.wrap({ keyId: sym.keyId, plaintext: new Uint8Array(1) }))).toBe('KEY_DISABLED');
      expect(await codeOf(kms.unwrap({ envelope }))).toBe('KEY_DISABLED');
      expect(await codeOf(kms.sign({ keyId: signing.keyId, data: new Uint8Array(1) }))).toBe('KEY_DISABLED');
      expect((await kms.describeKey(sym.keyId)).enabled).toBe(false);
      expect((await kms.describeKey(signing.keyId)).enabled).toBe(false);
    } finally {
      await admin.close();
    }
  });

  it('missing credentials -> ACCESS_DENIED (UNAUTHENTICATED); a role without the permission -> ACCESS_DENIED (PERMISSION_DENIED)', async () => {
    const key = await kms.createKey({ spec: 'AES_256' });
    const anonymous = gcp.provider({ keyRing: 'anon' }, null);
    expect(await codeOf(anonymous.describeKey(key.keyId))).toBe('ACCESS_DENIED');
    expect((await anonymous.health()).ok).toBe(false);
    const viewer = gcp.provider({}, 'viewer-only');
    expect((await viewer.describeKey(key.keyId)).keyId).toBe(key.keyId);
    expect(await codeOf(viewer.wrap({ keyId: key.keyId, plaintext: new Uint8Array(1) }))).toBe('ACCESS_DENIED');
  });

  it('throttling -> THROTTLED (retryable); outage -> PROVIDER_UNAVAILABLE (retryable); one attempt each (SDK retries off)', async () => {
    const key = await kms.createKey({ spec: 'AES_256' });
    try {
      gcp.emulator.faults.set({ throttleRate: 1 });
      let before = gcp.emulator.faults.requests;
      const throttled = await kms.wrap({ keyId: key.keyId, plaintext: new Uint8Array(1) }).catch((e: unknown) => e as { code: string; retryable: boolean });
      expect(throttled).toMatchObject({ code: 'THROTTLED', retryable: true, provider: 'gcp', operation: 'wrap' });
      expect(gcp.emulator.faults.requests - before).toBe(1);
      gcp.emulator.faults.set({ outage: true });
      before = gcp.emulator.faults.requests;
      expect(await codeOf(kms.describeKey(key.keyId))).toBe('PROVIDER_UNAVAILABLE');
      expect(gcp.emulator.faults.requests - before).toBe(1);
      expect((await kms.health()).ok).toBe(false);
    } finally {
      gcp.emulator.faults.reset();
    }
  });

  it('an unreachable endpoint -> PROVIDER_UNAVAILABLE', async () => {
    const p = gcp.provider({ endpoint: 'http://127.0.0.1:1', callTimeoutMs: 2000 });
    expect(['PROVIDER_UNAVAILABLE', 'TIMEOUT']).toContain(await codeOf(p.describeKey('fk-x')));
  });
});

describe('gcp adapter: CRC32C integrity (Google data-integrity guidelines)', () => {
  it.each(['checksum', 'unverified'] as const)('Postcondition: the data we are about to use is the data the service sent (%s tampering -> retryable PROVIDER_UNAVAILABLE)', async (mode) => {
    const key = await kms.createKey({ spec: 'AES_256' });
    const signing = await kms.createKey({ spec: 'ECDSA_P256' });
    const envelope = await kms.wrap({ keyId: key.keyId, plaintext: new Uint8Array([1]) });
    try {
      gcp.emulator.setResponseTamper(mode);
      const wrap = await kms.wrap({ keyId: key.keyId, plaintext: new Uint8Array([1]) }).catch((e: unknown) => e as { code: string; retryable: boolean });
      expect(wrap).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryable: true });
      expect(await codeOf(kms.sign({ keyId: signing.keyId, data: new Uint8Array([1]) }))).toBe('PROVIDER_UNAVAILABLE');
      if (mode === 'checksum') {
        expect(await codeOf(kms.unwrap({ envelope }))).toBe('PROVIDER_UNAVAILABLE');
        expect(await codeOf(kms.getPublicKey({ keyId: signing.keyId, keyVersion: 1 }))).toBe('PROVIDER_UNAVAILABLE');
      }
    } finally {
      gcp.emulator.setResponseTamper('none');
    }
    expect(Uint8Array.from(await kms.unwrap({ envelope }))).toEqual(new Uint8Array([1]));
  });
});

describe('gcp adapter: asymmetric versions are PENDING_GENERATION first (as on Google Cloud)', () => {
  it('createKey and rotateKey wait until the new version is generated; signing meanwhile is retryable', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const slow = await emulatedGcp({ clock: () => new Date(clock), generationDelayMs: 3000 });
    try {
      const sleeps: number[] = [];
      const p = slow.provider({}, undefined, {
        sleep: async (ms) => {
          sleeps.push(ms);
          clock += ms;
        },
      });
      const key = await p.createKey({ spec: 'ECDSA_P256' });
      expect(key).toMatchObject({ enabled: true, currentVersion: 1 });
      expect(sleeps.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3000);
      expect(sleeps[0]).toBe(50);
      expect((await p.sign({ keyId: key.keyId, data: new Uint8Array([1]) })).keyVersion).toBe(1);
      sleeps.length = 0;
      expect((await p.rotateKey(key.keyId)).currentVersion).toBe(2);
      expect(sleeps.length).toBeGreaterThan(0);

      // A key made elsewhere moments ago: nothing ENABLED yet -> retryable PROVIDER_UNAVAILABLE.
      const other = slow.provider({}, undefined, { sleep: async () => {} , now: () => 0 });
      const { KeyManagementServiceClient } = await import('@google-cloud/kms');
      const { credentials } = await import('@grpc/grpc-js');
      const admin = new KeyManagementServiceClient({ apiEndpoint: slow.emulator.host, port: slow.emulator.port, sslCreds: credentials.createInsecure(), projectId: TEST_PROJECT, universeDomain: 'googleapis.com' });
      try {
        const auth = { retry: null, otherArgs: { headers: { authorization: 'Bearer fleetkey-gcp-emulator-token' } } };
        const ring = key.keyId.slice(0, key.keyId.indexOf('/cryptoKeys/'));
        const [fresh] = await admin.createCryptoKey({ parent: ring, cryptoKeyId: 'fresh', cryptoKey: { purpose: 'ASYMMETRIC_SIGN', versionTemplate: { algorithm: 'EC_SIGN_P256_SHA256' } } }, auth);
        const error = await other.sign({ keyId: fresh.name!, data: new Uint8Array([1]) }).catch((e: unknown) => e as { code: string; retryable: boolean });
        expect(error).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryable: true });
        clock += 3000;
        expect((await other.sign({ keyId: fresh.name!, data: new Uint8Array([1]) })).keyVersion).toBe(1);
      } finally {
        await admin.close();
      }
    } finally {
      await slow.cleanup();
    }
  });
});
