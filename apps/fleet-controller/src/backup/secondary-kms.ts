/**
 * The secondary KMS of backups: a second provider (another vendor than the primary) whose AES-256
 * key also wraps the archive's data key and every KMS-wrapped key in the state, so an archive can
 * be restored with only the secondary reachable.
 *
 * Where its settings come from: the controller's environment, like `init --kms` — the provider's
 * usual variables (VAULT_ADDR and VAULT_TOKEN, AWS_REGION and the AWS credential chain, …), read
 * once by the composition root (`serve --secondary-kms PROVIDER`). The KMS credentials live where
 * the controller runs, so the archive is made there, not in fleetctl. The key is
 * FLEETKEY_SECONDARY_KMS_KEY_ID when set; otherwise the one key tagged `fleetkey-kind:
 * backup-secondary-kek`, made on first use.
 *
 * Why another vendor: envelopes name their provider ('vault', 'aws', …), not an instance, and a
 * restore picks the KMS that opens them by that name; two providers of one name cannot be told
 * apart.
 *
 * Trust boundary: configuration from the environment; the stored form (what an archive or
 * controller.json records) drops the Vault token, and nothing here logs.
 */
import { InvalidArgument } from '@fleetkey/key-types';
import { isKmsProviderName, kmsConfigFromEnv, type KmsConfig, type KmsEnvironment, type KmsProvider, type KmsProviderName } from '@fleetkey/kms-core';
import { createKmsProviderStack } from '@fleetkey/kms-providers';
import { BackupNotConfigured } from './errors.js';

export const SECONDARY_KMS_KEY_ID_ENV = 'FLEETKEY_SECONDARY_KMS_KEY_ID';
/** The tag that finds the secondary key when no key id is configured. */
export const SECONDARY_KEK_TAGS: Readonly<Record<string, string>> = Object.freeze({ 'fleetkey-kind': 'backup-secondary-kek' });

export interface SecondaryKmsSettings {
  readonly provider: KmsProviderName;
  /** Validated, with secrets from the environment (a Vault token): for opening the provider only. */
  readonly config: KmsConfig;
  /** The configured key, if any (FLEETKEY_SECONDARY_KMS_KEY_ID). */
  readonly keyId?: string;
  /** For the vendor's own credential chain (AWS_*, AZURE_*). */
  readonly env: KmsEnvironment;
}

/**
 * The config as it may be written down: no Vault token, no primary key id.
 */
export function storedKmsConfig(config: KmsConfig): Record<string, unknown> {
  const stored: Record<string, unknown> = { ...config };
  delete stored['keyId'];
  const vault = config.vault as Record<string, unknown> | undefined;
  if (vault !== undefined) stored['vault'] = Object.fromEntries(Object.entries(vault).filter(([key]) => key !== 'token'));
  return stored;
}

/**
 * Reads the secondary provider's settings from the environment.
 * @throws InvalidArgument for an unknown provider name; InvalidKmsConfig listing every missing or
 *   malformed variable.
 */
export function secondaryKmsFromEnv(provider: string, env: KmsEnvironment): SecondaryKmsSettings {
  if (!isKmsProviderName(provider)) throw new InvalidArgument(`unknown secondary KMS provider "${provider}"`);
  const config = kmsConfigFromEnv({ ...env, FLEETKEY_KMS_PROVIDER: provider });
  const keyId = env[SECONDARY_KMS_KEY_ID_ENV]?.trim();
  if (keyId !== undefined && keyId !== '' && !/^[\x21-\x7e]{1,1024}$/.test(keyId)) throw new InvalidArgument(`${SECONDARY_KMS_KEY_ID_ENV} must be a key id of printable characters`);
  return Object.freeze({ provider, config, env, ...(keyId === undefined || keyId === '' ? {} : { keyId }) });
}

/** @throws BackupNotConfigured when the secondary is the primary's vendor. */
export function checkSecondaryDiffers(settings: SecondaryKmsSettings, primaryProvider: string): void {
  if (settings.provider === primaryProvider) {
    throw new BackupNotConfigured(`the secondary KMS must be another provider than the primary (${primaryProvider}): archives name providers, not instances`);
  }
}

/** Opens the provider with the standard decorator stack. */
export async function openSecondaryKms(settings: SecondaryKmsSettings): Promise<KmsProvider> {
  return (await createKmsProviderStack(settings.config, { env: settings.env, source: 'env' })).provider;
}

export interface SecondaryKek {
  readonly keyId: string;
  /** True when this call made the key (the caller audits it). */
  readonly created: boolean;
}

/**
 * The secondary AES-256 key: the configured one (checked to be an enabled encryption key), else
 * the one tagged SECONDARY_KEK_TAGS, else a new one.
 * @throws BackupNotConfigured when the configured key is not an enabled AES key or several tagged
 *   keys exist; KMS errors.
 */
export async function resolveSecondaryKek(kms: KmsProvider, settings: SecondaryKmsSettings): Promise<SecondaryKek> {
  if (settings.keyId !== undefined) {
    const description = await kms.describeKey(settings.keyId);
    if (description.spec !== 'AES_256' || !description.enabled) {
      throw new BackupNotConfigured(`${SECONDARY_KMS_KEY_ID_ENV} must name an enabled AES-256 key in the ${kms.name} KMS`);
    }
    return { keyId: description.keyId, created: false };
  }
  const tagged = (await kms.listKeys({ tags: { ...SECONDARY_KEK_TAGS }, purpose: 'encrypt', limit: 10 })).filter((key) => key.spec === 'AES_256' && key.enabled);
  if (tagged.length > 1) {
    throw new BackupNotConfigured(`the ${kms.name} KMS holds ${tagged.length} keys tagged fleetkey-kind=backup-secondary-kek; set ${SECONDARY_KMS_KEY_ID_ENV} to the one to use`);
  }
  if (tagged.length === 1) return { keyId: tagged[0]!.keyId, created: false };
  const made = await kms.createKey({ spec: 'AES_256', tags: { ...SECONDARY_KEK_TAGS }, description: 'fleetkey backup secondary master key' });
  return { keyId: made.keyId, created: true };
}
