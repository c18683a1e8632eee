/**
 * One communication key series (the fleet-wide key or a group's own) as rotation sees it: its
 * usable epochs, the sequence of its signed manifest, and each epoch's effective validity — the
 * times in the latest signed manifest, which is what robots were told. The epochs table keeps the
 * times an epoch was created with and only its state changes afterwards, so activation and
 * retirement times live in the manifest, written in the same transaction as the state change.
 *
 * Also the re-signing of a series' manifest (one KMS signature with the fleet's emergency key) and
 * the in-process lock that keeps one rotation step per series at a time.
 *
 * Trust boundary: epoch keys are unwrapped here only to compute manifest commitments; the copies
 * this module makes are zeroized by the caller's `release()`.
 */
import { timestampMs } from '@bufbuild/protobuf/wkt';
import type { KeyState } from '@fleetkey/key-types';
import {
  EpochManifestSchema,
  MAX_SIGNED_PAYLOAD_BYTES,
  communicationKeyId,
  decodeMessage,
  emergencyKeyId,
  issueEpochManifest,
  keyStateFromProto,
  payloadSignerOf,
  type SignedEpochManifest,
} from '@fleetkey/protocol';
import type { ControllerCore } from '../core/core.js';
import { loadEpochManifest } from '../fleets/settings.js';
import type { CommunicationEpoch, Millis, RepositoryTx } from '../store/index.js';

/** States a device may hold a key in (listed in manifests and bundles). */
export const USABLE_STATES = Object.freeze(['pending', 'active', 'retiring'] as const satisfies readonly KeyState[]);

export interface EpochTiming {
  readonly notBefore: Millis;
  readonly notAfter: Millis;
}

export interface SeriesState {
  readonly fleetId: string;
  readonly groupId: string | null;
  /** Usable epochs (pending, active, retiring), version ascending. */
  readonly epochs: readonly CommunicationEpoch[];
  /** Highest version ever made in the series (any state), 0 for none. */
  readonly latestVersion: number;
  /** Sequence of the stored signed manifest, 0 when the series has none yet. */
  readonly manifestSequence: number;
  /** The epoch's validity as last signed (the manifest), else as stored. */
  timing(epoch: CommunicationEpoch): EpochTiming;
}

/** `communication/<fleet>/fleet` or `communication/<fleet>/<group>`: how logs and errors name a series. */
export function seriesName(fleetId: string, groupId: string | null): string {
  return communicationKeyId(fleetId, groupId);
}

/** The stored manifest's sequence and per-version times, or sequence 0 when there is none. */
export function manifestFacts(manifest: SignedEpochManifest | undefined): { sequence: number; times: Map<number, EpochTiming & { state: KeyState }> } {
  const times = new Map<number, EpochTiming & { state: KeyState }>();
  if (manifest === undefined) return { sequence: 0, times };
  const payload = decodeMessage(EpochManifestSchema, manifest.payload, { maxBytes: MAX_SIGNED_PAYLOAD_BYTES });
  for (const epoch of payload.epochs) {
    if (epoch.notBefore === undefined || epoch.notAfter === undefined) continue;
    times.set(epoch.version, { notBefore: timestampMs(epoch.notBefore), notAfter: timestampMs(epoch.notAfter), state: keyStateFromProto(epoch.state) });
  }
  return { sequence: Number(payload.sequence), times };
}

/** Reads a series through `tx` (the repository itself, or a transaction's view). */
export async function readSeries(tx: Pick<RepositoryTx, 'listEpochs' | 'latestEpochVersion' | 'getSignedArtifact'>, fleetId: string, groupId: string | null): Promise<SeriesState> {
  const epochs = await tx.listEpochs(fleetId, { groupId, states: USABLE_STATES });
  const latestVersion = await tx.latestEpochVersion(fleetId, groupId);
  const { sequence, times } = manifestFacts(await loadEpochManifest(tx, fleetId, groupId));
  return {
    fleetId,
    groupId,
    epochs,
    latestVersion,
    manifestSequence: sequence,
    timing(epoch) {
      const signed = times.get(epoch.version);
      return signed === undefined ? { notBefore: epoch.notBefore, notAfter: epoch.notAfter } : { notBefore: signed.notBefore, notAfter: signed.notAfter };
    },
  };
}

/** One epoch as the next manifest will list it. */
export interface PlannedEpoch {
  readonly version: number;
  readonly state: KeyState;
  readonly notBefore: Millis;
  readonly notAfter: Millis;
}

/**
 * Copies of the plaintext keys of `epochs` (the core's cache may evict and zeroize its own buffer
 * while a caller still needs the key); `release()` zeroizes every copy.
 */
export async function copyEpochKeys(core: ControllerCore, epochs: readonly CommunicationEpoch[]): Promise<{ keys: Map<number, Uint8Array>; release(): void }> {
  const keys = new Map<number, Uint8Array>();
  const release = (): void => {
    for (const key of keys.values()) key.fill(0);
    keys.clear();
  };
  try {
    for (const epoch of epochs) keys.set(epoch.version, Uint8Array.from(await core.epochKey(epoch)));
  } catch (error) {
    release();
    throw error;
  }
  return { keys, release };
}

/**
 * Signs the manifest of a series listing `planned` (each with its key in `keys`), with the fleet's
 * emergency key in the KMS: one signature whatever the fleet size.
 * @throws RangeError for more than MAX_MANIFEST_EPOCHS epochs; KMS errors.
 */
export async function signSeriesManifest(
  core: ControllerCore,
  fleetId: string,
  groupId: string | null,
  sequence: number,
  planned: readonly PlannedEpoch[],
  keys: ReadonlyMap<number, Uint8Array>,
  issuedAt: Millis,
): Promise<SignedEpochManifest> {
  const fleetKeys = await core.fleetKeys(fleetId);
  const signer = await core.signer(fleetKeys.emergencyKeyId);
  const sign = payloadSignerOf(signer, { keyId: emergencyKeyId(fleetId), version: fleetKeys.emergencyKeyVersion });
  const epochs = planned.map((epoch) => {
    const key = keys.get(epoch.version);
    if (key === undefined) throw new RangeError(`no key for epoch ${epoch.version}`);
    return { ...epoch, key };
  });
  return issueEpochManifest({ fleet: fleetId, group: groupId, sequence, issuedAt, epochs, sign });
}

/**
 * Devices of the series (fleet-wide: the whole fleet) revoked after `since`: a pending epoch made
 * before their revocation may have reached them, so it must never be activated. Strictly after:
 * a revocation rotation commits its epoch after the revocation, and an epoch made in the same
 * millisecond as a revocation must not be superseded again and again.
 */
export async function revokedSince(tx: Pick<RepositoryTx, 'listDevices'>, fleetId: string, groupId: string | null, since: Millis): Promise<string[]> {
  const revoked = await tx.listDevices({ fleetId }, groupId === null ? { status: 'revoked' } : { groupId, status: 'revoked' });
  return revoked.filter((device) => device.revokedAt !== null && device.revokedAt > since).map((device) => device.deviceId);
}

/** Whether the stored state still is what `state` read (the optimistic check inside a transaction). */
export async function seriesUnchanged(tx: RepositoryTx, state: SeriesState): Promise<boolean> {
  if ((await tx.latestEpochVersion(state.fleetId, state.groupId)) !== state.latestVersion) return false;
  return manifestFacts(await loadEpochManifest(tx, state.fleetId, state.groupId)).sequence === state.manifestSequence;
}

const locks = new WeakMap<ControllerCore, Map<string, Promise<unknown>>>();

/**
 * Runs `fn` after every earlier step on the same series of this core has finished (FIFO), so a
 * scheduler tick and an operator's rotation never race inside one process. Across processes the
 * optimistic check (`seriesUnchanged`) and the store's unique versions keep the series sound.
 */
export function withSeriesLock<T>(core: ControllerCore, fleetId: string, groupId: string | null, fn: () => Promise<T>): Promise<T> {
  let perCore = locks.get(core);
  if (perCore === undefined) {
    perCore = new Map();
    locks.set(core, perCore);
  }
  const key = `${fleetId}\u0000${groupId ?? ''}`;
  const previous = perCore.get(key) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  perCore.set(key, settled);
  void settled.then(() => {
    if (perCore.get(key) === settled) perCore.delete(key);
  });
  return run;
}
