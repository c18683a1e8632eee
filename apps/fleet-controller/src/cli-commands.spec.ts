import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from './cli.js';
import { openSqliteRepository } from './store/index.js';

let parent: string;
beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'fk-cli-'));
});
afterAll(async () => {
  await rm(parent, { recursive: true, force: true });
});

interface Captured {
  readonly io: CliIo;
  readonly out: () => string;
  readonly err: () => string;
  /** Resolves the serve command's stop signal. */
  stop(): void;
  /** Resolves once something was written to stdout. */
  readonly firstOutput: Promise<void>;
}

function capture(env: Record<string, string | undefined> = {}): Captured {
  let out = '';
  let err = '';
  let stop: (signal: string) => void = () => undefined;
  let wrote: () => void = () => undefined;
  const firstOutput = new Promise<void>((resolve) => (wrote = resolve));
  const stopped = new Promise<string>((resolve) => (stop = resolve));
  return {
    io: {
      stdout: (text) => {
        out += text;
        wrote();
      },
      stderr: (text) => {
        err += text;
      },
      env,
      stopSignal: () => stopped,
    },
    out: () => out,
    err: () => err,
    stop: () => stop('SIGTERM'),
    firstOutput,
  };
}

describe('fleet-controller init', () => {
  it('prints exactly {adminToken, caFile, fleet} with -o json, and refuses a second init with one line and exit 1', async () => {
    const dataDir = join(parent, 'json');
    const first = capture();
    expect(await runCli(['init', '--data-dir', dataDir, '--fleet', 'acme', '-o', 'json'], first.io)).toBe(0);
    const printed = JSON.parse(first.out()) as Record<string, string>;
    expect(Object.keys(printed)).toEqual(['adminToken', 'caFile', 'fleet']);
    expect(printed['fleet']).toBe('acme');
    expect(printed['caFile']).toBe(join(dataDir, 'ca.pem'));

    const second = capture();
    expect(await runCli(['init', '--data-dir', dataDir], second.io)).toBe(1);
    expect(second.err().trim().split('\n')).toHaveLength(1);
    expect(second.err()).toMatch(/^fleet-controller: .*already exists/);
    expect(second.out()).toBe('');
  });

  it('explains the next step and shows the token once in text mode', async () => {
    const run = capture();
    expect(await runCli(['init', '--data-dir', join(parent, 'text'), '--tls-name', 'controller.example', '--tls-name', '10.0.0.5'], run.io)).toBe(0);
    expect(run.out().match(/fk_op_/g)).toHaveLength(1);
    expect(run.out()).toContain('fleet-controller serve --data-dir');
  });
});

describe('fleet-controller serve', () => {
  it('takes settings from a config file and the environment, prints the ready line, and stops on the signal', async () => {
    const dataDir = join(parent, 'served');
    expect(await runCli(['init', '--data-dir', dataDir, '-o', 'json'], capture().io)).toBe(0);
    const configFile = join(parent, 'serve.json');
    await writeFile(configFile, JSON.stringify({ dataDir, listen: '127.0.0.1:0', mqttListen: '127.0.0.1:0', logLevel: 'silent', drainSeconds: 2 }));
    const run = capture({ FLEETKEY_HTTP_LISTEN: '127.0.0.1:0' });
    const exit = runCli(['serve', '--config', configFile], run.io);
    await run.firstOutput;
    const ready = JSON.parse(run.out()) as Record<string, string>;
    expect(Object.keys(ready)).toEqual(['event', 'grpc', 'mqtt', 'http']);
    expect(ready['http']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await fetch(`http://${ready['http']}/healthz`)).status).toBe(200);
    run.stop();
    expect(await exit).toBe(0);
    await expect(fetch(`http://${ready['http']}/healthz`)).rejects.toThrow();
  });

  it.each([
    ['no data directory', [], {}, /--data-dir/],
    ['an unknown config key', ['--config', 'BAD'], {}, /unrecognized|Unrecognized/],
    ['a bad listen address', ['--data-dir', '/nonexistent', '--listen', 'nowhere'], {}, /.+/],
  ])('refuses %s with one line', async (_name, args, env, message) => {
    const configFile = join(parent, 'bad.json');
    await writeFile(configFile, JSON.stringify({ dataDir: parent, surprise: true }));
    const run = capture(env);
    const code = await runCli(['serve', ...args.map((arg) => (arg === 'BAD' ? configFile : arg))], run.io);
    expect(code).not.toBe(0);
    expect(run.err().trim().split('\n')).toHaveLength(1);
    expect(run.err()).toMatch(message);
    expect(run.out()).toBe('');
  });

  it('documents every option in --help', async () => {
    const run = capture();
    await runCli(['serve', '--help'], run.io);
    for (const option of ['--data-dir', '--config', '--listen', '--mqtt-listen', '--http-listen', '--advertise-grpc', '--advertise-mqtt', '--log-level', '--audit-sign-interval', '--device-cert-days', '--drain-timeout']) {
      expect(run.out()).toContain(option);
    }
    expect(run.out()).toContain('FLEETKEY_DATA_DIR');
  });
});

describe('fleet-controller rotation-policy', () => {
  it('shows the default, sets values keeping the others, refuses bad input, and audits the change', async () => {
    const dataDir = join(parent, 'policy');
    expect(await runCli(['init', '--data-dir', dataDir, '--fleet', 'acme', '-o', 'json'], capture().io)).toBe(0);
    const show = capture();
    expect(await runCli(['rotation-policy', '--data-dir', dataDir, '--fleet', 'acme', '-o', 'json'], show.io)).toBe(0);
    expect(JSON.parse(show.out())).toMatchObject({ fleet: 'acme', group: null, intervalMs: 86_400_000, graceMs: 86_400_000, threshold: 0.9, deadlineMs: 3_600_000 });

    const set = capture();
    expect(await runCli(['rotation-policy', '--data-dir', dataDir, '--fleet', 'acme', '--interval', '12h', '--threshold', '0.95'], set.io)).toBe(0);
    expect(set.out()).toContain('rotate every 12h, grace 24h, activate at 95 % acknowledged or after 1h');
    const after = capture();
    await runCli(['rotation-policy', '--data-dir', dataDir, '--fleet', 'acme', '-o', 'json'], after.io);
    expect(JSON.parse(after.out())).toMatchObject({ intervalMs: 43_200_000, threshold: 0.95, graceMs: 86_400_000 });

    const tooShort = capture();
    expect(await runCli(['rotation-policy', '--data-dir', dataDir, '--fleet', 'acme', '--interval', '0s'], tooShort.io)).toBe(2);
    const deadlineAfterInterval = capture();
    expect(await runCli(['rotation-policy', '--data-dir', dataDir, '--fleet', 'acme', '--deadline', '13h'], deadlineAfterInterval.io)).toBe(1);
    expect(deadlineAfterInterval.err()).toMatch(/^fleet-controller: /);
    const unknownGroup = capture();
    expect(await runCli(['rotation-policy', '--data-dir', dataDir, '--fleet', 'acme', '--group', 'line-9'], unknownGroup.io)).toBe(1);
    expect(unknownGroup.err()).toContain('group line-9 does not exist');

    const repository = await openSqliteRepository({ path: join(dataDir, 'state.db'), clock: Date.now });
    try {
      const records = await repository.audit.listRecords(0, 1000);
      expect(records.filter((record) => record.action === 'rotation.policy')).toHaveLength(1);
    } finally {
      await repository.close();
    }
  });
});
