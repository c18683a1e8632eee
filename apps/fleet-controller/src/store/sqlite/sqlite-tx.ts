/**
 * The SQLite queries behind every RepositoryTx method. Each method is synchronous underneath and
 * runs to completion without yielding, so one call is atomic on its own connection; the wrapper in
 * ./sqlite-repository.ts makes them async and keeps calls out of an open transaction.
 *
 * Trust boundary: arguments come from the operator API and provisioning. All SQL is static with
 * bound parameters; identifiers are validated; tokens arrive only as SHA-256 hashes; blobs
 * (certificates, KEK-wrapped epoch keys) are stored opaque.
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3-multiple-ciphers';
import { assertTransition, IllegalStateTransition, type KeyState } from '@fleetkey/key-types';
import { RecordExists, RecordNotFound } from '../errors.js';
import {
  APPROVAL_KINDS,
  MAX_APPROVAL_TARGET_LENGTH,
  type ApprovalKind,
  COMMAND_ACK_OUTCOMES,
  COMMAND_ACTIONS,
  DEVICE_ACK_KINDS,
  LIFT_REQUEST_STATES,
  SIGNED_ARTIFACT_KINDS,
  type CommandAck,
  type CommandAction,
  type CommandScope,
  type DeviceAckKind,
  type IssuedCommand,
  type LiftApproval,
  type LiftRequest,
  type LiftRequestState,
  type NewCommand,
  type NewCommandAck,
  type NewLiftRequest,
  type SignedArtifact,
  type SignedArtifactKind,
} from '../repository.js';
import type {
  BurnResult,
  Clock,
  CommunicationEpoch,
  Device,
  DeviceFilter,
  EnrollmentToken,
  EnrollmentTokenFilter,
  EpochFilter,
  Fleet,
  FleetSelector,
  Group,
  Millis,
  NewDevice,
  NewEnrollmentToken,
  NewEpoch,
  NewFleet,
  NewGroup,
  NewOperator,
  Operator,
} from '../repository.js';
import { assertTokenHash, tokenHashesEqual } from '../tokens.js';
import * as v from '../validate.js';
import {
  commandAckFromRow,
  commandFromRow,
  liftRequestFromRow,
  signedArtifactFromRow,
  type CommandAckRow,
  type CommandRow,
  type LiftRequestRow,
  type SignedArtifactRow,
  deviceFromRow,
  epochFromRow,
  fleetFromRow,
  groupFromRow,
  operatorFromRow,
  tokenFromRow,
  type DeviceRow,
  type EpochRow,
  type FleetRow,
  type GroupRow,
  type OperatorRow,
  type TokenRow,
} from './rows.js';

/** Turns SQLite constraint failures into the port's typed errors; everything else passes through. */
function constraint<T>(fn: () => T, messages: { exists?: string; missing?: string }): T {
  try {
    return fn();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if ((code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') && messages.exists !== undefined) {
      throw new RecordExists(messages.exists, { cause: error });
    }
    if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY' && messages.missing !== undefined) {
      throw new RecordNotFound(messages.missing, { cause: error });
    }
    // Schema 5 triggers: nothing new is made in a deleted fleet; to callers it does not exist.
    if (code === 'SQLITE_CONSTRAINT_TRIGGER' && (error as Error).message === DELETED_FLEET_MESSAGE) {
      throw new RecordNotFound(messages.missing ?? 'the fleet does not exist', { cause: error });
    }
    throw error;
  }
}

/** What the schema 5 triggers raise for a write into a deleted fleet (./migrations.ts). */
const DELETED_FLEET_MESSAGE = 'fleet deleted';

const GROUP_SERIES = 'coalesce(group_id, \'\') = coalesce(?, \'\')';

const ACK_COLUMNS: Readonly<Record<DeviceAckKind, string>> = Object.freeze({
  'key-bundle': 'acked_bundle_sequence',
  command: 'acked_command_sequence',
  'revocation-list': 'acked_revocation_sequence',
});

/** WHERE conditions (and their parameters) selecting one fleet — or every fleet — and optionally one group. */
function fleetAndGroup(fleets: FleetSelector, groupId: string | undefined): { where: string[]; params: (string | number)[] } {
  const fleetId = v.fleetSelector(fleets);
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (fleetId !== null) {
    where.push('fleet_id = ?');
    params.push(fleetId);
  }
  if (groupId !== undefined) {
    where.push('group_id = ?');
    params.push(v.id('group', groupId));
  }
  return { where, params };
}

export class SqliteTxView {
  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
    private readonly newId: () => string = randomUUID,
  ) {}

  private now(): Millis {
    return v.millis('clock()', this.clock());
  }

  // ---- fleets and groups -------------------------------------------------------------------

  async createFleet(input: NewFleet): Promise<Fleet> {
    const row: FleetRow = { id: v.id('fleet', input.id), name: v.boundedString('name', input.name, v.MAX_NAME_LENGTH), created_at: this.now(), deleted_at: null };
    constraint(() => this.db.prepare('INSERT INTO fleets (id, name, created_at) VALUES (@id, @name, @created_at)').run(row), {
      exists: `fleet "${row.id}" already exists`,
    });
    return fleetFromRow(row);
  }

  async getFleet(fleetId: string, options: { readonly includeDeleted?: boolean } = {}): Promise<Fleet | undefined> {
    const row = this.db.prepare<[string], FleetRow>('SELECT * FROM fleets WHERE id = ?').get(v.id('fleet', fleetId));
    if (row === undefined || (row.deleted_at !== null && options.includeDeleted !== true)) return undefined;
    return fleetFromRow(row);
  }

  async listFleets(options: { readonly includeDeleted?: boolean } = {}): Promise<Fleet[]> {
    const sql = options.includeDeleted === true ? 'SELECT * FROM fleets ORDER BY id' : 'SELECT * FROM fleets WHERE deleted_at IS NULL ORDER BY id';
    return this.db.prepare<[], FleetRow>(sql).all().map(fleetFromRow);
  }

  async deleteFleet(fleetId: string): Promise<Fleet> {
    const id = v.id('fleet', fleetId);
    const info = this.db.prepare('UPDATE fleets SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL').run(this.now(), id);
    if (info.changes !== 1) throw new RecordNotFound(`fleet "${id}" does not exist`);
    return (await this.getFleet(id, { includeDeleted: true }))!;
  }

  async createGroup(input: NewGroup): Promise<Group> {
    const row: GroupRow = {
      fleet_id: v.id('fleet', input.fleetId),
      id: v.id('group', input.id),
      name: v.boundedString('name', input.name, v.MAX_NAME_LENGTH),
      created_at: this.now(),
    };
    constraint(() => this.db.prepare('INSERT INTO groups (fleet_id, id, name, created_at) VALUES (@fleet_id, @id, @name, @created_at)').run(row), {
      exists: `group "${row.id}" already exists in fleet "${row.fleet_id}"`,
      missing: `fleet "${row.fleet_id}" does not exist`,
    });
    return groupFromRow(row);
  }

  async getGroup(fleetId: string, groupId: string): Promise<Group | undefined> {
    const row = this.db
      .prepare<[string, string], GroupRow>('SELECT * FROM groups WHERE fleet_id = ? AND id = ?')
      .get(v.id('fleet', fleetId), v.id('group', groupId));
    return row === undefined ? undefined : groupFromRow(row);
  }

  async listGroups(fleetId: string): Promise<Group[]> {
    return this.db.prepare<[string], GroupRow>('SELECT * FROM groups WHERE fleet_id = ? ORDER BY id').all(v.id('fleet', fleetId)).map(groupFromRow);
  }

  // ---- operators ---------------------------------------------------------------------------

  private operatorFleets(operatorId: string): string[] {
    return this.db
      .prepare<[string], { fleet_id: string }>('SELECT fleet_id FROM operator_fleets WHERE operator_id = ? ORDER BY fleet_id')
      .all(operatorId)
      .map((r) => r.fleet_id);
  }

  private operatorRow(row: OperatorRow | undefined): Operator | undefined {
    return row === undefined ? undefined : operatorFromRow(row, row.all_fleets === 1 ? [] : this.operatorFleets(row.id));
  }

  async createOperator(input: NewOperator): Promise<Operator> {
    assertTokenHash('tokenHash', input.tokenHash);
    const scope = v.fleetScope(input.fleetScope);
    const id = input.id === undefined ? this.newId() : v.id('key name', input.id);
    if (input.id !== undefined && this.db.prepare('SELECT 1 FROM operators WHERE id = ?').get(id) !== undefined) {
      throw new RecordExists(`operator "${id}" already exists`);
    }
    const row: OperatorRow = {
      id,
      name: v.boundedString('name', input.name, v.MAX_NAME_LENGTH),
      role: v.role(input.role),
      all_fleets: scope.kind === 'all' ? 1 : 0,
      token_hash: Buffer.from(input.tokenHash),
      created_at: this.now(),
      revoked_at: null,
    };
    // Several statements: run them as one unit even when the caller did not open a transaction.
    this.db.transaction(() => {
      constraint(
        () =>
          this.db
            .prepare('INSERT INTO operators (id, name, role, all_fleets, token_hash, created_at, revoked_at) VALUES (@id, @name, @role, @all_fleets, @token_hash, @created_at, @revoked_at)')
            .run(row),
        { exists: 'an operator with this token already exists' },
      );
      if (scope.kind === 'fleets') {
        const insert = this.db.prepare('INSERT INTO operator_fleets (operator_id, fleet_id) VALUES (?, ?)');
        for (const fleetId of scope.fleetIds) {
          constraint(() => insert.run(row.id, fleetId), { missing: `fleet "${fleetId}" does not exist` });
        }
      }
    })();
    return operatorFromRow(row, scope.kind === 'fleets' ? scope.fleetIds : []);
  }

  async getOperator(id: string): Promise<Operator | undefined> {
    return this.operatorRow(this.db.prepare<[string], OperatorRow>('SELECT * FROM operators WHERE id = ?').get(v.boundedString('id', id, v.MAX_NAME_LENGTH)));
  }

  async findOperatorByTokenHash(tokenHash: Uint8Array): Promise<Operator | undefined> {
    assertTokenHash('tokenHash', tokenHash);
    // The index lookup on a SHA-256 of a 256-bit secret leaks nothing usable through timing; the
    // constant-time re-check below keeps every comparison of secret-derived values uniform.
    const row = this.db.prepare<[Uint8Array], OperatorRow>('SELECT * FROM operators WHERE token_hash = ?').get(tokenHash);
    if (row === undefined || !tokenHashesEqual(row.token_hash, tokenHash)) return undefined;
    return this.operatorRow(row);
  }

  async listOperators(): Promise<Operator[]> {
    const rows = this.db.prepare<[], OperatorRow>('SELECT * FROM operators ORDER BY created_at, id').all();
    return rows.map((r) => operatorFromRow(r, r.all_fleets === 1 ? [] : this.operatorFleets(r.id)));
  }

  async revokeOperator(id: string): Promise<Operator> {
    const info = this.db.prepare('UPDATE operators SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?').run(this.now(), v.boundedString('id', id, v.MAX_NAME_LENGTH));
    if (info.changes !== 1) throw new RecordNotFound('operator does not exist');
    const operator = await this.getOperator(id);
    if (operator === undefined) throw new RecordNotFound('operator does not exist');
    return operator;
  }

  // ---- enrollment tokens -------------------------------------------------------------------

  async createEnrollmentToken(input: NewEnrollmentToken): Promise<EnrollmentToken> {
    assertTokenHash('tokenHash', input.tokenHash);
    const row: TokenRow = {
      id: this.newId(),
      fleet_id: v.id('fleet', input.fleetId),
      group_id: v.optionalGroup(input.groupId),
      serial_pattern: v.optionalBoundedString('serialPattern', input.serialPattern, v.MAX_SERIAL_PATTERN_LENGTH),
      token_hash: Buffer.from(input.tokenHash),
      created_at: this.now(),
      expires_at: v.millis('expiresAt', input.expiresAt),
      used_at: null,
      used_by_device_id: null,
      revoked_at: null,
    };
    constraint(
      () =>
        this.db
          .prepare(
            `INSERT INTO enrollment_tokens (id, fleet_id, group_id, serial_pattern, token_hash, created_at, expires_at, used_at, used_by_device_id, revoked_at)
             VALUES (@id, @fleet_id, @group_id, @serial_pattern, @token_hash, @created_at, @expires_at, @used_at, @used_by_device_id, @revoked_at)`,
          )
          .run(row),
      { exists: 'an enrollment token with this hash already exists', missing: `fleet "${row.fleet_id}" or its group does not exist` },
    );
    return tokenFromRow(row);
  }

  async getEnrollmentToken(fleetId: string, id: string): Promise<EnrollmentToken | undefined> {
    const row = this.db
      .prepare<[string, string], TokenRow>('SELECT * FROM enrollment_tokens WHERE fleet_id = ? AND id = ?')
      .get(v.id('fleet', fleetId), v.boundedString('id', id, v.MAX_NAME_LENGTH));
    return row === undefined ? undefined : tokenFromRow(row);
  }

  async listEnrollmentTokens(fleets: FleetSelector, filter: EnrollmentTokenFilter = {}): Promise<EnrollmentToken[]> {
    const { where, params } = fleetAndGroup(fleets, filter.groupId);
    if (filter.usableAt !== undefined) {
      where.push('used_at IS NULL AND revoked_at IS NULL AND expires_at > ?');
      params.push(v.millis('usableAt', filter.usableAt));
    }
    const sql = `SELECT * FROM enrollment_tokens ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY fleet_id, created_at, id`;
    return this.db.prepare<(string | number)[], TokenRow>(sql).all(...params).map(tokenFromRow);
  }

  async revokeEnrollmentToken(fleetId: string, id: string): Promise<EnrollmentToken> {
    const info = this.db
      .prepare('UPDATE enrollment_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE fleet_id = ? AND id = ?')
      .run(this.now(), v.id('fleet', fleetId), v.boundedString('id', id, v.MAX_NAME_LENGTH));
    const token = info.changes === 1 ? await this.getEnrollmentToken(fleetId, id) : undefined;
    if (token === undefined) throw new RecordNotFound(`enrollment token does not exist in fleet "${fleetId}"`);
    return token;
  }

  async burnEnrollmentToken(tokenHash: Uint8Array, now: Millis): Promise<BurnResult> {
    assertTokenHash('tokenHash', tokenHash);
    const at = v.millis('now', now);
    // Precondition: a token burns at most once. One conditional UPDATE is the whole decision: the
    // database's write lock serialises concurrent burns (connections, processes, replicas) and
    // only the one that flips used_at from NULL sees changes === 1. Check-then-write would race.
    const info = this.db
      .prepare('UPDATE enrollment_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?')
      .run(at, tokenHash, at);
    const row = this.db.prepare<[Uint8Array], TokenRow>('SELECT * FROM enrollment_tokens WHERE token_hash = ?').get(tokenHash);
    if (row === undefined || !tokenHashesEqual(row.token_hash, tokenHash)) return { ok: false, reason: 'unknown' };
    if (info.changes === 1) return { ok: true, token: tokenFromRow(row) };
    if (row.used_at !== null) return { ok: false, reason: 'used' };
    if (row.revoked_at !== null) return { ok: false, reason: 'revoked' };
    return { ok: false, reason: 'expired' };
  }

  async setEnrollmentTokenDevice(fleetId: string, tokenId: string, deviceId: string): Promise<void> {
    const info = this.db
      .prepare('UPDATE enrollment_tokens SET used_by_device_id = ? WHERE fleet_id = ? AND id = ? AND used_at IS NOT NULL')
      .run(v.id('device', deviceId), v.id('fleet', fleetId), v.boundedString('tokenId', tokenId, v.MAX_NAME_LENGTH));
    if (info.changes !== 1) throw new RecordNotFound(`burnt enrollment token does not exist in fleet "${fleetId}"`);
  }

  // ---- devices -----------------------------------------------------------------------------

  async createDevice(input: NewDevice): Promise<Device> {
    const row: DeviceRow = {
      fleet_id: v.id('fleet', input.fleetId),
      device_id: v.id('device', input.deviceId),
      group_id: v.optionalGroup(input.groupId),
      serial: v.stringUpTo('serial', input.serial, v.MAX_SERIAL_LENGTH),
      certificate_der: Buffer.from(v.bytes('certificateDer', input.certificateDer, v.MAX_CERTIFICATE_DER_LENGTH)),
      certificate_serial: v.matching('certificateSerial', input.certificateSerial, v.CERTIFICATE_SERIAL_PATTERN),
      key_algorithm: v.matching('keyAlgorithm', input.keyAlgorithm, v.KEY_ALGORITHM_PATTERN),
      status: 'active',
      enrolled_at: this.now(),
      revoked_at: null,
      revocation_reason: null,
      last_contact: null,
      acked_bundle_sequence: 0,
      acked_command_sequence: 0,
      acked_revocation_sequence: 0,
    };
    constraint(
      () =>
        this.db
          .prepare(
            `INSERT INTO devices (fleet_id, device_id, group_id, serial, certificate_der, certificate_serial, key_algorithm, status, enrolled_at, revoked_at)
             VALUES (@fleet_id, @device_id, @group_id, @serial, @certificate_der, @certificate_serial, @key_algorithm, @status, @enrolled_at, @revoked_at)`,
          )
          .run(row),
      { exists: `device "${row.device_id}" already exists in fleet "${row.fleet_id}"`, missing: `fleet "${row.fleet_id}" or its group does not exist` },
    );
    return deviceFromRow(row);
  }

  async getDevice(fleetId: string, deviceId: string): Promise<Device | undefined> {
    const row = this.db
      .prepare<[string, string], DeviceRow>('SELECT * FROM devices WHERE fleet_id = ? AND device_id = ?')
      .get(v.id('fleet', fleetId), v.id('device', deviceId));
    return row === undefined ? undefined : deviceFromRow(row);
  }

  async listDevices(fleets: FleetSelector, filter: DeviceFilter = {}): Promise<Device[]> {
    const { where, params } = fleetAndGroup(fleets, filter.groupId);
    if (filter.status !== undefined) {
      if (filter.status !== 'active' && filter.status !== 'revoked') throw new TypeError('"status" expected active or revoked');
      where.push('status = ?');
      params.push(filter.status);
    }
    const sql = `SELECT * FROM devices ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY fleet_id, device_id`;
    return this.db.prepare<(string | number)[], DeviceRow>(sql).all(...params).map(deviceFromRow);
  }

  async revokeDevice(fleetId: string, deviceId: string, reason?: string): Promise<Device> {
    const why = reason === undefined ? null : v.boundedString('reason', reason, v.MAX_REASON_LENGTH);
    const info = this.db
      .prepare(
        "UPDATE devices SET status = 'revoked', revoked_at = coalesce(revoked_at, ?), revocation_reason = CASE WHEN revoked_at IS NULL THEN ? ELSE revocation_reason END WHERE fleet_id = ? AND device_id = ?",
      )
      .run(this.now(), why, v.id('fleet', fleetId), v.id('device', deviceId));
    const device = info.changes === 1 ? await this.getDevice(fleetId, deviceId) : undefined;
    if (device === undefined) throw new RecordNotFound(`device "${deviceId}" does not exist in fleet "${fleetId}"`);
    return device;
  }

  async updateDeviceCertificate(fleetId: string, deviceId: string, certificateDer: Uint8Array, certificateSerial: string): Promise<Device> {
    const der = Buffer.from(v.bytes('certificateDer', certificateDer, v.MAX_CERTIFICATE_DER_LENGTH));
    const serial = v.matching('certificateSerial', certificateSerial, v.CERTIFICATE_SERIAL_PATTERN);
    const current = await this.getDevice(fleetId, deviceId);
    if (current === undefined) throw new RecordNotFound(`device "${deviceId}" does not exist in fleet "${fleetId}"`);
    // Precondition: a revoked device never gets a certificate again.
    if (current.status !== 'active') throw new IllegalStateTransition(`device "${deviceId}" is revoked`);
    const info = this.db
      .prepare("UPDATE devices SET certificate_der = ?, certificate_serial = ? WHERE fleet_id = ? AND device_id = ? AND status = 'active'")
      .run(der, serial, current.fleetId, current.deviceId);
    // Another connection revoked it between the read and the write.
    if (info.changes !== 1) throw new IllegalStateTransition(`device "${deviceId}" is revoked`);
    return { ...current, certificateDer: der, certificateSerial: serial };
  }

  // ---- communication epochs ----------------------------------------------------------------

  async createEpoch(input: NewEpoch): Promise<CommunicationEpoch> {
    const row: EpochRow = {
      fleet_id: v.id('fleet', input.fleetId),
      group_id: v.optionalGroup(input.groupId),
      version: v.positiveInteger('version', input.version),
      state: v.keyState(input.state),
      wrapped_key: Buffer.from(v.bytes('wrappedKey', input.wrappedKey, v.MAX_WRAPPED_KEY_LENGTH)),
      not_before: v.millis('notBefore', input.notBefore),
      not_after: v.millis('notAfter', input.notAfter),
      created_at: this.now(),
    };
    if (row.not_after <= row.not_before) throw new RangeError('"notAfter" expected to be after "notBefore"');
    constraint(
      () =>
        this.db
          .prepare(
            `INSERT INTO epochs (fleet_id, group_id, version, state, wrapped_key, not_before, not_after, created_at)
             VALUES (@fleet_id, @group_id, @version, @state, @wrapped_key, @not_before, @not_after, @created_at)`,
          )
          .run(row),
      { exists: `epoch version ${row.version} already exists`, missing: `fleet "${row.fleet_id}" or its group does not exist` },
    );
    return epochFromRow(row);
  }

  async getEpoch(fleetId: string, groupId: string | null, version: number): Promise<CommunicationEpoch | undefined> {
    const row = this.db
      .prepare<[string, string | null, number], EpochRow>(`SELECT * FROM epochs WHERE fleet_id = ? AND ${GROUP_SERIES} AND version = ?`)
      .get(v.id('fleet', fleetId), v.optionalGroup(groupId), v.positiveInteger('version', version));
    return row === undefined ? undefined : epochFromRow(row);
  }

  async listEpochs(fleetId: string, filter: EpochFilter = {}): Promise<CommunicationEpoch[]> {
    const where = ['fleet_id = ?'];
    const params: (string | null)[] = [v.id('fleet', fleetId)];
    if (filter.groupId !== undefined) {
      where.push(GROUP_SERIES);
      params.push(v.optionalGroup(filter.groupId));
    }
    if (filter.states !== undefined) {
      const states = filter.states.map(v.keyState);
      if (states.length === 0) return [];
      where.push(`state IN (${states.map(() => '?').join(', ')})`);
      params.push(...states);
    }
    const sql = `SELECT * FROM epochs WHERE ${where.join(' AND ')} ORDER BY coalesce(group_id, ''), version`;
    return this.db.prepare<(string | null)[], EpochRow>(sql).all(...params).map(epochFromRow);
  }

  async latestEpochVersion(fleetId: string, groupId: string | null): Promise<number> {
    const row = this.db
      .prepare<[string, string | null], { latest: number | null }>(`SELECT max(version) AS latest FROM epochs WHERE fleet_id = ? AND ${GROUP_SERIES}`)
      .get(v.id('fleet', fleetId), v.optionalGroup(groupId));
    return row?.latest ?? 0;
  }

  async setEpochState(fleetId: string, groupId: string | null, version: number, state: KeyState): Promise<CommunicationEpoch> {
    const next = v.keyState(state);
    const current = await this.getEpoch(fleetId, groupId, version);
    if (current === undefined) throw new RecordNotFound(`epoch version ${version} does not exist in fleet "${fleetId}"`);
    // Precondition: epoch states follow the key lifecycle (libs/key-types states.ts).
    assertTransition(current.state, next);
    // Compare-and-set on the state read above, so a concurrent writer cannot be overwritten.
    const info = this.db
      .prepare(`UPDATE epochs SET state = ? WHERE fleet_id = ? AND ${GROUP_SERIES} AND version = ? AND state = ?`)
      .run(next, current.fleetId, current.groupId, current.version, current.state);
    if (info.changes !== 1) throw new IllegalStateTransition(`epoch version ${version} changed state concurrently`);
    return { ...current, state: next };
  }

  async destroyEpoch(fleetId: string, groupId: string | null, version: number): Promise<CommunicationEpoch> {
    const current = await this.getEpoch(fleetId, groupId, version);
    if (current === undefined) throw new RecordNotFound(`epoch version ${version} does not exist in fleet "${fleetId}"`);
    // Precondition: only a state the key lifecycle lets become destroyed (libs/key-types states.ts).
    assertTransition(current.state, 'destroyed');
    // The state change and the erasure are one statement: a destroyed epoch never keeps its bytes.
    // SQLite reuses the freed page space; secure_delete (set on the connection) zeroes it.
    const info = this.db
      .prepare(`UPDATE epochs SET state = 'destroyed', wrapped_key = zeroblob(0) WHERE fleet_id = ? AND ${GROUP_SERIES} AND version = ? AND state = ?`)
      .run(current.fleetId, current.groupId, current.version, current.state);
    if (info.changes !== 1) throw new IllegalStateTransition(`epoch version ${version} changed state concurrently`);
    return { ...current, state: 'destroyed', wrappedKey: new Uint8Array(0) };
  }

  // ---- command sequence --------------------------------------------------------------------

  async nextSequence(fleetId: string): Promise<number> {
    const fleet = v.id('fleet', fleetId);
    // One statement: the increment and the read are atomic under the write lock.
    const row = constraint(
      () =>
        this.db
          .prepare<[string], { last: number }>(
            'INSERT INTO command_sequences (fleet_id, last) VALUES (?, 1) ON CONFLICT (fleet_id) DO UPDATE SET last = last + 1 RETURNING last',
          )
          .get(fleet),
      { missing: `fleet "${fleet}" does not exist` },
    );
    if (row === undefined) throw new RecordNotFound(`fleet "${fleet}" does not exist`);
    return row.last;
  }

  async currentSequence(fleetId: string): Promise<number> {
    const row = this.db.prepare<[string], { last: number }>('SELECT last FROM command_sequences WHERE fleet_id = ?').get(v.id('fleet', fleetId));
    return row?.last ?? 0;
  }

  // ---- device acknowledgements ---------------------------------------------------------------

  async recordDeviceAck(fleetId: string, deviceId: string, kind: DeviceAckKind, sequence: number): Promise<Device> {
    const column = ACK_COLUMNS[kind];
    if (column === undefined) throw new TypeError(`"kind" expected one of ${DEVICE_ACK_KINDS.join(', ')}`);
    const seq = v.sequence('sequence', sequence);
    // max(): an ack that arrives late (lower than one already recorded) changes nothing.
    const info = this.db
      .prepare(`UPDATE devices SET ${column} = max(${column}, ?), last_contact = ? WHERE fleet_id = ? AND device_id = ?`)
      .run(seq, this.now(), v.id('fleet', fleetId), v.id('device', deviceId));
    const device = info.changes === 1 ? await this.getDevice(fleetId, deviceId) : undefined;
    if (device === undefined) throw new RecordNotFound(`device "${deviceId}" does not exist in fleet "${fleetId}"`);
    return device;
  }

  async touchDevice(fleetId: string, deviceId: string): Promise<void> {
    const info = this.db.prepare('UPDATE devices SET last_contact = ? WHERE fleet_id = ? AND device_id = ?').run(this.now(), v.id('fleet', fleetId), v.id('device', deviceId));
    if (info.changes !== 1) throw new RecordNotFound(`device "${deviceId}" does not exist in fleet "${fleetId}"`);
  }

  // ---- commands and acknowledgements ---------------------------------------------------------

  async createCommand(input: NewCommand): Promise<IssuedCommand> {
    const scope = v.scope(input.scope);
    const row: CommandRow = {
      fleet_id: v.id('fleet', input.fleetId),
      sequence: v.sequence('sequence', input.sequence),
      action: v.oneOf('action', input.action, COMMAND_ACTIONS),
      scope_kind: scope.kind,
      scope_id: scope.id,
      reason: v.stringUpTo('reason', input.reason, v.MAX_REASON_LENGTH),
      issued_by: v.boundedString('issuedBy', input.issuedBy, v.MAX_NAME_LENGTH),
      issued_at: v.millis('issuedAt', input.issuedAt),
      expires_at: v.millis('expiresAt', input.expiresAt),
      request_id: input.requestId === null ? null : v.boundedString('requestId', input.requestId, v.MAX_NAME_LENGTH),
      wipe: input.wipe ? 1 : 0,
      signed_command: Buffer.from(v.bytes('signedCommand', input.signedCommand, v.MAX_SIGNED_COMMAND_LENGTH)),
    };
    if (row.expires_at <= row.issued_at) throw new RangeError('"expiresAt" expected a time after "issuedAt"');
    constraint(
      () =>
        this.db
          .prepare(
            'INSERT INTO commands (fleet_id, sequence, action, scope_kind, scope_id, reason, issued_by, issued_at, expires_at, request_id, wipe, signed_command) VALUES (@fleet_id, @sequence, @action, @scope_kind, @scope_id, @reason, @issued_by, @issued_at, @expires_at, @request_id, @wipe, @signed_command)',
          )
          .run(row),
      { exists: `command ${row.sequence} already exists in fleet "${row.fleet_id}"`, missing: `fleet "${row.fleet_id}" does not exist` },
    );
    return commandFromRow(row);
  }

  async getCommand(fleetId: string, sequence: number): Promise<IssuedCommand | undefined> {
    const row = this.db.prepare<[string, number], CommandRow>('SELECT * FROM commands WHERE fleet_id = ? AND sequence = ?').get(v.id('fleet', fleetId), v.sequence('sequence', sequence));
    return row === undefined ? undefined : commandFromRow(row);
  }

  async listCommands(fleetId: string, filter: { readonly afterSequence?: number; readonly action?: CommandAction; readonly limit?: number } = {}): Promise<IssuedCommand[]> {
    const params: (string | number)[] = [v.id('fleet', fleetId), filter.afterSequence === undefined ? 0 : v.sequence('afterSequence', filter.afterSequence, 0)];
    let sql = 'SELECT * FROM commands WHERE fleet_id = ? AND sequence > ?';
    if (filter.action !== undefined) {
      sql += ' AND action = ?';
      params.push(v.oneOf('action', filter.action, COMMAND_ACTIONS));
    }
    const limit = filter.limit === undefined ? v.MAX_LIST_PAGE : v.sequence('limit', filter.limit);
    if (limit > v.MAX_LIST_PAGE) throw new RangeError(`"limit" expected at most ${v.MAX_LIST_PAGE}`);
    sql += ' ORDER BY sequence LIMIT ?';
    params.push(limit);
    return this.db.prepare<(string | number)[], CommandRow>(sql).all(...params).map(commandFromRow);
  }

  async latestCommandFor(fleetId: string, scope: CommandScope, actions: readonly CommandAction[]): Promise<IssuedCommand | undefined> {
    const target = v.scope(scope);
    if (!Array.isArray(actions) || actions.length === 0) throw new TypeError('"actions" expected at least one action');
    const wanted = actions.map((action) => v.oneOf('action', action, COMMAND_ACTIONS));
    // Walks the fleet's commands backwards by primary key and stops at the first match.
    const row = this.db
      .prepare<(string | null)[], CommandRow>(
        `SELECT * FROM commands WHERE fleet_id = ? AND scope_kind = ? AND scope_id IS ? AND action IN (${wanted.map(() => '?').join(', ')}) ORDER BY sequence DESC LIMIT 1`,
      )
      .get(v.id('fleet', fleetId), target.kind, target.id, ...wanted);
    return row === undefined ? undefined : commandFromRow(row);
  }

  async recordCommandAck(input: NewCommandAck): Promise<CommandAck> {
    const row: CommandAckRow = {
      fleet_id: v.id('fleet', input.fleetId),
      sequence: v.sequence('sequence', input.sequence),
      device_id: v.id('device', input.deviceId),
      outcome: v.oneOf('outcome', input.outcome, COMMAND_ACK_OUTCOMES),
      acked_at: this.now(),
    };
    constraint(
      () =>
        this.db
          .prepare(
            'INSERT INTO command_acks (fleet_id, sequence, device_id, outcome, acked_at) VALUES (@fleet_id, @sequence, @device_id, @outcome, @acked_at) ON CONFLICT (fleet_id, sequence, device_id) DO UPDATE SET outcome = excluded.outcome, acked_at = excluded.acked_at',
          )
          .run(row),
      { missing: `command ${row.sequence} or device "${row.device_id}" does not exist in fleet "${row.fleet_id}"` },
    );
    return commandAckFromRow(row);
  }

  async listCommandAcks(fleetId: string, sequence: number): Promise<CommandAck[]> {
    return this.db
      .prepare<[string, number], CommandAckRow>('SELECT * FROM command_acks WHERE fleet_id = ? AND sequence = ? ORDER BY device_id')
      .all(v.id('fleet', fleetId), v.sequence('sequence', sequence))
      .map(commandAckFromRow);
  }

  // ---- lift requests ---------------------------------------------------------------------------

  private liftApprovals(id: string): LiftApproval[] {
    return this.db
      .prepare<[string], { operator_id: string; approved_at: number }>('SELECT operator_id, approved_at FROM lift_approvals WHERE request_id = ? ORDER BY approved_at, rowid')
      .all(id)
      .map((r) => ({ operatorId: r.operator_id, approvedAt: r.approved_at }));
  }

  async createLiftRequest(input: NewLiftRequest): Promise<LiftRequest> {
    const scope = v.scope(input.scope);
    const now = this.now();
    const kind = v.oneOf('kind', input.kind ?? 'lift', APPROVAL_KINDS);
    const target = input.target ?? null;
    // Precondition: a lift names what it lifts by its scope; every destructive kind names its target.
    if ((kind === 'lift') !== (target === null)) throw new TypeError('"target" is given exactly when the kind is not lift');
    const row: LiftRequestRow = {
      kind,
      target: target === null ? null : v.jsonObjectText('target', target, MAX_APPROVAL_TARGET_LENGTH),
      id: this.newId(),
      fleet_id: v.id('fleet', input.fleetId),
      scope_kind: scope.kind,
      scope_id: scope.id,
      reason: v.stringUpTo('reason', input.reason, v.MAX_REASON_LENGTH),
      requested_by: v.boundedString('requestedBy', input.requestedBy, v.MAX_NAME_LENGTH),
      requested_at: now,
      expires_at: v.millis('expiresAt', input.expiresAt),
      state: 'pending',
      executed_sequence: null,
    };
    if (row.expires_at <= now) throw new RangeError('"expiresAt" expected a time in the future');
    this.db.transaction(() => {
      constraint(
        () =>
          this.db
            .prepare(
              'INSERT INTO lift_requests (id, fleet_id, scope_kind, scope_id, reason, requested_by, requested_at, expires_at, state, executed_sequence, kind, target) VALUES (@id, @fleet_id, @scope_kind, @scope_id, @reason, @requested_by, @requested_at, @expires_at, @state, @executed_sequence, @kind, @target)',
            )
            .run(row),
        { missing: `fleet "${row.fleet_id}" does not exist` },
      );
      this.db.prepare('INSERT INTO lift_approvals (request_id, operator_id, approved_at) VALUES (?, ?, ?)').run(row.id, row.requested_by, now);
    })();
    return liftRequestFromRow(row, [{ operatorId: row.requested_by, approvedAt: now }]);
  }

  async getLiftRequest(fleetId: string, id: string): Promise<LiftRequest | undefined> {
    const row = this.db
      .prepare<[string, string], LiftRequestRow>('SELECT * FROM lift_requests WHERE fleet_id = ? AND id = ?')
      .get(v.id('fleet', fleetId), v.boundedString('id', id, v.MAX_NAME_LENGTH));
    return row === undefined ? undefined : liftRequestFromRow(row, this.liftApprovals(row.id));
  }

  async listLiftRequests(fleetId: string, filter: { readonly state?: LiftRequestState; readonly kind?: ApprovalKind | 'any' } = {}): Promise<LiftRequest[]> {
    const params: string[] = [v.id('fleet', fleetId)];
    let sql = 'SELECT * FROM lift_requests WHERE fleet_id = ?';
    const kind = filter.kind ?? 'lift';
    if (kind !== 'any') {
      sql += ' AND kind = ?';
      params.push(v.oneOf('kind', kind, APPROVAL_KINDS));
    }
    if (filter.state !== undefined) {
      sql += ' AND state = ?';
      params.push(v.oneOf('state', filter.state, LIFT_REQUEST_STATES));
    }
    sql += ' ORDER BY requested_at DESC, id';
    return this.db.prepare<string[], LiftRequestRow>(sql).all(...params).map((row) => liftRequestFromRow(row, this.liftApprovals(row.id)));
  }

  async addLiftApproval(fleetId: string, id: string, operatorId: string): Promise<LiftRequest> {
    const current = await this.getLiftRequest(fleetId, id);
    if (current === undefined) throw new RecordNotFound(`lift request "${id}" does not exist in fleet "${fleetId}"`);
    if (current.state !== 'pending') throw new IllegalStateTransition(`lift request "${id}" is ${current.state}, not pending`);
    const operator = v.boundedString('operatorId', operatorId, v.MAX_NAME_LENGTH);
    constraint(() => this.db.prepare('INSERT INTO lift_approvals (request_id, operator_id, approved_at) VALUES (?, ?, ?)').run(current.id, operator, this.now()), {
      exists: `operator "${operator}" already approved lift request "${id}"`,
    });
    return (await this.getLiftRequest(fleetId, id))!;
  }

  async setLiftRequestState(fleetId: string, id: string, state: Exclude<LiftRequestState, 'pending'>, executedSequence?: number): Promise<LiftRequest> {
    const next = v.oneOf('state', state, LIFT_REQUEST_STATES);
    if (next === 'pending') throw new IllegalStateTransition('a lift request cannot go back to pending');
    if (next !== 'executed' && executedSequence !== undefined) throw new TypeError('"executedSequence" is given only when the state is executed');
    const request = await this.getLiftRequest(fleetId, id);
    // An executed lift names the LIFT command it issued; other kinds issue no command.
    if (request !== undefined && next === 'executed' && (request.kind === 'lift') !== (executedSequence !== undefined)) {
      throw new TypeError('"executedSequence" is given exactly when a lift is executed');
    }
    const info = this.db
      .prepare("UPDATE lift_requests SET state = ?, executed_sequence = ? WHERE fleet_id = ? AND id = ? AND state = 'pending'")
      .run(next, executedSequence === undefined ? null : v.sequence('executedSequence', executedSequence), v.id('fleet', fleetId), v.boundedString('id', id, v.MAX_NAME_LENGTH));
    const after = await this.getLiftRequest(fleetId, id);
    if (after === undefined) throw new RecordNotFound(`lift request "${id}" does not exist in fleet "${fleetId}"`);
    if (info.changes !== 1) throw new IllegalStateTransition(`lift request "${id}" is ${after.state}, not pending`);
    return after;
  }

  // ---- signed artefacts ----------------------------------------------------------------------

  async putSignedArtifact(input: Omit<SignedArtifact, 'issuedAt'>): Promise<SignedArtifact> {
    const row: SignedArtifactRow = {
      fleet_id: v.id('fleet', input.fleetId),
      kind: v.oneOf('kind', input.kind, SIGNED_ARTIFACT_KINDS),
      name: v.stringUpTo('name', input.name, v.MAX_NAME_LENGTH),
      sequence: v.sequence('sequence', input.sequence),
      bytes: Buffer.from(v.bytes('bytes', input.bytes, v.MAX_SIGNED_ARTIFACT_LENGTH)),
      issued_at: this.now(),
    };
    const current = await this.getSignedArtifact(row.fleet_id, row.kind as SignedArtifactKind, row.name);
    // Precondition: a signed artefact's sequence only grows; an older one never replaces a newer.
    if (current !== undefined && row.sequence <= current.sequence) {
      throw new IllegalStateTransition(`${row.kind} ${row.name} of fleet "${row.fleet_id}" is at sequence ${current.sequence}; ${row.sequence} is not newer`);
    }
    constraint(
      () =>
        this.db
          .prepare(
            'INSERT INTO signed_artifacts (fleet_id, kind, name, sequence, bytes, issued_at) VALUES (@fleet_id, @kind, @name, @sequence, @bytes, @issued_at) ON CONFLICT (fleet_id, kind, name) DO UPDATE SET sequence = excluded.sequence, bytes = excluded.bytes, issued_at = excluded.issued_at',
          )
          .run(row),
      { missing: `fleet "${row.fleet_id}" does not exist` },
    );
    return signedArtifactFromRow(row);
  }

  async getSignedArtifact(fleetId: string, kind: SignedArtifactKind, name: string): Promise<SignedArtifact | undefined> {
    const row = this.db
      .prepare<[string, string, string], SignedArtifactRow>('SELECT * FROM signed_artifacts WHERE fleet_id = ? AND kind = ? AND name = ?')
      .get(v.id('fleet', fleetId), v.oneOf('kind', kind, SIGNED_ARTIFACT_KINDS), v.stringUpTo('name', name, v.MAX_NAME_LENGTH));
    return row === undefined ? undefined : signedArtifactFromRow(row);
  }

  // ---- settings ----------------------------------------------------------------------------

  async getSetting(key: string): Promise<string | undefined> {
    const row = this.db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(v.boundedString('key', key, v.MAX_SETTING_KEY_LENGTH));
    return row?.value;
  }

  async setSetting(key: string, value: string): Promise<void> {
    this.db
      .prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
      .run(v.boundedString('key', key, v.MAX_SETTING_KEY_LENGTH), v.boundedString('value', value, v.MAX_SETTING_VALUE_LENGTH));
  }
}
