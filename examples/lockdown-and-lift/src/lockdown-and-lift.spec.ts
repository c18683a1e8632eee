/**
 * Lockdown and lift with scopes, run for real (a controller and three agents in their own
 * processes, two operators): the group lockdown locks only its group, the fleet lockdown every
 * robot, `lockdown status` lists both with every robot's confirmation, the fleet's lift leaves the
 * group locked, the requester cannot approve their own lift, and the second operator's approval
 * of the group's lift unlocks it.
 */
import { existsSync } from 'node:fs';
import { processGone, type ScenarioReport } from '@fleetkey/fleet-harness';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROBOTS, runLockdownAndLift, type LockdownFacts } from './lockdown-and-lift.js';

const every = <T>(value: T) => Object.fromEntries(ROBOTS.map((robot) => [robot, value]));

describe('lockdown and lift', () => {
  let report: ScenarioReport<LockdownFacts>;

  beforeAll(async () => {
    report = await runLockdownAndLift();
  }, 180_000);

  it('enrolls the robots in the groups their tokens name', () => {
    expect(report.facts.groups).toEqual({ 'robot-1a': 'line-1', 'robot-1b': 'line-1', 'robot-2a': 'line-2' });
  });

  it('locks only line-1 on a line-1 lockdown; robot-2a still seals', () => {
    expect(report.facts.groupLockdown).toEqual({
      locked: { 'robot-1a': true, 'robot-1b': true, 'robot-2a': false },
      seal: { 'robot-1a': 'DEVICE_LOCKED', 'robot-1b': 'DEVICE_LOCKED', 'robot-2a': 'accepted' },
    });
  });

  it('locks every robot on a fleet lockdown', () => {
    expect(report.facts.fleetLockdown).toEqual({ locked: every(true), seal: every('DEVICE_LOCKED') });
  });

  it('shows both lockdowns in force in lockdown status, each confirmed by every robot in its scope', () => {
    expect(report.facts.status).toEqual([
      { scope: 'fleet', confirmed: [...ROBOTS], notConfirmed: [] },
      { scope: 'group line-1', confirmed: ['robot-1a', 'robot-1b'], notConfirmed: [] },
    ]);
  });

  it('lifting the fleet unlocks line-2 only: line-1 stays locked under its own lockdown', () => {
    expect(report.facts.fleetLift).toEqual({ state: 'executed', locked: { 'robot-1a': true, 'robot-1b': true, 'robot-2a': false }, statusAfter: ['group line-1'] });
  });

  it('refuses the requester’s own approval of the line-1 lift (exit 4)', () => {
    expect(report.facts.selfApproval.exitCode).toBe(4);
    expect(report.facts.selfApproval.reason).toMatch(/a lift needs a second, different operator/);
  });

  it('lifts line-1 with the second operator’s approval: every robot unlocked and sealing again', () => {
    const { groupLift } = report.facts;
    expect(groupLift.state).toBe('executed');
    expect(groupLift.approvals).toHaveLength(2);
    expect(groupLift.approvals[1]).toBe('second-admin');
    expect(groupLift.locked).toEqual(every(false));
    expect(groupLift.reopened).toBe('line-1 back to work');
    expect(groupLift.statusAfter).toEqual([]);
  });

  it('stops everything cleanly and leaves no process, directory, or secret in a log', () => {
    for (const outcome of Object.values(report.stopped)) expect(outcome).toEqual({ exitCode: 0, signal: null, killed: false });
    expect(Object.keys(report.stopped)).toHaveLength(4);
    expect(report.pids.filter((pid) => !processGone(pid))).toEqual([]);
    expect(existsSync(report.workDir)).toBe(false);
    expect(report.logsClean).toBe(true);
  });
});
