/**
 * Test support: an Azure Key Vault emulator and an adapter wired to it through the real SDK
 * (ClientSecretCredential against the emulator's token endpoint, the emulator's test CA in the
 * pipeline's `tlsOptions`). Not exported from the package index.
 *
 * Trust boundary: test code only; the credentials are the emulator's throwaway ones.
 */
import { startAzureKeyVaultEmulator } from '@fleetkey/kms-emulators';
import type { AzureKeyVaultEmulator, AzureKeyVaultEmulatorOptions } from '@fleetkey/kms-emulators';
import type { AzureKmsConfig } from './config.js';
import { createAzureKmsProvider } from './create.js';
import type { AzureKmsProvider } from './provider.js';

export function emulatorConfig(emulator: AzureKeyVaultEmulator, overrides: Partial<AzureKmsConfig> = {}): AzureKmsConfig {
  return {
    vaultUrl: emulator.url,
    tenantId: emulator.tenantId,
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
    authorityHost: emulator.url,
    caCertificatePem: emulator.caCertificatePem,
    disableChallengeResourceVerification: true,
    ...overrides,
  };
}

export async function startAzureAdapter(
  options: AzureKeyVaultEmulatorOptions = {},
  overrides: Partial<AzureKmsConfig> = {},
): Promise<{ emulator: AzureKeyVaultEmulator; provider: AzureKmsProvider; cleanup(): Promise<void> }> {
  const emulator = await startAzureKeyVaultEmulator({ port: 0, ...options });
  const provider = createAzureKmsProvider(emulatorConfig(emulator, overrides));
  return {
    emulator,
    provider,
    cleanup: async () => {
      await provider.close();
      await emulator.close();
    },
  };
}
