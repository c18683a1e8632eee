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
  DEVICE_STATUSES,
  OPERATOR_ROLES,
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

export const fleetFromRow = (r: FleetRow): Fleet => ({ id: r.id, name: r.name, createdAt: r.created_at });

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
  };
}

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
