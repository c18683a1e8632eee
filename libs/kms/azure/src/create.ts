/**
 * Builds the Azure adapter from configuration: the credential (injected, ClientSecretCredential
 * for an app registration, or DefaultAzureCredential), the KeyClient with SDK retries off (core's
 * withRetry owns retries), and, for the emulator, its test CA in the pipeline's `tlsOptions` and
 * challenge resource verification off.
 *
 * Trust boundary: the composition point. The client secret goes to @azure/identity only.
 */
import { ClientSecretCredential, DefaultAzureCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import { KeyClient } from '@azure/keyvault-keys';
import { DEFAULT_KEY_INFO_TTL_MS, validateAzureKmsConfig } from './config.js';
import type { AzureKmsConfig } from './config.js';
import { vaultOrigin } from './key-id.js';
import { AzureKmsProvider } from './provider.js';

/** Entra authority hosts of the Azure clouds; any other host skips instance discovery (the emulator). */
export const AZURE_AUTHORITY_HOSTS: readonly string[] = Object.freeze([
  'https://login.microsoftonline.com',
  'https://login.microsoftonline.us',
  'https://login.chinacloudapi.cn',
]);

function credentialOf(config: AzureKmsConfig): TokenCredential {
  if (config.credential) return config.credential;
  const common = {
    retryOptions: { maxRetries: 0 },
    ...(config.caCertificatePem ? { tlsOptions: { ca: config.caCertificatePem } } : {}),
    ...(config.authorityHost ? { authorityHost: config.authorityHost } : {}),
    ...(config.authorityHost && !AZURE_AUTHORITY_HOSTS.includes(new URL(config.authorityHost).origin) ? { disableInstanceDiscovery: true } : {}),
  };
  if (config.tenantId && config.clientId && config.clientSecret) {
    return new ClientSecretCredential(config.tenantId, config.clientId, config.clientSecret, common);
  }
  return new DefaultAzureCredential(common);
}

/**
 * The Azure Key Vault KmsProvider.
 * @throws InvalidKmsConfig listing every configuration problem.
 */
export function createAzureKmsProvider(config: AzureKmsConfig): AzureKmsProvider {
  const valid = validateAzureKmsConfig(config);
  const keyClient = new KeyClient(valid.vaultUrl, credentialOf(valid), {
    retryOptions: { maxRetries: 0 },
    ...(valid.caCertificatePem ? { tlsOptions: { ca: valid.caCertificatePem } } : {}),
    ...(valid.disableChallengeResourceVerification ? { disableChallengeResourceVerification: true } : {}),
  });
  return new AzureKmsProvider({
    keyClient,
    vaultOrigin: vaultOrigin(valid.vaultUrl),
    keyInfoTtlMs: valid.keyInfoTtlMs ?? DEFAULT_KEY_INFO_TTL_MS,
  });
}
