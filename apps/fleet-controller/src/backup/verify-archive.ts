/**
 * VerifyBackup's check of an archive, without restoring it: the framing and bounds, that it was
 * signed by THIS controller's audit key (public key from the KMS, not from the archive), that the
 * controller KEK still unwraps its data key, every chunk's tag, the entries' shapes (a SQLite
 * file, controller.json, the secondary section), and — when this controller has the same
 * secondary KMS configured — that the secondary unwraps the data key to the same key and every
 * key in the secondary section. That last part answers "could I restore from this if the primary
 * KMS were gone?" before it is gone.
 *
 * The verdict is a list of problems for people; an archive that cannot be read at all gets the
 * one problem that stopped the reading.
 *
 * Trust boundary: the source is attacker bytes from an authenticated operator; every key unwrapped
 * here is zeroized at once, and problems never quote a key or a blob.
 */
import { timingSafeEqual } from 'node:crypto';
import { isFleetkeyError } from '@fleetkey/key-types';
import type { KmsProvider } from '@fleetkey/kms-core';
import { epochWrapContext, type ControllerCore } from '../core/core.js';
import { MAX_ARCHIVE_BYTES, MAX_SMALL_ENTRY_BYTES, type BackupHeader, type EntryName } from './archive-format.js';
import { dataKeyContext } from './archive-crypto.js';
import { SERVER_KEY_CONTEXT } from './data-dir-files.js';
import { BackupSignatureInvalid } from './errors.js';
import { checkArchiveSignature, openArchive } from './open-archive.js';
import { decodeSecondarySection } from './secondary-section.js';
import { SQLITE_MAGIC } from './sqlite-file.js';
import { MAX_SECONDARY_ENTRY_BYTES } from './archive-format.js';

/** At most this many problems are reported (VerifyBackupResponse.problems). */
export const MAX_PROBLEMS = 32;

export interface VerifyArchiveDeps {
  readonly core: ControllerCore;
  /** The secondary KMS, when this controller is configured with one. */
  readonly secondary?: () => Promise<KmsProvider>;
}

export interface ArchiveVerification {
  readonly valid: boolean;
  readonly problems: readonly string[];
  /** As far as it could be read. */
  readonly header?: BackupHeader;
  /** Set when the whole archive was read. */
  readonly sizeBytes?: number;
  readonly sha256?: Uint8Array;
  /** Whether the secondary KMS's wraps were checked too. */
  readonly secondaryChecked: boolean;
}

/**
 * An iterator view whose `return` does not end the underlying stream, so after a failure the rest
 * of a client stream can still be read (bounded) and the caller's sends succeed.
 */
function drainable(source: AsyncIterable<Uint8Array>): { view: AsyncIterable<Uint8Array>; drain(): Promise<void> } {
  const inner = source[Symbol.asyncIterator]();
  let finished = false;
  const view: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        const step = await inner.next();
        if (step.done === true) finished = true;
        return step;
      },
      return: async () => ({ done: true as const, value: undefined }),
    }),
  };
  return {
    view,
    async drain() {
      let drained = 0;
      while (!finished) {
        const step = await inner.next();
        if (step.done === true) return;
        drained += step.value.length;
        // Precondition: draining is bounded like reading; past the bound the call simply ends.
        if (drained > MAX_ARCHIVE_BYTES) {
          await inner.return?.();
          return;
        }
      }
    },
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Unwraps with `kms` and zeroizes; true when it unwrapped. */
async function unwrapsWith(kms: KmsProvider, envelope: Uint8Array, context: Readonly<Record<string, string>>): Promise<boolean> {
  try {
    (await kms.unwrap({ envelope, context })).fill(0);
    return true;
  } catch (error) {
    if (isFleetkeyError(error)) return false;
    throw error;
  }
}

/**
 * Verifies the archive `source` streams.
 * @throws only unexpected (non-fleetkey) errors; every expected failure is a problem in the result.
 */
export async function verifyArchive(source: AsyncIterable<Uint8Array>, deps: VerifyArchiveDeps): Promise<ArchiveVerification> {
  const { core } = deps;
  const problems: string[] = [];
  const problem = (text: string): void => {
    if (problems.length < MAX_PROBLEMS) problems.push(text.length > 512 ? `${text.slice(0, 509)}...` : text);
  };
  let header: BackupHeader | undefined;
  let secondaryKms: KmsProvider | undefined;
  const kept: Partial<Record<EntryName, Uint8Array[]>> = {};
  const keptBytes: Partial<Record<EntryName, number>> = {};
  const keepLimit: Partial<Record<EntryName, number>> = { 'state.db': SQLITE_MAGIC.length, 'controller.json': MAX_SMALL_ENTRY_BYTES, 'secondary.json': MAX_SECONDARY_ENTRY_BYTES };
  const { view, drain } = drainable(source);

  try {
    const opened = await openArchive(
      view,
      {
        async unwrapDataKey(found) {
          if (found.primary.provider !== core.kms.name) problem(`it was made by a controller whose KMS is ${found.primary.provider}; this controller's is ${core.kms.name}`);
          const context = dataKeyContext(found.backupId);
          const dataKey = await core.kms.unwrap({ envelope: found.primary.dataKey, context });
          if (found.secondary !== null && deps.secondary !== undefined) {
            secondaryKms = await deps.secondary();
            if (secondaryKms.name === found.secondary.provider) {
              const other = await secondaryKms.unwrap({ envelope: found.secondary.dataKey, context }).catch((error: unknown) => {
                if (isFleetkeyError(error)) return undefined;
                throw error;
              });
              if (other === undefined || !sameBytes(dataKey, other)) problem(`the ${secondaryKms.name} KMS does not unwrap its data key to the same key`);
              other?.fill(0);
            } else {
              secondaryKms = undefined;
            }
          }
          return dataKey;
        },
        async verifySignature(found, signingInput, signature) {
          if (found.signer.keyId !== core.controllerKeys.auditKeyId) {
            throw new BackupSignatureInvalid(`it was signed by key ${found.signer.keyId}, which is not this controller's audit key`);
          }
          const signer = await core.signer(found.signer.keyId);
          const trusted =
            found.signer.keyVersion === signer.keyVersion || found.signer.keyVersion === 0
              ? await signer.publicKey()
              : await core.kms.getPublicKey({ keyId: found.signer.keyId, keyVersion: found.signer.keyVersion });
          checkArchiveSignature(found, trusted, signingInput, signature);
        },
      },
      {
        write(name, bytes) {
          const limit = keepLimit[name];
          if (limit === undefined) return;
          const have = keptBytes[name] ?? 0;
          if (have >= limit) return;
          (kept[name] ??= []).push(bytes.subarray(0, limit - have));
          keptBytes[name] = have + Math.min(bytes.length, limit - have);
        },
        end() {},
      },
      (found) => {
        header = found;
      },
    );

    const entry = (name: EntryName): Buffer => Buffer.concat(kept[name] ?? []);
    if (entry('state.db').toString('latin1') !== SQLITE_MAGIC) problem('its state.db entry is not a SQLite database');
    try {
      const settings = JSON.parse(entry('controller.json').toString('utf8')) as { formatVersion?: unknown };
      if (settings.formatVersion !== 1) problem('its controller.json entry has an unknown formatVersion');
    } catch {
      problem('its controller.json entry is not JSON');
    }
    let secondaryChecked = false;
    if (opened.header.secondary !== null) {
      try {
        const section = decodeSecondarySection(entry('secondary.json'));
        if (section.provider !== opened.header.secondary.provider || section.keyId !== opened.header.secondary.keyId) problem('its secondary section names another key than its header');
        if (secondaryKms !== undefined) {
          secondaryChecked = true;
          if (!(await unwrapsWith(secondaryKms, section.serverKey, SERVER_KEY_CONTEXT))) problem(`the ${secondaryKms.name} KMS does not unwrap its copy of the TLS server key`);
          for (const epoch of section.epochs) {
            if (!(await unwrapsWith(secondaryKms, epoch.wrappedKey, epochWrapContext(epoch.fleet, epoch.group, epoch.version)))) {
              problem(`the ${secondaryKms.name} KMS does not unwrap its copy of epoch ${epoch.version} of ${epoch.fleet}/${epoch.group ?? 'fleet'}`);
            }
          }
        }
      } catch (error) {
        if (!isFleetkeyError(error)) throw error;
        problem(error.message);
      }
    }
    return { valid: problems.length === 0, problems, header: opened.header, sizeBytes: opened.sizeBytes, sha256: opened.sha256, secondaryChecked };
  } catch (error) {
    if (!isFleetkeyError(error)) throw error;
    problem(error.message);
    await drain();
    return { valid: false, problems, ...(header === undefined ? {} : { header }), secondaryChecked: false };
  }
}
