/**
 * The whole system in one run: a fleet controller (embedded broker, SQLite, and the local KMS or a
 * cloud KMS emulator) and four edge agents, each in its own process in a temporary directory.
 * Robots are provisioned with enrollment tokens from `fleetctl`; robot apps on the agents' Unix
 * sockets seal and open across robots and talk over an agent-to-agent channel; an operator
 * rotates the communication key, revokes a robot, locks the fleet down and lifts it with a second
 * operator's approval; the audit chain is verified; and everything is stopped and removed.
 *
 * Trust boundary: none of its own. It drives the system only through the three binaries and the
 * agents' local API, as operators and robot apps do. Tokens and the emulators' credentials stay
 * in memory (lines show a token's kind and two characters at most) and the demo checks that no
 * process log holds any of them or the demo's messages.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyState } from '@fleetkey/protocol';
import { startDemoKms, type DemoKms, type DemoKmsProvider } from './kms.js';
import {
  AGENT_BIN,
  CONTROLLER_BIN,
  FLEETCTL_BIN,
  Processes,
  Scrubber,
  activeEpoch,
  closeClient,
  nextFrame,
  outcomeOf,
  robotApp,
  settle,
  type Daemon,
  type RobotApp,
  type StopOutcome,
  ScenarioFailed,
  tokenHint,
} from '@fleetkey/fleet-harness';

export const ROBOTS = ['robot-a', 'robot-b', 'robot-c', 'robot-d'] as const;
export type RobotId = (typeof ROBOTS)[number];
/** The robot the demo revokes. */
const REVOKED: RobotId = 'robot-d';
const PEERS = ROBOTS.filter((robot) => robot !== REVOKED);

export interface DemoStep {
  readonly title: string;
  readonly detail: string;
  readonly ms: number;
}

export interface FleetDemoOptions {
  /** Where the controller keeps its keys; default 'local'. */
  readonly kms?: DemoKmsProvider;
  readonly fleet?: string;
  /** Parent of the demo's temporary directory; default the system's. */
  readonly tmpRoot?: string;
  /** Ctrl-C: aborting stops every process and removes the directory; the run rejects. */
  readonly signal?: AbortSignal;
  readonly onStep?: (step: DemoStep) => void;
}

/** What the demo established, for its test and for anyone scripting it. */
export interface FleetDemoFacts {
  readonly kms: DemoKmsProvider;
  readonly workDir: string;
  /** Every process the demo started (controller, agents, every fleetctl and provision run). */
  readonly pids: readonly number[];
  readonly provisioned: readonly string[];
  readonly sealed: { readonly text: string; readonly opened: string; readonly sender: string; readonly epoch: number; readonly otherAssociatedData: string };
  readonly channel: { readonly dialerSaw: string; readonly waiterSaw: string; readonly atWaiter: string; readonly atDialer: string };
  readonly rotation: { readonly newEpoch: number; readonly outcome: string; readonly activeEpochs: Readonly<Record<string, number>>; readonly sealedWith: number; readonly oldMessageState: string };
  readonly revocation: { readonly device: string; readonly refusals: Readonly<Record<string, string>>; readonly revokedLocked: boolean; readonly channelToRevoked: string };
  readonly lockdown: { readonly locked: Readonly<Record<string, boolean>>; readonly seal: Readonly<Record<string, string>>; readonly sign: Readonly<Record<string, string>> };
  readonly lift: { readonly state: string; readonly approvals: readonly string[]; readonly unlocked: Readonly<Record<string, boolean>>; readonly revokedStillLocked: boolean; readonly resealed: string };
  readonly audit: { readonly valid: boolean; readonly recordsChecked: number; readonly headSignatureValid: boolean };
  readonly stopped: Readonly<Record<string, StopOutcome>>;
  readonly logsHoldNoSecret: boolean;
}

export interface FleetDemoReport {
  readonly steps: readonly DemoStep[];
  readonly facts: FleetDemoFacts;
}

/** A failed run of the demo: the harness's ScenarioFailed (step, scrubbed message, pids, work dir) under the demo's name. */
export class FleetDemoFailed extends ScenarioFailed {
  override readonly name: string = 'FleetDemoFailed';
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function byRobot<T>(robots: readonly RobotId[], values: readonly T[]): Record<string, T> {
  return Object.fromEntries(robots.map((robot, index) => [robot, values[index]!]));
}

function stoppedCleanly(outcome: StopOutcome): boolean {
  return !outcome.killed && outcome.exitCode === 0;
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Runs the demo and returns its steps and the facts they established. The temporary directory
 * and every process are gone when it returns or rejects.
 * @throws FleetDemoFailed naming the step that failed (or the abort), with a scrubbed message.
 */
export async function runFleetDemo(options: FleetDemoOptions = {}): Promise<FleetDemoReport> {
  const provider = options.kms ?? 'local';
  const fleet = options.fleet ?? 'acme';
  const steps: DemoStep[] = [];
  const scrubber = new Scrubber();
  const processes = new Processes(scrubber);
  // Aborted on failure as well as on Ctrl-C, so one-shot commands in flight end too.
  const inner = new AbortController();
  const stopOnAbort = (): void => inner.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', stopOnAbort, { once: true });
  const signal = inner.signal;
  const apps = new Map<RobotId, RobotApp>();
  let kms: DemoKms | undefined;
  let workDir: string | undefined;
  let current = 'start';

  async function step<T>(title: string, body: () => Promise<{ detail: string; value: T }>): Promise<T> {
    signal.throwIfAborted();
    current = title;
    const started = performance.now();
    const { detail, value } = await body();
    const done: DemoStep = { title, detail: scrubber.scrub(detail), ms: performance.now() - started };
    steps.push(done);
    options.onStep?.(done);
    return value;
  }

  const app = (robot: RobotId): RobotApp => apps.get(robot)!;

  try {
    workDir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), 'fleetkey-demo-'));
    const dir = workDir;
    const dataDir = join(dir, 'controller');

    if (provider !== 'local') {
      kms = await step(`${provider} KMS emulator started`, async () => {
        const started = await startDemoKms(provider, dir);
        scrubber.add(...started.secrets);
        return { detail: `${started.description}, in this process on port 0`, value: started };
      });
    } else {
      kms = await startDemoKms('local', dir);
    }
    const kmsEnv = kms.env;

    // 1. init: the fleet CA, emergency key, master key and first epoch in the KMS.
    const init = await step('controller initialised', async () => {
      const out = await processes.run('fleet-controller init', CONTROLLER_BIN, ['init', '--data-dir', dataDir, '--fleet', fleet, '--kms', provider, '-o', 'json'], { env: kmsEnv, signal });
      const parsed = JSON.parse(out) as { adminToken?: unknown; caFile?: unknown; fleet?: unknown };
      if (typeof parsed.adminToken !== 'string' || typeof parsed.caFile !== 'string' || parsed.fleet !== fleet) throw new Error('fleet-controller init printed an unexpected document');
      scrubber.add(parsed.adminToken);
      return {
        detail: `fleet ${fleet}: CA, emergency and master keys in the ${provider === 'local' ? 'local KMS' : `${provider} emulator`}, epoch 1; admin token ${tokenHint(parsed.adminToken)} (kept in memory)`,
        value: { adminToken: parsed.adminToken, caFile: parsed.caFile },
      };
    });

    // 2. serve: gRPC, the embedded MQTT broker and HTTP, all on port 0.
    const controller = await step('controller serving', async () => {
      const started = await processes.start('fleet-controller', CONTROLLER_BIN, ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--mqtt-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0'], { env: kmsEnv, signal });
      const { grpc, mqtt } = started.ready as { grpc?: unknown; mqtt?: unknown };
      if (typeof grpc !== 'string' || typeof mqtt !== 'string') throw new Error('fleet-controller serve printed an unexpected ready line');
      return { detail: `pid ${started.pid}: gRPC ${grpc} (TLS; mutual TLS for robots), MQTT broker ${mqtt} (TLS), SQLite state store`, value: { daemon: started, grpc } };
    });
    const fleetctlEnv = { FLEETKEY_CONFIG: join(dir, 'no-fleetctl-config.json') };
    const fleetctlAs = async (token: string, ...args: string[]): Promise<Record<string, unknown>> => {
      const out = await processes.run(`fleetctl ${args.slice(0, 2).join(' ')}`, FLEETCTL_BIN, ['--controller', controller.grpc, '--ca-file', init.caFile, ...args, '-o', 'json'], { env: { ...fleetctlEnv, FLEETKEY_TOKEN: token }, signal });
      return JSON.parse(out) as Record<string, unknown>;
    };
    const fleetctl = (...args: string[]) => fleetctlAs(init.adminToken, ...args);

    // 3. One single-use enrollment token per robot, and the second admin a lift will need (an
    //    emergency is no time to create operators).
    const { tokens, secondCredential } = await step('tokens and a second operator', async () => {
      const [minted, second] = (await Promise.all([
        fleetctl('tokens', 'create', '--fleet', fleet, '--count', String(ROBOTS.length), '--ttl', '1h'),
        fleetctl('operators', 'create', 'second-admin', '--role', 'admin', '--display-name', 'demo second operator'),
      ])) as [{ tokens?: { token: string }[] }, { credential?: unknown }];
      const list = minted.tokens ?? [];
      if (list.length !== ROBOTS.length) throw new Error(`fleetctl minted ${list.length} tokens, not ${ROBOTS.length}`);
      if (typeof second.credential !== 'string') throw new Error('fleetctl operators create printed no credential');
      scrubber.add(...list.map((t) => t.token), second.credential);
      return {
        detail: `fleetctl tokens create: ${list.length} single-use tokens (${list.map((t) => tokenHint(t.token)).join(', ')}), valid 1 h; operators create second-admin (admin): ${tokenHint(second.credential)}`,
        value: { tokens: list.map((t) => t.token), secondCredential: second.credential },
      };
    });

    // 4. The factory station: `edge-agent provision` for all four at once.
    const provisioned = await step('four robots provisioned', async () => {
      const statuses = await Promise.all(
        ROBOTS.map(async (robot, index) => {
          const out = await processes.run(
            `edge-agent provision ${robot}`,
            AGENT_BIN,
            ['provision', '--controller', controller.grpc, '--ca-file', init.caFile, '--device-id', robot, '--serial', `SN-${String(index + 1).padStart(4, '0')}`, '--data-dir', join(dir, robot), '-o', 'json'],
            // The token goes in the environment: on a command line `ps` would show it.
            { env: { FLEETKEY_ENROLLMENT_TOKEN: tokens[index]! }, signal },
          );
          return JSON.parse(out) as { provisioned?: boolean; deviceId?: string; fleet?: string; epochs?: { version: number }[] };
        }),
      );
      statuses.forEach((status, index) => {
        if (status.provisioned !== true || status.deviceId !== ROBOTS[index] || status.fleet !== fleet) throw new Error(`${ROBOTS[index]} was not provisioned as expected`);
      });
      const epochs = [...new Set(statuses.flatMap((s) => (s.epochs ?? []).map((e) => e.version)))].join(', ');
      return {
        detail: `edge-agent provision ×4 in parallel: identity keys made on the robots, certificates fleetkey://${fleet}/robot-a…d checked, epoch ${epochs} unwrapped into encrypted keystores`,
        value: statuses.map((s) => s.deviceId!),
      };
    });

    // 5. `edge-agent serve` for all four at once; each robot app waits for its agent's first contact.
    const agents = await step('four agents serving', async () => {
      const started = await Promise.all(
        ROBOTS.map((robot) =>
          processes.start(`edge-agent ${robot}`, AGENT_BIN, ['serve', '--data-dir', join(dir, robot), '--socket', join(dir, `${robot}.sock`), '--peer-listen', '127.0.0.1:0'], { signal }),
        ),
      );
      for (const [index, robot] of ROBOTS.entries()) apps.set(robot, robotApp(started[index]!.ready['socket'] as string));
      await Promise.all(
        ROBOTS.map((robot) => settle(`${robot} to reach the controller`, async () => ((await app(robot).getStatus({})).lastContact === undefined ? undefined : true), { signal })),
      );
      const byName = byRobot(ROBOTS, started);
      const peers = ROBOTS.map((robot) => `${robot.slice(-1)} ${String(byName[robot]!.ready['peer']).replace(/^127\.0\.0\.1:/, ':')}`).join(', ');
      return {
        detail: `pids ${started.map((d) => d.pid).join(', ')}; local API on robot-*.sock (0660), peer listeners ${peers}; all four in contact with the controller`,
        value: byName as Record<RobotId, Daemon>,
      };
    });

    // 6. Seal on one robot, open on another.
    const sealed = await step('sealed on robot-a, opened on robot-b', async () => {
      const text = 'waypoint 17: hold position until 14:05';
      const associatedData = encoder.encode('route-7');
      const result = await app('robot-a').seal({ plaintext: encoder.encode(text), associatedData, purpose: 'telemetry' });
      const opened = await app('robot-b').open({ envelope: result.envelope, associatedData, purpose: 'telemetry' });
      const openedText = decoder.decode(opened.plaintext);
      if (openedText !== text || opened.senderDeviceId !== 'robot-a') throw new Error('robot-b opened something other than robot-a sealed');
      const otherAssociatedData = await outcomeOf(app('robot-b').open({ envelope: result.envelope, associatedData: encoder.encode('route-8'), purpose: 'telemetry' }));
      const epoch = result.key?.version ?? 0;
      return {
        detail: `"${text}": envelope of ${result.envelope.length} bytes, epoch ${epoch}, signed by robot-a; robot-b opened the same text from ${opened.senderDeviceId}; with other associated data -> ${otherAssociatedData}`,
        value: { text, opened: openedText, sender: opened.senderDeviceId, epoch, otherAssociatedData },
      };
    });

    // 7. A channel between two agents (mutual TLS 1.3 with device certificates).
    const channel = await step('channel robot-a -> robot-b', async () => {
      // robot-b's app waits for robot-a by device id; robot-a's app dials robot-b's agent by address.
      const waiting = app('robot-b').openChannel();
      const dialing = app('robot-a').openChannel();
      try {
        await waiting.send({ frame: { case: 'open', value: { peer: { case: 'deviceId', value: 'robot-a' } } } });
        await dialing.send({ frame: { case: 'open', value: { peer: { case: 'address', value: agents['robot-b'].ready['peer'] as string }, expectedDeviceId: 'robot-b' } } });
        const fromB = waiting[Symbol.asyncIterator]();
        const fromA = dialing[Symbol.asyncIterator]();
        const [atA, atB] = await Promise.all([nextFrame(fromA), nextFrame(fromB)]);
        const dialerSaw = atA.kind === 'opened' ? (atA.value as { peerDeviceId: string }).peerDeviceId : atA.kind;
        const waiterSaw = atB.kind === 'opened' ? (atB.value as { peerDeviceId: string }).peerDeviceId : atB.kind;
        if (dialerSaw !== 'robot-b' || waiterSaw !== 'robot-a') throw new Error(`the channel did not open (robot-a saw ${dialerSaw}, robot-b saw ${waiterSaw})`);
        await dialing.send({ frame: { case: 'data', value: { data: encoder.encode('ping from robot-a') } } });
        const toB = await nextFrame(fromB);
        await waiting.send({ frame: { case: 'data', value: { data: encoder.encode('pong from robot-b') } } });
        const toA = await nextFrame(fromA);
        const atWaiter = toB.kind === 'data' ? decoder.decode((toB.value as { data: Uint8Array }).data) : toB.kind;
        const atDialer = toA.kind === 'data' ? decoder.decode((toA.value as { data: Uint8Array }).data) : toA.kind;
        await dialing.send({ frame: { case: 'close', value: { reason: '' } } });
        const closedAtB = await nextFrame(fromB);
        return {
          detail: `opened over mutual TLS 1.3 (each side verified as ${dialerSaw} / ${waiterSaw}); "${atWaiter}" arrived at robot-b, "${atDialer}" at robot-a; closed (${closedAtB.kind} at robot-b)`,
          value: { dialerSaw, waiterSaw, atWaiter, atDialer },
        };
      } finally {
        dialing.cancel();
        waiting.cancel();
      }
    });

    // 8. Rotation: every robot moves to the new epoch; the old one still opens.
    const rotation = await step('communication key rotated', async () => {
      const before = await app('robot-c').seal({ plaintext: encoder.encode('sealed before the rotation') });
      const rotated = (await fleetctl('rotate', '--fleet', fleet, '--reason', 'fleetkey demo', '--wait', '--poll-interval', '1', '--timeout', '60')) as {
        newEpoch?: { version?: number };
        outcome?: string;
        acknowledged?: number;
        devices?: number;
      };
      const newEpoch = rotated.newEpoch?.version ?? 0;
      if (rotated.outcome !== 'active') throw new Error(`the new epoch ${newEpoch} was not activated (${String(rotated.outcome)})`);
      const epochs = await Promise.all(ROBOTS.map((robot) => settle(`epoch ${newEpoch} active on ${robot}`, async () => ((await activeEpoch(app(robot))) === newEpoch ? newEpoch : undefined), { signal })));
      const after = await app('robot-d').seal({ plaintext: encoder.encode('sealed after the rotation') });
      const openedAfter = decoder.decode((await app('robot-a').open({ envelope: after.envelope })).plaintext);
      if (openedAfter !== 'sealed after the rotation') throw new Error('a message sealed with the new epoch did not open');
      const old = await app('robot-b').open({ envelope: before.envelope });
      const oldMessageState = KeyState[old.keyState] ?? String(old.keyState);
      return {
        detail: `fleetctl rotate --wait: epoch ${newEpoch} active after ${rotated.acknowledged}/${rotated.devices} acknowledgements; ${ROBOTS.map((r) => r.slice(-1)).join(', ')} all seal with epoch ${newEpoch}; an epoch-${before.key?.version} message still opens (${oldMessageState.toLowerCase()})`,
        value: { newEpoch, outcome: rotated.outcome, activeEpochs: byRobot(ROBOTS, epochs), sealedWith: after.key?.version ?? 0, oldMessageState },
      };
    });

    // 9. Revocation: the robot is locked, and its peers refuse it.
    const revocation = await step(`${REVOKED} revoked`, async () => {
      const fromRevoked = await app(REVOKED).seal({ plaintext: encoder.encode(`sealed by ${REVOKED} before its revocation`) });
      const revoked = (await fleetctl('revoke', REVOKED, '--fleet', fleet, '--reason', 'reported stolen (demo)')) as {
        revocationListSequence?: number;
        newEpoch?: { version?: number };
      };
      const refusals = await Promise.all(
        PEERS.map((peer) =>
          settle(`${peer} to refuse ${REVOKED}`, async () => {
            const outcome = await outcomeOf(app(peer).open({ envelope: fromRevoked.envelope }));
            return outcome === 'CERTIFICATE_REVOKED' ? outcome : undefined;
          }, { signal }),
        ),
      );
      const revokedLocked = await settle(`${REVOKED} to lock itself`, async () => ((await app(REVOKED).getStatus({})).locked ? true : undefined), { signal });
      // A peer dialing the revoked robot's agent: the mutual-TLS handshake is refused.
      const dialing = app('robot-a').openChannel();
      let channelToRevoked: string;
      try {
        await dialing.send({ frame: { case: 'open', value: { peer: { case: 'address', value: agents[REVOKED].ready['peer'] as string }, expectedDeviceId: REVOKED } } });
        const first = await nextFrame(dialing[Symbol.asyncIterator]());
        channelToRevoked = first.kind === 'close' ? `closed: ${(first.value as { reason: string }).reason}` : first.kind;
      } finally {
        dialing.cancel();
      }
      if (channelToRevoked === 'opened') throw new Error(`robot-a opened a channel to the revoked ${REVOKED}`);
      return {
        detail: `fleetctl revoke: revocation list #${revoked.revocationListSequence}, new epoch ${revoked.newEpoch?.version} it cannot read; its message opened on ${PEERS.join(', ')} -> ${refusals[0]}; ${REVOKED} locked itself; a channel to it -> ${channelToRevoked}`,
        value: { device: REVOKED, refusals: byRobot(PEERS, refusals), revokedLocked, channelToRevoked },
      };
    });

    // 10. Lockdown: every robot refuses crypto.
    const lockdown = await step('fleet locked down', async () => {
      const issued = (await fleetctl('lockdown', '--fleet', fleet, '--reason', 'intrusion drill (demo)')) as { lockdown?: { commandSequence?: number } };
      const locked = await Promise.all(ROBOTS.map((robot) => settle(`${robot} to lock`, async () => ((await app(robot).getStatus({})).locked ? true : undefined), { signal })));
      const seal = await Promise.all(ROBOTS.map((robot) => outcomeOf(app(robot).seal({ plaintext: encoder.encode('during the lockdown') }))));
      const sign = await Promise.all(ROBOTS.map((robot) => outcomeOf(app(robot).sign({ data: encoder.encode('during the lockdown') }))));
      const refusedAll = [...seal, ...sign].every((code) => code === 'DEVICE_LOCKED');
      if (!refusedAll) throw new Error(`a robot did not refuse crypto during the lockdown (seal: ${seal.join(', ')}; sign: ${sign.join(', ')})`);
      return {
        detail: `signed LOCKDOWN #${issued.lockdown?.commandSequence}; all four locked; Seal and Sign on every robot -> DEVICE_LOCKED`,
        value: { locked: byRobot(ROBOTS, locked), seal: byRobot(ROBOTS, seal), sign: byRobot(ROBOTS, sign) },
      };
    });

    // 11. Lift: a second, different operator's approval; the revoked robot stays locked.
    const lift = await step('lockdown lifted with two approvals', async () => {
      const requested = (await fleetctl('lift', '--fleet', fleet, '--reason', 'drill over (demo)')) as { liftRequest?: { liftRequestId?: string } };
      const requestId = requested.liftRequest?.liftRequestId;
      if (typeof requestId !== 'string') throw new Error('fleetctl lift printed no request id');
      const approved = (await fleetctlAs(secondCredential, 'approve', requestId, '--fleet', fleet)) as { liftRequest?: { state?: string; approvals?: { operatorId: string }[]; commandSequence?: number } };
      const unlocked = await Promise.all(PEERS.map((robot) => settle(`${robot} to unlock`, async () => ((await app(robot).getStatus({})).locked ? undefined : true), { signal })));
      const resealed = await app('robot-b').seal({ plaintext: encoder.encode('back to work') });
      const reopened = decoder.decode((await app('robot-c').open({ envelope: resealed.envelope })).plaintext);
      const revokedStillLocked = (await app(REVOKED).getStatus({})).locked;
      const approvals = (approved.liftRequest?.approvals ?? []).map((a) => a.operatorId);
      return {
        detail: `lift ${requestId.slice(0, 8)}… requested by the first admin, approved by second-admin -> ${approved.liftRequest?.state}, LIFT #${approved.liftRequest?.commandSequence}; ${PEERS.join(', ')} unlocked, "${reopened}" sealed on b opens on c; ${REVOKED} stays locked (revoked)`,
        value: { state: approved.liftRequest?.state ?? '', approvals, unlocked: byRobot(PEERS, unlocked), revokedStillLocked, resealed: reopened },
      };
    });

    // 12. The audit log: hash chain recomputed, signed heads checked.
    const audit = await step('audit chain verified', async () => {
      const verified = (await fleetctl('audit', 'verify')) as { valid?: boolean; recordsChecked?: number; headSequence?: number; headSignatureValid?: boolean };
      if (verified.valid !== true) throw new Error('the audit chain does not verify');
      return {
        detail: `fleetctl audit verify: ${verified.recordsChecked} records hash-chained, the signed head (record #${verified.headSequence}) ${verified.headSignatureValid === true ? 'verifies' : 'DOES NOT VERIFY'}`,
        value: { valid: true, recordsChecked: verified.recordsChecked ?? 0, headSignatureValid: verified.headSignatureValid === true },
      };
    });

    // 13. SIGTERM to everything; exit codes, pids and logs checked.
    const stopped = await step('everything stopped', async () => {
      for (const client of apps.values()) closeClient(client);
      apps.clear();
      const outcomes = await processes.stopAll();
      await kms?.close();
      kms = undefined;
      const unclean = Object.entries(outcomes).filter(([, outcome]) => !stoppedCleanly(outcome));
      if (unclean.length > 0) throw new Error(`${unclean.map(([name]) => name).join(', ')} did not stop cleanly`);
      const alive = processes.pids().filter((pid) => !processGone(pid));
      if (alive.length > 0) throw new Error(`${alive.length} processes still run`);
      const logs = processes.daemons().map((daemon) => daemon.log());
      const words = [sealed.text, 'ping from robot-a', 'pong from robot-b'];
      const clean = logs.every((log) => scrubber.clean(log) && words.every((word) => !log.includes(word)));
      if (!clean) throw new Error('a secret or a message reached a process log');
      return {
        detail: `SIGTERM: controller and 4 agents exited 0${provider === 'local' ? '' : `, ${provider} emulator closed`}; ${processes.pids().length} processes started, none left; no token, credential or message in their logs`,
        value: { outcomes, clean },
      };
    });

    return {
      steps,
      facts: {
        kms: provider,
        workDir: dir,
        pids: processes.pids(),
        provisioned,
        sealed,
        channel,
        rotation,
        revocation,
        lockdown,
        lift,
        audit,
        stopped: stopped.outcomes,
        logsHoldNoSecret: stopped.clean,
      },
    };
  } catch (error) {
    inner.abort();
    const message = signal.aborted && options.signal?.aborted === true ? 'stopped (interrupted)' : scrubber.scrub(error instanceof Error ? error.message : String(error));
    throw new FleetDemoFailed(current, message, processes.pids(), workDir);
  } finally {
    options.signal?.removeEventListener('abort', stopOnAbort);
    for (const client of apps.values()) closeClient(client);
    await processes.stopAll();
    await kms?.close().catch(() => undefined);
    if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
  }
}
