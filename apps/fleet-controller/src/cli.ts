/**
 * Composition root of the fleet-controller command line: `init` makes a data directory, `serve`
 * runs the controller from one. Settings come from flags, then FLEETKEY_* environment variables,
 * then a JSON config file (`--config`), then defaults. Expected failures print one line
 * (`fleet-controller: …`) and exit 1; nothing secret is ever printed except the admin token that
 * `init` exists to show once.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { EXIT, createProgram, readPackageVersion, runProgram } from '@fleetkey/cli';
import { isFleetkeyError } from '@fleetkey/key-types';
import { KMS_PROVIDER_NAMES, isKmsProviderName } from '@fleetkey/kms-core';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { z } from 'zod';
import { registerRestoreCommand } from './backup/index.js';
import { registerRotationPolicyCommand } from './rotation/policy-command.js';
import { initController } from './datadir/init.js';
import { renewServerTls } from './datadir/renew-tls.js';
import { LOG_LEVELS, type LogLevel } from './runtime/logger.js';
import { writeBrokerCredentials } from './runtime/broker-identity.js';
import {
  DEFAULT_AUDIT_SIGN_INTERVAL_MS,
  DEFAULT_DRAIN_MS,
  DEFAULT_GRPC_LISTEN,
  DEFAULT_HTTP_LISTEN,
  DEFAULT_MQTT_LISTEN,
  startController,
  type RunningController,
} from './serve/controller.js';

export const DESCRIPTION = [
  'fleetkey fleet controller: the control plane of a robot fleet.',
  'It issues device identities from a fleet CA held in a KMS, serves factory provisioning and the operator API over gRPC (TLS; mutual TLS for robots), runs an MQTT broker for the fleet, and keeps a signed, hash-chained audit log.',
  'Start with `fleet-controller init --data-dir DIR`, then `fleet-controller serve --data-dir DIR`.',
].join('\n\n');

const MANIFEST_URL = new URL('../package.json', import.meta.url);
const MAX_CONFIG_FILE_BYTES = 64 * 1024;

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Resolves when the process is asked to stop (SIGTERM / SIGINT). */
  readonly stopSignal: () => Promise<string>;
}

function processStopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (signal: string): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      // A second signal while draining means "now".
      const force = (): void => process.exit(EXIT.failure);
      process.once('SIGTERM', force);
      process.once('SIGINT', force);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

export const PROCESS_IO: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  stopSignal: processStopSignal,
};

function positiveInteger(name: string, max: number) {
  return (value: string): number => {
    if (!/^\d{1,9}$/.test(value) || Number(value) < 1 || Number(value) > max) throw new InvalidArgumentError(`${name} must be a whole number from 1 to ${max}`);
    return Number(value);
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** One line for the person at the terminal; the message of a fleetkey error, never a stack or a cause. */
function describeFailure(error: unknown): string {
  if (isFleetkeyError(error)) return error.message;
  if (error instanceof Error && (error as NodeJS.ErrnoException).code !== undefined && typeof (error as NodeJS.ErrnoException).syscall === 'string') {
    const errno = error as NodeJS.ErrnoException;
    return `${errno.syscall} failed: ${errno.code}${errno.path === undefined ? '' : ` (${errno.path})`}`;
  }
  return `unexpected ${error instanceof Error ? error.name : 'error'}; run with --log-level debug for details`;
}

const serveFileSchema = z.strictObject({
  dataDir: z.string().min(1).max(4096).optional(),
  listen: z.string().max(300).optional(),
  mqttListen: z.string().max(300).optional(),
  httpListen: z.string().max(300).optional(),
  advertiseGrpc: z.string().max(255).optional(),
  advertiseMqtt: z.string().max(255).optional(),
  mqttUrl: z.string().max(320).optional(),
  logLevel: z.enum(LOG_LEVELS).optional(),
  auditSignIntervalSeconds: z.number().int().min(1).max(86_400).optional(),
  deviceCertificateDays: z.number().int().min(1).max(3650).optional(),
  drainSeconds: z.number().int().min(1).max(600).optional(),
  secondaryKms: z.enum(KMS_PROVIDER_NAMES as [string, ...string[]]).optional(),
});
type ServeFile = z.output<typeof serveFileSchema>;

function readServeFile(path: string): ServeFile {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_CONFIG_FILE_BYTES) throw new InvalidArgumentError(`${path} is larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
    text = bytes.toString('utf8');
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    throw new InvalidArgumentError(`cannot read the config file ${path}`);
  }
  const parsed = serveFileSchema.safeParse((() => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  })());
  if (!parsed.success) {
    throw new InvalidArgumentError(`${path}: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`).join('; ')}`);
  }
  return parsed.data;
}

export function buildCli(io: CliIo = PROCESS_IO, state: { exitCode: number } = { exitCode: EXIT.ok }): Command {
  const version = readPackageVersion(MANIFEST_URL);
  const program = createProgram({ name: 'fleet-controller', description: DESCRIPTION, manifestUrl: MANIFEST_URL });
  program.configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  const fail = (error: unknown): void => {
    io.stderr(`fleet-controller: ${describeFailure(error)}\n`);
    state.exitCode = EXIT.failure;
  };

  program
    .command('init')
    .description(
      'Create a data directory: the fleet CA, emergency and master keys in the KMS, the first communication key epoch, the TLS server certificate, DIR/ca.pem for clients, and one admin operator whose token is printed once. Refuses a directory that exists and is not empty, and leaves nothing behind when it fails.',
    )
    .requiredOption('--data-dir <dir>', 'the data directory to create')
    .addOption(
      new Option('--kms <provider>', `where keys live: ${KMS_PROVIDER_NAMES.join(', ')}; cloud providers read their usual environment (AWS_REGION, AZURE_KEY_VAULT_URL, GOOGLE_CLOUD_PROJECT, VAULT_ADDR, … — see docs/providers.md)`)
        .choices([...KMS_PROVIDER_NAMES])
        .default('local'),
    )
    .option('--fleet <name>', 'id of the first fleet (letters, digits, . _ -; at most 64)', 'default')
    .option('--display-name <text>', 'display name of the first fleet')
    .option('--tls-name <name>', 'a DNS name or IP address clients use to reach the controller (repeatable; default localhost, 127.0.0.1, ::1)', collect)
    .addOption(new Option('-o, --output <format>', 'text for people, json for scripts: {"adminToken","caFile","fleet"}').choices(['text', 'json']).default('text'))
    .action(async (options: { dataDir: string; kms: string; fleet: string; displayName?: string; tlsName?: string[]; output: 'text' | 'json' }) => {
      try {
        if (!isKmsProviderName(options.kms)) throw new InvalidArgumentError(`unknown KMS provider ${options.kms}`);
        const names = options.tlsName ?? [];
        const result = await initController({
          dataDir: options.dataDir,
          kms: options.kms,
          fleet: options.fleet,
          ...(options.displayName === undefined ? {} : { fleetDisplayName: options.displayName }),
          env: io.env,
          ...(names.length === 0 ? {} : { dnsNames: names.filter((name) => isIP(name) === 0), ipAddresses: names.filter((name) => isIP(name) !== 0) }),
        });
        if (options.output === 'json') {
          io.stdout(`${JSON.stringify({ adminToken: result.adminToken, caFile: result.caFile, fleet: result.fleet })}\n`);
        } else {
          io.stdout(
            [
              `Initialised ${result.dataDir} with fleet ${result.fleet}.`,
              `CA bundle for clients (--ca-file): ${result.caFile}`,
              '',
              'Admin operator token (shown once; only its hash is stored):',
              `  ${result.adminToken}`,
              '',
              `Next: fleet-controller serve --data-dir ${result.dataDir}`,
              '',
            ].join('\n'),
          );
        }
      } catch (error) {
        fail(error);
      }
    });

  program
    .command('serve')
    .description(
      'Run the controller from a data directory: gRPC (operators and stations over TLS, robots over mutual TLS), the embedded MQTT broker (TLS with device certificates) and an HTTP port with /healthz, /readyz and Prometheus /metrics. Once every listener is bound it writes one JSON line to stdout: {"event":"ready","grpc":"HOST:PORT","mqtt":"HOST:PORT","http":"HOST:PORT"}. Logs are JSON lines on stderr. SIGTERM or SIGINT drains calls in flight and stops; a second signal stops at once.',
    )
    .addOption(new Option('--data-dir <dir>', 'the data directory made by init').env('FLEETKEY_DATA_DIR'))
    .addOption(new Option('--config <file>', 'JSON file with any of: dataDir, listen, mqttListen, mqttUrl, httpListen, advertiseGrpc, advertiseMqtt, logLevel, auditSignIntervalSeconds, deviceCertificateDays, drainSeconds, secondaryKms (flags and environment win)').env('FLEETKEY_CONFIG'))
    .addOption(new Option('--listen <host:port>', `gRPC listen address; port 0 picks a free port (default ${DEFAULT_GRPC_LISTEN})`).env('FLEETKEY_LISTEN'))
    .addOption(new Option('--mqtt-listen <host:port>', `MQTT over TLS listen address (default ${DEFAULT_MQTT_LISTEN})`).env('FLEETKEY_MQTT_LISTEN'))
    .addOption(new Option('--http-listen <host:port>', `health and metrics listen address, plain HTTP for cluster-internal probes (default ${DEFAULT_HTTP_LISTEN})`).env('FLEETKEY_HTTP_LISTEN'))
    .addOption(new Option('--advertise-grpc <host:port>', 'the gRPC address robots are told at enrollment (default: the bound address)').env('FLEETKEY_ADVERTISE_GRPC'))
    .addOption(new Option('--advertise-mqtt <host:port>', 'the broker address robots are told (default: the bound address; required with --mqtt-url)').env('FLEETKEY_ADVERTISE_MQTT'))
    .addOption(
      new Option(
        '--mqtt-url <mqtts://host:port>',
        'use this external MQTT broker (e.g. Mosquitto with deploy/mosquitto/) instead of the embedded one; the controller authenticates with a client certificate it issues itself from its TLS CA (see `mqtt-credentials`). Excludes --mqtt-listen; needs --advertise-mqtt',
      ).env('FLEETKEY_MQTT_URL'),
    )
    .addOption(new Option('--log-level <level>', 'log level (default info)').choices([...LOG_LEVELS]).env('FLEETKEY_LOG_LEVEL'))
    .addOption(new Option('--audit-sign-interval <seconds>', `how often the audit chain head is signed (default ${DEFAULT_AUDIT_SIGN_INTERVAL_MS / 1000})`).argParser(positiveInteger('--audit-sign-interval', 86_400)).env('FLEETKEY_AUDIT_SIGN_INTERVAL'))
    .addOption(new Option('--device-cert-days <days>', 'validity of issued device certificates (default 365)').argParser(positiveInteger('--device-cert-days', 3650)).env('FLEETKEY_DEVICE_CERT_DAYS'))
    .addOption(
      new Option('--secondary-kms <provider>', `a second KMS (${KMS_PROVIDER_NAMES.join(', ')}) that backups also wrap every key with, read from its usual environment (see docs/operations.md)`)
        .choices([...KMS_PROVIDER_NAMES])
        .env('FLEETKEY_SECONDARY_KMS'),
    )
    .addOption(new Option('--drain-timeout <seconds>', `how long SIGTERM waits for calls in flight (default ${DEFAULT_DRAIN_MS / 1000})`).argParser(positiveInteger('--drain-timeout', 600)).env('FLEETKEY_DRAIN_TIMEOUT'))
    .action(async (flags: { dataDir?: string; config?: string; listen?: string; mqttListen?: string; httpListen?: string; advertiseGrpc?: string; advertiseMqtt?: string; mqttUrl?: string; logLevel?: LogLevel; auditSignInterval?: number; deviceCertDays?: number; drainTimeout?: number; secondaryKms?: string }) => {
      let controller: RunningController | undefined;
      try {
        const file: ServeFile = flags.config === undefined ? {} : readServeFile(flags.config);
        const dataDir = flags.dataDir ?? file.dataDir;
        if (dataDir === undefined) throw new InvalidArgumentError('--data-dir (or FLEETKEY_DATA_DIR, or dataDir in --config) is required');
        const pick = <T>(flag: T | undefined, fromFile: T | undefined): T | undefined => flag ?? fromFile;
        const stopping = io.stopSignal();
        const auditSeconds = pick(flags.auditSignInterval, file.auditSignIntervalSeconds);
        const certDays = pick(flags.deviceCertDays, file.deviceCertificateDays);
        const drainSeconds = pick(flags.drainTimeout, file.drainSeconds);
        const listen = pick(flags.listen, file.listen);
        const mqttListen = pick(flags.mqttListen, file.mqttListen);
        const httpListen = pick(flags.httpListen, file.httpListen);
        const advertiseGrpc = pick(flags.advertiseGrpc, file.advertiseGrpc);
        const advertiseMqtt = pick(flags.advertiseMqtt, file.advertiseMqtt);
        const mqttUrl = pick(flags.mqttUrl, file.mqttUrl);
        const secondaryKms = pick(flags.secondaryKms, file.secondaryKms);
        controller = await startController({
          dataDir,
          env: io.env,
          version,
          logLevel: pick(flags.logLevel, file.logLevel) ?? 'info',
          ...(listen === undefined ? {} : { grpcListen: listen }),
          ...(mqttListen === undefined ? {} : { mqttListen }),
          ...(httpListen === undefined ? {} : { httpListen }),
          ...(advertiseGrpc === undefined ? {} : { advertiseGrpc }),
          ...(advertiseMqtt === undefined ? {} : { advertiseMqtt }),
          ...(mqttUrl === undefined ? {} : { mqttUrl }),
          ...(auditSeconds === undefined ? {} : { auditSignIntervalMs: auditSeconds * 1000 }),
          ...(certDays === undefined ? {} : { deviceCertificateValidityMs: certDays * 86_400_000 }),
          ...(drainSeconds === undefined ? {} : { drainMs: drainSeconds * 1000 }),
          ...(secondaryKms === undefined ? {} : { secondaryKms }),
        });
        io.stdout(`${controller.readyLine}\n`);
        const signal = await stopping;
        controller.logger.info({ signal }, 'stop requested');
        await controller.close();
      } catch (error) {
        await controller?.close();
        if (error instanceof InvalidArgumentError) {
          io.stderr(`fleet-controller: ${error.message}\n`);
          state.exitCode = EXIT.usage;
        } else {
          fail(error);
        }
      }
    });

  program
    .command('tls-renew')
    .description(
      "Give the controller a new TLS server identity: a fresh key and a certificate from the controller TLS CA in the KMS (397 days), for the names in controller.json or the ones given. Clients trust the TLS CA, so nothing changes for them; serve uses the new identity at its next start. Safe while serve runs.",
    )
    .requiredOption('--data-dir <dir>', 'the data directory')
    .option('--tls-name <name>', 'a DNS name or IP address clients use (repeatable; replaces the stored names)', collect)
    .addOption(new Option('-o, --output <format>', 'text or json').choices(['text', 'json']).default('text'))
    .action(async (options: { dataDir: string; tlsName?: string[]; output: 'text' | 'json' }) => {
      try {
        const names = options.tlsName ?? [];
        const renewed = await renewServerTls({
          dataDir: options.dataDir,
          env: io.env,
          ...(names.length === 0 ? {} : { dnsNames: names.filter((name) => isIP(name) === 0), ipAddresses: names.filter((name) => isIP(name) !== 0) }),
        });
        if (options.output === 'json') {
          io.stdout(`${JSON.stringify({ notAfter: renewed.notAfter.toISOString(), serialNumber: renewed.serialNumber, dnsNames: renewed.dnsNames, ipAddresses: renewed.ipAddresses })}\n`);
        } else {
          io.stdout(`New TLS server certificate ${renewed.serialNumber} for ${[...renewed.dnsNames, ...renewed.ipAddresses].join(', ')}, valid until ${renewed.notAfter.toISOString()}. Restart serve to use it.\n`);
        }
      } catch (error) {
        fail(error);
      }
    });

  program
    .command('mqtt-credentials')
    .description(
      'Write what an external MQTT broker (deploy/mosquitto/) needs: a server certificate and key from the controller TLS CA in the KMS for the names robots use to reach it (robots trust only that CA), the fleet CA bundle its robot listener verifies device certificates against, and the controller TLS CA its controller listener verifies the controller against. Run again after creating a fleet, then reload the broker. The key file is written mode 0600 and is the broker\'s TLS identity.',
    )
    .requiredOption('--data-dir <dir>', 'the data directory')
    .requiredOption('--out-dir <dir>', 'where to write broker.pem, broker-key.pem, fleet-cas.pem and controller-ca.pem (created 0700 if missing; those files are replaced)')
    .requiredOption('--tls-name <name>', 'a DNS name or IP address robots and the controller use to reach the broker (repeatable)', collect)
    .addOption(new Option('-o, --output <format>', 'text or json').choices(['text', 'json']).default('text'))
    .action(async (options: { dataDir: string; outDir: string; tlsName: string[]; output: 'text' | 'json' }) => {
      try {
        const written = await writeBrokerCredentials({
          dataDir: options.dataDir,
          outDir: options.outDir,
          dnsNames: options.tlsName.filter((name) => isIP(name) === 0),
          ipAddresses: options.tlsName.filter((name) => isIP(name) !== 0),
          env: io.env,
        });
        if (options.output === 'json') {
          io.stdout(`${JSON.stringify({ files: written.files, serialNumber: written.serialNumber, notAfter: written.notAfter.toISOString(), fleets: written.fleets })}\n`);
        } else {
          io.stdout(
            [
              `Broker certificate ${written.serialNumber} for ${options.tlsName.join(', ')}, valid until ${written.notAfter.toISOString()}.`,
              ...Object.values(written.files).map((file) => `  ${file}`),
              `Fleet CAs in the bundle: ${written.fleets.join(', ')}. Reload the broker to use them.`,
              '',
            ].join('\n'),
          );
        }
      } catch (error) {
        if (error instanceof RangeError) {
          io.stderr(`fleet-controller: --tls-name: ${error.message}\n`);
          state.exitCode = EXIT.usage;
        } else {
          fail(error);
        }
      }
    });

  registerRestoreCommand(program, io, state);
  registerRotationPolicyCommand(program, io, state);
  return program;
}

/** Runs the CLI on argv (without node and script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = PROCESS_IO): Promise<number> {
  const state = { exitCode: EXIT.ok as number };
  const code = await runProgram(buildCli(io, state), argv);
  return code !== EXIT.ok ? code : state.exitCode;
}
