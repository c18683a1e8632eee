/**
 * The AWS KMS emulator driven by the real @aws-sdk/client-kms (no mocks): every operation the
 * adapter uses and the ones the brief lists, the real error types and HTTP statuses, SigV4
 * enforcement, aliases, rotation and the symmetric ciphertext's binding to key and context.
 */
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyRotationStatusCommand,
  GetPublicKeyCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  ReEncryptCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import type { KeySpec, SigningAlgorithmSpec } from '@aws-sdk/client-kms';
import { AWS_TEST_CREDENTIALS, startAwsKmsEmulator } from '@fleetkey/kms-emulators';
import type { AwsKmsEmulator } from '@fleetkey/kms-emulators';
import { constants, createHash, createPublicKey, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let emulator: AwsKmsEmulator;
let kms: KMSClient;

function client(credentials = { ...AWS_TEST_CREDENTIALS }, region = 'us-east-1'): KMSClient {
  return new KMSClient({ region, endpoint: emulator.url, credentials, maxAttempts: 1 });
}

async function failure(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

async function symmetricKey(): Promise<string> {
  const out = await kms.send(new CreateKeyCommand({}));
  return out.KeyMetadata!.KeyId!;
}

beforeAll(async () => {
  emulator = await startAwsKmsEmulator({ port: 0, credentials: [{ ...AWS_TEST_CREDENTIALS }, { accessKeyId: 'AKIAREADONLY0000TEST', secretAccessKey: 'read-only-secret-key-for-tests', allow: ['DescribeKey'] }] });
  kms = client();
});

afterAll(async () => {
  kms.destroy();
  await emulator.close();
});

describe('AWS KMS emulator through @aws-sdk/client-kms', () => {
  it('CreateKey / DescribeKey / ListKeys / ListResourceTags', async () => {
    const created = await kms.send(new CreateKeyCommand({ Description: 'd', Tags: [{ TagKey: 'fleet', TagValue: 'f1' }] }));
    const meta = created.KeyMetadata!;
    expect(meta.KeySpec).toBe('SYMMETRIC_DEFAULT');
    expect(meta.KeyUsage).toBe('ENCRYPT_DECRYPT');
    expect(meta.KeyState).toBe('Enabled');
    expect(meta.Arn).toBe(`arn:aws:kms:us-east-1:111122223333:key/${meta.KeyId}`);
    expect(meta.CreationDate).toBeInstanceOf(Date);
    const described = await kms.send(new DescribeKeyCommand({ KeyId: meta.Arn }));
    expect(described.KeyMetadata!.KeyId).toBe(meta.KeyId);
    const listed = await kms.send(new ListKeysCommand({}));
    expect(listed.Keys!.map((k) => k.KeyId)).toContain(meta.KeyId);
    const tags = await kms.send(new ListResourceTagsCommand({ KeyId: meta.KeyId }));
    expect(tags.Tags).toEqual([{ TagKey: 'fleet', TagValue: 'f1' }]);
  });

  it('ListKeys pages with Limit and Marker', async () => {
    await symmetricKey();
    await symmetricKey();
    const first = await kms.send(new ListKeysCommand({ Limit: 1 }));
    expect(first.Keys).toHaveLength(1);
    expect(first.Truncated).toBe(true);
    const second = await kms.send(new ListKeysCommand({ Limit: 1, Marker: first.NextMarker! }));
    expect(second.Keys![0]!.KeyId).not.toBe(first.Keys![0]!.KeyId);
    expect(await failure(kms.send(new ListKeysCommand({ Marker: '!!' })))).toEqual({ name: 'InvalidMarkerException', status: 400 });
  });

  it('aliases resolve wherever a key id is accepted for use', async () => {
    const keyId = await symmetricKey();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/fleet-root', TargetKeyId: keyId }));
    const aliases = await kms.send(new ListAliasesCommand({ KeyId: keyId }));
    expect(aliases.Aliases!.map((a) => a.AliasName)).toEqual(['alias/fleet-root']);
    const described = await kms.send(new DescribeKeyCommand({ KeyId: 'alias/fleet-root' }));
    expect(described.KeyMetadata!.KeyId).toBe(keyId);
    const arnAlias = 'arn:aws:kms:us-east-1:111122223333:alias/fleet-root';
    const enc = await kms.send(new EncryptCommand({ KeyId: arnAlias, Plaintext: Buffer.from('x') }));
    expect(enc.KeyId).toBe(described.KeyMetadata!.Arn);
    expect(await failure(kms.send(new CreateAliasCommand({ AliasName: 'alias/fleet-root', TargetKeyId: keyId })))).toEqual({ name: 'AlreadyExistsException', status: 400 });
    expect(await failure(kms.send(new DescribeKeyCommand({ KeyId: 'alias/missing' })))).toEqual({ name: 'NotFoundException', status: 404 });
  });

  it('Precondition: alias names start with alias/, and alias/aws/ is reserved (InvalidAliasNameException)', async () => {
    const keyId = await symmetricKey();
    for (const AliasName of ['alias/aws/reserved', 'fleet-root', 'alias/has space']) {
      expect(await failure(kms.send(new CreateAliasCommand({ AliasName, TargetKeyId: keyId })))).toEqual({ name: 'InvalidAliasNameException', status: 400 });
    }
  });

  it('Encrypt / Decrypt bind the EncryptionContext; Decrypt finds the key in the blob', async () => {
    const keyId = await symmetricKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('secret'), EncryptionContext: { fleet: 'f1' } }));
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { fleet: 'f1' } }));
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('secret');
    expect(dec.KeyId).toBe(enc.KeyId);
    expect(await failure(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { fleet: 'f2' } })))).toEqual({ name: 'InvalidCiphertextException', status: 400 });
    expect(await failure(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })))).toEqual({ name: 'InvalidCiphertextException', status: 400 });
  });

  it('Precondition: a tampered ciphertext blob is InvalidCiphertextException', async () => {
    const keyId = await symmetricKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('secret') }));
    const blob = Buffer.from(enc.CiphertextBlob!);
    for (const index of [0, 5, 38, 45, blob.length - 1]) {
      const tampered = Buffer.from(blob);
      tampered[index] = tampered[index]! ^ 0x01;
      expect((await failure(kms.send(new DecryptCommand({ CiphertextBlob: tampered })))).name).toBe('InvalidCiphertextException');
    }
    expect((await failure(kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from('short') })))).name).toBe('InvalidCiphertextException');
  });

  it('Precondition: Decrypt naming another key than the blob is IncorrectKeyException', async () => {
    const [a, b] = [await symmetricKey(), await symmetricKey()];
    const enc = await kms.send(new EncryptCommand({ KeyId: a, Plaintext: Buffer.from('x') }));
    expect(await failure(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, KeyId: b })))).toEqual({ name: 'IncorrectKeyException', status: 400 });
  });

  it('GenerateDataKey returns a plaintext key and its blob', async () => {
    const keyId = await symmetricKey();
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: { a: 'b' } }));
    expect(dk.Plaintext).toHaveLength(32);
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { a: 'b' } }));
    expect(Buffer.from(dec.Plaintext!).equals(Buffer.from(dk.Plaintext!))).toBe(true);
    expect((await failure(kms.send(new GenerateDataKeyCommand({ KeyId: keyId })))).name).toBe('ValidationException');
  });

  it('ReEncrypt moves a ciphertext to another key and context', async () => {
    const [a, b] = [await symmetricKey(), await symmetricKey()];
    const enc = await kms.send(new EncryptCommand({ KeyId: a, Plaintext: Buffer.from('move me'), EncryptionContext: { v: '1' } }));
    const re = await kms.send(new ReEncryptCommand({ CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: { v: '1' }, DestinationKeyId: b, DestinationEncryptionContext: { v: '2' } }));
    expect(re.SourceKeyId).toBe(enc.KeyId);
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { v: '2' } }));
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('move me');
    expect(dec.KeyId).toBe(re.KeyId);
  });

  it('RotateKeyOnDemand adds backing material; old ciphertexts still decrypt', async () => {
    const keyId = await symmetricKey();
    const before = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('old') }));
    await kms.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }));
    expect((await kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).KeyRotationEnabled).toBe(true);
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const after = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('new') }));
    // The backing version inside the blob changed (bytes 37..41 of the emulator's format).
    expect(Buffer.from(after.CiphertextBlob!).readUInt32BE(37)).toBe(Buffer.from(before.CiphertextBlob!).readUInt32BE(37) + 1);
    expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }))).Plaintext!).toString()).toBe('old');
    expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: after.CiphertextBlob }))).Plaintext!).toString()).toBe('new');
  });

  it('asymmetric keys cannot rotate (UnsupportedOperationException)', async () => {
    const key = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
    expect(await failure(kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyMetadata!.KeyId })))).toEqual({ name: 'UnsupportedOperationException', status: 400 });
  });

  it('Precondition: a signing key cannot encrypt or make data keys (InvalidKeyUsageException)', async () => {
    const key = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
    expect(await failure(kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyMetadata!.KeyId, KeySpec: 'AES_256' })))).toEqual({ name: 'InvalidKeyUsageException', status: 400 });
    expect(await failure(kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId, Plaintext: Buffer.from('x') })))).toEqual({ name: 'InvalidKeyUsageException', status: 400 });
  });

  it('Precondition: the key can make this algorithm (else InvalidKeyUsageException)', async () => {
    const keyId = await symmetricKey();
    expect(await failure(kms.send(new SignCommand({ KeyId: keyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' })))).toEqual({ name: 'InvalidKeyUsageException', status: 400 });
    const ec = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
    expect(await failure(kms.send(new SignCommand({ KeyId: ec.KeyMetadata!.KeyId, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' })))).toEqual({ name: 'InvalidKeyUsageException', status: 400 });
  });

  it('a symmetric key has no public key (UnsupportedOperationException)', async () => {
    const keyId = await symmetricKey();
    expect(await failure(kms.send(new GetPublicKeyCommand({ KeyId: keyId })))).toEqual({ name: 'UnsupportedOperationException', status: 400 });
  });

  it('CreateKey refuses usages a spec cannot have', async () => {
    expect((await failure(kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'ENCRYPT_DECRYPT' })))).name).toBe('ValidationException');
    expect((await failure(kms.send(new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'SIGN_VERIFY' })))).name).toBe('ValidationException');
    expect((await failure(kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' })))).name).toBe('UnsupportedOperationException');
  });

  it('RSA encryption keys: RSAES_OAEP_SHA_256 round trip with the public key', async () => {
    const key = await kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }));
    const keyId = key.KeyMetadata!.KeyId!;
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('rsa'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    const dec = await kms.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('rsa');
  });

  const SIGNING: [KeySpec, SigningAlgorithmSpec, 'sha256' | 'sha384' | 'sha512' | null, 'pss' | 'pkcs1' | 'ec' | 'ed'][] = [
    ['ECC_NIST_P256', 'ECDSA_SHA_256', 'sha256', 'ec'],
    ['ECC_NIST_P384', 'ECDSA_SHA_384', 'sha384', 'ec'],
    ['ECC_NIST_P521', 'ECDSA_SHA_512', 'sha512', 'ec'],
    ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256', 'sha256', 'pkcs1'],
    ['RSA_3072', 'RSASSA_PSS_SHA_256', 'sha256', 'pss'],
    ['ECC_NIST_EDWARDS25519', 'ED25519_SHA_512', null, 'ed'],
  ];

  it.each(SIGNING)('%s %s: RAW and DIGEST signatures verify with node:crypto and with Verify', async (keySpec, algorithm, hash, kind) => {
    const key = await kms.send(new CreateKeyCommand({ KeySpec: keySpec, KeyUsage: 'SIGN_VERIFY' }));
    const keyId = key.KeyMetadata!.KeyId!;
    expect(key.KeyMetadata!.SigningAlgorithms).toContain(algorithm);
    const pk = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    const publicKey = createPublicKey({ key: Buffer.from(pk.PublicKey!), format: 'der', type: 'spki' });
    const message = Buffer.from('robot command 42');
    const verifyKey = kind === 'pss' ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : publicKey;
    const inputs: { Message: Buffer; MessageType: 'RAW' | 'DIGEST' }[] = [{ Message: message, MessageType: 'RAW' }];
    if (hash) inputs.push({ Message: createHash(hash).update(message).digest(), MessageType: 'DIGEST' });
    for (const input of inputs) {
      const signed = await kms.send(new SignCommand({ KeyId: keyId, SigningAlgorithm: algorithm, ...input }));
      const signature = Buffer.from(signed.Signature!);
      expect(verify(hash, message, verifyKey, signature)).toBe(true);
      const ok = await kms.send(new VerifyCommand({ KeyId: keyId, SigningAlgorithm: algorithm, Signature: signature, ...input }));
      expect(ok.SignatureValid).toBe(true);
      const other = { ...input, Message: input.MessageType === 'RAW' ? Buffer.from('another') : createHash(hash!).update('another').digest() };
      expect(await failure(kms.send(new VerifyCommand({ KeyId: keyId, SigningAlgorithm: algorithm, Signature: signature, ...other })))).toEqual({ name: 'KMSInvalidSignatureException', status: 400 });
    }
  });

  it('Precondition: a DIGEST of the wrong length is ValidationException; Ed25519 takes RAW only', async () => {
    const ec = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
    expect((await failure(kms.send(new SignCommand({ KeyId: ec.KeyMetadata!.KeyId, Message: Buffer.alloc(31), MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })))).name).toBe('ValidationException');
    expect((await failure(kms.send(new SignCommand({ KeyId: ec.KeyMetadata!.KeyId, Message: Buffer.alloc(32), SigningAlgorithm: 'ECDSA_SHA_384' })))).name).toBe('InvalidKeyUsageException');
    const ed = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' }));
    expect((await failure(kms.send(new SignCommand({ KeyId: ed.KeyMetadata!.KeyId, Message: Buffer.alloc(64), MessageType: 'DIGEST', SigningAlgorithm: 'ED25519_SHA_512' })))).name).toBe('ValidationException');
    expect((await failure(kms.send(new SignCommand({ KeyId: ed.KeyMetadata!.KeyId, Message: Buffer.alloc(64), MessageType: 'DIGEST', SigningAlgorithm: 'ED25519_PH_SHA_512' })))).name).toBe('UnsupportedOperationException');
  });

  it('DisableKey -> DisabledException (409); pending deletion -> KMSInvalidStateException (409)', async () => {
    const keyId = await symmetricKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('Disabled');
    expect(await failure(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })))).toEqual({ name: 'DisabledException', status: 409 });
    expect(await failure(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })))).toEqual({ name: 'DisabledException', status: 409 });
    await kms.send(new EnableKeyCommand({ KeyId: keyId }));
    await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    expect(await failure(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })))).toEqual({ name: 'KMSInvalidStateException', status: 409 });
    await kms.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('Disabled');
  });

  it('unknown keys are NotFoundException (404)', async () => {
    expect(await failure(kms.send(new DescribeKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000' })))).toEqual({ name: 'NotFoundException', status: 404 });
    expect(await failure(kms.send(new SignCommand({ KeyId: 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000', Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' })))).toEqual({ name: 'NotFoundException', status: 404 });
  });

  it('Precondition: SigV4 is verified (constant-time comparison with the signature the secret makes) — a wrong secret, an unknown access key or another region are refused', async () => {
    const wrongSecret = client({ accessKeyId: AWS_TEST_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret-key-at-all' });
    const unknown = client({ accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: AWS_TEST_CREDENTIALS.secretAccessKey });
    const otherRegion = client({ ...AWS_TEST_CREDENTIALS }, 'eu-west-1');
    try {
      expect(await failure(wrongSecret.send(new ListKeysCommand({})))).toEqual({ name: 'InvalidSignatureException', status: 400 });
      expect(await failure(unknown.send(new ListKeysCommand({})))).toEqual({ name: 'UnrecognizedClientException', status: 400 });
      expect(await failure(otherRegion.send(new ListKeysCommand({})))).toEqual({ name: 'InvalidSignatureException', status: 400 });
    } finally {
      wrongSecret.destroy();
      unknown.destroy();
      otherRegion.destroy();
    }
  });

  it('a principal without permission gets AccessDeniedException', async () => {
    const keyId = await symmetricKey();
    const readOnly = client({ accessKeyId: 'AKIAREADONLY0000TEST', secretAccessKey: 'read-only-secret-key-for-tests' });
    try {
      await readOnly.send(new DescribeKeyCommand({ KeyId: keyId }));
      expect(await failure(readOnly.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })))).toEqual({ name: 'AccessDeniedException', status: 400 });
    } finally {
      readOnly.destroy();
    }
  });

  it('faults: throttling is ThrottlingException 400, errors KMSInternalException 500, outage drops the connection', async () => {
    const before = emulator.faults.requests;
    try {
      emulator.faults.set({ throttleRate: 1 });
      expect(await failure(kms.send(new ListKeysCommand({})))).toEqual({ name: 'ThrottlingException', status: 400 });
      emulator.faults.set({ errorRate: 1 });
      expect(await failure(kms.send(new ListKeysCommand({})))).toEqual({ name: 'KMSInternalException', status: 500 });
      emulator.faults.set({ outage: true });
      const outage = await failure(kms.send(new ListKeysCommand({})));
      expect(outage.status).toBeUndefined();
    } finally {
      emulator.faults.reset();
    }
    expect(emulator.faults.requests).toBe(before + 3);
  });
});
