/**
 * `fleetctl login` checks a controller address, CA file and operator token with one GetHealth
 * call, then saves them in the config file so later commands need no flags; `fleetctl logout`
 * deletes that file.
 *
 * Trust boundary: the token arrives by flag, FLEETKEY_TOKEN or stdin (`--token-stdin`, which keeps
 * it out of `ps` and shell history). Nothing is written unless the controller accepted it; the
 * file is 0600 (config.ts). Output names the file, never the token.
 */
import type { Command } from 'commander';
import { ENV, SettingsInvalid, configFilePath, deleteConfigFile, writeConfigFile, type SettingValue } from '../config.js';
import type { Runtime } from '../context.js';

/** More than this on stdin is not a token. */
export const MAX_STDIN_TOKEN_BYTES = 4096;

/**
 * Reads a token from stdin: everything up to EOF, surrounding whitespace removed.
 * @throws SettingsInvalid past MAX_STDIN_TOKEN_BYTES.
 */
export async function readTokenFromStdin(stdin: AsyncIterable<string | Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stdin) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
      size += bytes.length;
      chunks.push(bytes);
      if (size > MAX_STDIN_TOKEN_BYTES) throw new SettingsInvalid(`--token-stdin: more than ${MAX_STDIN_TOKEN_BYTES} bytes on stdin is not a token`);
    }
    return Buffer.concat(chunks).toString('utf8').trim();
  } finally {
    for (const chunk of chunks) chunk.fill(0);
  }
}

export function registerLoginCommands(program: Command, runtime: Runtime): void {
  program
    .command('login')
    .description('check a controller address, CA file and token, then save them (0600) in the config file for later commands')
    .option('--token-stdin', 'read the token from stdin (keeps it out of `ps` and shell history)')
    .addHelpText('after', '\nThe controller and CA file come from --controller / FLEETKEY_CONTROLLER and --ca-file / FLEETKEY_CA_FILE, the token from --token-stdin, --token or FLEETKEY_TOKEN. The config file is never read by login.')
    .action(async (options: { tokenStdin?: boolean }, command: Command) => {
      const globals = runtime.options(command);
      let tokenOverride: SettingValue | undefined;
      if (options.tokenStdin === true) {
        if (globals.token !== undefined) command.error("error: options '--token' and '--token-stdin' cannot be used together", { exitCode: 2, code: 'fleetctl.tokenTwice' });
        tokenOverride = { value: await readTokenFromStdin(runtime.io.stdin), source: 'stdin' };
      }
      const path = configFilePath(globals.config, runtime.io.env, runtime.io.cwd);
      await runtime.operator(
        command,
        async (client, out, settings) => {
          const health = await client.getHealth({});
          // Postcondition: the config file is written only after the controller accepted the credential.
          writeConfigFile(path, { controller: settings.controller, caFile: settings.caFile, token: settings.token });
          if (out.json) {
            out.document({ controller: settings.controller, caFile: settings.caFile, config: path, version: health.version });
          } else {
            const version = health.version === '' ? '' : ` (controller version ${health.version})`;
            out.line(`Logged in to ${settings.controller}${version}; settings saved to ${path}.`);
          }
        },
        { useConfigFile: false, ...(tokenOverride === undefined ? {} : { tokenOverride }) },
      );
    });

  program
    .command('logout')
    .description(`delete the config file written by login (it holds the token); ${ENV.token} is not affected`)
    .action((_options: unknown, command: Command) => {
      const globals = runtime.options(command);
      const path = configFilePath(globals.config, runtime.io.env, runtime.io.cwd);
      const out = runtime.printer(command);
      const deleted = deleteConfigFile(path);
      if (out.json) out.document({ config: path, deleted });
      else out.line(deleted ? `Removed ${path}.` : `No config file at ${path}; nothing to do.`);
    });
}
