/**
 * The production form of the agent (scripts/build.mjs: one bundle run by plain Node, no tsx) is
 * the one robots run, so it is built and started here: it answers GetStatus over its socket from
 * a keystore alone (no controller reachable), keeps the error names the local API reports, and
 * exits 0 on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestFleet } from '../testing/test-fleet.js';
import { closeClient, robotApp } from '../testing/processes.js';

const BUILD_SCRIPT = new URL('../../scripts/build.mjs', import.meta.url).href;
let dir: string;
let bundle: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fk-agent-bundle-'));
  const { buildAgentBundle } = (await import(BUILD_SCRIPT)) as { buildAgentBundle: (outfile: string) => Promise<string> };
  // Inside the package, so the bundle finds the SQLite addon in node_modules as a deployment would.
  bundle = await buildAgentBundle(new URL(`../../dist/edge-agent.test-${process.pid}.mjs`, import.meta.url).pathname);
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  if (bundle !== undefined) await rm(bundle, { force: true });
});

describe('the production bundle', () => {
  it('serves from its keystore alone, reports typed errors by name, and stops cleanly', async () => {
    const fleet = await TestFleet.create();
    const robot = await fleet.provision('robot-bundle', join(dir, 'robot'));
    const socket = join(dir, 'agent.sock');
    const child = spawn(process.execPath, [bundle, 'serve', '--data-dir', robot.dataDir, '--socket', socket, '--peer-listen', '127.0.0.1:0', '--log-level', 'error'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    const [line] = (await Promise.race([once(createInterface({ input: child.stdout! }), 'line'), once(child, 'exit').then(() => [undefined])])) as [string | undefined];
    expect(line, stderr).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ event: 'ready', socket });
    const app = robotApp(socket);
    try {
      await expect(app.getStatus({})).resolves.toMatchObject({ provisioned: true, deviceId: 'robot-bundle', fleet: 'acme' });
      const failure = await app.open({ envelope: new Uint8Array([1, 2, 3]) }).catch((error: unknown) => error as { code?: string; name?: string });
      expect(failure).toMatchObject({ code: 'MESSAGE_MALFORMED' });
    } finally {
      closeClient(app);
    }
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    expect((await exited)[0]).toBe(0);
  }, 60_000);
});
