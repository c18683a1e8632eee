/**
 * Offline operation with a fake clock: a robot provisioned by the real controller runs `serve`
 * in-process (same code as the binary, with an injected clock), loses the controller, and keeps
 * sealing until max_offline has passed since its last contact; then Seal fails with KEYS_EXPIRED
 * while Open of data sealed earlier still works; a clock set backwards is reported and does not
 * bring sealing back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerProcess, closeClient, eventually, robotApp } from '../testing/processes.js';
import { serveAgent, type RunningAgent } from './serve.js';
import { resolveServeSettings } from './settings.js';

const HOUR = 3_600_000;

let parent: string;
let controller: ControllerProcess;
let agent: RunningAgent | undefined;
const logLines: Record<string, unknown>[] = [];
let offsetMs = 0;
const clock = (): number => Date.now() + offsetMs;

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'fk-agent-offline-'));
  controller = new ControllerProcess(parent);
  await controller.start();
  await controller.provision('robot-off', join(parent, 'robot-off'));
}, 120_000);

afterAll(async () => {
  await agent?.close();
  await controller?.stop();
  await rm(parent, { recursive: true, force: true });
});

async function failureCode(call: Promise<unknown>): Promise<string | undefined> {
  return call.then(
    () => undefined,
    (error: unknown) => (error as { code?: string }).code,
  );
}

describe('offline operation', () => {
  it('seals within max_offline of the last contact, then KEYS_EXPIRED while older data still opens', async () => {
    const settings = resolveServeSettings({ dataDir: join(parent, 'robot-off'), socket: join(parent, 'off.sock'), peerListen: '127.0.0.1:0', maxOffline: '2h', logLevel: 'info' }, {});
    agent = await serveAgent(settings, { clock, logDestination: { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) } });
    const app = robotApp(agent.ready.socket);
    try {
      await eventually(async () => ((await app.getStatus({})).lastContact === undefined ? undefined : true), 'contact with the controller');
      const early = await app.seal({ plaintext: new TextEncoder().encode('sealed while online') });

      await controller.stop();
      await eventually(async () => ((await app.getStatus({})).offlineSince === undefined ? undefined : true), 'the agent noticing it is offline');

      offsetMs = HOUR + HOUR / 2;
      await expect(app.seal({ plaintext: new Uint8Array([1]) })).resolves.toBeDefined();

      offsetMs = 2 * HOUR + 10 * 60_000;
      expect(await failureCode(app.seal({ plaintext: new Uint8Array([1]) }))).toBe('KEYS_EXPIRED');
      const opened = await app.open({ envelope: early.envelope });
      expect(new TextDecoder().decode(opened.plaintext)).toBe('sealed while online');

      // Setting the clock back does not revive sealing: the agent judges by the latest time it saw.
      offsetMs = -24 * HOUR;
      expect(await failureCode(app.seal({ plaintext: new Uint8Array([1]) }))).toBe('KEYS_EXPIRED');
      expect(logLines.some((line) => line['level'] === 40 && String(line['msg']).includes('clock is behind'))).toBe(true);
    } finally {
      closeClient(app);
    }
  }, 90_000);
});
