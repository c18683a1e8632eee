/**
 * The repository conformance suite: every Repository implementation (SQLite here, PostgreSQL in
 * issue 9) runs `runRepositoryConformance(factory)` in its spec and must pass unchanged.
 *
 * Test support only: imports vitest, never imported by production code.
 */
import { randomBytes } from 'node:crypto';
import { isFleetkeyError, type FleetkeyErrorCode } from '@fleetkey/key-types';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALL_FLEETS, type Millis, type NewAuditRecord, type NewCommand, type Repository } from './repository.js';
import { generateToken, hashToken } from './tokens.js';

/** A settable clock for implementations under test. */
export interface ManualClock {
  (): Millis;
  set(value: Millis): void;
  advance(by: Millis): void;
}

export function manualClock(start: Millis = Date.UTC(2026, 0, 1)): ManualClock {
  let current = start;
  const clock = (() => current) as ManualClock;
  clock.set = (value) => {
    current = value;
  };
  clock.advance = (by) => {
    current += by;
  };
  return clock;
}

export interface RepositoryUnderTest {
  readonly repository: Repository;
  /** The clock the repository was built with. */
  readonly clock: ManualClock;
  /** Closes the repository and removes whatever it created. */
  readonly cleanup: () => Promise<void>;
}

/** Makes a fresh, empty, migrated repository; called once per test. */
export type RepositoryFactory = () => Promise<RepositoryUnderTest>;

/** Resolves to the error's fleetkey code (or its constructor name for TypeError/RangeError). */
export async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isFleetkeyError(error)) return error.code;
    return error instanceof Error ? error.name : typeof error;
  }
  return 'resolved';
}

const HOUR = 3_600_000;
const der = (n = 300): Uint8Array => new Uint8Array(randomBytes(n));

export function runRepositoryConformance(name: string, factory: RepositoryFactory): void {
  describe(`Repository conformance: ${name}`, () => {
    let under: RepositoryUnderTest;
    let repo: Repository;
    let clock: ManualClock;

    beforeEach(async () => {
      under = await factory();
      repo = under.repository;
      clock = under.clock;
    });
    afterEach(async () => {
      await under.cleanup();
    });

    const expectCode = async (promise: Promise<unknown>, code: FleetkeyErrorCode | 'TypeError' | 'RangeError') => {
      expect(await rejectionCode(promise)).toBe(code);
    };

    const device = (fleetId: string, deviceId: string, groupId: string | null = null) =>
      repo.createDevice({ fleetId, deviceId, groupId, serial: `SN-${deviceId}`, certificateDer: der(), certificateSerial: '0a1b2c', keyAlgorithm: 'ECDSA_P256' });

    describe('fleets and groups', () => {
      it('creates, reads and lists fleets with the clock time', async () => {
        const fleet = await repo.createFleet({ id: 'alpha', name: 'Alpha warehouse' });
        expect(fleet).toEqual({ id: 'alpha', name: 'Alpha warehouse', createdAt: clock(), deletedAt: null });
        await repo.createFleet({ id: 'beta', name: 'Beta' });
        expect(await repo.getFleet('alpha')).toEqual(fleet);
        expect(await repo.getFleet('gamma')).toBeUndefined();
        expect((await repo.listFleets()).map((f) => f.id)).toEqual(['alpha', 'beta']);
      });

      it('hides a deleted fleet, keeps its records readable, and refuses anything new in it', async () => {
        await repo.createFleet({ id: 'alpha', name: 'A' });
        await repo.createFleet({ id: 'beta', name: 'B' });
        await repo.createGroup({ fleetId: 'alpha', id: 'line-1', name: 'L1' });
        await device('alpha', 'robot-1');
        clock.advance(5);
        const deleted = await repo.deleteFleet('alpha');
        expect(deleted.deletedAt).toBe(clock());
        expect(await repo.getFleet('alpha')).toBeUndefined();
        expect((await repo.getFleet('alpha', { includeDeleted: true }))?.deletedAt).toBe(clock());
        expect((await repo.listFleets()).map((f) => f.id)).toEqual(['beta']);
        expect((await repo.listFleets({ includeDeleted: true })).map((f) => f.id)).toEqual(['alpha', 'beta']);
        expect((await repo.getDevice('alpha', 'robot-1'))?.deviceId).toBe('robot-1');
        await expectCode(repo.deleteFleet('alpha'), 'RECORD_NOT_FOUND');
        await expectCode(repo.deleteFleet('nope'), 'RECORD_NOT_FOUND');
        await expectCode(repo.createFleet({ id: 'alpha', name: 'again' }), 'RECORD_EXISTS');
        await expectCode(repo.createGroup({ fleetId: 'alpha', id: 'line-2', name: 'L2' }), 'RECORD_NOT_FOUND');
        await expectCode(device('alpha', 'robot-2'), 'RECORD_NOT_FOUND');
        await expectCode(repo.createEnrollmentToken({ fleetId: 'alpha', tokenHash: new Uint8Array(32).fill(7), expiresAt: clock() + HOUR }), 'RECORD_NOT_FOUND');
        await expectCode(repo.createEpoch({ fleetId: 'alpha', version: 1, state: 'pending', wrappedKey: der(), notBefore: clock(), notAfter: clock() + HOUR }), 'RECORD_NOT_FOUND');
        await expectCode(repo.nextSequence('alpha'), 'RECORD_NOT_FOUND');
        await expectCode(repo.putSignedArtifact({ fleetId: 'alpha', kind: 'revocation-list', name: '', sequence: 1, bytes: new Uint8Array([1]) }), 'RECORD_NOT_FOUND');
        await expectCode(repo.createLiftRequest({ fleetId: 'alpha', scope: { kind: 'fleet' }, reason: 'x', requestedBy: 'op-1', expiresAt: clock() + HOUR }), 'RECORD_NOT_FOUND');
        await repo.createGroup({ fleetId: 'beta', id: 'line-2', name: 'L2' });
      });

      it('refuses a duplicate fleet id and a malformed one', async () => {
        await repo.createFleet({ id: 'alpha', name: 'A' });
        await expectCode(repo.createFleet({ id: 'alpha', name: 'again' }), 'RECORD_EXISTS');
        await expectCode(repo.createFleet({ id: 'a/b', name: 'x' }), 'INVALID_IDENTIFIER');
        await expectCode(repo.createFleet({ id: 'ok', name: 'n'.repeat(257) }), 'RangeError');
      });

      it('scopes groups to their fleet', async () => {
        await repo.createFleet({ id: 'alpha', name: 'A' });
        await repo.createFleet({ id: 'beta', name: 'B' });
        await repo.createGroup({ fleetId: 'alpha', id: 'line-1', name: 'Line 1' });
        await repo.createGroup({ fleetId: 'beta', id: 'line-1', name: 'Line 1 of beta' });
        await expectCode(repo.createGroup({ fleetId: 'alpha', id: 'line-1', name: 'dup' }), 'RECORD_EXISTS');
        await expectCode(repo.createGroup({ fleetId: 'nope', id: 'line-1', name: 'x' }), 'RECORD_NOT_FOUND');
        expect((await repo.getGroup('beta', 'line-1'))?.name).toBe('Line 1 of beta');
        expect(await repo.getGroup('alpha', 'line-2')).toBeUndefined();
        expect((await repo.listGroups('alpha')).map((g) => [g.fleetId, g.id])).toEqual([['alpha', 'line-1']]);
      });
    });

    describe('operators', () => {
      beforeEach(async () => {
        await repo.createFleet({ id: 'alpha', name: 'A' });
        await repo.createFleet({ id: 'beta', name: 'B' });
      });

      it('stores an operator with its scope and finds it by token hash only', async () => {
        const token = generateToken('operator');
        const created = await repo.createOperator({ name: 'ada', role: 'operator', fleetScope: { kind: 'fleets', fleetIds: ['beta', 'alpha'] }, tokenHash: hashToken(token) });
        expect(created.fleetScope).toEqual({ kind: 'fleets', fleetIds: ['alpha', 'beta'] });
        const found = await repo.findOperatorByTokenHash(hashToken(token));
        expect(found?.id).toBe(created.id);
        expect(found?.fleetScope).toEqual({ kind: 'fleets', fleetIds: ['alpha', 'beta'] });
        expect(Buffer.from(found?.tokenHash ?? []).equals(hashToken(token))).toBe(true);
        expect(await repo.findOperatorByTokenHash(hashToken(generateToken('operator')))).toBeUndefined();
        const admin = await repo.createOperator({ name: 'root', role: 'admin', fleetScope: { kind: 'all' }, tokenHash: hashToken(generateToken('operator')) });
        expect((await repo.getOperator(admin.id))?.fleetScope).toEqual({ kind: 'all' });
        expect((await repo.listOperators()).map((o) => o.name).sort()).toEqual(['ada', 'root']);
      });

      it('Precondition: a token hash must be 32 bytes (a raw token is refused)', async () => {
        const raw = new TextEncoder().encode(generateToken('operator'));
        await expectCode(repo.findOperatorByTokenHash(raw), 'TypeError');
        await expectCode(repo.createOperator({ name: 'x', role: 'admin', fleetScope: { kind: 'all' }, tokenHash: raw }), 'TypeError');
      });

      it('refuses an unknown role, an unknown scoped fleet (leaving nothing behind) and a reused token hash', async () => {
        const hash = hashToken(generateToken('operator'));
        await expectCode(repo.createOperator({ name: 'x', role: 'root' as 'admin', fleetScope: { kind: 'all' }, tokenHash: hash }), 'TypeError');
        await expectCode(repo.createOperator({ name: 'x', role: 'auditor', fleetScope: { kind: 'fleets', fleetIds: ['alpha', 'zeta'] }, tokenHash: hash }), 'RECORD_NOT_FOUND');
        expect(await repo.listOperators()).toEqual([]);
        await repo.createOperator({ name: 'x', role: 'factory', fleetScope: { kind: 'fleets', fleetIds: ['alpha'] }, tokenHash: hash });
        await expectCode(repo.createOperator({ name: 'y', role: 'factory', fleetScope: { kind: 'all' }, tokenHash: hash }), 'RECORD_EXISTS');
      });

      it('revokes idempotently, keeping the first revocation time', async () => {
        const op = await repo.createOperator({ name: 'x', role: 'operator', fleetScope: { kind: 'all' }, tokenHash: hashToken(generateToken('operator')) });
        const first = clock();
        expect((await repo.revokeOperator(op.id)).revokedAt).toBe(first);
        clock.advance(HOUR);
        expect((await repo.revokeOperator(op.id)).revokedAt).toBe(first);
        expect((await repo.findOperatorByTokenHash(op.tokenHash))?.revokedAt).toBe(first);
        await expectCode(repo.revokeOperator('no-such-operator'), 'RECORD_NOT_FOUND');
      });
    });

    describe('enrollment tokens', () => {
      beforeEach(async () => {
        await repo.createFleet({ id: 'alpha', name: 'A' });
        await repo.createFleet({ id: 'beta', name: 'B' });
        await repo.createGroup({ fleetId: 'alpha', id: 'line-1', name: 'L1' });
      });

      const mint = async (fleetId = 'alpha', ttl = HOUR, groupId: string | null = null) => {
        const token = generateToken('enrollment');
        const row = await repo.createEnrollmentToken({ fleetId, groupId, serialPattern: 'SN-*', tokenHash: hashToken(token), expiresAt: clock() + ttl });
        return { token, row };
      };

      it('creates a scoped token and reads it back only in its fleet', async () => {
        const { row } = await mint('alpha', HOUR, 'line-1');
        expect(row).toMatchObject({ fleetId: 'alpha', groupId: 'line-1', serialPattern: 'SN-*', usedAt: null, revokedAt: null, expiresAt: clock() + HOUR });
        expect((await repo.getEnrollmentToken('alpha', row.id))?.id).toBe(row.id);
        expect(await repo.getEnrollmentToken('beta', row.id)).toBeUndefined();
        await expectCode(mint('alpha', HOUR, 'no-such-group'), 'RECORD_NOT_FOUND');
        await expectCode(mint('beta', HOUR, 'line-1'), 'RECORD_NOT_FOUND');
        await expectCode(mint('zeta'), 'RECORD_NOT_FOUND');
      });

      it('burns a valid token once, then reports it used', async () => {
        const { token, row } = await mint();
        const now = clock();
        const first = await repo.burnEnrollmentToken(hashToken(token), now);
        expect(first.ok).toBe(true);
        if (first.ok) expect(first.token).toMatchObject({ id: row.id, fleetId: 'alpha', usedAt: now });
        expect(await repo.burnEnrollmentToken(hashToken(token), now + 1)).toEqual({ ok: false, reason: 'used' });
        await repo.setEnrollmentTokenDevice('alpha', row.id, 'robot-1');
        expect((await repo.getEnrollmentToken('alpha', row.id))?.usedByDeviceId).toBe('robot-1');
        await expectCode(repo.setEnrollmentTokenDevice('beta', row.id, 'robot-1'), 'RECORD_NOT_FOUND');
      });

      it('reports unknown, expired (at the boundary) and revoked tokens, burning none of them', async () => {
        expect(await repo.burnEnrollmentToken(hashToken(generateToken('enrollment')), clock())).toEqual({ ok: false, reason: 'unknown' });
        const expiring = await mint('alpha', HOUR);
        expect(await repo.burnEnrollmentToken(hashToken(expiring.token), clock() + HOUR)).toEqual({ ok: false, reason: 'expired' });
        expect((await repo.getEnrollmentToken('alpha', expiring.row.id))?.usedAt).toBeNull();
        const revoked = await mint();
        await repo.revokeEnrollmentToken('alpha', revoked.row.id);
        expect(await repo.burnEnrollmentToken(hashToken(revoked.token), clock())).toEqual({ ok: false, reason: 'revoked' });
        expect((await repo.getEnrollmentToken('alpha', revoked.row.id))?.usedAt).toBeNull();
        await expectCode(repo.revokeEnrollmentToken('beta', revoked.row.id), 'RECORD_NOT_FOUND');
      });

      it('Precondition: a token burns at most once under concurrent burns', async () => {
        const { token } = await mint();
        const results = await Promise.all(Array.from({ length: 25 }, () => repo.burnEnrollmentToken(hashToken(token), clock())));
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok && r.reason === 'used')).toHaveLength(24);
      });

      it('Precondition: listing tokens needs a fleet or the explicit all-fleets selector', async () => {
        const a = await mint('alpha');
        const b = await mint('beta');
        const used = await mint('alpha');
        await repo.burnEnrollmentToken(hashToken(used.token), clock());
        expect((await repo.listEnrollmentTokens({ fleetId: 'alpha' })).map((t) => t.id).sort()).toEqual([a.row.id, used.row.id].sort());
        expect((await repo.listEnrollmentTokens({ fleetId: 'alpha' }, { usableAt: clock() })).map((t) => t.id)).toEqual([a.row.id]);
        expect((await repo.listEnrollmentTokens(ALL_FLEETS)).map((t) => t.id).sort()).toEqual([a.row.id, b.row.id, used.row.id].sort());
        await expectCode(repo.listEnrollmentTokens({} as never), 'TypeError');
        await expectCode(repo.listEnrollmentTokens({ allFleets: false } as never), 'TypeError');
      });
    });

    describe('devices', () => {
      beforeEach(async () => {
        await repo.createFleet({ id: 'alpha', name: 'A' });
        await repo.createFleet({ id: 'beta', name: 'B' });
        await repo.createGroup({ fleetId: 'alpha', id: 'line-1', name: 'L1' });
      });

      it('records a device with its certificate bytes exactly', async () => {
        const certificateDer = der(700);
        const created = await repo.createDevice({ fleetId: 'alpha', deviceId: 'robot-1', groupId: 'line-1', serial: 'SN-1', certificateDer, certificateSerial: '7f00ff', keyAlgorithm: 'ECDSA_P256' });
        expect(created).toMatchObject({ status: 'active', enrolledAt: clock(), revokedAt: null, groupId: 'line-1' });
        const read = await repo.getDevice('alpha', 'robot-1');
        expect(Buffer.from(read?.certificateDer ?? []).equals(Buffer.from(certificateDer))).toBe(true);
        expect(read).toMatchObject({ serial: 'SN-1', certificateSerial: '7f00ff', keyAlgorithm: 'ECDSA_P256' });
      });

      it('refuses a taken device id, an unknown group and malformed fields', async () => {
        await device('alpha', 'robot-1');
        await expectCode(device('alpha', 'robot-1'), 'RECORD_EXISTS');
        await device('beta', 'robot-1');
        await expectCode(device('alpha', 'robot-2', 'line-9'), 'RECORD_NOT_FOUND');
        await expectCode(device('alpha', 'robot/3'), 'INVALID_IDENTIFIER');
        await expectCode(repo.createDevice({ fleetId: 'alpha', deviceId: 'r4', serial: 's', certificateDer: der(), certificateSerial: 'XYZ', keyAlgorithm: 'ECDSA_P256' }), 'TypeError');
        await expectCode(repo.createDevice({ fleetId: 'alpha', deviceId: 'r4', serial: 's', certificateDer: der(16 * 1024 + 1), certificateSerial: '01', keyAlgorithm: 'ECDSA_P256' }), 'RangeError');
      });

      it('Precondition: device reads name their fleet and never see another fleet', async () => {
        await device('alpha', 'robot-1', 'line-1');
        await device('beta', 'robot-2');
        expect(await repo.getDevice('beta', 'robot-1')).toBeUndefined();
        expect((await repo.listDevices({ fleetId: 'beta' })).map((d) => d.deviceId)).toEqual(['robot-2']);
        expect((await repo.listDevices({ fleetId: 'alpha' }, { groupId: 'line-1' })).map((d) => d.deviceId)).toEqual(['robot-1']);
        expect((await repo.listDevices(ALL_FLEETS)).map((d) => `${d.fleetId}/${d.deviceId}`)).toEqual(['alpha/robot-1', 'beta/robot-2']);
        await expectCode(repo.listDevices(undefined as never), 'TypeError');
        await expectCode(repo.revokeDevice('beta', 'robot-1'), 'RECORD_NOT_FOUND');
      });

      it('Precondition: a revoked device never gets a certificate again (revocation is idempotent)', async () => {
        await device('alpha', 'robot-1');
        const renewed = await repo.updateDeviceCertificate('alpha', 'robot-1', new Uint8Array([1, 2, 3]), 'abcd');
        expect(renewed.certificateSerial).toBe('abcd');
        expect((await repo.getDevice('alpha', 'robot-1'))?.certificateSerial).toBe('abcd');
        const at = clock();
        expect(await repo.revokeDevice('alpha', 'robot-1')).toMatchObject({ status: 'revoked', revokedAt: at });
        clock.advance(HOUR);
        expect((await repo.revokeDevice('alpha', 'robot-1')).revokedAt).toBe(at);
        expect((await repo.listDevices({ fleetId: 'alpha' }, { status: 'active' }))).toEqual([]);
        await expectCode(repo.updateDeviceCertificate('alpha', 'robot-1', new Uint8Array([4]), '01'), 'ILLEGAL_STATE_TRANSITION');
        await expectCode(repo.updateDeviceCertificate('alpha', 'robot-9', new Uint8Array([4]), '01'), 'RECORD_NOT_FOUND');
      });
    });

    describe('communication epochs', () => {
      beforeEach(async () => {
        await repo.createFleet({ id: 'alpha', name: 'A' });
        await repo.createFleet({ id: 'beta', name: 'B' });
        await repo.createGroup({ fleetId: 'alpha', id: 'line-1', name: 'L1' });
      });

      const epoch = (fleetId: string, groupId: string | null, version: number, state: 'pending' | 'active' = 'active') =>
        repo.createEpoch({ fleetId, groupId, version, state, wrappedKey: der(120), notBefore: clock(), notAfter: clock() + 24 * HOUR });

      it('keeps one version series per fleet and per group', async () => {
        const e1 = await epoch('alpha', null, 1);
        await epoch('alpha', null, 2, 'pending');
        await epoch('alpha', 'line-1', 1);
        await epoch('beta', null, 1);
        await expectCode(epoch('alpha', null, 1), 'RECORD_EXISTS');
        await expectCode(epoch('alpha', 'line-1', 1), 'RECORD_EXISTS');
        await expectCode(epoch('alpha', 'line-9', 1), 'RECORD_NOT_FOUND');
        const read = await repo.getEpoch('alpha', null, 1);
        expect(read).toMatchObject({ fleetId: 'alpha', groupId: null, version: 1, state: 'active', createdAt: clock() });
        expect(Buffer.from(read?.wrappedKey ?? []).equals(Buffer.from(e1.wrappedKey))).toBe(true);
        expect(await repo.getEpoch('beta', null, 2)).toBeUndefined();
        expect(await repo.latestEpochVersion('alpha', null)).toBe(2);
        expect(await repo.latestEpochVersion('alpha', 'line-1')).toBe(1);
        expect(await repo.latestEpochVersion('beta', 'line-1')).toBe(0);
        expect((await repo.listEpochs('alpha')).map((e) => `${e.groupId ?? '*'}:${e.version}`)).toEqual(['*:1', '*:2', 'line-1:1']);
        expect((await repo.listEpochs('alpha', { groupId: null, states: ['pending'] })).map((e) => e.version)).toEqual([2]);
        expect((await repo.listEpochs('alpha', { groupId: 'line-1' })).map((e) => e.version)).toEqual([1]);
      });

      it('Precondition: epoch state changes follow the key lifecycle', async () => {
        await epoch('alpha', null, 1, 'pending');
        expect((await repo.setEpochState('alpha', null, 1, 'active')).state).toBe('active');
        await expectCode(repo.setEpochState('alpha', null, 1, 'pending'), 'ILLEGAL_STATE_TRANSITION');
        expect((await repo.getEpoch('alpha', null, 1))?.state).toBe('active');
        await expectCode(repo.setEpochState('beta', null, 1, 'retiring'), 'RECORD_NOT_FOUND');
        await expectCode(repo.createEpoch({ fleetId: 'alpha', version: 3, state: 'active', wrappedKey: der(), notBefore: 10, notAfter: 10 }), 'RangeError');
      });

      it('Precondition: destroying an epoch erases its wrapped key, only from a state that may become destroyed', async () => {
        await epoch('alpha', null, 1, 'active');
        await epoch('alpha', null, 2, 'pending');
        await expectCode(repo.destroyEpoch('alpha', null, 1), 'ILLEGAL_STATE_TRANSITION');
        expect((await repo.getEpoch('alpha', null, 1))?.wrappedKey.length).toBe(120);
        await repo.setEpochState('alpha', null, 1, 'retiring');
        await expectCode(repo.destroyEpoch('alpha', null, 1), 'ILLEGAL_STATE_TRANSITION');
        await repo.setEpochState('alpha', null, 1, 'expired');
        const destroyed = await repo.destroyEpoch('alpha', null, 1);
        expect([destroyed.state, destroyed.wrappedKey.length]).toEqual(['destroyed', 0]);
        const read = await repo.getEpoch('alpha', null, 1);
        expect([read?.state, read?.wrappedKey.length]).toEqual(['destroyed', 0]);
        expect((await repo.destroyEpoch('alpha', null, 2)).state).toBe('destroyed');
        await expectCode(repo.destroyEpoch('alpha', null, 2), 'ILLEGAL_STATE_TRANSITION');
        await expectCode(repo.destroyEpoch('alpha', null, 9), 'RECORD_NOT_FOUND');
        await expectCode(repo.setEpochState('alpha', null, 1, 'active'), 'ILLEGAL_STATE_TRANSITION');
      });
    });

    describe('command sequences', () => {
      it('counts 1, 2, 3 per fleet, never repeating, even when called concurrently', async () => {
        await repo.createFleet({ id: 'alpha', name: 'A' });
        await repo.createFleet({ id: 'beta', name: 'B' });
        expect(await repo.nextSequence('alpha')).toBe(1);
        expect(await repo.nextSequence('alpha')).toBe(2);
        expect(await repo.nextSequence('beta')).toBe(1);
        const many = await Promise.all(Array.from({ length: 30 }, () => repo.nextSequence('alpha')));
        expect(new Set(many).size).toBe(30);
        expect(Math.min(...many)).toBe(3);
        expect(Math.max(...many)).toBe(32);
        await expectCode(repo.nextSequence('zeta'), 'RECORD_NOT_FOUND');
      });
    });

    describe('settings', () => {
      it('stores and overwrites values', async () => {
        expect(await repo.getSetting('controller.id')).toBeUndefined();
        await repo.setSetting('controller.id', 'one');
        await repo.setSetting('controller.id', 'two');
        expect(await repo.getSetting('controller.id')).toBe('two');
        await expectCode(repo.setSetting('k'.repeat(129), 'v'), 'RangeError');
      });
    });

    describe('audit log', () => {
      const ZERO = new Uint8Array(32);

      it('appends a linear chain from sequence 1 with the zero prev_hash and the injected clock', async () => {
        const first = await repo.audit.append({ actor: 'system', action: 'controller.init', result: 'ok' });
        clock.advance(5);
        const second = await repo.audit.append({ actor: 'op-1', action: 'fleet.create', fleetId: 'alpha', result: 'ok', details: { name: 'A' } });
        expect(first.sequence).toBe(1);
        expect(first.prevHash).toEqual(ZERO);
        expect(first.hash.length).toBe(32);
        expect(second.sequence).toBe(2);
        expect(second.prevHash).toEqual(first.hash);
        expect(second.time).toBe(first.time + 5);
        expect(second.detailsJson).toBe('{"name":"A"}');
        expect(await repo.audit.head()).toEqual(second);
        expect(await repo.audit.listRecords(0, 10)).toEqual([first, second]);
        expect(await repo.audit.listRecords(1, 10)).toEqual([second]);
        expect(await repo.audit.listRecords(0, 1)).toEqual([first]);
      });

      it('one chain across fleets, not one per fleet', async () => {
        const a = await repo.audit.append({ actor: 'system', action: 'fleet.create', fleetId: 'alpha', result: 'ok' });
        const b = await repo.audit.append({ actor: 'system', action: 'fleet.create', fleetId: 'beta', result: 'ok' });
        expect([a.sequence, b.sequence]).toEqual([1, 2]);
        expect(b.prevHash).toEqual(a.hash);
      });

      it('commits with the state change and vanishes with its rollback', async () => {
        await repo.transaction(async (tx) => {
          await tx.createFleet({ id: 'alpha', name: 'A' });
          await tx.audit.append({ actor: 'op-1', action: 'fleet.create', fleetId: 'alpha', result: 'ok' });
        });
        await expect(
          repo.transaction(async (tx) => {
            await tx.createFleet({ id: 'beta', name: 'B' });
            await tx.audit.append({ actor: 'op-1', action: 'fleet.create', fleetId: 'beta', result: 'ok' });
            throw new Error('rollback');
          }),
        ).rejects.toThrow('rollback');
        const next = await repo.audit.append({ actor: 'op-1', action: 'fleet.create', fleetId: 'gamma', result: 'error', errorCode: 'RECORD_EXISTS' });
        const all = await repo.audit.listRecords(0, 10);
        expect(all.map((r) => r.fleetId)).toEqual(['alpha', 'gamma']);
        expect(next.sequence).toBe(2);
        expect(next.prevHash).toEqual(all[0]!.hash);
      });

      it('concurrent appends never fork the chain', async () => {
        const made = await Promise.all(Array.from({ length: 20 }, (_, i) => repo.audit.append({ actor: `op-${i}`, action: 'token.create', result: 'ok' })));
        expect(made.map((r) => r.sequence).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        const all = await repo.audit.listRecords(0, 100);
        for (let i = 1; i < all.length; i++) expect(all[i]!.prevHash).toEqual(all[i - 1]!.hash);
      });

      it('Precondition: an append carrying a token, key or secret-named detail is refused and writes nothing', async () => {
        const token = generateToken('operator');
        const refused: Partial<NewAuditRecord>[] = [
          { details: { token } },
          { details: { note: token } },
          { details: { privateKey: 'x' } },
          { details: { Password: 'x' } },
          { details: { blob: randomBytes(32).toString('base64') } },
          { details: { blob: randomBytes(32).toString('hex') } },
          { details: { pem: 'x' } },
          { details: { note: '-----BEGIN EC PRIVATE KEY-----' } },
          { actor: generateToken('enrollment') },
        ];
        for (const extra of refused) {
          expect(await rejectionCode(repo.audit.append({ actor: 'op-1', action: 'operator.create', result: 'ok', ...extra }))).toBe('AUDIT_DETAILS_REFUSED');
        }
        expect(await repo.audit.head()).toBeUndefined();
      });

      it('bounds and validates every field', async () => {
        const base = { actor: 'op-1', action: 'fleet.create', result: 'ok' } as const;
        const bad: [Record<string, unknown>, string][] = [
          [{ actor: 'a'.repeat(129) }, 'RangeError'],
          [{ actor: '' }, 'RangeError'],
          [{ action: 'fleet.explode' }, 'RangeError'],
          [{ result: 'maybe' }, 'RangeError'],
          [{ result: 'error' }, 'RangeError'],
          [{ errorCode: 'X' }, 'RangeError'],
          [{ details: { a: 'x'.repeat(257) } }, 'RangeError'],
          [{ details: { a: { nested: true } } }, 'TypeError'],
          [{ details: { a: 1.5 } }, 'RangeError'],
          [{ details: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])) }, 'RangeError'],
          [{ details: [] }, 'TypeError'],
          [{ fleetId: 'x\n' }, 'RangeError'],
        ];
        for (const [extra, code] of bad) {
          expect(await rejectionCode(repo.audit.append({ ...base, ...extra } as never))).toBe(code);
        }
        expect(await repo.audit.head()).toBeUndefined();
        await expectCode(repo.audit.listRecords(0, 0), 'RangeError');
        await expectCode(repo.audit.listRecords(-1, 1), 'RangeError');
      });

      it('stores signed heads in order', async () => {
        const r = await repo.audit.append({ actor: 'system', action: 'controller.start', result: 'ok' });
        const head = { sequence: 1, hash: r.hash, signature: new Uint8Array([1, 2, 3]), algorithm: 'ECDSA_P256_SHA256', keyId: 'k1', signedAt: clock() };
        await repo.audit.appendHead(head);
        await repo.audit.appendHead({ ...head, keyId: 'k2' });
        const heads = await repo.audit.listHeads(0, 10);
        expect(heads.map((h) => h.head)).toEqual([head, { ...head, keyId: 'k2' }]);
        expect(await repo.audit.listHeads(heads[0]!.index, 10)).toEqual([heads[1]]);
        await expectCode(repo.audit.appendHead({ ...head, hash: new Uint8Array(31) }), 'RangeError');
        await expectCode(repo.audit.appendHead({ ...head, signature: new Uint8Array(0) }), 'RangeError');
      });
    });

    describe('transactions', () => {
      it('commits everything done through the view', async () => {
        const value = await repo.transaction(async (tx) => {
          await tx.createFleet({ id: 'alpha', name: 'A' });
          await tx.createGroup({ fleetId: 'alpha', id: 'g', name: 'G' });
          return tx.nextSequence('alpha');
        });
        expect(value).toBe(1);
        expect(await repo.getGroup('alpha', 'g')).toBeDefined();
        expect(await repo.nextSequence('alpha')).toBe(2);
      });

      it('rolls everything back when fn rejects', async () => {
        await repo.createFleet({ id: 'alpha', name: 'A' });
        const boom = new Error('boom');
        await expect(
          repo.transaction(async (tx) => {
            await tx.createFleet({ id: 'beta', name: 'B' });
            await tx.nextSequence('alpha');
            await tx.setSetting('k', 'v');
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await repo.getFleet('beta')).toBeUndefined();
        expect(await repo.getSetting('k')).toBeUndefined();
        expect(await repo.nextSequence('alpha')).toBe(1);
      });

      it('a token burnt inside a rolled-back transaction is not burnt', async () => {
        await repo.createFleet({ id: 'alpha', name: 'A' });
        const token = generateToken('enrollment');
        await repo.createEnrollmentToken({ fleetId: 'alpha', tokenHash: hashToken(token), expiresAt: clock() + HOUR });
        await expect(
          repo.transaction(async (tx) => {
            expect((await tx.burnEnrollmentToken(hashToken(token), clock())).ok).toBe(true);
            throw new Error('rollback');
          }),
        ).rejects.toThrow();
        expect((await repo.burnEnrollmentToken(hashToken(token), clock())).ok).toBe(true);
      });

      it('serialises direct calls behind an open transaction', async () => {
        await repo.createFleet({ id: 'alpha', name: 'A' });
        let release: () => void = () => undefined;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        const order: string[] = [];
        const inTx = repo.transaction(async (tx) => {
          await tx.nextSequence('alpha');
          await gate;
          order.push('tx-done');
        });
        const outside = repo.nextSequence('alpha').then((n) => {
          order.push(`outside-${n}`);
        });
        await new Promise((r) => setTimeout(r, 20));
        release();
        await Promise.all([inTx, outside]);
        expect(order).toEqual(['tx-done', 'outside-2']);
      });
    });

    describe('device acknowledgements', () => {
      beforeEach(async () => {
        await repo.createFleet({ id: 'alpha', name: 'A' });
        await device('alpha', 'r1');
      });

      it('keeps the highest sequence of each kind and the last contact, and records why a device was revoked', async () => {
        const fresh = await repo.getDevice('alpha', 'r1');
        expect(fresh).toMatchObject({ ackedBundleSequence: 0, ackedCommandSequence: 0, ackedRevocationSequence: 0, lastContact: null, revocationReason: null });
        clock.advance(10);
        expect((await repo.recordDeviceAck('alpha', 'r1', 'key-bundle', 3)).ackedBundleSequence).toBe(3);
        expect((await repo.recordDeviceAck('alpha', 'r1', 'key-bundle', 2)).ackedBundleSequence).toBe(3);
        expect((await repo.recordDeviceAck('alpha', 'r1', 'command', 7)).ackedCommandSequence).toBe(7);
        expect((await repo.recordDeviceAck('alpha', 'r1', 'revocation-list', 1)).lastContact).toBe(clock());
        clock.advance(5);
        await repo.touchDevice('alpha', 'r1');
        expect((await repo.getDevice('alpha', 'r1'))?.lastContact).toBe(clock());
        await expectCode(repo.recordDeviceAck('alpha', 'nope', 'command', 1), 'RECORD_NOT_FOUND');
        await expectCode(repo.recordDeviceAck('alpha', 'r1', 'command', 0), 'RangeError');
        await expectCode(repo.recordDeviceAck('alpha', 'r1', 'other' as never, 1), 'TypeError');
        const revoked = await repo.revokeDevice('alpha', 'r1', 'stolen from the loading dock');
        expect(revoked).toMatchObject({ status: 'revoked', revocationReason: 'stolen from the loading dock' });
        expect((await repo.revokeDevice('alpha', 'r1', 'again')).revocationReason).toBe('stolen from the loading dock');
      });
    });

    describe('signed commands', () => {
      const signed = new Uint8Array([8, 1, 18, 3]);
      const command = (sequence: number, overrides: Partial<NewCommand> = {}): NewCommand => ({
        fleetId: 'alpha',
        sequence,
        action: 'lockdown',
        scope: { kind: 'fleet' },
        reason: 'drill',
        issuedBy: 'op-1',
        issuedAt: clock(),
        expiresAt: clock() + 3_600_000,
        requestId: null,
        wipe: false,
        signedCommand: signed,
        ...overrides,
      });

      beforeEach(async () => {
        await repo.createFleet({ id: 'alpha', name: 'A' });
        await repo.createFleet({ id: 'beta', name: 'B' });
        await device('alpha', 'r1');
        await device('alpha', 'r2');
      });

      it('stores commands by fleet and sequence, lists them in order, and refuses a reused sequence', async () => {
        expect(await repo.currentSequence('alpha')).toBe(0);
        const first = await repo.nextSequence('alpha');
        const second = await repo.nextSequence('alpha');
        expect(await repo.currentSequence('alpha')).toBe(second);
        await repo.createCommand(command(first));
        const lift = await repo.createCommand(command(second, { action: 'lift', scope: { kind: 'group', groupId: 'line-1' }, requestId: 'req-1' }));
        expect(lift).toMatchObject({ sequence: second, action: 'lift', scope: { kind: 'group', groupId: 'line-1' }, requestId: 'req-1', wipe: false });
        expect(Buffer.from((await repo.getCommand('alpha', first))!.signedCommand)).toEqual(Buffer.from(signed));
        expect((await repo.listCommands('alpha')).map((c) => c.sequence)).toEqual([first, second]);
        expect((await repo.listCommands('alpha', { afterSequence: first })).map((c) => c.sequence)).toEqual([second]);
        expect((await repo.listCommands('alpha', { action: 'lift' })).map((c) => c.action)).toEqual(['lift']);
        expect((await repo.latestCommandFor('alpha', { kind: 'group', groupId: 'line-1' }, ['lockdown', 'lift']))?.sequence).toBe(second);
        expect((await repo.latestCommandFor('alpha', { kind: 'fleet' }, ['lockdown', 'lift']))?.sequence).toBe(first);
        expect(await repo.latestCommandFor('alpha', { kind: 'fleet' }, ['lift'])).toBeUndefined();
        expect(await repo.latestCommandFor('beta', { kind: 'fleet' }, ['lockdown'])).toBeUndefined();
        expect(await repo.listCommands('beta')).toEqual([]);
        await expectCode(repo.createCommand(command(first)), 'RECORD_EXISTS');
        await expectCode(repo.createCommand(command(9, { fleetId: 'nope' })), 'RECORD_NOT_FOUND');
        await expectCode(repo.createCommand(command(9, { expiresAt: clock() })), 'RangeError');
        await expectCode(repo.createCommand(command(9, { scope: { kind: 'device', deviceId: 'a/b' } })), 'INVALID_IDENTIFIER');
      });

      it('keeps one ack per device and command, the latest winning', async () => {
        await repo.createCommand(command(1));
        await repo.recordCommandAck({ fleetId: 'alpha', sequence: 1, deviceId: 'r2', outcome: 'failed' });
        clock.advance(1);
        await repo.recordCommandAck({ fleetId: 'alpha', sequence: 1, deviceId: 'r2', outcome: 'applied' });
        await repo.recordCommandAck({ fleetId: 'alpha', sequence: 1, deviceId: 'r1', outcome: 'rejected-replay' });
        expect((await repo.listCommandAcks('alpha', 1)).map((a) => [a.deviceId, a.outcome])).toEqual([
          ['r1', 'rejected-replay'],
          ['r2', 'applied'],
        ]);
        await expectCode(repo.recordCommandAck({ fleetId: 'alpha', sequence: 2, deviceId: 'r1', outcome: 'applied' }), 'RECORD_NOT_FOUND');
        await expectCode(repo.recordCommandAck({ fleetId: 'alpha', sequence: 1, deviceId: 'ghost', outcome: 'applied' }), 'RECORD_NOT_FOUND');
        await expectCode(repo.recordCommandAck({ fleetId: 'alpha', sequence: 1, deviceId: 'r1', outcome: 'maybe' as never }), 'TypeError');
      });
    });

    describe('lift requests', () => {
      beforeEach(async () => {
        await repo.createFleet({ id: 'alpha', name: 'A' });
      });

      it('records the requester as the first approval, refuses a second approval by the same operator, and ends once', async () => {
        const request = await repo.createLiftRequest({ fleetId: 'alpha', scope: { kind: 'fleet' }, reason: 'all clear', requestedBy: 'op-1', expiresAt: clock() + 600_000 });
        expect(request).toMatchObject({ state: 'pending', executedSequence: null, approvals: [{ operatorId: 'op-1', approvedAt: clock() }] });
        await expectCode(repo.addLiftApproval('alpha', request.id, 'op-1'), 'RECORD_EXISTS');
        clock.advance(1);
        const approved = await repo.addLiftApproval('alpha', request.id, 'op-2');
        expect(approved.approvals.map((a) => a.operatorId)).toEqual(['op-1', 'op-2']);
        const executed = await repo.setLiftRequestState('alpha', request.id, 'executed', 12);
        expect(executed).toMatchObject({ state: 'executed', executedSequence: 12 });
        await expectCode(repo.addLiftApproval('alpha', request.id, 'op-3'), 'ILLEGAL_STATE_TRANSITION');
        await expectCode(repo.setLiftRequestState('alpha', request.id, 'expired'), 'ILLEGAL_STATE_TRANSITION');
        await expectCode(repo.addLiftApproval('alpha', 'nope', 'op-3'), 'RECORD_NOT_FOUND');
        expect(await repo.getLiftRequest('beta-does-not-matter', request.id)).toBeUndefined();
        expect((await repo.listLiftRequests('alpha', { state: 'executed' })).map((r) => r.id)).toEqual([request.id]);
        expect(await repo.listLiftRequests('alpha', { state: 'pending' })).toEqual([]);
        await expectCode(repo.createLiftRequest({ fleetId: 'alpha', scope: { kind: 'fleet' }, reason: 'x', requestedBy: 'op-1', expiresAt: clock() }), 'RangeError');
      });

      it('keeps destructive requests apart from lifts: kind, a JSON target, no command sequence', async () => {
        const lift = await repo.createLiftRequest({ fleetId: 'alpha', scope: { kind: 'fleet' }, reason: 'all clear', requestedBy: 'op-1', expiresAt: clock() + 600_000 });
        expect([lift.kind, lift.target]).toEqual(['lift', null]);
        clock.advance(1);
        const target = JSON.stringify({ group: null, version: 3 });
        const destroy = await repo.createLiftRequest({ kind: 'destroy-epoch', target, fleetId: 'alpha', scope: { kind: 'fleet' }, reason: 'shred', requestedBy: 'op-1', expiresAt: clock() + 600_000 });
        expect([destroy.kind, destroy.target]).toEqual(['destroy-epoch', target]);
        expect((await repo.getLiftRequest('alpha', destroy.id))?.kind).toBe('destroy-epoch');
        expect((await repo.listLiftRequests('alpha')).map((r) => r.id)).toEqual([lift.id]);
        expect((await repo.listLiftRequests('alpha', { kind: 'any' })).map((r) => r.id)).toEqual([destroy.id, lift.id]);
        expect((await repo.listLiftRequests('alpha', { kind: 'destroy-epoch', state: 'pending' })).map((r) => r.id)).toEqual([destroy.id]);
        await expectCode(repo.setLiftRequestState('alpha', destroy.id, 'executed', 4), 'TypeError');
        await expectCode(repo.setLiftRequestState('alpha', lift.id, 'executed'), 'TypeError');
        expect((await repo.setLiftRequestState('alpha', destroy.id, 'executed')).state).toBe('executed');
        const base = { fleetId: 'alpha', scope: { kind: 'fleet' } as const, reason: 'x', requestedBy: 'op-1', expiresAt: clock() + 600_000 };
        await expectCode(repo.createLiftRequest({ ...base, kind: 'delete-fleet' }), 'TypeError');
        await expectCode(repo.createLiftRequest({ ...base, kind: 'delete-fleet', target: '[1]' }), 'TypeError');
        await expectCode(repo.createLiftRequest({ ...base, kind: 'delete-fleet', target: '{' }), 'TypeError');
        await expectCode(repo.createLiftRequest({ ...base, kind: 'delete-fleet', target: `{"a":"${'x'.repeat(1100)}"}` }), 'RangeError');
        await expectCode(repo.createLiftRequest({ ...base, target: '{}' }), 'TypeError');
        await expectCode(repo.createLiftRequest({ ...base, kind: 'wipe' as 'lift' }), 'TypeError');
      });
    });

    describe('signed artefacts', () => {
      beforeEach(async () => {
        await repo.createFleet({ id: 'alpha', name: 'A' });
      });

      it('keeps the current artefact per fleet, kind and name, and only ever a newer one', async () => {
        expect(await repo.getSignedArtifact('alpha', 'epoch-manifest', 'fleet')).toBeUndefined();
        await repo.putSignedArtifact({ fleetId: 'alpha', kind: 'epoch-manifest', name: 'fleet', sequence: 1, bytes: new Uint8Array([1]) });
        await repo.putSignedArtifact({ fleetId: 'alpha', kind: 'epoch-manifest', name: 'line-1', sequence: 1, bytes: new Uint8Array([2]) });
        const second = await repo.putSignedArtifact({ fleetId: 'alpha', kind: 'epoch-manifest', name: 'fleet', sequence: 2, bytes: new Uint8Array([3]) });
        expect(second).toMatchObject({ sequence: 2, issuedAt: clock() });
        expect(Buffer.from((await repo.getSignedArtifact('alpha', 'epoch-manifest', 'fleet'))!.bytes)).toEqual(Buffer.from([3]));
        await expectCode(repo.putSignedArtifact({ fleetId: 'alpha', kind: 'epoch-manifest', name: 'fleet', sequence: 2, bytes: new Uint8Array([4]) }), 'ILLEGAL_STATE_TRANSITION');
        await expectCode(repo.putSignedArtifact({ fleetId: 'nope', kind: 'revocation-list', name: '', sequence: 1, bytes: new Uint8Array([1]) }), 'RECORD_NOT_FOUND');
        const big = new Uint8Array(1024 * 1024);
        expect((await repo.putSignedArtifact({ fleetId: 'alpha', kind: 'revocation-list', name: '', sequence: 1, bytes: big })).bytes.length).toBe(big.length);
      });
    });
  });
}
