/**
 * Settings resolution and the config file: where the file is, what a valid one holds, every
 * problem reported at once, and the bad inputs each parser refuses.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MAX_CONFIG_FILE_BYTES,
  SettingsInvalid,
  configFilePath,
  deleteConfigFile,
  isControllerAddress,
  isWellFormedToken,
  readConfigFile,
  resolveConnectionSettings,
  writeConfigFile,
} from './config.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetctl-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode });
  return path;
}

function settingsError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SettingsInvalid);
    expect((error as SettingsInvalid).code).toBe('INVALID_CONFIG');
    return (error as Error).message;
  }
  throw new Error('expected SettingsInvalid');
}

describe('configFilePath', () => {
  it('prefers --config, then FLEETKEY_CONFIG, then XDG_CONFIG_HOME, then HOME/.config', () => {
    const env = { FLEETKEY_CONFIG: '/env/c.json', XDG_CONFIG_HOME: '/xdg', HOME: '/home/op' };
    expect(configFilePath('rel/c.json', env, '/work')).toBe('/work/rel/c.json');
    expect(configFilePath(undefined, env, '/work')).toBe('/env/c.json');
    expect(configFilePath(undefined, { ...env, FLEETKEY_CONFIG: '' }, '/work')).toBe('/xdg/fleetkey/fleetctl.json');
    expect(configFilePath(undefined, { HOME: '/home/op' }, '/work')).toBe('/home/op/.config/fleetkey/fleetctl.json');
  });

  it('ignores a relative XDG_CONFIG_HOME, as the XDG specification requires', () => {
    expect(configFilePath(undefined, { XDG_CONFIG_HOME: 'relative', HOME: '/home/op' }, '/work')).toBe('/home/op/.config/fleetkey/fleetctl.json');
  });
});

describe('resolveConnectionSettings', () => {
  const full = { controller: 'ctl.example:8443', caFile: '/etc/fleetkey/ca.pem', token: 'file-token' };

  it('takes each setting from flag, else environment, else config file, and records where from', () => {
    const config = file('c.json', JSON.stringify(full));
    const settings = resolveConnectionSettings({ config, token: 'flag-token' }, { FLEETKEY_CONTROLLER: 'env.example:443' }, '/work', { useConfigFile: true });
    expect(settings).toEqual({
      controller: 'env.example:443',
      controllerSource: 'FLEETKEY_CONTROLLER',
      token: 'flag-token',
      tokenSource: '--token',
      caFile: '/etc/fleetkey/ca.pem',
      caFileSource: `the config file ${config}`,
    });
    expect(Object.isFrozen(settings)).toBe(true);
  });

  it('resolves a relative --ca-file against the working directory', () => {
    const settings = resolveConnectionSettings({ controller: 'a:1', token: 't', caFile: 'certs/ca.pem' }, {}, '/work', { useConfigFile: false });
    expect(settings.caFile).toBe('/work/certs/ca.pem');
  });

  it('does not read the config file when flags and environment give everything', () => {
    const broken = file('broken.json', '{not json');
    const settings = resolveConnectionSettings({ config: broken, controller: 'a:1', caFile: '/ca.pem' }, { FLEETKEY_TOKEN: 't' }, '/', { useConfigFile: true });
    expect(settings.tokenSource).toBe('FLEETKEY_TOKEN');
  });

  it('reports every missing or malformed setting in one message, never the token', () => {
    const message = settingsError(() => resolveConnectionSettings({ controller: 'no-port', token: 'has space secret' }, { HOME: dir }, '/', { useConfigFile: true }));
    expect(message).toBe(
      'the controller address from --controller is not HOST:PORT; the token from --token is malformed (expected 1-256 visible ASCII characters); no CA file: pass --ca-file FILE (the controller\'s DIR/ca.pem) or set FLEETKEY_CA_FILE, or run `fleetctl login`',
    );
    expect(message).not.toContain('secret');
  });

  it('lets a token override (login --token-stdin) win over flag and environment', () => {
    const settings = resolveConnectionSettings({ controller: 'a:1', caFile: '/ca', token: 'flag' }, { FLEETKEY_TOKEN: 'env' }, '/', {
      useConfigFile: false,
      tokenOverride: { value: 'stdin-token', source: 'stdin' },
    });
    expect([settings.token, settings.tokenSource]).toEqual(['stdin-token', 'stdin']);
  });
});

describe('readConfigFile', () => {
  it('returns undefined when there is no file', () => {
    expect(readConfigFile(join(dir, 'none.json'))).toBeUndefined();
  });

  it('resolves a relative caFile against the config file directory', () => {
    const path = file('c.json', JSON.stringify({ controller: 'a:1', caFile: 'ca.pem' }));
    expect(readConfigFile(path)).toEqual({ controller: 'a:1', caFile: join(dir, 'ca.pem') });
  });

  it('reports unknown keys and wrong types together', () => {
    const path = file('c.json', JSON.stringify({ controller: 8443, token: '', insecure: true }));
    expect(settingsError(() => readConfigFile(path))).toBe(
      `the config file ${path} is invalid: "controller" must be a non-empty string; "token" must be a non-empty string; unknown key "insecure"`,
    );
  });

  it.each([
    ['not JSON', '{"token": "s3cret-in-broken-json', 'is not valid JSON'],
    ['an array', '["a"]', 'must hold a JSON object'],
    ['null', 'null', 'must hold a JSON object'],
  ])('refuses a file that is %s, without quoting it', (_name, content, expected) => {
    const message = settingsError(() => readConfigFile(file('c.json', content)));
    expect(message).toContain(expected);
    expect(message).not.toContain('s3cret');
  });

  it('refuses a file larger than the bound and a directory', () => {
    expect(settingsError(() => readConfigFile(file('big.json', ' '.repeat(MAX_CONFIG_FILE_BYTES + 1))))).toContain('larger than');
    mkdirSync(join(dir, 'd.json'));
    expect(settingsError(() => readConfigFile(join(dir, 'd.json')))).toContain('is not a regular file');
  });

  it('follows a symlink and checks the permissions of its target', () => {
    symlinkSync(file('private.json', JSON.stringify({ token: 't' }), 0o600), join(dir, 'link.json'));
    expect(readConfigFile(join(dir, 'link.json'))).toEqual({ token: 't' });
    symlinkSync(file('shared.json', JSON.stringify({ token: 't' }), 0o644), join(dir, 'open-link.json'));
    expect(settingsError(() => readConfigFile(join(dir, 'open-link.json')))).toContain('other users may read it');
  });

  it('Precondition: a config file holding a token that other users can read is refused', () => {
    const open = file('open.json', JSON.stringify({ token: 't' }), 0o640);
    expect(settingsError(() => readConfigFile(open))).toContain('other users may read it (mode 640)');
    const noToken = file('shared.json', JSON.stringify({ controller: 'a:1' }), 0o644);
    expect(readConfigFile(noToken)).toEqual({ controller: 'a:1' });
  });
});

describe('writeConfigFile and deleteConfigFile', () => {
  it('Postcondition: the config file is 0600, in directories created 0700, and replaces any file at the path in one rename', () => {
    const path = join(dir, 'a', 'b', 'fleetctl.json');
    writeConfigFile(path, { controller: 'a:1', caFile: '/ca.pem', token: 'first' });
    writeConfigFile(path, { controller: 'a:1', caFile: '/ca.pem', token: 'second' });
    expect(readConfigFile(path)).toEqual({ controller: 'a:1', caFile: '/ca.pem', token: 'second' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'a', 'b')).mode & 0o777).toBe(0o700);
  });

  it('replaces a world-readable file at the path by a 0600 one', () => {
    const path = file('fleetctl.json', '{}', 0o644);
    writeConfigFile(path, { controller: 'a:1', caFile: '/ca.pem', token: 't' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('reports a path it cannot write as a settings error', () => {
    const blocker = file('blocker', 'x');
    expect(settingsError(() => writeConfigFile(join(blocker, 'fleetctl.json'), { controller: 'a:1', caFile: '/ca', token: 't' }))).toContain('cannot write the config file');
  });

  it('deletes the file, and reports whether there was one', () => {
    const path = file('c.json', '{}');
    expect(deleteConfigFile(path)).toBe(true);
    expect(deleteConfigFile(path)).toBe(false);
  });
});

describe('input validation', () => {
  it.each(['ctl.example:8443', '127.0.0.1:1', 'localhost:65535', '[::1]:443', 'a:80'])('accepts controller address %s', (address) => {
    expect(isControllerAddress(address)).toBe(true);
  });

  it.each(['ctl.example', 'ctl.example:0', 'ctl.example:65536', ':443', 'unix:///run/x.sock', 'dns:///ctl:443', 'https://ctl:443', 'a b:1', '-ctl:1', '::1:443', 'ctl:44a'])(
    'refuses controller address %s',
    (address) => {
      expect(isControllerAddress(address)).toBe(false);
    },
  );

  it('accepts tokens of 1-256 visible ASCII characters and nothing else', () => {
    fc.assert(fc.property(fc.stringMatching(/^[\x21-\x7e]{1,256}$/), (token) => isWellFormedToken(token)));
    for (const bad of ['', 'a'.repeat(257), 'with space', 'tab\there', 'new\nline', 'ünïcode', 'nul\u0000']) expect(isWellFormedToken(bad)).toBe(false);
  });
});
