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
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import { keyCommitment, keyCommitmentMatches, unwrapWithPrivateKey, verifySignature, wrapToPublicKey, type SignatureAlgorithm, type Signer } from '@fleetkey/crypto';
import { FleetkeyError, assertIdentifier, formatKeyId, keyId, type FleetkeyErrorOptions, type KeyState } from '@fleetkey/key-types';
import type { KeyObject } from 'node:crypto';
import { KeyRefSchema, type KeyRef } from './gen/fleetkey/v1/common_pb.js';
import {
  EpochManifestSchema,
  KeyBundleSchema,
  SignedEpochManifestSchema,
  type KeyBundle,
  type SignedEpochManifest,
} from './gen/fleetkey/v1/messages_pb.js';
import { keyStateFromProto, keyStateToProto, signatureAlgorithmToProto } from './enums.js';
import { signPayload, verifyPayload, type PayloadSigner } from './signed.js';

/** A key bundle the robot refuses (forged, replayed, misaddressed or not matching its commitments). */
export class BundleRejected extends FleetkeyError {
  readonly code = 'KEY_BUNDLE_REJECTED' as const;
  constructor(message: string, options: FleetkeyErrorOptions = {}) {
    super(`key bundle refused: ${message}`, options);
  }
}

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

/** An epoch a robot accepted from a bundle: its key (the caller owns and zeroizes it) and what the signed manifest says of it. */
export interface OpenedEpoch {
  readonly keyId: string;
  readonly group: string | null;
  readonly version: number;
  readonly state: KeyState;
  readonly notBefore: number;
  readonly notAfter: number;
  /** 32 bytes; the caller owns and zeroizes it. */
  readonly key: Uint8Array;
}

export interface OpenKeyBundleParams {
  readonly bundle: KeyBundle;
  readonly fleet: string;
  readonly deviceId: string;
  /** The robot's identity private key. */
  readonly privateKey: KeyObject;
  /** The emergency keys the robot pinned, by `keyId@version` (`emergency/<fleet>/emergency@1`). */
  readonly emergencyKeys: ReadonlyMap<string, { readonly publicKey: KeyObject; readonly algorithm: SignatureAlgorithm }>;
  /** Manifest sequences already applied, by key id: a manifest not newer is refused as a replay. */
  readonly appliedManifestSequences?: ReadonlyMap<string, number>;
}

export interface OpenedKeyBundle {
  readonly sequence: number;
  /** Each accepted manifest's key id and sequence (store them to refuse replays). */
  readonly manifests: readonly { readonly keyId: string; readonly sequence: number }[];
  readonly epochs: readonly OpenedEpoch[];
}

/**
 * The robot's side of a key bundle: verifies every manifest against a pinned emergency key (over
 * the payload bytes as received), refuses a manifest of another fleet or not newer than one
 * already applied, unwraps every epoch the manifests list with the identity key and the bundle's
 * context, and accepts a key only when its commitment matches. Nothing is returned unless the
 * whole bundle checks out.
 * @throws BundleRejected naming the first problem; the keys unwrapped so far are zeroized.
 */
export async function openKeyBundle(params: OpenKeyBundleParams): Promise<OpenedKeyBundle> {
  const { bundle } = params;
  if (bundle.fleet !== params.fleet || bundle.deviceId !== params.deviceId) throw new BundleRejected('the bundle is addressed to another robot');
  const opened: OpenedEpoch[] = [];
  try {
    const manifests: { keyId: string; sequence: number }[] = [];
    const described = new Map<string, { group: string | null; state: KeyState; notBefore: number; notAfter: number; commitment: Uint8Array }>();
    for (const signed of bundle.manifests) {
      const ref = signed.signingKey;
      const pinned = ref === undefined ? undefined : params.emergencyKeys.get(`${ref.keyId}@${ref.version}`);
      if (pinned === undefined) throw new BundleRejected('a manifest is signed by a key this robot did not pin');
      let manifest;
      try {
        manifest = await verifyPayload(EpochManifestSchema, signed, (input, payload) => {
          if (payload.signatureAlgorithm !== signatureAlgorithmToProto(pinned.algorithm) || !verifySignature(pinned.publicKey, pinned.algorithm, input, payload.signature)) {
            throw new BundleRejected('a manifest signature does not verify');
          }
        });
      } catch (error) {
        if (error instanceof BundleRejected) throw error;
        throw new BundleRejected('a manifest is malformed', { cause: error });
      }
      if (manifest.fleet !== params.fleet) throw new BundleRejected('a manifest belongs to another fleet');
      const sequence = Number(manifest.sequence);
      const applied = params.appliedManifestSequences?.get(manifest.keyId);
      if (applied !== undefined && sequence <= applied) throw new BundleRejected(`the manifest of ${manifest.keyId} is not newer than the one applied (${sequence} <= ${applied})`);
      const group = groupOfKeyId(params.fleet, manifest.keyId);
      for (const epoch of manifest.epochs) {
        described.set(`${manifest.keyId}@${epoch.version}`, {
          group,
          state: keyStateFromProto(epoch.state),
          notBefore: epoch.notBefore === undefined ? 0 : timestampMs(epoch.notBefore),
          notAfter: epoch.notAfter === undefined ? 0 : timestampMs(epoch.notAfter),
          commitment: epoch.keyCommitment,
        });
      }
      manifests.push({ keyId: manifest.keyId, sequence });
    }
    const context = keyBundleWrapContext(params.deviceId);
    for (const wrapped of bundle.epochs) {
      const ref = wrapped.key;
      const description = ref === undefined ? undefined : described.get(`${ref.keyId}@${ref.version}`);
      if (ref === undefined || description === undefined) throw new BundleRejected('a wrapped key is not described by any signed manifest');
      let key: Uint8Array;
      try {
        key = unwrapWithPrivateKey(wrapped.wrappedKey, params.privateKey, context);
      } catch (error) {
        throw new BundleRejected(`epoch ${ref.keyId}@${ref.version} does not unwrap with this robot's key`, { cause: error });
      }
      opened.push({ keyId: ref.keyId, group: description.group, version: ref.version, state: description.state, notBefore: description.notBefore, notAfter: description.notAfter, key });
      if (!keyCommitmentMatches(key, ref.keyId, ref.version, description.commitment)) throw new BundleRejected(`epoch ${ref.keyId}@${ref.version} does not match its signed commitment`);
    }
    return { sequence: Number(bundle.sequence), manifests, epochs: opened };
  } catch (error) {
    for (const epoch of opened) epoch.key.fill(0);
    throw error;
  }
}

function groupOfKeyId(fleet: string, keyId: string): string | null {
  const prefix = `communication/${fleet}/`;
  if (!keyId.startsWith(prefix)) throw new BundleRejected('a manifest names a key of another fleet or kind');
  const name = keyId.slice(prefix.length);
  return name === FLEET_WIDE_KEY_NAME ? null : name;
}
