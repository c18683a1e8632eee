/**
 * AWS adapter behaviour beyond the shared conformance suite, through the real SDK against the
 * emulator: each vendor error (unknown key, wrong key usage, disabled key, bad ciphertext, missing
 * or invalid auth, denied permission) arrives as its KmsError code; aliases work and envelopes
 * name the key ARN; the context is bound at AWS as EncryptionContext; the SDK does not retry;
 * configuration problems are all reported at once.
 */
import { CreateAliasCommand, DecryptCommand, DeleteAliasCommand, UpdateAliasCommand, DisableKeyCommand, EnableKeyCommand, KMSClient, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { decodeEnvelope, encodeEnvelope, readEnvelopeHeader, verifySignature } from '@fleetkey/crypto';
import { isFleetkeyError } from '@fleetkey/key-types';
import { AWS_TEST_CREDENTIALS, startAwsKmsEmulator } from '@fleetkey/kms-emulators';
import type { AwsKmsEmulator } from '@fleetkey/kms-emulators';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsKmsProvider, validateAwsKmsConfig } from './index.js';
import type { AwsKmsProvider } from './index.js';

let emulator: AwsKmsEmulator;
let provider: AwsKmsProvider;
let admin: KMSClient;

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'NO_ERROR';
  } catch (error) {
    return isFleetkeyError(error) ? error.code : `${(error as Error).name}: ${(error as Error).message}`;
  }
}

function adapterWith(credentials: { accessKeyId: string; secretAccessKey: string }): AwsKmsProvider {
  return createAwsKmsProvider({ region: emulator.region, endpoint: emulator.url, credentials });
}

beforeAll(async () => {
  emulator = await startAwsKmsEmulator({
    port: 0,
    credentials: [{ ...AWS_TEST_CREDENTIALS }, { accessKeyId: 'AKIADESCRIBEONLY0000', secretAccessKey: 'describe-only-secret-key', allow: ['DescribeKey', 'ListResourceTags'] }],
  });
  provider = adapterWith({ ...AWS_TEST_CREDENTIALS });
  admin = new KMSClient({ region: emulator.region, endpoint: emulator.url, credentials: { ...AWS_TEST_CREDENTIALS }, maxAttempts: 1 });
});

afterAll(async () => {
  admin.destroy();
  await provider.close();
  await emulator.close();
});

describe('AWS adapter', () => {
  it('key ids are ARNs and versions are 0; envelopes name the ARN even when wrapped through an alias', async () => {
    const key = await provider.createKey({ spec: 'AES_256', tags: { app: 'alias-test' } });
    expect(key.keyId).toMatch(/^arn:aws:kms:us-east-1:111122223333:key\/[0-9a-f-]{36}$/);
    expect(key.currentVersion).toBe(0);
    await admin.send(new CreateAliasCommand({ AliasName: 'alias/fleet-store', TargetKeyId: key.keyId }));
    const envelope = await provider.wrap({ keyId: 'alias/fleet-store', plaintext: Uint8Array.of(1, 2), context: { fleet: 'a' } });
    const header = readEnvelopeHeader(envelope);
    expect(header).toMatchObject({ provider: 'aws', keyId: key.keyId, keyVersion: 0 });
    expect(Buffer.from(await provider.unwrap({ envelope, context: { fleet: 'a' } })).toString('hex')).toBe('0102');
    expect((await provider.describeKey('alias/fleet-store')).keyId).toBe(key.keyId);
    const rotated = await provider.rotateKey('alias/fleet-store');
    expect(rotated.keyId).toBe(key.keyId);
    expect(Buffer.from(await provider.unwrap({ envelope, context: { fleet: 'a' } })).toString('hex')).toBe('0102');
  });

  it('an alias retargeted to a key of another spec signs with the new key\'s default algorithm', async () => {
    const [p256, p384] = [await provider.createKey({ spec: 'ECDSA_P256' }), await provider.createKey({ spec: 'ECDSA_P384' })];
    await admin.send(new CreateAliasCommand({ AliasName: 'alias/fleet-ca', TargetKeyId: p256.keyId }));
    expect((await provider.sign({ keyId: 'alias/fleet-ca', data: Uint8Array.of(1) })).algorithm).toBe('ECDSA_P256_SHA256');
    await admin.send(new UpdateAliasCommand({ AliasName: 'alias/fleet-ca', TargetKeyId: p384.keyId }));
    const signed = await provider.sign({ keyId: 'alias/fleet-ca', data: Uint8Array.of(1) });
    expect(signed.algorithm).toBe('ECDSA_P384_SHA384');
    expect(verifySignature(await provider.getPublicKey({ keyId: p384.keyId }), signed.algorithm, Uint8Array.of(1), signed.signature)).toBe(true);
    await admin.send(new DeleteAliasCommand({ AliasName: 'alias/fleet-ca' }));
    expect(await codeOf(provider.sign({ keyId: 'alias/fleet-ca', data: Uint8Array.of(1) }))).toBe('KMS_KEY_NOT_FOUND');
  });

  it('the CEK is bound to the context at AWS too: Decrypt of the encapsulated key without it fails', async () => {
    const key = await provider.createKey({ spec: 'AES_256' });
    const envelope = await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(9), context: { fleet: 'a' } });
    const { encapsulatedKey } = decodeEnvelope(envelope);
    await expect(admin.send(new DecryptCommand({ CiphertextBlob: encapsulatedKey }))).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    const ok = await admin.send(new DecryptCommand({ CiphertextBlob: encapsulatedKey, EncryptionContext: { fleet: 'a' } }));
    expect(ok.Plaintext).toHaveLength(32);
  });

  it('an envelope relabelled to another existing key is INVALID_CIPHERTEXT (AWS IncorrectKeyException)', async () => {
    const [a, b] = [await provider.createKey({ spec: 'AES_256' }), await provider.createKey({ spec: 'AES_256' })];
    const envelope = await provider.wrap({ keyId: a.keyId, plaintext: Uint8Array.of(1) });
    const relabelled = encodeEnvelope({ ...decodeEnvelope(envelope), keyId: b.keyId });
    expect(await codeOf(provider.unwrap({ envelope: relabelled }))).toBe('INVALID_CIPHERTEXT');
  });

  it('unknown key -> KMS_KEY_NOT_FOUND (AWS NotFoundException 404), by key id, ARN and alias', async () => {
    expect(await codeOf(provider.describeKey('00000000-0000-4000-8000-000000000000'))).toBe('KMS_KEY_NOT_FOUND');
    expect(await codeOf(provider.wrap({ keyId: 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000', plaintext: Uint8Array.of(1) }))).toBe('KMS_KEY_NOT_FOUND');
    expect(await codeOf(provider.sign({ keyId: 'alias/nothing-here', data: Uint8Array.of(1), algorithm: 'ECDSA_P256_SHA256' }))).toBe('KMS_KEY_NOT_FOUND');
  });

  it('Precondition: wrong key usage -> INVALID_KEY_USAGE (AWS InvalidKeyUsageException), also for an algorithm the key cannot make', async () => {
    const ec = await provider.createKey({ spec: 'ECDSA_P256' });
    const aes = await provider.createKey({ spec: 'AES_256' });
    expect(await codeOf(provider.sign({ keyId: ec.keyId, data: Uint8Array.of(1), algorithm: 'RSA_PSS_SHA256' }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOf(provider.sign({ keyId: aes.keyId, data: Uint8Array.of(1), algorithm: 'ECDSA_P256_SHA256' }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOf(provider.sign({ keyId: aes.keyId, data: Uint8Array.of(1) }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOf(provider.generateDataKey({ keyId: ec.keyId }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOf(provider.getPublicKey({ keyId: aes.keyId }))).toBe('UNSUPPORTED_ALGORITHM');
  });

  it('disabled key -> KEY_DISABLED (AWS DisabledException 409); pending deletion -> KEY_DISABLED (KMSInvalidStateException)', async () => {
    const key = await provider.createKey({ spec: 'AES_256' });
    const envelope = await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(5) });
    await admin.send(new DisableKeyCommand({ KeyId: key.keyId }));
    expect((await provider.describeKey(key.keyId)).enabled).toBe(false);
    expect(await codeOf(provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(5) }))).toBe('KEY_DISABLED');
    expect(await codeOf(provider.unwrap({ envelope }))).toBe('KEY_DISABLED');
    await admin.send(new EnableKeyCommand({ KeyId: key.keyId }));
    expect(Buffer.from(await provider.unwrap({ envelope })).toString('hex')).toBe('05');
    await admin.send(new ScheduleKeyDeletionCommand({ KeyId: key.keyId, PendingWindowInDays: 7 }));
    expect(await codeOf(provider.unwrap({ envelope }))).toBe('KEY_DISABLED');
    expect((await provider.listKeys({ limit: 1000 })).map((k) => k.keyId)).not.toContain(key.keyId);
  });

  it('bad ciphertext -> INVALID_CIPHERTEXT (AWS InvalidCiphertextException) with the fixed message', async () => {
    const key = await provider.createKey({ spec: 'AES_256' });
    const envelope = await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(5), context: { a: 'b' } });
    const decoded = decodeEnvelope(envelope);
    const broken = Uint8Array.from(decoded.encapsulatedKey);
    broken[broken.length - 1]! ^= 1;
    try {
      await provider.unwrap({ envelope: encodeEnvelope({ ...decoded, encapsulatedKey: broken }), context: { a: 'b' } });
      expect.unreachable('unwrap should fail');
    } catch (error) {
      expect(isFleetkeyError(error, 'INVALID_CIPHERTEXT')).toBe(true);
      expect((error as Error).message).toBe('invalid ciphertext');
    }
  });

  it('Precondition: invalid or unknown credentials -> ACCESS_DENIED (AWS InvalidSignatureException / UnrecognizedClientException)', async () => {
    const wrongSecret = adapterWith({ accessKeyId: AWS_TEST_CREDENTIALS.accessKeyId, secretAccessKey: 'definitely-not-the-secret' });
    const unknown = adapterWith({ accessKeyId: 'AKIAUNKNOWNPRINCIPAL', secretAccessKey: AWS_TEST_CREDENTIALS.secretAccessKey });
    try {
      expect(await codeOf(wrongSecret.listKeys())).toBe('ACCESS_DENIED');
      expect(await codeOf(unknown.describeKey('alias/x'))).toBe('ACCESS_DENIED');
      const health = await wrongSecret.health();
      expect(health).toMatchObject({ ok: false, detail: 'ACCESS_DENIED' });
    } finally {
      await wrongSecret.close();
      await unknown.close();
    }
  });

  it('missing credentials (the SDK chain finds none) -> ACCESS_DENIED', async () => {
    const key = await provider.createKey({ spec: 'AES_256' });
    const client = new KMSClient({
      region: emulator.region,
      endpoint: emulator.url,
      maxAttempts: 1,
      credentials: async () => {
        throw Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
      },
    });
    const anonymous = createAwsKmsProvider({}, { client });
    try {
      expect(await codeOf(anonymous.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) }))).toBe('ACCESS_DENIED');
    } finally {
      await anonymous.close();
      client.destroy();
    }
  });

  it('a principal the policy does not allow -> ACCESS_DENIED (AWS AccessDeniedException)', async () => {
    const key = await provider.createKey({ spec: 'AES_256' });
    const limited = adapterWith({ accessKeyId: 'AKIADESCRIBEONLY0000', secretAccessKey: 'describe-only-secret-key' });
    try {
      expect((await limited.describeKey(key.keyId)).keyId).toBe(key.keyId);
      expect(await codeOf(limited.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) }))).toBe('ACCESS_DENIED');
    } finally {
      await limited.close();
    }
  });

  it('the SDK does not retry: one throttled request is one THROTTLED error (core withRetry owns retries)', async () => {
    const key = await provider.createKey({ spec: 'AES_256' });
    const before = emulator.faults.requests;
    try {
      emulator.faults.set({ throttleRate: 1 });
      expect(await codeOf(provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) }))).toBe('THROTTLED');
      emulator.faults.set({ errorRate: 1 });
      expect(await codeOf(provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) }))).toBe('PROVIDER_UNAVAILABLE');
    } finally {
      emulator.faults.reset();
    }
    expect(emulator.faults.requests - before).toBe(2);
  });

  it('health reports an outage as ok: false without throwing', async () => {
    try {
      emulator.faults.set({ outage: true });
      expect(await provider.health()).toMatchObject({ ok: false, detail: 'PROVIDER_UNAVAILABLE' });
    } finally {
      emulator.faults.reset();
    }
    expect((await provider.health()).ok).toBe(true);
  });

  it('Ed25519 signs the RAW message (up to 4096 bytes) and verifies with node:crypto', async () => {
    const key = await provider.createKey({ spec: 'ED25519' });
    const data = new Uint8Array(4096).fill(7);
    const signed = await provider.sign({ keyId: key.keyId, data });
    expect(signed).toMatchObject({ algorithm: 'ED25519', keyVersion: 0 });
    expect(verifySignature(await provider.getPublicKey({ keyId: key.keyId }), 'ED25519', data, signed.signature)).toBe(true);
    await expect(provider.sign({ keyId: key.keyId, data: new Uint8Array(4097) })).rejects.toBeInstanceOf(RangeError);
    expect(await provider.verify({ keyId: key.keyId, data: new Uint8Array(4097), signature: signed.signature })).toBe(false);
  });

  it('Precondition: an empty or oversized signature verifies false without a KMS call', async () => {
    const key = await provider.createKey({ spec: 'ECDSA_P256' });
    await provider.sign({ keyId: key.keyId, data: Uint8Array.of(1) });
    const before = emulator.faults.requests;
    expect(await provider.verify({ keyId: key.keyId, data: Uint8Array.of(1), signature: new Uint8Array(0) })).toBe(false);
    expect(await provider.verify({ keyId: key.keyId, data: Uint8Array.of(1), signature: new Uint8Array(6145) })).toBe(false);
    expect(emulator.faults.requests).toBe(before);
  });

  it('Precondition: a key spec the port does not know is refused with UNSUPPORTED_ALGORITHM before any call', async () => {
    const before = emulator.faults.requests;
    expect(await codeOf(provider.createKey({ spec: 'HMAC_256' as never }))).toBe('UNSUPPORTED_ALGORITHM');
    expect(emulator.faults.requests).toBe(before);
  });

  it('misuse is a TypeError naming the argument', async () => {
    await expect(provider.wrap({ keyId: '', plaintext: Uint8Array.of(1) })).rejects.toThrow(/"keyId"/);
    await expect(provider.wrap({ keyId: 'alias/x', plaintext: 'text' as never })).rejects.toThrow(/"plaintext"/);
  });
});

describe('AWS adapter configuration', () => {
  it('accepts an empty config (the SDK chains decide) and a full one', () => {
    expect(validateAwsKmsConfig({})).toEqual({});
    expect(validateAwsKmsConfig({ region: 'eu-west-1', endpoint: 'https://kms.eu-west-1.amazonaws.com', profile: 'fleet', requestTimeoutMs: 5000 })).toMatchObject({ region: 'eu-west-1' });
  });

  it('reports every problem at once, without echoing the secret', () => {
    try {
      validateAwsKmsConfig({
        region: 'Mars',
        endpoint: 'ftp://x',
        credentials: { accessKeyId: 'lower', secretAccessKey: 'short-secret' },
        profile: 'p',
        requestTimeoutMs: -1,
        colour: 'blue',
      } as never);
      expect.unreachable('validation should fail');
    } catch (error) {
      expect(isFleetkeyError(error, 'INVALID_CONFIG')).toBe(true);
      const problems = (error as { problems: string[] }).problems;
      expect(problems.length).toBe(7);
      expect((error as Error).message).not.toContain('short-secret');
    }
  });

  it('createAwsKmsProvider builds a client that owns its lifecycle', async () => {
    const own = createAwsKmsProvider({ region: 'eu-west-1', endpoint: emulator.url, credentials: { ...AWS_TEST_CREDENTIALS } });
    expect(own.name).toBe('aws');
    expect(own.supportedKeySpecs).toContain('ED25519');
    await own.close();
  });
});
