/**
 * The two-phase rotation state machine over a real SQLite store and the real local KMS provider,
 * with a manual clock: one KMS data key per rotation whatever the fleet size, refusal while
 * pending, activation by acknowledged share or deadline, retirement and expiry, scheduled
 * rotations, group series, revocation rotations, and the optimistic check between two
 * controllers on one database.
 */
import { create } from '@bufbuild/protobuf';
import { InvalidArgument, isFleetkeyError } from '@fleetkey/key-types';
import { KeyBundleSchema, MAX_MANIFEST_EPOCHS, type KeyBundle } from '@fleetkey/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyBundleFor } from '../provisioning/index.js';
import { loadEpochManifest } from '../fleets/settings.js';
import type { AuditRecord, Repository } from '../store/index.js';
import { FleetBundleSource, devicePublicKey } from './bundles.js';
import { advanceSeries } from './advance.js';
import { DEFAULT_ROTATION_POLICY, loadRotationPolicy, rotationPolicySettingKey, saveRotationPolicy, validateRotationPolicy } from './policy.js';
import { rotateNow } from './rotate.js';
import { RotationScheduler } from './scheduler.js';
import { manifestFacts, readSeries } from './series.js';
import { ackCurrentBundles, enrollDevices, openBundle, openDataDir, pinnedEmergencyKey, startRotationHarness, type RotationHarness, type TestDevice } from './testing.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let h: RotationHarness;
beforeEach(async () => {
  h = await startRotationHarness();
});
afterEach(async () => {
  await h.close();
});

async function states(groupId: string | null = null): Promise<Record<number, string>> {
  const epochs = await h.repository.listEpochs(h.fleet, { groupId });
  return Object.fromEntries(epochs.map((epoch) => [epoch.version, epoch.state]));
}

async function audit(repository: Repository = h.repository): Promise<AuditRecord[]> {
  return repository.audit.listRecords(0, 1000);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

const rotate = (extra: { groupId?: string; excludeDeviceIds?: string[]; reason?: string } = {}) =>
  rotateNow(h.core, { fleetId: h.fleet, actor: 'op-1', reason: extra.reason ?? 'test', ...extra });

describe('rotateNow', () => {
  it('makes epoch N+1 pending with exactly one KMS data key whatever the number of devices, in one transaction with its audit records', async () => {
    await enrollDevices(h.core, h.fleet, 25);
    const before = h.kmsCalls('generateDataKey');
    const started = await rotate({ reason: 'quarterly drill' });
    expect(h.kmsCalls('generateDataKey') - before).toBe(1);
    expect(started).toMatchObject({ keyId: 'communication/acme/fleet', version: 2, state: 'pending', activationDeadline: h.clock() + HOUR, supersededVersions: [] });
    expect(await states()).toEqual({ 1: 'active', 2: 'pending' });
    const epoch2 = await h.repository.getEpoch(h.fleet, null, 2);
    expect(epoch2?.notBefore).toBe(h.clock() + HOUR);

    const manifest = manifestFacts(await loadEpochManifest(h.repository, h.fleet, null));
    expect(manifest.sequence).toBe(2);
    expect([...manifest.times.entries()].map(([version, t]) => [version, t.state])).toEqual([
      [1, 'active'],
      [2, 'pending'],
    ]);
    const records = await audit();
    const start = records.find((r) => r.action === 'rotation.start');
    expect(start).toMatchObject({ actor: 'op-1', fleetId: 'acme', keyRef: 'communication/acme/fleet@2', result: 'ok' });
    expect(JSON.parse(start!.detailsJson)).toMatchObject({ version: 2, reason: 'quarterly drill', revocation: false });
    expect(records.filter((r) => r.action === 'epoch.create' && r.keyRef === 'communication/acme/fleet@2')).toHaveLength(1);
  });

  it('gives every active device a bundle carrying N (active) and N+1 (pending), openable with its own key and committed to by the signed manifest', async () => {
    const [device] = await enrollDevices(h.core, h.fleet, 1);
    await rotate();
    const stored = (await h.repository.getDevice(h.fleet, device!.deviceId))!;
    const bundle = await keyBundleFor(h.core, { fleetId: h.fleet, groupId: null, deviceId: device!.deviceId, publicKey: devicePublicKey(stored) });
    const opened = await openBundle(bundle, device!.deviceId, device!.privateKey, await pinnedEmergencyKey(h.core, h.fleet));
    expect(opened.map((e) => [e.version, e.state])).toEqual([
      [1, 'active'],
      [2, 'pending'],
    ]);
    expect(Buffer.from(opened[0]!.key).equals(Buffer.from(opened[1]!.key))).toBe(false);
    expect(bundle.sequence).toBe(2n);
  });

  it('refuses a second rotation while one is pending, audits the refusal, and makes no data key', async () => {
    await rotate();
    const before = h.kmsCalls('generateDataKey');
    const error = await failure(rotate());
    expect(isFleetkeyError(error, 'ILLEGAL_STATE_TRANSITION')).toBe(true);
    expect(error.message).toContain('already in progress');
    expect(h.kmsCalls('generateDataKey')).toBe(before);
    expect(await states()).toEqual({ 1: 'active', 2: 'pending' });
    expect((await audit()).filter((r) => r.action === 'rotation.start' && r.result === 'denied')).toHaveLength(1);
  });

  it('Precondition: a reason that looks like secret material is refused before any KMS call', async () => {
    const before = h.kmsCalls('generateDataKey');
    const error = await failure(rotate({ reason: `rotating after leak of ${'A1b2C3d4'.repeat(8)}` }));
    expect(error).toBeInstanceOf(InvalidArgument);
    expect(h.kmsCalls('generateDataKey')).toBe(before);
    expect(await states()).toEqual({ 1: 'active' });
  });

  it('refuses an unknown fleet or group with RECORD_NOT_FOUND and makes nothing', async () => {
    expect(isFleetkeyError(await failure(rotateNow(h.core, { fleetId: 'nope', actor: 'op-1', reason: '' })), 'RECORD_NOT_FOUND')).toBe(true);
    expect(isFleetkeyError(await failure(rotate({ groupId: 'line-9' })), 'RECORD_NOT_FOUND')).toBe(true);
    expect(h.kmsCalls('generateDataKey')).toBe(0);
  });
});

describe('activation, retirement and expiry (the scheduler step)', () => {
  it('activates when the acknowledged share reaches the threshold, not before; the previous epoch retires for the grace window', async () => {
    const devices = await enrollDevices(h.core, h.fleet, 10);
    await rotate();
    await ackCurrentBundles(h.repository, h.fleet, devices.slice(0, 8).map((d) => ({ ...d })));
    expect((await advanceSeries(h.core, h.fleet, null)).changed).toBe(false);
    expect(await states()).toEqual({ 1: 'active', 2: 'pending' });

    await ackCurrentBundles(h.repository, h.fleet, devices.slice(8, 9));
    h.clock.advance(60_000);
    const outcome = await advanceSeries(h.core, h.fleet, null);
    expect(outcome).toMatchObject({ changed: true, activated: 2, retired: [1], expired: [] });
    expect(await states()).toEqual({ 1: 'retiring', 2: 'active' });
    const manifest = manifestFacts(await loadEpochManifest(h.repository, h.fleet, null));
    expect(manifest.sequence).toBe(3);
    expect(manifest.times.get(1)).toMatchObject({ state: 'retiring', notAfter: h.clock() + DAY });
    expect(manifest.times.get(2)).toMatchObject({ state: 'active', notBefore: h.clock(), notAfter: h.clock() + 2 * DAY });
    const change = (await audit()).find((r) => r.action === 'epoch.state' && r.keyRef === 'communication/acme/fleet@2');
    expect(JSON.parse(change!.detailsJson)).toEqual({ from: 'pending', to: 'active', cause: 'acknowledged' });
  });

  it('an acknowledgement of an older bundle does not count', async () => {
    const devices = await enrollDevices(h.core, h.fleet, 2);
    await ackCurrentBundles(h.repository, h.fleet, devices); // acks sequence 1, before the rotation
    await rotate();
    expect((await advanceSeries(h.core, h.fleet, null)).changed).toBe(false);
    expect(await states()).toEqual({ 1: 'active', 2: 'pending' });
  });

  it('activates at the deadline without acknowledgements, then expires the retired epoch when its grace ends', async () => {
    await enrollDevices(h.core, h.fleet, 3);
    await rotate();
    h.clock.advance(HOUR - 1);
    expect((await advanceSeries(h.core, h.fleet, null)).changed).toBe(false);
    h.clock.advance(1);
    expect(await advanceSeries(h.core, h.fleet, null)).toMatchObject({ activated: 2, retired: [1] });
    h.clock.advance(DAY - 1);
    expect((await advanceSeries(h.core, h.fleet, null)).changed).toBe(false);
    h.clock.advance(1);
    expect(await advanceSeries(h.core, h.fleet, null)).toMatchObject({ changed: true, activated: null, expired: [1] });
    expect(await states()).toEqual({ 1: 'expired', 2: 'active' });
    const manifest = manifestFacts(await loadEpochManifest(h.repository, h.fleet, null));
    expect([...manifest.times.keys()]).toEqual([2]);
    expect(manifest.sequence).toBe(4);
  });

  it('a series with no active device activates at the first step', async () => {
    await rotate();
    expect(await advanceSeries(h.core, h.fleet, null)).toMatchObject({ activated: 2 });
  });

  it('the scheduler starts a rotation on its own once the interval has passed since the last one started, and only then', async () => {
    const scheduler = new RotationScheduler({ core: h.core, logger: h.logger });
    h.clock.advance(DAY - 1);
    expect((await scheduler.tick()).rotated).toEqual([]);
    h.clock.advance(1);
    const report = await scheduler.tick();
    expect(report.rotated).toEqual(['communication/acme/fleet@2']);
    expect(report.activated).toEqual([]);
    // No devices: the next tick activates it; the one after that has nothing to do for a day.
    expect((await scheduler.tick()).activated).toEqual(['communication/acme/fleet@2']);
    const quiet = await scheduler.tick();
    expect([quiet.activated, quiet.rotated, quiet.expired, quiet.failed]).toEqual([[], [], [], []]);
    const started = (await audit()).find((r) => r.action === 'rotation.start' && r.result === 'ok');
    expect(started?.actor).toBe('system');
  });

  it('follows a stored policy: threshold, deadline, interval and grace', async () => {
    await saveRotationPolicy(h.repository, h.fleet, null, { intervalMs: 6 * HOUR, graceMs: 2 * HOUR, threshold: 0.5, deadlineMs: 10 * 60_000 });
    const devices = await enrollDevices(h.core, h.fleet, 4);
    const started = await rotate();
    expect(started.activationDeadline).toBe(h.clock() + 10 * 60_000);
    await ackCurrentBundles(h.repository, h.fleet, devices.slice(0, 2));
    expect(await advanceSeries(h.core, h.fleet, null)).toMatchObject({ activated: 2 });
    expect(manifestFacts(await loadEpochManifest(h.repository, h.fleet, null)).times.get(1)?.notAfter).toBe(h.clock() + 2 * HOUR);
    const scheduler = new RotationScheduler({ core: h.core, logger: h.logger });
    h.clock.advance(6 * HOUR);
    const report = await scheduler.tick();
    expect(report.expired).toEqual(['communication/acme/fleet@1']);
    expect(report.rotated).toEqual(['communication/acme/fleet@3']);
  });
});

describe('group series', () => {
  it('a group with its own policy gets its own series; its devices get both series in one bundle, the same as keyBundleFor builds', async () => {
    const [grouped] = await enrollDevices(h.core, h.fleet, 1, { groupId: 'line-a', prefix: 'arm' });
    const [plain] = await enrollDevices(h.core, h.fleet, 1);
    await saveRotationPolicy(h.repository, h.fleet, 'line-a', { ...DEFAULT_ROTATION_POLICY, intervalMs: 12 * HOUR });
    const scheduler = new RotationScheduler({ core: h.core, logger: h.logger });
    expect((await scheduler.tick()).rotated).toEqual(['communication/acme/line-a@1']);
    expect(await states('line-a')).toEqual({ 1: 'pending' });

    const source = await FleetBundleSource.load(h.core, h.fleet);
    try {
      for (const device of [grouped!, plain!]) {
        const stored = (await h.repository.getDevice(h.fleet, device.deviceId))!;
        const fromSource = source.bundleFor(stored);
        const fromProvisioning = await keyBundleFor(h.core, { fleetId: h.fleet, groupId: stored.groupId, deviceId: stored.deviceId, publicKey: devicePublicKey(stored) });
        expect(shape(fromSource)).toEqual(shape(fromProvisioning));
        const opened = await openBundle(fromSource, device.deviceId, device.privateKey, await pinnedEmergencyKey(h.core, h.fleet));
        expect(opened.map((e) => `${e.keyId}@${e.version}:${e.state}`)).toEqual(
          device === grouped ? ['communication/acme/fleet@1:active', 'communication/acme/line-a@1:pending'] : ['communication/acme/fleet@1:active'],
        );
      }
    } finally {
      source.release();
    }

    // The group's pending epoch counts only the group's devices.
    await ackCurrentBundles(h.repository, h.fleet, [grouped!]);
    expect((await scheduler.tick()).activated).toEqual(['communication/acme/line-a@1']);
    expect(await states('line-a')).toEqual({ 1: 'active' });
    expect(await states()).toEqual({ 1: 'active' });
  });

  it('rotateNow on a group makes the group series without touching the fleet series', async () => {
    await h.repository.createGroup({ fleetId: h.fleet, id: 'line-b', name: 'B' });
    const started = await rotate({ groupId: 'line-b' });
    expect(started).toMatchObject({ keyId: 'communication/acme/line-b', version: 1 });
    expect(await states()).toEqual({ 1: 'active' });
    expect(manifestFacts(await loadEpochManifest(h.repository, h.fleet, null)).sequence).toBe(1);
  });
});

function shape(bundle: KeyBundle) {
  const copy = create(KeyBundleSchema, bundle);
  return {
    sequence: copy.sequence,
    group: copy.group,
    manifests: copy.manifests.map((m) => Buffer.from(m.payload).toString('hex')),
    epochs: copy.epochs.map((e) => `${e.key?.keyId}@${e.key?.version}`),
  };
}

describe('revocation rotations', () => {
  let devices: TestDevice[];
  beforeEach(async () => {
    devices = await enrollDevices(h.core, h.fleet, 3);
  });

  it('supersede a pending epoch (it may have reached the revoked robot): it expires unactivated and N+2 is made pending on top', async () => {
    await rotate();
    h.clock.advance(1000);
    await h.repository.revokeDevice(h.fleet, devices[2]!.deviceId, 'stolen');
    const started = await rotate({ excludeDeviceIds: [devices[2]!.deviceId], reason: 'device stolen' });
    expect(started).toMatchObject({ version: 3, supersededVersions: [2] });
    expect(await states()).toEqual({ 1: 'active', 2: 'expired', 3: 'pending' });
    const manifest = manifestFacts(await loadEpochManifest(h.repository, h.fleet, null));
    expect([...manifest.times.keys()]).toEqual([1, 3]);
    const superseded = (await audit()).find((r) => r.action === 'epoch.state' && r.keyRef === 'communication/acme/fleet@2');
    expect(JSON.parse(superseded!.detailsJson)).toMatchObject({ from: 'pending', to: 'expired', cause: 'superseded' });
    // The superseded epoch is never activated: the next step activates N+2 (no acks yet: deadline).
    h.clock.advance(HOUR);
    expect(await advanceSeries(h.core, h.fleet, null)).toMatchObject({ activated: 3, retired: [1] });
  });

  it('Precondition: a pending epoch is never activated once a device that may hold it was revoked; the scheduler supersedes it', async () => {
    await rotate();
    h.clock.advance(1000);
    // A revocation whose own rotation failed (or never ran): only the store knows.
    await h.repository.revokeDevice(h.fleet, devices[0]!.deviceId, 'stolen');
    h.clock.advance(HOUR);
    const step = await advanceSeries(h.core, h.fleet, null);
    expect(step).toMatchObject({ changed: false, compromised: true, activated: null });
    expect(await states()).toEqual({ 1: 'active', 2: 'pending' });

    const scheduler = new RotationScheduler({ core: h.core, logger: h.logger });
    expect((await scheduler.tick()).rotated).toEqual(['communication/acme/fleet@3']);
    expect(await states()).toEqual({ 1: 'active', 2: 'expired', 3: 'pending' });
    // The new pending epoch was made after the revocation: it activates normally.
    h.clock.advance(HOUR);
    expect((await scheduler.tick()).activated).toEqual(['communication/acme/fleet@3']);
  });

  it('an operator’s plain rotation supersedes a pending epoch a since-revoked device may hold, instead of being refused', async () => {
    await rotate();
    h.clock.advance(1000);
    await h.repository.revokeDevice(h.fleet, devices[1]!.deviceId, 'lost');
    expect(await rotate({ reason: 'retry after a failed revocation rotation' })).toMatchObject({ version: 3, supersededVersions: [2] });
    // With nothing revoked since, the next one is refused again.
    expect((await failure(rotate())).message).toContain('already in progress');
  });

  it('Precondition: only revoked devices can be excluded, so the new epoch can never reach an excluded one; nothing is made otherwise', async () => {
    const error = await failure(rotate({ excludeDeviceIds: [devices[0]!.deviceId] }));
    expect(error).toBeInstanceOf(InvalidArgument);
    expect(h.kmsCalls('generateDataKey')).toBe(0);
    expect(isFleetkeyError(await failure(rotate({ excludeDeviceIds: ['ghost'] })), 'RECORD_NOT_FOUND')).toBe(true);
  });

  it('a revoked device is never given a bundle by the distribution source', async () => {
    await h.repository.revokeDevice(h.fleet, devices[1]!.deviceId, 'decommissioned');
    await rotate({ excludeDeviceIds: [devices[1]!.deviceId] });
    const source = await FleetBundleSource.load(h.core, h.fleet);
    try {
      const revoked = (await h.repository.getDevice(h.fleet, devices[1]!.deviceId))!;
      expect(() => source.bundleFor(revoked)).toThrow(RangeError);
      expect(source.bundleFor((await h.repository.getDevice(h.fleet, devices[0]!.deviceId))!).epochs).toHaveLength(2);
    } finally {
      source.release();
    }
  });

  it('expire the oldest retiring epochs early rather than list more than a manifest may', async () => {
    await saveRotationPolicy(h.repository, h.fleet, null, { ...DEFAULT_ROTATION_POLICY, graceMs: 30 * DAY });
    for (let round = 0; round < MAX_MANIFEST_EPOCHS + 1; round++) {
      await rotate();
      h.clock.advance(HOUR);
      await advanceSeries(h.core, h.fleet, null);
    }
    const usable = (await readSeries(h.repository, h.fleet, null)).epochs;
    expect(usable.length).toBeLessThanOrEqual(MAX_MANIFEST_EPOCHS);
    expect((await states())[1]).toBe('expired');
    const bounded = (await audit()).filter((r) => r.action === 'epoch.state' && JSON.parse(r.detailsJson).cause === 'manifest-bound');
    expect(bounded.length).toBeGreaterThan(0);
  });
});

describe('two controllers on one database', () => {
  it('a rotation that lost the race commits nothing (one data key wasted at most) and exactly one epoch N+1 exists', async () => {
    const other = await openDataDir(h.dataDir, h.clock);
    try {
      // While this controller waits for its data key, another one rotates the same series.
      const racing = { done: false };
      const original = h.core.kms.generateDataKey.bind(h.core.kms);
      (h.core.kms as { generateDataKey: typeof original }).generateDataKey = async (input) => {
        if (!racing.done) {
          racing.done = true;
          await rotateNow(other.core, { fleetId: h.fleet, actor: 'op-2', reason: 'other replica' });
        }
        return original(input);
      };
      const error = await failure(rotate());
      expect(isFleetkeyError(error, 'ILLEGAL_STATE_TRANSITION')).toBe(true);
      expect(error.message).toContain('changed while it was being rotated');
      expect(await states()).toEqual({ 1: 'active', 2: 'pending' });
      expect((await audit()).filter((r) => r.action === 'epoch.create' && r.keyRef === 'communication/acme/fleet@2')).toHaveLength(1);
      // Retrying sees the other rotation pending.
      expect((await failure(rotate())).message).toContain('already in progress');
    } finally {
      await other.close();
    }
  });
});

describe('rotation policies', () => {
  it.each([
    ['unknown field', { version: 1, intervalMs: DAY, graceMs: DAY, threshold: 0.9, deadlineMs: HOUR, extra: 1 }],
    ['missing field', { version: 1, intervalMs: DAY, graceMs: DAY, threshold: 0.9 }],
    ['wrong version', { version: 2, intervalMs: DAY, graceMs: DAY, threshold: 0.9, deadlineMs: HOUR }],
    ['threshold above 1', { version: 1, intervalMs: DAY, graceMs: DAY, threshold: 1.5, deadlineMs: HOUR }],
    ['negative grace', { version: 1, intervalMs: DAY, graceMs: -1, threshold: 0.9, deadlineMs: HOUR }],
    ['fractional interval', { version: 1, intervalMs: 1.5, graceMs: DAY, threshold: 0.9, deadlineMs: HOUR }],
    ['deadline past the interval', { version: 1, intervalMs: HOUR, graceMs: DAY, threshold: 0.9, deadlineMs: 2 * HOUR }],
    ['not an object', [1, 2, 3]],
    ['a string', 'every day'],
  ])('a stored policy with %s is refused, never replaced by the defaults', async (_name, stored) => {
    await h.repository.setSetting(rotationPolicySettingKey(h.fleet, null), JSON.stringify(stored));
    expect(await failure(loadRotationPolicy(h.repository, h.fleet, null))).toBeInstanceOf(InvalidArgument);
    expect(await failure(rotate())).toBeInstanceOf(InvalidArgument);
    expect(h.kmsCalls('generateDataKey')).toBe(0);
  });

  it('reports every problem of a policy at once', () => {
    let message = '';
    try {
      validateRotationPolicy({ intervalMs: 0, graceMs: -5, threshold: 2, deadlineMs: 10 });
    } catch (error) {
      message = (error as Error).message;
    }
    for (const field of ['intervalMs', 'graceMs', 'threshold', 'deadlineMs']) expect(message).toContain(field);
  });

  it('a group without its own policy follows the fleet policy, and the fleet the defaults', async () => {
    await h.repository.createGroup({ fleetId: h.fleet, id: 'line-c', name: 'C' });
    expect(await loadRotationPolicy(h.repository, h.fleet, 'line-c')).toEqual(DEFAULT_ROTATION_POLICY);
    await saveRotationPolicy(h.repository, h.fleet, null, { ...DEFAULT_ROTATION_POLICY, threshold: 0.75 });
    expect((await loadRotationPolicy(h.repository, h.fleet, 'line-c')).threshold).toBe(0.75);
  });
});
