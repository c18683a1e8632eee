/**
 * Composition root of the fleetctl command line: the global options, the command groups, and the
 * run that turns any failure into one line on stderr and a meaningful exit code.
 *
 * Trust boundary: argv, environment and stdin are the operator's; the controller is reached only
 * over TLS (no plaintext option exists), authenticated by --ca-file.
 */
import { EXIT, createProgram, exitCodeHelp, runProgram } from '@fleetkey/cli';
import { Option, type Command } from 'commander';
import { timeoutSeconds } from './arguments.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerBackupCommands } from './commands/backup.js';
import { registerDeviceCommands } from './commands/devices.js';
import { registerFleetCommands } from './commands/fleets.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerLockdownCommands } from './commands/lockdown.js';
import { registerLoginCommands } from './commands/login.js';
import { registerOperatorCommands } from './commands/operators.js';
import { registerRotateCommand } from './commands/rotate.js';
import { registerRevokeCommand } from './commands/revoke.js';
import { registerStatusCommand } from './commands/status.js';
import { registerTokenCommands } from './commands/tokens.js';
import { ENV } from './config.js';
import { Runtime, processIo, type CliIo } from './context.js';
import { OUTPUT_FORMATS } from './output.js';

export const DESCRIPTION = [
  'fleetctl: the operator command line of a fleetkey controller.',
  'Operators use it to see fleets and devices, manage operator credentials, mint enrollment tokens for factory stations, read and verify the audit log, and check the controller health. It talks to the controller over TLS only, with a bearer credential on every call.',
].join('\n\n');

/** Default seconds a call may take before it fails with exit code 6. */
export const DEFAULT_TIMEOUT_SECONDS = 10;

const EPILOGUE = `
Settings:
  Each of --controller, --token and --ca-file is taken from its flag, else its
  environment variable (${ENV.controller}, ${ENV.token},
  ${ENV.caFile}), else the config file written by \`fleetctl login\`
  (--config or ${ENV.config}; default
  $XDG_CONFIG_HOME/fleetkey/fleetctl.json, else ~/.config/fleetkey/fleetctl.json).
  Global options work before or after the command.

Output:
  Aligned tables by default. -o json prints exactly one JSON document on stdout
  (camelCase keys, ISO-8601 times, bytes base64, certificates PEM). Errors are
  one line on stderr.

Exit codes:
${exitCodeHelp()}`;

function addGlobalOptions(program: Command): void {
  program
    .addOption(new Option('--controller <host:port>', `the controller's gRPC address (env ${ENV.controller})`))
    .addOption(
      new Option(
        '--token <token>',
        `operator credential (env ${ENV.token}). Other users can read a command line in \`ps\`: prefer ${ENV.token}, the config file, or \`fleetctl login --token-stdin\``,
      ),
    )
    .addOption(new Option('--ca-file <file>', `PEM CA bundle the controller's certificate must chain to, the controller's DIR/ca.pem (env ${ENV.caFile})`))
    .addOption(new Option('--config <file>', `config file (env ${ENV.config})`))
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .addOption(new Option('--timeout <seconds>', 'deadline of each call to the controller').argParser(timeoutSeconds).default(DEFAULT_TIMEOUT_SECONDS));
}

/** The fleetctl program, writing to `runtime.io`. */
export function buildCli(runtime: Runtime = new Runtime(processIo())): Command {
  const program = createProgram({ name: 'fleetctl', description: DESCRIPTION, manifestUrl: new URL('../package.json', import.meta.url) });
  // Set before any subcommand exists: subcommands copy these settings when they are created.
  program
    .configureOutput({ writeOut: (text) => runtime.io.stdout.write(text), writeErr: (text) => runtime.io.stderr.write(text) })
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', EPILOGUE);
  addGlobalOptions(program);
  registerLoginCommands(program, runtime);
  registerStatusCommand(program, runtime);
  registerFleetCommands(program, runtime);
  registerOperatorCommands(program, runtime);
  registerTokenCommands(program, runtime);
  registerDeviceCommands(program, runtime);
  registerRotateCommand(program, runtime);
  registerKeyCommands(program, runtime);
  registerRevokeCommand(program, runtime);
  registerLockdownCommands(program, runtime);
  registerAuditCommands(program, runtime);
  registerBackupCommands(program, runtime);
  return program;
}

/** Runs the CLI on argv (without node and script) and returns the exit code; never throws. */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const runtime = new Runtime(io);
  try {
    const code = await runProgram(buildCli(runtime), argv);
    return code === EXIT.ok ? runtime.exitCode : code;
  } catch (error) {
    return runtime.report(error);
  }
}
