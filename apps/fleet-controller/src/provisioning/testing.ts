/**
 * Test support for the provisioning and device APIs: a data directory made by the real `init`,
 * the real core over its KMS and store, and a gRPC server with ProvisioningService and
 * DeviceService on 127.0.0.1:0 over real TLS — without the broker or the operator API, so
 * provisioning is tested on its own. Device-side helpers make identity keys and CSRs as the edge
 * agent will.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { createCsr, createLocalSigner, generateKeyPair } from '@fleetkey/crypto';
import type { AsymmetricAlgorithm } from '@fleetkey/key-types';
import { DeviceService, ProvisioningService, addService, bindServer, closeClient, createClient, createServer, shutdownServer, type ServiceClient } from '@fleetkey/protocol';
import { ControllerCore } from '../core/core.js';
import { loadControllerKeys } from '../core/controller-keys.js';
import { derToPem, openServerTls } from '../core/server-tls.js';
import { initController } from '../datadir/init.js';
import { dataDirPaths } from '../datadir/layout.js';
import { openDataDirKms } from '../datadir/open-kms.js';
import { InMemoryCertificateProvider, serverCredentialsOf } from '../serve/grpc-tls.js';
import { generateToken, hashToken, openSqliteRepository, type NewEnrollmentToken } from '../store/index.js';
import { createDeviceService } from './device-service.js';
import { CsrVerifierPool } from './csr-verifier-pool.js';
import { enroll } from './enroll.js';

export interface ProvisioningHarness {
  readonly fleet: string;
  readonly core: ControllerCore;
  readonly address: string;
  readonly caPem: Buffer;
  readonly dataDir: string;
  /** Mints an enrollment token in the store (as the operator API does) and returns its secret. */
  mintToken(overrides?: Partial<NewEnrollmentToken>): Promise<{ token: string; id: string }>;
  provisioningClient(): ServiceClient<typeof ProvisioningService>;
  deviceClient(identity: { privateKey: KeyObject; certificateDer: Uint8Array } | undefined): ServiceClient<typeof DeviceService>;
  close(): Promise<void>;
}

export async function startProvisioningHarness(fleet = 'acme', clock: () => number = Date.now): Promise<ProvisioningHarness> {
  const parent = await mkdtemp(join(tmpdir(), 'fk-prov-'));
  const dataDir = join(parent, 'ctl');
  await initController({ dataDir, kms: 'local', fleet, env: {} });
  const paths = dataDirPaths(dataDir);
  const kms = (await openDataDirKms(paths, {})).provider;
  const repository = await openSqliteRepository({ path: paths.state, clock });
  const core = new ControllerCore({ repository, kms, clock, controllerKeys: await loadControllerKeys(repository) });
  const tls = await openServerTls(kms, new Uint8Array(await readFile(paths.serverKey)), await readFile(paths.serverCertificate, 'utf8'));
  const fleetCa = Buffer.from(derToPem((await core.fleetKeys(fleet)).caCertificateDer));
  const csrPool = new CsrVerifierPool();
  const server = createServer();
  addService(server, ProvisioningService, {
    enroll: (request) =>
      enroll({ core, verifyCsr: (csr) => csrPool.verify(csr), advertisedAddresses: () => ({ controller: 'controller.test:7443', broker: 'mqtts://controller.test:8883' }) }, request),
  });
  addService(server, DeviceService, createDeviceService({ core }));
  const port = await bindServer(server, '127.0.0.1:0', serverCredentialsOf(new InMemoryCertificateProvider(fleetCa, tls.certificateChainPem, tls.privateKeyPem)));
  const address = `127.0.0.1:${port}`;
  const caPem = await readFile(paths.caFile);
  const clients: object[] = [];
  const track = <T extends object>(client: T): T => {
    clients.push(client);
    return client;
  };

  return {
    fleet,
    core,
    address,
    caPem,
    dataDir,
    async mintToken(overrides = {}) {
      const token = generateToken('enrollment');
      const record = await repository.createEnrollmentToken({ fleetId: fleet, tokenHash: hashToken(token), expiresAt: clock() + 3_600_000, ...overrides });
      return { token, id: record.id };
    },
    provisioningClient: () => track(createClient(ProvisioningService, address, credentials.createSsl(caPem))),
    deviceClient(identity) {
      const channel: ChannelCredentials =
        identity === undefined
          ? credentials.createSsl(caPem)
          : credentials.createSsl(caPem, Buffer.from(identity.privateKey.export({ type: 'pkcs8', format: 'pem' })), Buffer.from(derToPem(identity.certificateDer)));
      return track(createClient(DeviceService, address, channel));
    },
    async close() {
      for (const client of clients) closeClient(client);
      await shutdownServer(server, 1000);
      await csrPool.close();
      tls.privateKeyPem.fill(0);
      core.close();
      await repository.close();
      await kms.close();
      await rm(parent, { recursive: true, force: true });
    },
  };
}

/** A robot's identity key and the CSR the edge agent sends (its names are placeholders the controller ignores). */
export async function deviceIdentity(algorithm: AsymmetricAlgorithm = 'ECDSA_P256', deviceId = 'robot-1'): Promise<{ privateKey: KeyObject; publicKey: KeyObject; csr: Uint8Array }> {
  const pair = await generateKeyPair(algorithm);
  const csr = await createCsr({ signer: createLocalSigner(pair.privateKey), fleet: 'unassigned', deviceId });
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, csr: csr.der };
}
