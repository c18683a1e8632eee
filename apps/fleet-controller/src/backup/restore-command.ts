/**
 * `fleet-controller restore --data-dir NEW --from FILE [--kms-from primary|secondary]`: the
 * command line of ./restore.ts. Registered by the CLI's composition root
 * (`registerRestoreCommand(program, io, state)` in ../cli.ts).
 *
 * Trust boundary: argv and environment are the operator's; KMS settings and credentials are read
 * from the environment only (never from the archive), and nothing secret is printed: the restored
 * directory holds no new credential (operators keep their tokens).
 */
import { EXIT } from '@fleetkey/cli';
import { isFleetkeyError } from '@fleetkey/key-types';
import { Option, type Command } from 'commander';
import type { CliIo } from '../cli.js';
import { KMS_SIDES, restoreController, type KmsSide, type RestoreResult } from './restore.js';

function describeFailure(error: unknown): string {
  if (isFleetkeyError(error)) return error.message;
  const errno = error as NodeJS.ErrnoException;
  if (error instanceof Error && typeof errno.code === 'string' && typeof errno.syscall === 'string') {
    return `${errno.syscall} failed: ${errno.code}${errno.path === undefined ? '' : ` (${errno.path})`}`;
  }
  return `unexpected ${error instanceof Error ? error.name : 'error'} while restoring`;
}

function textReport(result: RestoreResult): string {
  const lines = [
    `Restored ${result.dataDir} from backup ${result.backupId} (made ${result.createdAt}) with the ${result.kmsFrom} KMS (${result.kmsProvider}).`,
    result.signature === 'verified-with-kms'
      ? 'Signature: verified with the audit key in the KMS.'
      : 'Signature: consistent with the public key the archive records; the audit key is in the primary KMS, which was not used. The archive decrypted and every chunk authenticated under its data key.',
    `Fleets: ${result.fleets.join(', ') || '(none)'}`,
    `CA bundle for clients (--ca-file): ${result.caFile}`,
  ];
  if (result.limitations.length > 0) {
    lines.push('', 'It serves key bundles, revocation lists and the broker to robots already provisioned. Until the primary KMS is back:', ...result.limitations.map((text) => `  - ${text}`));
  }
  lines.push('', `Next: fleet-controller serve --data-dir ${result.dataDir}`, '');
  return lines.join('\n');
}

/** Adds `restore` to the fleet-controller program. */
export function registerRestoreCommand(program: Command, io: CliIo, state: { exitCode: number }): void {
  program
    .command('restore')
    .description(
      'Create a data directory from a backup archive (fleetctl backup create). Checks the signature and every chunk, restores the state store, controller.json and the TLS files in a staging directory and renames it into place; refuses a directory that exists and is not empty. KMS settings come from the environment as for init (FLEETKEY_LOCAL_KMS_PATH and FLEETKEY_LOCAL_KMS_PASSPHRASE_FILE for the local provider, VAULT_ADDR / VAULT_TOKEN, AWS_REGION, …). With --kms-from secondary the restored controller runs on the secondary KMS and serves provisioned robots; it cannot enroll, rotate or sign commands until the primary KMS is back.',
    )
    .requiredOption('--data-dir <dir>', 'the data directory to create')
    .requiredOption('--from <file>', 'the archive')
    .addOption(new Option('--kms-from <side>', 'which KMS unwraps the archive and the restored keys').choices([...KMS_SIDES]).default('primary'))
    .addOption(new Option('-o, --output <format>', 'text for people, json for scripts').choices(['text', 'json']).default('text'))
    .action(async (options: { dataDir: string; from: string; kmsFrom: KmsSide; output: 'text' | 'json' }) => {
      try {
        const result = await restoreController({ dataDir: options.dataDir, from: options.from, kmsFrom: options.kmsFrom, env: io.env });
        io.stdout(options.output === 'json' ? `${JSON.stringify(result)}\n` : textReport(result));
      } catch (error) {
        io.stderr(`fleet-controller: ${describeFailure(error)}\n`);
        state.exitCode = EXIT.failure;
      }
    });
}
