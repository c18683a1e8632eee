/**
 * Key bundles, the controller's half: the names and wrapping context both ends must agree on, the
 * signed epoch manifest, and the per-device bundle (DESIGN.md, two-phase rotation; messages.proto
 * KeyBundle / EpochManifest). One KMS signature per manifest change; per-device work is local
 * public-key wrapping only.
 *
 * Trust boundary: epoch keys pass through here in plaintext (the caller owns and zeroizes them);
 * what leaves is wrapped to one device's public key, bound by the envelope context to that device
 * and the purpose "key-bundle". The robot trusts a key only when the manifest signed by the pinned
 * emergency key commits to it (`keyCommitment`).
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { keyCommitment, wrapToPublicKey, type Signer } from '@fleetkey/crypto';
import { assertIdentifier, formatKeyId, keyId, type KeyState } from '@fleetkey/key-types';
import type { KeyObject } from 'node:crypto';
import { KeyRefSchema, type KeyRef } from './gen/fleetkey/v1/common_pb.js';
import {
  EpochManifestSchema,
  KeyBundleSchema,
  SignedEpochManifestSchema,
  type KeyBundle,
  type SignedEpochManifest,
} from './gen/fleetkey/v1/messages_pb.js';
import { keyStateToProto, signatureAlgorithmToProto } from './enums.js';
import { signPayload, type PayloadSigner } from './signed.js';

/** The key name of a fleet's fleet-wide communication key; a group may not be called this. */
export const FLEET_WIDE_KEY_NAME = 'fleet';
/** The key name of the emergency key in `emergency/<fleet>/<name>` key refs. */
export const EMERGENCY_KEY_NAME = 'emergency';
/** The envelope provider field of keys wrapped to devices (the controller, not a KMS, wrapped them). */
export const DEVICE_WRAP_PROVIDER = 'fleetkey';
/** The envelope context purpose of a wrapped epoch key. */
export const KEY_BUNDLE_PURPOSE = 'key-bundle';
/** Most epochs of one key a manifest lists (messages.proto). */
export const MAX_MANIFEST_EPOCHS = 16;

/** `communication/<fleet>/fleet`, or `communication/<fleet>/<group>` for a group's own series. */
export function communicationKeyId(fleet: string, group: string | null): string {
  if (group !== null && group === FLEET_WIDE_KEY_NAME) throw new RangeError(`"${FLEET_WIDE_KEY_NAME}" is reserved and cannot name a group`);
  return formatKeyId(keyId('communication', fleet, group ?? FLEET_WIDE_KEY_NAME));
}

/** `emergency/<fleet>/emergency`: the key id robots pin with its version. */
export function emergencyKeyId(fleet: string): string {
  return formatKeyId(keyId('emergency', fleet, EMERGENCY_KEY_NAME));
}

/** The envelope context binding a wrapped epoch key to its recipient. */
export function keyBundleWrapContext(deviceId: string): Readonly<Record<string, string>> {
  return Object.freeze({ device: assertIdentifier('device', deviceId), purpose: KEY_BUNDLE_PURPOSE });
}

/** A payload signer backed by a Signer (a KMS key), naming `keyRef` as the signing key. */
export function payloadSignerOf(signer: Signer, keyRef: MessageInitShape<typeof KeyRefSchema>): PayloadSigner {
  return async (input) => ({
    signature: await signer.sign(input),
    signatureAlgorithm: signatureAlgorithmToProto(signer.algorithm),
    signingKey: keyRef,
  });
}

/** One epoch as the manifest describes it, with the plaintext key that the commitment binds. */
export interface ManifestEpoch {
  readonly version: number;
  readonly state: KeyState;
  readonly notBefore: number;
  readonly notAfter: number;
  /** 32 bytes; read only (the caller owns and zeroizes it). */
  readonly key: Uint8Array;
}

export interface IssueEpochManifestParams {
  readonly fleet: string;
  readonly group: string | null;
  /** Monotonic per key id. */
  readonly sequence: number;
  readonly issuedAt: number;
  readonly epochs: readonly ManifestEpoch[];
  readonly sign: PayloadSigner;
}

/**
 * Signs the manifest of one communication key (one signature, whatever the fleet size).
 * @throws RangeError for no epochs, too many, or a bad sequence; whatever the signer throws.
 */
export async function issueEpochManifest(params: IssueEpochManifestParams): Promise<SignedEpochManifest> {
  if (params.epochs.length === 0 || params.epochs.length > MAX_MANIFEST_EPOCHS) {
    throw new RangeError(`a manifest lists 1..${MAX_MANIFEST_EPOCHS} epochs, got ${params.epochs.length}`);
  }
  if (!Number.isSafeInteger(params.sequence) || params.sequence < 1) throw new RangeError('"sequence" expected a positive integer');
  const id = communicationKeyId(params.fleet, params.group);
  const signed = await signPayload(
    EpochManifestSchema,
    {
      fleet: params.fleet,
      keyId: id,
      sequence: BigInt(params.sequence),
      issuedAt: timestampFromMs(params.issuedAt),
      epochs: params.epochs.map((epoch) => ({
        version: epoch.version,
        state: keyStateToProto(epoch.state),
        notBefore: timestampFromMs(epoch.notBefore),
        notAfter: timestampFromMs(epoch.notAfter),
        keyCommitment: keyCommitment(epoch.key, id, epoch.version),
      })),
    },
    params.sign,
  );
  return create(SignedEpochManifestSchema, signed);
}

/** One epoch key to wrap into a device's bundle. */
export interface BundleEpochKey {
  readonly group: string | null;
  readonly version: number;
  /** 32 bytes; read only. */
  readonly key: Uint8Array;
}

export interface BuildKeyBundleParams {
  readonly fleet: string;
  readonly group: string | null;
  readonly deviceId: string;
  /** The device identity public key (P-256: ECIES; RSA: RSA-OAEP). */
  readonly devicePublicKey: KeyObject;
  readonly manifests: readonly SignedEpochManifest[];
  readonly epochKeys: readonly BundleEpochKey[];
  /** Monotonic per device. */
  readonly sequence: number;
  readonly issuedAt: number;
}

/**
 * A device's bundle: the signed manifests as they are, and each epoch key wrapped to the device.
 * @throws UnsupportedAlgorithm for a device key that cannot receive wrapped keys; RangeError for bad params.
 */
export function buildKeyBundle(params: BuildKeyBundleParams): KeyBundle {
  if (!Number.isSafeInteger(params.sequence) || params.sequence < 1) throw new RangeError('"sequence" expected a positive integer');
  const context = keyBundleWrapContext(params.deviceId);
  const epochs = params.epochKeys.map((epoch) => {
    const id = communicationKeyId(params.fleet, epoch.group);
    const ref: KeyRef = create(KeyRefSchema, { keyId: id, version: epoch.version });
    return {
      key: ref,
      wrappedKey: wrapToPublicKey({
        recipient: params.devicePublicKey,
        provider: DEVICE_WRAP_PROVIDER,
        keyId: id,
        keyVersion: epoch.version,
        plaintext: epoch.key,
        context,
      }),
    };
  });
  return create(KeyBundleSchema, {
    fleet: params.fleet,
    group: params.group ?? '',
    deviceId: params.deviceId,
    manifests: [...params.manifests],
    epochs,
    issuedAt: timestampFromMs(params.issuedAt),
    sequence: BigInt(params.sequence),
  });
}
