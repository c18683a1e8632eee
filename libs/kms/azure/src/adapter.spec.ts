/**
 * Azure adapter tests beyond the shared conformance suite, all through the real SDK against the
 * emulator: the credential flow and its refusals, access policies, disabled keys, bad
 * ciphertexts, faults without SDK retries, version numbering, key ids of other vaults, keys made
 * outside fleetkey, health, and the configuration checks.
 */
import { randomBytes } from 'node:crypto';
import { ClientSecretCredential } from '@azure/identity';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { KeyClient } from '@azure/keyvault-keys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, readEnvelopeHeader, verifySignature } from '@fleetkey/crypto';
import type { AzureKeyVaultEmulator } from '@fleetkey/kms-emulators';
import { azureKmsConfigFromEnv, validateAzureKmsConfig } from './config.js';
import { createAzureKmsProvider } from './create.js';
import type { AzureKmsProvider } from './provider.js';
import { emulatorConfig, startAzureAdapter } from './test-emulator.js';

const CONTEXT = { fleet: 'acme', purpose: 'azure-spec' };
const MESSAGE = new TextEncoder().encode('azure adapter');

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'NO_ERROR';
  } catch (error) {
    return String((error as { code?: unknown }).code ?? (error as Error).name);
  }
}

let emulator: AzureKeyVaultEmulator;
let provider: AzureKmsProvider;
let cleanup: () => Promise<void>;
let admin: KeyClient;

function keyName(keyId: string): string {
  return keyId.split('/').pop()!;
}

beforeAll(async () => {
  ({ emulator, provider, cleanup } = await startAzureAdapter({
    clients: [
      { clientId: 'fleetkey-app', clientSecret: 'app-secret-1' },
      { clientId: 'reader-app', clientSecret: 'reader-secret-1', permissions: ['get', 'list'] },
    ],
  }));
  // A second, plain SDK client for what the port does not offer (disabling keys, foreign keys).
  const config = emulatorConfig(emulator);
  admin = new KeyClient(
    emulator.url,
    new ClientSecretCredential(emulator.tenantId, emulator.clientId, emulator.clientSecret, {
      authorityHost: emulator.url,
      disableInstanceDiscovery: true,
      tlsOptions: { ca: config.caCertificatePem! },
    }),
    { tlsOptions: { ca: config.caCertificatePem! }, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } },
  );
}, 60_000);

afterAll(async () => {
  await cleanup();
});

describe('azure adapter: authentication and authorization', () => {
  it('runs the real client-secret flow: challenge, token endpoint, bearer', async () => {
    const key = await provider.createKey({ spec: 'ECDSA_P256', tags: { spec: 'auth' } });
    expect(key.keyId).toMatch(new RegExp(`^${emulator.url}/keys/fleetkey-ecdsa-p256-[0-9a-f]{16}$`));
    expect((await provider.describeKey(key.keyId)).spec).toBe('ECDSA_P256');
  });

  it('maps a wrong client secret (Entra invalid_client, AADSTS7000215) to ACCESS_DENIED', async () => {
    const bad = createAzureKmsProvider(emulatorConfig(emulator, { clientSecret: 'wrong-secret' }));
    const error = await bad.listKeys().catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('ACCESS_DENIED');
    expect(String((error as Error).message)).not.toContain('wrong-secret');
    await bad.close();
  });

  it('maps an unknown client (unauthorized_client) to ACCESS_DENIED', async () => {
    const bad = createAzureKmsProvider(emulatorConfig(emulator, { clientId: 'no-such-app' }));
    expect(await codeOf(bad.listKeys())).toBe('ACCESS_DENIED');
    await bad.close();
  });

  it('maps a token Key Vault does not accept (401 Unauthorized) to ACCESS_DENIED', async () => {
    const bogus: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: 'bogus-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const bad = createAzureKmsProvider({ ...emulatorConfig(emulator), credential: bogus });
    expect(await codeOf(bad.describeKey('anything'))).toBe('ACCESS_DENIED');
    await bad.close();
  });

  it('maps an access policy without the permission (403 ForbiddenByPolicy) to ACCESS_DENIED', async () => {
    const key = await provider.createKey({ spec: 'AES_256' });
    const reader = createAzureKmsProvider(emulatorConfig(emulator, { clientId: 'reader-app', clientSecret: 'reader-secret-1' }));
    expect((await reader.describeKey(key.keyId)).spec).toBe('AES_256');
    expect(await codeOf(reader.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) }))).toBe('ACCESS_DENIED');
    expect(await codeOf(reader.createKey({ spec: 'ECDSA_P256' }))).toBe('ACCESS_DENIED');
    await reader.close();
  }, 30_000);
});

describe('azure adapter: keys and envelopes', () => {
  it('AES_256 is an RSA-3072 wrap key; envelopes carry the versioned key id and the version number', async () => {
    const key = await provider.createKey({ spec: 'AES_256', tags: { team: 'ops' } });
    expect(key).toMatchObject({ spec: 'AES_256', purpose: 'encrypt', currentVersion: 1, tags: { team: 'ops' } });
    const jwk = (await admin.getKey(keyName(key.keyId))).key!;
    expect([jwk.kty, jwk.n?.length, jwk.keyOps]).toEqual(['RSA', 384, ['wrapKey', 'unwrapKey']]);
    const envelope = await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1, 2, 3), context: CONTEXT });
    const header = readEnvelopeHeader(envelope);
    expect(header).toMatchObject({ algorithm: 'KMS_AES_256_GCM', provider: 'azure', keyVersion: 1 });
    expect(header.keyId).toMatch(new RegExp(`^${key.keyId}/[0-9a-f]{32}$`));
    expect(header.encapsulatedKey.length).toBe(384);
    const rotated = await provider.rotateKey(key.keyId);
    expect(rotated.currentVersion).toBe(2);
    const after = readEnvelopeHeader(await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(4) }));
    expect(after.keyVersion).toBe(2);
    expect(after.keyId).not.toBe(header.keyId);
    expect(Array.from(await provider.unwrap({ envelope, context: CONTEXT }))).toEqual([1, 2, 3]);
  }, 30_000);

  it('a tampered encapsulated key is refused by Key Vault (400 BadParameter) as INVALID_CIPHERTEXT', async () => {
    const key = await provider.createKey({ spec: 'AES_256' });
    const envelope = decodeEnvelope(await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(7) }));
    const encapsulatedKey = Uint8Array.from(envelope.encapsulatedKey);
    encapsulatedKey[100]! ^= 0x01;
    expect(await codeOf(provider.unwrap({ envelope: encodeEnvelope({ ...envelope, encapsulatedKey }) }))).toBe('INVALID_CIPHERTEXT');
    const short = encodeEnvelope({ ...envelope, encapsulatedKey: Uint8Array.of(1, 2, 3) });
    expect(await codeOf(provider.unwrap({ envelope: short }))).toBe('INVALID_CIPHERTEXT');
  }, 30_000);

  it('a disabled key (403 Forbidden / KeyDisabled) is KEY_DISABLED for wrap, unwrap and sign', async () => {
    const wrapKey = await provider.createKey({ spec: 'AES_256' });
    const signKey = await provider.createKey({ spec: 'ECDSA_P384' });
    const envelope = await provider.wrap({ keyId: wrapKey.keyId, plaintext: Uint8Array.of(1) });
    await provider.sign({ keyId: signKey.keyId, data: MESSAGE });
    await admin.updateKeyProperties(keyName(wrapKey.keyId), { enabled: false });
    await admin.updateKeyProperties(keyName(signKey.keyId), { enabled: false });
    expect(await codeOf(provider.wrap({ keyId: wrapKey.keyId, plaintext: Uint8Array.of(1) }))).toBe('KEY_DISABLED');
    expect(await codeOf(provider.unwrap({ envelope }))).toBe('KEY_DISABLED');
    expect(await codeOf(provider.sign({ keyId: signKey.keyId, data: MESSAGE }))).toBe('KEY_DISABLED');
    expect((await provider.describeKey(wrapKey.keyId)).enabled).toBe(false);
  }, 30_000);

  it('Precondition: the key id is a key name or a key URL of the configured vault', async () => {
    const before = emulator.faults.requests;
    for (const keyId of ['https://evil.example/keys/k', `${emulator.url}/secrets/k`, `${emulator.url}/keys/bad_name`, 'not a name', `${emulator.url}/keys/k?x=1`]) {
      expect([keyId, await codeOf(provider.describeKey(keyId))]).toEqual([keyId, 'KMS_KEY_NOT_FOUND']);
    }
    expect(emulator.faults.requests).toBe(before);
    expect(await codeOf(provider.describeKey(42 as unknown as string))).toBe('TypeError');
  });

  it('Precondition: the envelope names a key of the configured vault (our token goes nowhere else)', async () => {
    const key = await provider.createKey({ spec: 'AES_256' });
    const envelope = decodeEnvelope(await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) }));
    const before = emulator.faults.requests;
    const elsewhere = encodeEnvelope({ ...envelope, keyId: envelope.keyId.replace(emulator.url, 'https://attacker.example') });
    expect(await codeOf(provider.unwrap({ envelope: elsewhere }))).toBe('KMS_KEY_NOT_FOUND');
    expect(emulator.faults.requests).toBe(before);
  }, 30_000);

  it('Precondition: only encrypt-purpose keys (RSA-3072 wrap keys) wrap.', async () => {
    const ec = await provider.createKey({ spec: 'ECDSA_P256' });
    expect(await codeOf(provider.wrap({ keyId: ec.keyId, plaintext: Uint8Array.of(1) }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOf(provider.generateDataKey({ keyId: ec.keyId }))).toBe('INVALID_KEY_USAGE');
  });

  it('Precondition: only signing keys sign, and only with an algorithm their key can make.', async () => {
    const ec = await provider.createKey({ spec: 'ECDSA_P256' });
    const aes = await provider.createKey({ spec: 'AES_256' });
    expect(await codeOf(provider.sign({ keyId: aes.keyId, data: MESSAGE }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOf(provider.sign({ keyId: ec.keyId, data: MESSAGE, algorithm: 'ECDSA_P384_SHA384' }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOf(provider.sign({ keyId: ec.keyId, data: MESSAGE, algorithm: 'RSA_PSS_SHA256' }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOf(provider.sign({ keyId: ec.keyId, data: MESSAGE, algorithm: 'ED25519' }))).toBe('UNSUPPORTED_ALGORITHM');
  }, 30_000);

  it('Precondition: an unsupported spec is refused as UNSUPPORTED_ALGORITHM, never substituted.', async () => {
    const before = emulator.faults.requests;
    expect(await codeOf(provider.createKey({ spec: 'ED25519' }))).toBe('UNSUPPORTED_ALGORITHM');
    expect(await codeOf(provider.createKey({ spec: 'AES_128' as never }))).toBe('UNSUPPORTED_ALGORITHM');
    expect(emulator.faults.requests).toBe(before);
    expect(await codeOf(provider.createKey({ spec: 'ECDSA_P256', tags: { 'fleetkey-version': '9' } }))).toBe('RangeError');
  });

  it('a key made outside fleetkey has version 0 and still signs; unusable key types are UNSUPPORTED_ALGORITHM', async () => {
    const name = `outside-${randomBytes(4).toString('hex')}`;
    await admin.createKey(name, 'EC', { curve: 'P-521' });
    const described = await provider.describeKey(name);
    expect(described).toMatchObject({ spec: 'ECDSA_P521', purpose: 'sign', currentVersion: 0, keyId: `${emulator.url}/keys/${name}` });
    const signature = await provider.sign({ keyId: name, data: MESSAGE });
    expect(signature.keyVersion).toBe(0);
    expect(verifySignature(await provider.getPublicKey({ keyId: name }), signature.algorithm, MESSAGE, signature.signature)).toBe(true);
    const k1 = `outside-k1-${randomBytes(4).toString('hex')}`;
    await admin.createKey(k1, 'EC', { curve: 'P-256K' });
    expect(await codeOf(provider.describeKey(k1))).toBe('UNSUPPORTED_ALGORITHM');
    expect((await provider.listKeys()).some((k) => k.keyId.endsWith(`/${k1}`))).toBe(false);
  }, 30_000);

  it('verify takes a version number; an unknown number is KMS_KEY_NOT_FOUND', async () => {
    const key = await provider.createKey({ spec: 'RSA_2048' });
    const first = await provider.sign({ keyId: key.keyId, data: MESSAGE, algorithm: 'RSA_PSS_SHA256' });
    await provider.rotateKey(key.keyId);
    expect(await provider.verify({ keyId: key.keyId, data: MESSAGE, signature: first.signature, algorithm: 'RSA_PSS_SHA256', keyVersion: 1 })).toBe(true);
    expect(await provider.verify({ keyId: key.keyId, data: MESSAGE, signature: first.signature, algorithm: 'RSA_PSS_SHA256', keyVersion: 2 })).toBe(false);
    expect(await codeOf(provider.getPublicKey({ keyId: key.keyId, keyVersion: 7 }))).toBe('KMS_KEY_NOT_FOUND');
  }, 30_000);
});

describe('azure adapter: faults (SDK retries off; core owns retries)', () => {
  it('429 Throttled is THROTTLED after exactly one request', async () => {
    const key = await provider.createKey({ spec: 'AES_256' });
    await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) });
    const before = emulator.faults.requests;
    emulator.faults.set({ throttleRate: 1 });
    try {
      expect(await codeOf(provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) }))).toBe('THROTTLED');
    } finally {
      emulator.faults.reset();
    }
    expect(emulator.faults.requests - before).toBe(1);
  }, 30_000);

  it('503 ServiceUnavailable and a dropped connection are PROVIDER_UNAVAILABLE; health says not ok', async () => {
    expect((await provider.health()).ok).toBe(true);
    for (const fault of [{ errorRate: 1 }, { outage: true }]) {
      emulator.faults.set(fault);
      try {
        expect(await codeOf(provider.listKeys())).toBe('PROVIDER_UNAVAILABLE');
        const health = await provider.health();
        expect(health.ok).toBe(false);
        expect(health.detail).toBe('PROVIDER_UNAVAILABLE');
      } finally {
        emulator.faults.reset();
      }
    }
  });
});

describe('azure adapter: configuration', () => {
  it('reports every problem at once, naming the settings and never the secret', () => {
    let error: unknown;
    try {
      validateAzureKmsConfig({ vaultUrl: 'http://vault/path', tenantId: 't', clientSecret: 'super-secret', authorityHost: 'ftp://x', keyInfoTtlMs: -1 });
    } catch (e) {
      error = e;
    }
    expect((error as { code: string }).code).toBe('INVALID_CONFIG');
    expect((error as { problems: string[] }).problems).toHaveLength(4);
    expect(String((error as Error).message)).not.toContain('super-secret');
  });

  it('reads the Azure SDK variables from an env object', () => {
    expect(
      azureKmsConfigFromEnv({
        AZURE_KEY_VAULT_URL: 'https://my-vault.vault.azure.net',
        AZURE_TENANT_ID: 'tenant',
        AZURE_CLIENT_ID: 'client',
        AZURE_CLIENT_SECRET: 'secret',
      }),
    ).toMatchObject({ vaultUrl: 'https://my-vault.vault.azure.net', tenantId: 'tenant', clientId: 'client', clientSecret: 'secret' });
    expect(() => azureKmsConfigFromEnv({})).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    // Without a client secret the adapter falls back to DefaultAzureCredential.
    expect(azureKmsConfigFromEnv({ AZURE_KEY_VAULT_URL: 'https://v.vault.azure.net' }).clientSecret).toBeUndefined();
    expect(createAzureKmsProvider(azureKmsConfigFromEnv({ AZURE_KEY_VAULT_URL: 'https://v.vault.azure.net' })).name).toBe('azure');
  });
});
