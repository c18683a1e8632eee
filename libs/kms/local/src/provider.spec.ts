/** The local provider on real key files: round trips, rotation, usage rules, reopen, the file itself. */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, verifySignature } from '@fleetkey/crypto';
import type { KmsKeySpec } from '@fleetkey/kms-core';
import { localKmsProvider, type LocalKmsProvider } from './index.js';
import { TempDirs, codeOfAsync } from './test-support/temp-dir.js';

const dirs = new TempDirs();
const open: LocalKmsProvider[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
  dirs.removeAll();
});

const PASSPHRASE = 'correct horse battery staple';

async function fresh(options: { dir?: string; now?: () => Date } = {}): Promise<LocalKmsProvider> {
  const dir = options.dir ?? dirs.make();
  const provider = await localKmsProvider({ path: path.join(dir, 'keys.fkl'), passphrase: PASSPHRASE, create: true, ...(options.now ? { now: options.now } : {}) });
  open.push(provider);
  return provider;
}

describe('local provider', () => {
  it('makes a 0600 key file that holds no readable metadata', async () => {
    const kms = await fresh();
    await kms.createKey({ spec: 'AES_256', tags: { team: 'robotics-secret-tag' }, description: 'fleet master' });
    expect(statSync(kms.path).mode & 0o777).toBe(0o600);
    const raw = readFileSync(kms.path);
    expect(raw.subarray(0, 4).toString('latin1')).toBe('FKLK');
    expect(raw.includes('robotics-secret-tag')).toBe(false);
    expect(raw.includes('fleet master')).toBe(false);
  });

  it('wraps and unwraps with context, and makes data keys', async () => {
    const kms = await fresh();
    const { keyId } = await kms.createKey({ spec: 'AES_256' });
    const plaintext = new TextEncoder().encode('hello fleet');
    const envelope = await kms.wrap({ keyId, plaintext, context: { device: 'r1' } });
    const decoded = decodeEnvelope(envelope);
    expect(decoded).toMatchObject({ algorithm: 'KMS_AES_256_GCM', provider: 'local', keyId, keyVersion: 1 });
    expect(Buffer.from(await kms.unwrap({ envelope, context: { device: 'r1' } })).toString()).toBe('hello fleet');
    expect(await codeOfAsync(kms.unwrap({ envelope, context: { device: 'r2' } }))).toBe('INVALID_CIPHERTEXT');
    expect(await codeOfAsync(kms.unwrap({ envelope }))).toBe('INVALID_CIPHERTEXT');
    const dataKey = await kms.generateDataKey({ keyId, context: { purpose: 'epoch' } });
    expect(dataKey.plaintext).toHaveLength(32);
    expect(Buffer.from(await kms.unwrap({ envelope: dataKey.wrapped, context: { purpose: 'epoch' } })).equals(Buffer.from(dataKey.plaintext))).toBe(true);
  });

  it('Precondition: the sealed CEK names the same key and version as the outer envelope', async () => {
    const kms = await fresh();
    const a = await kms.createKey({ spec: 'AES_256' });
    const b = await kms.createKey({ spec: 'AES_256' });
    const fromA = decodeEnvelope(await kms.wrap({ keyId: a.keyId, plaintext: new Uint8Array(8) }));
    const fromB = decodeEnvelope(await kms.wrap({ keyId: b.keyId, plaintext: new Uint8Array(8) }));
    // B's outer envelope carrying A's sealed CEK: refused before any decryption with A's key.
    const spliced = encodeEnvelope({ ...fromB, encapsulatedKey: fromA.encapsulatedKey });
    expect(await codeOfAsync(kms.unwrap({ envelope: spliced }))).toBe('INVALID_CIPHERTEXT');
  });

  it.each<KmsKeySpec>(['ECDSA_P256', 'ECDSA_P384', 'ECDSA_P521', 'ED25519', 'RSA_2048'])('signs with %s; node:crypto verifies with the public key alone', async (spec) => {
    const kms = await fresh();
    const { keyId } = await kms.createKey({ spec });
    const data = new TextEncoder().encode('lockdown fleet 7');
    const signature = await kms.sign({ keyId, data });
    expect(signature.keyVersion).toBe(1);
    const publicKey = await kms.getPublicKey({ keyId });
    expect(publicKey.type).toBe('public');
    expect(verifySignature(publicKey, signature.algorithm, data, signature.signature)).toBe(true);
    expect(await kms.verify({ keyId, data, signature: signature.signature })).toBe(true);
    expect(await kms.verify({ keyId, data: new Uint8Array(3), signature: signature.signature })).toBe(false);
  });

  it('signs RSA with PSS when asked', async () => {
    const kms = await fresh();
    const { keyId } = await kms.createKey({ spec: 'RSA_2048' });
    const data = new Uint8Array([1, 2, 3]);
    const pss = await kms.sign({ keyId, data, algorithm: 'RSA_PSS_SHA256' });
    expect(verifySignature(await kms.getPublicKey({ keyId }), 'RSA_PSS_SHA256', data, pss.signature)).toBe(true);
  });

  it('Precondition: a signature algorithm that does not fit the key is refused, never substituted', async () => {
    const kms = await fresh();
    const { keyId } = await kms.createKey({ spec: 'ECDSA_P384' });
    const data = new Uint8Array([1, 2, 3]);
    expect(await codeOfAsync(kms.sign({ keyId, data, algorithm: 'ECDSA_P256_SHA256' }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOfAsync(kms.verify({ keyId, data, signature: new Uint8Array(64), algorithm: 'RSA_PKCS1_SHA256' }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOfAsync(kms.sign({ keyId, data, algorithm: 'ECDSA_P256_SHA256' }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOfAsync(kms.sign({ keyId, data, algorithm: 'MD5' as never }))).toBe('UNSUPPORTED_ALGORITHM');
  });

  it('rotation adds a primary version and keeps old envelopes and signatures usable', async () => {
    const kms = await fresh();
    const aes = await kms.createKey({ spec: 'AES_256' });
    const ec = await kms.createKey({ spec: 'ECDSA_P256' });
    const data = new Uint8Array([9, 9]);
    const oldEnvelope = await kms.wrap({ keyId: aes.keyId, plaintext: data });
    const oldSignature = await kms.sign({ keyId: ec.keyId, data });
    expect((await kms.rotateKey(aes.keyId)).currentVersion).toBe(2);
    expect((await kms.rotateKey(ec.keyId)).currentVersion).toBe(2);
    expect(decodeEnvelope(await kms.wrap({ keyId: aes.keyId, plaintext: data })).keyVersion).toBe(2);
    expect(await kms.unwrap({ envelope: oldEnvelope })).toEqual(data);
    const newSignature = await kms.sign({ keyId: ec.keyId, data });
    expect(newSignature.keyVersion).toBe(2);
    expect(await kms.verify({ keyId: ec.keyId, data, signature: oldSignature.signature, keyVersion: 1 })).toBe(true);
    expect(await kms.verify({ keyId: ec.keyId, data, signature: oldSignature.signature })).toBe(false);
    expect(verifySignature(await kms.getPublicKey({ keyId: ec.keyId, keyVersion: 1 }), oldSignature.algorithm, data, oldSignature.signature)).toBe(true);
    expect(await codeOfAsync(kms.getPublicKey({ keyId: ec.keyId, keyVersion: 3 }))).toBe('KMS_KEY_NOT_FOUND');
  });

  it('Precondition: a disabled key does nothing but describe / list / enable', async () => {
    const kms = await fresh();
    const aes = await kms.createKey({ spec: 'AES_256' });
    const ec = await kms.createKey({ spec: 'ED25519' });
    const envelope = await kms.wrap({ keyId: aes.keyId, plaintext: new Uint8Array(4) });
    const signature = await kms.sign({ keyId: ec.keyId, data: new Uint8Array(4) });
    expect((await kms.disableKey(aes.keyId)).enabled).toBe(false);
    await kms.disableKey(ec.keyId);
    expect(await codeOfAsync(kms.wrap({ keyId: aes.keyId, plaintext: new Uint8Array(4) }))).toBe('KEY_DISABLED');
    expect(await codeOfAsync(kms.unwrap({ envelope }))).toBe('KEY_DISABLED');
    expect(await codeOfAsync(kms.generateDataKey({ keyId: aes.keyId }))).toBe('KEY_DISABLED');
    expect(await codeOfAsync(kms.rotateKey(aes.keyId))).toBe('KEY_DISABLED');
    expect(await codeOfAsync(kms.sign({ keyId: ec.keyId, data: new Uint8Array(4) }))).toBe('KEY_DISABLED');
    expect(await codeOfAsync(kms.verify({ keyId: ec.keyId, data: new Uint8Array(4), signature: signature.signature }))).toBe('KEY_DISABLED');
    expect(await codeOfAsync(kms.getPublicKey({ keyId: ec.keyId }))).toBe('KEY_DISABLED');
    expect((await kms.describeKey(aes.keyId)).enabled).toBe(false);
    await kms.enableKey(aes.keyId);
    expect(await kms.unwrap({ envelope })).toEqual(new Uint8Array(4));
  });

  it('Precondition: AES keys only wrap; asymmetric keys only sign', async () => {
    const kms = await fresh();
    const aes = await kms.createKey({ spec: 'AES_256' });
    const ec = await kms.createKey({ spec: 'ECDSA_P256' });
    expect(await codeOfAsync(kms.sign({ keyId: aes.keyId, data: new Uint8Array(1) }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOfAsync(kms.getPublicKey({ keyId: aes.keyId }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOfAsync(kms.wrap({ keyId: ec.keyId, plaintext: new Uint8Array(1) }))).toBe('INVALID_KEY_USAGE');
    expect(await codeOfAsync(kms.generateDataKey({ keyId: ec.keyId }))).toBe('INVALID_KEY_USAGE');
  });

  it('Precondition: an unsupported key spec is refused, never substituted', async () => {
    const kms = await fresh();
    expect(await codeOfAsync(kms.createKey({ spec: 'AES_128' as never }))).toBe('UNSUPPORTED_ALGORITHM');
    expect(await kms.listKeys()).toEqual([]);
  });

  it('unknown keys are KMS_KEY_NOT_FOUND everywhere', async () => {
    const kms = await fresh();
    const unknown = '00000000-0000-4000-8000-000000000000';
    expect(await codeOfAsync(kms.describeKey(unknown))).toBe('KMS_KEY_NOT_FOUND');
    expect(await codeOfAsync(kms.wrap({ keyId: unknown, plaintext: new Uint8Array(1) }))).toBe('KMS_KEY_NOT_FOUND');
    expect(await codeOfAsync(kms.sign({ keyId: unknown, data: new Uint8Array(1) }))).toBe('KMS_KEY_NOT_FOUND');
    expect(await codeOfAsync(kms.rotateKey(unknown))).toBe('KMS_KEY_NOT_FOUND');
    expect(await codeOfAsync(kms.disableKey('not-even-a-uuid'))).toBe('KMS_KEY_NOT_FOUND');
  });

  it('lists by tag and purpose, with a limit, and describes with createdAt from the injected clock', async () => {
    const at = new Date('2026-01-02T03:04:05.000Z');
    const kms = await fresh({ now: () => at });
    const a = await kms.createKey({ spec: 'AES_256', tags: { fleet: 'f1', role: 'kek' } });
    await kms.createKey({ spec: 'ECDSA_P256', tags: { fleet: 'f1', role: 'ca' } });
    await kms.createKey({ spec: 'AES_256', tags: { fleet: 'f2' } });
    expect((await kms.listKeys()).length).toBe(3);
    expect((await kms.listKeys({ tags: { fleet: 'f1' } })).length).toBe(2);
    expect((await kms.listKeys({ tags: { fleet: 'f1' }, purpose: 'encrypt' })).map((k) => k.keyId)).toEqual([a.keyId]);
    expect((await kms.listKeys({ limit: 1 })).length).toBe(1);
    expect(await kms.describeKey(a.keyId)).toEqual({
      provider: 'local',
      keyId: a.keyId,
      spec: 'AES_256',
      purpose: 'encrypt',
      enabled: true,
      currentVersion: 1,
      createdAt: at,
      tags: { fleet: 'f1', role: 'kek' },
    });
    await expect(kms.listKeys({ limit: 0 })).rejects.toThrow(RangeError);
    await expect(kms.createKey({ spec: 'AES_256', tags: { 'bad\u0000name': 'x' } })).rejects.toThrow(RangeError);
  });

  it('reopens from a passphrase file; a wrong passphrase is ACCESS_DENIED; a missing file without create is INVALID_CONFIG', async () => {
    const dir = dirs.make();
    const passphraseFile = path.join(dir, 'pass');
    writeFileSync(passphraseFile, `${PASSPHRASE}\n`, { mode: 0o600 });
    const keyFile = path.join(dir, 'keys.fkl');
    const first = await localKmsProvider({ path: keyFile, passphraseFile, create: true });
    open.push(first);
    const { keyId } = await first.createKey({ spec: 'AES_256' });
    const envelope = await first.wrap({ keyId, plaintext: new Uint8Array([7]) });
    await first.close();
    const again = await localKmsProvider({ path: keyFile, passphrase: PASSPHRASE });
    open.push(again);
    expect(await again.unwrap({ envelope })).toEqual(new Uint8Array([7]));
    expect(await codeOfAsync(localKmsProvider({ path: keyFile, passphrase: 'not the passphrase' }))).toBe('ACCESS_DENIED');
    expect(await codeOfAsync(localKmsProvider({ path: path.join(dir, 'absent.fkl'), passphrase: PASSPHRASE }))).toBe('INVALID_CONFIG');
  });

  it('a second instance on the same file sees the first one\'s keys (reload on change)', async () => {
    const dir = dirs.make();
    const a = await fresh({ dir });
    const b = await localKmsProvider({ path: a.path, passphrase: PASSPHRASE });
    open.push(b);
    const { keyId } = await a.createKey({ spec: 'AES_256' });
    const envelope = await a.wrap({ keyId, plaintext: new Uint8Array([1]) });
    expect(await b.unwrap({ envelope })).toEqual(new Uint8Array([1]));
    await b.rotateKey(keyId);
    expect((await a.describeKey(keyId)).currentVersion).toBe(2);
  });

  it('health answers ok, and not ok once closed; calls after close are refused', async () => {
    const kms = await fresh();
    expect((await kms.health()).ok).toBe(true);
    await kms.close();
    expect((await kms.health()).ok).toBe(false);
    expect(await codeOfAsync(kms.listKeys())).toBe('INVALID_CONFIG');
  });

  it('misuse is a TypeError naming the argument', async () => {
    const kms = await fresh();
    await expect(kms.wrap({ keyId: 42 as never, plaintext: new Uint8Array(1) })).rejects.toThrow(TypeError);
    await expect(kms.unwrap({ envelope: 'abc' as never })).rejects.toThrow(TypeError);
    await expect(localKmsProvider({ path: '', passphrase: PASSPHRASE })).rejects.toThrow(TypeError);
    await expect(localKmsProvider({ path: 'x', passphrase: PASSPHRASE, passphraseFile: 'y' })).rejects.toThrow(TypeError);
  });
});
