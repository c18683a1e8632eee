/**
 * The backup power: OperatorService.CreateBackup (admin) streams a fresh archive in chunks and
 * then its description; OperatorService.VerifyBackup (admin, auditor) checks an archive streamed
 * back. Restoring is offline (`fleet-controller restore`, ./restore.ts), never over the API.
 *
 * Wiring: the power needs the data directory (the state file to snapshot, the TLS files) and,
 * for `--secondary-kms`, the secondary provider's settings; both come from `serve` through
 * FleetPowerDeps (`dataDir`, `secondaryKms`). Without the data directory CreateBackup answers
 * FAILED_PRECONDITION (VerifyBackup needs none); without a secondary, CreateBackup with
 * secondary_provider does, and VerifyBackup does not check secondary copies.
 *
 * Bounds: one backup at a time per controller (another answers RESOURCE_EXHAUSTED); archives are
 * streamed in pieces of at most 1 MiB (CreateBackupResponse.chunk); a verified archive is at
 * most MAX_ARCHIVE_BYTES. `stop()` aborts a backup in progress and closes the secondary KMS.
 *
 * Trust boundary: runs behind the operator guard (authenticated, role-checked, refusals audited).
 * Every archive made is audited (`backup.create`, ok or error) with its id, size and secondary
 * provider — never its digest or any key.
 */
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { isFleetkeyError } from '@fleetkey/key-types';
import type { KmsProvider } from '@fleetkey/kms-core';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { BackupInfoSchema, CreateBackupResponseSchema, VerifyBackupRequest } from '@fleetkey/protocol';
import { dataDirPaths, type DataDirPaths } from '../datadir/layout.js';
import type { FleetPower, FleetPowerDeps } from '../serve/fleet-powers.js';
import type { BackupHeader } from './archive-format.js';
import { createArchive, type ArchiveDescription } from './create-archive.js';
import { BackupInProgress, BackupNotConfigured } from './errors.js';
import { checkSecondaryDiffers, openSecondaryKms, resolveSecondaryKek, type SecondaryKmsSettings } from './secondary-kms.js';
import { verifyArchive } from './verify-archive.js';

/** Largest piece of archive in one CreateBackupResponse (operator.proto: 1 MiB). */
export const MAX_RESPONSE_CHUNK_BYTES = 1024 * 1024;
/** BackupInfo lists at most this many fleets (operator.proto). */
export const MAX_INFO_FLEETS = 1024;
const MAX_KEY_REF_ID = 255;

/** What `serve` adds to FleetPowerDeps for backups. */
export interface BackupPowerDeps {
  /** The data directory `serve` runs from. */
  readonly dataDir?: DataDirPaths | string;
  /** The secondary KMS (`serve --secondary-kms PROVIDER`, settings from the environment). */
  readonly secondaryKms?: SecondaryKmsSettings;
}

type CreateBackupMessage = MessageInitShape<typeof CreateBackupResponseSchema>;
type BackupInfo = MessageInitShape<typeof BackupInfoSchema>;

function signingKeyRef(keyId: string, version: number): { keyId: string; version: number } | undefined {
  return keyId.length <= MAX_KEY_REF_ID ? { keyId, version } : undefined;
}

function describedInfo(description: ArchiveDescription): BackupInfo {
  const signingKey = signingKeyRef(description.signer.keyId, description.signer.keyVersion);
  return {
    backupId: description.backupId,
    createdAt: timestampFromMs(description.createdAt.getTime()),
    sizeBytes: BigInt(description.sizeBytes),
    sha256: description.sha256,
    ...(signingKey === undefined ? {} : { signingKey }),
    secondaryProvider: description.secondaryProvider ?? '',
    fleets: description.fleets.slice(0, MAX_INFO_FLEETS),
  };
}

function headerInfo(header: BackupHeader, sizeBytes?: number, sha256?: Uint8Array): BackupInfo {
  const signingKey = signingKeyRef(header.signer.keyId, header.signer.keyVersion);
  const created = Date.parse(header.createdAt);
  return {
    backupId: header.backupId,
    ...(Number.isNaN(created) ? {} : { createdAt: timestampFromMs(created) }),
    ...(sizeBytes === undefined ? {} : { sizeBytes: BigInt(sizeBytes) }),
    ...(sha256 === undefined ? {} : { sha256 }),
    ...(signingKey === undefined ? {} : { signingKey }),
    secondaryProvider: header.secondary?.provider ?? '',
    fleets: header.fleets.slice(0, MAX_INFO_FLEETS),
  };
}

async function* archiveBytes(requests: AsyncIterable<VerifyBackupRequest>): AsyncGenerator<Uint8Array> {
  for await (const request of requests) yield request.chunk;
}

/** Cuts archive bytes into response-sized pieces (chunk records are slightly over 1 MiB). */
function* responsePieces(bytes: Uint8Array): Generator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += MAX_RESPONSE_CHUNK_BYTES) yield bytes.subarray(offset, offset + MAX_RESPONSE_CHUNK_BYTES);
}

/**
 * Builds the power.
 * @throws BackupNotConfigured when the secondary KMS is the primary's vendor (serve refuses to start).
 */
export async function createBackupPower(deps: FleetPowerDeps & BackupPowerDeps): Promise<FleetPower> {
  const { core, logger } = deps;
  const paths = deps.dataDir === undefined ? undefined : typeof deps.dataDir === 'string' ? dataDirPaths(deps.dataDir) : deps.dataDir;
  const settings = deps.secondaryKms;
  if (settings !== undefined) checkSecondaryDiffers(settings, core.kms.name);

  // Opened on first use, so a secondary that is down does not stop the controller from starting.
  let secondary: Promise<KmsProvider> | undefined;
  const secondaryKms = (): Promise<KmsProvider> => {
    if (settings === undefined) return Promise.reject(new BackupNotConfigured('this controller has no secondary KMS (start serve with --secondary-kms PROVIDER)'));
    secondary ??= openSecondaryKms(settings).catch((error: unknown) => {
      secondary = undefined;
      throw error;
    });
    return secondary;
  };
  const requirePaths = (): DataDirPaths => {
    if (paths === undefined) throw new BackupNotConfigured('backups are not wired into this controller (serve must pass its data directory to the backup power)');
    return paths;
  };

  let running: AbortController | undefined;

  async function* produce(callerId: string, secondaryProvider: string | undefined, signal: AbortSignal): AsyncGenerator<CreateBackupMessage> {
    const where = requirePaths();
    // Precondition: one backup at a time.
    if (running !== undefined) throw new BackupInProgress();
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    running = controller;
    try {
      let target: { kms: KmsProvider; keyId: string } | undefined;
      if (secondaryProvider !== undefined) {
        if (settings === undefined || settings.provider !== secondaryProvider) {
          throw new BackupNotConfigured(
            settings === undefined
              ? `this controller has no secondary KMS; start serve with --secondary-kms ${secondaryProvider} and that provider's settings in its environment`
              : `this controller's secondary KMS is ${settings.provider}, not ${secondaryProvider}`,
          );
        }
        const kms = await secondaryKms();
        const kek = await resolveSecondaryKek(kms, settings);
        if (kek.created) {
          await core.repository.audit.append({ actor: callerId, action: 'key.create', keyRef: `backup-secondary:${kek.keyId}`, result: 'ok', details: { kind: 'backup-secondary', spec: 'AES_256', provider: kms.name } });
        }
        target = { kms, keyId: kek.keyId };
      }
      for await (const piece of createArchive({ core, paths: where, ...(target === undefined ? {} : { secondary: target }), signal: controller.signal })) {
        if (piece.kind === 'bytes') {
          for (const chunk of responsePieces(piece.bytes)) yield { chunk };
        } else {
          const description = piece.description;
          await core.repository.audit.append({
            actor: callerId,
            action: 'backup.create',
            result: 'ok',
            details: { backup: description.backupId, bytes: description.sizeBytes, fleets: description.fleets.length, secondary: description.secondaryProvider ?? 'none', secondaryWraps: description.secondaryWraps },
          });
          logger.info({ backup: description.backupId, bytes: description.sizeBytes, secondary: description.secondaryProvider ?? 'none' }, 'backup created');
          yield { info: describedInfo(description) };
        }
      }
    } catch (error) {
      const code = isFleetkeyError(error) ? error.code : 'INTERNAL';
      await core.repository.audit
        .append({ actor: callerId, action: 'backup.create', result: 'error', errorCode: code, details: { secondary: secondaryProvider ?? 'none' } })
        .catch((appendError: unknown) => logger.error({ err: appendError }, 'audit append failed'));
      throw error;
    } finally {
      signal.removeEventListener('abort', onAbort);
      running = undefined;
    }
  }

  return {
    operatorRpcs: (guard) => ({
      createBackup: (request, context) =>
        (async function* () {
          const { caller, secondaryProvider } = await guard.run('createBackup', context, () => undefined, async (operator) => ({
            caller: operator,
            // The codec already checked the identifier grammar; an unknown name fails against the settings.
            secondaryProvider: request.secondaryProvider === '' ? undefined : request.secondaryProvider,
          }));
          yield* produce(caller.id, secondaryProvider, context.signal);
        })(),

      verifyBackup: (requests, context) =>
        // Needs no data directory: the archive comes from the caller, the keys from the core.
        guard.run('verifyBackup', context, () => undefined, async () => {
          const verification = await verifyArchive(archiveBytes(requests), {
            core,
            ...(settings === undefined ? {} : { secondary: secondaryKms }),
          });
          return {
            valid: verification.valid,
            problems: [...verification.problems],
            ...(verification.header === undefined ? {} : { info: headerInfo(verification.header, verification.sizeBytes, verification.sha256) }),
          };
        }),
    }),

    async stop() {
      // Not awaited: a stream waiting on a slow client ends when the gRPC server drains; the
      // archive's finally removes its work directory whenever that is.
      running?.abort(new BackupNotConfigured('the controller is stopping'));
      const opened = secondary;
      secondary = undefined;
      if (opened !== undefined) await (await opened.catch(() => undefined))?.close();
    },
  };
}
