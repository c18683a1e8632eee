/**
 * The provider registry: ONE registration line per adapter. Each names its npm requirements, says
 * from the environment whether it can be used (and why), and creates its adapter through a lazy
 * `await import(...)`, so only the chosen adapter — and so only the chosen vendor SDK — is ever
 * loaded. A new provider is one folder plus one line here; the conformance suite says when it is done.
 *
 * Trust boundary: the environment object is passed in by the application (never process.env
 * here); config sections were validated by kms-core's parseKmsConfig before `create` is called.
 * Secrets reach an adapter only as the vendor's own variables (VAULT_TOKEN, AZURE_CLIENT_SECRET)
 * or as file paths.
 */
import {
  InvalidKmsConfig,
  type KmsConfig,
  type KmsEnvironment,
  type KmsProviderDetection,
  type KmsProviderName,
  type KmsProviderRegistration,
} from '@fleetkey/kms-core';
import { isPackageInstalled } from './installed.js';

function set(env: KmsEnvironment, name: string): boolean {
  const value = env[name];
  return value !== undefined && value.trim() !== '';
}

/** Which of `names` are set / missing, for reason strings. */
function split(env: KmsEnvironment, names: readonly string[]): { present: string[]; missing: string[] } {
  return { present: names.filter((n) => set(env, n)), missing: names.filter((n) => !set(env, n)) };
}

function section<K extends KmsProviderName>(config: KmsConfig, name: K): NonNullable<KmsConfig[K]> {
  const value = config[name];
  if (value === undefined) throw new InvalidKmsConfig([`provider "${name}" needs the "${name}" section`], { provider: name });
  return value as NonNullable<KmsConfig[K]>;
}

/**
 * Detection from variables plus "are the packages installed". `required` must all be set;
 * `anyOf` (when given) needs one of them.
 */
function detector(
  requirements: readonly string[],
  required: readonly string[],
  anyOf: readonly string[] = [],
): (env: KmsEnvironment) => KmsProviderDetection {
  return (env) => {
    const { present, missing } = split(env, required);
    const anyPresent = anyOf.filter((n) => set(env, n));
    const variablesOk = missing.length === 0 && (anyOf.length === 0 || anyPresent.length > 0);
    const notInstalled = requirements.filter((p) => !isPackageInstalled(p));
    const said = [...present, ...anyPresent];
    if (!variablesOk) {
      const need = [...missing, ...(anyOf.length > 0 && anyPresent.length === 0 ? [anyOf.join(' or ')] : [])];
      const partial = said.length > 0 ? `${said.join(', ')} ${said.length === 1 ? 'is' : 'are'} set but ` : '';
      return { available: false, reason: `${partial}${need.join(', ')} ${need.length === 1 ? 'is' : 'are'} not set` };
    }
    if (notInstalled.length > 0) {
      return { available: false, reason: `${said.join(', ')} ${said.length === 1 ? 'is' : 'are'} set but ${notInstalled.join(', ')} ${notInstalled.length === 1 ? 'is' : 'are'} not installed` };
    }
    return { available: true, reason: `${said.join(', ')} ${said.length === 1 ? 'is' : 'are'} set and ${requirements.join(', ')} ${requirements.length === 1 ? 'is' : 'are'} installed` };
  };
}

const LOCAL_REQUIREMENTS = ['@fleetkey/kms-local'] as const;
const AWS_REQUIREMENTS = ['@fleetkey/kms-aws', '@aws-sdk/client-kms'] as const;
const AZURE_REQUIREMENTS = ['@fleetkey/kms-azure', '@azure/keyvault-keys', '@azure/identity'] as const;
const GCP_REQUIREMENTS = ['@fleetkey/kms-gcp', '@google-cloud/kms'] as const;
const VAULT_REQUIREMENTS = ['@fleetkey/kms-vault', 'node-vault'] as const;

/** The five registrations, in the order detection prefers vendors (most specific variables first), local last. */
export const KMS_PROVIDER_REGISTRATIONS: readonly KmsProviderRegistration[] = Object.freeze([
  {
    name: 'vault',
    requirements: VAULT_REQUIREMENTS,
    detect: detector(VAULT_REQUIREMENTS, ['VAULT_ADDR']),
    create: async (config, deps) => {
      const vault = section(config, 'vault');
      const { createVaultKmsProvider } = await import('@fleetkey/kms-vault');
      return createVaultKmsProvider({
        endpoint: vault.address,
        mount: vault.mount,
        ...(vault.token === undefined ? {} : { token: vault.token }),
        ...(vault.tokenFile === undefined ? {} : { tokenFile: vault.tokenFile }),
      }, deps.now === undefined ? {} : { now: deps.now });
    },
  },
  {
    name: 'azure',
    requirements: AZURE_REQUIREMENTS,
    detect: detector(AZURE_REQUIREMENTS, ['AZURE_KEY_VAULT_URL']),
    create: async (config, deps) => {
      const azure = section(config, 'azure');
      const { createAzureKmsProvider } = await import('@fleetkey/kms-azure');
      // AZURE_CLIENT_SECRET is the vendor's own variable; without it the adapter uses its credential chain.
      const clientSecret = deps.env?.['AZURE_CLIENT_SECRET'];
      return createAzureKmsProvider({
        vaultUrl: azure.vaultUrl,
        ...(azure.tenantId === undefined ? {} : { tenantId: azure.tenantId }),
        ...(azure.clientId === undefined ? {} : { clientId: azure.clientId }),
        ...(azure.authorityHost === undefined ? {} : { authorityHost: azure.authorityHost }),
        ...(clientSecret === undefined || clientSecret === '' ? {} : { clientSecret }),
        ...(azure.disableChallengeResourceVerification === true ? { disableChallengeResourceVerification: true } : {}),
      });
    },
  },
  {
    name: 'gcp',
    requirements: GCP_REQUIREMENTS,
    detect: detector(GCP_REQUIREMENTS, ['GOOGLE_CLOUD_PROJECT', 'GOOGLE_CLOUD_LOCATION', 'GOOGLE_CLOUD_KEY_RING']),
    create: async (config) => {
      const gcp = section(config, 'gcp');
      const { createGcpKmsProvider } = await import('@fleetkey/kms-gcp');
      return createGcpKmsProvider({
        projectId: gcp.projectId,
        location: gcp.location,
        keyRing: gcp.keyRing,
        ...(gcp.endpoint === undefined ? {} : { endpoint: gcp.endpoint }),
      });
    },
  },
  {
    name: 'aws',
    requirements: AWS_REQUIREMENTS,
    detect: detector(AWS_REQUIREMENTS, [], ['AWS_REGION', 'AWS_DEFAULT_REGION']),
    create: async (config) => {
      const aws = section(config, 'aws');
      const { createAwsKmsProvider } = await import('@fleetkey/kms-aws');
      return createAwsKmsProvider({
        region: aws.region,
        ...(aws.endpoint === undefined ? {} : { endpoint: aws.endpoint }),
        ...(aws.profile === undefined ? {} : { profile: aws.profile }),
      });
    },
  },
  {
    name: 'local',
    requirements: LOCAL_REQUIREMENTS,
    detect: detector(LOCAL_REQUIREMENTS, ['FLEETKEY_LOCAL_KMS_PATH', 'FLEETKEY_LOCAL_KMS_PASSPHRASE_FILE']),
    create: async (config) => {
      const local = section(config, 'local');
      const { localKmsProvider } = await import('@fleetkey/kms-local');
      // The embedded default needs no set-up: the key file is made on first use (0600, next to nothing else).
      return localKmsProvider({ path: local.path, passphraseFile: local.passphraseFile, create: true });
    },
  },
] satisfies KmsProviderRegistration[]);

/** @throws InvalidKmsConfig naming the known providers when `name` is not one. */
export function registrationOf(name: string): KmsProviderRegistration {
  const found = KMS_PROVIDER_REGISTRATIONS.find((r) => r.name === name);
  if (found === undefined) {
    throw new InvalidKmsConfig([`unknown KMS provider "${String(name).slice(0, 32)}": expected one of ${KMS_PROVIDER_REGISTRATIONS.map((r) => r.name).join(', ')}`]);
  }
  return found;
}
