/**
 * Rotation with an offline robot, run for real (a controller and two agents in their own
 * processes): the rotation is activated by robot-a's acknowledgement alone (1 of 2, the policy's
 * 50 %), robot-b's keystore still holds only epoch 1 while it is off, and once restarted it
 * reports epoch 2 active and opens the message robot-a sealed with epoch 2 while it was away.
 */
import { existsSync } from 'node:fs';
import { processGone, type ScenarioReport } from '@fleetkey/fleet-harness';
import { beforeAll, describe, expect, it } from 'vitest';
import { OFFLINE, ONLINE, THRESHOLD, runRotationOfflineRobot, type RotationFacts } from './rotation-offline-robot.js';

describe('key rotation with an offline robot', () => {
  let report: ScenarioReport<RotationFacts>;

  beforeAll(async () => {
    report = await runRotationOfflineRobot();
  }, 180_000);

  it('sets the fleet’s activation threshold to 50 %, the deadline left at one hour', () => {
    expect(report.facts.policy).toEqual({ threshold: THRESHOLD, deadlineMs: 3_600_000 });
  });

  it('stops the offline robot’s agent cleanly', () => {
    expect(report.facts.offlineStop).toEqual({ exitCode: 0, killed: false });
  });

  it('activates epoch 2 on one acknowledgement of two, long before the deadline', () => {
    expect(report.facts.rotation).toEqual({ newEpoch: 2, outcome: 'active', acknowledged: 1, devices: 2 });
    expect(report.facts.onlineActive).toBe(2);
    expect(report.facts.sealedWith).toBe(2);
  });

  it('leaves the offline robot on epoch 1 while it is off', () => {
    expect(report.facts.whileOffline).toEqual([{ version: 1, state: 'active' }]);
  });

  it('brings the robot up to epoch 2 when it comes back, and it opens the message sealed with epoch 2', () => {
    expect(report.facts.caughtUp.activeEpoch).toBe(2);
    expect(report.facts.caughtUp.epochs).toContain('2 active');
    expect(report.facts.caughtUp.epochs).toContain('1 retiring');
    expect(report.facts.opened).toEqual({ text: `sealed by ${ONLINE} while ${OFFLINE} was away`, sender: ONLINE, epoch: 2 });
  });

  it('stops everything cleanly and leaves no process, directory, or secret in a log', () => {
    expect(Object.keys(report.stopped).sort()).toEqual([`edge-agent ${ONLINE}`, `edge-agent ${OFFLINE}`, `edge-agent ${OFFLINE} (back online)`, 'fleet-controller']);
    for (const outcome of Object.values(report.stopped)) expect(outcome).toEqual({ exitCode: 0, signal: null, killed: false });
    expect(report.pids.filter((pid) => !processGone(pid))).toEqual([]);
    expect(existsSync(report.workDir)).toBe(false);
    expect(report.logsClean).toBe(true);
  });
});
