/**
 * Test support for revocation, lockdown and command delivery: the controller composed in-process
 * the way ../serve/controller.ts composes it — a data directory made by the real `init`, the real
 * core over its local KMS and SQLite store, the embedded MQTT broker over TLS with device
 * certificates, and one gRPC server (TLS, mutual TLS for robots) with ProvisioningService,
 * DeviceService and OperatorService — but with only this power plugged in, so its tests do not
 * depend on the other powers. The clock is a manual one (lift expiry), starting now so that the
 * certificates `init` made are valid.
 *
 * Trust boundary: test code only; keys and credentials here are throwaway.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import {
  DeviceService,
  OperatorService,
  ProvisioningService,
  addService,
  bindServer,
  closeClient,
  createClient,
  createServer,
  shutdownServer,
  type CallOptions,
  type ServiceClient,
} from '@fleetkey/protocol';
import { connectAsync, type MqttClient } from 'mqtt';
import { ControllerCore } from '../core/core.js';
import { loadControllerKeys } from '../core/controller-keys.js';
import { derToPem, openServerTls } from '../core/server-tls.js';
import { initController } from '../datadir/init.js';
import { dataDirPaths } from '../datadir/layout.js';
import { openDataDirKms } from '../datadir/open-kms.js';
import { FleetEvents } from '../fleet-events/index.js';
import { createFleetAdministration } from '../fleets/administration.js';
import { createOperatorService } from '../operator/operator-service.js';
import { authenticateDevice, createDeviceService, enroll } from '../provisioning/index.js';
import { deviceIdentity } from '../provisioning/testing.js';
import { createLogger, type Logger } from '../runtime/logger.js';
import { startMqttBroker, type EmbeddedBroker } from '../runtime/mqtt-broker.js';
import { InMemoryCertificateProvider, serverCredentialsOf } from '../serve/grpc-tls.js';
import type { FleetPower } from '../serve/fleet-powers.js';
import { manualClock, type ManualClock } from '../store/testing.js';
import { generateToken, hashToken, openSqliteRepository, type OperatorRole, type Repository } from '../store/index.js';
import { createCommandsPower, type CommandsPowerOptions } from './power.js';

export interface TestRobot {
  readonly fleet: string;
  readonly deviceId: string;
  readonly group: string;
  readonly privateKey: KeyObject;
  readonly certificateDer: Uint8Array;
  readonly keyPem: string;
  readonly certificatePem: string;
  /** The emergency public key it pinned at enrollment. */
  readonly emergencyKey: KeyObject;
  /** The fleet's command sequence it learnt at enrollment. */
  readonly enrolledAtSequence: bigint;
}

export interface TestOperator {
  readonly id: string;
  readonly credential: string;
  /** Call options carrying its bearer credential. */
  readonly call: CallOptions;
}

export interface CommandsHarness {
  readonly fleet: string;
  readonly core: ControllerCore;
  readonly repository: Repository;
  readonly clock: ManualClock;
  readonly events: FleetEvents;
  readonly broker: EmbeddedBroker;
  readonly power: FleetPower;
  /** gRPC address (TLS; mutual TLS for robots). */
  readonly address: string;
  readonly caFile: string;
  readonly caPem: Buffer;
  /** Every log line the controller parts wrote (JSON). */
  readonly logLines: string[];
  readonly logger: Logger;
  readonly operatorClient: ServiceClient<typeof OperatorService>;
  /** An all-fleets admin. */
  readonly admin: TestOperator;
  makeOperator(role: OperatorRole, fleets?: readonly string[]): Promise<TestOperator>;
  /** Enrolls a robot through the real ProvisioningService (a group is created when named). */
  enrollRobot(deviceId: string, options?: { fleet?: string; group?: string }): Promise<TestRobot>;
  deviceClient(robot: TestRobot): ServiceClient<typeof DeviceService>;
  /** An MQTT connection of the robot to the broker (TLS with its certificate); closed by close(). */
  mqtt(robot: TestRobot, options?: { clientId?: string }): Promise<MqttClient>;
  close(): Promise<void>;
}

export async function startCommandsHarness(options: CommandsPowerOptions & { fleet?: string } = {}): Promise<CommandsHarness> {
  const fleet = options.fleet ?? 'acme';
  const parent = await mkdtemp(join(tmpdir(), 'fk-commands-'));
  const dataDir = join(parent, 'ctl');
  await initController({ dataDir, kms: 'local', fleet, env: {} });
  const clock = manualClock(Date.now());
  const paths = dataDirPaths(dataDir);
  const kms = (await openDataDirKms(paths, {})).provider;
  const repository = await openSqliteRepository({ path: paths.state, clock });
  const core = new ControllerCore({ repository, kms, clock, controllerKeys: await loadControllerKeys(repository) });
  const tls = await openServerTls(kms, new Uint8Array(await readFile(paths.serverKey)), await readFile(paths.serverCertificate, 'utf8'));
  const logLines: string[] = [];
  const logger = createLogger({ level: 'debug', name: 'commands-test', destination: { write: (line: string) => void logLines.push(line) } });

  const fleetCaBundle = async (): Promise<Buffer> => {
    const pems: string[] = [];
    for (const each of await repository.listFleets()) pems.push(derToPem((await core.fleetKeys(each.id)).caCertificateDer));
    return Buffer.from(pems.join(''));
  };
  const caProvider = new InMemoryCertificateProvider(await fleetCaBundle(), tls.certificateChainPem, tls.privateKeyPem);
  const broker = await startMqttBroker({
    host: '127.0.0.1',
    port: 0,
    caCertificatesPem: [(await fleetCaBundle()).toString('utf8')],
    certificatePem: tls.certificateChainPem.toString('utf8'),
    privateKeyPem: tls.privateKeyPem.toString('utf8'),
    authenticateDevice: async (der) => {
      const device = await authenticateDevice(core, der);
      return device === undefined ? undefined : { fleet: device.fleetId, deviceId: device.deviceId, ...(device.device.groupId === null ? {} : { group: device.device.groupId }) };
    },
    logger: logger.child({ component: 'mqtt' }),
  });
  const refreshTrust = async (): Promise<void> => {
    const bundle = await fleetCaBundle();
    caProvider.setCaBundle(bundle);
    broker.setCaCertificates([bundle.toString('utf8')]);
  };
  const events = new FleetEvents((error) => logger.error({ err: error }, 'a fleet event listener failed'));
  const power = await createCommandsPower({ core, events, publisher: broker, logger }, options);

  const server = createServer();
  const [brokerHost, brokerPort] = broker.address.split(':');
  addService(server, ProvisioningService, {
    enroll: (request) => enroll({ core, advertisedAddresses: () => ({ controller: 'controller.test:7443', broker: `mqtts://${broker.address}` }) }, request),
  });
  addService(server, DeviceService, { ...createDeviceService({ core }), ...power.deviceRpcs });
  addService(
    server,
    OperatorService,
    createOperatorService({
      repository,
      clock,
      fleets: createFleetAdministration(core, refreshTrust),
      auditPublicKeys: () => undefined,
      health: async () => [],
      version: '0.0.0-test',
      extensions: power.operatorRpcs === undefined ? [] : [power.operatorRpcs],
    }),
  );
  const port = await bindServer(server, '127.0.0.1:0', serverCredentialsOf(caProvider));
  const address = `127.0.0.1:${port}`;
  const caPem = await readFile(paths.caFile);
  await power.start?.();

  const grpcClients: object[] = [];
  const mqttClients: MqttClient[] = [];
  const operatorClient = createClient(OperatorService, address, credentials.createSsl(caPem));
  grpcClients.push(operatorClient);
  const makeOperator = async (role: OperatorRole, fleets: readonly string[] = []): Promise<TestOperator> => {
    const credential = generateToken('operator');
    const operator = await repository.createOperator({
      name: `${role} ${fleets.join(',') || 'all'}`,
      role,
      fleetScope: fleets.length === 0 ? { kind: 'all' } : { kind: 'fleets', fleetIds: fleets },
      tokenHash: hashToken(credential),
    });
    return { id: operator.id, credential, call: { metadata: { authorization: `Bearer ${credential}` } } };
  };
  const admin = await makeOperator('admin');

  return {
    fleet,
    core,
    repository,
    clock,
    events,
    broker,
    power,
    address,
    caFile: paths.caFile,
    caPem,
    logLines,
    logger,
    operatorClient,
    admin,
    makeOperator,
    async enrollRobot(deviceId, robotOptions = {}) {
      const robotFleet = robotOptions.fleet ?? fleet;
      if (robotOptions.group !== undefined && (await repository.getGroup(robotFleet, robotOptions.group)) === undefined) {
        await repository.createGroup({ fleetId: robotFleet, id: robotOptions.group, name: robotOptions.group });
      }
      const token = generateToken('enrollment');
      await repository.createEnrollmentToken({ fleetId: robotFleet, groupId: robotOptions.group ?? null, tokenHash: hashToken(token), expiresAt: clock() + 3_600_000 });
      const identity = await deviceIdentity('ECDSA_P256', deviceId);
      const station = createClient(ProvisioningService, address, credentials.createSsl(caPem));
      try {
        const response = await station.enroll({ enrollmentToken: token, csr: identity.csr, deviceId });
        return {
          fleet: robotFleet,
          deviceId,
          group: response.group,
          privateKey: identity.privateKey,
          certificateDer: response.certificate,
          keyPem: identity.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
          certificatePem: derToPem(response.certificate),
          emergencyKey: createPublicKey({ key: Buffer.from(response.emergencyKey!.publicKey), format: 'der', type: 'spki' }),
          enrolledAtSequence: response.commandSequence,
        };
      } finally {
        closeClient(station);
      }
    },
    deviceClient(robot) {
      const client = createClient(DeviceService, address, credentials.createSsl(caPem, Buffer.from(robot.keyPem), Buffer.from(robot.certificatePem)));
      grpcClients.push(client);
      return client;
    },
    async mqtt(robot, mqttOptions = {}) {
      const client = await connectAsync({
        protocol: 'mqtts',
        host: brokerHost,
        port: Number(brokerPort),
        ca: caPem,
        key: robot.keyPem,
        cert: robot.certificatePem,
        clientId: mqttOptions.clientId ?? robot.deviceId,
        reconnectPeriod: 0,
        connectTimeout: 5000,
      });
      mqttClients.push(client);
      return client;
    },
    async close() {
      for (const client of mqttClients) await client.endAsync(true).catch(() => undefined);
      for (const client of grpcClients) closeClient(client);
      await power.stop?.();
      await shutdownServer(server, 1000);
      await broker.close();
      tls.privateKeyPem.fill(0);
      core.close();
      await repository.close();
      await kms.close();
      await rm(parent, { recursive: true, force: true });
    },
  };
}
