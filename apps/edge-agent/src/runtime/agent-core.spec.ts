/**
 * The agent core on real keystores provisioned by a TestFleet: the lock survives a restart, the
 * offline bound and the epoch windows decide sealing (with a fake clock), a clock set backwards
 * does not revive keys, bundles add and promote epochs, and peers are judged by CA, fleet and
 * revocation list.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isFleetkeyError } from '@fleetkey/key-types';
import { openKeyBundle, SignedRevocationListSchema } from '@fleetkey/protocol';
import { toBinary } from '@bufbuild/protobuf';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentState, agentPaths, agentProtector } from '../state/index.js';
import { TestFleet, type TestRobot } from '../testing/test-fleet.js';
import { AgentCore, DEFAULT_MAX_OFFLINE_MS } from './agent-core.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2031-03-01T00:00:00Z');

let dir: string;
let fleet: TestFleet;
let robot: TestRobot;
const open: AgentState[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fk-core-'));
  fleet = await TestFleet.create({ now: T0 });
  robot = await fleet.provision('robot-a', join(dir, 'a'));
});

afterEach(async () => {
  for (const state of open.splice(0)) state.close();
  await rm(dir, { recursive: true, force: true });
});

async function coreOf(target: TestRobot, clock: () => number): Promise<AgentCore> {
  const paths = agentPaths(target.dataDir);
  const state = await AgentState.open(paths.keystore, agentProtector(paths), { now: () => new Date(clock()) });
  open.push(state);
  return new AgentCore(state, { clock });
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isFleetkeyError(error) ? error.code : String(error);
  }
  return undefined;
}

describe('AgentCore', () => {
  it('seals until max_offline has passed since the last contact, then KEYS_EXPIRED, while opening still works', async () => {
    let now = T0;
    await coreOf(robot, () => now);
    const core = new AgentCore(open[0]!, { clock: () => now, maxOfflineMs: 10 * HOUR });
    const key = core.sealingKey(false);
    expect(key.version).toBe(1);
    key.key.fill(0);
    now = T0 + 9 * HOUR;
    core.recordContact();
    now = T0 + 18 * HOUR;
    expect(codeOf(() => core.sealingKey(false))).toBeUndefined();
    now = T0 + 20 * HOUR;
    expect(codeOf(() => core.sealingKey(false))).toBe('KEYS_EXPIRED');
    const opening = core.openingKey('communication/acme/fleet', 1);
    expect(opening.key).toHaveLength(32);
    opening.key.fill(0);
  });

  it('stops sealing and opening with an epoch past its not_after, whatever the contact', async () => {
    let now = T0;
    const core = await coreOf(robot, () => now);
    now = T0 + 2 * 24 * HOUR + 1;
    core.recordContact();
    expect(codeOf(() => core.sealingKey(false))).toBe('KEYS_EXPIRED');
    expect(codeOf(() => core.openingKey('communication/acme/fleet', 1))).toBe('KEY_NOT_USABLE');
    expect(DEFAULT_MAX_OFFLINE_MS).toBe(72 * HOUR);
  });

  it('judges expiry by the latest trusted time when the clock is set backwards', async () => {
    let now = T0 + 10 * HOUR;
    const core = await coreOf(robot, () => now);
    core.recordContact();
    now = T0 - 30 * 24 * HOUR;
    expect(core.clockReport().behind).toBe(true);
    expect(core.now().getTime()).toBe(T0 + 10 * HOUR);
  });

  it('keeps the latest time seen across a restart, so a clock set back after one does not revive sealing', async () => {
    let now = T0 + 20 * HOUR;
    await coreOf(robot, () => now);
    const core = new AgentCore(open[0]!, { clock: () => now, maxOfflineMs: 10 * HOUR });
    expect(codeOf(() => core.sealingKey(false))).toBe('KEYS_EXPIRED');
    open.pop()!.close();
    now = T0 + HOUR;
    await coreOf(robot, () => now);
    const restarted = new AgentCore(open[0]!, { clock: () => now, maxOfflineMs: 10 * HOUR });
    expect(restarted.clockReport().behind).toBe(true);
    expect(codeOf(() => restarted.sealingKey(false))).toBe('KEYS_EXPIRED');
  });

  it('stays locked across a restart and refuses keys while locked; a lift unlocks', async () => {
    const core = await coreOf(robot, () => T0);
    core.lock({ sequence: 5n, reason: 'drill', wipe: false });
    expect(codeOf(() => core.sealingKey(false))).toBe('DEVICE_LOCKED');
    open.pop()!.close();
    const again = await coreOf(robot, () => T0);
    expect(again.lockState()).toMatchObject({ locked: true, sequence: 5n, reason: 'drill' });
    expect(codeOf(() => again.storageKey('default'))).toBe('DEVICE_LOCKED');
    again.unlock(6n);
    expect(again.isLocked()).toBe(false);
    const key = again.sealingKey(false);
    key.key.fill(0);
  });

  it('stays locked while another lockdown scope still holds it; a revoked robot stays locked whatever is lifted', async () => {
    const core = await coreOf(robot, () => T0);
    core.lock({ sequence: 1n, reason: 'group incident', wipe: false, scope: 'group:west' });
    core.lock({ sequence: 2n, reason: 'fleet drill', wipe: false, scope: 'fleet' });
    expect(core.lockState().reason).toBe('fleet drill');
    core.unlock(3n, 'fleet');
    expect(core.lockState()).toMatchObject({ locked: true, scopes: ['group:west'], reason: 'group incident' });
    open.pop()!.close();
    const again = await coreOf(robot, () => T0);
    expect(again.lockState()).toMatchObject({ locked: true, scopes: ['group:west'], reason: 'group incident' });
    again.unlock(4n, 'group:west');
    expect(again.isLocked()).toBe(false);
    again.lock({ sequence: 5n, reason: 'stolen', wipe: false, scope: 'revoked' });
    again.unlock(6n, 'device:robot-a');
    again.unlock(7n, 'fleet');
    expect(again.isLocked()).toBe(true);
  });

  it('hands out key copies: zeroizing one does not touch the next', async () => {
    const core = await coreOf(robot, () => T0);
    const first = core.sealingKey(false);
    first.key.fill(0);
    const second = core.openingKey('communication/acme/fleet', 1);
    expect(Buffer.from(second.key).equals(Buffer.from(fleet.epochs[0]!.key))).toBe(true);
    second.key.fill(0);
    expect(Buffer.from(core.sealingKey(false).key).equals(Buffer.from(fleet.epochs[0]!.key))).toBe(true);
  });

  it('shreds every communication epoch on a wipe', async () => {
    const core = await coreOf(robot, () => T0);
    core.lock({ sequence: 1n, reason: 'stolen', wipe: true });
    expect(core.state.epochs()).toEqual([]);
  });

  it('stores a pending epoch from a bundle and promotes it when a later bundle activates it', async () => {
    const core = await coreOf(robot, () => T0);
    const next = fleet.addEpoch();
    const first = await openKeyBundle({ bundle: await fleet.bundleFor(robot), fleet: 'acme', deviceId: 'robot-a', privateKey: robot.privateKey, emergencyKeys: core.state.emergencyKeyMap() });
    core.storeBundle(first);
    expect(core.state.epochs().map((epoch) => [epoch.keyId.version, epoch.state])).toEqual([
      [1, 'active'],
      [2, 'pending'],
    ]);
    fleet.epochs[0]!.state = 'retiring';
    next.state = 'active';
    const second = await openKeyBundle({
      bundle: await fleet.bundleFor(robot),
      fleet: 'acme',
      deviceId: 'robot-a',
      privateKey: robot.privateKey,
      emergencyKeys: core.state.emergencyKeyMap(),
      appliedManifestSequences: core.state.sequences().manifests,
    });
    core.storeBundle(second);
    expect(core.state.epochs().map((epoch) => [epoch.keyId.version, epoch.state])).toEqual([
      [1, 'retiring'],
      [2, 'active'],
    ]);
    const sealing = core.sealingKey(false);
    expect(sealing.version).toBe(2);
    expect(Buffer.from(sealing.key).equals(Buffer.from(next.key))).toBe(true);
    sealing.key.fill(0);
  });

  it('accepts a peer of its fleet, refuses one of another CA and a revoked one', async () => {
    const core = await coreOf(robot, () => Date.now());
    const peer = await fleet.provision('robot-b', join(dir, 'b'));
    expect(core.validatePeerCertificate(peer.certificate).deviceId).toBe('robot-b');
    expect(codeOf(() => core.validatePeerCertificate(peer.certificate, 'robot-c'))).toBe('PEER_REFUSED');
    const foreign = await TestFleet.create({ fleet: 'acme' });
    const stranger = await foreign.provision('robot-x', join(dir, 'x'));
    expect(codeOf(() => core.validatePeerCertificate(stranger.certificate))).toBe('CERTIFICATE_INVALID');
    const list = await fleet.revoke(peer);
    core.setRevocationList({ sequence: 1n, signed: toBinary(SignedRevocationListSchema, list) });
    expect(codeOf(() => core.validatePeerCertificate(peer.certificate))).toBe('CERTIFICATE_REVOKED');
    expect(core.isRevoked('robot-b')).toBe(true);
  });
});
