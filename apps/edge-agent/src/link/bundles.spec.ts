/**
 * applyKeyBundle and applyRevocationList on robots provisioned into real keystores by TestFleet (no
 * controller): the two-phase rotation as a robot sees it, and every refusal leaving the keystore
 * as it was.
 */
import { create } from '@bufbuild/protobuf';
import { formatKeyId } from '@fleetkey/key-types';
import { AckOutcome, CommandAction, KeyBundleSchema, SignedEpochManifestSchema, SignedRevocationListSchema, type KeyBundle } from '@fleetkey/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestFleet } from '../testing/test-fleet.js';
import { applyKeyBundle, applyRevocationList } from './bundles.js';
import { applySignedCommand } from './commands.js';
import { provisionAgent, tempDir, type TestAgent } from './test-support.js';

let fleet: TestFleet;
let parent: string;
let agent: TestAgent;
const opened: TestAgent[] = [];
let cleanup: () => Promise<void>;

beforeEach(async () => {
  const dir = await tempDir('fk-link-bundles-');
  parent = dir.path;
  cleanup = dir.remove;
  fleet = await TestFleet.create();
  agent = await provisionAgent(fleet, parent, 'robot-a');
  opened.push(agent);
});

afterEach(async () => {
  for (const each of opened.splice(0)) each.close();
  await cleanup();
});

function epochStates(of: TestAgent = agent): string[] {
  return of.core.state.epochs().map((epoch) => `${formatKeyId(epoch.keyId)}@${epoch.keyId.version}:${epoch.state}`);
}

function sealingVersion(of: TestAgent = agent, group = false): number {
  const use = of.core.sealingKey(group);
  use.key.fill(0);
  return use.version;
}

describe('applyKeyBundle: the two-phase rotation', () => {
  it('stores a new epoch as pending, then promotes it when a later bundle activates it', async () => {
    const next = fleet.addEpoch({ state: 'pending' });
    const first = await applyKeyBundle(agent.core, await fleet.bundleFor(agent.robot), agent.logger);
    expect(first).toMatchObject({ outcome: AckOutcome.APPLIED, ack: true, changed: true });
    expect(epochStates()).toEqual(['communication/acme/fleet@1:active', 'communication/acme/fleet@2:pending']);
    expect(sealingVersion()).toBe(1);
    // A pending epoch already opens (dual-read), it does not seal yet.
    const pending = agent.core.openingKey('communication/acme/fleet', 2);
    expect(Buffer.from(pending.key).equals(Buffer.from(next.key))).toBe(true);
    pending.key.fill(0);

    fleet.epochs[0]!.state = 'retiring';
    next.state = 'active';
    const second = await applyKeyBundle(agent.core, fleet.bundleBytes(await fleet.bundleFor(agent.robot)), agent.logger);
    expect(second).toMatchObject({ outcome: AckOutcome.APPLIED, changed: true });
    expect(epochStates()).toEqual(['communication/acme/fleet@1:retiring', 'communication/acme/fleet@2:active']);
    expect(sealingVersion()).toBe(2);
    expect(agent.core.state.sequences().keyBundle).toBe(Number(second.sequence));
  });

  it('acks the bundle it already holds as APPLIED without changing anything', async () => {
    const bundle = await fleet.bundleFor(agent.robot);
    await applyKeyBundle(agent.core, bundle, agent.logger);
    const again = await applyKeyBundle(agent.core, bundle, agent.logger);
    expect(again).toMatchObject({ outcome: AckOutcome.APPLIED, detail: 'already held', ack: true, changed: false });
  });

  it('accepts a bundle whose fleet manifest is unchanged while its group manifest is newer (a group-only rotation)', async () => {
    fleet.addEpoch({ group: 'line-1', state: 'active' });
    const grouped = await provisionAgent(fleet, parent, 'robot-g', { group: 'line-1' });
    opened.push(grouped);
    const first = await fleet.bundleFor(grouped.robot);
    expect((await applyKeyBundle(grouped.core, first, grouped.logger)).outcome).toBe(AckOutcome.APPLIED);
    fleet.addEpoch({ group: 'line-1', state: 'pending' });
    const later = await fleet.bundleFor(grouped.robot);
    // The controller's shape: the fleet manifest as it was, the group manifest re-signed.
    const mixed: KeyBundle = create(KeyBundleSchema, { ...later, manifests: [first.manifests[0]!, later.manifests[1]!], sequence: first.sequence + 1n });
    const result = await applyKeyBundle(grouped.core, mixed, grouped.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.APPLIED, changed: true });
    expect(epochStates(grouped)).toContain('communication/acme/line-1@2:pending');
    expect(sealingVersion(grouped, true)).toBe(1);
  });

  it('takes the same bundle again after a wipe, so a lifted robot gets its keys back', async () => {
    const bundle = await fleet.bundleFor(agent.robot);
    await applyKeyBundle(agent.core, bundle, agent.logger);
    await applySignedCommand(agent.core, await fleet.command({ action: CommandAction.LOCKDOWN, wipe: true }), agent.logger);
    expect(epochStates()).toEqual([]);
    await applySignedCommand(agent.core, await fleet.command({ action: CommandAction.LIFT }), agent.logger);
    const result = await applyKeyBundle(agent.core, bundle, agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.APPLIED, changed: true });
    expect(sealingVersion()).toBe(1);
  });
});

describe('applyKeyBundle: refusals change nothing', () => {
  it('Precondition: a bundle for another device is refused and not acked', async () => {
    const other = await provisionAgent(fleet, parent, 'robot-b');
    opened.push(other);
    fleet.addEpoch({ state: 'pending' });
    const result = await applyKeyBundle(agent.core, await fleet.bundleFor(other.robot), agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.REJECTED_MALFORMED, ack: false, changed: false });
    expect(epochStates()).toEqual(['communication/acme/fleet@1:active']);
  });

  it('Precondition: a bundle whose manifests another emergency key signed (forged) is REJECTED_SIGNATURE', async () => {
    const impostor = await TestFleet.create();
    impostor.addEpoch({ state: 'active' });
    const result = await applyKeyBundle(agent.core, await impostor.bundleFor(agent.robot), agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.REJECTED_SIGNATURE, changed: false });
    expect(epochStates()).toEqual(['communication/acme/fleet@1:active']);
    expect(agent.core.state.sequences().keyBundle).toBe(0);
  });

  it('Precondition: a tampered manifest is REJECTED_SIGNATURE', async () => {
    fleet.addEpoch({ state: 'pending' });
    const bundle = await fleet.bundleFor(agent.robot);
    const manifest = bundle.manifests[0]!;
    const payload = new Uint8Array(manifest.payload);
    payload[payload.length - 1]! ^= 1;
    const tampered = create(KeyBundleSchema, { ...bundle, manifests: [create(SignedEpochManifestSchema, { ...manifest, payload })] });
    expect((await applyKeyBundle(agent.core, tampered, agent.logger)).outcome).toBe(AckOutcome.REJECTED_SIGNATURE);
    expect(epochStates()).toEqual(['communication/acme/fleet@1:active']);
  });

  it('Precondition: a key the manifest does not commit to (swapped wrapped keys) is refused', async () => {
    fleet.addEpoch({ state: 'pending' });
    const bundle = await fleet.bundleFor(agent.robot);
    const [one, two] = bundle.epochs;
    const swapped = create(KeyBundleSchema, { ...bundle, epochs: [{ ...one!, wrappedKey: two!.wrappedKey }, { ...two!, wrappedKey: one!.wrappedKey }] });
    const result = await applyKeyBundle(agent.core, swapped, agent.logger);
    expect(result.outcome).toBe(AckOutcome.REJECTED_SIGNATURE);
    expect(epochStates()).toEqual(['communication/acme/fleet@1:active']);
  });

  it('Precondition: an older bundle (replay, rollback of its manifest) is REJECTED_REPLAY', async () => {
    const older = await fleet.bundleFor(agent.robot);
    fleet.addEpoch({ state: 'pending' });
    const newer = await fleet.bundleFor(agent.robot);
    await applyKeyBundle(agent.core, newer, agent.logger);
    const result = await applyKeyBundle(agent.core, older, agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.REJECTED_REPLAY, ack: true, changed: false });
    expect(epochStates()).toEqual(['communication/acme/fleet@1:active', 'communication/acme/fleet@2:pending']);
  });

  it('Precondition: an unsigned bundle sequence above its manifests\' is refused (it would block later bundles)', async () => {
    const bundle = await fleet.bundleFor(agent.robot);
    const inflated = create(KeyBundleSchema, { ...bundle, sequence: 1_000_000n });
    expect((await applyKeyBundle(agent.core, inflated, agent.logger)).outcome).toBe(AckOutcome.REJECTED_MALFORMED);
    expect(agent.core.state.sequences().keyBundle).toBe(0);
  });

  it('Precondition: a locked robot takes no keys (FAILED, acked)', async () => {
    await applySignedCommand(agent.core, await fleet.command({ action: CommandAction.LOCKDOWN, wipe: true }), agent.logger);
    const result = await applyKeyBundle(agent.core, await fleet.bundleFor(agent.robot), agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.FAILED, ack: true, changed: false });
    expect(epochStates()).toEqual([]);
  });

  it.each([
    ['garbage', new Uint8Array([0xff, 0x01])],
    ['over the 128 KiB bound', new Uint8Array(128 * 1024 + 1)],
  ])('Precondition: a malformed bundle (%s) is refused and not acked', async (_name, bytes) => {
    expect(await applyKeyBundle(agent.core, bytes, agent.logger)).toMatchObject({ outcome: AckOutcome.REJECTED_MALFORMED, ack: false });
  });
});

describe('applyRevocationList', () => {
  it('applies a list, after which the robot refuses the revoked peer; an older list is then refused', async () => {
    const other = await provisionAgent(fleet, parent, 'robot-b');
    opened.push(other);
    const first = await fleet.revocationList();
    const second = await fleet.revoke(other.robot);
    const applied = await applyRevocationList(agent.core, fleet.revocationListBytes(second), agent.logger);
    expect(applied).toMatchObject({ outcome: AckOutcome.APPLIED, sequence: 2n, changed: true, selfRevoked: false });
    expect(agent.core.revocationSequence()).toBe(2n);
    expect(agent.core.isRevoked('robot-b')).toBe(true);
    expect(() => agent.core.validatePeerCertificate(other.robot.certificate)).toThrow();

    const older = await applyRevocationList(agent.core, first, agent.logger);
    expect(older).toMatchObject({ outcome: AckOutcome.REJECTED_REPLAY, changed: false });
    expect(agent.core.revocationSequence()).toBe(2n);
    expect((await applyRevocationList(agent.core, second, agent.logger)).detail).toBe('already held');

    await agent.reopen();
    expect(agent.core.isRevoked('robot-b')).toBe(true);
  });

  it('Precondition: a list signed by another key is refused', async () => {
    const impostor = await TestFleet.create();
    const result = await applyRevocationList(agent.core, await impostor.revocationList(), agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.REJECTED_SIGNATURE, changed: false });
    expect(agent.core.revocationSequence()).toBe(0n);
  });

  it('Precondition: a tampered list is refused', async () => {
    const list = await fleet.revocationList();
    const payload = new Uint8Array(list.payload);
    payload[0]! ^= 0x40;
    const result = await applyRevocationList(agent.core, create(SignedRevocationListSchema, { ...list, payload }), agent.logger);
    expect(result.outcome).toBe(AckOutcome.REJECTED_SIGNATURE);
    expect(agent.core.revocationSequence()).toBe(0n);
  });

  it('reports a list that names this robot', async () => {
    const result = await applyRevocationList(agent.core, await fleet.revoke(agent.robot), agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.APPLIED, selfRevoked: true });
  });
});
