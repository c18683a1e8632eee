/**
 * Vault-specific behaviour of the adapter, through the real node-vault client against the
 * emulator: min_decryption_version, the envelope preconditions, missing auth and the documented
 * least-privilege policies, node-vault's lack of retries, transport failures, a custom mount,
 * names carrying tags, configuration.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeEnvelope, encodeEnvelope, readEnvelopeHeader, verifySignature } from '@fleetkey/crypto';
import { isFleetkeyError } from '@fleetkey/key-types';
import { sealWithKmsWrappedKey } from '@fleetkey/kms-core';
import type { VaultEmulator, VaultPolicyRule as PolicyRule } from '@fleetkey/kms-emulators';
import { startVaultEmulator } from '@fleetkey/kms-emulators';
import nodeVault from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VaultKmsProvider } from './index.js';
import { createVaultKmsProvider } from './index.js';
import { newKeyName, tagsOfName } from './names.js';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'NO_ERROR';
  } catch (error) {
    return isFleetkeyError(error) ? error.code : error instanceof Error ? error.constructor.name : String(error);
  }
}

/** The HCL policies of docs/providers/vault.md, parsed into the emulator's rule form. */
function documentedPolicies(): { runtime: PolicyRule[]; admin: PolicyRule[] } {
  const doc = readFileSync(new URL('../../../../docs/providers/vault.md', import.meta.url), 'utf8');
  const blocks = [...doc.matchAll(/```hcl\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  const parse = (hcl: string): PolicyRule[] =>
    [...hcl.matchAll(/path "([^"]+)" \{\s*capabilities = \[([^\]]*)\]\s*\}/g)].map((m) => ({
      path: m[1]!,
      capabilities: [...(m[2] ?? '').matchAll(/"(\w+)"/g)].map((c) => c[1]!) as PolicyRule['capabilities'],
    }));
  expect(blocks.length).toBe(2);
  return { runtime: parse(blocks[0]!), admin: parse(blocks[1]!) };
}

const MESSAGE = new TextEncoder().encode('lockdown fleet acme');
const CONTEXT = { fleet: 'acme', purpose: 'kek' };

let vault: VaultEmulator;
let provider: VaultKmsProvider;
const RUNTIME = 'runtime-token';
const OPERATOR = 'operator-token';

beforeAll(async () => {
  const { runtime, admin } = documentedPolicies();
  vault = await startVaultEmulator({ port: 0, disableUpsert: true, tokens: { [RUNTIME]: runtime, [OPERATOR]: [...runtime, ...admin] } });
  provider = createVaultKmsProvider({ endpoint: vault.url, token: vault.rootToken });
});

afterAll(async () => {
  await provider?.close();
  await vault?.close();
});

describe('vault adapter: key versions', () => {
  it('envelopes carry the Vault key version, and raising min_decryption_version makes old ones fail with KEY_DISABLED', async () => {
    const key = await provider.createKey({ spec: 'AES_256' });
    const v1 = await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1), context: CONTEXT });
    await provider.rotateKey(key.keyId);
    const v2 = await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(2), context: CONTEXT });
    expect([readEnvelopeHeader(v1).keyVersion, readEnvelopeHeader(v2).keyVersion]).toEqual([1, 2]);
    const admin = nodeVault({ endpoint: vault.url, token: vault.rootToken, noCustomHTTPVerbs: true });
    await admin.write(`transit/keys/${key.keyId}/config`, { min_decryption_version: 2 });
    expect(await codeOf(provider.unwrap({ envelope: v1, context: CONTEXT }))).toBe('KEY_DISABLED');
    expect(Buffer.from(await provider.unwrap({ envelope: v2, context: CONTEXT })).toString('hex')).toBe('02');
  });

  it('a retired signing version: getPublicKey and verify answer KEY_DISABLED; the current version still verifies', async () => {
    const key = await provider.createKey({ spec: 'ECDSA_P384' });
    const old = await provider.sign({ keyId: key.keyId, data: MESSAGE });
    await provider.rotateKey(key.keyId);
    const fresh = await provider.sign({ keyId: key.keyId, data: MESSAGE });
    const admin = nodeVault({ endpoint: vault.url, token: vault.rootToken, noCustomHTTPVerbs: true });
    await admin.write(`transit/keys/${key.keyId}/config`, { min_decryption_version: 2 });
    expect(await codeOf(provider.getPublicKey({ keyId: key.keyId, keyVersion: 1 }))).toBe('KEY_DISABLED');
    expect(await codeOf(provider.verify({ keyId: key.keyId, data: MESSAGE, signature: old.signature, keyVersion: 1 }))).toBe('KEY_DISABLED');
    expect(await provider.verify({ keyId: key.keyId, data: MESSAGE, signature: old.signature })).toBe(false);
    expect(await provider.verify({ keyId: key.keyId, data: MESSAGE, signature: fresh.signature })).toBe(true);
    expect(fresh).toMatchObject({ algorithm: 'ECDSA_P384_SHA384', keyVersion: 2 });
  });

  it('ECDSA signatures are DER and RSA-PSS uses a 32-byte salt (verifies with @fleetkey/crypto)', async () => {
    const ec = await provider.createKey({ spec: 'ECDSA_P256' });
    const signature = await provider.sign({ keyId: ec.keyId, data: MESSAGE });
    expect(signature.signature[0]).toBe(0x30);
    const rsa = await provider.createKey({ spec: 'RSA_2048' });
    const pss = await provider.sign({ keyId: rsa.keyId, data: MESSAGE, algorithm: 'RSA_PSS_SHA256' });
    expect(verifySignature(await provider.getPublicKey({ keyId: rsa.keyId }), 'RSA_PSS_SHA256', MESSAGE, pss.signature)).toBe(true);
  });

  it('Precondition: the signature algorithm must fit the key (never a silent substitute)', async () => {
    const rsa = await provider.createKey({ spec: 'RSA_3072' });
    const before = vault.faults.requests;
    expect(await codeOf(provider.sign({ keyId: rsa.keyId, data: MESSAGE, algorithm: 'ECDSA_P256_SHA256' }))).toBe('UNSUPPORTED_ALGORITHM');
    expect(await codeOf(provider.sign({ keyId: rsa.keyId, data: MESSAGE, algorithm: 'RSA_PSS_SHA512' as never }))).toBe('UNSUPPORTED_ALGORITHM');
    // The key's type was learnt at createKey, so the refusal needs no Vault call.
    expect(vault.faults.requests).toBe(before);
    const ec = await provider.createKey({ spec: 'ECDSA_P256' });
    expect(await codeOf(provider.verify({ keyId: ec.keyId, data: MESSAGE, signature: new Uint8Array(8), algorithm: 'ED25519' }))).toBe('UNSUPPORTED_ALGORITHM');
  });
});

describe('vault adapter: envelope preconditions', () => {
  it('Precondition: the header key version must equal the vault:vN version of the encapsulated key (refused before any Vault call)', async () => {
    const key = await provider.createKey({ spec: 'AES_256' });
    const envelope = await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(9), context: CONTEXT });
    const decoded = decodeEnvelope(envelope);
    const relabelled = sealWithKmsWrappedKey({
      provider: 'vault',
      keyId: key.keyId,
      keyVersion: 2,
      encapsulatedKey: decoded.encapsulatedKey,
      cek: new Uint8Array(32),
      plaintext: Uint8Array.of(9),
      context: CONTEXT,
    });
    const before = vault.faults.requests;
    expect(await codeOf(provider.unwrap({ envelope: relabelled, context: CONTEXT }))).toBe('INVALID_CIPHERTEXT');
    expect(vault.faults.requests).toBe(before);
  });

  it('Precondition: the envelope names a Vault key and carries a vault:vN: ciphertext (refused before any Vault call)', async () => {
    const key = await provider.createKey({ spec: 'AES_256' });
    const decoded = decodeEnvelope(await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) }));
    const before = vault.faults.requests;
    expect(await codeOf(provider.unwrap({ envelope: encodeEnvelope({ ...decoded, keyId: '../sys/seal' }) }))).toBe('INVALID_CIPHERTEXT');
    expect(await codeOf(provider.unwrap({ envelope: encodeEnvelope({ ...decoded, encapsulatedKey: Buffer.from('AAAA') }) }))).toBe('INVALID_CIPHERTEXT');
    expect(vault.faults.requests).toBe(before);
  });

  it('the CEK is bound at Vault: decrypting the encapsulated key without the associated data fails', async () => {
    const key = await provider.createKey({ spec: 'AES_256' });
    const ciphertext = Buffer.from(decodeEnvelope(await provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) })).encapsulatedKey).toString('latin1');
    const raw = nodeVault({ endpoint: vault.url, token: vault.rootToken });
    await expect(raw.decryptData({ name: key.keyId, ciphertext })).rejects.toMatchObject({ response: { statusCode: 400 } });
  });

  it('Precondition: a key id that cannot be a Vault key name is KMS_KEY_NOT_FOUND without a call; a non-string is a TypeError', async () => {
    const before = vault.faults.requests;
    expect(await codeOf(provider.describeKey('../sys/seal'))).toBe('KMS_KEY_NOT_FOUND');
    expect(await codeOf(provider.wrap({ keyId: 'a b', plaintext: Uint8Array.of(1) }))).toBe('KMS_KEY_NOT_FOUND');
    expect(await codeOf(provider.describeKey(7 as unknown as string))).toBe('TypeError');
    expect(vault.faults.requests).toBe(before);
  });
});

describe('vault adapter: auth and the documented policies', () => {
  it('missing auth: a wrong token is ACCESS_DENIED and the token never appears in the error', async () => {
    const wrong = createVaultKmsProvider({ endpoint: vault.url, token: 'hvs.definitely-wrong-token' });
    try {
      const key = await provider.createKey({ spec: 'AES_256' });
      for (const call of [wrong.describeKey(key.keyId), wrong.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) }), wrong.sign({ keyId: key.keyId, data: MESSAGE })]) {
        const error = await call.then(() => undefined, (e: unknown) => e);
        expect((error as { code?: string }).code).toBe('ACCESS_DENIED');
        expect(String((error as Error).message)).not.toContain('definitely-wrong');
      }
    } finally {
      await wrong.close();
    }
  });

  it('the documented fleetkey-runtime policy is enough for wrap / unwrap / sign / verify / describe / list, not for createKey or rotateKey', async () => {
    const runtime = createVaultKmsProvider({ endpoint: vault.url, token: RUNTIME });
    try {
      const aes = await provider.createKey({ spec: 'AES_256', tags: { role: 'runtime-test' } });
      const ec = await provider.createKey({ spec: 'ECDSA_P256', tags: { role: 'runtime-test' } });
      const envelope = await runtime.wrap({ keyId: aes.keyId, plaintext: Uint8Array.of(5), context: CONTEXT });
      expect(Buffer.from(await runtime.unwrap({ envelope, context: CONTEXT })).toString('hex')).toBe('05');
      const data = await runtime.generateDataKey({ keyId: aes.keyId });
      expect(data.plaintext.length).toBe(32);
      const signature = await runtime.sign({ keyId: ec.keyId, data: MESSAGE });
      expect(await runtime.verify({ keyId: ec.keyId, data: MESSAGE, signature: signature.signature })).toBe(true);
      expect((await runtime.describeKey(aes.keyId)).tags).toEqual({ role: 'runtime-test' });
      expect((await runtime.listKeys({ tags: { role: 'runtime-test' } })).map((k) => k.keyId).sort()).toEqual([aes.keyId, ec.keyId].sort());
      expect(await codeOf(runtime.createKey({ spec: 'AES_256' }))).toBe('ACCESS_DENIED');
      expect(await codeOf(runtime.rotateKey(aes.keyId))).toBe('ACCESS_DENIED');
      // Encrypting to a missing key is a "create" at Vault's ACL check: refused before the lookup.
      expect(await codeOf(runtime.wrap({ keyId: 'fleetkey-missing', plaintext: Uint8Array.of(1) }))).toBe('ACCESS_DENIED');
    } finally {
      await runtime.close();
    }
  });

  it('fleetkey-runtime + fleetkey-keyadmin can create and rotate keys', async () => {
    const operator = createVaultKmsProvider({ endpoint: vault.url, token: OPERATOR });
    try {
      const key = await operator.createKey({ spec: 'ED25519' });
      expect((await operator.rotateKey(key.keyId)).currentVersion).toBe(2);
    } finally {
      await operator.close();
    }
  });
});

describe('vault adapter: transport and faults', () => {
  it('node-vault does not retry: one adapter call is exactly one request, throttled or failing', async () => {
    const key = await provider.createKey({ spec: 'AES_256' });
    try {
      vault.faults.set({ throttleRate: 1 });
      let before = vault.faults.requests;
      expect(await codeOf(provider.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) }))).toBe('THROTTLED');
      expect(vault.faults.requests - before).toBe(1);
      vault.faults.set({ errorRate: 1 });
      before = vault.faults.requests;
      expect(await codeOf(provider.describeKey(key.keyId))).toBe('PROVIDER_UNAVAILABLE');
      expect(vault.faults.requests - before).toBe(1);
    } finally {
      vault.faults.reset();
    }
  });

  it('health: ok when unsealed, not ok (sealed) during an outage, not ok when unreachable — never throws', async () => {
    expect((await provider.health()).ok).toBe(true);
    try {
      vault.faults.set({ outage: true });
      expect(await provider.health()).toMatchObject({ ok: false, detail: 'vault sealed' });
    } finally {
      vault.faults.reset();
    }
    const gone = await startVaultEmulator({ port: 0 });
    const url = gone.url;
    await gone.close();
    const unreachable = createVaultKmsProvider({ endpoint: url, token: 'x' });
    try {
      expect(await unreachable.health()).toMatchObject({ ok: false, detail: 'PROVIDER_UNAVAILABLE' });
      expect(await codeOf(unreachable.describeKey('fleetkey-x'))).toBe('PROVIDER_UNAVAILABLE');
    } finally {
      await unreachable.close();
    }
  });

  it('a request slower than requestTimeoutMs is TIMEOUT', async () => {
    const impatient = createVaultKmsProvider({ endpoint: vault.url, token: vault.rootToken, requestTimeoutMs: 50 });
    try {
      vault.faults.set({ latencyMs: 300 });
      expect(await codeOf(impatient.describeKey('fleetkey-slow'))).toBe('TIMEOUT');
    } finally {
      vault.faults.reset();
      await impatient.close();
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  });
});

describe('vault adapter: mounts, names and listing', () => {
  it('works on a mount other than "transit" (generic write path instead of encryptData / decryptData)', async () => {
    const other = await startVaultEmulator({ port: 0, mount: 'fleet-kms', disableUpsert: true });
    const onMount = createVaultKmsProvider({ endpoint: other.url, token: other.rootToken, mount: 'fleet-kms' });
    try {
      const key = await onMount.createKey({ spec: 'AES_256' });
      const envelope = await onMount.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(3), context: CONTEXT });
      expect(Buffer.from(await onMount.unwrap({ envelope, context: CONTEXT })).toString('hex')).toBe('03');
      expect((await onMount.listKeys()).map((k) => k.keyId)).toEqual([key.keyId]);
    } finally {
      await onMount.close();
      await other.close();
    }
  });

  it('listKeys on an empty mount (Vault answers 404) is an empty list; foreign keys are listed without tags', async () => {
    const empty = await startVaultEmulator({ port: 0 });
    const onEmpty = createVaultKmsProvider({ endpoint: empty.url, token: empty.rootToken });
    try {
      expect(await onEmpty.listKeys()).toEqual([]);
      const raw = nodeVault({ endpoint: empty.url, token: empty.rootToken });
      await raw.write('transit/keys/legacy-key', { type: 'ecdsa-p521' });
      expect(await onEmpty.listKeys({ purpose: 'sign' })).toMatchObject([{ keyId: 'legacy-key', spec: 'ECDSA_P521', tags: {} }]);
      expect(await onEmpty.listKeys({ purpose: 'encrypt' })).toEqual([]);
    } finally {
      await onEmpty.close();
      await empty.close();
    }
  });

  it('key names carry tags (canonical, bounded) and stay valid Vault names', () => {
    const name = newKeyName('fleetkey-', 'AES_256', { b: '2', a: 'x y/z' });
    expect(name).toMatch(/^[A-Za-z0-9_](?:[A-Za-z0-9_.@-]*[A-Za-z0-9_])?$/);
    expect(tagsOfName(name)).toEqual({ a: 'x y/z', b: '2' });
    expect(tagsOfName('fleetkey-aes256-gcm96-x.t-%%%_')).toEqual({});
    expect(() => newKeyName('fleetkey-', 'AES_256', Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])))).toThrow(RangeError);
    expect(() => newKeyName('fleetkey-', 'AES_256', { k: 'v'.repeat(129) })).toThrow(RangeError);
  });
});

describe('vault adapter: configuration', () => {
  it('Precondition: the token is printable ASCII and bounded, never rendered; every config problem is reported at once', () => {
    let problems: readonly string[] = [];
    try {
      createVaultKmsProvider({ endpoint: 'ftp://nope', token: 'has space secret', mount: '../x', requestTimeoutMs: 0, extra: 1 } as never);
    } catch (error) {
      expect((error as { code?: string }).code).toBe('INVALID_CONFIG');
      expect((error as Error).message).not.toContain('has space secret');
      problems = (error as { problems: readonly string[] }).problems;
    }
    expect(problems.length).toBe(5);
    expect(() => createVaultKmsProvider({ endpoint: 'http://127.0.0.1:8200' })).toThrow(/no token/);
    expect(() => createVaultKmsProvider({ endpoint: 'http://127.0.0.1:8200', token: 'a', tokenFile: '/x' })).toThrow(/not both/);
  });

  it('reads the token from tokenFile (a Vault Agent sink)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetkey-vault-'));
    try {
      const file = join(dir, 'token');
      writeFileSync(file, `${vault.rootToken}\n`, { mode: 0o600 });
      const fromFile = createVaultKmsProvider({ endpoint: vault.url, tokenFile: file });
      try {
        const key = await fromFile.createKey({ spec: 'AES_256' });
        expect(key.spec).toBe('AES_256');
      } finally {
        await fromFile.close();
      }
      expect(await codeOf(Promise.resolve().then(() => createVaultKmsProvider({ endpoint: vault.url, tokenFile: join(dir, 'missing') })))).toBe('INVALID_CONFIG');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
