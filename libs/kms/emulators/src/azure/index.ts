/**
 * Azure Key Vault emulator: Key Vault REST over HTTPS with the bearer challenge, and the Entra ID
 * token endpoint the Azure identity SDK calls. Test and demo tooling only.
 */
export { startAzureKeyVaultEmulator, SUPPORTED_API_VERSIONS, MAX_REQUEST_BODY_BYTES, DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID } from './server.js';
export type { AzureKeyVaultEmulator, AzureKeyVaultEmulatorOptions } from './server.js';
export { KEY_PERMISSIONS, KEY_VAULT_RESOURCE } from './auth.js';
export type { AzureEmulatorClient, KeyPermission } from './auth.js';
