/**
 * Configuration of the Azure adapter: the vault URL, how to authenticate (an injected
 * TokenCredential, a client secret for an app registration, or DefaultAzureCredential), and the
 * emulator-only switches (extra trusted CA, challenge resource verification off). Every problem is
 * reported at once, as InvalidKmsConfig. `azureKmsConfigFromEnv` reads the vendor's variables
 * from an env object the app passes (libraries never read process.env themselves).
 *
 * Trust boundary: configuration is operator input. The client secret is carried, never rendered
 * into a message; problems name the setting, not its value.
 */
import type { TokenCredential } from '@azure/identity';
import { InvalidKmsConfig } from '@fleetkey/kms-core';
import { AZURE_PROVIDER_NAME } from './errors.js';

export interface AzureKmsConfig {
  /** `https://<vault-name>.vault.azure.net` (or the emulator's URL). Env: AZURE_KEY_VAULT_URL. */
  readonly vaultUrl: string;
  /** A ready credential; wins over the client-secret fields. */
  readonly credential?: TokenCredential;
  /** Entra tenant of the app registration. Env: AZURE_TENANT_ID. */
  readonly tenantId?: string;
  /** App (client) id. Env: AZURE_CLIENT_ID. */
  readonly clientId?: string;
  /** Client secret. Env: AZURE_CLIENT_SECRET. With tenant and client id: ClientSecretCredential. */
  readonly clientSecret?: string;
  /** Entra authority host (default login.microsoftonline.com; the emulator URL for tests). Env: AZURE_AUTHORITY_HOST. */
  readonly authorityHost?: string;
  /**
   * Extra CA certificate (PEM) to trust for the vault and the authority: the emulator's test CA.
   * Replaces the default trust store for the adapter's own requests.
   */
  readonly caCertificatePem?: string;
  /**
   * Skip the check that the bearer challenge's resource matches the vault's domain. Needed only
   * for the emulator (its URL is 127.0.0.1, not *.vault.azure.net); never for a real vault.
   */
  readonly disableChallengeResourceVerification?: boolean;
  /** How long the latest version of a key is remembered for wrap / sign (default 30 s; 0 disables). */
  readonly keyInfoTtlMs?: number;
}

/** Longest latest-version cache lifetime accepted (rotations must show up within this). */
export const MAX_KEY_INFO_TTL_MS = 3_600_000;
export const DEFAULT_KEY_INFO_TTL_MS = 30_000;

/**
 * Checks a configuration and returns it frozen.
 * @throws InvalidKmsConfig listing every problem.
 */
export function validateAzureKmsConfig(config: AzureKmsConfig): AzureKmsConfig {
  const problems: string[] = [];
  if (typeof config !== 'object' || config === null) throw new InvalidKmsConfig(['the Azure KMS configuration must be an object'], { provider: AZURE_PROVIDER_NAME });
  let url: URL | undefined;
  try {
    url = new URL(config.vaultUrl);
  } catch {
    problems.push('vaultUrl (AZURE_KEY_VAULT_URL) must be the vault URL, e.g. https://my-vault.vault.azure.net');
  }
  if (url && (url.protocol !== 'https:' || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || url.password)) {
    problems.push('vaultUrl (AZURE_KEY_VAULT_URL) must be an https URL with no path, query or credentials, e.g. https://my-vault.vault.azure.net');
  }
  const secretFields = [config.tenantId, config.clientId, config.clientSecret].filter((v) => v !== undefined && v !== '');
  if (config.credential === undefined && secretFields.length > 0 && secretFields.length < 3) {
    problems.push('tenantId, clientId and clientSecret (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET) must be set together, or none of them');
  }
  if (config.authorityHost !== undefined) {
    try {
      if (new URL(config.authorityHost).protocol !== 'https:') throw new Error('not https');
    } catch {
      problems.push('authorityHost (AZURE_AUTHORITY_HOST) must be an https URL, e.g. https://login.microsoftonline.com');
    }
  }
  if (config.caCertificatePem !== undefined && !config.caCertificatePem.includes('-----BEGIN CERTIFICATE-----')) {
    problems.push('caCertificatePem must be a PEM certificate');
  }
  const ttl = config.keyInfoTtlMs;
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 0 && ttl <= MAX_KEY_INFO_TTL_MS)) {
    problems.push(`keyInfoTtlMs must be an integer between 0 and ${MAX_KEY_INFO_TTL_MS}`);
  }
  if (problems.length > 0) throw new InvalidKmsConfig(problems, { provider: AZURE_PROVIDER_NAME });
  return Object.freeze({ ...config });
}

/**
 * The configuration from the Azure SDK's own variables: AZURE_KEY_VAULT_URL, AZURE_TENANT_ID,
 * AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST. Without a client secret the adapter
 * uses DefaultAzureCredential (environment, workload identity, managed identity, Azure CLI …),
 * which reads its own variables.
 * @throws InvalidKmsConfig listing every problem.
 */
export function azureKmsConfigFromEnv(env: Readonly<Record<string, string | undefined>>): AzureKmsConfig {
  const problems: string[] = [];
  const vaultUrl = env['AZURE_KEY_VAULT_URL'];
  if (!vaultUrl) problems.push('AZURE_KEY_VAULT_URL must be set to the vault URL, e.g. https://my-vault.vault.azure.net');
  if (problems.length > 0) throw new InvalidKmsConfig(problems, { provider: AZURE_PROVIDER_NAME });
  const pick = (name: string) => (env[name] ? { [name]: env[name] } : {});
  const fields = { ...pick('AZURE_TENANT_ID'), ...pick('AZURE_CLIENT_ID'), ...pick('AZURE_CLIENT_SECRET'), ...pick('AZURE_AUTHORITY_HOST') };
  return validateAzureKmsConfig({
    vaultUrl: vaultUrl!,
    ...(fields['AZURE_TENANT_ID'] ? { tenantId: fields['AZURE_TENANT_ID'] } : {}),
    ...(fields['AZURE_CLIENT_ID'] ? { clientId: fields['AZURE_CLIENT_ID'] } : {}),
    ...(fields['AZURE_CLIENT_SECRET'] ? { clientSecret: fields['AZURE_CLIENT_SECRET'] } : {}),
    ...(fields['AZURE_AUTHORITY_HOST'] ? { authorityHost: fields['AZURE_AUTHORITY_HOST'] } : {}),
  });
}
