/**
 * What commands and revocation lists share: the fleet's emergency key as a payload signer (the
 * KMS signs; robots verify against the key they pinned at enrollment), and the checks and audit
 * form of an operator's free-text reason.
 *
 * Trust boundary: the private half of the emergency key never leaves the KMS; this module only
 * asks it to sign. Reasons are operator input: bounded, without control characters, and kept out of
 * the audit log when they look like a secret (the audit guard would refuse the whole record).
 */
import { hasControlCharacters } from '@fleetkey/cli';
import { emergencyKeyId, payloadSignerOf, type PayloadSigner } from '@fleetkey/protocol';
import { InvalidArgument } from '@fleetkey/key-types';
import { looksSecret } from '../audit/index.js';
import type { ControllerCore } from '../core/core.js';
import type { FleetKeyRecord } from '../fleets/fleet-keys.js';
import { auditedReason } from '../operator/requests.js';
import type { AuditDetails } from '../store/index.js';

/** A reason is at most this many UTF-8 bytes (messages.proto Command.reason, operator.proto). */
export const MAX_REASON_BYTES = 512;

/** The emergency key of a fleet as a payload signer naming `emergency/<fleet>/emergency@<version>`. */
export async function emergencyPayloadSigner(core: ControllerCore, fleetId: string): Promise<{ readonly sign: PayloadSigner; readonly keys: FleetKeyRecord }> {
  const keys = await core.fleetKeys(fleetId);
  const signer = await core.signer(keys.emergencyKeyId);
  return { keys, sign: payloadSignerOf(signer, { keyId: emergencyKeyId(fleetId), version: keys.emergencyKeyVersion }) };
}

/**
 * A required reason: non-empty, at most MAX_REASON_BYTES, no control characters (robots show it
 * in their status, operators in tables).
 * @throws InvalidArgument naming the field.
 */
export function requiredReason(field: string, reason: string): string {
  if (reason.trim() === '') throw new InvalidArgument(`"${field}" is required`);
  if (Buffer.byteLength(reason, 'utf8') > MAX_REASON_BYTES) throw new InvalidArgument(`"${field}" expected at most ${MAX_REASON_BYTES} bytes`);
  if (hasControlCharacters(reason)) throw new InvalidArgument(`"${field}" must not contain control characters`);
  return reason;
}

/** The reason as an audit detail, or a marker when it looks like a secret and is left out. */
export function reasonDetail(reason: string): AuditDetails {
  const clipped = auditedReason(reason);
  if (clipped === undefined) return {};
  return looksSecret(clipped) ? { reasonWithheld: true } : { reason: clipped };
}
