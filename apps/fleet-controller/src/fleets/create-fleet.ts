/**
 * Making a fleet: its CA, emergency and master keys in the KMS, the self-signed fleet CA
 * certificate (signed by the KMS key), the first communication epoch (one KMS data key, stored
 * wrapped by the fleet KEK), the signed epoch manifest and an empty signed revocation list — then
 * the fleet and all of that in one store transaction with its audit records.
 *
 * Trust boundary: the epoch key's plaintext exists only between generateDataKey and the end of
 * this function (to compute its commitment) and is zeroized on every path. KMS keys made before a
 * failed store transaction stay in the KMS, tagged with the fleet, for an operator to remove.
 */
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createCaCertificate } from '@fleetkey/crypto';
import { InvalidArgument, KIND_POLICIES, assertIdentifier, type AsymmetricAlgorithm, type KeyAlgorithm } from '@fleetkey/key-types';
import { isKmsKeySpec, type KmsKeySpec } from '@fleetkey/kms-core';
import {
  RevocationListSchema,
  SignedRevocationListSchema,
  communicationKeyId,
  emergencyKeyId,
  issueEpochManifest,
  payloadSignerOf,
  signPayload,
} from '@fleetkey/protocol';
import { create } from '@bufbuild/protobuf';
import { epochWrapContext, type ControllerCore } from '../core/core.js';
import { RecordExists, type Fleet } from '../store/index.js';
import { saveFleetKeys, type FleetKeyRecord } from './fleet-keys.js';
import { saveEpochManifest, saveRevocationList } from './settings.js';

const MINUTE_MS = 60_000;
const YEAR_MS = 365 * 24 * 60 * MINUTE_MS;
/** Fleet CAs are long-lived (DESIGN.md: manual rotation, years). */
export const FLEET_CA_VALIDITY_MS = 10 * YEAR_MS;
/** Back-dating of certificates against robots whose clocks run a little behind. */
export const CLOCK_SKEW_MS = 5 * MINUTE_MS;

export interface CreateFleetInput {
  readonly fleetId: string;
  readonly displayName?: string;
  readonly caAlgorithm?: KeyAlgorithm;
  readonly emergencyAlgorithm?: KeyAlgorithm;
}

function kmsSpecOf(kind: 'fleet-ca' | 'emergency', algorithm: KeyAlgorithm | undefined, supported: readonly KmsKeySpec[]): KmsKeySpec & AsymmetricAlgorithm {
  const policy = KIND_POLICIES[kind];
  const chosen = algorithm ?? policy.defaultAlgorithm;
  if (!policy.allowedAlgorithms.includes(chosen)) {
    throw new InvalidArgument(`${chosen} is not allowed for the ${kind} key (allowed: ${policy.allowedAlgorithms.join(', ')})`);
  }
  if (!isKmsKeySpec(chosen) || !supported.includes(chosen)) throw new InvalidArgument(`the KMS provider cannot make ${chosen} keys`);
  return chosen as KmsKeySpec & AsymmetricAlgorithm;
}

/**
 * Creates the fleet. `actor` is who asked (an operator id, or 'system' at init).
 * @throws RecordExists when the fleet exists; InvalidArgument for a refused algorithm; InvalidIdentifier; KMS errors.
 */
export async function createFleetWithKeys(core: ControllerCore, input: CreateFleetInput, actor: string): Promise<Fleet> {
  const fleetId = assertIdentifier('fleet', input.fleetId);
  const displayName = input.displayName === undefined || input.displayName === '' ? fleetId : input.displayName;
  const caSpec = kmsSpecOf('fleet-ca', input.caAlgorithm, core.kms.supportedKeySpecs);
  const emergencySpec = kmsSpecOf('emergency', input.emergencyAlgorithm, core.kms.supportedKeySpecs);
  // Checked before any KMS key is made, so the common mistake leaves no orphan keys.
  if ((await core.repository.getFleet(fleetId)) !== undefined) throw new RecordExists(`fleet ${fleetId} already exists`);

  const now = core.clock();
  const tags = { 'fleetkey-fleet': fleetId };
  const caKey = await core.kms.createKey({ spec: caSpec, tags: { ...tags, 'fleetkey-kind': 'fleet-ca' }, description: `fleetkey fleet CA of ${fleetId}` });
  const emergencyKey = await core.kms.createKey({ spec: emergencySpec, tags: { ...tags, 'fleetkey-kind': 'emergency' }, description: `fleetkey emergency key of ${fleetId}` });
  const kek = await core.kms.createKey({ spec: 'AES_256', tags: { ...tags, 'fleetkey-kind': 'fleet-master' }, description: `fleetkey master key of ${fleetId}` });

  const caSigner = await core.signer(caKey.keyId);
  const caCertificate = await createCaCertificate({
    signer: caSigner,
    fleet: fleetId,
    commonName: `${fleetId} fleet CA`,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + FLEET_CA_VALIDITY_MS),
  });
  const emergencySigner = await core.signer(emergencyKey.keyId);
  const emergencyVersion = Math.max(1, emergencySigner.keyVersion);
  const sign = payloadSignerOf(emergencySigner, { keyId: emergencyKeyId(fleetId), version: emergencyVersion });

  const policy = KIND_POLICIES.communication.rotation;
  const lifetime = policy.mode === 'interval' ? policy.intervalMs + policy.graceMs : 2 * 24 * 60 * MINUTE_MS;
  const epoch = { version: 1, state: 'active' as const, notBefore: now, notAfter: now + lifetime };
  const dataKey = await core.kms.generateDataKey({ keyId: kek.keyId, context: epochWrapContext(fleetId, null, epoch.version) });
  try {
    const manifest = await issueEpochManifest({ fleet: fleetId, group: null, sequence: 1, issuedAt: now, epochs: [{ ...epoch, key: dataKey.plaintext }], sign });
    const revocationList = create(
      SignedRevocationListSchema,
      await signPayload(RevocationListSchema, { fleet: fleetId, sequence: 1n, issuedAt: timestampFromMs(now), revoked: [] }, sign),
    );
    const record: FleetKeyRecord = {
      fleetId,
      kmsProvider: core.kms.name,
      caKeyId: caKey.keyId,
      caAlgorithm: caSpec,
      caCertificateDer: caCertificate.der,
      emergencyKeyId: emergencyKey.keyId,
      emergencyAlgorithm: emergencySpec,
      emergencyKeyVersion: emergencyVersion,
      kekId: kek.keyId,
    };
    return await core.repository.transaction(async (tx) => {
      const fleet = await tx.createFleet({ id: fleetId, name: displayName });
      await saveFleetKeys(tx, record);
      await tx.createEpoch({ fleetId, groupId: null, ...epoch, wrappedKey: dataKey.wrapped });
      await saveEpochManifest(tx, fleetId, null, manifest);
      await saveRevocationList(tx, fleetId, revocationList);
      await tx.audit.append({ actor, action: 'fleet.create', fleetId, result: 'ok', details: { kmsProvider: core.kms.name } });
      for (const [kind, key] of [
        ['fleet-ca', caKey],
        ['emergency', emergencyKey],
        ['fleet-master', kek],
      ] as const) {
        await tx.audit.append({ actor, action: 'key.create', fleetId, keyRef: `${kind}:${key.keyId}`, result: 'ok', details: { kind, spec: key.spec } });
      }
      await tx.audit.append({ actor, action: 'epoch.create', fleetId, keyRef: `${communicationKeyId(fleetId, null)}@1`, result: 'ok', details: { state: 'active' } });
      return fleet;
    });
  } finally {
    dataKey.plaintext.fill(0);
  }
}
