/**
 * The registry: the detection table, requirements, creating a decorated local provider from a
 * config and from the environment, every config problem at once, and — in real child processes —
 * that creating `local` loads no vendor SDK while creating `vault` loads node-vault.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  KMS_PROVIDER_REGISTRATIONS,
  createKmsProvider,
  createKmsProviderFromEnv,
  createKmsProviderStack,
  describeProviders,
  detectProvider,
  listAvailableProviders,
  providerRequirements,
} from './index.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fleetkey-kms-providers-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).name;
  }
  return undefined;
}

async function codeOfAsync(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).name;
  }
  return undefined;
}

const AWS = { AWS_REGION: 'eu-west-1' };
const AZURE = { AZURE_KEY_VAULT_URL: 'https://fleet.vault.azure.net' };
const GCP = { GOOGLE_CLOUD_PROJECT: 'acme', GOOGLE_CLOUD_LOCATION: 'europe-west1', GOOGLE_CLOUD_KEY_RING: 'fleet' };
const VAULT = { VAULT_ADDR: 'https://vault.example:8200' };

describe('detectProvider', () => {
  it.each<[string, Record<string, string>, string, RegExp]>([
    ['nothing set', {}, 'local', /no FLEETKEY_KMS_PROVIDER and no vendor variables are set: using the embedded local provider/],
    ['explicit local beats vendor variables', { FLEETKEY_KMS_PROVIDER: 'local', ...AWS }, 'local', /FLEETKEY_KMS_PROVIDER=local chooses it explicitly/],
    ['explicit aws without its variables (with a note)', { FLEETKEY_KMS_PROVIDER: 'aws' }, 'aws', /explicitly \(note: AWS_REGION or AWS_DEFAULT_REGION is not set\)/],
    ['AWS_REGION', AWS, 'aws', /aws: AWS_REGION is set and @fleetkey\/kms-aws, @aws-sdk\/client-kms are installed/],
    ['AWS_DEFAULT_REGION', { AWS_DEFAULT_REGION: 'us-east-1' }, 'aws', /AWS_DEFAULT_REGION is set/],
    ['AZURE_KEY_VAULT_URL', AZURE, 'azure', /azure: AZURE_KEY_VAULT_URL is set/],
    ['the three Google variables', GCP, 'gcp', /gcp: GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION, GOOGLE_CLOUD_KEY_RING are set/],
    ['VAULT_ADDR', VAULT, 'vault', /vault: VAULT_ADDR is set/],
    ['vault and aws both: vault first, aws named', { ...VAULT, ...AWS }, 'vault', /aws would also fit \(set FLEETKEY_KMS_PROVIDER to choose\)/],
    ['gcp only partly set: local, and the gap is named', { GOOGLE_CLOUD_PROJECT: 'acme' }, 'local', /gcp: GOOGLE_CLOUD_PROJECT is set but GOOGLE_CLOUD_LOCATION, GOOGLE_CLOUD_KEY_RING are not set/],
    ['blank values count as unset', { AWS_REGION: '  ', FLEETKEY_KMS_PROVIDER: '' }, 'local', /no vendor variables are set/],
  ])('%s -> %s', (_title, env, name, reason) => {
    const detected = detectProvider(env);
    expect(detected.name).toBe(name);
    expect(detected.reason).toMatch(reason);
  });

  it('an unknown FLEETKEY_KMS_PROVIDER is INVALID_CONFIG naming the known ones, never a guess', () => {
    expect(codeOf(() => detectProvider({ FLEETKEY_KMS_PROVIDER: 'kms-of-the-future' }))).toBe('INVALID_CONFIG');
    expect(() => detectProvider({ FLEETKEY_KMS_PROVIDER: 'awz' })).toThrow(/local, aws, azure, gcp, vault|vault, azure, gcp, aws, local/);
  });

  it('never quotes a variable value in a reason', () => {
    const env = { ...VAULT, VAULT_TOKEN: 's.super-secret-token', AZURE_CLIENT_SECRET: 'azure-secret' };
    const all = [detectProvider(env).reason, ...describeProviders(env).map((p) => p.reason)].join('\n');
    expect(all).not.toMatch(/super-secret|azure-secret|vault\.example/);
  });

  it('refuses an env that is not an object', () => {
    expect(() => detectProvider(undefined as never)).toThrow(TypeError);
  });
});

describe('listing and requirements', () => {
  it('one registration per provider, local last', () => {
    expect(KMS_PROVIDER_REGISTRATIONS.map((r) => r.name)).toEqual(['vault', 'azure', 'gcp', 'aws', 'local']);
  });

  it('listAvailableProviders answers the usable ones with reasons; describeProviders all of them', () => {
    expect(listAvailableProviders({}).map((p) => p.name)).toEqual([]);
    const env = { ...AWS, ...GCP, FLEETKEY_LOCAL_KMS_PATH: '/var/lib/fleetkey/kms.fkl', FLEETKEY_LOCAL_KMS_PASSPHRASE_FILE: '/run/secrets/kms' };
    expect(listAvailableProviders(env).map((p) => p.name)).toEqual(['gcp', 'aws', 'local']);
    const azure = describeProviders(env).find((p) => p.name === 'azure')!;
    expect(azure).toMatchObject({ available: false, reason: 'AZURE_KEY_VAULT_URL is not set', requirements: ['@fleetkey/kms-azure', '@azure/keyvault-keys', '@azure/identity'] });
  });

  it.each([
    ['local', ['@fleetkey/kms-local']],
    ['aws', ['@fleetkey/kms-aws', '@aws-sdk/client-kms']],
    ['azure', ['@fleetkey/kms-azure', '@azure/keyvault-keys', '@azure/identity']],
    ['gcp', ['@fleetkey/kms-gcp', '@google-cloud/kms']],
    ['vault', ['@fleetkey/kms-vault', 'node-vault']],
  ])('providerRequirements(%s)', (name, packages) => {
    expect(providerRequirements(name)).toEqual(packages);
  });

  it('providerRequirements of an unknown name is INVALID_CONFIG', () => {
    expect(codeOf(() => providerRequirements('hsm'))).toBe('INVALID_CONFIG');
  });
});

describe('createKmsProvider', () => {
  function localConfig(dir: string) {
    const passphraseFile = path.join(dir, 'pass');
    writeFileSync(passphraseFile, 'registry test passphrase\n', { mode: 0o600 });
    return { provider: 'local', cacheTtlSeconds: 60, local: { path: path.join(dir, 'keys.fkl'), passphraseFile } };
  }

  it('builds the local provider, decorated: round trip, and a cached describeKey', async () => {
    const stack = await createKmsProviderStack(localConfig(tempDir()));
    try {
      expect(stack.provider.name).toBe('local');
      expect(stack.config).toMatchObject({ provider: 'local', cacheTtlSeconds: 60, maxRetries: 3, timeoutSeconds: 30 });
      const { keyId } = await stack.provider.createKey({ spec: 'AES_256' });
      const envelope = await stack.provider.wrap({ keyId, plaintext: Uint8Array.of(5), context: { store: 'x' } });
      expect(await stack.provider.unwrap({ envelope, context: { store: 'x' } })).toEqual(Uint8Array.of(5));
      await stack.provider.describeKey(keyId);
      await stack.provider.describeKey(keyId);
      expect(stack.cache.stats().hits).toBeGreaterThanOrEqual(1);
    } finally {
      await stack.provider.close();
    }
  });

  it('reports every config problem at once (INVALID_CONFIG)', async () => {
    const error = (await createKmsProvider({ provider: 'local', maxRetries: -1, timeoutSeconds: 'soon', local: { path: '' }, colour: 'blue' }).catch((e: unknown) => e)) as {
      code: string;
      problems: string[];
    };
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.problems.length).toBeGreaterThanOrEqual(4);
  });

  it('createKmsProviderFromEnv: no FLEETKEY_KMS_PROVIDER and the local variables -> a working local provider', async () => {
    const dir = tempDir();
    const config = localConfig(dir);
    const provider = await createKmsProviderFromEnv({ FLEETKEY_LOCAL_KMS_PATH: config.local.path, FLEETKEY_LOCAL_KMS_PASSPHRASE_FILE: config.local.passphraseFile, FLEETKEY_KMS_CACHE_TTL: '5' });
    try {
      expect(provider.name).toBe('local');
      expect((await provider.health()).ok).toBe(true);
    } finally {
      await provider.close();
    }
  });

  it('createKmsProviderFromEnv: the chosen provider missing its variables is INVALID_CONFIG naming them', async () => {
    const error = (await createKmsProviderFromEnv({ FLEETKEY_KMS_PROVIDER: 'local' }).catch((e: unknown) => e)) as Error & { code: string };
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toMatch(/FLEETKEY_LOCAL_KMS_PATH/);
  });
});

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RECORDER = path.join(PACKAGE_ROOT, 'src', 'test-support', 'register-load-recorder.mjs');
const CHILD = path.join(PACKAGE_ROOT, 'src', 'test-support', 'create-in-child.ts');
const VENDOR_SDK = /\/node_modules\/(@aws-sdk|@azure|@google-cloud|google-gax|node-vault)\//;

function runChild(mode: 'local' | 'vault', dir: string): Promise<{ code: number | null; stdout: string; stderr: string; loaded: string[] }> {
  const logFile = path.join(dir, 'loaded.log');
  writeFileSync(logFile, '');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', RECORDER, CHILD, mode, dir], {
      cwd: PACKAGE_ROOT,
      env: { PATH: process.env['PATH'] ?? '', FLEETKEY_LOAD_LOG: logFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('exit', (code) => resolve({ code, stdout, stderr, loaded: readFileSync(logFile, 'utf8').split('\n').filter(Boolean) }));
  });
}

describe('lazy loading (real child processes)', () => {
  it('creating and using `local` loads no vendor SDK and no other adapter', async () => {
    const result = await runChild('local', tempDir());
    expect([result.code, result.stdout.trim()]).toEqual([0, 'ok']);
    expect(result.loaded.some((url) => url.includes('/libs/kms/local/src/'))).toBe(true);
    expect(result.loaded.filter((url) => VENDOR_SDK.test(url))).toEqual([]);
    expect(result.loaded.filter((url) => /\/libs\/kms\/(aws|azure|gcp|vault)\/src\//.test(url))).toEqual([]);
  }, 60_000);

  it('control: creating `vault` through the same registry does load node-vault (so the recorder sees SDK loads)', async () => {
    const result = await runChild('vault', tempDir());
    expect([result.code, result.stdout.trim(), result.stderr]).toEqual([0, 'ok', '']);
    expect(result.loaded.some((url) => /\/node_modules\/node-vault\//.test(url))).toBe(true);
    expect(result.loaded.filter((url) => /\/node_modules\/(@aws-sdk|@azure|@google-cloud)\//.test(url))).toEqual([]);
  }, 60_000);
});

describe('argument checks', () => {
  it('createKmsProvider of a non-object is INVALID_CONFIG', async () => {
    expect(await codeOfAsync(createKmsProvider('local'))).toBe('INVALID_CONFIG');
  });
});
