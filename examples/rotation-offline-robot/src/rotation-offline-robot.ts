/**
 * Key rotation with a robot offline: two robots serve; robot-b's agent is stopped (SIGTERM, as a
 * robot powered off); the operator rotates. A new epoch is activated at the controller's next
 * scheduler tick once the acknowledged share of the fleet's active robots reaches the policy's
 * threshold, or at the activation deadline anyway — so the fleet's policy is set to 50 % and
 * robot-a's acknowledgement alone activates epoch 2, without waiting an hour for the deadline.
 * robot-b comes back, fetches its key bundle on reconnecting, reports epoch 2 active, and opens a
 * message robot-a sealed with epoch 2 while it was away.
 *
 * Trust boundary: none of its own; it drives the binaries as an operator and robot apps do.
 */
import { KeyState } from '@fleetkey/protocol';
import { AGENT_BIN, CONTROLLER_BIN, activeEpoch, runScenario, settle, tokenHint, type ScenarioOptions, type ScenarioReport } from '@fleetkey/fleet-harness';

export const FLEET = 'acme';
export const ONLINE = 'robot-a';
export const OFFLINE = 'robot-b';
/** The acknowledged share that activates a new epoch: one robot of two. */
export const THRESHOLD = 0.5;

export interface RotationFacts {
  readonly policy: { readonly threshold: number; readonly deadlineMs: number };
  readonly offlineStop: { readonly exitCode: number | null; readonly killed: boolean };
  readonly rotation: { readonly newEpoch: number; readonly outcome: string; readonly acknowledged: number; readonly devices: number };
  /** What robot-b's keystore held while it was off (`edge-agent status`). */
  readonly whileOffline: readonly { version: number; state: string }[];
  readonly onlineActive: number;
  readonly sealedWith: number;
  readonly caughtUp: { readonly activeEpoch: number; readonly epochs: readonly string[] };
  readonly opened: { readonly text: string; readonly sender: string; readonly epoch: number };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Runs the scenario; everything it started is stopped and its directory removed when it ends. */
export function runRotationOfflineRobot(options: ScenarioOptions = {}): Promise<ScenarioReport<RotationFacts>> {
  return runScenario('rotation', options, async (s) => {
    const init = await s.step('controller initialised', async () => {
      const value = await s.initController(FLEET);
      return { detail: `fleet ${FLEET}, epoch 1, local KMS; admin token ${tokenHint(value.adminToken)} (kept in memory)`, value };
    });

    // The policy lives in the state store; the scheduler reads it at every tick.
    const policy = await s.step('rotation policy: activate at 50 %', async () => {
      const out = await s.processes.run('fleet-controller rotation-policy', CONTROLLER_BIN, ['rotation-policy', '--data-dir', init.dataDir, '--fleet', FLEET, '--threshold', String(THRESHOLD), '-o', 'json'], { signal: s.signal });
      const parsed = JSON.parse(out) as { threshold?: number; deadlineMs?: number };
      if (parsed.threshold !== THRESHOLD) throw new Error('the rotation policy was not set');
      return { detail: `fleet-controller rotation-policy --threshold ${THRESHOLD}: a new epoch activates once ${THRESHOLD * 100} % of the robots acknowledged it, or ${(parsed.deadlineMs ?? 0) / 60_000} min after the rotation anyway`, value: { threshold: parsed.threshold, deadlineMs: parsed.deadlineMs ?? 0 } };
    });

    const controller = await s.step('controller serving', async () => {
      const value = await s.serveController(init);
      return { detail: `pid ${value.daemon.pid}: gRPC ${value.grpc}, MQTT ${value.mqtt}; the rotation scheduler ticks every 15 s`, value };
    });

    const robots = await s.step('two robots provisioned and serving', async () => {
      const tokens = await s.tokens(controller, 2);
      await Promise.all([ONLINE, OFFLINE].map((deviceId, index) => s.provision(controller, { deviceId, token: tokens[index]! })));
      const [a, b] = await Promise.all([s.startAgent(ONLINE), s.startAgent(OFFLINE)]);
      return { detail: `${ONLINE} (pid ${a!.daemon.pid}) and ${OFFLINE} (pid ${b!.daemon.pid}) on epoch 1, both in contact with the controller`, value: { a: a!, b: b! } };
    });

    const offlineStop = await s.step(`${OFFLINE} goes offline`, async () => {
      s.closeApp(robots.b.app);
      const stopped = await robots.b.daemon.stop();
      if (stopped.exitCode !== 0) throw new Error(`${OFFLINE}'s agent did not stop cleanly`);
      return { detail: `SIGTERM to its agent (pid ${robots.b.daemon.pid}): exit ${stopped.exitCode}; the controller still counts it among the fleet's active robots`, value: { exitCode: stopped.exitCode, killed: stopped.killed } };
    });

    const rotation = await s.step('communication key rotated', async () => {
      const rotated = (await s.fleetctl(controller, ['rotate', '--fleet', FLEET, '--reason', 'scheduled drill (example)', '--wait', '--poll-interval', '1', '--timeout', '60'])) as {
        newEpoch?: { version?: number };
        outcome?: string;
        acknowledged?: number;
        devices?: number;
      };
      const value = { newEpoch: rotated.newEpoch?.version ?? 0, outcome: rotated.outcome ?? '', acknowledged: rotated.acknowledged ?? -1, devices: rotated.devices ?? -1 };
      if (value.outcome !== 'active') throw new Error(`epoch ${value.newEpoch} was not activated (${value.outcome})`);
      return { detail: `fleetctl rotate --wait: epoch ${value.newEpoch} ${value.outcome} after ${value.acknowledged}/${value.devices} acknowledgements (${OFFLINE} is off; ${THRESHOLD * 100} % reached at the next tick)`, value };
    });

    const online = await s.step(`${ONLINE} seals with epoch ${rotation.newEpoch}`, async () => {
      const onlineActive = await settle(`epoch ${rotation.newEpoch} active on ${ONLINE}`, async () => ((await activeEpoch(robots.a.app)) === rotation.newEpoch ? rotation.newEpoch : undefined), { signal: s.signal });
      const text = s.message('sealed by robot-a while robot-b was away');
      const sealed = await robots.a.app.seal({ plaintext: encoder.encode(text) });
      return { detail: `${ONLINE} reports epoch ${onlineActive} active; "${text}": ${sealed.envelope.length}-byte envelope, epoch ${sealed.key?.version}`, value: { onlineActive, text, sealed } };
    });

    const whileOffline = await s.step(`${OFFLINE} still on epoch 1`, async () => {
      const status = JSON.parse(await s.processes.run(`edge-agent status ${OFFLINE}`, AGENT_BIN, ['status', '--data-dir', robots.b.dataDir, '-o', 'json'], { signal: s.signal })) as { epochs?: { version: number; state: string }[] };
      const epochs = (status.epochs ?? []).map(({ version, state }) => ({ version, state }));
      return { detail: `edge-agent status (reads the keystore, no agent running): ${epochs.map((e) => `epoch ${e.version} ${e.state}`).join(', ')}`, value: epochs };
    });

    const caughtUp = await s.step(`${OFFLINE} back online, caught up`, async () => {
      const back = await s.startAgent(OFFLINE, { name: `edge-agent ${OFFLINE} (back online)` });
      const active = await settle(`epoch ${rotation.newEpoch} active on ${OFFLINE}`, async () => ((await activeEpoch(back.app)) === rotation.newEpoch ? rotation.newEpoch : undefined), { signal: s.signal });
      const status = await back.app.getStatus({});
      const epochs = status.epochs.map((e) => `${e.key?.version} ${stateName(e.state)}`);
      const opened = await back.app.open({ envelope: online.sealed.envelope });
      const value = {
        caughtUp: { activeEpoch: active, epochs },
        opened: { text: decoder.decode(opened.plaintext), sender: opened.senderDeviceId, epoch: opened.key?.version ?? 0 },
      };
      if (value.opened.text !== online.text) throw new Error(`${OFFLINE} opened something other than ${ONLINE} sealed`);
      return {
        detail: `agent restarted (pid ${back.daemon.pid}), key bundle fetched on reconnect: GetStatus epochs [${epochs.join(', ')}]; opened "${value.opened.text}" from ${value.opened.sender}, epoch ${value.opened.epoch}`,
        value,
      };
    });

    return {
      policy,
      offlineStop,
      rotation,
      whileOffline,
      onlineActive: online.onlineActive,
      sealedWith: online.sealed.key?.version ?? 0,
      caughtUp: caughtUp.caughtUp,
      opened: caughtUp.opened,
    };
  });
}

function stateName(state: KeyState): string {
  return (KeyState[state] ?? String(state)).toLowerCase();
}
