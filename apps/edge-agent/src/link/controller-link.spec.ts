/**
 * The link with neither the controller nor the broker reachable (real sockets, connection refused):
 * the robot records itself offline, keeps working from its keystore, and closes cleanly.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestFleet } from '../testing/test-fleet.js';
import { startControllerLink, type ControllerLink } from './controller-link.js';
import { provisionAgent, tempDir, type TestAgent } from './test-support.js';

let agent: TestAgent;
let link: ControllerLink | undefined;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  const dir = await tempDir('fk-link-offline-');
  cleanup = dir.remove;
  // TestFleet provisions robots with 127.0.0.1:1 for both addresses: nothing listens there.
  agent = await provisionAgent(await TestFleet.create(), dir.path, 'robot-a');
});

afterEach(async () => {
  await link?.close();
  link = undefined;
  agent.close();
  await cleanup();
});

describe('startControllerLink without a controller or a broker', () => {
  it('records the robot offline, keeps sealing from the keystore, and retries both until closed', async () => {
    expect(agent.core.contact().offlineSince).toBeNull();
    link = startControllerLink({ core: agent.core, logger: agent.logger, backoff: { initialMs: 10, maxMs: 50 } });
    await agent.logger.waitFor((line) => line.message === 'the controller is not reachable; retrying with backoff');
    await agent.logger.waitFor((line) => line.message === 'the broker is not reachable; retrying with backoff');
    await agent.logger.waitFor((line) => line.message.startsWith('offline: neither the controller nor the broker is connected'));
    expect(agent.core.contact().offlineSince).not.toBeNull();
    expect(link.connected()).toBe(false);
    expect(link.connections()).toEqual({ controller: false, broker: false });
    const use = agent.core.sealingKey(false);
    expect(use.version).toBe(1);
    use.key.fill(0);
    // An outage is logged once, not at every retry.
    expect(agent.logger.lines.filter((line) => line.message === 'the controller is not reachable; retrying with backoff')).toHaveLength(1);
    await link.fetchKeys();
    await link.close();
    await link.close();
    expect(link.revoked()).toBe(false);
  });

  it.each([[{ statusIntervalMs: 10 }], [{ renewBeforeMs: -1 }], [{ backoff: { initialMs: 0 } }]])('refuses invalid options %j', (bad) => {
    expect(() => startControllerLink({ core: agent.core, logger: agent.logger, ...bad })).toThrow(RangeError);
  });
});
