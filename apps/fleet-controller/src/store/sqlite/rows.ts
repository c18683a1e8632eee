/**
 * Row shapes of the SQLite schema (snake_case, as stored) and their mapping to the port's
 * records. Kept apart from the queries so the mapping is read in one place.
 *
 * Trust boundary: the database file is ours, but a row is still checked where the port promises a
 * closed set (roles, statuses, key states), so a hand-edited file fails loudly, not silently.
 */
import { isKeyState } from '@fleetkey/key-types';
import { StoreCorrupt } from '../errors.js';
import {
  APPROVAL_KINDS,
  COMMAND_ACK_OUTCOMES,
  COMMAND_ACTIONS,
  DEVICE_STATUSES,
  LIFT_REQUEST_STATES,
  OPERATOR_ROLES,
  SIGNED_ARTIFACT_KINDS,
  type CommandAck,
  type CommandScope,
  type IssuedCommand,
  type LiftApproval,
  type LiftRequest,
  type SignedArtifact,
  type CommunicationEpoch,
  type Device,
  type DeviceStatus,
  type EnrollmentToken,
  type Fleet,
  type Group,
  type Operator,
  type OperatorRole,
} from '../repository.js';

export interface FleetRow {
  id: string;
  name: string;
  created_at: number;
  deleted_at: number | null;
}
export interface GroupRow {
  fleet_id: string;
  id: string;
  name: string;
  created_at: number;
}
export interface OperatorRow {
  id: string;
  name: string;
  role: string;
  all_fleets: number;
  token_hash: Buffer;
  created_at: number;
  revoked_at: number | null;
}
export interface TokenRow {
  id: string;
  fleet_id: string;
  group_id: string | null;
  serial_pattern: string | null;
  token_hash: Buffer;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_by_device_id: string | null;
  revoked_at: number | null;
}
export interface DeviceRow {
  fleet_id: string;
  device_id: string;
  group_id: string | null;
  serial: string;
  certificate_der: Buffer;
  certificate_serial: string;
  key_algorithm: string;
  status: string;
  enrolled_at: number;
  revoked_at: number | null;
  revocation_reason: string | null;
  last_contact: number | null;
  acked_bundle_sequence: number;
  acked_command_sequence: number;
  acked_revocation_sequence: number;
}
export interface CommandRow {
  fleet_id: string;
  sequence: number;
  action: string;
  scope_kind: string;
  scope_id: string | null;
  reason: string;
  issued_by: string;
  issued_at: number;
  expires_at: number;
  request_id: string | null;
  wipe: number;
  signed_command: Buffer;
}
export interface CommandAckRow {
  fleet_id: string;
  sequence: number;
  device_id: string;
  outcome: string;
  acked_at: number;
}
export interface LiftRequestRow {
  id: string;
  fleet_id: string;
  scope_kind: string;
  scope_id: string | null;
  reason: string;
  requested_by: string;
  requested_at: number;
  expires_at: number;
  state: string;
  executed_sequence: number | null;
  kind: string;
  target: string | null;
}
export interface SignedArtifactRow {
  fleet_id: string;
  kind: string;
  name: string;
  sequence: number;
  bytes: Buffer;
  issued_at: number;
}
export interface EpochRow {
  fleet_id: string;
  group_id: string | null;
  version: number;
  state: string;
  wrapped_key: Buffer;
  not_before: number;
  not_after: number;
  created_at: number;
}

export const fleetFromRow = (r: FleetRow): Fleet => ({ id: r.id, name: r.name, createdAt: r.created_at, deletedAt: r.deleted_at });

export const groupFromRow = (r: GroupRow): Group => ({ fleetId: r.fleet_id, id: r.id, name: r.name, createdAt: r.created_at });

export function operatorFromRow(r: OperatorRow, fleetIds: readonly string[]): Operator {
  if (!(OPERATOR_ROLES as readonly string[]).includes(r.role)) throw new StoreCorrupt('operator row has an unknown role');
  return {
    id: r.id,
    name: r.name,
    role: r.role as OperatorRole,
    fleetScope: r.all_fleets === 1 ? { kind: 'all' } : { kind: 'fleets', fleetIds: [...fleetIds] },
    tokenHash: r.token_hash,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

export const tokenFromRow = (r: TokenRow): EnrollmentToken => ({
  id: r.id,
  fleetId: r.fleet_id,
  groupId: r.group_id,
  serialPattern: r.serial_pattern,
  tokenHash: r.token_hash,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
  usedByDeviceId: r.used_by_device_id,
  revokedAt: r.revoked_at,
});

export function deviceFromRow(r: DeviceRow): Device {
  if (!(DEVICE_STATUSES as readonly string[]).includes(r.status)) throw new StoreCorrupt('device row has an unknown status');
  return {
    fleetId: r.fleet_id,
    deviceId: r.device_id,
    groupId: r.group_id,
    serial: r.serial,
    certificateDer: r.certificate_der,
    certificateSerial: r.certificate_serial,
    keyAlgorithm: r.key_algorithm,
    status: r.status as DeviceStatus,
    enrolledAt: r.enrolled_at,
    revokedAt: r.revoked_at,
    revocationReason: r.revocation_reason,
    lastContact: r.last_contact,
    ackedBundleSequence: r.acked_bundle_sequence,
    ackedCommandSequence: r.acked_command_sequence,
    ackedRevocationSequence: r.acked_revocation_sequence,
  };
}

function oneOf<T extends string>(values: readonly T[], value: string, what: string): T {
  if (!(values as readonly string[]).includes(value)) throw new StoreCorrupt(`${what} row has an unknown value`);
  return value as T;
}

export function scopeFromRow(kind: string, id: string | null): CommandScope {
  if (kind === 'fleet' && id === null) return { kind: 'fleet' };
  if (kind === 'group' && id !== null) return { kind: 'group', groupId: id };
  if (kind === 'device' && id !== null) return { kind: 'device', deviceId: id };
  throw new StoreCorrupt('a scope column pair is inconsistent');
}

export function commandFromRow(r: CommandRow): IssuedCommand {
  return {
    fleetId: r.fleet_id,
    sequence: r.sequence,
    action: oneOf(COMMAND_ACTIONS, r.action, 'command'),
    scope: scopeFromRow(r.scope_kind, r.scope_id),
    reason: r.reason,
    issuedBy: r.issued_by,
    issuedAt: r.issued_at,
    expiresAt: r.expires_at,
    requestId: r.request_id,
    wipe: r.wipe === 1,
    signedCommand: r.signed_command,
  };
}

export const commandAckFromRow = (r: CommandAckRow): CommandAck => ({
  fleetId: r.fleet_id,
  sequence: r.sequence,
  deviceId: r.device_id,
  outcome: oneOf(COMMAND_ACK_OUTCOMES, r.outcome, 'command ack'),
  ackedAt: r.acked_at,
});

export function liftRequestFromRow(r: LiftRequestRow, approvals: readonly LiftApproval[]): LiftRequest {
  return {
    id: r.id,
    kind: oneOf(APPROVAL_KINDS, r.kind, 'lift request'),
    fleetId: r.fleet_id,
    scope: scopeFromRow(r.scope_kind, r.scope_id),
    reason: r.reason,
    requestedBy: r.requested_by,
    requestedAt: r.requested_at,
    expiresAt: r.expires_at,
    state: oneOf(LIFT_REQUEST_STATES, r.state, 'lift request'),
    executedSequence: r.executed_sequence,
    approvals,
    target: r.target,
  };
}

export const signedArtifactFromRow = (r: SignedArtifactRow): SignedArtifact => ({
  fleetId: r.fleet_id,
  kind: oneOf(SIGNED_ARTIFACT_KINDS, r.kind, 'signed artefact'),
  name: r.name,
  sequence: r.sequence,
  bytes: r.bytes,
  issuedAt: r.issued_at,
});

export function epochFromRow(r: EpochRow): CommunicationEpoch {
  if (!isKeyState(r.state)) throw new StoreCorrupt('epoch row has an unknown state');
  return {
    fleetId: r.fleet_id,
    groupId: r.group_id,
    version: r.version,
    state: r.state,
    wrappedKey: r.wrapped_key,
    notBefore: r.not_before,
    notAfter: r.not_after,
    createdAt: r.created_at,
  };
}
