/**
 * KMS configuration: defaults, every problem reported at once, secrets by file only, env mapping.
 *
 * Trust boundary: none; test code.
 */
import { describe, expect, it } from 'vitest';
import { InvalidKmsConfig } from './errors.js';
import { defaultsOptionsFromConfig, kmsConfigFromEnv, parseKmsConfig, type KmsProviderRegistration } from './config.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidKmsConfig) {
      expect(error.code).toBe('INVALID_CONFIG');
      return [...error.problems];
    }
    throw error;
  }
  return [];
}

describe('parseKmsConfig', () => {
  it('applies the defaults (300 s cache, 3 retries, 30 s timeout, mount transit) and freezes the result', () => {
    const config = parseKmsConfig({ provider: 'vault', vault: { address: 'http://127.0.0.1:8200', tokenFile: '/run/secrets/vault-token' } });
    expect(config).toEqual({
      provider: 'vault',
      cacheTtlSeconds: 300,
      maxRetries: 3,
      timeoutSeconds: 30,
      vault: { address: 'http://127.0.0.1:8200', tokenFile: '/run/secrets/vault-token', mount: 'transit' },
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.vault)).toBe(true);
    expect(defaultsOptionsFromConfig(config)).toEqual({ timeout: { timeoutMs: 30_000 }, retry: { maxRetries: 3 }, cache: { ttlMs: 300_000 } });
  });

  it('accepts a full config for every provider', () => {
    const full = {
      provider: 'aws',
      keyId: 'arn:aws:kms:eu-west-1:111122223333:key/abc',
      cacheTtlSeconds: 60,
      maxRetries: 0,
      timeoutSeconds: 5,
      aws: { region: 'eu-west-1', endpoint: 'http://127.0.0.1:4566', profile: 'fleet' },
      azure: { vaultUrl: 'https://acme.vault.azure.net', tenantId: 't', clientId: 'c', authorityHost: 'https://login.microsoftonline.com' },
      gcp: { projectId: 'p', location: 'global', keyRing: 'r', endpoint: '127.0.0.1:9000' },
      vault: { address: 'https://vault:8200', tokenFile: '/t', mount: 'fleet/transit' },
      local: { path: '/var/lib/fleetkey/kms.json', passphraseFile: '/run/secrets/pass' },
    };
    expect(parseKmsConfig(full)).toMatchObject(full);
  });

  it('reports EVERY problem at once, each naming the setting and its variable', () => {
    const found = problems(() =>
      parseKmsConfig({
        provider: 'aws',
        cacheTtlSeconds: -1,
        maxRetries: 2.5,
        timeoutSeconds: 'soon',
        aws: { region: 'Europe', endpoint: 'ftp://x', secretAccessKey: 'AKIA...' },
        colour: 'blue',
      }),
    );
    expect(found).toHaveLength(7);
    expect(found.join('\n')).toContain('"cacheTtlSeconds" (FLEETKEY_KMS_CACHE_TTL): expected a cache TTL in seconds of at least 1');
    expect(found.join('\n')).toContain('"maxRetries" (FLEETKEY_KMS_MAX_RETRIES): expected a retry count as a whole number');
    expect(found.join('\n')).toContain('"timeoutSeconds" (FLEETKEY_KMS_TIMEOUT)');
    expect(found.join('\n')).toContain('"aws.region" (AWS_REGION): expected an AWS region such as eu-west-1');
    expect(found.join('\n')).toContain('"aws.endpoint"');
    expect(found.join('\n')).toContain('"aws.secretAccessKey" is not a known setting');
    expect(found.join('\n')).toContain('"colour" is not a known setting');
    expect(found.join('\n')).not.toContain('AKIA');
  });

  it('Precondition: the chosen provider\'s own section is present', () => {
    expect(problems(() => parseKmsConfig({ provider: 'gcp' }))).toEqual([
      'provider "gcp" needs the "gcp" section: set gcp.projectId, gcp.location and gcp.keyRing (GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION, GOOGLE_CLOUD_KEY_RING)',
    ]);
    expect(problems(() => parseKmsConfig({ provider: 'local', local: { path: '/k' } }))).toEqual(['"local.passphraseFile" (FLEETKEY_LOCAL_KMS_PASSPHRASE_FILE) is required']);
  });

  it('Precondition: no literal secret in a config file; the Vault token comes by file or VAULT_TOKEN', () => {
    const found = problems(() => parseKmsConfig({ provider: 'vault', vault: { address: 'http://v:8200', token: 's.secret-token-value' } }));
    expect(found).toEqual(['"vault.token" must not be written in a config file: put the token in a file and set "vault.tokenFile", or set VAULT_TOKEN in the environment']);
    expect(found.join()).not.toContain('secret-token-value');
    expect(parseKmsConfig({ provider: 'vault', vault: { address: 'http://v:8200', token: 's.x' } }, { source: 'env' }).vault?.token).toBe('s.x');
    expect(problems(() => parseKmsConfig({ provider: 'vault', vault: { address: 'http://v:8200', token: 's.x', tokenFile: '/t' } }, { source: 'env' }))).toEqual([
      '"vault.token" (VAULT_TOKEN) and "vault.tokenFile" are both set: keep one',
    ]);
  });

  it('refuses an unknown provider, a non-https Key Vault URL, and a non-object', () => {
    expect(problems(() => parseKmsConfig({ provider: 'oracle' }))).toEqual(['"provider" (FLEETKEY_KMS_PROVIDER): expected one of local, aws, azure, gcp, vault']);
    expect(problems(() => parseKmsConfig({ provider: 'azure', azure: { vaultUrl: 'http://acme.vault.azure.net' } }))[0]).toContain('https://');
    expect(problems(() => parseKmsConfig('provider=aws'))).toHaveLength(1);
    expect(problems(() => parseKmsConfig({}))[0]).toContain('FLEETKEY_KMS_PROVIDER');
  });
});

describe('kmsConfigFromEnv', () => {
  it('reads the fleetkey variables and the chosen vendor\'s own', () => {
    const config = kmsConfigFromEnv({
      FLEETKEY_KMS_PROVIDER: 'aws',
      FLEETKEY_KMS_KEY_ID: 'alias/fleet',
      FLEETKEY_KMS_CACHE_TTL: '120',
      FLEETKEY_KMS_MAX_RETRIES: '5',
      FLEETKEY_KMS_TIMEOUT: '10',
      AWS_REGION: 'eu-central-1',
      AWS_PROFILE: 'fleet',
      AWS_ENDPOINT_URL: 'http://global:1',
      AWS_ENDPOINT_URL_KMS: 'http://127.0.0.1:4566',
      VAULT_ADDR: 'http://ignored:8200',
    });
    expect(config).toEqual({
      provider: 'aws',
      keyId: 'alias/fleet',
      cacheTtlSeconds: 120,
      maxRetries: 5,
      timeoutSeconds: 10,
      aws: { region: 'eu-central-1', profile: 'fleet', endpoint: 'http://127.0.0.1:4566' },
    });
    expect(kmsConfigFromEnv({ FLEETKEY_KMS_PROVIDER: 'aws', AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: 'http://global:1' }).aws?.endpoint).toBe('http://global:1');
  });

  it.each([
    ['azure', { AZURE_KEY_VAULT_URL: 'https://acme.vault.azure.net', AZURE_TENANT_ID: 't', AZURE_CLIENT_ID: 'c' }, { azure: { vaultUrl: 'https://acme.vault.azure.net', tenantId: 't', clientId: 'c' } }],
    ['gcp', { GOOGLE_CLOUD_PROJECT: 'p', GOOGLE_CLOUD_LOCATION: 'global', GOOGLE_CLOUD_KEY_RING: 'fleet' }, { gcp: { projectId: 'p', location: 'global', keyRing: 'fleet' } }],
    ['vault', { VAULT_ADDR: 'http://127.0.0.1:8200', VAULT_TOKEN: 'hvs.x' }, { vault: { address: 'http://127.0.0.1:8200', token: 'hvs.x', mount: 'transit' } }],
    ['local', { FLEETKEY_LOCAL_KMS_PATH: '/k.json', FLEETKEY_LOCAL_KMS_PASSPHRASE_FILE: '/p' }, { local: { path: '/k.json', passphraseFile: '/p' } }],
  ] as const)('%s from its own variables', (provider, env, expected) => {
    expect(kmsConfigFromEnv({ FLEETKEY_KMS_PROVIDER: provider, ...env })).toMatchObject({ provider, ...expected });
  });

  it('reports every problem at once, naming the variables to set', () => {
    const found = problems(() => kmsConfigFromEnv({ FLEETKEY_KMS_PROVIDER: 'gcp', FLEETKEY_KMS_CACHE_TTL: 'five minutes', FLEETKEY_KMS_TIMEOUT: '0', GOOGLE_CLOUD_PROJECT: 'p' }));
    expect(found).toHaveLength(4);
    expect(found.join('\n')).toContain('FLEETKEY_KMS_CACHE_TTL');
    expect(found.join('\n')).toContain('FLEETKEY_KMS_TIMEOUT');
    expect(found.join('\n')).toContain('"gcp.location" (GOOGLE_CLOUD_LOCATION) is required');
    expect(found.join('\n')).toContain('"gcp.keyRing" (GOOGLE_CLOUD_KEY_RING) is required');
  });

  it('says how to choose a provider when FLEETKEY_KMS_PROVIDER is missing, blank or unknown', () => {
    expect(problems(() => kmsConfigFromEnv({}))[0]).toContain('"provider" (FLEETKEY_KMS_PROVIDER) is required: set it to one of local, aws, azure, gcp, vault');
    expect(problems(() => kmsConfigFromEnv({ FLEETKEY_KMS_PROVIDER: '  ', FLEETKEY_KMS_MAX_RETRIES: 'x' }))).toHaveLength(2);
    expect(problems(() => kmsConfigFromEnv({ FLEETKEY_KMS_PROVIDER: 'AWS' }))[0]).toContain('expected one of');
    expect(() => kmsConfigFromEnv(null as never)).toThrow(TypeError);
  });

  it('the registration type fits an adapter registration', async () => {
    const registration: KmsProviderRegistration = {
      name: 'local',
      requirements: [],
      detect: (env) => ({ available: env.FLEETKEY_LOCAL_KMS_PATH !== undefined, reason: 'FLEETKEY_LOCAL_KMS_PATH is set' }),
      create: async () => {
        const { createMemoryKmsProvider } = await import('./testing/memory-provider.js');
        return createMemoryKmsProvider({ name: 'local' }).provider;
      },
    };
    expect(registration.detect({ FLEETKEY_LOCAL_KMS_PATH: '/k' }).available).toBe(true);
    const provider = await registration.create(kmsConfigFromEnv({ FLEETKEY_KMS_PROVIDER: 'local', FLEETKEY_LOCAL_KMS_PATH: '/k', FLEETKEY_LOCAL_KMS_PASSPHRASE_FILE: '/p' }), {});
    expect(provider.name).toBe('local');
  });
});
