/**
 * Making an archive (format: ./archive-format.ts) from a running controller, streamed as it is
 * made: a consistent snapshot of the state store (VACUUM INTO, ./sqlite-file.ts) and the data
 * directory's public and KMS-sealed files, encrypted under a fresh data key from the controller
 * KEK (one generateDataKey), and signed with the controller's audit key in the KMS (one sign).
 *
 * Why the audit key signs: it is already the key by which this controller attests to its own
 * record (the audit chain heads), auditors hold its public half, and the header names the audit
 * head the snapshot ends at, so archive and log vouch for each other. A dedicated backup key would
 * be one more KMS key with exactly the same trust.
 *
 * With a secondary KMS, the data key is also wrapped by the secondary key, and so is every kept
 * epoch key and the TLS server key (./secondary-section.ts): one secondary wrap per key, plus one
 * primary unwrap for keys not already held unwrapped in the core's cache.
 *
 * Memory stays bounded (one chunk at a time); the plaintext snapshot lives in a private 0700
 * directory inside the data directory (same disk, same protection as state.db) and is removed
 * on every path.
 *
 * Trust boundary: the data key's plaintext exists from generateDataKey to the end of the
 * generator and is zeroized in `finally`; unwrapped keys being copied to the secondary are
 * zeroized right after their wrap (cached epoch keys belong to the core and are not touched).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SignatureAlgorithm } from '@fleetkey/crypto';
import type { KmsProvider } from '@fleetkey/kms-core';
import { epochWrapContext, type ControllerCore } from '../core/core.js';
import { loadControllerKeys } from '../core/controller-keys.js';
import { readControllerSettings, type DataDirPaths } from '../datadir/layout.js';
import { openSqliteRepository, type CommunicationEpoch } from '../store/index.js';
import {
  CHUNK_PLAINTEXT_BYTES,
  MAX_SMALL_ENTRY_BYTES,
  RECORD_KIND,
  archiveSigningInput,
  encodeHeader,
  encodePreamble,
  encodeRecord,
  sha256,
  type BackupHeaderInput,
  type EntryName,
} from './archive-format.js';
import { dataKeyContext, rechunk, sealChunk } from './archive-crypto.js';
import { SERVER_KEY_CONTEXT, readBounded } from './data-dir-files.js';
import { BackupNotConfigured } from './errors.js';
import { SECONDARY_EPOCH_STATES, encodeSecondarySection, type SecondaryEpoch } from './secondary-section.js';
import { snapshotState } from './sqlite-file.js';

export interface ArchiveSources {
  readonly core: ControllerCore;
  readonly paths: DataDirPaths;
  /** Also wrap everything under this key of a second KMS. */
  readonly secondary?: { readonly kms: KmsProvider; readonly keyId: string };
  /** Aborts between chunks (the client went away, the controller is stopping). */
  readonly signal?: AbortSignal;
}

export interface ArchiveDescription {
  readonly backupId: string;
  readonly createdAt: Date;
  readonly sizeBytes: number;
  /** SHA-256 of the whole archive. */
  readonly sha256: Uint8Array;
  readonly signer: { readonly keyId: string; readonly keyVersion: number; readonly algorithm: SignatureAlgorithm };
  readonly secondaryProvider: string | null;
  readonly fleets: readonly string[];
  /** Keys also wrapped by the secondary (epoch keys and the TLS key); 0 without one. */
  readonly secondaryWraps: number;
}

export type ArchivePiece = { readonly kind: 'bytes'; readonly bytes: Uint8Array } | { readonly kind: 'done'; readonly description: ArchiveDescription };

/** `bk-20260115T101500Z-1a2b3c4d`: sortable by time, unique by 32 random bits. */
export function newBackupId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `bk-${stamp}-${randomBytes(4).toString('hex')}`;
}

interface Snapshot {
  readonly schemaVersion: number;
  readonly fleets: string[];
  readonly epochs: CommunicationEpoch[];
  readonly auditHead: { sequence: number; hash: Uint8Array } | null;
}

async function readSnapshot(core: ControllerCore, path: string): Promise<Omit<Snapshot, 'schemaVersion'>> {
  const repository = await openSqliteRepository({ path, clock: core.clock });
  try {
    const keys = await loadControllerKeys(repository);
    // Precondition: the data directory is this controller's (same KEK and audit key as the running core).
    if (keys.kekId !== core.controllerKeys.kekId || keys.auditKeyId !== core.controllerKeys.auditKeyId) {
      throw new BackupNotConfigured('the data directory given to backups is not this controller\'s');
    }
    const fleets = (await repository.listFleets()).map((fleet) => fleet.id);
    const epochs: CommunicationEpoch[] = [];
    for (const fleet of fleets) epochs.push(...(await repository.listEpochs(fleet)));
    const head = await repository.audit.head();
    return { fleets, epochs, auditHead: head === undefined ? null : { sequence: head.sequence, hash: head.hash } };
  } finally {
    await repository.close();
  }
}

/** Wraps `plaintext` under the secondary key; zeroizes it when `owned`. */
async function wrapForSecondary(secondary: NonNullable<ArchiveSources['secondary']>, plaintext: Uint8Array, context: Readonly<Record<string, string>>, owned: boolean): Promise<Uint8Array> {
  try {
    return await secondary.kms.wrap({ keyId: secondary.keyId, plaintext, context });
  } finally {
    if (owned) plaintext.fill(0);
  }
}

async function secondaryEpochs(core: ControllerCore, secondary: NonNullable<ArchiveSources['secondary']>, epochs: readonly CommunicationEpoch[]): Promise<SecondaryEpoch[]> {
  const out: SecondaryEpoch[] = [];
  for (const epoch of epochs) {
    if (!SECONDARY_EPOCH_STATES.includes(epoch.state)) continue;
    const context = epochWrapContext(epoch.fleetId, epoch.groupId, epoch.version);
    // Usable epochs are in the core's cache already (it serves them); an expired one is unwrapped
    // here and zeroized, so old keys do not fill the cache.
    const usable = epoch.state !== 'expired';
    const plaintext = usable ? await core.epochKey(epoch) : await core.kms.unwrap({ envelope: epoch.wrappedKey, context });
    out.push({ fleet: epoch.fleetId, group: epoch.groupId, version: epoch.version, wrappedKey: await wrapForSecondary(secondary, plaintext, context, !usable) });
  }
  return out;
}

async function* fileContents(path: string): AsyncGenerator<Uint8Array> {
  for await (const piece of createReadStream(path, { highWaterMark: CHUNK_PLAINTEXT_BYTES })) yield new Uint8Array(piece as Buffer);
}

/**
 * Makes the archive, yielding its bytes as they are made and then its description.
 * @throws BackupNotConfigured; KMS errors (generateDataKey, sign, secondary wraps); fs errors;
 *   an AbortSignal's reason when aborted. Nothing is left on disk on any path.
 */
export async function* createArchive(sources: ArchiveSources): AsyncGenerator<ArchivePiece, void, undefined> {
  const { core, paths, secondary } = sources;
  const createdAt = new Date(core.clock());
  const backupId = newBackupId(createdAt);
  const workDir = await mkdtemp(join(paths.root, '.backup-'));
  let dataKey: Uint8Array | undefined;
  try {
    const snapshotPath = join(workDir, 'state.db');
    const schemaVersion = await snapshotState(paths.state, snapshotPath);
    const snapshot = await readSnapshot(core, snapshotPath);
    readControllerSettings(paths);
    const small: Record<Exclude<EntryName, 'state.db' | 'secondary.json'>, Uint8Array> = {
      'controller.json': await readBounded(paths.settings, MAX_SMALL_ENTRY_BYTES),
      'ca.pem': await readBounded(paths.caFile, MAX_SMALL_ENTRY_BYTES),
      'tls/server.pem': await readBounded(paths.serverCertificate, MAX_SMALL_ENTRY_BYTES),
      'tls/server-key.env': await readBounded(paths.serverKey, MAX_SMALL_ENTRY_BYTES),
    };

    const context = dataKeyContext(backupId);
    const generated = await core.kms.generateDataKey({ keyId: core.controllerKeys.kekId, context });
    dataKey = generated.plaintext;

    let secondaryHeader: BackupHeaderInput['secondary'] = null;
    let secondaryBytes: Uint8Array | undefined;
    let secondaryWraps = 0;
    if (secondary !== undefined) {
      const wrappedDataKey = await secondary.kms.wrap({ keyId: secondary.keyId, plaintext: dataKey, context });
      const epochs = await secondaryEpochs(core, secondary, snapshot.epochs);
      const serverKey = await wrapForSecondary(secondary, await core.kms.unwrap({ envelope: small['tls/server-key.env'], context: SERVER_KEY_CONTEXT }), SERVER_KEY_CONTEXT, true);
      secondaryBytes = encodeSecondarySection({ provider: secondary.kms.name, keyId: secondary.keyId, serverKey, epochs });
      secondaryHeader = { provider: secondary.kms.name, keyId: secondary.keyId, dataKey: Buffer.from(wrappedDataKey).toString('base64') };
      secondaryWraps = epochs.length + 1;
    }

    const signer = await core.signer(core.controllerKeys.auditKeyId);
    const publicKey = (await signer.publicKey()).export({ type: 'spki', format: 'der' });
    const stateSize = (await stat(snapshotPath)).size;
    const entries: { name: EntryName; size: number }[] = [
      ...Object.entries(small).map(([name, bytes]) => ({ name: name as EntryName, size: bytes.length })),
      { name: 'state.db', size: stateSize },
      ...(secondaryBytes === undefined ? [] : [{ name: 'secondary.json' as const, size: secondaryBytes.length }]),
    ];
    const total = entries.reduce((sum, entry) => sum + entry.size, 0);
    const chunks = Math.ceil(total / CHUNK_PLAINTEXT_BYTES);
    const headerBody = encodeHeader({
      format: 'fleetkey-backup',
      version: 1,
      backupId,
      createdAt: createdAt.toISOString(),
      schemaVersion,
      fleets: snapshot.fleets,
      auditHead: snapshot.auditHead === null ? null : { sequence: snapshot.auditHead.sequence, hash: Buffer.from(snapshot.auditHead.hash).toString('base64') },
      entries,
      chunkSize: CHUNK_PLAINTEXT_BYTES,
      chunks,
      primary: { provider: core.kms.name, dataKey: Buffer.from(generated.wrapped).toString('base64') },
      secondary: secondaryHeader,
      signer: { keyId: signer.keyId, algorithm: signer.algorithm, keyVersion: signer.keyVersion, publicKey: Buffer.from(publicKey).toString('base64') },
    });
    const headerDigest = sha256(headerBody);

    const signed = createHash('sha256');
    const whole = createHash('sha256');
    let size = 0;
    const emit = (bytes: Uint8Array, coveredBySignature: boolean): ArchivePiece => {
      if (coveredBySignature) signed.update(bytes);
      whole.update(bytes);
      size += bytes.length;
      return { kind: 'bytes', bytes };
    };

    yield emit(encodePreamble(), true);
    yield emit(encodeRecord(RECORD_KIND.header, headerBody), true);

    async function* payload(): AsyncGenerator<Uint8Array> {
      yield* Object.values(small);
      yield* fileContents(snapshotPath);
      if (secondaryBytes !== undefined) yield secondaryBytes;
    }
    let index = 0;
    for await (const plaintext of rechunk(payload(), CHUNK_PLAINTEXT_BYTES)) {
      sources.signal?.throwIfAborted();
      yield emit(encodeRecord(RECORD_KIND.chunk, sealChunk(dataKey, backupId, headerDigest, index, plaintext)), true);
      index += 1;
    }
    // Postcondition: the payload matched the sizes the header announced.
    if (index !== chunks) throw new Error(`the snapshot changed while it was archived (${index} chunks, header says ${chunks})`);

    const signature = await signer.sign(archiveSigningInput(new Uint8Array(signed.digest())));
    yield emit(encodeRecord(RECORD_KIND.trailer, signature), false);
    yield {
      kind: 'done',
      description: {
        backupId,
        createdAt,
        sizeBytes: size,
        sha256: new Uint8Array(whole.digest()),
        signer: { keyId: signer.keyId, keyVersion: signer.keyVersion, algorithm: signer.algorithm },
        secondaryProvider: secondary?.kms.name ?? null,
        fleets: snapshot.fleets,
        secondaryWraps,
      },
    };
  } finally {
    dataKey?.fill(0);
    await rm(workDir, { recursive: true, force: true });
  }
}
