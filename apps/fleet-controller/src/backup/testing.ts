/**
 * Test support for backups: a controller made by the real `init` (local KMS) and served in-process
 * over real TLS on 127.0.0.1:0 — ProvisioningService, DeviceService and OperatorService with the
 * backup power wired the way `serve` wires it (its data directory and, optionally, a secondary
 * KMS), without the other powers; restored directories are served by the real `startController`.
 *
 * Trust boundary: test code only; keys and tokens here are throwaway.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import { unwrapWithPrivateKey } from '@fleetkey/crypto';
import {
  DeviceService,
  OperatorService,
  ProvisioningService,
  addService,
  bindServer,
  closeClient,
  createClient,
  createServer,
  keyBundleWrapContext,
  shutdownServer,
  type ServiceClient,
} from '@fleetkey/protocol';
import { Writable } from 'node:stream';
import { ControllerCore } from '../core/core.js';
import { loadControllerKeys } from '../core/controller-keys.js';
import { derToPem, openServerTls } from '../core/server-tls.js';
import { initController } from '../datadir/init.js';
import { dataDirPaths, type DataDirPaths } from '../datadir/layout.js';
import { openDataDirKms } from '../datadir/open-kms.js';
import { FleetEvents, type FleetPublisher } from '../fleet-events/index.js';
import { createFleetAdministration } from '../fleets/administration.js';
import { createOperatorService } from '../operator/operator-service.js';
import { createDeviceService, enroll } from '../provisioning/index.js';
import { deviceIdentity } from '../provisioning/testing.js';
import { createLogger } from '../runtime/logger.js';
import { InMemoryCertificateProvider, serverCredentialsOf } from '../serve/grpc-tls.js';
import { generateToken, hashToken, openSqliteRepository, type Repository } from '../store/index.js';
import { createBackupPower } from './backup-power.js';
import type { SecondaryKmsSettings } from './secondary-kms.js';

/** A robot as a test keeps it: its identity key, its certificate, and the epoch key it was given. */
export interface TestRobot {
  readonly deviceId: string;
  readonly privateKey: KeyObject;
  readonly certificateDer: Uint8Array;
  readonly epochKey: Buffer;
}

export interface BackupHarness {
  readonly parent: string;
  readonly paths: DataDirPaths;
  readonly fleet: string;
  readonly adminToken: string;
  readonly caFile: string;
  readonly address: string;
  readonly repository: Repository;
  operatorClient(): ServiceClient<typeof OperatorService>;
  /** Enrolls a robot through the real Enroll rpc and fetches its epoch key with GetKeyBundle. */
  enrollRobot(deviceId: string): Promise<TestRobot>;
  close(): Promise<void>;
}

/** A publisher for a power that publishes nothing; any use is a test bug. */
const UNUSED_PUBLISHER: FleetPublisher = {
  publish: () => Promise.reject(new Error('the backup power does not publish')),
  disconnectDevice: () => Promise.reject(new Error('the backup power does not disconnect devices')),
  subscribe: () => Promise.reject(new Error('the backup power does not subscribe')),
};

/** A log sink for in-process controllers (tests read it to check nothing secret was logged). */
export function logSink(): { stream: Writable; text(): string } {
  const chunks: string[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk.toString('utf8'));
        callback();
      },
    }),
    text: () => chunks.join(''),
  };
}

/** Fetches a robot's key bundle over mutual TLS and returns its first epoch key. */
export async function fetchEpochKey(address: string, caPem: Buffer, robot: Pick<TestRobot, 'deviceId' | 'privateKey' | 'certificateDer'>): Promise<Buffer> {
  const keyPem = Buffer.from(robot.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const client = createClient(DeviceService, address, credentials.createSsl(caPem, keyPem, Buffer.from(derToPem(robot.certificateDer))));
  try {
    const response = await client.getKeyBundle({});
    const epoch = response.keyBundle?.epochs[0];
    if (epoch === undefined) throw new Error('the key bundle holds no epoch');
    return Buffer.from(unwrapWithPrivateKey(epoch.wrappedKey, robot.privateKey, keyBundleWrapContext(robot.deviceId)));
  } finally {
    closeClient(client);
  }
}

export async function startBackupHarness(options: { readonly secondaryKms?: SecondaryKmsSettings; readonly fleet?: string } = {}): Promise<BackupHarness> {
  const fleet = options.fleet ?? 'acme';
  const parent = await mkdtemp(join(tmpdir(), 'fk-backup-'));
  const dataDir = join(parent, 'controller');
  const initialised = await initController({ dataDir, kms: 'local', fleet, env: {} });
  const paths = dataDirPaths(dataDir);
  const kms = (await openDataDirKms(paths, {})).provider;
  const clock = Date.now;
  const repository = await openSqliteRepository({ path: paths.state, clock });
  const controllerKeys = await loadControllerKeys(repository);
  const core = new ControllerCore({ repository, kms, clock, controllerKeys });
  const tls = await openServerTls(kms, new Uint8Array(await readFile(paths.serverKey)), await readFile(paths.serverCertificate, 'utf8'));
  const fleetCa = Buffer.from(derToPem((await core.fleetKeys(fleet)).caCertificateDer));
  const auditKey = await (await core.signer(controllerKeys.auditKeyId)).publicKey();
  const logger = createLogger({ level: 'silent', name: 'backup-test' });
  const power = await createBackupPower({
    core,
    events: new FleetEvents(),
    publisher: UNUSED_PUBLISHER,
    logger,
    dataDir: paths,
    ...(options.secondaryKms === undefined ? {} : { secondaryKms: options.secondaryKms }),
  });

  const server = createServer();
  addService(server, ProvisioningService, { enroll: (request) => enroll({ core, advertisedAddresses: () => ({ controller: 'controller.test:7443', broker: 'mqtts://controller.test:8883' }) }, request) });
  addService(server, DeviceService, createDeviceService({ core }));
  addService(
    server,
    OperatorService,
    createOperatorService({
      repository,
      clock,
      fleets: createFleetAdministration(core, () => undefined),
      auditPublicKeys: (keyId) => (keyId === controllerKeys.auditKeyId ? auditKey : undefined),
      health: async () => [],
      version: '0.1.0-test',
      extensions: [power.operatorRpcs!],
    }),
  );
  const port = await bindServer(server, '127.0.0.1:0', serverCredentialsOf(new InMemoryCertificateProvider(fleetCa, tls.certificateChainPem, tls.privateKeyPem)));
  const address = `127.0.0.1:${port}`;
  const caPem = await readFile(paths.caFile);
  const clients: object[] = [];

  return {
    parent,
    paths,
    fleet,
    adminToken: initialised.adminToken,
    caFile: paths.caFile,
    address,
    repository,
    operatorClient() {
      const client = createClient(OperatorService, address, credentials.createSsl(caPem));
      clients.push(client);
      return client;
    },
    async enrollRobot(deviceId) {
      const token = generateToken('enrollment');
      await repository.createEnrollmentToken({ fleetId: fleet, tokenHash: hashToken(token), expiresAt: clock() + 3_600_000 });
      const identity = await deviceIdentity('ECDSA_P256', deviceId);
      const station = createClient(ProvisioningService, address, credentials.createSsl(caPem));
      try {
        const response = await station.enroll({ enrollmentToken: token, csr: identity.csr, deviceId });
        const robot = { deviceId, privateKey: identity.privateKey, certificateDer: response.certificate };
        return { ...robot, epochKey: await fetchEpochKey(address, caPem, robot) };
      } finally {
        closeClient(station);
      }
    },
    async close() {
      for (const client of clients.splice(0)) closeClient(client);
      await power.stop?.();
      await shutdownServer(server, 1000);
      tls.privateKeyPem.fill(0);
      core.close();
      await repository.close();
      await kms.close();
    },
  };
}

/** Removes a harness's directory (after `close`). */
export async function removeHarness(harness: BackupHarness): Promise<void> {
  await rm(harness.parent, { recursive: true, force: true });
}
