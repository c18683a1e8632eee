/**
 * The controller tour, run once (it starts real processes: the controller, fleetctl several
 * times), checking every step ran and the facts each one claims, and that nothing it prints
 * holds a usable token.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runControllerTour, type ControllerTourReport } from './tour.js';

const FULL_TOKEN = /fk_(?:op|enr)_[A-Za-z0-9_-]{20,}/;

let workDir: string;
let report: ControllerTourReport;
const printed: string[] = [];

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'fleetkey-controller-tour-'));
  report = await runControllerTour({ workDir, onStep: (step) => printed.push(`${step.title} ${step.detail}`) });
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('controller tour', () => {
  it('runs every step in order and reports each as it goes', () => {
    expect(report.steps.map((step) => step.title)).toEqual([
      'controller initialised',
      'controller serving',
      'enrollment tokens minted with fleetctl',
      'robot-a enrolled over gRPC + TLS',
      'robot-b enrolled over gRPC + TLS',
      'robot-c enrolled over gRPC + TLS',
      'a used token is refused',
      'fleetctl devices list',
      'robot-a fetched its key bundle over mTLS',
      'robot-a on the broker with its certificate',
      'readiness and metrics over HTTP',
      'fleetctl audit verify',
      'controller stopped with SIGTERM',
    ]);
    expect(printed).toHaveLength(report.steps.length);
  });

  it('enrolls three robots, and fleetctl lists exactly those three', () => {
    expect(report.facts.enrolledDevices).toEqual(['robot-a', 'robot-b', 'robot-c']);
    expect(report.facts.listedDevices).toEqual(['robot-a', 'robot-b', 'robot-c']);
    expect(report.steps[3]!.detail).toMatch(/fleetkey:\/\/acme\/robot-a, serial [0-9a-f]{12}…/);
  });

  it('refuses the reused token with ENROLLMENT_TOKEN_REJECTED, and a device call without a certificate', () => {
    expect(report.facts.tokenReuse).toEqual({ code: 'ENROLLMENT_TOKEN_REJECTED', status: 'UNAUTHENTICATED', message: 'enrollment token already used' });
    expect(report.facts.unauthenticatedDeviceCall).toBe('UNAUTHENTICATED');
  });

  it('verifies the key bundle against the pinned emergency key and the commitments', () => {
    expect(report.facts.verifiedEpochs).toBeGreaterThanOrEqual(1);
    expect(report.steps[8]!.detail).toContain('key commitment matches');
  });

  it('grants the robot its own commands topic and refuses another robot’s with SUBACK 0x80', () => {
    expect(report.facts.ownTopicReturnCode).toBe(1);
    expect(report.facts.foreignTopicReturnCode).toBe(0x80);
  });

  it('is ready over HTTP and counts the three enrollments', () => {
    expect(report.facts.readyzStatus).toBe(200);
    expect(report.facts.enrollmentsMetric).toMatch(/^fleetkey_enrollments_total\{[^}]*fleet="acme"[^}]*result="ok"[^}]*\} 3$/);
  });

  it('finds the audit chain valid', () => {
    expect(report.facts.audit.valid).toBe(true);
    expect(report.facts.audit.recordsChecked).toBeGreaterThan(10);
  });

  it('stops the controller with SIGTERM: exit 0, no process left, no token in its log', () => {
    expect(report.facts.stop).toEqual({ exitCode: 0, signal: null, killed: false });
    expect(() => process.kill(report.facts.controllerPid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(report.facts.logHoldsNoToken).toBe(true);
  });

  it('prints token prefixes only, never a full token', () => {
    expect(printed.join('\n')).toMatch(/fk_op_[A-Za-z0-9_-]{2}…/);
    for (const line of printed) expect(line).not.toMatch(FULL_TOKEN);
  });
});
