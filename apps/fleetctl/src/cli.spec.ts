/**
 * The fleetctl binary as a user runs it (bin/fleetctl.mjs in a child process) for exit codes and
 * stream hygiene, and the in-process frame for help and usage errors.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { EXIT, EXIT_MEANINGS } from '@fleetkey/cli';
import { describeCliBinary } from '@fleetkey/cli/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startFakeController, type FakeController } from './test-support/fake-controller.js';
import { runFleetctl } from './test-support/run.js';

describeCliBinary('fleetctl', new URL('../bin/fleetctl.mjs', import.meta.url), new URL('../package.json', import.meta.url));

const bin = new URL('../bin/fleetctl.mjs', import.meta.url).pathname;
const execFileAsync = promisify(execFile);

interface BinaryResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real binary with only the given environment (plus PATH), asynchronously: the fake controller lives in this process. */
async function runBinary(argv: string[], env: Record<string, string>): Promise<BinaryResult> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [bin, ...argv], { env: { PATH: process.env.PATH ?? '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('fleetctl binary against a controller', () => {
  let fake: FakeController;
  beforeAll(async () => {
    fake = await startFakeController();
  });
  afterAll(async () => {
    await fake.close();
  });

  it('exits 0 with one JSON document and a clean stderr (no TLS deprecation noise for an IP address)', async () => {
    const result = await runBinary(['status', '-o', 'json'], { HOME: fake.dir, FLEETKEY_CONTROLLER: fake.address, FLEETKEY_CA_FILE: fake.caFile, FLEETKEY_TOKEN: ADMIN_TOKEN });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(EXIT.ok);
    expect(JSON.parse(result.stdout)).toMatchObject({ healthy: true, version: '0.1.0' });
  });

  it('exits 3 on a refused credential, with one line that does not contain it', async () => {
    const token = 'fkop_wrong_abcdefabcdefabcdefabcdefabcdef';
    const result = await runBinary(['fleets', 'list'], { HOME: fake.dir, FLEETKEY_CONTROLLER: fake.address, FLEETKEY_CA_FILE: fake.caFile, FLEETKEY_TOKEN: token });
    expect(result.code).toBe(EXIT.unauthenticated);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('fleetctl: the controller refused the credential from FLEETKEY_TOKEN (run `fleetctl login` or check FLEETKEY_TOKEN)\n');
  });

  it('exits 6 when the CA file does not vouch for the controller', async () => {
    const result = await runBinary(['status'], { HOME: fake.dir, FLEETKEY_CONTROLLER: fake.address, FLEETKEY_CA_FILE: fake.otherCaFile, FLEETKEY_TOKEN: ADMIN_TOKEN });
    expect(result.code).toBe(EXIT.unavailable);
    expect(result.stderr).toMatch(/^fleetctl: TLS with the controller at [^\n]+--ca-file[^\n]+\n$/);
  });

  it('exits 2 on a usage error before connecting', async () => {
    const result = await runBinary(['tokens', 'create', '--count', '2'], { HOME: fake.dir });
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr.trim()).toBe("error: required option '--fleet <fleet>' not specified");
  });
});

describe('help and usage', () => {
  it('documents every exit code, the settings precedence and the ps warning in --help', async () => {
    const result = await runFleetctl(['--help']);
    expect(result.code).toBe(EXIT.ok);
    for (const [name, meaning] of Object.entries(EXIT_MEANINGS)) expect(result.stdout).toContain(`  ${EXIT[name as keyof typeof EXIT]}  ${meaning}`);
    expect(result.stdout).toContain('is taken from its flag, else its');
    expect(result.stdout).toMatch(/`ps`/);
    for (const command of ['login', 'logout', 'status', 'fleets', 'operators', 'tokens', 'devices', 'audit']) expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
  });

  it('shows the global options in a subcommand help', async () => {
    const result = await runFleetctl(['devices', 'show', '--help']);
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toContain('Global Options:');
    expect(result.stdout).toContain('--ca-file <file>');
  });

  it.each([
    [['fleets']],
    [['bogus']],
    [['fleets', 'list', '--limit', '0']],
    [['-o', 'yaml', 'status']],
    [['--timeout', '0', 'status']],
    [['devices', 'show', 'robot-1']],
    [['audit', 'list', '--after', '-1']],
  ])('exits 2 on %j', async (argv) => {
    const result = await runFleetctl(argv, { env: {} });
    expect(result.code).toBe(EXIT.usage);
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toBe('');
  });

  it('exits 2 with every missing setting named when nothing is configured', async () => {
    const result = await runFleetctl(['status'], { env: { HOME: '/nonexistent-home-for-fleetctl' } });
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toMatch(/^fleetctl: no controller address: .*; no operator token: .*; no CA file: .*\n$/);
  });
});
