/**
 * The definition of "in force" and "acknowledged" (./lockdown-state.ts), on a real SQLite store:
 * the latest LOCKDOWN-or-LIFT of exactly one scope decides, scopes do not nest, expiry plays no
 * part, and only APPLIED acks of active devices in scope count.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../store/testing.js';
import { openSqliteRepository, type CommandAction, type CommandScope, type Repository } from '../store/index.js';
import { lockdownAcknowledgements, lockdownInForceFor, lockdownsInForce } from './lockdown-state.js';
import { scopeKey } from './scope.js';

let dir: string;
let repository: Repository;
const clock = manualClock();

async function command(action: CommandAction, scope: CommandScope, ttlMs = 60_000): Promise<number> {
  const sequence = await repository.nextSequence('acme');
  const issuedAt = clock();
  await repository.createCommand({ fleetId: 'acme', sequence, action, scope, reason: `${action} ${scopeKey(scope)}`, issuedBy: 'op', issuedAt, expiresAt: issuedAt + ttlMs, requestId: null, wipe: false, signedCommand: new Uint8Array([1, 2, 3]) });
  return sequence;
}

const fleet: CommandScope = { kind: 'fleet' };
const line1: CommandScope = { kind: 'group', groupId: 'line-1' };
const robot2: CommandScope = { kind: 'device', deviceId: 'robot-2' };

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fk-lockdown-state-'));
  repository = await openSqliteRepository({ path: join(dir, 'state.db'), clock });
  await repository.createFleet({ id: 'acme', name: 'Acme' });
  await repository.createFleet({ id: 'beta', name: 'Beta' });
  await repository.createGroup({ fleetId: 'acme', id: 'line-1', name: 'Line 1' });
  for (const [deviceId, groupId] of [
    ['robot-1', null],
    ['robot-2', 'line-1'],
    ['robot-3', 'line-1'],
    ['robot-4', 'line-1'],
  ] as const) {
    await repository.createDevice({ fleetId: 'acme', deviceId, groupId, serial: deviceId, certificateDer: new Uint8Array([0x30, 0]), certificateSerial: `0${deviceId.length}`, keyAlgorithm: 'ECDSA_P256' });
  }
});

afterEach(async () => {
  await repository.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('lockdownsInForce', () => {
  it('is the latest LOCKDOWN-or-LIFT per exact scope: a fleet LIFT leaves a group and a device lockdown in force', async () => {
    const fleetLock = await command('lockdown', fleet);
    const groupLock = await command('lockdown', line1);
    const deviceLock = await command('lockdown', robot2);
    expect((await lockdownsInForce(repository, 'acme')).map((c) => c.sequence)).toEqual([fleetLock, groupLock, deviceLock]);
    await command('lift', fleet);
    expect((await lockdownsInForce(repository, 'acme')).map((c) => c.sequence)).toEqual([groupLock, deviceLock]);
    await command('lift', robot2);
    expect((await lockdownsInForce(repository, 'acme')).map((c) => scopeKey(c.scope))).toEqual(['group:line-1']);
  });

  it('a LOCKDOWN after a LIFT of the same scope is in force again, and the newest lockdown of a scope is the one shown', async () => {
    await command('lockdown', line1);
    await command('lift', line1);
    expect(await lockdownInForceFor(repository, 'acme', 'group:line-1')).toBeUndefined();
    await command('lockdown', line1);
    const newest = await command('lockdown', line1);
    expect((await lockdownInForceFor(repository, 'acme', 'group:line-1'))?.sequence).toBe(newest);
  });

  it('ignores expiry (LOCKDOWN fails safe), other actions and other fleets', async () => {
    const lock = await command('lockdown', fleet, 1);
    clock.advance(365 * 86_400_000);
    await command('revoke', robot2);
    await command('fetch-keys', fleet);
    expect((await lockdownsInForce(repository, 'acme')).map((c) => c.sequence)).toEqual([lock]);
    expect(await lockdownsInForce(repository, 'beta')).toEqual([]);
  });
});

describe('lockdownAcknowledgements', () => {
  it('counts APPLIED acks of active devices in scope; refusals, revoked devices and devices out of scope do not count', async () => {
    const sequence = await command('lockdown', line1);
    await repository.recordCommandAck({ fleetId: 'acme', sequence, deviceId: 'robot-2', outcome: 'applied' });
    await repository.recordCommandAck({ fleetId: 'acme', sequence, deviceId: 'robot-3', outcome: 'rejected-signature' });
    await repository.recordCommandAck({ fleetId: 'acme', sequence, deviceId: 'robot-1', outcome: 'applied' });
    await repository.revokeDevice('acme', 'robot-4', 'stolen');
    const lockdown = (await lockdownInForceFor(repository, 'acme', 'group:line-1'))!;
    expect(await lockdownAcknowledgements(repository, lockdown)).toEqual({ acknowledged: ['robot-2'], pending: ['robot-3'] });
    // A later ack replaces an earlier refusal.
    await repository.recordCommandAck({ fleetId: 'acme', sequence, deviceId: 'robot-3', outcome: 'applied' });
    expect(await lockdownAcknowledgements(repository, lockdown)).toEqual({ acknowledged: ['robot-2', 'robot-3'], pending: [] });
  });
});
