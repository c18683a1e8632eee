/**
 * The per-fleet key record: which KMS keys hold a fleet's CA, emergency and master (KEK) keys, and
 * the CA certificate. Kept in the store's settings under `fleet-keys/<fleet>` as strict JSON, so
 * it travels with every backup of the state and a PostgreSQL store needs no extra table.
 *
 * Trust boundary: only key ids, algorithms and the public CA certificate — never key material.
 * What is read back is validated field by field (someone may have edited the database).
 */
import { assertIdentifier, type KeyAlgorithm } from '@fleetkey/key-types';
import { z } from 'zod';
import type { RepositoryTx } from '../store/index.js';
import { base64DerSchema, kmsKeyIdSchema, parseStoredJson } from '../core/stored-json.js';

export interface FleetKeyRecord {
  readonly fleetId: string;
  /** The KMS provider name the keys live in ('local', 'aws', …). */
  readonly kmsProvider: string;
  readonly caKeyId: string;
  readonly caAlgorithm: KeyAlgorithm;
  /** The fleet CA certificate, DER. */
  readonly caCertificateDer: Uint8Array;
  readonly emergencyKeyId: string;
  readonly emergencyAlgorithm: KeyAlgorithm;
  /** The KMS version of the emergency key that signs (pinned by robots as `emergency/<fleet>/emergency@v`). */
  readonly emergencyKeyVersion: number;
  /** The fleet master key (AES-256) that wraps everything the store holds for this fleet. */
  readonly kekId: string;
}

const SETTING_PREFIX = 'fleet-keys/';
const algorithm = z.enum(['RSA_2048', 'RSA_3072', 'RSA_4096', 'ECDSA_P256', 'ECDSA_P384', 'ECDSA_P521', 'ED25519']);

const recordSchema = z.strictObject({
  version: z.literal(1),
  kmsProvider: z.string().min(1).max(64),
  caKeyId: kmsKeyIdSchema,
  caAlgorithm: algorithm,
  caCertificate: base64DerSchema,
  emergencyKeyId: kmsKeyIdSchema,
  emergencyAlgorithm: algorithm,
  emergencyKeyVersion: z.number().int().min(1).max(2 ** 31 - 1),
  kekId: kmsKeyIdSchema,
});

function settingKey(fleetId: string): string {
  return SETTING_PREFIX + assertIdentifier('fleet', fleetId);
}

/** Stores the record (inside the transaction that creates the fleet). */
export async function saveFleetKeys(tx: RepositoryTx, record: FleetKeyRecord): Promise<void> {
  const json = {
    version: 1,
    kmsProvider: record.kmsProvider,
    caKeyId: record.caKeyId,
    caAlgorithm: record.caAlgorithm,
    caCertificate: Buffer.from(record.caCertificateDer).toString('base64'),
    emergencyKeyId: record.emergencyKeyId,
    emergencyAlgorithm: record.emergencyAlgorithm,
    emergencyKeyVersion: record.emergencyKeyVersion,
    kekId: record.kekId,
  };
  recordSchema.parse(json);
  await tx.setSetting(settingKey(record.fleetId), JSON.stringify(json));
}

/**
 * The fleet's key record, undefined when the fleet has none.
 * @throws InvalidArgument when the stored record is malformed (an edited database).
 */
export async function loadFleetKeys(tx: Pick<RepositoryTx, 'getSetting'>, fleetId: string): Promise<FleetKeyRecord | undefined> {
  const text = await tx.getSetting(settingKey(fleetId));
  if (text === undefined) return undefined;
  const parsed = parseStoredJson(text, recordSchema, `key record of fleet ${fleetId}`);
  return {
    fleetId,
    kmsProvider: parsed.kmsProvider,
    caKeyId: parsed.caKeyId,
    caAlgorithm: parsed.caAlgorithm,
    caCertificateDer: new Uint8Array(Buffer.from(parsed.caCertificate, 'base64')),
    emergencyKeyId: parsed.emergencyKeyId,
    emergencyAlgorithm: parsed.emergencyAlgorithm,
    emergencyKeyVersion: parsed.emergencyKeyVersion,
    kekId: parsed.kekId,
  };
}
