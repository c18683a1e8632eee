/**
 * `fleetctl backup create --out FILE [--secondary-kms PROVIDER]` and `fleetctl backup verify FILE`.
 *
 * create: the controller makes the archive (it holds the KMS credentials, the secondary's too,
 * configured with `serve --secondary-kms`) and streams it; fleetctl writes it to a private
 * temporary file next to FILE (mode 0600), checks the size and SHA-256 the controller reports at
 * the end against what arrived, and only then links it to FILE — which it never overwrites. A
 * failure at any point leaves no FILE.
 *
 * verify: streams FILE to the controller, which checks its signature, every chunk, and that its
 * KMS still unwraps the data key (and the secondary's copies, when configured); exit 1 with the
 * problems when it does not verify, so a cron job can watch the archives.
 *
 * Trust boundary: the archive is opaque here (fleetctl holds no key to open it); what the
 * controller says about it is shown after printable() like every server text.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, open, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { EXIT } from '@fleetkey/cli';
import { FleetkeyError, isValidIdentifier } from '@fleetkey/key-types';
import type { BackupInfo } from '@fleetkey/protocol';
import { InvalidArgumentError, type Command } from 'commander';
import type { Runtime } from '../context.js';
import { base64, hex, isoTime, jsonInteger, printable, tableTime } from '../output.js';

/** Pieces fleetctl sends to VerifyBackup (operator.proto: at most 1 MiB each). */
export const VERIFY_CHUNK_BYTES = 1024 * 1024;
/** Largest archive fleetctl sends; the controller refuses larger ones anyway (8 GiB of state and some). */
export const MAX_ARCHIVE_FILE_BYTES = 9 * 1024 ** 3;
/** KMS provider names the controller knows (the controller checks against its own configuration). */
export const SECONDARY_PROVIDERS = ['local', 'aws', 'azure', 'gcp', 'vault'] as const;

/** A local file fleetctl refuses to write or read (exit 2). */
export class ArchiveFileRefused extends FleetkeyError {
  readonly code = 'INVALID_ARGUMENT' as const;
}

/** What the controller streamed does not match what it says it streamed (exit 1). */
export class ArchiveStreamMismatch extends FleetkeyError {
  readonly code = 'MESSAGE_MALFORMED' as const;
}

function provider(value: string): string {
  if (!isValidIdentifier(value) || !(SECONDARY_PROVIDERS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${SECONDARY_PROVIDERS.join(', ')}.`);
  }
  return value;
}

export function backupInfoJson(info: BackupInfo | undefined): Record<string, unknown> | null {
  if (info === undefined) return null;
  return {
    backupId: info.backupId,
    createdAt: isoTime(info.createdAt),
    sizeBytes: jsonInteger(info.sizeBytes),
    sha256: base64(info.sha256),
    signingKey: info.signingKey === undefined ? null : { keyId: info.signingKey.keyId, version: info.signingKey.version },
    secondaryProvider: info.secondaryProvider === '' ? null : info.secondaryProvider,
    fleets: [...info.fleets],
  };
}

function infoFields(info: BackupInfo): [string, string][] {
  return [
    ['Backup', info.backupId],
    ['Created', tableTime(info.createdAt)],
    ['Size', info.sizeBytes === 0n ? '' : `${info.sizeBytes} bytes`],
    ['SHA-256', hex(info.sha256)],
    ['Signed by', info.signingKey === undefined ? '' : `${info.signingKey.keyId}${info.signingKey.version === 0 ? '' : ` (version ${info.signingKey.version})`}`],
    ['Secondary KMS', info.secondaryProvider === '' ? 'none' : info.secondaryProvider],
    ['Fleets', info.fleets.join(', ')],
  ];
}

/** Refuses an existing FILE or a missing directory before anything is asked of the controller. */
async function checkOutput(path: string): Promise<void> {
  const exists = await stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? false : Promise.reject(error)),
  );
  if (exists) throw new ArchiveFileRefused(`${path} already exists; fleetctl never overwrites an archive, choose another --out`);
  const parent = await stat(dirname(path)).catch(() => undefined);
  if (parent?.isDirectory() !== true) throw new ArchiveFileRefused(`${dirname(path)} is not a directory`);
}

async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function registerBackupCommands(program: Command, runtime: Runtime): void {
  const backup = program.command('backup').description('signed, encrypted archives of the controller state (create: admin; verify: admin, auditor)');

  backup
    .command('create')
    .description("have the controller snapshot its state into a signed, encrypted archive and write it to FILE (mode 0600, never overwritten); raise --timeout for a large controller")
    .requiredOption('--out <file>', 'where to write the archive')
    .option('--secondary-kms <provider>', "also wrap every key with this second KMS provider (the controller must be configured with it: serve --secondary-kms)", provider)
    .action(async (options: { out: string; secondaryKms?: string }, command: Command) => {
      const out = resolve(runtime.io.cwd, options.out);
      await checkOutput(out);
      await runtime.operator(command, async (client, printer) => {
        const partial = join(dirname(out), `.${basename(out)}.partial-${randomBytes(6).toString('hex')}`);
        const handle = await open(partial, 'wx', 0o600);
        try {
          const digest = createHash('sha256');
          let size = 0n;
          let info: BackupInfo | undefined;
          for await (const message of client.createBackup({ secondaryProvider: options.secondaryKms ?? '' })) {
            // Precondition: the description comes last and once.
            if (info !== undefined) throw new ArchiveStreamMismatch('the controller sent archive bytes after the archive\'s description');
            if (message.chunk.length > 0) {
              await handle.write(message.chunk);
              digest.update(message.chunk);
              size += BigInt(message.chunk.length);
            }
            if (message.info !== undefined) info = message.info;
          }
          if (info === undefined) throw new ArchiveStreamMismatch('the archive stream ended without its description');
          // Postcondition: the file holds exactly the archive the controller describes.
          if (info.sizeBytes !== size || !Buffer.from(info.sha256).equals(digest.digest())) {
            throw new ArchiveStreamMismatch('the archive received does not match the size and SHA-256 the controller reported; nothing was written');
          }
          await handle.sync();
          await handle.close();
          try {
            // link(2) fails when FILE appeared meanwhile: an existing archive is never replaced.
            await link(partial, out);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new ArchiveFileRefused(`${out} appeared while the archive was made; it was left as it is`);
            throw error;
          }
          await fsyncDirectory(dirname(out));
          if (printer.json) printer.document({ file: out, ...backupInfoJson(info) });
          else printer.fields([['File', out], ...infoFields(info)]);
        } finally {
          await handle.close().catch(() => undefined);
          // Linked or not, the temporary name goes: FILE (if linked) keeps the inode.
          await rm(partial, { force: true });
        }
      });
    });

  backup
    .command('verify')
    .description('have the controller check an archive (signature, every chunk, that its KMS still unwraps the keys) without restoring it; exit 1 when it does not verify')
    .argument('<file>', 'the archive')
    .action(async (file: string, _options: unknown, command: Command) => {
      const path = resolve(runtime.io.cwd, file);
      const info = await stat(path).catch(() => undefined);
      if (info?.isFile() !== true) throw new ArchiveFileRefused(`${path} is not a readable file`);
      if (info.size > MAX_ARCHIVE_FILE_BYTES) throw new ArchiveFileRefused(`${path} is larger than any archive (${MAX_ARCHIVE_FILE_BYTES} bytes)`);
      await runtime.operator(command, async (client, printer) => {
        const call = client.verifyBackup();
        try {
          for await (const piece of createReadStream(path, { highWaterMark: VERIFY_CHUNK_BYTES })) await call.send({ chunk: piece as Buffer });
        } catch (error) {
          call.cancel();
          throw error;
        }
        const result = await call.finish();
        if (printer.json) {
          printer.document({ file: path, valid: result.valid, problems: [...result.problems], backup: backupInfoJson(result.info) });
        } else {
          printer.fields([['File', path], ['Valid', result.valid ? 'yes' : 'NO'], ...(result.info === undefined ? [] : infoFields(result.info))]);
          for (const problem of result.problems) printer.line(`  problem: ${printable(problem)}`);
        }
        if (!result.valid) {
          runtime.exitCode = EXIT.failure;
          printer.note(`${path} does not verify: ${result.problems[0] ?? 'no reason given'}`);
        }
      });
    });
}
