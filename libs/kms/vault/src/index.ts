/**
 * @fleetkey/kms-vault — the HashiCorp Vault Transit adapter (node-vault), the only importer of
 * node-vault. `createVaultKmsProvider({ endpoint, token | tokenFile, mount? })`.
 *
 * Trust boundary: see provider.ts; the token is read once and kept inside the node-vault client.
 */
import { createVaultClient } from './client.js';
import type { VaultKmsConfig } from './config.js';
import { resolveVaultKmsConfig } from './config.js';
import type { VaultKmsProviderDeps } from './provider.js';
import { VaultKmsProvider } from './provider.js';

export { VaultKmsProvider, CEK_ASSOCIATED_DATA_TAG, MAX_LIST_KEYS } from './provider.js';
export type { VaultKmsProviderDeps } from './provider.js';
export { VAULT_ERROR_TABLE, VAULT_PROVIDER_NAME, findVaultErrorRow, mapVaultError } from './errors.js';
export type { VaultErrorRow } from './errors.js';
export { VAULT_KEY_TYPES, VAULT_SIGNING, VAULT_SUPPORTED_KEY_SPECS } from './specs.js';
export { DEFAULT_MOUNT, DEFAULT_REQUEST_TIMEOUT_MS, resolveVaultKmsConfig } from './config.js';
export type { VaultKmsConfig, ResolvedVaultKmsConfig } from './config.js';

/**
 * Builds the adapter. The token comes from `config.token` (the VAULT_TOKEN value the application
 * read) or `config.tokenFile`; it is never logged.
 * @throws InvalidKmsConfig listing every configuration problem.
 */
export function createVaultKmsProvider(config: VaultKmsConfig, deps: VaultKmsProviderDeps = {}): VaultKmsProvider {
  const { config: resolved, token } = resolveVaultKmsConfig(config);
  return new VaultKmsProvider(createVaultClient(resolved, token), resolved, deps);
}
