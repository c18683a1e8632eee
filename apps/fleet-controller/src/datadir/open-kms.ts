/**
 * Opening the KMS provider a data directory was made with: the provider settings from
 * controller.json, with the local provider's paths resolved against the directory and a Vault
 * token taken from the environment (it is never stored). One way for serve, the offline commands
 * and the tests.
 *
 * Trust boundary: the environment may carry provider secrets (VAULT_TOKEN, AZURE_CLIENT_SECRET);
 * they go to the provider and nowhere else.
 */
import type { KmsEnvironment, KmsMetricsSink } from '@fleetkey/kms-core';
import { createKmsProviderStack, type CreatedKmsProvider } from '@fleetkey/kms-providers';
import { inDataDir, readControllerSettings, type DataDirPaths } from './layout.js';

/** The KMS configuration from controller.json, with local paths resolved and the Vault token from the environment. */
export function kmsConfigFor(paths: DataDirPaths, stored: Record<string, unknown>, env: KmsEnvironment): Record<string, unknown> {
  const config: Record<string, unknown> = { ...stored };
  const local = stored['local'] as { path?: string; passphraseFile?: string } | undefined;
  if (local?.path !== undefined && local.passphraseFile !== undefined) {
    config['local'] = { path: inDataDir(paths, local.path), passphraseFile: inDataDir(paths, local.passphraseFile) };
  }
  const vault = stored['vault'] as Record<string, unknown> | undefined;
  if (vault !== undefined && vault['token'] === undefined && vault['tokenFile'] === undefined && env['VAULT_TOKEN'] !== undefined) {
    config['vault'] = { ...vault, token: env['VAULT_TOKEN'] };
  }
  return config;
}

/**
 * The data directory's KMS provider with the standard decorator stack.
 * @throws InvalidArgument when the directory is not a data directory; InvalidKmsConfig; provider errors.
 */
export function openDataDirKms(paths: DataDirPaths, env: KmsEnvironment, options: { readonly metrics?: KmsMetricsSink } = {}): Promise<CreatedKmsProvider> {
  const settings = readControllerSettings(paths);
  return createKmsProviderStack(kmsConfigFor(paths, settings.kms, env), { env, source: 'env', ...(options.metrics === undefined ? {} : { metrics: options.metrics }) });
}
