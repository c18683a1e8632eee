/**
 * Composition root of the edge-agent command line: `provision` gives a robot its identity from an
 * enrollment token, `status` reads its keystore. Settings come from flags, then FLEETKEY_*
 * environment variables; secrets (the token, a keystore passphrase) come from a file or the
 * environment, or — for the token only — a flag, which `ps` can show. Expected failures print one
 * line (`edge-agent: …`) and exit with a code from the EXIT table.
 *
 * Trust boundary: argv, environment and the files they name are the operator's; the token and the
 * passphrase are read here once and never printed.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { EXIT, createProgram, exitCodeHelp, readPackageVersion, runProgram } from '@fleetkey/cli';
import { Option, type Command } from 'commander';
import { ProvisionSettingInvalid, provisionAgent } from './provisioning/index.js';
import { readStatus, renderStatusText, type AgentStatus } from './status/index.js';
import { describeFailure } from './failure.js';
import { APP_TOKEN_PREFIX, DEFAULT_PEER_LISTEN, DEFAULT_SOCKET_PATH, LOG_LEVEL_NAMES, resolveServeSettings, type ServeFlags } from './serve/settings.js';
import { serveAgent } from './serve/serve.js';
import { createHash, randomBytes } from 'node:crypto';
import { isValidIdentifier } from '@fleetkey/key-types';

export const DESCRIPTION = [
  'fleetkey edge agent: the key-management daemon on every robot.',
  'It keeps the robot identity and fleet communication keys in an encrypted keystore, serves robot applications over a local gRPC API on a Unix socket, and enforces emergency lockdown commands signed by the fleet controller.',
  'Commands: `provision` (enroll a robot with a token at the factory station), `serve` (the daemon: local API, controller link, peer channels), `status` (read the keystore, whether or not serve runs) and `app-token` (mint a token for one robot app).',
].join('\n\n');

const MANIFEST_URL = new URL('../package.json', import.meta.url);
/** Set by scripts/build.mjs in the production bundle, which may run without its package.json. */
declare const FLEETKEY_BUILD_VERSION: string | undefined;

function agentVersion(): string {
  return typeof FLEETKEY_BUILD_VERSION === 'string' ? FLEETKEY_BUILD_VERSION : readPackageVersion(MANIFEST_URL);
}
/** Larger than any PEM CA bundle a station should pass. */
export const MAX_CA_FILE_BYTES = 1024 * 1024;
/** A token or passphrase file larger than this is not one. */
export const MAX_SECRET_FILE_BYTES = 4096;
export const DEFAULT_TIMEOUT_SECONDS = 30;
export const TOKEN_ENV = 'FLEETKEY_ENROLLMENT_TOKEN';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => Date;
}

export const PROCESS_IO: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  now: () => new Date(),
};

const KEY_ALGORITHMS = Object.freeze({ p256: 'ECDSA_P256', rsa2048: 'RSA_2048' } as const);

/**
 * Reads a small regular file whole.
 * @throws ProvisionSettingInvalid naming the file and the option, never its contents.
 */
function readBoundedFile(path: string, option: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new ProvisionSettingInvalid(`cannot read ${option} ${path}: ${String((error as NodeJS.ErrnoException).code ?? 'unreadable')}`);
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile() || info.size === 0 || info.size > maxBytes) throw new ProvisionSettingInvalid(`${option} ${path} is not a file of 1-${maxBytes} bytes`);
    const bytes = Buffer.alloc(info.size);
    const read = readSync(fd, bytes, 0, bytes.length, 0);
    return bytes.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

function readCaFile(path: string): Buffer {
  const pem = readBoundedFile(path, '--ca-file', MAX_CA_FILE_BYTES);
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ProvisionSettingInvalid(`--ca-file ${path} holds no PEM certificate; pass the controller's DIR/ca.pem`);
  return pem;
}

/** A secret file without its one trailing newline; the caller zeroizes the buffer. */
function readSecretFile(path: string, option: string): Buffer {
  const bytes = readBoundedFile(path, option, MAX_SECRET_FILE_BYTES);
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) end -= 1;
  if (end > 0 && bytes[end - 1] === 0x0d) end -= 1;
  return bytes.subarray(0, end);
}

interface CommonOptions {
  readonly dataDir?: string;
  readonly passphraseFile?: string;
  readonly output: 'text' | 'json';
}

interface ProvisionCliOptions extends CommonOptions {
  readonly controller?: string;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly deviceId: string;
  readonly caFile?: string;
  readonly keyAlg: keyof typeof KEY_ALGORITHMS;
  readonly serial?: string;
  readonly timeout: string;
}

function required(value: string | undefined, option: string, env: string): string {
  if (value === undefined || value === '') throw new ProvisionSettingInvalid(`${option} is required (or set ${env})`);
  return value;
}

function timeoutMs(text: string): number {
  if (!/^\d{1,4}$/.test(text) || Number(text) < 1 || Number(text) > 3600) throw new ProvisionSettingInvalid('--timeout must be a whole number of seconds from 1 to 3600');
  return Number(text) * 1000;
}

function passphraseOf(options: CommonOptions): Buffer | undefined {
  return options.passphraseFile === undefined ? undefined : readSecretFile(options.passphraseFile, '--passphrase-file');
}

function printStatus(io: CliIo, output: 'text' | 'json', result: Awaited<ReturnType<typeof readStatus>>): void {
  const document: AgentStatus = result.status;
  io.stdout(output === 'json' ? `${JSON.stringify(document)}\n` : renderStatusText(result.status, result.details));
}

export function buildCli(io: CliIo = PROCESS_IO, state: { exitCode: number } = { exitCode: EXIT.ok }): Command {
  const program = createProgram({ name: 'edge-agent', description: DESCRIPTION, manifestUrl: MANIFEST_URL, version: agentVersion() });
  program.configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  program.addHelpText('after', `\nExit codes:\n${exitCodeHelp()}\n`);
  const fail = (error: unknown, controller?: string): void => {
    const failure = describeFailure(error, controller === undefined ? {} : { controller });
    io.stderr(`edge-agent: ${failure.message}\n`);
    state.exitCode = failure.exitCode;
  };
  const dataDirOption = (): Option => new Option('--data-dir <dir>', 'the agent data directory (its keystore and key file)').env('FLEETKEY_DATA_DIR');
  const passphraseOption = (): Option => new Option('--passphrase-file <file>', 'protect the keystore with the passphrase in this file instead of a key file in the data directory');
  const outputOption = (json: string): Option => new Option('-o, --output <format>', `text for people, json for scripts: ${json}`).choices(['text', 'json']).default('text');

  program
    .command('provision')
    .description(
      'Give this robot its identity: make an identity key, enroll with the controller over TLS using a single-use enrollment token, check the answer (certificate, fleet CA, pinned emergency key, key bundle), and only then write the keystore into the data directory. A failure leaves the data directory as it was. Once provisioned, running it again prints the status and enrolls nothing (the token is not spent).',
    )
    .addOption(new Option('--controller <host:port>', "the controller's gRPC address").env('FLEETKEY_CONTROLLER'))
    .option('--token <token>', `the enrollment token (visible to other users in ps: prefer --token-file or ${TOKEN_ENV})`)
    .option('--token-file <file>', 'read the enrollment token from this file')
    .requiredOption('--device-id <id>', 'the device id to enroll as (letters, digits, . _ -; at most 64)')
    .addOption(dataDirOption())
    .option('--ca-file <file>', "PEM CA bundle the controller's TLS certificate must chain to (the controller's DIR/ca.pem); default: the system roots")
    .addOption(new Option('--key-alg <alg>', 'identity key algorithm').choices(Object.keys(KEY_ALGORITHMS)).default('p256'))
    .option('--serial <serial>', 'the hardware serial number (checked when the token is bound to serials)')
    .addOption(passphraseOption())
    .option('--timeout <seconds>', 'how long to wait for the controller', String(DEFAULT_TIMEOUT_SECONDS))
    .addOption(outputOption('the status document of `edge-agent status -o json`'))
    .action(async (options: ProvisionCliOptions) => {
      let passphrase: Buffer | undefined;
      try {
        const dataDir = required(options.dataDir, '--data-dir', 'FLEETKEY_DATA_DIR');
        const controller = required(options.controller, '--controller', 'FLEETKEY_CONTROLLER');
        if (options.token !== undefined && options.tokenFile !== undefined) throw new ProvisionSettingInvalid('give the token with --token or --token-file, not both');
        passphrase = passphraseOf(options);
        const caPem = options.caFile === undefined ? undefined : readCaFile(options.caFile);
        const outcome = await provisionAgent({
          dataDir,
          controller,
          deviceId: options.deviceId,
          readToken: () => {
            if (options.tokenFile !== undefined) return readSecretFile(options.tokenFile, '--token-file').toString('utf8');
            const token = options.token ?? io.env[TOKEN_ENV];
            if (token === undefined || token === '') throw new ProvisionSettingInvalid(`an enrollment token is required: --token-file FILE, ${TOKEN_ENV}, or --token`);
            return token;
          },
          caPem,
          keyAlgorithm: KEY_ALGORITHMS[options.keyAlg],
          serialNumber: options.serial ?? '',
          ...(passphrase === undefined ? {} : { passphrase }),
          agentVersion: agentVersion(),
          timeoutMs: timeoutMs(options.timeout),
          now: io.now,
        });
        if (outcome.kind === 'already-provisioned' && options.output === 'text') {
          io.stderr(`edge-agent: ${dataDir} is already provisioned as ${outcome.identity.deviceId} of fleet ${outcome.identity.fleet}; nothing enrolled\n`);
        }
        printStatus(io, options.output, await readStatus({ dataDir, ...(passphrase === undefined ? {} : { passphrase }), now: io.now }));
      } catch (error) {
        fail(error, options.controller);
      } finally {
        passphrase?.fill(0);
      }
    });

  program
    .command('status')
    .description(
      'Show what the keystore says: provisioned or not, fleet, device id, certificate expiry, communication key epochs and their states, locked or not, last contact with the controller, offline since. Reads the keystore directly, so it answers whether or not `serve` runs. A data directory that does not exist (or is empty) is reported as not provisioned, with exit code 0.',
    )
    .addOption(dataDirOption())
    .addOption(passphraseOption())
    .addOption(outputOption('{"provisioned","fleet","deviceId","certificateNotAfter","epochs":[{"version","state","notAfter"}],"locked","lastContact","offlineSince"}'))
    .action(async (options: CommonOptions) => {
      let passphrase: Buffer | undefined;
      try {
        const dataDir = required(options.dataDir, '--data-dir', 'FLEETKEY_DATA_DIR');
        passphrase = passphraseOf(options);
        printStatus(io, options.output, await readStatus({ dataDir, ...(passphrase === undefined ? {} : { passphrase }), now: io.now }));
      } catch (error) {
        fail(error);
      } finally {
        passphrase?.fill(0);
      }
    });

  program
    .command('serve')
    .description(
      'Run the agent: open the keystore, serve robot apps on the Unix socket, listen for other agents (mutual TLS 1.3, device certificates), and keep a link to the controller (gRPC mTLS and MQTT over TLS, reconnecting with backoff forever). Works offline from the cached keys, within --max-offline. Once bound it prints one JSON line to stdout: {"event":"ready","socket":PATH,"peer":"HOST:PORT"}; logs are JSON lines on stderr. SIGTERM stops it cleanly.',
    )
    .addOption(dataDirOption())
    .addOption(passphraseOption())
    .addOption(new Option('--config <file>', 'JSON config file: dataDir, socket, socketMode, socketGid, peerListen, peers {deviceId: "host:port"}, apps [{name, tokenSha256}], rateLimit {perSecond, burst}, maxMessageBytes, maxOffline, statusInterval, logLevel (flags and environment win)').env('FLEETKEY_AGENT_CONFIG'))
    .addOption(new Option('--socket <path>', `the local API socket (default ${DEFAULT_SOCKET_PATH})`).env('FLEETKEY_AGENT_SOCKET'))
    .addOption(new Option('--socket-mode <octal>', 'permissions of the socket file; never for other users (default 0660)').env('FLEETKEY_AGENT_SOCKET_MODE'))
    .addOption(new Option('--socket-gid <gid>', 'numeric group that owns the socket (the group of the robot apps)').env('FLEETKEY_AGENT_SOCKET_GID'))
    .addOption(new Option('--peer-listen <host:port>', `where other agents connect for channels; port 0 picks a free port (default ${DEFAULT_PEER_LISTEN})`).env('FLEETKEY_PEER_LISTEN'))
    .addOption(new Option('--max-offline <duration>', 'how long cached keys may seal without contact with the controller, e.g. 72h (default 72h)').env('FLEETKEY_MAX_OFFLINE'))
    .addOption(new Option('--log-level <level>', 'log level (default info)').choices([...LOG_LEVEL_NAMES]).env('FLEETKEY_LOG_LEVEL'))
    .action(async (flags: ServeFlags) => {
      let passphrase: Buffer | undefined;
      try {
        const settings = resolveServeSettings(flags, io.env);
        passphrase = passphraseOf({ ...flags, output: 'text' });
        const agent = await serveAgent(settings, { agentVersion: agentVersion(), ...(passphrase === undefined ? {} : { passphrase }) });
        io.stdout(`${JSON.stringify(agent.ready)}\n`);
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            process.off('SIGTERM', stop);
            process.off('SIGINT', stop);
            resolve();
          };
          process.once('SIGTERM', stop);
          process.once('SIGINT', stop);
        });
        await agent.close();
      } catch (error) {
        fail(error);
      } finally {
        passphrase?.fill(0);
      }
    });

  program
    .command('app-token')
    .description(
      'Mint a token for one robot app. Prints the token once (give it to the app, which sends it as `authorization: Bearer TOKEN`) and the entry to add to the `apps` list of the serve config file, which holds only its SHA-256. Once any app is listed, calls without a listed token are refused.',
    )
    .requiredOption('--name <name>', 'the app name shown in logs (letters, digits, . _ -; at most 64)')
    .addOption(outputOption('{"name","token","configEntry":{"name","tokenSha256"}}'))
    .action((options: { name: string; output: 'text' | 'json' }) => {
      if (!isValidIdentifier(options.name)) {
        io.stderr('edge-agent: --name expected letters, digits, . _ - (at most 64)\n');
        state.exitCode = EXIT.usage;
        return;
      }
      const token = APP_TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const configEntry = { name: options.name, tokenSha256: createHash('sha256').update(token).digest('hex') };
      io.stdout(
        options.output === 'json'
          ? `${JSON.stringify({ name: options.name, token, configEntry })}\n`
          : `token (shown once): ${token}\nadd to "apps" in the serve config: ${JSON.stringify(configEntry)}\n`,
      );
    });

  return program;
}

/** Runs the CLI on argv (without node and script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = PROCESS_IO): Promise<number> {
  const state = { exitCode: EXIT.ok as number };
  const code = await runProgram(buildCli(io, state), argv);
  return code === EXIT.ok ? state.exitCode : code;
}
