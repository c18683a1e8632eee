/**
 * The shared test of a fleetkey binary: it runs the real bin file in a child process, as a user
 * would after `npm ci`, and checks --version, --help and the usage-error exit code. Every app
 * calls `describeCliBinary` from its own spec so the frame is proved for each binary.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EXIT, readPackageVersion } from './program.js';

const run = promisify(execFile);

export function describeCliBinary(name: string, binUrl: URL, manifestUrl: URL): void {
  const bin = binUrl.pathname;
  describe(`${name} binary`, () => {
    it('prints its version', async () => {
      const { stdout } = await run(process.execPath, [bin, '--version']);
      expect(stdout.trim()).toBe(readPackageVersion(manifestUrl));
    });

    it('prints help that names the program', async () => {
      const { stdout } = await run(process.execPath, [bin, '--help']);
      expect(stdout).toContain(`Usage: ${name}`);
      expect(stdout).toContain('--version');
    });

    it('exits 2 with one clear line on an unknown option', async () => {
      const failure = await run(process.execPath, [bin, '--no-such-option']).then(
        () => undefined,
        (error: { code?: number; stderr?: string }) => error,
      );
      expect(failure?.code).toBe(EXIT.usage);
      expect(failure?.stderr?.trim()).toBe("error: unknown option '--no-such-option'");
    });
  });
}
