/**
 * Disaster recovery, run for real (a controller, its restore and an agent in their own
 * processes): the backup verifies, the lost controller's directory is gone and the robot notices,
 * the restore checks the archive's signature with the KMS and names the backup, the restored
 * controller serves on the same addresses, the robot provisioned before the backup reconnects
 * with its old certificate and opens and seals, the admin's token and a token minted before the
 * backup still work; nothing is left running or on disk.
 */
import { existsSync } from 'node:fs';
import { processGone, type ScenarioReport } from '@fleetkey/fleet-harness';
import { beforeAll, describe, expect, it } from 'vitest';
import { FLEET, LATE_ROBOT, ROBOT, runDisasterRecovery, type RecoveryFacts } from './disaster-recovery.js';

describe('disaster recovery from a backup', () => {
  let report: ScenarioReport<RecoveryFacts>;

  beforeAll(async () => {
    report = await runDisasterRecovery();
  }, 180_000);

  it('makes a backup of the fleet and verifies it', () => {
    expect(report.facts.backup.backupId).not.toBe('');
    expect(report.facts.backup.sizeBytes).toBeGreaterThan(0);
    expect(report.facts.backup.fleets).toEqual([FLEET]);
    expect(report.facts.verify).toEqual({ valid: true, problems: [] });
  });

  it('loses the controller: stopped cleanly, its data directory gone, the robot offline', () => {
    expect(report.facts.lost).toEqual({ exitCode: 0, dataDirGone: true, robotWentOffline: true });
  });

  it('restores that backup from the primary KMS, its signature checked with the KMS', () => {
    expect(report.facts.restore).toEqual({ backupId: report.facts.backup.backupId, fleets: [FLEET], signature: 'verified-with-kms', kmsFrom: 'primary' });
    expect(report.facts.sameAddresses).toBe(true);
  });

  it('has the robot provisioned before the backup reconnect and still open and seal', () => {
    expect(report.facts.reconnected).toBe(true);
    expect(report.facts.openedBefore).toBe('sealed before the backup');
    expect(report.facts.sealedAfter).toEqual({ text: 'sealed after the restore', epoch: 1 });
  });

  it('keeps operators, devices and enrollment tokens: the old admin token lists the robot, a spare token enrolls another', () => {
    expect(report.facts.devicesAfter).toEqual([ROBOT, LATE_ROBOT]);
    expect(report.facts.lateRobotEpochs).toEqual([1]);
  });

  it('stops everything cleanly and leaves no process, directory, or secret in a log', () => {
    expect(Object.keys(report.stopped).sort()).toEqual([`edge-agent ${ROBOT}`, 'fleet-controller', 'fleet-controller (restored)']);
    for (const outcome of Object.values(report.stopped)) expect(outcome).toEqual({ exitCode: 0, signal: null, killed: false });
    expect(report.pids.filter((pid) => !processGone(pid))).toEqual([]);
    expect(existsSync(report.workDir)).toBe(false);
    expect(report.logsClean).toBe(true);
  });
});
