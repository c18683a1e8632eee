/**
 * `init --kms aws|vault` and `serve` against the wire emulators, through the real binaries and
 * the vendors' real SDKs: the fleet CA, emergency key and KEKs live in the emulated KMS, a robot
 * enrolls, and its certificate chains to the fleet CA. The provider's secrets (AWS keys, the
 * Vault token) come from the environment and never land in the data directory.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { AWS_TEST_CREDENTIALS, startAwsKmsEmulator, startVaultEmulator } from '@fleetkey/kms-emulators';
import { ProvisioningService, closeClient, createClient } from '@fleetkey/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceIdentity } from '../provisioning/testing.js';
import { FLEETCTL_BIN, initDataDir, run, startServe } from './testing.js';

let parent: string;
beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'fk-kms-e2e-'));
});
afterAll(async () => {
  await rm(parent, { recursive: true, force: true });
});

interface Cloud {
  readonly env: NodeJS.ProcessEnv;
  readonly secrets: readonly string[];
  close(): Promise<void>;
}

const clouds: Record<'aws' | 'vault', () => Promise<Cloud>> = {
  async aws() {
    const emulator = await startAwsKmsEmulator({ port: 0 });
    return {
      env: { AWS_REGION: emulator.region, AWS_ENDPOINT_URL_KMS: emulator.url, AWS_ACCESS_KEY_ID: AWS_TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS_TEST_CREDENTIALS.secretAccessKey },
      secrets: [AWS_TEST_CREDENTIALS.secretAccessKey],
      close: () => emulator.close(),
    };
  },
  async vault() {
    const emulator = await startVaultEmulator({ port: 0 });
    return { env: { VAULT_ADDR: emulator.url, VAULT_TOKEN: emulator.rootToken }, secrets: [emulator.rootToken], close: () => emulator.close() };
  },
};

describe.each(['aws', 'vault'] as const)('a controller whose keys live in %s', (provider) => {
  it('initialises, serves, and enrolls a robot with the fleet CA key held by the KMS', async () => {
    const cloud = await clouds[provider]();
    const env = { ...process.env, ...cloud.env };
    const dataDir = join(parent, provider);
    try {
      const init = await initDataDir(dataDir, 'acme', env, ['--kms', provider]);
      const settings = await readFile(join(dataDir, 'controller.json'), 'utf8');
      expect(JSON.parse(settings).kms.provider).toBe(provider);
      for (const secret of cloud.secrets) expect(settings).not.toContain(secret);

      const controller = await startServe(dataDir, env);
      try {
        const minted = await run(process.execPath, [FLEETCTL_BIN, '--controller', controller.ready.grpc, '--ca-file', init.caFile, 'tokens', 'create', '--fleet', 'acme', '-o', 'json'], {
          env: { ...process.env, FLEETKEY_TOKEN: init.adminToken, FLEETKEY_CONFIG: join(parent, 'none.json') },
        });
        const token = (JSON.parse(minted.stdout) as { tokens: { token: string }[] }).tokens[0]!.token;
        const device = await deviceIdentity('ECDSA_P256', 'robot-1');
        const station = createClient(ProvisioningService, controller.ready.grpc, credentials.createSsl(await readFile(init.caFile)));
        try {
          const response = await station.enroll({ enrollmentToken: token, csr: device.csr, deviceId: 'robot-1' });
          const certificate = new X509Certificate(response.certificate);
          expect(certificate.verify(new X509Certificate(response.caChain[0]!).publicKey)).toBe(true);
          expect(response.keyBundle?.epochs).toHaveLength(1);
        } finally {
          closeClient(station);
        }
        const health = await fetch(`http://${controller.ready.http}/readyz`);
        expect(((await health.json()) as { checks: Record<string, boolean> }).checks[`kms:${provider}`]).toBe(true);
      } finally {
        expect(await controller.stop()).toBe(0);
        for (const secret of cloud.secrets) expect(controller.stderr()).not.toContain(secret);
      }
    } finally {
      await cloud.close();
    }
  });
});
