/**
 * Key bundles and revocation lists from the controller (DESIGN.md flows 2 and 4; messages.proto
 * KeyBundle, SignedRevocationList), whichever way they arrive (GetKeyBundle, the command stream,
 * the retained MQTT topics).
 *
 * Key bundles. Only the manifests inside a bundle are signed; the bundle's own `sequence` is not.
 * So the decisions rest on the manifests:
 * - every manifest is signed by a pinned emergency key, of this fleet, and of a series this robot
 *   holds (the fleet key, its group's key);
 * - a manifest OLDER than the one applied is a rollback: the bundle is a replay;
 * - a manifest EQUAL to the one applied is the same signed content (sequences are monotonic per
 *   key id): unchanged, accepted as such. The controller sends every series in every bundle, so a
 *   rotation of the group key alone comes with the fleet manifest unchanged;
 * - nothing newer and a bundle sequence not above the stored one: no change (acked APPLIED when it
 *   equals the stored one: the robot holds exactly these keys, and the controller counts acks);
 * - the unsigned bundle sequence may not exceed the sum of its manifests' sequences (how the
 *   controller numbers bundles: provisioning/device-keys.ts), so a tampered bundle cannot push the
 *   stored sequence past what the controller will ever send.
 * A locked robot refuses bundles: a lockdown (with wipe above all) means "hold no new keys"; the
 * LIFT is followed by a fetch.
 *
 * Revocation lists: signed by a pinned key, of this fleet, and newer than the one held.
 *
 * Trust boundary: bundles and lists are untrusted until verified here; opened epoch keys are
 * zeroized once stored, whatever happens.
 */
import { toBinary } from '@bufbuild/protobuf';
import { summarizeCertificate } from '@fleetkey/crypto';
import { isFleetkeyError } from '@fleetkey/key-types';
import {
  AckOutcome,
  EpochManifestSchema,
  KeyBundleSchema,
  MAX_KEY_BUNDLE_BYTES,
  MAX_SIGNED_REVOCATION_LIST_BYTES,
  RevocationListSchema,
  SignedRevocationListSchema,
  assertWithinLimits,
  communicationKeyId,
  decodeMessage,
  openKeyBundle,
  verifyPayload,
  type KeyBundle,
  type OpenedKeyBundle,
  type SignedRevocationList,
} from '@fleetkey/protocol';
import type { AgentCore, AgentLogger } from '../runtime/agent-core.js';
import { pinnedKeyOf, pinnedVerifier } from './pinned.js';

export interface PayloadResult {
  readonly outcome: AckOutcome;
  /** KeyBundle.sequence or RevocationList.sequence (0n when unknown). */
  readonly sequence: bigint;
  /** Short text for the ack; never key material. */
  readonly detail: string;
  /** Whether to acknowledge: not for what could not be read or was addressed to someone else. */
  readonly ack: boolean;
  /** Whether anything was stored. */
  readonly changed: boolean;
}

export interface RevocationResult extends PayloadResult {
  /** The list now held names this robot (by device id or certificate serial). */
  readonly selfRevoked: boolean;
}

function refused(logger: AgentLogger, what: string, outcome: AckOutcome, sequence: bigint, why: string, ack: boolean): PayloadResult {
  logger.warn({ sequence: sequence.toString(), refusal: why }, `${what} refused`);
  return { outcome, sequence, detail: why, ack, changed: false };
}

/** The series this robot may hold: the fleet key and, in a group, the group's key. */
function seriesOf(core: AgentCore): Set<string> {
  const { fleet, group } = core.identity;
  return new Set([communicationKeyId(fleet, null), ...(group === null ? [] : [communicationKeyId(fleet, group)])]);
}

/**
 * Verifies and stores a key bundle (see the module comment). Never throws for anything the bundle
 * carries; a keystore failure is the FAILED outcome.
 */
export async function applyKeyBundle(core: AgentCore, input: KeyBundle | Uint8Array, logger: AgentLogger): Promise<PayloadResult> {
  const what = 'key bundle';
  let bundle: KeyBundle;
  try {
    if (input instanceof Uint8Array) {
      bundle = decodeMessage(KeyBundleSchema, input, { maxBytes: MAX_KEY_BUNDLE_BYTES });
    } else {
      assertWithinLimits(KeyBundleSchema, input);
      bundle = input;
    }
  } catch {
    return refused(logger, what, AckOutcome.REJECTED_MALFORMED, 0n, 'the bundle does not decode within its limits', false);
  }
  const sequence = bundle.sequence;
  const { fleet, group, deviceId } = core.identity;
  // Precondition: a bundle addressed to another robot (fleet, group or device) is not ours to open.
  if (bundle.fleet !== fleet || bundle.deviceId !== deviceId || bundle.group !== (group ?? '')) {
    return refused(logger, what, AckOutcome.REJECTED_MALFORMED, sequence, 'the bundle is addressed to another robot', false);
  }
  if (core.isLocked()) return refused(logger, what, AckOutcome.FAILED, sequence, 'the device is locked; keys are fetched again after a lift', true);

  // Precondition: every manifest verifies against a pinned key, is of this fleet and of a series we hold.
  const allowed = seriesOf(core);
  const manifestSequences = new Map<string, number>();
  for (const signed of bundle.manifests) {
    const pinned = pinnedKeyOf(core, signed);
    if (pinned === undefined) return refused(logger, what, AckOutcome.REJECTED_SIGNATURE, sequence, 'a manifest is signed by a key this robot did not pin', true);
    let manifest;
    try {
      manifest = await verifyPayload(EpochManifestSchema, signed, pinnedVerifier(pinned));
    } catch (error) {
      const malformed = isFleetkeyError(error, 'MESSAGE_MALFORMED');
      return refused(logger, what, malformed ? AckOutcome.REJECTED_MALFORMED : AckOutcome.REJECTED_SIGNATURE, sequence, malformed ? 'a manifest is malformed' : 'a manifest signature does not verify', true);
    }
    if (manifest.fleet !== fleet || !allowed.has(manifest.keyId) || manifestSequences.has(manifest.keyId)) {
      return refused(logger, what, AckOutcome.REJECTED_MALFORMED, sequence, 'a manifest names a key series this robot does not hold', true);
    }
    if (manifest.sequence < 1n || manifest.sequence > BigInt(Number.MAX_SAFE_INTEGER)) return refused(logger, what, AckOutcome.REJECTED_MALFORMED, sequence, 'a manifest sequence is out of range', true);
    manifestSequences.set(manifest.keyId, Number(manifest.sequence));
  }
  const backing = [...manifestSequences.values()].reduce((sum, each) => sum + each, 0);
  // Precondition: the unsigned bundle sequence is bounded by the signed manifest sequences.
  if (sequence < 1n || sequence > BigInt(backing)) {
    return refused(logger, what, AckOutcome.REJECTED_MALFORMED, sequence, 'the bundle sequence is not backed by its signed manifests', false);
  }

  const stored = core.state.sequences();
  const adjusted = new Map(stored.manifests);
  let newer = false;
  for (const [keyId, manifestSequence] of manifestSequences) {
    const applied = stored.manifests.get(keyId);
    // Precondition: a manifest older than the one applied is a rollback.
    if (applied !== undefined && manifestSequence < applied) {
      return refused(logger, what, AckOutcome.REJECTED_REPLAY, sequence, `the manifest of ${keyId} is older than the one applied (${manifestSequence} < ${applied})`, true);
    }
    if (applied === undefined || manifestSequence > applied) newer = true;
    // An unchanged manifest is the same signed content: let openKeyBundle accept it again.
    else adjusted.set(keyId, applied - 1);
  }
  if (!newer && sequence <= BigInt(stored.keyBundle)) {
    if (sequence === BigInt(stored.keyBundle)) return { outcome: AckOutcome.APPLIED, sequence, detail: 'already held', ack: true, changed: false };
    return refused(logger, what, AckOutcome.REJECTED_REPLAY, sequence, `bundle ${sequence} is not newer than ${stored.keyBundle}`, true);
  }

  let opened: OpenedKeyBundle;
  try {
    opened = await openKeyBundle({ bundle, fleet, deviceId, privateKey: core.privateKey(), emergencyKeys: core.emergencyKeyMap(), appliedManifestSequences: adjusted });
  } catch (error) {
    // The checks above leave unwrapping and key commitments: both say the keys are not genuine.
    logger.warn({ sequence: sequence.toString(), err: isFleetkeyError(error) ? error.code : 'error' }, 'key bundle refused: its keys do not open or do not match their signed commitments');
    return { outcome: AckOutcome.REJECTED_SIGNATURE, sequence, detail: 'the keys do not match their signed manifests', ack: true, changed: false };
  }
  try {
    core.storeBundle(opened);
  } catch (error) {
    logger.error({ err: error, sequence: sequence.toString() }, 'storing a key bundle failed');
    return { outcome: AckOutcome.FAILED, sequence, detail: 'storing the keys failed on the robot', ack: true, changed: false };
  } finally {
    for (const epoch of opened.epochs) epoch.key.fill(0);
  }
  logger.info({ sequence: sequence.toString(), epochs: opened.epochs.map((epoch) => `${epoch.keyId}@${epoch.version}:${epoch.state}`) }, 'key bundle applied');
  return { outcome: AckOutcome.APPLIED, sequence, detail: '', ack: true, changed: true };
}

/**
 * Verifies and stores a revocation list (see the module comment). Never throws for anything the
 * list carries; a keystore failure is the FAILED outcome.
 */
export async function applyRevocationList(core: AgentCore, input: SignedRevocationList | Uint8Array, logger: AgentLogger): Promise<RevocationResult> {
  const what = 'revocation list';
  const result = (base: PayloadResult): RevocationResult => ({ ...base, selfRevoked: base.changed && isSelfRevoked(core) });
  let signed: SignedRevocationList;
  let bytes: Uint8Array;
  try {
    if (input instanceof Uint8Array) {
      signed = decodeMessage(SignedRevocationListSchema, input, { maxBytes: MAX_SIGNED_REVOCATION_LIST_BYTES });
      bytes = input;
    } else {
      assertWithinLimits(SignedRevocationListSchema, input);
      signed = input;
      // Re-encoding the wrapper keeps the signed payload bytes exactly as they are.
      bytes = toBinary(SignedRevocationListSchema, input);
      if (bytes.byteLength > MAX_SIGNED_REVOCATION_LIST_BYTES) throw new RangeError('too long');
    }
  } catch {
    return result(refused(logger, what, AckOutcome.REJECTED_MALFORMED, 0n, 'the list does not decode within its limits', false));
  }
  const pinned = pinnedKeyOf(core, signed);
  if (pinned === undefined) return result(refused(logger, what, AckOutcome.REJECTED_SIGNATURE, 0n, 'signed by a key this robot did not pin', false));
  let list;
  try {
    list = await verifyPayload(RevocationListSchema, signed, pinnedVerifier(pinned));
  } catch (error) {
    const malformed = isFleetkeyError(error, 'MESSAGE_MALFORMED');
    return result(refused(logger, what, malformed ? AckOutcome.REJECTED_MALFORMED : AckOutcome.REJECTED_SIGNATURE, 0n, malformed ? 'the signed payload is not a revocation list' : 'the signature does not verify against the pinned emergency key', false));
  }
  const { sequence } = list;
  // Precondition: nothing crosses fleets.
  if (list.fleet !== core.identity.fleet || sequence < 1n) return result(refused(logger, what, AckOutcome.REJECTED_MALFORMED, sequence, 'the list belongs to another fleet or has no sequence', false));
  const held = core.revocationSequence();
  // Precondition: only a newer list replaces the one held.
  if (sequence <= held) {
    if (sequence === held) return result({ outcome: AckOutcome.APPLIED, sequence, detail: 'already held', ack: true, changed: false });
    return result(refused(logger, what, AckOutcome.REJECTED_REPLAY, sequence, `list ${sequence} is not newer than ${held}`, true));
  }
  try {
    core.setRevocationList({ sequence, signed: bytes });
  } catch (error) {
    logger.error({ err: error, sequence: sequence.toString() }, 'storing a revocation list failed');
    return result({ outcome: AckOutcome.FAILED, sequence, detail: 'storing the list failed on the robot', ack: true, changed: false });
  }
  logger.info({ sequence: sequence.toString(), revoked: list.revoked.length }, 'revocation list applied');
  return result({ outcome: AckOutcome.APPLIED, sequence, detail: '', ack: true, changed: true });
}

function isSelfRevoked(core: AgentCore): boolean {
  return core.isRevoked(core.identity.deviceId, summarizeCertificate(core.certificate()).serialNumber);
}
