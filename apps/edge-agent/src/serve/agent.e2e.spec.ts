/**
 * The edge agent end to end, as robots and operators meet it: a real controller (binaries, port 0),
 * robots provisioned with the real `edge-agent provision`, agents running the real `edge-agent
 * serve` binary, robot apps calling them over the Unix socket with nothing but the generated
 * protocol code, and operators using the real fleetctl. Covers sealing across robots, a channel
 * between agents, a rotation both see, a revoked robot refused by its peers, a lockdown that
 * survives an agent restart, and the two-operator lift.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KeyState } from '@fleetkey/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_BIN, AgentProcess, ControllerProcess, closeClient, eventually, robotApp } from '../testing/processes.js';

const run = promisify(execFile);

let parent: string;
let controller: ControllerProcess;
const agents = new Map<string, AgentProcess>();
const apps = new Map<string, ReturnType<typeof robotApp>>();

function app(deviceId: string): ReturnType<typeof robotApp> {
  const existing = apps.get(deviceId);
  if (existing !== undefined) return existing;
  const client = robotApp(agents.get(deviceId)!.socketPath);
  apps.set(deviceId, client);
  return client;
}

async function startAgent(deviceId: string): Promise<AgentProcess> {
  const dataDir = join(parent, deviceId);
  const agent = agents.get(deviceId) ?? new AgentProcess(dataDir, join(parent, `${deviceId}.sock`));
  agents.set(deviceId, agent);
  await agent.start();
  return agent;
}

async function restartAgent(deviceId: string): Promise<void> {
  const client = apps.get(deviceId);
  if (client !== undefined) closeClient(client);
  apps.delete(deviceId);
  expect(await agents.get(deviceId)!.stop()).toBe(0);
  await startAgent(deviceId);
}

async function failureCode(call: Promise<unknown>): Promise<string | undefined> {
  return call.then(
    () => undefined,
    (error: unknown) => (error as { code?: string }).code,
  );
}

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'fk-agent-serve-'));
  controller = new ControllerProcess(parent);
  await controller.start();
  for (const deviceId of ['robot-a', 'robot-b', 'robot-c']) await controller.provision(deviceId, join(parent, deviceId));
  for (const deviceId of ['robot-a', 'robot-b', 'robot-c']) await startAgent(deviceId);
}, 120_000);

afterAll(async () => {
  for (const client of apps.values()) closeClient(client);
  for (const agent of agents.values()) await agent.stop();
  await controller?.stop();
  await rm(parent, { recursive: true, force: true });
});

describe('edge-agent serve with a real controller', () => {
  it('prints the ready line, serves GetStatus on a 0660 socket and reaches the controller', async () => {
    const ready = agents.get('robot-a')!.ready!;
    expect(ready.event).toBe('ready');
    expect(ready.socket).toBe(join(parent, 'robot-a.sock'));
    expect(ready.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await stat(ready.socket)).mode & 0o777).toBe(0o660);
    const status = await eventually(async () => {
      const answer = await app('robot-a').getStatus({});
      return answer.lastContact === undefined ? undefined : answer;
    }, 'contact with the controller');
    expect(status).toMatchObject({ provisioned: true, fleet: 'acme', deviceId: 'robot-a', locked: false });
    expect(status.offlineSince).toBeUndefined();
    expect(status.epochs.map((epoch) => [epoch.key?.version, epoch.state])).toEqual([[1, KeyState.ACTIVE]]);
  });

  it('seals on robot A and opens on robot B, naming the sender; other associated data is refused', async () => {
    const plaintext = new TextEncoder().encode('waypoint 17: hold position');
    const sealed = await app('robot-a').seal({ plaintext, associatedData: new TextEncoder().encode('route-7'), purpose: 'telemetry' });
    expect(sealed.key?.version).toBe(1);
    const opened = await app('robot-b').open({ envelope: sealed.envelope, associatedData: new TextEncoder().encode('route-7'), purpose: 'telemetry' });
    expect(new TextDecoder().decode(opened.plaintext)).toBe('waypoint 17: hold position');
    expect(opened.senderDeviceId).toBe('robot-a');
    expect(await failureCode(app('robot-b').open({ envelope: sealed.envelope, associatedData: new TextEncoder().encode('route-8'), purpose: 'telemetry' }))).toBe('DECRYPTION_FAILED');
  });

  it('opens a channel between two agents and carries bytes both ways', async () => {
    const waiting = app('robot-b').openChannel();
    await waiting.send({ frame: { case: 'open', value: { peer: { case: 'deviceId', value: 'robot-a' } } } });
    const dialing = app('robot-a').openChannel();
    await dialing.send({ frame: { case: 'open', value: { peer: { case: 'address', value: agents.get('robot-b')!.ready!.peer }, expectedDeviceId: 'robot-b' } } });
    const fromB = waiting[Symbol.asyncIterator]();
    const fromA = dialing[Symbol.asyncIterator]();
    const openedAtA = (await fromA.next()).value;
    expect(openedAtA?.frame).toMatchObject({ case: 'opened', value: { peerDeviceId: 'robot-b' } });
    const openedAtB = (await fromB.next()).value;
    expect(openedAtB?.frame).toMatchObject({ case: 'opened', value: { peerDeviceId: 'robot-a' } });
    await dialing.send({ frame: { case: 'data', value: { data: new TextEncoder().encode('ping') } } });
    const atB = (await fromB.next()).value;
    expect(atB?.frame.case).toBe('data');
    expect(new TextDecoder().decode((atB!.frame.value as { data: Uint8Array }).data)).toBe('ping');
    await waiting.send({ frame: { case: 'data', value: { data: new TextEncoder().encode('pong') } } });
    const atA = (await fromA.next()).value;
    expect(new TextDecoder().decode((atA!.frame.value as { data: Uint8Array }).data)).toBe('pong');
    await dialing.send({ frame: { case: 'close', value: { reason: '' } } });
    dialing.closeSend();
    waiting.cancel();
  });

  it('sees a rotation on every robot: the new epoch becomes active and seals, the old one still opens', async () => {
    const before = await app('robot-a').seal({ plaintext: new TextEncoder().encode('old epoch') });
    await controller.fleetctl('rotate', '--fleet', 'acme', '--reason', 'e2e', '--wait');
    for (const deviceId of ['robot-a', 'robot-b']) {
      await eventually(async () => {
        const status = await app(deviceId).getStatus({});
        return status.epochs.some((epoch) => epoch.key?.version === 2 && epoch.state === KeyState.ACTIVE) ? status : undefined;
      }, `epoch 2 active on ${deviceId}`);
    }
    const after = await app('robot-b').seal({ plaintext: new TextEncoder().encode('new epoch') });
    expect(after.key?.version).toBe(2);
    expect(new TextDecoder().decode((await app('robot-a').open({ envelope: after.envelope })).plaintext)).toBe('new epoch');
    const old = await app('robot-b').open({ envelope: before.envelope });
    expect(new TextDecoder().decode(old.plaintext)).toBe('old epoch');
    expect(old.keyState).toBe(KeyState.RETIRING);
  }, 60_000);

  it('refuses a revoked robot: its messages no longer open on its peers and its channels fail', async () => {
    const fromC = await app('robot-c').seal({ plaintext: new TextEncoder().encode('from c') });
    expect(new TextDecoder().decode((await app('robot-a').open({ envelope: fromC.envelope })).plaintext)).toBe('from c');
    await controller.fleetctl('revoke', 'robot-c', '--fleet', 'acme', '--reason', 'stolen');
    await eventually(async () => ((await failureCode(app('robot-a').open({ envelope: fromC.envelope }))) === 'CERTIFICATE_REVOKED' ? true : undefined), 'robot A refusing robot C');
    // The revoked robot itself is locked by its REVOKE command.
    await eventually(async () => ((await app('robot-c').getStatus({})).locked ? true : undefined), 'robot C locked');
    const dialing = app('robot-a').openChannel();
    await dialing.send({ frame: { case: 'open', value: { peer: { case: 'address', value: agents.get('robot-c')!.ready!.peer } } } });
    const outcome = await dialing[Symbol.asyncIterator]()
      .next()
      .then(
        (item) => item.value?.frame.case,
        (error: unknown) => (error as { code?: string }).code,
      );
    expect(outcome).not.toBe('opened');
    const peerC = agents.get('robot-c')!.ready!.peer;
    const refusals = agents.get('robot-a')!.logs().filter((line) => line['level'] === 40 && String(line['msg']).startsWith('peer channel refused') && line['remote'] === peerC);
    expect(refusals.length).toBeGreaterThan(0);
  }, 60_000);

  it('locks every robot on a lockdown, stays locked across an agent restart, and unlocks after a two-operator lift', async () => {
    await controller.fleetctl('lockdown', '--fleet', 'acme', '--reason', 'e2e drill');
    for (const deviceId of ['robot-a', 'robot-b']) {
      await eventually(async () => ((await app(deviceId).getStatus({})).locked ? true : undefined), `${deviceId} locked`);
      expect(await failureCode(app(deviceId).seal({ plaintext: new Uint8Array([1]) }))).toBe('DEVICE_LOCKED');
      expect(await failureCode(app(deviceId).sign({ data: new Uint8Array([1]) }))).toBe('DEVICE_LOCKED');
    }
    const status = await app('robot-a').getStatus({});
    expect(status.lockReason).toBe('e2e drill');

    await restartAgent('robot-a');
    expect((await app('robot-a').getStatus({})).locked).toBe(true);
    expect(await failureCode(app('robot-a').encrypt({ plaintext: new Uint8Array([1]) }))).toBe('DEVICE_LOCKED');
    const offline = await run(process.execPath, [AGENT_BIN, 'status', '--data-dir', join(parent, 'robot-a'), '-o', 'json']);
    expect(JSON.parse(offline.stdout)).toMatchObject({ locked: true });

    const second = JSON.parse(await controller.fleetctl('operators', 'create', 'second-operator', '--role', 'admin', '-o', 'json')) as { credential: string };
    const requested = JSON.parse(await controller.fleetctl('lift', '--fleet', 'acme', '--reason', 'drill over', '-o', 'json')) as { liftRequest: { liftRequestId: string } };
    await controller.fleetctlAs(second.credential, 'approve', requested.liftRequest.liftRequestId, '--fleet', 'acme');
    for (const deviceId of ['robot-a', 'robot-b']) {
      await eventually(async () => ((await app(deviceId).getStatus({})).locked ? undefined : true), `${deviceId} unlocked`);
    }
    const sealed = await app('robot-a').seal({ plaintext: new TextEncoder().encode('back to work') });
    expect(new TextDecoder().decode((await app('robot-b').open({ envelope: sealed.envelope })).plaintext)).toBe('back to work');

    // A restart after the lift replays nothing: the agent stays unlocked.
    await restartAgent('robot-a');
    await eventually(async () => ((await app('robot-a').getStatus({})).lastContact === undefined ? undefined : true), 'robot A back in contact');
    expect((await app('robot-a').getStatus({})).locked).toBe(false);
  }, 90_000);
});
