/**
 * What a device gets from the controller about keys: its key bundle (the fleet's signed epoch
 * manifests and every usable epoch key wrapped to the device's public key), the emergency key to
 * pin, and the fleet's CA chain. Shared by enrollment, renewal and GetKeyBundle.
 *
 * Trust boundary: epoch keys are read from the core's cache and never leave unwrapped.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import {
  EmergencyKeySchema,
  EpochManifestSchema,
  KeyRefSchema,
  MAX_SIGNED_PAYLOAD_BYTES,
  decodeMessage,
  buildKeyBundle,
  emergencyKeyId,
  keyAlgorithmToProto,
  type BundleEpochKey,
  type EmergencyKey,
  type KeyBundle,
  type SignedEpochManifest,
} from '@fleetkey/protocol';
import { issueDeviceCertificate, verifyCsr, type IssuedCertificate, type VerifiedCsr } from '@fleetkey/crypto';
import { KIND_POLICIES } from '@fleetkey/key-types';
import type { ControllerCore } from '../core/core.js';
import { CLOCK_SKEW_MS } from '../fleets/create-fleet.js';
import { loadEpochManifest } from '../fleets/settings.js';
import type { FleetKeyRecord } from '../fleets/fleet-keys.js';

const USABLE_STATES = ['pending', 'active', 'retiring'] as const;

const emergencyKeys = new WeakMap<FleetKeyRecord, EmergencyKey>();

/**
 * The emergency public key robots pin (SPKI DER, algorithm, `emergency/<fleet>/emergency@v`),
 * made once per fleet key record (the core caches records; a new emergency key is a new record).
 */
export async function emergencyKeyOf(core: ControllerCore, keys: FleetKeyRecord): Promise<EmergencyKey> {
  const cached = emergencyKeys.get(keys);
  if (cached !== undefined) return cached;
  const signer = await core.signer(keys.emergencyKeyId);
  const publicKey = await signer.publicKey();
  const emergencyKey = create(EmergencyKeySchema, {
    key: create(KeyRefSchema, { keyId: emergencyKeyId(keys.fleetId), version: keys.emergencyKeyVersion }),
    algorithm: keyAlgorithmToProto(keys.emergencyAlgorithm),
    publicKey: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
  });
  emergencyKeys.set(keys, emergencyKey);
  return emergencyKey;
}

/**
 * The device's bundle: fleet-wide epochs, plus its group's own series when that has epochs.
 * Its sequence is the sum of the sequences of the manifests it carries: every manifest change
 * raises one of them, so a device's bundle sequence only ever grows, with no per-device counter.
 */
export async function keyBundleFor(
  core: ControllerCore,
  device: { readonly fleetId: string; readonly groupId: string | null; readonly deviceId: string; readonly publicKey: KeyObject },
): Promise<KeyBundle> {
  const series: (string | null)[] = device.groupId === null ? [null] : [null, device.groupId];
  const manifests: SignedEpochManifest[] = [];
  const epochKeys: BundleEpochKey[] = [];
  let sequence = 0;
  for (const groupId of series) {
    const manifest = await loadEpochManifest(core.repository, device.fleetId, groupId);
    if (manifest === undefined) continue;
    const epochs = await core.repository.listEpochs(device.fleetId, { groupId, states: USABLE_STATES });
    manifests.push(manifest);
    sequence += Number(decodeMessage(EpochManifestSchema, manifest.payload, { maxBytes: MAX_SIGNED_PAYLOAD_BYTES }).sequence);
    for (const epoch of epochs) epochKeys.push({ group: groupId, version: epoch.version, key: await core.epochKey(epoch) });
  }
  return buildKeyBundle({
    fleet: device.fleetId,
    group: device.groupId,
    deviceId: device.deviceId,
    devicePublicKey: device.publicKey.type === 'private' ? createPublicKey(device.publicKey) : device.publicKey,
    manifests,
    epochKeys,
    sequence,
    issuedAt: core.clock(),
  });
}

export const DEFAULT_DEVICE_CERTIFICATE_VALIDITY_MS = 365 * 24 * 60 * 60 * 1000;

/** Verifies a device CSR: proof of possession, and a key algorithm the device-identity policy allows. */
export function verifyDeviceCsr(csr: Uint8Array): VerifiedCsr {
  return verifyCsr(csr, { allowedKeyAlgorithms: KIND_POLICIES['device-identity'].allowedAlgorithms });
}

/** A device certificate signed by the fleet CA key in the KMS, back-dated for clock skew. */
export async function issueFleetDeviceCertificate(
  core: ControllerCore,
  keys: FleetKeyRecord,
  device: { readonly deviceId: string; readonly publicKey: KeyObject },
  validityMs: number = DEFAULT_DEVICE_CERTIFICATE_VALIDITY_MS,
): Promise<IssuedCertificate> {
  const now = core.clock();
  return issueDeviceCertificate({
    issuerSigner: await core.signer(keys.caKeyId),
    issuerCertificate: keys.caCertificateDer,
    publicKey: device.publicKey,
    fleet: keys.fleetId,
    deviceId: device.deviceId,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + validityMs),
  });
}
