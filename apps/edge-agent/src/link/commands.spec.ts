/**
 * applySignedCommand on a robot provisioned into a real keystore by TestFleet (no controller):
 * every refusal of the module comment's order leaves the robot as it was, sequence included, and
 * is logged at warn; the effects persist across a reopening of the keystore.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { createLocalSigner, generateKeyPair } from '@fleetkey/crypto';
import { AckOutcome, CommandAction, KeyRefSchema, SignedCommandSchema, type SignedCommand } from '@fleetkey/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestFleet } from '../testing/test-fleet.js';
import { applySignedCommand } from './commands.js';
import { provisionAgent, tempDir, type TestAgent } from './test-support.js';

const HOUR_MS = 3_600_000;

let fleet: TestFleet;
let agent: TestAgent;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  const dir = await tempDir('fk-link-commands-');
  cleanup = dir.remove;
  fleet = await TestFleet.create();
  agent = await provisionAgent(fleet, dir.path, 'robot-a', { group: 'line-1' });
});

afterEach(async () => {
  agent.close();
  await cleanup();
});

function persistedSequence(): bigint {
  return agent.core.state.sequences().command;
}

function refusalLogged(sequence: bigint): boolean {
  return agent.logger.lines.some((line) => line.level === 'warn' && line.message === 'signed command refused' && line.object['sequence'] === sequence.toString() && typeof line.object['refusal'] === 'string' && typeof line.object['action'] === 'string');
}

describe('applySignedCommand: what is obeyed', () => {
  it('applies a fleet-wide LOCKDOWN: locked, sequence persisted, acked APPLIED', async () => {
    const command = await fleet.command({ action: CommandAction.LOCKDOWN, reason: 'incident 7' });
    const result = await applySignedCommand(agent.core, command, agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.APPLIED, sequence: 1n, requestId: 'req-1', ack: true, effect: 'locked' });
    expect(agent.core.isLocked()).toBe(true);
    expect(agent.core.lockState().reason).toBe('incident 7');
    expect(persistedSequence()).toBe(1n);
    expect(() => agent.core.sealingKey(false)).toThrow(expect.objectContaining({ code: 'DEVICE_LOCKED' }) as Error);
  });

  it('accepts the same command as bytes (the MQTT path)', async () => {
    const command = await fleet.command({ action: CommandAction.LOCKDOWN, scope: { group: 'line-1' } });
    const result = await applySignedCommand(agent.core, fleet.commandBytes(command), agent.logger);
    expect(result.outcome).toBe(AckOutcome.APPLIED);
    expect(agent.core.isLocked()).toBe(true);
  });

  it('LOCKDOWN with wipe shreds the communication keys, and a reopened keystore is still locked and empty', async () => {
    expect(agent.core.state.epochs()).toHaveLength(1);
    const result = await applySignedCommand(agent.core, await fleet.command({ action: CommandAction.LOCKDOWN, wipe: true, scope: { deviceId: 'robot-a' } }), agent.logger);
    expect(result.effect).toBe('locked');
    expect(agent.core.state.epochs()).toEqual([]);
    await agent.reopen();
    expect(agent.core.isLocked()).toBe(true);
    expect(agent.core.lockState().sequence).toBe(1n);
    expect(agent.core.state.epochs()).toEqual([]);
    expect(agent.core.state.sequences().command).toBe(1n);
  });

  it('LIFT with a higher sequence unlocks (and asks for keys), persisted across a reopening', async () => {
    await applySignedCommand(agent.core, await fleet.command({ action: CommandAction.LOCKDOWN }), agent.logger);
    const result = await applySignedCommand(agent.core, await fleet.command({ action: CommandAction.LIFT }), agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.APPLIED, sequence: 2n, effect: 'unlocked', ack: true });
    expect(agent.core.isLocked()).toBe(false);
    await agent.reopen();
    expect(agent.core.isLocked()).toBe(false);
    expect(persistedSequence()).toBe(2n);
  });

  it('REVOKE naming this device locks, shreds and ends the link', async () => {
    const result = await applySignedCommand(agent.core, await fleet.command({ action: CommandAction.REVOKE, scope: { deviceId: 'robot-a' } }), agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.APPLIED, effect: 'revoked' });
    expect(agent.core.isLocked()).toBe(true);
    expect(agent.core.state.epochs()).toEqual([]);
  });

  it('FETCH_KEYS asks for keys and advances the sequence', async () => {
    const result = await applySignedCommand(agent.core, await fleet.command({ action: CommandAction.FETCH_KEYS }), agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.APPLIED, effect: 'fetch-keys' });
    expect(persistedSequence()).toBe(1n);
  });

  it('PIN_EMERGENCY_KEY fails as not supported, acked, and leaves the sequence for a later build', async () => {
    const result = await applySignedCommand(agent.core, await fleet.command({ action: CommandAction.PIN_EMERGENCY_KEY }), agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.FAILED, detail: 'not supported by this agent', ack: true, effect: 'none' });
    expect(persistedSequence()).toBe(0n);
  });

  it('Precondition: an expired LOCKDOWN still locks (fails safe)', async () => {
    const now = agent.clock();
    const command = await fleet.command({ action: CommandAction.LOCKDOWN, issuedAt: now - 40 * 24 * HOUR_MS, expiresAt: now - 10 * 24 * HOUR_MS });
    const result = await applySignedCommand(agent.core, command, agent.logger);
    expect(result.outcome).toBe(AckOutcome.APPLIED);
    expect(agent.core.isLocked()).toBe(true);
  });
});

describe('applySignedCommand: what is refused, not obeyed, sequence unchanged, logged', () => {
  it('Precondition: a command signed by another key (forged) is REJECTED_SIGNATURE', async () => {
    const forger = await generateKeyPair('ECDSA_P256');
    const command = await fleet.command({ action: CommandAction.LOCKDOWN, signer: createLocalSigner(forger.privateKey) });
    const result = await applySignedCommand(agent.core, command, agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.REJECTED_SIGNATURE, sequence: 1n, effect: 'none' });
    // Newer than the last applied: acked, so the controller hears of the forgery.
    expect(result.ack).toBe(true);
    expect(agent.core.isLocked()).toBe(false);
    expect(persistedSequence()).toBe(0n);
    expect(refusalLogged(1n)).toBe(true);
  });

  it('Precondition: a forgery claiming an applied sequence is not acked (it would overwrite the real APPLIED)', async () => {
    await applySignedCommand(agent.core, await fleet.command({ action: CommandAction.FETCH_KEYS }), agent.logger);
    const forger = await generateKeyPair('ECDSA_P256');
    const result = await applySignedCommand(agent.core, await fleet.command({ action: CommandAction.LOCKDOWN, sequence: 1n, signer: createLocalSigner(forger.privateKey) }), agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.REJECTED_SIGNATURE, ack: false });
    expect(agent.core.isLocked()).toBe(false);
  });

  it('Precondition: a command naming a signing key this robot did not pin is REJECTED_SIGNATURE', async () => {
    const command = await fleet.command({ action: CommandAction.LOCKDOWN });
    const renamed: SignedCommand = create(SignedCommandSchema, { ...command, signingKey: create(KeyRefSchema, { keyId: command.signingKey!.keyId, version: 2 }) });
    const result = await applySignedCommand(agent.core, renamed, agent.logger);
    expect(result.outcome).toBe(AckOutcome.REJECTED_SIGNATURE);
    expect(agent.core.isLocked()).toBe(false);
    expect(persistedSequence()).toBe(0n);
  });

  it('Precondition: a tampered payload (one bit) is REJECTED_SIGNATURE', async () => {
    const command = await fleet.command({ action: CommandAction.LIFT });
    const payload = new Uint8Array(command.payload);
    payload[payload.length - 1]! ^= 1;
    const result = await applySignedCommand(agent.core, create(SignedCommandSchema, { ...command, payload }), agent.logger);
    expect(result.outcome).toBe(AckOutcome.REJECTED_SIGNATURE);
    expect(persistedSequence()).toBe(0n);
  });

  it('Precondition: a replayed command is REJECTED_REPLAY, not acked, and changes nothing', async () => {
    const lockdown = await fleet.command({ action: CommandAction.LOCKDOWN });
    const lift = await fleet.command({ action: CommandAction.LIFT });
    await applySignedCommand(agent.core, lockdown, agent.logger);
    await applySignedCommand(agent.core, lift, agent.logger);
    expect(agent.core.isLocked()).toBe(false);
    const replayed = await applySignedCommand(agent.core, lockdown, agent.logger);
    expect(replayed).toMatchObject({ outcome: AckOutcome.REJECTED_REPLAY, sequence: 1n, ack: false, effect: 'none' });
    expect(agent.core.isLocked()).toBe(false);
    expect(persistedSequence()).toBe(2n);
    expect(refusalLogged(1n)).toBe(true);
    // The duplicate of the last applied command (its MQTT copy) is refused the same way.
    expect((await applySignedCommand(agent.core, lift, agent.logger)).outcome).toBe(AckOutcome.REJECTED_REPLAY);
  });

  it('Precondition: an expired LIFT is REJECTED_EXPIRED (acked) and the robot stays locked', async () => {
    await applySignedCommand(agent.core, await fleet.command({ action: CommandAction.LOCKDOWN }), agent.logger);
    const now = agent.clock();
    const result = await applySignedCommand(agent.core, await fleet.command({ action: CommandAction.LIFT, issuedAt: now - 8 * 24 * HOUR_MS, expiresAt: now - HOUR_MS }), agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.REJECTED_EXPIRED, sequence: 2n, ack: true });
    expect(agent.core.isLocked()).toBe(true);
    expect(persistedSequence()).toBe(1n);
    expect(refusalLogged(2n)).toBe(true);
  });

  it('Precondition: expiry is judged by the trusted time, not a clock set back', async () => {
    const now = agent.clock();
    agent.core.recordContact();
    const command = await fleet.command({ action: CommandAction.FETCH_KEYS, issuedAt: now - 2 * HOUR_MS, expiresAt: now - HOUR_MS });
    agent.clock.set(now - 3 * HOUR_MS);
    const result = await applySignedCommand(agent.core, command, agent.logger);
    expect(result.outcome).toBe(AckOutcome.REJECTED_EXPIRED);
  });

  it('Precondition: a command for another group is not obeyed, its sequence advances ours, and it is not acked', async () => {
    const result = await applySignedCommand(agent.core, await fleet.command({ action: CommandAction.LOCKDOWN, scope: { group: 'line-2' } }), agent.logger);
    expect(result).toMatchObject({ sequence: 1n, ack: false, effect: 'none' });
    expect(agent.core.isLocked()).toBe(false);
    expect(persistedSequence()).toBe(1n);
    expect(refusalLogged(1n)).toBe(true);
  });

  it('Precondition: a command for another device is not obeyed (REVOKE of another robot included)', async () => {
    for (const action of [CommandAction.LOCKDOWN, CommandAction.REVOKE]) {
      const result = await applySignedCommand(agent.core, await fleet.command({ action, wipe: true, scope: { deviceId: 'robot-b' } }), agent.logger);
      expect(result).toMatchObject({ ack: false, effect: 'none' });
    }
    expect(agent.core.isLocked()).toBe(false);
    expect(agent.core.state.epochs()).toHaveLength(1);
    expect(persistedSequence()).toBe(2n);
  });

  it('Precondition: a command of another fleet (signed by our key) is refused and not acked', async () => {
    for (const command of [await fleet.command({ action: CommandAction.LOCKDOWN, fleet: 'other' })]) {
      const result = await applySignedCommand(agent.core, command, agent.logger);
      expect(result).toMatchObject({ outcome: AckOutcome.REJECTED_MALFORMED, ack: false, effect: 'none' });
    }
    expect(agent.core.isLocked()).toBe(false);
    expect(persistedSequence()).toBe(0n);
  });

  it('Precondition: a command signed by another fleet\'s emergency key is refused', async () => {
    const other = await TestFleet.create({ fleet: 'other' });
    const result = await applySignedCommand(agent.core, await other.command({ action: CommandAction.LOCKDOWN }), agent.logger);
    expect(result.outcome).toBe(AckOutcome.REJECTED_SIGNATURE);
    expect(agent.core.isLocked()).toBe(false);
  });

  it.each([
    ['garbage', new Uint8Array([0xff, 0xff, 0xff, 0xff])],
    ['empty', new Uint8Array(0)],
    ['over the 16 KiB bound', new Uint8Array(16 * 1024 + 1)],
  ])('Precondition: a malformed command (%s) is REJECTED_MALFORMED and not acked', async (_name, bytes) => {
    const result = await applySignedCommand(agent.core, bytes, agent.logger);
    expect(result).toMatchObject({ outcome: AckOutcome.REJECTED_MALFORMED, ack: false, effect: 'none' });
    expect(agent.core.isLocked()).toBe(false);
    expect(persistedSequence()).toBe(0n);
  });

  it('Precondition: a truncated command is refused', async () => {
    const bytes = toBinary(SignedCommandSchema, await fleet.command({ action: CommandAction.LOCKDOWN }));
    const result = await applySignedCommand(agent.core, bytes.subarray(0, bytes.length - 10), agent.logger);
    expect([AckOutcome.REJECTED_MALFORMED, AckOutcome.REJECTED_SIGNATURE]).toContain(result.outcome);
    expect(agent.core.isLocked()).toBe(false);
  });

  it('never logs the command bytes or the signature', async () => {
    const forger = await generateKeyPair('ECDSA_P256');
    const command = await fleet.command({ action: CommandAction.LOCKDOWN, signer: createLocalSigner(forger.privateKey) });
    await applySignedCommand(agent.core, command, agent.logger);
    const logged = JSON.stringify(agent.logger.lines, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
    expect(logged).not.toContain(Buffer.from(command.signature).toString('base64'));
    expect(logged).not.toContain(Buffer.from(command.payload).toString('base64'));
  });
});
