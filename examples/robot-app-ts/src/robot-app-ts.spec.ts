/**
 * The TypeScript robot app against a real controller and agent (their own processes, the agent's
 * Unix socket, app tokens required): every call's outcome is checked — the status, the opened
 * text and sender, the refusal of other associated data with its trailer code, a valid signature
 * and a tampered one, the storage round trip — as is the UNAUTHENTICATED refusal of an app
 * without the token, and that nothing is left running or on disk.
 */
import { existsSync } from 'node:fs';
import { processGone, type ScenarioReport } from '@fleetkey/fleet-harness';
import { beforeAll, describe, expect, it } from 'vitest';
import { FLEET, ROBOT, runRobotAppScenario, type RobotAppFacts } from './scenario.js';

describe('the TypeScript robot app', () => {
  let report: ScenarioReport<RobotAppFacts>;

  beforeAll(async () => {
    report = await runRobotAppScenario();
  }, 180_000);

  it('reads the agent’s status', () => {
    expect(report.facts.app.status).toEqual({ fleet: FLEET, deviceId: ROBOT, locked: false, epochs: [`communication/${FLEET}/fleet@1 active`] });
  });

  it('seals and opens the same text, from this robot, with the active epoch', () => {
    const { sealed, opened } = report.facts.app;
    expect(sealed.epoch).toBe(1);
    expect(sealed.envelopeBytes).toBeGreaterThan(sealed.text.length);
    expect(opened).toEqual({ text: `hello from ${ROBOT}`, sender: ROBOT, keyState: 'active' });
  });

  it('reports a refused Open by its gRPC status and fleetkey-error-code trailer', () => {
    expect(report.facts.app.otherAssociatedData).toEqual({ status: 'INVALID_ARGUMENT', code: 'DECRYPTION_FAILED' });
  });

  it('signs, verifies the signature, and gets valid: false for other data', () => {
    expect(report.facts.app.signed).toEqual({ algorithm: 'ECDSA_P256_SHA256', valid: true, signer: ROBOT, tamperedValid: false });
  });

  it('encrypts and decrypts with a storage key of its own; other associated data is refused', () => {
    const { storage } = report.facts.app;
    expect(storage.roundTrip).toBe(true);
    expect(storage.keyId).toMatch(new RegExp(`^storage/${FLEET}/`));
    expect(storage.otherAssociatedData.code).toBe('DECRYPTION_FAILED');
  });

  it('refuses an app without its token: UNAUTHENTICATED in the trailer', () => {
    expect(report.facts.withoutToken).toEqual({ status: 'UNAUTHENTICATED', code: 'UNAUTHENTICATED' });
  });

  it('prints one line per call and never the app token', () => {
    expect(report.facts.printed.map((line) => line.slice(0, line.indexOf(':')))).toEqual(['status', 'seal', 'open', 'open with other associated data', 'sign/verify', 'encrypt/decrypt']);
    for (const step of report.steps) expect(step.detail).not.toMatch(/fk_app_[A-Za-z0-9_-]{8,}/);
  });

  it('stops everything cleanly and leaves no process, directory, or secret in a log', () => {
    expect(Object.keys(report.stopped).sort()).toEqual([`edge-agent ${ROBOT}`, 'fleet-controller']);
    for (const outcome of Object.values(report.stopped)) expect(outcome).toEqual({ exitCode: 0, signal: null, killed: false });
    expect(report.pids.filter((pid) => !processGone(pid))).toEqual([]);
    expect(existsSync(report.workDir)).toBe(false);
    expect(report.logsClean).toBe(true);
  });
});
