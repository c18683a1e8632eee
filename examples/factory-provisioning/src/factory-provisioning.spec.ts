/**
 * The factory provisioning scenario, run for real (a controller, fleetctl and edge-agent in their
 * own processes): the batch is bound to the serial pattern, every robot is enrolled with its
 * serial, a reused token and a serial outside the pattern are refused with exit 3 and their
 * reasons and leave nothing behind, and afterwards no process is alive and the directory is gone.
 */
import { existsSync } from 'node:fs';
import { processGone, type ScenarioReport } from '@fleetkey/fleet-harness';
import { beforeAll, describe, expect, it } from 'vitest';
import { BATCH_SIZE, ROBOTS, SERIAL_PATTERN, runFactoryProvisioning, type FactoryFacts } from './factory-provisioning.js';

const FULL_TOKEN = /fk_(?:op|enr|app)_[A-Za-z0-9_-]{8,}/;

describe('factory provisioning', () => {
  let report: ScenarioReport<FactoryFacts>;
  const printed: string[] = [];

  beforeAll(async () => {
    report = await runFactoryProvisioning({ onStep: (step) => printed.push(`${step.title} ${step.detail}`) });
  }, 180_000);

  it('mints the whole batch bound to the serial pattern', () => {
    expect(report.facts.minted).toBe(BATCH_SIZE);
    expect(report.facts.tokenSerialPatterns).toEqual([SERIAL_PATTERN]);
  });

  it('enrolls every robot of the batch with its serial, on epoch 1', () => {
    expect(Object.keys(report.facts.provisioned)).toEqual([...ROBOTS]);
    for (const robot of Object.values(report.facts.provisioned)) expect(robot.epochs).toEqual([1]);
    expect(report.facts.devices).toEqual(ROBOTS.map((deviceId, index) => ({ deviceId, serialNumber: `SN-2026-000${index + 1}`, state: 'active' })));
  });

  it('refuses a token presented a second time, saying it was used, and writes nothing on the robot', () => {
    const { reusedToken } = report.facts;
    expect(reusedToken.exitCode).toBe(3);
    expect(reusedToken.reason).toMatch(/^edge-agent: .*used/);
    expect(reusedToken.dataDirCreated).toBe(false);
  });

  it('refuses a serial outside the pattern, saying so, and writes nothing on the robot', () => {
    const { serialOutsidePattern } = report.facts;
    expect(serialOutsidePattern.exitCode).toBe(3);
    expect(serialOutsidePattern.reason).toMatch(/^edge-agent: .*serial number does not match/);
    expect(serialOutsidePattern.dataDirCreated).toBe(false);
  });

  it('spends the refused serial’s token and enrolls no one more', () => {
    expect(report.facts.tokenStates).toEqual({ used: ROBOTS.length + 1, active: BATCH_SIZE - ROBOTS.length - 1 });
    expect(report.facts.devicesAfterRefusals).toBe(ROBOTS.length);
  });

  it('stops everything cleanly, leaves no process or directory, and prints no full token', () => {
    for (const outcome of Object.values(report.stopped)) expect(outcome).toEqual({ exitCode: 0, signal: null, killed: false });
    expect(report.pids.filter((pid) => !processGone(pid))).toEqual([]);
    expect(existsSync(report.workDir)).toBe(false);
    expect(report.logsClean).toBe(true);
    for (const line of printed) expect(line).not.toMatch(FULL_TOKEN);
  });
});
