/**
 * Test support of the rotation specs, end-to-end tests and the benchmark (not exported from
 * ./index.ts): a data directory made by the real `init` (local KMS provider), the real core over
 * it with a manual clock and a KMS call counter (kms-core's withMetrics + InMemoryMetricsSink),
 * devices enrolled straight into the store with real certificates from the fleet CA in the KMS
 * (their private keys kept, so tests can unwrap what they receive), and the embedded MQTT broker
 * with the controller's own device authentication.
 *
 * Trust boundary: test code only; keys, tokens and data directories here are throwaway.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { generateKeyPair, keyCommitmentMatches, unwrapWithPrivateKey, verifySignature } from '@fleetkey/crypto';
import type { KeyState } from '@fleetkey/key-types';
import { EpochManifestSchema, keyBundleWrapContext, type EpochManifest, keyStateFromProto, signatureAlgorithmFromProto, verifyPayload, type EmergencyKey, type KeyBundle } from '@fleetkey/protocol';
import { InMemoryMetricsSink, withMetrics, type KmsProvider } from '@fleetkey/kms-core';
import { ControllerCore } from '../core/core.js';
import { loadControllerKeys } from '../core/controller-keys.js';
import { derToPem, openServerTls } from '../core/server-tls.js';
import { initController } from '../datadir/init.js';
import { dataDirPaths } from '../datadir/layout.js';
import { openDataDirKms } from '../datadir/open-kms.js';
import { FleetEvents } from '../fleet-events/index.js';
import { authenticateDevice, emergencyKeyOf, issueFleetDeviceCertificate } from '../provisioning/index.js';
import { createLogger, type Logger } from '../runtime/logger.js';
import { startMqttBroker, type EmbeddedBroker } from '../runtime/mqtt-broker.js';
import { openSqliteRepository, type Device, type Repository } from '../store/index.js';
import { manualClock, type ManualClock } from '../store/testing.js';
import { readSeries } from './series.js';

export interface TestDevice {
  readonly deviceId: string;
  readonly groupId: string | null;
  readonly privateKey: KeyObject;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export interface OpenedDataDir {
  readonly dataDir: string;
  readonly core: ControllerCore;
  readonly repository: Repository;
  readonly kms: KmsProvider;
  /** Every KMS call the core made (withMetrics). */
  readonly kmsSink: InMemoryMetricsSink;
  /** Calls of one KMS operation so far. */
  kmsCalls(operation: string): number;
  close(): Promise<void>;
}

/** Opens an existing data directory the way `serve` does (local KMS provider), with `clock`. */
export async function openDataDir(dataDir: string, clock: () => number): Promise<OpenedDataDir> {
  const paths = dataDirPaths(dataDir);
  const inner = (await openDataDirKms(paths, {})).provider;
  const kmsSink = new InMemoryMetricsSink();
  const kms = withMetrics(inner, kmsSink);
  const repository = await openSqliteRepository({ path: paths.state, clock });
  const core = new ControllerCore({ repository, kms, clock, controllerKeys: await loadControllerKeys(repository) });
  return {
    dataDir,
    core,
    repository,
    kms,
    kmsSink,
    kmsCalls: (operation) => kmsSink.summary().find((entry) => entry.operation === operation)?.calls ?? 0,
    async close() {
      core.close();
      await repository.close();
      await kms.close();
    },
  };
}

/**
 * Enrolls `count` devices straight into the store: a P-256 identity key each, a certificate from
 * the fleet CA in the KMS, ids `${prefix}-0001`…
 */
export async function enrollDevices(core: ControllerCore, fleetId: string, count: number, options: { groupId?: string; prefix?: string } = {}): Promise<TestDevice[]> {
  const keys = await core.fleetKeys(fleetId);
  const groupId = options.groupId ?? null;
  if (groupId !== null && (await core.repository.getGroup(fleetId, groupId)) === undefined) await core.repository.createGroup({ fleetId, id: groupId, name: groupId });
  const devices: TestDevice[] = [];
  for (let index = 1; index <= count; index++) {
    const deviceId = `${options.prefix ?? 'robot'}-${String(index).padStart(4, '0')}`;
    const pair = await generateKeyPair('ECDSA_P256');
    const certificate = await issueFleetDeviceCertificate(core, keys, { deviceId, publicKey: pair.publicKey });
    await core.repository.createDevice({ fleetId, deviceId, groupId, serial: `SN-${deviceId}`, certificateDer: certificate.der, certificateSerial: certificate.serialNumber, keyAlgorithm: 'ECDSA_P256' });
    devices.push({ deviceId, groupId, privateKey: pair.privateKey, certificatePem: certificate.pem, privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string });
  }
  return devices;
}

/** The bundle sequence a device of `groupId` holds now (sum of its series' manifest sequences). */
export async function currentBundleSequence(repository: Repository, fleetId: string, groupId: string | null): Promise<number> {
  const fleetWide = (await readSeries(repository, fleetId, null)).manifestSequence;
  return groupId === null ? fleetWide : fleetWide + (await readSeries(repository, fleetId, groupId)).manifestSequence;
}

/** Records, as the ack ingestion would, that `devices` applied the bundle they hold now. */
export async function ackCurrentBundles(repository: Repository, fleetId: string, devices: readonly Pick<Device, 'deviceId' | 'groupId'>[]): Promise<void> {
  for (const device of devices) await repository.recordDeviceAck(fleetId, device.deviceId, 'key-bundle', await currentBundleSequence(repository, fleetId, device.groupId));
}

export interface RotationHarness extends OpenedDataDir {
  readonly fleet: string;
  readonly clock: ManualClock;
  readonly events: FleetEvents;
  readonly logger: Logger;
  /** Log lines written so far (JSON text). */
  readonly logLines: string[];
  /** The embedded broker over the data directory's TLS identity, trusting the fleet CA. */
  startBroker(): Promise<{ broker: EmbeddedBroker; caPem: string }>;
}

/** `init` into a temp dir, then open it with a manual clock that starts at the real now (TLS checks the wall clock). */
export async function startRotationHarness(fleet = 'acme'): Promise<RotationHarness> {
  const parent = await mkdtemp(join(tmpdir(), 'fk-rotation-'));
  const dataDir = join(parent, 'ctl');
  const clock = manualClock(Math.floor(Date.now() / 1000) * 1000);
  await initController({ dataDir, kms: 'local', fleet, env: {}, clock });
  const opened = await openDataDir(dataDir, clock);
  const logLines: string[] = [];
  const logger = createLogger({ level: 'debug', name: 'rotation-test', destination: { write: (line: string) => void logLines.push(line) } });
  const brokers: EmbeddedBroker[] = [];
  return {
    ...opened,
    fleet,
    clock,
    events: new FleetEvents(),
    logger,
    logLines,
    async startBroker() {
      const paths = dataDirPaths(dataDir);
      const tls = await openServerTls(opened.kms, new Uint8Array(await readFile(paths.serverKey)), await readFile(paths.serverCertificate, 'utf8'));
      const fleetCa = derToPem((await opened.core.fleetKeys(fleet)).caCertificateDer);
      const broker = await startMqttBroker({
        host: '127.0.0.1',
        port: 0,
        caCertificatesPem: [fleetCa],
        certificatePem: tls.certificateChainPem.toString('utf8'),
        privateKeyPem: tls.privateKeyPem.toString('utf8'),
        authenticateDevice: async (der) => {
          const device = await authenticateDevice(opened.core, der);
          return device === undefined ? undefined : { fleet: device.fleetId, deviceId: device.deviceId, ...(device.device.groupId === null ? {} : { group: device.device.groupId }) };
        },
        logger,
      });
      tls.privateKeyPem.fill(0);
      brokers.push(broker);
      return { broker, caPem: await readFile(paths.caFile, 'utf8') };
    },
    async close() {
      for (const broker of brokers) await broker.close();
      await opened.close();
      await rm(parent, { recursive: true, force: true });
    },
  };
}

export interface OpenedEpoch {
  readonly keyId: string;
  readonly version: number;
  readonly state: KeyState;
  readonly notBefore: number;
  readonly notAfter: number;
  /** The unwrapped epoch key (throwaway test key). */
  readonly key: Uint8Array;
}

/**
 * Opens a bundle as a robot does: every manifest verified against the pinned emergency key, every
 * wrapped key unwrapped with the device's private key and checked against its manifest commitment.
 * @throws when any check fails.
 */
export async function openBundle(bundle: KeyBundle, deviceId: string, privateKey: KeyObject, emergency: EmergencyKey): Promise<OpenedEpoch[]> {
  const emergencyPublic = createPublicKey({ key: Buffer.from(emergency.publicKey), format: 'der', type: 'spki' });
  const manifests: EpochManifest[] = [];
  for (const signed of bundle.manifests) {
    manifests.push(
      await verifyPayload(EpochManifestSchema, signed, (input, payload) => {
        if (!verifySignature(emergencyPublic, signatureAlgorithmFromProto(payload.signatureAlgorithm), input, payload.signature)) throw new Error('bad manifest signature');
      }),
    );
  }
  return bundle.epochs.map((wrapped) => {
    const manifest = manifests.find((m) => m.keyId === wrapped.key?.keyId);
    const listed = manifest?.epochs.find((e) => e.version === wrapped.key?.version);
    if (manifest === undefined || listed === undefined || listed.notBefore === undefined || listed.notAfter === undefined) throw new Error('a wrapped key no manifest lists');
    const key = unwrapWithPrivateKey(wrapped.wrappedKey, privateKey, keyBundleWrapContext(deviceId));
    if (!keyCommitmentMatches(key, manifest.keyId, listed.version, listed.keyCommitment)) throw new Error('key does not match its commitment');
    return { keyId: manifest.keyId, version: listed.version, state: keyStateFromProto(listed.state), notBefore: timestampMs(listed.notBefore), notAfter: timestampMs(listed.notAfter), key };
  });
}

/** The emergency key robots of `fleetId` pin. */
export async function pinnedEmergencyKey(core: ControllerCore, fleetId: string): Promise<EmergencyKey> {
  return emergencyKeyOf(core, await core.fleetKeys(fleetId));
}
