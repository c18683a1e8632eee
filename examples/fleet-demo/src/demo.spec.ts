/**
 * The fleet demo, run for real (a controller and four agents in their own processes, fleetctl
 * many times): every step's outcome is checked, not just that it ran — the opened text, the
 * channel's bytes, epoch 2 on every robot, the revoked robot refused by each peer, DEVICE_LOCKED
 * everywhere during the lockdown, the lift, the audit chain — and afterwards no process it
 * started is alive and its temporary directory is gone. Also: an interrupted run stops the
 * daemons and the commands in flight and removes its directory, and the same demo with the
 * controller's keys in the Vault Transit emulator.
 */
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { FleetDemoFailed, ROBOTS, runFleetDemo, type FleetDemoReport } from './demo.js';

/** A whole run takes 40-100 s on the shared two-core machine, most of it process start-up. */
const RUN_TIMEOUT_MS = 240_000;
const FULL_TOKEN = /fk_(?:op|enr|app)_[A-Za-z0-9_-]{8,}/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

describe('the fleet demo on the local KMS', () => {
  let report: FleetDemoReport;
  const printed: string[] = [];

  beforeAll(async () => {
    report = await runFleetDemo({ onStep: (step) => printed.push(`${step.title} ${step.detail}`) });
  }, RUN_TIMEOUT_MS);

  it('runs every step in order and reports each as it goes', () => {
    expect(report.steps.map((step) => step.title)).toEqual([
      'controller initialised',
      'controller serving',
      'tokens and a second operator',
      'four robots provisioned',
      'four agents serving',
      'sealed on robot-a, opened on robot-b',
      'channel robot-a -> robot-b',
      'communication key rotated',
      'robot-d revoked',
      'fleet locked down',
      'lockdown lifted with two approvals',
      'audit chain verified',
      'everything stopped',
    ]);
    expect(printed).toHaveLength(report.steps.length);
    for (const step of report.steps) expect(step.ms).toBeGreaterThan(0);
  });

  it('provisions the four robots with their own device ids', () => {
    expect(report.facts.provisioned).toEqual([...ROBOTS]);
  });

  it('opens on robot-b exactly what robot-a sealed, from robot-a, and refuses other associated data', () => {
    const { sealed } = report.facts;
    expect(sealed.opened).toBe(sealed.text);
    expect(sealed.sender).toBe('robot-a');
    expect(sealed.epoch).toBe(1);
    expect(sealed.otherAssociatedData).toBe('DECRYPTION_FAILED');
  });

  it('opens a channel whose ends see each other’s verified ids and carries bytes both ways', () => {
    expect(report.facts.channel).toEqual({ dialerSaw: 'robot-b', waiterSaw: 'robot-a', atWaiter: 'ping from robot-a', atDialer: 'pong from robot-b' });
  });

  it('puts all four robots on epoch 2 after the rotation; epoch 1 still opens as retiring', () => {
    const { rotation } = report.facts;
    expect(rotation.newEpoch).toBe(2);
    expect(rotation.outcome).toBe('active');
    expect(rotation.activeEpochs).toEqual({ 'robot-a': 2, 'robot-b': 2, 'robot-c': 2, 'robot-d': 2 });
    expect(rotation.sealedWith).toBe(2);
    expect(rotation.oldMessageState).toBe('RETIRING');
  });

  it('has every peer refuse the revoked robot’s message and channel, and the revoked robot lock itself', () => {
    const { revocation } = report.facts;
    expect(revocation.device).toBe('robot-d');
    expect(revocation.refusals).toEqual({ 'robot-a': 'CERTIFICATE_REVOKED', 'robot-b': 'CERTIFICATE_REVOKED', 'robot-c': 'CERTIFICATE_REVOKED' });
    expect(revocation.revokedLocked).toBe(true);
    expect(revocation.channelToRevoked).not.toBe('opened');
  });

  it('locks every robot during the lockdown: Seal and Sign are DEVICE_LOCKED on all four', () => {
    const everyRobot = (value: unknown) => Object.fromEntries(ROBOTS.map((robot) => [robot, value]));
    expect(report.facts.lockdown).toEqual({ locked: everyRobot(true), seal: everyRobot('DEVICE_LOCKED'), sign: everyRobot('DEVICE_LOCKED') });
  });

  it('lifts the lockdown with two different operators; the peers work again, the revoked robot stays locked', () => {
    const { lift } = report.facts;
    expect(lift.state).toBe('executed');
    // The first approval is the requester's own: the admin `init` made (named by a generated id).
    expect(lift.approvals).toHaveLength(2);
    expect(lift.approvals[1]).toBe('second-admin');
    expect(lift.approvals[0]).not.toBe('second-admin');
    expect(lift.unlocked).toEqual({ 'robot-a': true, 'robot-b': true, 'robot-c': true });
    expect(lift.resealed).toBe('back to work');
    expect(lift.revokedStillLocked).toBe(true);
  });

  it('verifies the audit chain and its signed head', () => {
    expect(report.facts.audit.valid).toBe(true);
    expect(report.facts.audit.headSignatureValid).toBe(true);
    expect(report.facts.audit.recordsChecked).toBeGreaterThan(20);
  });

  it('stops everything cleanly: exit 0 each, no process left, the temporary directory removed, no secret in any log', () => {
    expect(Object.keys(report.facts.stopped).sort()).toEqual(['edge-agent robot-a', 'edge-agent robot-b', 'edge-agent robot-c', 'edge-agent robot-d', 'fleet-controller']);
    for (const outcome of Object.values(report.facts.stopped)) expect(outcome).toEqual({ exitCode: 0, signal: null, killed: false });
    expect(report.facts.pids.length).toBeGreaterThanOrEqual(15);
    expect(report.facts.pids.filter(alive)).toEqual([]);
    expect(existsSync(report.facts.workDir)).toBe(false);
    expect(report.facts.logsHoldNoSecret).toBe(true);
  });

  it('prints token hints only, never a full token', () => {
    expect(printed.join('\n')).toMatch(/fk_enr_[A-Za-z0-9_-]{2}…/);
    for (const line of printed) expect(line).not.toMatch(FULL_TOKEN);
  });
});

describe('an interrupted run', () => {
  it('stops the controller and the commands in flight, removes its directory, and says it was interrupted', async () => {
    const interrupt = new AbortController();
    const titles: string[] = [];
    const run = runFleetDemo({
      signal: interrupt.signal,
      onStep: (step) => {
        titles.push(step.title);
        // Ctrl-C just after the next step has started its two fleetctl runs.
        if (step.title === 'controller serving') setImmediate(() => interrupt.abort(new Error('interrupted')));
      },
    });
    const failure = await run.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(FleetDemoFailed);
    const failed = failure as FleetDemoFailed;
    expect(failed.message).toBe('stopped (interrupted)');
    expect(failed.step).toBe('tokens and a second operator');
    expect(titles).toEqual(['controller initialised', 'controller serving']);
    // init, serve and the two fleetctl runs that were in flight.
    expect(failed.pids).toHaveLength(4);
    expect(failed.pids.filter(alive)).toEqual([]);
    expect(failed.workDir).toBeDefined();
    expect(existsSync(failed.workDir!)).toBe(false);
  }, RUN_TIMEOUT_MS);
});

describe('the fleet demo with the controller’s keys in the Vault Transit emulator', () => {
  it('runs the same steps to the same outcomes', async () => {
    const report = await runFleetDemo({ kms: 'vault' });
    expect(report.steps[0]!.title).toBe('vault KMS emulator started');
    expect(report.steps[0]!.detail).toMatch(/^Vault Transit emulator at http:\/\/127\.0\.0\.1:\d+/);
    expect(report.steps[1]!.detail).toContain('in the vault emulator');
    expect(report.facts.sealed.opened).toBe(report.facts.sealed.text);
    expect(report.facts.rotation.activeEpochs).toEqual({ 'robot-a': 2, 'robot-b': 2, 'robot-c': 2, 'robot-d': 2 });
    expect(report.facts.revocation.refusals['robot-a']).toBe('CERTIFICATE_REVOKED');
    expect(Object.values(report.facts.lockdown.seal)).toEqual(['DEVICE_LOCKED', 'DEVICE_LOCKED', 'DEVICE_LOCKED', 'DEVICE_LOCKED']);
    expect(report.facts.lift.unlocked).toEqual({ 'robot-a': true, 'robot-b': true, 'robot-c': true });
    expect(report.facts.audit.valid).toBe(true);
    expect(report.facts.pids.filter(alive)).toEqual([]);
    expect(existsSync(report.facts.workDir)).toBe(false);
    expect(report.facts.logsHoldNoSecret).toBe(true);
  }, RUN_TIMEOUT_MS);
});
