/**
 * What every fleetctl command shares while it runs: the process's streams and environment (passed
 * in, so tests run commands in-process), the global options, the settings resolution, the client
 * connection, and the exit code and error line of the run.
 *
 * Trust boundary: the one place an error becomes text on stderr. Every token this run used is
 * scrubbed from that line, whatever produced it.
 */
import { EXIT } from '@fleetkey/cli';
import type { Command } from 'commander';
import { ENV, resolveConnectionSettings, type ConnectionSettings, type Environment, type SettingValue } from './config.js';
import { describeFailure, withOperator, type OperatorClient } from './connection.js';
import { Printer, type OutputFormat, type TextSink } from './output.js';

/** The process surface fleetctl uses; `processIo()` in production, buffers in tests. */
export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  readonly stdin: AsyncIterable<string | Uint8Array>;
  readonly env: Environment;
  readonly cwd: string;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() };
}

/** The options of the root command, usable before or after a subcommand. */
export interface GlobalOptions {
  readonly controller?: string;
  readonly token?: string;
  readonly caFile?: string;
  readonly config?: string;
  readonly output: OutputFormat;
  readonly timeout: number;
}

export class Runtime {
  /** The exit code of a run that did not throw (a failed check sets EXIT.failure). */
  exitCode: number = EXIT.ok;
  private settings: ConnectionSettings | undefined;
  private timeoutSeconds: number | undefined;
  private readonly secrets = new Set<string>();

  constructor(readonly io: CliIo) {}

  options(command: Command): GlobalOptions {
    return command.optsWithGlobals<GlobalOptions>();
  }

  printer(command: Command): Printer {
    return new Printer(this.io.stdout, this.io.stderr, this.options(command).output);
  }

  /**
   * Resolves the settings (flag > env > config file, unless `useConfigFile` is false), connects,
   * runs `work`, and closes the connection.
   * @throws SettingsInvalid, RpcError, and whatever `work` throws.
   */
  async operator<T>(
    command: Command,
    work: (client: OperatorClient, out: Printer, settings: ConnectionSettings) => Promise<T>,
    resolve: { useConfigFile?: boolean; tokenOverride?: SettingValue } = {},
  ): Promise<T> {
    const options = this.options(command);
    if (resolve.tokenOverride !== undefined) this.secrets.add(resolve.tokenOverride.value);
    for (const token of [options.token, this.io.env[ENV.token]]) if (token !== undefined) this.secrets.add(token);
    const settings = resolveConnectionSettings(options, this.io.env, this.io.cwd, {
      useConfigFile: resolve.useConfigFile ?? true,
      ...(resolve.tokenOverride === undefined ? {} : { tokenOverride: resolve.tokenOverride }),
    });
    this.secrets.add(settings.token);
    this.settings = settings;
    this.timeoutSeconds = options.timeout;
    const out = this.printer(command);
    return withOperator(settings, options.timeout * 1000, (client) => work(client, out, settings));
  }

  /** Writes the one error line of a failed run and returns its exit code. */
  report(error: unknown): number {
    const failure = describeFailure(error, {
      ...(this.settings === undefined ? {} : { settings: this.settings }),
      ...(this.timeoutSeconds === undefined ? {} : { timeoutSeconds: this.timeoutSeconds }),
    });
    this.io.stderr.write(`fleetctl: ${this.scrub(failure.message)}\n`);
    return failure.exitCode;
  }

  /** Precondition: no token used by this run reaches stderr, whatever put it in a message. */
  private scrub(text: string): string {
    let clean = text;
    for (const secret of this.secrets) if (secret.length > 0) clean = clean.split(secret).join('[redacted]');
    return clean;
  }
}
