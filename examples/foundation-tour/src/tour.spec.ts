import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { runTour } from './tour.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('foundation tour', () => {
  it('runs every step and reports the refusals it promises', async () => {
    const workDir = mkdtempSync(join(tmpdir(), 'fleetkey-tour-'));
    dirs.push(workDir);
    const steps = await runTour({ workDir });
    const byTitle = new Map(steps.map((s) => [s.title, s.detail]));
    expect(byTitle.get('message sealed on robot-a, opened on robot-b')).toContain('"hello from robot-a"');
    expect(byTitle.get('forged and mis-addressed messages refused')).toContain('DECRYPTION_FAILED');
    expect(byTitle.get('forged and mis-addressed messages refused')).toContain('SIGNATURE_INVALID');
    expect(byTitle.get('communication key rotated to epoch 2')).toContain('epoch 1 retiring');
    expect(byTitle.get('communication key rotated to epoch 2')).toContain('seal under epoch 2');
    expect(byTitle.get('robot-b revoked')).toContain('CERTIFICATE_REVOKED');
    expect(byTitle.get('keystore checked at rest')).toContain('STORE_KEY_INVALID');
    const lockdown = byTitle.get('fleet locked down by a signed command');
    expect(lockdown).toContain('robot-a LOCKED, robot-b LOCKED');
    expect(lockdown).toContain('again -> REPLAY_REFUSED');
    expect(lockdown).toContain('forged copy -> SIGNATURE_INVALID');
  });

  it('runs as `npm run demo` does and exits 0', async () => {
    const main = new URL('./main.ts', import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', main], { timeout: 60_000 });
    expect(stdout).toContain('✔ robot-b revoked');
    expect(stdout).toContain('Temporary files removed');
  });
});
