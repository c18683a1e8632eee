/**
 * The AWS KMS emulator over raw HTTP (the SDK is tested against it in libs/kms/aws, since this
 * library may not import it): the answers to unsigned, malformed and mis-targeted requests, the
 * body bound, and the digest signers and ciphertext format as units.
 */
import { constants, createHash, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEncryptionContext, openCiphertext, parseCiphertextBlob, sealCiphertext } from './ciphertext.js';
import { MAX_AWS_REQUEST_BODY, startAwsKmsEmulator } from './server.js';
import type { AwsKmsEmulator } from './server.js';
import { signMessage, verifyMessage } from './signing.js';
import type { EmulatedKey } from './store.js';

let emulator: AwsKmsEmulator;

beforeAll(async () => {
  emulator = await startAwsKmsEmulator({ port: 0 });
});

afterAll(async () => {
  await emulator.close();
});

async function post(headers: Record<string, string>, body: string | Buffer = '{}'): Promise<{ status: number; json: { __type?: string; message?: string }; contentType: string | null }> {
  const response = await fetch(emulator.url, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', ...headers }, body });
  return { status: response.status, json: (await response.json()) as { __type?: string }, contentType: response.headers.get('content-type') };
}

describe('AWS KMS emulator wire answers', () => {
  it('Precondition: a request without SigV4 is MissingAuthenticationTokenException (checked before anything else), in the JSON 1.1 error shape', async () => {
    const answer = await post({ 'x-amz-target': 'TrentService.ListKeys' });
    expect(answer.status).toBe(400);
    expect(answer.contentType).toBe('application/x-amz-json-1.1');
    expect(answer.json).toEqual({ __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
  });

  it.each([
    'Bearer abc',
    'AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/kms/aws4_request',
    'AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=zz',
  ])('Precondition: a malformed Authorization header (%s) is IncompleteSignatureException', async (authorization) => {
    const answer = await post({ 'x-amz-target': 'TrentService.ListKeys', authorization, 'x-amz-date': '20260101T000000Z' });
    expect(answer).toMatchObject({ status: 400, json: { __type: 'IncompleteSignatureException' } });
  });

  it('a well-formed but stale signature is InvalidSignatureException (15-minute skew bound)', async () => {
    const authorization = `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20200101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`;
    const answer = await post({ 'x-amz-target': 'TrentService.ListKeys', authorization, 'x-amz-date': '20200101T000000Z' });
    expect(answer).toMatchObject({ status: 400, json: { __type: 'InvalidSignatureException' } });
  });

  it('faults come first: throttling and internal errors are answered before auth is read', async () => {
    try {
      emulator.faults.set({ throttleRate: 1 });
      expect(await post({})).toMatchObject({ status: 400, json: { __type: 'ThrottlingException' } });
      emulator.faults.set({ errorRate: 1 });
      expect(await post({})).toMatchObject({ status: 500, json: { __type: 'KMSInternalException' } });
    } finally {
      emulator.faults.reset();
    }
  });

  it('only POST / is served', async () => {
    const response = await fetch(`${emulator.url}/keys`, { method: 'GET' });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { __type: string }).__type).toBe('UnknownOperationException');
  });

  it('Precondition: a body over MAX_AWS_REQUEST_BODY bytes is refused before it is parsed', async () => {
    const response = await fetch(emulator.url, { method: 'POST', body: Buffer.alloc(MAX_AWS_REQUEST_BODY + 1, 0x20) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { __type: string }).__type).toBe('ValidationException');
  });
});

describe('DIGEST signing through the shared digest signers', () => {
  const keyWith = (pair: { privateKey: KeyObject; publicKey: KeyObject }): EmulatedKey => ({ arn: 'arn:aws:kms:test', pair }) as unknown as EmulatedKey;

  it.each([
    ['ECDSA_SHA_256', 'prime256v1', 'sha256'],
    ['ECDSA_SHA_384', 'secp384r1', 'sha384'],
    ['ECDSA_SHA_512', 'secp521r1', 'sha512'],
  ] as const)('%s over a digest is DER that verifies with node:crypto over the message, and back', (algorithm, namedCurve, hash) => {
    const pair = generateKeyPairSync('ec', { namedCurve });
    const key = keyWith(pair);
    const message = randomBytes(100);
    const digest = createHash(hash).update(message).digest();
    const signature = signMessage(key, algorithm, 'DIGEST', digest);
    expect(verify(hash, message, pair.publicKey, signature)).toBe(true);
    expect(verifyMessage(key, algorithm, 'DIGEST', digest, sign(hash, message, pair.privateKey))).toBe(true);
    expect(verifyMessage(key, algorithm, 'DIGEST', createHash(hash).update('other').digest(), signature)).toBe(false);
    expect(verifyMessage(key, algorithm, 'DIGEST', digest, Buffer.from('3000', 'hex'))).toBe(false);
  });

  it.each([false, true])('RSA (pss=%s) over a digest verifies with node:crypto over the message, and back', (pss) => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { privateKey, publicKey } = pair;
    const key = keyWith(pair);
    const algorithm = pss ? 'RSASSA_PSS_SHA_256' : 'RSASSA_PKCS1_V1_5_SHA_256';
    const message = randomBytes(100);
    const digest = createHash('sha256').update(message).digest();
    const verifyKey = pss ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : publicKey;
    const signKey = pss ? { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : privateKey;
    expect(verify('sha256', message, verifyKey, signMessage(key, algorithm, 'DIGEST', digest))).toBe(true);
    expect(verifyMessage(key, algorithm, 'DIGEST', digest, sign('sha256', message, signKey))).toBe(true);
    expect(verifyMessage(key, algorithm, 'DIGEST', digest, Buffer.alloc(256))).toBe(false);
    expect(verifyMessage(key, algorithm, 'DIGEST', digest, Buffer.alloc(10))).toBe(false);
  });
});

describe('symmetric ciphertext blob', () => {
  const keyId = '1234abcd-12ab-34cd-56ef-1234567890ab';

  it('round-trips any plaintext and context, and names key and version', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 256 }), fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 })), fc.integer({ min: 1, max: 1000 }), (plaintext, context, version) => {
        const backing = randomBytes(32);
        const blob = sealCiphertext(keyId, version, backing, plaintext, context);
        const parsed = parseCiphertextBlob(blob)!;
        expect(parsed).toMatchObject({ keyId, version });
        expect(Buffer.from(openCiphertext(parsed, backing, context)!).equals(Buffer.from(plaintext))).toBe(true);
      }),
      { numRuns: 50 },
    );
  });

  it('Precondition: a tampered ciphertext blob is InvalidCiphertextException (it must authenticate under its backing key and the given context)', () => {
    const backing = randomBytes(32);
    const blob = sealCiphertext(keyId, 1, backing, Buffer.from('secret'), { a: 'b' });
    expect(openCiphertext(parseCiphertextBlob(blob)!, backing, { a: 'c' })).toBeNull();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: blob.length * 8 - 1 }), (bit) => {
        const copy = Buffer.from(blob);
        copy[bit >> 3] = copy[bit >> 3]! ^ (1 << (bit & 7));
        const parsed = parseCiphertextBlob(copy);
        expect(parsed === null || openCiphertext(parsed, backing, { a: 'b' }) === null).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['too short', Buffer.alloc(68)],
    ['wrong format byte', Buffer.concat([Buffer.from([2]), Buffer.alloc(100)])],
    ['key id not a uuid', Buffer.concat([Buffer.from([1]), Buffer.alloc(100, 0x5a)])],
    ['too long', Buffer.alloc(6145, 1)],
  ])('Precondition: bytes too short, too long or of another format are not a blob (%s)', (_name, bytes) => {
    expect(parseCiphertextBlob(bytes)).toBeNull();
  });

  it('the encryption context encoding is order-independent and unambiguous', () => {
    expect(encodeEncryptionContext({ a: '1', b: '2' }).equals(encodeEncryptionContext({ b: '2', a: '1' }))).toBe(true);
    expect(encodeEncryptionContext({ ab: 'c' }).equals(encodeEncryptionContext({ a: 'bc' }))).toBe(false);
  });
});
