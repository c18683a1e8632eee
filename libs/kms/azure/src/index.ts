/**
 * @fleetkey/kms-azure — the Azure Key Vault KmsProvider (@azure/keyvault-keys + @azure/identity).
 * The only package of fleetkey that imports the Azure SDK.
 *
 * Trust boundary: see provider.ts.
 */
export { createAzureKmsProvider, AZURE_AUTHORITY_HOSTS } from './create.js';
export { AzureKmsProvider, MAX_CACHED_KEYS, MAX_CACHED_VERSIONS, MAX_CRYPTO_CLIENTS, MAX_LISTED_KEYS, MAX_AZURE_SIGNATURE } from './provider.js';
export type { AzureKmsProviderDeps } from './provider.js';
export { azureKmsConfigFromEnv, validateAzureKmsConfig, DEFAULT_KEY_INFO_TTL_MS, MAX_KEY_INFO_TTL_MS } from './config.js';
export type { AzureKmsConfig } from './config.js';
export { AZURE_PROVIDER_NAME, AZURE_ERROR_TABLE, AZURE_INNER_ERROR_TABLE, ENTRA_ERROR_TABLE, mapAzureError } from './errors.js';
export { AZURE_SUPPORTED_KEY_SPECS, AZURE_WRAP_ALGORITHM, AZURE_SIGNATURE_ALGORITHMS, SPEC_TAG, VERSION_TAG } from './specs.js';
export { parseAzureKeyId, MAX_AZURE_KEY_ID_LENGTH } from './key-id.js';
