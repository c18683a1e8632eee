import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const bin = new URL('../bin/fleet-controller.mjs', import.meta.url).pathname;
const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('fleet-controller binary', () => {
  it('prints its version', async () => {
    const { stdout } = await run(process.execPath, [bin, '--version']);
    expect(stdout.trim()).toBe(version);
  });

  it('prints help that names the program', async () => {
    const { stdout } = await run(process.execPath, [bin, '--help']);
    expect(stdout).toContain('Usage: fleet-controller');
    expect(stdout).toContain('--version');
  });

  it('exits 2 with one clear line on an unknown option', async () => {
    const failure = await run(process.execPath, [bin, '--no-such-option']).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain("unknown option '--no-such-option'");
  });
});
