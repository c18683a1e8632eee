/**
 * Known-answer vector of the key-file format (test-vectors/local-keyfile-v1.json, made by
 * src/test-support/generate-vectors.ts): this build must read the checked-in file exactly as the
 * build that wrote it, open its envelope and verify its signature. Plus a property test of the
 * body codec.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { verifySignature, type SignatureAlgorithm } from '@fleetkey/crypto';
import { localKmsProvider, type LocalKmsProvider } from './index.js';
import { decodeBody, encodeBody, type StoredKey } from './keyfile/body.js';
import { deriveFileKey, openKeyFile, readKeyFileHeader } from './keyfile/seal.js';
import { TempDirs, codeOfAsync } from './test-support/temp-dir.js';

interface Vector {
  passphrase: string;
  file: string;
  header: { log2N: number; r: number; p: number; salt: string; generation: number };
  keys: Array<{
    keyId: string;
    spec: string;
    enabled: boolean;
    createdAt: number;
    description: string | null;
    tags: Record<string, string>;
    primaryVersion: number;
    versions: Array<{ version: number; material: string }>;
  }>;
  envelope: { keyId: string; keyVersion: number; context: Record<string, string>; plaintext: string; envelope: string };
  signature: { keyId: string; algorithm: SignatureAlgorithm; message: string; signature: string };
}

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vector = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'test-vectors', 'local-keyfile-v1.json'), 'utf8')) as Vector;
const file = Buffer.from(vector.file, 'base64');

const dirs = new TempDirs();
const open: LocalKmsProvider[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
  dirs.removeAll();
});

describe('key-file vector v1', () => {
  it('the header and every key, version and material read back as recorded', async () => {
    const header = readKeyFileHeader(file);
    expect({ ...header.scrypt, salt: Buffer.from(header.salt).toString('hex'), generation: header.generation }).toEqual(vector.header);
    const fileKey = await deriveFileKey(new TextEncoder().encode(vector.passphrase), header.salt, header.scrypt);
    const keys = decodeBody(openKeyFile(file, fileKey));
    expect(
      keys.map((k) => ({
        keyId: k.keyId,
        spec: k.spec,
        enabled: k.enabled,
        createdAt: k.createdAt,
        description: k.description ?? null,
        tags: k.tags,
        primaryVersion: k.primaryVersion,
        versions: k.versions.map((v) => ({ version: v.version, material: Buffer.from(v.material).toString('hex') })),
      })),
    ).toEqual(vector.keys);
  });

  it('the provider opens the file: the recorded envelope unwraps, the recorded signature verifies, the disabled key stays disabled', async () => {
    const keyFile = path.join(dirs.make(), 'keys.fkl');
    writeFileSync(keyFile, file, { mode: 0o600 });
    const kms = await localKmsProvider({ path: keyFile, passphrase: vector.passphrase });
    open.push(kms);
    const envelope = Buffer.from(vector.envelope.envelope, 'base64');
    expect(Buffer.from(await kms.unwrap({ envelope, context: vector.envelope.context })).toString('hex')).toBe(vector.envelope.plaintext);
    expect((await kms.describeKey(vector.envelope.keyId)).currentVersion).toBe(2);
    expect(await codeOfAsync(kms.getPublicKey({ keyId: vector.signature.keyId }))).toBe('KEY_DISABLED');
    await kms.enableKey(vector.signature.keyId);
    const publicKey = await kms.getPublicKey({ keyId: vector.signature.keyId });
    expect(verifySignature(publicKey, vector.signature.algorithm, Buffer.from(vector.signature.message, 'hex'), Buffer.from(vector.signature.signature, 'hex'))).toBe(true);
  });

  it('the wrong passphrase does not open the vector (ACCESS_DENIED)', async () => {
    const keyFile = path.join(dirs.make(), 'keys.fkl');
    writeFileSync(keyFile, file, { mode: 0o600 });
    expect(await codeOfAsync(localKmsProvider({ path: keyFile, passphrase: `${vector.passphrase}!` }))).toBe('ACCESS_DENIED');
  });
});

describe('body codec (property)', () => {
  const tag = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => /^[\x21-\x7e][\x20-\x7e]*$/.test(s));
  const key = fc.record({
    keyId: fc.uuid(),
    enabled: fc.boolean(),
    createdAt: fc.integer({ min: 0, max: 2 ** 45 }),
    tags: fc.dictionary(tag, fc.string({ maxLength: 20 }).filter((s) => /^[\x20-\x7e]*$/.test(s)), { maxKeys: 5 }),
    versions: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 4 }),
  });

  it('decodeBody(encodeBody(keys)) gives the same keys for any AES key set', () => {
    fc.assert(
      fc.property(fc.uniqueArray(key, { selector: (k) => k.keyId, maxLength: 5 }), (raw) => {
        const keys: StoredKey[] = raw.map((k) => ({
          keyId: k.keyId.toLowerCase(),
          spec: 'AES_256',
          enabled: k.enabled,
          createdAt: k.createdAt,
          tags: k.tags,
          primaryVersion: k.versions.length,
          versions: k.versions.map((material, i) => ({ version: i + 1, createdAt: k.createdAt, material })),
        }));
        fc.pre(new Set(keys.map((k) => k.keyId)).size === keys.length && keys.every((k) => /^[0-9a-f-]{36}$/.test(k.keyId)));
        const decoded = decodeBody(encodeBody(keys));
        expect(decoded.map((k) => ({ ...k, tags: { ...k.tags } }))).toEqual(keys.map((k) => ({ ...k, tags: { ...k.tags } })));
      }),
      { numRuns: 100 },
    );
  });
});
