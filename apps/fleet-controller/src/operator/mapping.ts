/**
 * Domain records (../store) to the operator API's proto messages (resources.proto), and the few
 * proto values that come back in as filters.
 *
 * Trust boundary: outbound views for operators. No token hash, wrapped key or other secret field
 * of a record is ever copied (the record types carry token hashes; these functions never read
 * them). Strings that the store bounds more loosely than the proto are cut to the proto's byte
 * limits here, so a stored value never makes a response undecodable for the client; audit rows
 * are shown as stored (a verifier must see tampering), only made to fit.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { summarizeCertificate } from '@fleetkey/crypto';
import { formatKeyId, InvalidArgument, isValidIdentifier, keyId } from '@fleetkey/key-types';
import {
  AuditRecordSchema,
  ComponentHealthSchema,
  DeviceSchema,
  DeviceState,
  EnrollmentTokenSchema,
  EnrollmentTokenState,
  FleetSchema,
  KeyRefSchema,
  OperatorRole as PbOperatorRole,
  OperatorSchema,
  keyAlgorithmToProto,
  type AuditRecord as PbAuditRecord,
  type ComponentHealth as PbComponentHealth,
  type Device as PbDevice,
  type EnrollmentToken as PbEnrollmentToken,
  type Fleet as PbFleet,
  type KeyRef as PbKeyRef,
  type Operator as PbOperator,
} from '@fleetkey/protocol';
import type { AuditRecord, Device, DeviceStatus, EnrollmentToken, Fleet, Millis, Operator, OperatorRole } from '../store/index.js';
import type { ComponentHealthReport, FleetDescription } from './deps.js';

/** Byte limits of resources.proto fields that stored values might exceed. */
const LIMITS = Object.freeze({
  displayName: 128,
  auditActor: 128,
  auditAction: 64,
  auditSubject: 255,
  auditDetailEntries: 32,
  auditDetailBytes: 1024,
  healthName: 64,
  healthDetail: 512,
  healthComponents: 64,
});

/** `text` cut to at most `maxBytes` of UTF-8, never splitting a code point. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

const ts = (ms: Millis | null) => (ms === null ? undefined : timestampFromMs(ms));

// ---- roles ---------------------------------------------------------------------------------

const ROLE_TO_PROTO: Readonly<Record<OperatorRole, PbOperatorRole>> = Object.freeze({
  admin: PbOperatorRole.ADMIN,
  operator: PbOperatorRole.OPERATOR,
  factory: PbOperatorRole.FACTORY,
  auditor: PbOperatorRole.AUDITOR,
});

export function roleToProto(role: OperatorRole): PbOperatorRole {
  return ROLE_TO_PROTO[role];
}

/** @throws InvalidArgument for UNSPECIFIED or an unknown wire value (proto3 enums are open). */
export function roleFromProto(value: PbOperatorRole): OperatorRole {
  const found = (Object.keys(ROLE_TO_PROTO) as OperatorRole[]).find((role) => ROLE_TO_PROTO[role] === value);
  if (found === undefined) throw new InvalidArgument('"role" expected admin, operator, factory or auditor');
  return found;
}

// ---- fleets --------------------------------------------------------------------------------

/** The KeyRef of a fleet's fleet-wide communication epoch: `communication/<fleet>/fleet`, version. */
export function fleetEpochRef(fleetId: string, version: number): PbKeyRef {
  return create(KeyRefSchema, { keyId: formatKeyId(keyId('communication', fleetId, 'fleet')), version });
}

export function fleetToProto(fleet: Fleet, description: FleetDescription | undefined, deviceCount: number): PbFleet {
  return create(FleetSchema, {
    fleet: fleet.id,
    displayName: truncateUtf8(fleet.name, LIMITS.displayName),
    createdAt: ts(fleet.createdAt),
    deviceCount,
    ...(description === undefined
      ? {}
      : {
          kmsProvider: description.kmsProvider,
          caAlgorithm: keyAlgorithmToProto(description.caAlgorithm),
          emergencyAlgorithm: keyAlgorithmToProto(description.emergencyAlgorithm),
          activeEpoch: description.activeEpochVersion === null ? undefined : fleetEpochRef(fleet.id, description.activeEpochVersion),
        }),
    // Lockdowns arrive with issue 6; until then no fleet is locked.
    locked: false,
  });
}

// ---- operators -----------------------------------------------------------------------------

/** `created_by` stays empty: the store does not record who created an operator (the audit log does). */
export function operatorToProto(operator: Operator): PbOperator {
  return create(OperatorSchema, {
    operatorId: operator.id,
    displayName: truncateUtf8(operator.name, LIMITS.displayName),
    role: roleToProto(operator.role),
    fleets: operator.fleetScope.kind === 'all' ? [] : [...operator.fleetScope.fleetIds],
    createdAt: ts(operator.createdAt),
    revokedAt: ts(operator.revokedAt),
  });
}

// ---- enrollment tokens ---------------------------------------------------------------------

export type EnrollmentTokenStatus = 'active' | 'used' | 'revoked' | 'expired';

/** A token's state at `now`: burnt wins (it happened), then revoked, then expired. */
export function enrollmentTokenStatus(token: Pick<EnrollmentToken, 'usedAt' | 'revokedAt' | 'expiresAt'>, now: Millis): EnrollmentTokenStatus {
  if (token.usedAt !== null) return 'used';
  if (token.revokedAt !== null) return 'revoked';
  // The store treats a token as usable while expires_at > now.
  if (token.expiresAt <= now) return 'expired';
  return 'active';
}

const TOKEN_STATUS_TO_PROTO: Readonly<Record<EnrollmentTokenStatus, EnrollmentTokenState>> = Object.freeze({
  active: EnrollmentTokenState.ACTIVE,
  used: EnrollmentTokenState.USED,
  revoked: EnrollmentTokenState.REVOKED,
  expired: EnrollmentTokenState.EXPIRED,
});

/** undefined for UNSPECIFIED (no filter). @throws InvalidArgument for an unknown wire value. */
export function tokenStatusFilterFromProto(value: EnrollmentTokenState): EnrollmentTokenStatus | undefined {
  if (value === EnrollmentTokenState.UNSPECIFIED) return undefined;
  const found = (Object.keys(TOKEN_STATUS_TO_PROTO) as EnrollmentTokenStatus[]).find((s) => TOKEN_STATUS_TO_PROTO[s] === value);
  if (found === undefined) throw new InvalidArgument('"state" expected an enrollment token state');
  return found;
}

/**
 * Metadata only: the token hash is never read. `createdBy` is the minting operator when known
 * (CreateEnrollmentToken's response); the store does not keep it, so lists leave it empty.
 */
export function enrollmentTokenToProto(token: EnrollmentToken, now: Millis, createdBy = ''): PbEnrollmentToken {
  return create(EnrollmentTokenSchema, {
    tokenId: token.id,
    fleet: token.fleetId,
    group: token.groupId ?? '',
    serialNumber: token.serialPattern ?? '',
    createdAt: ts(token.createdAt),
    expiresAt: ts(token.expiresAt),
    createdBy,
    state: TOKEN_STATUS_TO_PROTO[enrollmentTokenStatus(token, now)],
    usedAt: ts(token.usedAt),
    usedByDeviceId: token.usedByDeviceId ?? '',
  });
}

// ---- devices -------------------------------------------------------------------------------

const DEVICE_STATUS_TO_PROTO: Readonly<Record<DeviceStatus, DeviceState>> = Object.freeze({
  active: DeviceState.ACTIVE,
  revoked: DeviceState.REVOKED,
});

/** undefined for UNSPECIFIED (no filter). @throws InvalidArgument for an unknown wire value. */
export function deviceStatusFilterFromProto(value: DeviceState): DeviceStatus | undefined {
  if (value === DeviceState.UNSPECIFIED) return undefined;
  const found = (Object.keys(DEVICE_STATUS_TO_PROTO) as DeviceStatus[]).find((s) => DEVICE_STATUS_TO_PROTO[s] === value);
  if (found === undefined) throw new InvalidArgument('"state" expected a device state');
  return found;
}

/**
 * certificate_not_after comes from the stored certificate (strict parser, cached by content); a
 * stored certificate that no longer parses leaves it unset.
 */
function certificateNotAfter(der: Uint8Array): { certificateNotAfter?: ReturnType<typeof timestampFromMs> } {
  try {
    return { certificateNotAfter: timestampFromMs(summarizeCertificate(der).notAfter.getTime()) };
  } catch {
    return {};
  }
}

/**
 * The device as the store knows it: its current certificate (DER, public), last contact and the
 * command and key-bundle sequences it acknowledged. Fields the store does not hold yet (agent
 * version, model, lock state, reported epochs) stay unset.
 */
export function deviceToProto(device: Device): PbDevice {
  return create(DeviceSchema, {
    fleet: device.fleetId,
    deviceId: device.deviceId,
    group: device.groupId ?? '',
    serialNumber: device.serial,
    state: DEVICE_STATUS_TO_PROTO[device.status],
    certificateSerial: device.certificateSerial,
    enrolledAt: ts(device.enrolledAt),
    revokedAt: ts(device.revokedAt),
    lastContact: ts(device.lastContact),
    lastCommandSequence: BigInt(device.ackedCommandSequence),
    lastKeyBundleSequence: BigInt(device.ackedBundleSequence),
    ...certificateNotAfter(device.certificateDer),
    certificate: new Uint8Array(device.certificateDer),
  });
}

// ---- audit ---------------------------------------------------------------------------------

/** Detail keys this mapping adds; a stored key cannot start with `_` (../audit/details.ts), so they never collide. */
export const AUDIT_VIEW_KEYS = Object.freeze({
  result: '_result',
  errorCode: '_error_code',
  keyRef: '_key_ref',
  fleet: '_fleet',
  unparsed: '_details',
});

function detailValue(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return truncateUtf8(text, LIMITS.auditDetailBytes);
}

function auditDetails(record: AuditRecord): Record<string, string> {
  // A Map, then fromEntries: a tampered key such as "__proto__" becomes a plain entry, never a prototype.
  const details = new Map<string, string>([[AUDIT_VIEW_KEYS.result, truncateUtf8(record.result, LIMITS.auditDetailBytes)]]);
  if (record.errorCode !== null) details.set(AUDIT_VIEW_KEYS.errorCode, truncateUtf8(record.errorCode, LIMITS.auditDetailBytes));
  if (record.keyRef !== null && record.deviceId !== null) details.set(AUDIT_VIEW_KEYS.keyRef, truncateUtf8(record.keyRef, LIMITS.auditDetailBytes));
  if (record.fleetId !== null && !isValidIdentifier(record.fleetId)) details.set(AUDIT_VIEW_KEYS.fleet, truncateUtf8(record.fleetId, LIMITS.auditDetailBytes));
  let parsed: unknown;
  try {
    parsed = JSON.parse(record.detailsJson);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    details.set(AUDIT_VIEW_KEYS.unparsed, truncateUtf8(record.detailsJson, LIMITS.auditDetailBytes));
  } else {
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (details.size >= LIMITS.auditDetailEntries) break;
      const name = truncateUtf8(key, LIMITS.auditDetailBytes);
      if (name !== '' && !details.has(name)) details.set(name, detailValue(value));
    }
  }
  return Object.fromEntries(details);
}

/** What the record happened to: its device, else its key, else the `subject` detail. */
function auditSubject(record: AuditRecord): string {
  if (record.deviceId !== null) return record.deviceId;
  if (record.keyRef !== null) return record.keyRef;
  try {
    const subject = (JSON.parse(record.detailsJson) as Record<string, unknown> | null)?.['subject'];
    return typeof subject === 'string' ? subject : '';
  } catch {
    return '';
  }
}

/** The record as stored (a tampered row is shown, only cut to fit the proto's limits). */
export function auditRecordToProto(record: AuditRecord): PbAuditRecord {
  return create(AuditRecordSchema, {
    sequence: BigInt(record.sequence),
    recordedAt: ts(record.time),
    fleet: record.fleetId !== null && isValidIdentifier(record.fleetId) ? record.fleetId : '',
    actor: truncateUtf8(record.actor, LIMITS.auditActor),
    action: truncateUtf8(record.action, LIMITS.auditAction),
    subject: truncateUtf8(auditSubject(record), LIMITS.auditSubject),
    success: record.result === 'ok',
    details: auditDetails(record),
    previousHash: new Uint8Array(record.prevHash),
    hash: new Uint8Array(record.hash),
  });
}

// ---- health --------------------------------------------------------------------------------

export function componentHealthToProto(report: ComponentHealthReport, checkedAt: Millis): PbComponentHealth {
  return create(ComponentHealthSchema, {
    name: truncateUtf8(report.name, LIMITS.healthName),
    healthy: report.healthy,
    detail: truncateUtf8(report.detail, LIMITS.healthDetail),
    checkedAt: ts(checkedAt),
  });
}

export const MAX_HEALTH_COMPONENTS = LIMITS.healthComponents;
