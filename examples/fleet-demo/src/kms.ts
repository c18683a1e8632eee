/**
 * Where the demo's controller keeps its keys: the local provider (a key file in the controller's
 * data directory), or one of the wire emulators of @fleetkey/kms-emulators, started in this
 * process on 127.0.0.1 port 0 and handed to `fleet-controller init --kms P` and `serve` through
 * the vendor's usual environment variables — the same variables a real deployment sets.
 *
 * Trust boundary: the emulators' credentials (AWS secret key, Vault root token, Azure client
 * secret) are throwaway test values, but they are still treated as secrets: they go to the
 * controller's environment only, are registered with the demo's scrubber, and are never printed.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kmsConfigFromEnv } from '@fleetkey/kms-core';
import {
  AWS_TEST_CREDENTIALS,
  GCP_KMS_ROLES,
  startAwsKmsEmulator,
  startAzureKeyVaultEmulator,
  startGcpKmsEmulator,
  startVaultEmulator,
} from '@fleetkey/kms-emulators';

export const DEMO_KMS_PROVIDERS = ['local', 'aws', 'azure', 'gcp', 'vault'] as const;
export type DemoKmsProvider = (typeof DEMO_KMS_PROVIDERS)[number];

export function isDemoKmsProvider(value: string): value is DemoKmsProvider {
  return (DEMO_KMS_PROVIDERS as readonly string[]).includes(value);
}

export interface DemoKms {
  readonly provider: DemoKmsProvider;
  /** For a person: what runs where. */
  readonly description: string;
  /** The vendor variables for `init` and `serve`. */
  readonly env: Readonly<Record<string, string>>;
  /** Values never to print. */
  readonly secrets: readonly string[];
  close(): Promise<void>;
}

/** An emulator is still a server of ours: it is closed even when the capability check fails. */
async function checked(kms: DemoKms, check: () => string | undefined): Promise<DemoKms> {
  const problem = check();
  if (problem === undefined) return kms;
  await kms.close();
  throw new Error(problem);
}

/**
 * Starts the KMS the demo asked for. `workDir` holds the Azure emulator's test CA certificate.
 * @throws Error when an emulator cannot start, or when this checkout's KMS configuration cannot
 *   point the controller at it (Azure, Google Cloud: see the README).
 */
export async function startDemoKms(provider: DemoKmsProvider, workDir: string): Promise<DemoKms> {
  switch (provider) {
    case 'local':
      return { provider, description: 'local KMS (a key file in the controller data directory)', env: {}, secrets: [], close: () => Promise.resolve() };
    case 'aws': {
      const emulator = await startAwsKmsEmulator({ port: 0 });
      return {
        provider,
        description: `AWS KMS emulator at ${emulator.url} (region ${emulator.region}, SigV4 checked)`,
        env: { AWS_REGION: emulator.region, AWS_ENDPOINT_URL_KMS: emulator.url, AWS_ACCESS_KEY_ID: AWS_TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS_TEST_CREDENTIALS.secretAccessKey },
        secrets: [AWS_TEST_CREDENTIALS.secretAccessKey],
        close: () => emulator.close(),
      };
    }
    case 'vault': {
      const emulator = await startVaultEmulator({ port: 0 });
      return {
        provider,
        description: `Vault Transit emulator at ${emulator.url}`,
        env: { VAULT_ADDR: emulator.url, VAULT_TOKEN: emulator.rootToken },
        secrets: [emulator.rootToken],
        close: () => emulator.close(),
      };
    }
    case 'azure': {
      const emulator = await startAzureKeyVaultEmulator({ port: 0 });
      // The emulator's TLS certificate comes from a CA made at start; Node trusts it through its
      // standard NODE_EXTRA_CA_CERTS, read when the controller process starts.
      const caFile = join(workDir, 'azure-emulator-ca.pem');
      await writeFile(caFile, emulator.caCertificatePem, { mode: 0o600 });
      const kms: DemoKms = {
        provider,
        description: `Azure Key Vault emulator at ${emulator.url} (HTTPS with a test CA, Entra client credentials)`,
        env: {
          AZURE_KEY_VAULT_URL: emulator.url,
          AZURE_TENANT_ID: emulator.tenantId,
          AZURE_CLIENT_ID: emulator.clientId,
          AZURE_CLIENT_SECRET: emulator.clientSecret,
          AZURE_AUTHORITY_HOST: emulator.url,
          NODE_EXTRA_CA_CERTS: caFile,
          // 127.0.0.1 is not *.vault.azure.net, so the SDK's challenge-resource check must be off.
          FLEETKEY_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
        },
        secrets: [emulator.clientSecret],
        close: () => emulator.close(),
      };
      return checked(kms, () => {
        const config = kmsConfigFromEnv({ ...kms.env, FLEETKEY_KMS_PROVIDER: 'azure' });
        return (config.azure as { disableChallengeResourceVerification?: unknown } | undefined)?.disableChallengeResourceVerification === true
          ? undefined
          : '--kms azure needs the KMS configuration to read FLEETKEY_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION (the emulator listens on 127.0.0.1, not *.vault.azure.net); this checkout does not yet — see examples/fleet-demo/README.md';
      });
    }
    case 'gcp': {
      // The adapter built from the environment alone has no auth client, so calls carry no token.
      const emulator = await startGcpKmsEmulator({ port: 0, anonymousRoles: GCP_KMS_ROLES });
      const kms: DemoKms = {
        provider,
        description: `Google Cloud KMS emulator at ${emulator.url} (plaintext gRPC)`,
        env: { GOOGLE_CLOUD_PROJECT: 'fleetkey-demo', GOOGLE_CLOUD_LOCATION: 'global', GOOGLE_CLOUD_KEY_RING: 'fleetkey-demo', FLEETKEY_GCP_KMS_ENDPOINT: emulator.url },
        secrets: [],
        close: () => emulator.close(),
      };
      return checked(kms, () => {
        const config = kmsConfigFromEnv({ ...kms.env, FLEETKEY_KMS_PROVIDER: 'gcp' });
        return config.gcp?.endpoint === emulator.url
          ? undefined
          : '--kms gcp needs the KMS configuration to read the endpoint from FLEETKEY_GCP_KMS_ENDPOINT (else the controller would call cloudkms.googleapis.com); this checkout does not yet — see examples/fleet-demo/README.md';
      });
    }
  }
}
