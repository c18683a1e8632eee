/**
 * The process table's contract with the scenarios, against real child processes: a failed command
 * is a CommandFailed with its exit code and its scrubbed last stderr line (never its stdout), the
 * caller's FLEETKEY_* and vendor variables never reach a child, and tokens are cut to hints.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandFailed, Processes, Scrubber, childEnv } from './processes.js';
import { refusalOf } from './scenario.js';

let dir: string;
let script: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-harness-'));
  script = join(dir, 'child.mjs');
  // Prints its environment's FLEETKEY_/AWS_ names on stdout; with an argument, fails like a fleetkey CLI.
  await writeFile(
    script,
    [
      "const names = Object.keys(process.env).filter((n) => /^(FLEETKEY_|AWS_|SCENARIO_)/.test(n)).sort();",
      'process.stdout.write(JSON.stringify(names));',
      "if (process.argv[2] === 'fail') { process.stderr.write('first line\\nfleetctl: refused fk_enr_Q1abcdefghijkl and ' + process.env.SCENARIO_SECRET + '\\n'); process.exit(3); }",
    ].join('\n'),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Scrubber', () => {
  it('replaces registered secrets and cuts token shapes to their kind and two characters', () => {
    const scrubber = new Scrubber();
    scrubber.add('short', 'a-long-secret-value');
    expect(scrubber.size).toBe(1);
    expect(scrubber.scrub('x a-long-secret-value fk_op_ABcdefghijklmn short')).toBe('x [redacted] fk_op_AB… short');
    expect(scrubber.clean('nothing here')).toBe(true);
    expect(scrubber.clean('has a-long-secret-value')).toBe(false);
  });
});

describe('Processes.run', () => {
  it('gives a child the caller’s environment without FLEETKEY_* or vendor variables, plus its own', async () => {
    process.env['FLEETKEY_TOKEN'] = 'fk_op_callers-own-token';
    process.env['AWS_SECRET_ACCESS_KEY'] = 'callers-cloud-secret';
    try {
      expect(childEnv()['FLEETKEY_TOKEN']).toBeUndefined();
      const out = await new Processes(new Scrubber()).run('child', script, [], { env: { FLEETKEY_CONFIG: '/nonexistent', SCENARIO_X: '1' } });
      expect(JSON.parse(out)).toEqual(['FLEETKEY_CONFIG', 'SCENARIO_X']);
    } finally {
      delete process.env['FLEETKEY_TOKEN'];
      delete process.env['AWS_SECRET_ACCESS_KEY'];
    }
  });

  it('rejects a failed command with a CommandFailed holding the exit code and the scrubbed last stderr line', async () => {
    const scrubber = new Scrubber();
    scrubber.add('scenario-secret-123');
    const processes = new Processes(scrubber);
    const refusal = await refusalOf(processes.run('child fail', script, ['fail'], { env: { SCENARIO_SECRET: 'scenario-secret-123' } }), 'child fail');
    expect(refusal).toEqual({ exitCode: 3, reason: 'fleetctl: refused fk_enr_Q1… and [redacted]' });
    const error = await processes.run('child fail', script, ['fail'], { env: { SCENARIO_SECRET: 'scenario-secret-123' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailed);
    expect((error as Error).message).toBe('child fail failed (exit 3): fleetctl: refused fk_enr_Q1… and [redacted]');
    expect(processes.pids()).toHaveLength(2);
  });

  it('refusalOf says so when the command was accepted', async () => {
    await expect(refusalOf(new Processes(new Scrubber()).run('child', script, []), 'child')).rejects.toThrow('child was accepted');
  });
});
