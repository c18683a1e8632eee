/**
 * `fleetctl login` / `logout` and the flag > env > config-file precedence, against the in-test
 * controller over real TLS, with config files in a temp HOME.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '@fleetkey/cli';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, AUDITOR_TOKEN, startFakeController, type FakeController } from '../test-support/fake-controller.js';
import { runFleetctl } from '../test-support/run.js';

let fake: FakeController;
let home: string;

beforeAll(async () => {
  fake = await startFakeController();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.calls.length = 0;
  home = mkdtempSync(join(tmpdir(), 'fleetctl-home-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

const configPath = (): string => join(home, '.config', 'fleetkey', 'fleetctl.json');

describe('login', () => {
  it('checks the credential, then writes controller, absolute CA path and token to a 0600 file in a 0700 directory', async () => {
    const result = await runFleetctl(['login', '--controller', fake.address, '--ca-file', 'ca.pem'], { env: { HOME: home, FLEETKEY_TOKEN: ADMIN_TOKEN }, cwd: fake.dir });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Logged in to ${fake.address} (controller version 0.1.0); settings saved to ${configPath()}.\n`);
    expect(result.stdout).not.toContain(ADMIN_TOKEN);
    expect(JSON.parse(readFileSync(configPath(), 'utf8'))).toEqual({ controller: fake.address, caFile: fake.caFile, token: ADMIN_TOKEN });
    expect(statSync(configPath()).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, '.config', 'fleetkey')).mode & 0o777).toBe(0o700);
    // Atomic: no temp file is left beside it.
    expect(readdirSync(join(home, '.config', 'fleetkey'))).toEqual(['fleetctl.json']);
    expect(fake.callsOf('getHealth')[0]?.authorization).toBe(`Bearer ${ADMIN_TOKEN}`);

    // Later commands need no flags at all.
    const status = await runFleetctl(['status', '-o', 'json'], { env: { HOME: home } });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ controller: fake.address, healthy: true });
  });

  it('Postcondition: the config file is written only after the controller accepted the credential', async () => {
    const bad = 'fkop_bad_00112233445566778899aabbccddeeff';
    const result = await runFleetctl(['login', '--controller', fake.address, '--ca-file', fake.caFile, '--token', bad], { env: { HOME: home } });
    expect(result.code).toBe(EXIT.unauthenticated);
    expect(result.stderr).toMatch(/^fleetctl: the controller refused the credential from --token/);
    expect(result.stderr).not.toContain(bad);
    expect(existsSync(configPath())).toBe(false);
    expect(existsSync(join(home, '.config'))).toBe(false);
  });

  it('reads the token from stdin with --token-stdin, and writes where --config says', async () => {
    const path = join(home, 'elsewhere', 'fleetctl.json');
    const result = await runFleetctl(['login', '--token-stdin', '--config', path, '-o', 'json'], {
      env: { HOME: home, FLEETKEY_CONTROLLER: fake.address, FLEETKEY_CA_FILE: fake.caFile },
      stdin: `${AUDITOR_TOKEN}\n`,
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ controller: fake.address, caFile: fake.caFile, config: path, version: '0.1.0' });
    expect(JSON.parse(readFileSync(path, 'utf8')).token).toBe(AUDITOR_TOKEN);
    expect(fake.calls[0]?.authorization).toBe(`Bearer ${AUDITOR_TOKEN}`);
  });

  it('refuses --token together with --token-stdin, and a login without a controller, without calling', async () => {
    const both = await runFleetctl(['login', '--token-stdin', '--token', 'x', '--controller', fake.address, '--ca-file', fake.caFile], { env: { HOME: home }, stdin: 'y' });
    expect(both.code).toBe(EXIT.usage);
    const none = await runFleetctl(['login', '--ca-file', fake.caFile], { env: { HOME: home, FLEETKEY_TOKEN: ADMIN_TOKEN } });
    expect(none.code).toBe(EXIT.usage);
    expect(none.stderr).toBe('fleetctl: no controller address: pass --controller HOST:PORT or set FLEETKEY_CONTROLLER\n');
    expect(fake.calls).toHaveLength(0);
  });

  it('logout deletes the config file, and says so when there is none', async () => {
    await runFleetctl(['login', '--controller', fake.address, '--ca-file', fake.caFile], { env: { HOME: home, FLEETKEY_TOKEN: ADMIN_TOKEN } });
    expect(existsSync(configPath())).toBe(true);
    const out = await runFleetctl(['logout'], { env: { HOME: home } });
    expect(out).toEqual({ code: 0, stdout: `Removed ${configPath()}.\n`, stderr: '' });
    expect(existsSync(configPath())).toBe(false);
    const again = await runFleetctl(['logout', '-o', 'json'], { env: { HOME: home } });
    expect(JSON.parse(again.stdout)).toEqual({ config: configPath(), deleted: false });
  });
});

describe('settings precedence: flag > environment > config file', () => {
  function writeConfig(content: Record<string, string>): void {
    const path = join(home, 'fleetctl.json');
    writeFileSync(path, JSON.stringify(content), { mode: 0o600 });
  }

  it('uses the config file when nothing else is given', async () => {
    writeConfig({ controller: fake.address, caFile: fake.caFile, token: AUDITOR_TOKEN });
    const result = await runFleetctl(['fleets', 'list'], { env: { HOME: home, FLEETKEY_CONFIG: join(home, 'fleetctl.json') } });
    expect(result.code).toBe(0);
    expect(fake.calls[0]?.authorization).toBe(`Bearer ${AUDITOR_TOKEN}`);
  });

  it('lets the environment override the config file, and a flag override both', async () => {
    writeConfig({ controller: '127.0.0.1:1', caFile: fake.otherCaFile, token: 'fkop_config_token' });
    const env = { HOME: home, FLEETKEY_CONFIG: join(home, 'fleetctl.json'), FLEETKEY_CONTROLLER: fake.address, FLEETKEY_CA_FILE: fake.caFile, FLEETKEY_TOKEN: AUDITOR_TOKEN };
    expect((await runFleetctl(['status'], { env })).code).toBe(0);
    expect(fake.calls.at(-1)?.authorization).toBe(`Bearer ${AUDITOR_TOKEN}`);
    // Global options are accepted after the subcommand too.
    expect((await runFleetctl(['status', '--token', ADMIN_TOKEN], { env })).code).toBe(0);
    expect(fake.calls.at(-1)?.authorization).toBe(`Bearer ${ADMIN_TOKEN}`);
    // The config file's controller is used only when neither flag nor environment gives one.
    const fromFile = await runFleetctl(['status'], { env: { ...env, FLEETKEY_CONTROLLER: undefined } });
    expect(fromFile.code).toBe(EXIT.unavailable);
    expect(fromFile.stderr).toContain('127.0.0.1:1 (from the config file');
  });

  it('--config wins over FLEETKEY_CONFIG', async () => {
    writeConfig({ controller: fake.address, caFile: fake.caFile, token: ADMIN_TOKEN });
    const result = await runFleetctl(['--config', join(home, 'fleetctl.json'), 'status'], { env: { HOME: home, FLEETKEY_CONFIG: join(home, 'missing.json') } });
    expect(result.code).toBe(0);
  });

  it('refuses a config file holding a token that other users can read, before any call', async () => {
    const path = join(home, 'fleetctl.json');
    writeFileSync(path, JSON.stringify({ controller: fake.address, caFile: fake.caFile, token: ADMIN_TOKEN }), { mode: 0o644 });
    const result = await runFleetctl(['status'], { env: { HOME: home, FLEETKEY_CONFIG: path } });
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toBe(`fleetctl: the config file ${path} is invalid: it holds a token but other users may read it (mode 644); run chmod 600 ${path}\n`);
    expect(fake.calls).toHaveLength(0);
  });
});
