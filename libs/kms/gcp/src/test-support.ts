/**
 * Test support: a GCP KMS emulator plus adapters pointed at it through the real SDK. Not exported
 * from the package index.
 *
 * Trust boundary: tests only; the emulator token is a fixed test value, not a secret.
 */
import { googleAuthLibrary } from 'google-gax';
import { GCP_EMULATOR_TOKEN, startGcpKmsEmulator } from '@fleetkey/kms-emulators';
import type { GcpKmsEmulator, GcpKmsEmulatorOptions } from '@fleetkey/kms-emulators';
import type { KmsProvider } from '@fleetkey/kms-core';
import { createGcpKmsProvider } from './provider.js';
import type { GcpKmsDeps } from './provider.js';
import type { GcpKmsConfig } from './config.js';
import type { GcpAuthClient } from './client.js';

export const TEST_PROJECT = 'fleetkey-test';

/** An OAuth2 client holding a fixed access token: no network, no metadata-server probe. */
export function tokenAuthClient(token: string = GCP_EMULATOR_TOKEN): GcpAuthClient {
  const client = new googleAuthLibrary.OAuth2Client();
  client.setCredentials({ access_token: token, expiry_date: Date.now() + 24 * 3600 * 1000 });
  return client as unknown as GcpAuthClient;
}

export interface EmulatedGcp {
  readonly emulator: GcpKmsEmulator;
  provider(overrides?: Partial<GcpKmsConfig>, token?: string | null, deps?: Omit<GcpKmsDeps, 'authClient' | 'client'>): KmsProvider;
  cleanup(): Promise<void>;
}

let ringSeq = 0;

/** Starts an emulator; `provider()` makes adapters on a fresh key ring each (closed by cleanup). */
export async function emulatedGcp(options: GcpKmsEmulatorOptions = {}): Promise<EmulatedGcp> {
  const emulator = await startGcpKmsEmulator(options);
  const providers: KmsProvider[] = [];
  return {
    emulator,
    provider(overrides = {}, token = GCP_EMULATOR_TOKEN, deps = {}) {
      const p = createGcpKmsProvider(
        { projectId: TEST_PROJECT, location: 'global', keyRing: `ring-${process.pid}-${++ringSeq}`, endpoint: emulator.url, ...overrides },
        { ...deps, ...(token === null ? {} : { authClient: tokenAuthClient(token) }) },
      );
      providers.push(p);
      return p;
    },
    async cleanup() {
      await Promise.all(providers.map((p) => p.close()));
      await emulator.close();
    },
  };
}
