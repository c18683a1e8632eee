/**
 * The controller's data directory: where `init` puts things and `serve` finds them.
 *
 *   DIR/controller.json     settings: KMS provider config (no secrets), TLS names
 *   DIR/state.db            the state store (SQLite, WAL)
 *   DIR/ca.pem              the controller TLS CA certificate: what clients pass as --ca-file
 *   DIR/tls/server.pem      the TLS server certificate chain (gRPC and MQTT)
 *   DIR/tls/server-key.env  the TLS server private key, sealed by the controller KEK in the KMS
 *   DIR/kms/                the local KMS provider's key file and passphrase (local provider only)
 *
 * Paths inside controller.json are relative to DIR, so a data directory can be moved or restored
 * elsewhere. Trust boundary: controller.json is read strictly; it never holds a secret (a Vault
 * token comes from VAULT_TOKEN at start, a passphrase from its file).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { InvalidArgument } from '@fleetkey/key-types';
import { z } from 'zod';

export const CONTROLLER_FILE = 'controller.json';
export const STATE_FILE = 'state.db';
export const CA_FILE = 'ca.pem';
export const SERVER_CERTIFICATE_FILE = join('tls', 'server.pem');
export const SERVER_KEY_FILE = join('tls', 'server-key.env');
export const LOCAL_KMS_DIR = 'kms';
export const LOCAL_KMS_KEY_FILE = join(LOCAL_KMS_DIR, 'keys.fkl');
export const LOCAL_KMS_PASSPHRASE_FILE = join(LOCAL_KMS_DIR, 'passphrase');
const MAX_CONTROLLER_FILE_BYTES = 64 * 1024;

const settingsSchema = z.strictObject({
  formatVersion: z.literal(1),
  createdAt: z.string().max(64),
  defaultFleet: z.string().max(64),
  /** Validated again by the KMS registry when the provider is made. */
  kms: z.record(z.string(), z.unknown()),
  tls: z.strictObject({
    dnsNames: z.array(z.string().min(1).max(253)).max(32),
    ipAddresses: z.array(z.string().min(2).max(45)).max(32),
  }),
});

export type ControllerSettings = z.output<typeof settingsSchema>;

export interface DataDirPaths {
  readonly root: string;
  readonly settings: string;
  readonly state: string;
  readonly caFile: string;
  readonly serverCertificate: string;
  readonly serverKey: string;
}

export function dataDirPaths(dataDir: string): DataDirPaths {
  const root = resolve(dataDir);
  return {
    root,
    settings: join(root, CONTROLLER_FILE),
    state: join(root, STATE_FILE),
    caFile: join(root, CA_FILE),
    serverCertificate: join(root, SERVER_CERTIFICATE_FILE),
    serverKey: join(root, SERVER_KEY_FILE),
  };
}

/** Resolves a path stored relative to the data directory (absolute paths stay as they are). */
export function inDataDir(paths: DataDirPaths, stored: string): string {
  return isAbsolute(stored) ? stored : join(paths.root, stored);
}

/** @throws InvalidArgument when the file is missing, too large or malformed. */
export function readControllerSettings(paths: DataDirPaths): ControllerSettings {
  let text: string;
  try {
    const bytes = readFileSync(paths.settings);
    if (bytes.length > MAX_CONTROLLER_FILE_BYTES) throw new InvalidArgument(`${paths.settings} is larger than ${MAX_CONTROLLER_FILE_BYTES} bytes`);
    text = bytes.toString('utf8');
  } catch (error) {
    if (error instanceof InvalidArgument) throw error;
    throw new InvalidArgument(`${paths.root} is not a fleet-controller data directory (no ${CONTROLLER_FILE}); run \`fleet-controller init --data-dir ${paths.root}\` first`);
  }
  try {
    return settingsSchema.parse(JSON.parse(text));
  } catch {
    throw new InvalidArgument(`${paths.settings} is malformed`);
  }
}

export function serializeControllerSettings(settings: ControllerSettings): string {
  return `${JSON.stringify(settingsSchema.parse(settings), null, 2)}\n`;
}
