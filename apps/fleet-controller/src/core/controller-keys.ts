/**
 * The controller's own keys (not any fleet's): the master key (KEK) that wraps the controller's
 * secrets at rest (the TLS server key), the TLS CA that issues the controller's and broker's
 * server certificates, and the key that signs audit-chain heads. Kept in the store's settings
 * (`controller-keys`) as strict JSON, so they travel with the state.
 *
 * Why a TLS CA apart from the fleet CAs: a server certificate must never be able to pose as a
 * device, and one controller serves many fleets.
 *
 * Trust boundary: key ids and a public certificate only; what is read back is validated.
 */
import { InvalidArgument } from '@fleetkey/key-types';
import { z } from 'zod';
import type { RepositoryTx } from '../store/index.js';
import { base64DerSchema, kmsKeyIdSchema, parseStoredJson } from './stored-json.js';

export interface ControllerKeyRecord {
  readonly kmsProvider: string;
  readonly kekId: string;
  readonly tlsCaKeyId: string;
  /** The controller TLS CA certificate, DER (what `DIR/ca.pem` holds). */
  readonly tlsCaCertificateDer: Uint8Array;
  readonly auditKeyId: string;
}

const SETTING_KEY = 'controller-keys';
const schema = z.strictObject({
  version: z.literal(1),
  kmsProvider: z.string().min(1).max(64),
  kekId: kmsKeyIdSchema,
  tlsCaKeyId: kmsKeyIdSchema,
  tlsCaCertificate: base64DerSchema,
  auditKeyId: kmsKeyIdSchema,
});

export async function saveControllerKeys(tx: RepositoryTx, record: ControllerKeyRecord): Promise<void> {
  const json = {
    version: 1,
    kmsProvider: record.kmsProvider,
    kekId: record.kekId,
    tlsCaKeyId: record.tlsCaKeyId,
    tlsCaCertificate: Buffer.from(record.tlsCaCertificateDer).toString('base64'),
    auditKeyId: record.auditKeyId,
  };
  schema.parse(json);
  await tx.setSetting(SETTING_KEY, JSON.stringify(json));
}

/** @throws InvalidArgument when the record is missing (not an initialised store) or malformed. */
export async function loadControllerKeys(tx: Pick<RepositoryTx, 'getSetting'>): Promise<ControllerKeyRecord> {
  const text = await tx.getSetting(SETTING_KEY);
  if (text === undefined) throw new InvalidArgument('the state store has no controller keys: was it made by `fleet-controller init`?');
  const parsed = parseStoredJson(text, schema, 'controller key record');
  return {
    kmsProvider: parsed.kmsProvider,
    kekId: parsed.kekId,
    tlsCaKeyId: parsed.tlsCaKeyId,
    tlsCaCertificateDer: new Uint8Array(Buffer.from(parsed.tlsCaCertificate, 'base64')),
    auditKeyId: parsed.auditKeyId,
  };
}
