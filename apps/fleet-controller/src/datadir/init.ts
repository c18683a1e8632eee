/**
 * `fleet-controller init`: builds a complete data directory — KMS keys (controller KEK, TLS CA,
 * audit key; the first fleet's CA, emergency key and KEK), the state store, the first
 * communication epoch, the TLS server identity, `ca.pem`, and one admin operator — in a staging
 * directory next to the target, then renames it into place. So `init` either leaves a working
 * data directory or nothing at all, and never touches an existing one.
 *
 * Trust boundary: the admin token is returned once to the caller and stored only as its hash.
 * KMS keys made before a failure stay in the KMS (tagged); the local provider's keys vanish with
 * the staging directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createCaCertificate } from '@fleetkey/crypto';
import { FleetkeyError, assertIdentifier } from '@fleetkey/key-types';
import { kmsConfigFromEnv, type KmsEnvironment, type KmsProviderName } from '@fleetkey/kms-core';
import { createKmsProviderStack } from '@fleetkey/kms-providers';
import { signHead } from '../audit/index.js';
import { ControllerCore } from '../core/core.js';
import { saveControllerKeys, type ControllerKeyRecord } from '../core/controller-keys.js';
import { derToPem, issueServerTls } from '../core/server-tls.js';
import { CLOCK_SKEW_MS, FLEET_CA_VALIDITY_MS, createFleetWithKeys } from '../fleets/create-fleet.js';
import { generateToken, hashToken, openSqliteRepository, type Repository } from '../store/index.js';
import {
  CA_FILE,
  CONTROLLER_FILE,
  LOCAL_KMS_DIR,
  LOCAL_KMS_KEY_FILE,
  LOCAL_KMS_PASSPHRASE_FILE,
  SERVER_CERTIFICATE_FILE,
  SERVER_KEY_FILE,
  STATE_FILE,
  dataDirPaths,
  serializeControllerSettings,
  type ControllerSettings,
} from './layout.js';

/** The organisation name of the controller TLS CA (it is not a fleet). */
export const CONTROLLER_TLS_CA_NAME = 'fleetkey-controller';
export const DEFAULT_DNS_NAMES: readonly string[] = Object.freeze(['localhost']);
export const DEFAULT_IP_ADDRESSES: readonly string[] = Object.freeze(['127.0.0.1', '::1']);

/** `init` found something at the target path. */
export class DataDirExists extends FleetkeyError {
  readonly code = 'STORE_EXISTS' as const;
}

export interface InitControllerOptions {
  readonly dataDir: string;
  readonly kms: KmsProviderName;
  readonly fleet: string;
  readonly fleetDisplayName?: string;
  /** For the chosen provider's settings (FLEETKEY_KMS_*, AWS_*, VAULT_ADDR, …); never read implicitly. */
  readonly env: KmsEnvironment;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly clock?: () => number;
}

export interface InitControllerResult {
  readonly dataDir: string;
  readonly fleet: string;
  /** Shown once; only its hash is stored. */
  readonly adminToken: string;
  readonly caFile: string;
}

async function refuseExisting(root: string): Promise<void> {
  try {
    const info = await stat(root);
    if (!info.isDirectory() || (await readdir(root)).length > 0) {
      throw new DataDirExists(`${root} already exists and is not an empty directory; init never overwrites a data directory`);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
}

async function writePrivateFile(path: string, contents: string | Uint8Array, mode = 0o600): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const handle = await open(path, 'wx', mode);
  try {
    await handle.writeFile(contents);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The KMS config to store (relative local paths, no secrets) and the one to open now. */
async function kmsConfigs(options: InitControllerOptions, staging: string): Promise<{ stored: Record<string, unknown>; now: Record<string, unknown> }> {
  if (options.kms === 'local' && options.env['FLEETKEY_LOCAL_KMS_PATH'] === undefined) {
    await mkdir(join(staging, LOCAL_KMS_DIR), { mode: 0o700 });
    await writePrivateFile(join(staging, LOCAL_KMS_PASSPHRASE_FILE), `${randomBytes(32).toString('base64url')}\n`);
    const local = { path: LOCAL_KMS_KEY_FILE, passphraseFile: LOCAL_KMS_PASSPHRASE_FILE };
    return {
      stored: { provider: 'local', local },
      now: { provider: 'local', local: { path: join(staging, local.path), passphraseFile: join(staging, local.passphraseFile) } },
    };
  }
  const config = kmsConfigFromEnv({ ...options.env, FLEETKEY_KMS_PROVIDER: options.kms }) as Record<string, unknown>;
  // A Vault token is a secret: it comes from VAULT_TOKEN (or vault.tokenFile) at every start.
  const vault = config['vault'] as Record<string, unknown> | undefined;
  const stored = vault === undefined ? { ...config } : { ...config, vault: Object.fromEntries(Object.entries(vault).filter(([key]) => key !== 'token')) };
  return { stored, now: config };
}

/**
 * Creates the data directory.
 * @throws DataDirExists when the target exists and is not empty; InvalidIdentifier for a bad fleet;
 *   InvalidKmsConfig and other KMS errors; nothing is left at the target on any failure.
 */
export async function initController(options: InitControllerOptions): Promise<InitControllerResult> {
  const fleet = assertIdentifier('fleet', options.fleet);
  const clock = options.clock ?? Date.now;
  const paths = dataDirPaths(options.dataDir);
  await refuseExisting(paths.root);
  await mkdir(dirname(paths.root), { recursive: true });
  const staging = join(dirname(paths.root), `.${basename(paths.root)}.init-${randomBytes(6).toString('hex')}`);
  await mkdir(staging, { mode: 0o700 });

  let repository: Repository | undefined;
  let core: ControllerCore | undefined;
  let closeKms: (() => Promise<void>) | undefined;
  try {
    const configs = await kmsConfigs(options, staging);
    const stack = await createKmsProviderStack(configs.now, { env: options.env, source: 'env' });
    const kms = stack.provider;
    closeKms = () => kms.close();
    const store = await openSqliteRepository({ path: join(staging, STATE_FILE), clock });
    repository = store;
    const now = clock();

    const tags = { 'fleetkey-kind': 'controller' };
    const kek = await kms.createKey({ spec: 'AES_256', tags, description: 'fleetkey controller master key' });
    const tlsCa = await kms.createKey({ spec: 'ECDSA_P256', tags, description: 'fleetkey controller TLS CA' });
    const audit = await kms.createKey({ spec: 'ECDSA_P256', tags, description: 'fleetkey audit head signing key' });
    const placeholder: ControllerKeyRecord = { kmsProvider: kms.name, kekId: kek.keyId, tlsCaKeyId: tlsCa.keyId, tlsCaCertificateDer: new Uint8Array(0), auditKeyId: audit.keyId };
    core = new ControllerCore({ repository: store, kms, clock, controllerKeys: placeholder });
    const tlsCaSigner = await core.signer(tlsCa.keyId);
    const tlsCaCertificate = await createCaCertificate({
      signer: tlsCaSigner,
      fleet: CONTROLLER_TLS_CA_NAME,
      commonName: 'fleetkey controller TLS CA',
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + FLEET_CA_VALIDITY_MS),
    });
    const controllerKeys: ControllerKeyRecord = { ...placeholder, tlsCaCertificateDer: tlsCaCertificate.der };
    await store.transaction(async (tx) => {
      await saveControllerKeys(tx, controllerKeys);
      await tx.audit.append({ actor: 'system', action: 'controller.init', result: 'ok', details: { kmsProvider: kms.name, fleet } });
      for (const [kind, key] of [
        ['controller-master', kek],
        ['controller-tls-ca', tlsCa],
        ['audit', audit],
      ] as const) {
        await tx.audit.append({ actor: 'system', action: 'key.create', keyRef: `${kind}:${key.keyId}`, result: 'ok', details: { kind, spec: key.spec } });
      }
    });

    await createFleetWithKeys(core, { fleetId: fleet, ...(options.fleetDisplayName === undefined ? {} : { displayName: options.fleetDisplayName }) }, 'system');

    const adminToken = generateToken('operator');
    await store.transaction(async (tx) => {
      const admin = await tx.createOperator({ name: 'admin', role: 'admin', fleetScope: { kind: 'all' }, tokenHash: hashToken(adminToken) });
      await tx.audit.append({ actor: 'system', action: 'operator.create', result: 'ok', details: { operator: admin.id, role: 'admin', fleets: 'all' } });
    });

    const dnsNames = options.dnsNames ?? DEFAULT_DNS_NAMES;
    const ipAddresses = options.ipAddresses ?? DEFAULT_IP_ADDRESSES;
    const tls = await issueServerTls({ kms, kekId: kek.keyId, tlsCaSigner, tlsCaCertificateDer: tlsCaCertificate.der, dnsNames, ipAddresses, now });
    await writePrivateFile(join(staging, SERVER_CERTIFICATE_FILE), tls.certificateChainPem, 0o644);
    await writePrivateFile(join(staging, SERVER_KEY_FILE), tls.sealedKey);
    await writePrivateFile(join(staging, CA_FILE), derToPem(tlsCaCertificate.der), 0o644);
    await signHead(store, await core.signer(audit.keyId), clock());

    const settings: ControllerSettings = {
      formatVersion: 1,
      createdAt: new Date(now).toISOString(),
      defaultFleet: fleet,
      kms: configs.stored,
      tls: { dnsNames: [...dnsNames], ipAddresses: [...ipAddresses] },
    };
    await writePrivateFile(join(staging, CONTROLLER_FILE), serializeControllerSettings(settings));

    core.close();
    core = undefined;
    repository = undefined;
    await store.close();
    await closeKms();
    closeKms = undefined;
    await fsyncDir(staging);

    // rename(2) replaces an empty directory atomically; anything else was refused above.
    await rmdir(paths.root).catch(() => undefined);
    await rename(staging, paths.root);
    await fsyncDir(dirname(paths.root));
    return { dataDir: paths.root, fleet, adminToken, caFile: paths.caFile };
  } catch (error) {
    core?.close();
    await repository?.close().catch(() => undefined);
    await closeKms?.().catch(() => undefined);
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}
