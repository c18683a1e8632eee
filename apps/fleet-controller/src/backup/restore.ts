/**
 * `fleet-controller restore`: a new data directory from an archive, built in a staging directory
 * next to the target and renamed into place only when everything checked out — so it leaves a
 * working data directory or nothing, and never touches an existing one (like `init`).
 *
 * Which KMS: `--kms-from primary` (default) or `secondary`. The archive names each side's
 * provider ('local', 'vault', …), but its settings and credentials come from the environment of
 * the person restoring, exactly as for `init --kms` (VAULT_ADDR / VAULT_TOKEN, AWS_REGION, …;
 * FLEETKEY_LOCAL_KMS_PATH and FLEETKEY_LOCAL_KMS_PASSPHRASE_FILE for the local provider). The
 * archive never chooses an endpoint: a forged archive cannot point a restore at its author's KMS.
 *
 * Primary: the signature is checked with the audit key's public half from the KMS, the state is
 * restored as it was, and a `backup.restore` record is appended and signed.
 *
 * Secondary (the primary KMS is gone): the data key comes from the secondary wrap; the signature
 * can only be checked against the public key the archive records (its header is bound into every
 * chunk's tag, so it is as authentic as the chunks: made by someone able to use the archive's
 * data key). The restored state is moved onto the secondary: each kept epoch key's wrapping and
 * the sealed TLS key are replaced by the secondary's copies (each checked to unwrap), the
 * controller KEK becomes the secondary key, and a NEW audit key is made there (an asymmetric key
 * cannot be copied out of a KMS, and `serve` needs one to start). Keys that are signing keys in
 * the primary — fleet CAs, emergency keys, the TLS CA, the old audit key — stay there, so the
 * restored controller serves key bundles, revocation lists and the broker to already-provisioned
 * robots, but cannot enroll, renew certificates, rotate or sign commands until the primary is
 * back (or the fleet is re-provisioned). `RestoreResult.limitations` says so in words.
 *
 * Trust boundary: the archive is attacker bytes until its chunks' tags and signature check out;
 * nothing is renamed into place before that. Secrets: the data key and every key unwrapped to be
 * checked are zeroized; the TLS key PEM opened for the check is zeroized; nothing is logged.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { isFleetkeyError } from '@fleetkey/key-types';
import { kmsConfigFromEnv, kmsSigner, isKmsProviderName, type KmsConfig, type KmsEnvironment, type KmsProvider } from '@fleetkey/kms-core';
import { createKmsProviderStack } from '@fleetkey/kms-providers';
import { signHead } from '../audit/index.js';
import { epochWrapContext } from '../core/core.js';
import { loadControllerKeys, saveControllerKeys } from '../core/controller-keys.js';
import { openServerTls } from '../core/server-tls.js';
import { DataDirExists } from '../datadir/init.js';
import { dataDirPaths, readControllerSettings, serializeControllerSettings, type ControllerSettings } from '../datadir/layout.js';
import { LATEST_SCHEMA_VERSION, openSqliteRepository, type Repository } from '../store/index.js';
import { CHUNK_PLAINTEXT_BYTES, MAX_ARCHIVE_BYTES, type BackupHeader, type EntryName } from './archive-format.js';
import { dataKeyContext } from './archive-crypto.js';
import { ENTRY_FILES, createPrivateFile, fsyncDirectory, writePrivateFile } from './data-dir-files.js';
import { BackupArchiveInvalid, BackupNotConfigured, BackupSignatureInvalid } from './errors.js';
import { checkArchiveSignature, headerPublicKey, openArchive } from './open-archive.js';
import { storedKmsConfig } from './secondary-kms.js';
import { SECONDARY_EPOCH_STATES, decodeSecondarySection, type SecondarySection } from './secondary-section.js';
import { checkStateFile, replaceEpochWrappings } from './sqlite-file.js';

export const KMS_SIDES = ['primary', 'secondary'] as const;
export type KmsSide = (typeof KMS_SIDES)[number];

export interface RestoreOptions {
  /** The data directory to create; refused when it exists and is not empty. */
  readonly dataDir: string;
  /** The archive file. */
  readonly from: string;
  readonly kmsFrom: KmsSide;
  /** The KMS settings and credentials (never read implicitly). */
  readonly env: KmsEnvironment;
  /** Resolves a relative FLEETKEY_LOCAL_KMS_PATH (default process.cwd()). */
  readonly cwd?: string;
  readonly clock?: () => number;
}

export interface RestoreResult {
  readonly dataDir: string;
  readonly caFile: string;
  readonly backupId: string;
  readonly createdAt: string;
  readonly fleets: readonly string[];
  readonly kmsFrom: KmsSide;
  readonly kmsProvider: string;
  /** How the signature was checked: against the KMS's key, or only against the key the archive records. */
  readonly signature: 'verified-with-kms' | 'consistent-with-archive-key';
  /** What the restored controller cannot do (empty for a primary restore). */
  readonly limitations: readonly string[];
}

async function refuseExisting(root: string): Promise<void> {
  try {
    const info = await stat(root);
    if (!info.isDirectory() || (await readdir(root)).length > 0) {
      throw new DataDirExists(`${root} already exists and is not an empty directory; restore never overwrites a data directory`);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
}

/** The provider config for one side: its name from the archive, its settings from the environment. */
function kmsConfigFor(provider: string, env: KmsEnvironment, cwd: string): KmsConfig {
  if (!isKmsProviderName(provider)) throw new BackupArchiveInvalid(`it names an unknown KMS provider "${provider}"`);
  const config = kmsConfigFromEnv({ ...env, FLEETKEY_KMS_PROVIDER: provider });
  if (config.local === undefined) return config;
  // The restored directory records where the local key file is; a path relative to the shell's
  // directory would mean something else to `serve`.
  const absolute = (path: string): string => (isAbsolute(path) ? path : resolve(cwd, path));
  return { ...config, local: { path: absolute(config.local.path), passphraseFile: absolute(config.local.passphraseFile) } };
}

async function* fileSource(path: string): AsyncGenerator<Uint8Array> {
  for await (const piece of createReadStream(path, { highWaterMark: CHUNK_PLAINTEXT_BYTES })) yield new Uint8Array(piece as Buffer);
}

const earliest = (times: readonly number[]): string | undefined => (times.length === 0 ? undefined : new Date(times.reduce((a, b) => Math.min(a, b))).toISOString());

/** What a secondary-only restore cannot do, in words for the operator. */
async function secondaryLimitations(repository: Repository, provider: string, certificateNotAfter: Date): Promise<string[]> {
  const activeUntil: number[] = [];
  for (const fleet of await repository.listFleets()) {
    for (const epoch of await repository.listEpochs(fleet.id, { states: ['active'] })) activeUntil.push(epoch.notAfter);
  }
  const until = earliest(activeUntil);
  return [
    'enrolling robots and renewing device certificates need the fleet CA keys, which stay in the primary KMS',
    `rotating communication keys, new revocation lists and emergency commands need the emergency keys, which stay in the primary KMS; robots keep the epochs they have${until === undefined ? '' : ` (the earliest active one ends ${until})`}`,
    `a new TLS server certificate needs the controller TLS CA key, which stays in the primary KMS; the current one is valid until ${certificateNotAfter.toISOString()}`,
    `audit heads signed before the restore verify only with the old audit key in the primary KMS; a new audit key in ${provider} signs from now on`,
  ];
}

/**
 * Restores `options.from` into `options.dataDir`.
 * @throws DataDirExists; BackupArchiveInvalid, BackupDecryptionFailed, BackupSignatureInvalid for
 *   a bad archive; BackupNotConfigured (no secondary in the archive); InvalidKmsConfig naming the
 *   missing settings; KMS errors (the chosen KMS unreachable, a key missing). Nothing is left at
 *   the target on any failure.
 */
export async function restoreController(options: RestoreOptions): Promise<RestoreResult> {
  const clock = options.clock ?? Date.now;
  const cwd = options.cwd ?? process.cwd();
  const paths = dataDirPaths(options.dataDir);
  await refuseExisting(paths.root);
  const archiveInfo = await stat(options.from);
  if (!archiveInfo.isFile()) throw new BackupArchiveInvalid(`${options.from} is not a file`);
  if (archiveInfo.size > MAX_ARCHIVE_BYTES) throw new BackupArchiveInvalid(`it is larger than ${MAX_ARCHIVE_BYTES} bytes`);

  await mkdir(dirname(paths.root), { recursive: true });
  const staging = join(dirname(paths.root), `.${basename(paths.root)}.restore-${randomBytes(6).toString('hex')}`);
  await mkdir(staging, { mode: 0o700 });
  const stagingPaths = dataDirPaths(staging);

  let kms: KmsProvider | undefined;
  let kmsConfig: KmsConfig | undefined;
  let repository: Repository | undefined;
  let stateFile: FileHandle | undefined;
  try {
    const small: Partial<Record<EntryName, Uint8Array[]>> = {};
    let signature: RestoreResult['signature'] = 'verified-with-kms';
    const opened = await openArchive(
      fileSource(options.from),
      {
        async unwrapDataKey(header) {
          const side = options.kmsFrom === 'primary' ? header.primary : header.secondary;
          if (side === null) throw new BackupNotConfigured('the archive was made without a secondary KMS; restore it with --kms-from primary');
          kmsConfig = kmsConfigFor(side.provider, options.env, cwd);
          kms = (await createKmsProviderStack(kmsConfig, { env: options.env, source: 'env' })).provider;
          return kms.unwrap({ envelope: side.dataKey, context: dataKeyContext(header.backupId) });
        },
        async verifySignature(header, signingInput, signed) {
          if (options.kmsFrom === 'primary') {
            const trusted = await kms!.getPublicKey(header.signer.keyVersion === 0 ? { keyId: header.signer.keyId } : { keyId: header.signer.keyId, keyVersion: header.signer.keyVersion });
            checkArchiveSignature(header, trusted, signingInput, signed);
          } else {
            checkArchiveSignature(header, headerPublicKey(header), signingInput, signed);
            signature = 'consistent-with-archive-key';
          }
        },
      },
      {
        async write(name, bytes) {
          if (name === 'state.db') {
            stateFile ??= await createPrivateFile(staging, ENTRY_FILES['state.db'].path, ENTRY_FILES['state.db'].mode);
            await stateFile.write(bytes);
          } else {
            (small[name] ??= []).push(bytes);
          }
        },
        async end(name) {
          if (name === 'state.db' && stateFile !== undefined) {
            await stateFile.sync();
            await stateFile.close();
            stateFile = undefined;
          }
        },
      },
    );
    const header = opened.header;
    const entry = (name: EntryName): Buffer => Buffer.concat(small[name] ?? []);

    // The state: sound, of a schema this build reads, and the one the header describes.
    const schema = checkStateFile(stagingPaths.state);
    if (schema !== header.schemaVersion) throw new BackupArchiveInvalid(`its state store is schema ${schema}, its header says ${header.schemaVersion}`);
    if (schema > LATEST_SCHEMA_VERSION) throw new BackupArchiveInvalid(`its state store is schema ${schema}; this fleet-controller reads up to ${LATEST_SCHEMA_VERSION}: restore with a newer one`);
    repository = await openSqliteRepository({ path: stagingPaths.state, clock });
    const keys = await loadControllerKeys(repository);
    // Precondition: the archive was signed by the audit key of the very state it carries.
    if (keys.auditKeyId !== header.signer.keyId) throw new BackupSignatureInvalid('it was signed by a key that is not the audit key of the state it carries');
    await checkStateMatchesHeader(repository, header);

    await writePrivateFile(staging, ENTRY_FILES['controller.json'].path, entry('controller.json'), ENTRY_FILES['controller.json'].mode);
    const archived = readControllerSettings(stagingPaths);
    await writePrivateFile(staging, ENTRY_FILES['ca.pem'].path, entry('ca.pem'), ENTRY_FILES['ca.pem'].mode);
    await writePrivateFile(staging, ENTRY_FILES['tls/server.pem'].path, entry('tls/server.pem'), ENTRY_FILES['tls/server.pem'].mode);
    const certificatePem = entry('tls/server.pem').toString('utf8');
    const provider = kms!;

    let serverKey: Uint8Array = entry('tls/server-key.env');
    let limitations: string[] = [];
    if (options.kmsFrom === 'primary') {
      const tls = await openServerTls(provider, serverKey, certificatePem);
      tls.privateKeyPem.fill(0);
      await repository.audit.append({ actor: 'system', action: 'backup.restore', result: 'ok', details: { backup: header.backupId, kms: 'primary' } });
      await signHead(repository, await kmsSigner(provider, keys.auditKeyId), clock());
    } else {
      const section = decodeSecondarySection(entry('secondary.json'));
      if (section.provider !== provider.name || section.keyId !== header.secondary!.keyId) throw new BackupArchiveInvalid('its secondary section names another key than its header');
      await checkSecondaryCoverage(repository, provider, section);
      await repository.close();
      repository = undefined;
      replaceEpochWrappings(stagingPaths.state, section.epochs.map((epoch) => ({ fleetId: epoch.fleet, groupId: epoch.group, version: epoch.version, wrappedKey: epoch.wrappedKey })));
      repository = await openSqliteRepository({ path: stagingPaths.state, clock });
      const tls = await openServerTls(provider, section.serverKey, certificatePem);
      tls.privateKeyPem.fill(0);
      serverKey = section.serverKey;

      const auditKey = await provider.createKey({ spec: 'ECDSA_P256', tags: { 'fleetkey-kind': 'controller' }, description: 'fleetkey audit head signing key (restored from a backup)' });
      await repository.transaction(async (tx) => {
        await saveControllerKeys(tx, { ...keys, kmsProvider: provider.name, kekId: section.keyId, auditKeyId: auditKey.keyId });
        await tx.audit.append({ actor: 'system', action: 'key.create', keyRef: `audit:${auditKey.keyId}`, result: 'ok', details: { kind: 'audit', spec: auditKey.spec } });
        await tx.audit.append({ actor: 'system', action: 'backup.restore', result: 'ok', details: { backup: header.backupId, kms: 'secondary' } });
      });
      await signHead(repository, await kmsSigner(provider, auditKey.keyId), clock());
      limitations = await secondaryLimitations(repository, provider.name, tls.notAfter);
    }
    await writePrivateFile(staging, ENTRY_FILES['tls/server-key.env'].path, serverKey, ENTRY_FILES['tls/server-key.env'].mode);

    const settings: ControllerSettings = { ...archived, kms: storedKmsConfig(kmsConfig!) };
    await rm(stagingPaths.settings);
    await writePrivateFile(staging, ENTRY_FILES['controller.json'].path, serializeControllerSettings(settings), ENTRY_FILES['controller.json'].mode);

    await repository.close();
    repository = undefined;
    await provider.close();
    kms = undefined;
    await fsyncDirectory(staging);
    // rename(2) replaces an empty directory atomically; anything else was refused above.
    await rmdir(paths.root).catch(() => undefined);
    await rename(staging, paths.root);
    await fsyncDirectory(dirname(paths.root));
    return {
      dataDir: paths.root,
      caFile: paths.caFile,
      backupId: header.backupId,
      createdAt: header.createdAt,
      fleets: header.fleets,
      kmsFrom: options.kmsFrom,
      kmsProvider: provider.name,
      signature,
      limitations,
    };
  } catch (error) {
    await (stateFile as FileHandle | undefined)?.close().catch(() => undefined);
    await repository?.close().catch(() => undefined);
    await (kms as KmsProvider | undefined)?.close().catch(() => undefined);
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/** The restored state is the one the (authenticated) header describes: its fleets and audit head. */
async function checkStateMatchesHeader(repository: Repository, header: BackupHeader): Promise<void> {
  const fleets = (await repository.listFleets()).map((fleet) => fleet.id).sort();
  const listed = [...header.fleets].sort();
  if (fleets.length !== listed.length || fleets.some((fleet, i) => fleet !== listed[i])) throw new BackupArchiveInvalid('its state store holds other fleets than its header lists');
  const head = await repository.audit.head();
  const matches =
    header.auditHead === null ? head === undefined : head !== undefined && head.sequence === header.auditHead.sequence && Buffer.from(head.hash).equals(Buffer.from(header.auditHead.hash));
  if (!matches) throw new BackupArchiveInvalid('its state store ends its audit log elsewhere than its header says');
}

/**
 * Every epoch the restored controller may serve has a secondary copy, and every copy unwraps
 * under the secondary with the epoch's own context (each key zeroized at once).
 * @throws BackupArchiveInvalid naming the first epoch without a usable copy.
 */
async function checkSecondaryCoverage(repository: Repository, kms: KmsProvider, section: SecondarySection): Promise<void> {
  const copies = new Map(section.epochs.map((epoch) => [`${epoch.fleet}\u0000${epoch.group ?? ''}\u0000${epoch.version}`, epoch]));
  for (const fleet of await repository.listFleets()) {
    for (const epoch of await repository.listEpochs(fleet.id, { states: [...SECONDARY_EPOCH_STATES] })) {
      const copy = copies.get(`${epoch.fleetId}\u0000${epoch.groupId ?? ''}\u0000${epoch.version}`);
      if (copy === undefined) throw new BackupArchiveInvalid(`its secondary section has no copy of epoch ${epoch.version} of ${epoch.fleetId}/${epoch.groupId ?? 'fleet'}`);
    }
  }
  for (const copy of section.epochs) {
    try {
      (await kms.unwrap({ envelope: copy.wrappedKey, context: epochWrapContext(copy.fleet, copy.group, copy.version) })).fill(0);
    } catch (error) {
      // An unreachable KMS stays what it is; a copy the KMS refuses to open is the archive's fault.
      if (!isFleetkeyError(error, 'INVALID_CIPHERTEXT') && !isFleetkeyError(error, 'DECRYPTION_FAILED')) throw error;
      throw new BackupArchiveInvalid(`the ${kms.name} KMS does not unwrap its copy of epoch ${copy.version} of ${copy.fleet}/${copy.group ?? 'fleet'}`);
    }
  }
}
