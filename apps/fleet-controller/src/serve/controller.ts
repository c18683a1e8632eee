/**
 * `fleet-controller serve`: the composition root. Opens the data directory (KMS provider, state
 * store, controller keys, sealed TLS key), starts the gRPC server (operators and stations over
 * TLS, robots over mutual TLS), the embedded MQTT broker (TLS with device certificates) or a
 * client of an external one (`mqttUrl`: a client certificate from the controller TLS CA), and the
 * HTTP probe/metrics port; signs the audit head at intervals and on shutdown; and stops in the
 * reverse order, draining gRPC calls first.
 *
 * Trust boundary: this is where configuration becomes running parts. Secrets handled here — the
 * TLS private key PEM, the MQTT client key — are zeroized on close or once the TLS context holds
 * them; logs go through the redacting logger only.
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import type { Writable } from 'node:stream';
import { InvalidArgument, isFleetkeyError } from '@fleetkey/key-types';
import type { KmsEnvironment } from '@fleetkey/kms-core';
import {
  DeviceService,
  OperatorService,
  ProvisioningService,
  type ServiceHandlers,
  addService,
  bindServer,
  createServer,
  shutdownServer,
} from '@fleetkey/protocol';
import { signHead } from '../audit/index.js';
import { ControllerCore } from '../core/core.js';
import { loadControllerKeys } from '../core/controller-keys.js';
import { derToPem, openServerTls } from '../core/server-tls.js';
import { dataDirPaths, readControllerSettings, type DataDirPaths } from '../datadir/layout.js';
import { openDataDirKms } from '../datadir/open-kms.js';
import { createFleetAdministration } from '../fleets/administration.js';
import type { ComponentHealthReport } from '../operator/deps.js';
import { createOperatorService } from '../operator/operator-service.js';
import { CsrVerifierPool, authenticateDevice, createDeviceService, enroll } from '../provisioning/index.js';
import { createLogger, type LogLevel, type Logger } from '../runtime/logger.js';
import { createControllerMetrics } from '../runtime/metrics.js';
import { startHttpServer } from '../runtime/http.js';
import { formatAddress, parseListenAddress, readyLine } from '../runtime/listen.js';
import { startMqttBroker, type EmbeddedBroker } from '../runtime/mqtt-broker.js';
import { CONTROLLER_MQTT_CLIENT_ID, controllerTlsSource } from '../runtime/broker-identity.js';
import { parseMqttUrl, startExternalBroker, type ExternalBroker } from '../runtime/external-broker.js';
import { republishRetained } from '../commands/retained.js';
import { openSqliteRepository, type Repository } from '../store/index.js';
import { InMemoryCertificateProvider, serverCredentialsOf } from './grpc-tls.js';
import { instrumented } from './instrument.js';
import { createFleetPowers } from './fleet-powers.js';
import { secondaryKmsFromEnv } from '../backup/index.js';
import { FleetEvents } from '../fleet-events/index.js';

export const DEFAULT_GRPC_LISTEN = '127.0.0.1:7443';
export const DEFAULT_MQTT_LISTEN = '127.0.0.1:8883';
export const DEFAULT_HTTP_LISTEN = '127.0.0.1:9090';
export const DEFAULT_AUDIT_SIGN_INTERVAL_MS = 5 * 60_000;
export const DEFAULT_DRAIN_MS = 10_000;
/** serve warns at start when the TLS server certificate has less than this left. */
export const TLS_RENEWAL_WARNING_MS = 30 * 86_400_000;

export interface ServeOptions {
  readonly dataDir: string;
  readonly grpcListen?: string;
  readonly mqttListen?: string;
  readonly httpListen?: string;
  /** The gRPC address robots are told at enrollment (default: the bound one). */
  readonly advertiseGrpc?: string;
  /** The broker address robots are told (default: the bound one; required with `mqttUrl`). */
  readonly advertiseMqtt?: string;
  /**
   * `mqtts://host:port` of an external MQTT broker (deploy/mosquitto/) to use instead of the
   * embedded one; excludes `mqttListen`. The controller authenticates with a client certificate
   * it issues itself from its TLS CA.
   */
  readonly mqttUrl?: string;
  /** For the KMS provider's vendor variables (VAULT_TOKEN, AZURE_CLIENT_SECRET, …). */
  readonly env: KmsEnvironment;
  readonly logLevel?: LogLevel;
  readonly logDestination?: Writable;
  readonly auditSignIntervalMs?: number;
  readonly deviceCertificateValidityMs?: number;
  readonly drainMs?: number;
  /** Worker threads that verify enrollment CSRs (default: one per spare core, at most two; 0: inline). */
  readonly csrWorkers?: number;
  /** A second KMS provider (its settings from `env`) that backups also wrap every key with. */
  readonly secondaryKms?: string;
  readonly version: string;
  readonly clock?: () => number;
}

export interface RunningController {
  readonly addresses: { readonly grpc: string; readonly mqtt: string; readonly http: string };
  /** The stdout line scripts wait for. */
  readonly readyLine: string;
  readonly logger: Logger;
  readonly core: ControllerCore;
  readonly dataDir: DataDirPaths;
  /** Drains and stops everything; idempotent. */
  close(): Promise<void>;
}

/** Every fleet CA certificate, PEM, concatenated: what the TLS servers ask client certificates to chain to. */
async function fleetCaBundle(core: ControllerCore): Promise<Buffer> {
  const fleets = await core.repository.listFleets();
  const pems: string[] = [];
  for (const fleet of fleets) pems.push(derToPem((await core.fleetKeys(fleet.id)).caCertificateDer));
  return Buffer.from(pems.join(''));
}

export async function startController(options: ServeOptions): Promise<RunningController> {
  const clock = options.clock ?? Date.now;
  const paths = dataDirPaths(options.dataDir);
  // Fails fast, before any listener, when DIR is not a data directory.
  readControllerSettings(paths);
  const logger = createLogger({ level: options.logLevel ?? 'info', name: 'fleet-controller', ...(options.logDestination === undefined ? {} : { destination: options.logDestination }) });
  const metrics = createControllerMetrics();
  const grpcAt = parseListenAddress(options.grpcListen ?? DEFAULT_GRPC_LISTEN);
  const mqttAt = parseListenAddress(options.mqttListen ?? DEFAULT_MQTT_LISTEN);
  if (options.mqttUrl !== undefined) {
    parseMqttUrl(options.mqttUrl);
    // Precondition: with an external broker, robots must be told its device listener, which the controller cannot know.
    if (options.mqttListen !== undefined) throw new InvalidArgument('--mqtt-listen and --mqtt-url exclude each other: the embedded broker does not run with an external one');
    if (options.advertiseMqtt === undefined) throw new InvalidArgument('--mqtt-url needs --advertise-mqtt: the HOST:PORT of the broker listener robots connect to');
  }
  const httpAt = parseListenAddress(options.httpListen ?? DEFAULT_HTTP_LISTEN);

  const cleanups: (() => Promise<void> | void)[] = [];
  const runCleanups = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        logger.error({ err: error }, 'shutdown step failed');
      }
    }
  };

  try {
    const stack = await openDataDirKms(paths, options.env, { metrics: metrics.kmsSink });
    const kms = stack.provider;
    cleanups.push(() => kms.close());
    const repository: Repository = await openSqliteRepository({ path: paths.state, clock, onAuditAppended: (record) => metrics.countAudit(record.action, record.result) });
    cleanups.push(() => repository.close());
    const controllerKeys = await loadControllerKeys(repository);
    const core = new ControllerCore({ repository, kms, clock, controllerKeys });
    cleanups.push(() => core.close());
    const auditSigner = await core.signer(controllerKeys.auditKeyId);
    const auditKey = await auditSigner.publicKey();
    const signAuditHead = async (reason: string): Promise<void> => {
      try {
        const head = await signHead(repository, auditSigner, clock());
        if (head !== undefined) logger.debug({ sequence: head.sequence, reason }, 'audit head signed');
      } catch (error) {
        logger.error({ err: error }, 'signing the audit head failed');
      }
    };
    const auditTimer: { current?: NodeJS.Timeout } = {};
    // Registered here so it runs after every transport has closed (cleanups run in reverse) and
    // before the store: the stop record is covered by the last signature.
    cleanups.push(async () => {
      clearInterval(auditTimer.current);
      await repository.audit.append({ actor: 'system', action: 'controller.stop', result: 'ok' }).catch((error: unknown) => logger.error({ err: error }, 'audit append failed'));
      await signAuditHead('shutdown');
    });

    const tls = await openServerTls(kms, new Uint8Array(await readFile(paths.serverKey)), await readFile(paths.serverCertificate, 'utf8'));
    cleanups.push(() => {
      tls.privateKeyPem.fill(0);
    });
    if (tls.notAfter.getTime() - clock() < TLS_RENEWAL_WARNING_MS) {
      logger.warn({ notAfter: tls.notAfter.toISOString() }, 'the TLS server certificate expires within 30 days (or has expired): run fleet-controller tls-renew and restart');
    }
    const caProvider = new InMemoryCertificateProvider(await fleetCaBundle(core), tls.certificateChainPem, tls.privateKeyPem);

    const events = new FleetEvents((error) => logger.error({ err: error }, 'a fleet event listener failed'));
    const mqttLogger = logger.child({ component: 'mqtt' });
    const brokerRef: { current?: ExternalBroker } = {};
    const external: ExternalBroker | undefined =
      options.mqttUrl === undefined
        ? undefined
        : await startExternalBroker({
            url: options.mqttUrl,
            clientId: CONTROLLER_MQTT_CLIENT_ID,
            secureContext: controllerTlsSource({ core, clock, logger: mqttLogger }),
            logger: mqttLogger,
            // The first time, the commands power republishes at start; after an outage the broker may have lost them.
            onConnected: async (reconnected) => {
              if (reconnected && brokerRef.current !== undefined) await republishRetained({ core, events, publisher: brokerRef.current, logger });
            },
          });
    brokerRef.current = external;
    if (external !== undefined) cleanups.push(() => external.close());
    const broker: EmbeddedBroker | undefined = external !== undefined ? undefined : await startMqttBroker({
      host: mqttAt.host,
      port: mqttAt.port,
      caCertificatesPem: [(await fleetCaBundle(core)).toString('utf8')],
      certificatePem: tls.certificateChainPem.toString('utf8'),
      privateKeyPem: tls.privateKeyPem.toString('utf8'),
      authenticateDevice: async (certificateDer: Uint8Array) => {
        const device = await authenticateDevice(core, certificateDer);
        if (device === undefined) return undefined;
        return { fleet: device.fleetId, deviceId: device.deviceId, ...(device.device.groupId === null ? {} : { group: device.device.groupId }) };
      },
      logger: mqttLogger,
      onClientCount: (count: number) => metrics.setMqttClients(count),
    });
    if (broker !== undefined) cleanups.push(() => broker.close());
    const publisher = external ?? broker!;
    const brokerAddress = external?.address ?? broker!.address;
    // A fleet created while running is trusted at once by both TLS servers.
    const refreshTrust = async (): Promise<void> => {
      const bundle = await fleetCaBundle(core);
      caProvider.setCaBundle(bundle);
      if (broker !== undefined) broker.setCaCertificates([bundle.toString('utf8')]);
      else logger.warn('an external MQTT broker trusts a new fleet only once its CA is in the broker\'s cafile: run fleet-controller mqtt-credentials and reload the broker');
    };

    const addressesRef: { grpc: string; mqtt: string } = { grpc: '', mqtt: brokerAddress };
    const advertised = () => ({
      controller: options.advertiseGrpc ?? addressesRef.grpc,
      broker: `mqtts://${options.advertiseMqtt ?? addressesRef.mqtt}`,
    });

    const health = async (): Promise<ComponentHealthReport[]> => {
      const kmsHealth = await kms.health().catch(() => ({ ok: false, latencyMs: 0, detail: 'health check failed' }));
      let storeOk = true;
      try {
        await repository.getSetting('controller-keys');
      } catch {
        storeOk = false;
      }
      return [
        { name: `kms:${kms.name}`, healthy: kmsHealth.ok, detail: kmsHealth.ok ? `${Math.round(kmsHealth.latencyMs)} ms` : 'unreachable' },
        { name: 'store', healthy: storeOk, detail: storeOk ? 'sqlite' : 'unavailable' },
        external === undefined
          ? { name: 'broker', healthy: true, detail: `${broker!.clientCount()} clients` }
          : { name: 'broker', healthy: external.connected(), detail: external.connected() ? 'external, connected' : 'external, disconnected' },
      ];
    };

    const csrPool = new CsrVerifierPool(options.csrWorkers);
    cleanups.push(() => csrPool.close());
    const unexpected = (error: unknown, method: string): void => logger.error({ err: error, method }, 'unexpected error in a gRPC handler');
    const powers = await createFleetPowers({
      core,
      events,
      publisher,
      logger,
      dataDir: paths,
      ...(options.secondaryKms === undefined ? {} : { secondaryKms: secondaryKmsFromEnv(options.secondaryKms, options.env) }),
    });
    const poweredDeviceRpcs = Object.assign({}, ...powers.map((power) => power.deviceRpcs ?? {})) as Partial<ServiceHandlers<typeof DeviceService>>;
    const server = createServer();
    const observe = (path: string, code: number, durationSeconds: number): void => metrics.observeGrpc(path, code, durationSeconds);
    addService(
      server,
      ProvisioningService,
      instrumented(ProvisioningService, {
        enroll: (request) =>
          enroll(
            {
              core,
              advertisedAddresses: advertised,
              verifyCsr: (csr) => csrPool.verify(csr),
              ...(options.deviceCertificateValidityMs === undefined ? {} : { deviceCertificateValidityMs: options.deviceCertificateValidityMs }),
              onOutcome: (fleetId, result) => metrics.countEnrollment(fleetId, result),
            },
            request,
          ),
      }, observe),
      { onUnexpectedError: unexpected },
    );
    addService(
      server,
      DeviceService,
      instrumented(
        DeviceService,
        { ...createDeviceService({ core, ...(options.deviceCertificateValidityMs === undefined ? {} : { deviceCertificateValidityMs: options.deviceCertificateValidityMs }) }), ...poweredDeviceRpcs },
        observe,
      ),
      { onUnexpectedError: unexpected },
    );
    addService(
      server,
      OperatorService,
      instrumented(
        OperatorService,
        createOperatorService({
          repository,
          clock,
          fleets: createFleetAdministration(core, refreshTrust),
          auditPublicKeys: (keyId) => (keyId === controllerKeys.auditKeyId ? auditKey : undefined),
          health,
          version: options.version,
          extensions: powers.flatMap((power) => (power.operatorRpcs === undefined ? [] : [power.operatorRpcs])),
        }),
        observe,
      ),
      { onUnexpectedError: unexpected },
    );
    const grpcPort = await bindServer(server, formatAddress(grpcAt.host, grpcAt.port), serverCredentialsOf(caProvider));
    addressesRef.grpc = formatAddress(grpcAt.host, grpcPort);
    cleanups.push(() => shutdownServer(server, options.drainMs ?? DEFAULT_DRAIN_MS));

    const http = await startHttpServer({
      host: httpAt.host,
      port: httpAt.port,
      metrics: metrics.registry,
      logger: logger.child({ component: 'http' }),
      readiness: async () => {
        const reports = await health();
        return { ready: reports.every((report) => report.healthy), checks: Object.fromEntries(reports.map((report) => [report.name, report.healthy])) };
      },
    });
    cleanups.push(() => http.close());

    await repository.audit.append({ actor: 'system', action: 'controller.start', result: 'ok', details: { version: options.version } });
    for (const power of powers) {
      await power.start?.();
      // Stopped before the transports close: cleanups run in reverse, and these come last.
      cleanups.push(async () => {
        await power.stop?.();
      });
    }
    auditTimer.current = setInterval(() => void signAuditHead('interval'), options.auditSignIntervalMs ?? DEFAULT_AUDIT_SIGN_INTERVAL_MS);
    auditTimer.current.unref();

    const addresses = { grpc: addressesRef.grpc, mqtt: brokerAddress, http: http.address };
    logger.info({ ...addresses, kms: kms.name, fleets: (await repository.listFleets()).length, caFile: paths.caFile, serverCertificate: new X509Certificate(tls.certificateChainPem).serialNumber }, 'controller started');

    let closing: Promise<void> | undefined;
    return {
      addresses,
      readyLine: readyLine(addresses),
      logger,
      core,
      dataDir: paths,
      close() {
        closing ??= (async () => {
          logger.info('controller stopping');
          await runCleanups();
          logger.info('controller stopped');
        })();
        return closing;
      },
    };
  } catch (error) {
    if (!isFleetkeyError(error)) logger.error({ err: error }, 'controller failed to start');
    await runCleanups();
    throw error;
  }
}
