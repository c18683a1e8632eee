/**
 * `npm run bench:fleet -- --agents N [--workers W]`: N robots running the real agent code against
 * one real controller, and what an operator waits for — provisioning rate, a rotation reaching
 * every robot, a lockdown acknowledged by every robot — each next to the same broker's raw
 * fan-out of a message of the same size, measured in the same run.
 *
 * Set-up: `fleet-controller init` and `serve` (ports 0, log level warn) in a tmpfs temp dir;
 * `fleetctl tokens create` mints the N enrollment tokens (batches of 1,000); W worker processes
 * (./worker.ts through the ./worker.mjs tsx trampoline) each provision their share with
 * `provisionAgent` (ProvisioningService over TLS) into keystores on tmpfs — the "in-memory
 * keystore": the real SecureKeyStore, on a RAM-backed file system, so no agent code changes — and
 * then run an AgentCore and `startControllerLink` per robot.
 *
 * Measured, all from the parent's clock (shared with the workers; Date.now() milliseconds):
 * - provisioning: N / (first enrollment started .. last keystore committed);
 * - rotation reach: `fleetctl rotate` spawned .. the last robot holds epoch 2 of the fleet key
 *   (pending), .. has acknowledged it, and .. holds it as active. Activation happens at the
 *   controller's next rotation-scheduler tick after the acks (15 s by default), so the last figure
 *   is mostly that tick; the first two are the fan-out;
 * - lockdown: `fleetctl lockdown` spawned .. the last robot locked, and .. the last robot's ack
 *   returned (the Ack RPC resolved, or the PUBACK of `up/acks`, so the controller holds it). The
 *   count is then confirmed with `fleetctl lockdown status -o json` (every robot in `confirmed`);
 *   the status poll itself is not timed — one fleetctl start costs more than the fan-out. During
 *   the round /healthz is polled, and the slowest answer printed: the controller's longest stall.
 * - Before each round the controller and the workers are let settle (CPU quiet), so a round does
 *   not start in the tail of the previous one. FLEETKEY_BENCH_CPU_PROF=<dir> writes CPU profiles
 *   of the controller and the workers there.
 *   The same figures are given from the controller's `issuedAt` of the command, which leaves out
 *   fleetctl's start-up (a Node + tsx process, about 2 s here whatever the fleet size); the
 *   "N=1,000 acknowledged within 2 s" target is judged from issuedAt, the spawn figure beside it.
 *
 * The raw baseline: the broker takes only device certificates and the client id must be the
 * device id, so there can be no extra anonymous subscribers, and the controller's binary offers no
 * way to publish an arbitrary payload. So, after the measured lockdown, the workers close the
 * agents' links and open one plain mqtt.js connection per robot with that robot's certificate,
 * subscribed to the fleet's emergency topic; a second `fleetctl lockdown` with the same reason
 * (the same SignedCommand size; its size is printed) is then timed from spawn to the last raw
 * subscriber's receipt, doing nothing with the payload. That is the same broker, the same
 * retained QoS 1 topic, the same message size and the same fleetctl path, without the agents'
 * verification, keystore writes and acks — what the agent code adds is the difference. The
 * gRPC command stream also carries lockdowns to agents; the baseline uses MQTT only, the
 * broadcast path.
 *
 * Trust boundary: none; a throwaway controller and robots in a temp dir, removed at the end.
 */
import { execFile, fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs, promisify } from 'node:util';
import { formatRate, printMeasurements } from '@fleetkey/bench';
import type { AgentJob, FromWorker, Phase, ToWorker } from './messages.js';

const run = promisify(execFile);
const CONTROLLER_BIN = new URL('../../../fleet-controller/bin/fleet-controller.mjs', import.meta.url).pathname;
const FLEETCTL_BIN = new URL('../../../fleetctl/bin/fleetctl.mjs', import.meta.url).pathname;
const WORKER = new URL('./worker.mjs', import.meta.url).pathname;
const FLEET = 'bench';
const REASON = 'fleet benchmark lockdown';
const TOKEN_BATCH = 1000;
const LOCKDOWN_TARGET_MS = 2_000;
const LOCKDOWN_TARGET_AGENTS = 1000;
/** Linux's USER_HZ; /proc reports CPU time in these ticks. */
const CLOCK_TICKS_PER_SECOND = 100;
const IDLE_WINDOW_MS = 500;
const IDLE_CPU_SHARE = 0.1;
const SETTLE_LIMIT_MS = 120_000;
/** Bounds on each phase, so a stuck run ends with a message instead of hanging. Never a figure. */
const PHASE_TIMEOUT_MS = 30 * 60_000;

const { values } = parseArgs({ options: { agents: { type: 'string', default: '100' }, workers: { type: 'string', default: '2' }, 'tmp-dir': { type: 'string', default: '/dev/shm' } } });
const AGENTS = Number(values.agents);
const WORKERS = Number(values.workers);
if (!Number.isSafeInteger(AGENTS) || AGENTS < 1 || AGENTS > 100_000) throw new RangeError('--agents expected an integer 1..100000');
if (!Number.isSafeInteger(WORKERS) || WORKERS < 1 || WORKERS > 64) throw new RangeError('--workers expected an integer 1..64');

interface WorkerHandle {
  readonly child: ChildProcess;
  readonly inbox: FromWorker[];
}

const workers: WorkerHandle[] = [];
const waiters: (() => void)[] = [];
const wake = (): void => {
  for (const resolve of waiters.splice(0)) resolve();
};

/** The next message of type `type` from worker `index` (a 'failed' message throws). */
async function next<T extends FromWorker['type']>(index: number, type: T, phase?: Phase): Promise<Extract<FromWorker, { type: T }>> {
  const deadline = Date.now() + PHASE_TIMEOUT_MS;
  for (;;) {
    const inbox = workers[index]!.inbox;
    const found = inbox.findIndex((m) => m.type === 'failed' || (m.type === type && (phase === undefined || (m as { phase?: Phase }).phase === phase)));
    if (found >= 0) {
      const [message] = inbox.splice(found, 1);
      if (message!.type === 'failed') throw new Error(`worker ${index} failed: ${message!.message}`);
      return message as Extract<FromWorker, { type: T }>;
    }
    if (Date.now() > deadline) throw new Error(`worker ${index}: no ${type} ${phase ?? ''} within ${PHASE_TIMEOUT_MS} ms`);
    await new Promise<void>((resolve) => {
      waiters.push(resolve);
      setTimeout(resolve, 1_000).unref();
    });
  }
}

function maxOf(details: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const detail of details) for (const [key, value] of Object.entries(detail)) out[key] = Math.max(out[key] ?? value, value);
  return out;
}

/**
 * Polls the controller's /healthz until stopped and keeps the slowest answer: how long the
 * controller's event loop was unavailable while a round ran (the controller is one process).
 */
function probe(http: string): { stop(): Promise<number> } {
  let stopped = false;
  let slowest = 0;
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      await fetch(`http://${http}/healthz`).then((r) => r.arrayBuffer()).catch(() => undefined);
      slowest = Math.max(slowest, Date.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return slowest;
    },
  };
}

/** Waits for every worker's report of `phase`; returns the first and the last robot's time. */
async function phase(name: Phase): Promise<{ first: number; last: number; detail: Record<string, number> }> {
  const reports = await Promise.all(workers.map((_, index) => next(index, 'phase', name)));
  return { first: Math.min(...reports.map((r) => r.first)), last: Math.max(...reports.map((r) => r.at)), detail: maxOf(reports.map((r) => r.detail ?? {})) };
}

function broadcast(message: ToWorker): void {
  for (const worker of workers) worker.child.send(message);
}

async function armAll(type: 'arm-lockdown' | 'arm-raw'): Promise<void> {
  broadcast({ type });
  await Promise.all(workers.map((_, index) => next(index, 'armed')));
}

const ms = (value: number): string => `${value.toFixed(0)} ms`;

/** CPU seconds used so far by the process `pid` (utime + stime of /proc/<pid>/stat). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5), counted from the state field (3) after the command name.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/**
 * Resolves once the controller and the workers are quiet (together under IDLE_CPU_SHARE of one
 * core over two windows in a row): a measured round starts from a settled fleet, not in the tail
 * of the previous one (a rotation's activation republishes every bundle, and every robot acks).
 */
async function settled(pids: readonly number[]): Promise<number> {
  const started = Date.now();
  let quiet = 0;
  let before = (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);
  while (quiet < 2 && Date.now() - started < SETTLE_LIMIT_MS) {
    await new Promise((resolve) => setTimeout(resolve, IDLE_WINDOW_MS));
    const now = (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);
    quiet = now - before < (IDLE_CPU_SHARE * IDLE_WINDOW_MS) / 1000 ? quiet + 1 : 0;
    before = now;
  }
  return Date.now() - started;
}

/** File descriptors per robot: in a worker its keystore (database, WAL, shared memory) and two sockets; the controller holds the two sockets. */
const WORKER_FDS_PER_ROBOT = 5;
const CONTROLLER_FDS_PER_ROBOT = 2;
const FD_HEADROOM = 200;

/** Fails fast when the open-files limit cannot hold the fleet (a 10,000-robot run on 2 workers hits 20,000 in the middle of connecting). */
async function checkOpenFilesLimit(): Promise<void> {
  const limits = await readFile('/proc/self/limits', 'utf8').catch(() => '');
  const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? Number.POSITIVE_INFINITY);
  const perWorker = Math.ceil(AGENTS / WORKERS) * WORKER_FDS_PER_ROBOT + FD_HEADROOM;
  const controller = AGENTS * CONTROLLER_FDS_PER_ROBOT + FD_HEADROOM;
  if (perWorker > soft || controller > soft) {
    throw new RangeError(`the open-files limit (${soft}) is too low: a worker needs about ${perWorker} (use more --workers) and the controller about ${controller} (raise ulimit -n)`);
  }
}

async function main(): Promise<void> {
  await checkOpenFilesLimit();
  const parent = await mkdtemp(join(values['tmp-dir'], 'fk-fleet-bench-'));
  let controller: ChildProcess | undefined;
  try {
    const init = await run(process.execPath, [CONTROLLER_BIN, 'init', '--data-dir', join(parent, 'controller'), '--fleet', FLEET, '-o', 'json']);
    const { adminToken, caFile } = JSON.parse(init.stdout) as { adminToken: string; caFile: string };
    const profile = process.env['FLEETKEY_BENCH_CPU_PROF'];
    controller = spawn(process.execPath, [...(profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`]), CONTROLLER_BIN, 'serve', '--data-dir', join(parent, 'controller'), '--listen', '127.0.0.1:0', '--mqtt-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let controllerLog = '';
    controller.stderr!.on('data', (chunk: Buffer) => void (controllerLog = (controllerLog + chunk.toString()).slice(-4_000)));
    const [line] = (await Promise.race([once(createInterface({ input: controller.stdout! }), 'line'), once(controller, 'exit').then(() => [undefined])])) as [string | undefined];
    if (line === undefined) throw new Error(`the controller exited before it was ready: ${controllerLog}`);
    const { grpc, http } = JSON.parse(line) as { grpc: string; http: string };
    const noConfig = join(parent, 'no-config.json');
    const fleetctl = async (args: readonly string[]): Promise<{ stdout: string; startedAt: number; endedAt: number }> => {
      const startedAt = Date.now();
      const { stdout } = await run(process.execPath, [FLEETCTL_BIN, '--controller', grpc, '--ca-file', caFile, ...args], {
        env: { ...process.env, FLEETKEY_TOKEN: adminToken, FLEETKEY_CONFIG: noConfig },
        maxBuffer: 64 * 1024 * 1024,
      });
      return { stdout, startedAt, endedAt: Date.now() };
    };

    // Tokens (set-up, not timed).
    const tokens: string[] = [];
    for (let left = AGENTS; left > 0; left -= TOKEN_BATCH) {
      const { stdout } = await fleetctl(['tokens', 'create', '--fleet', FLEET, '--count', String(Math.min(TOKEN_BATCH, left)), '--ttl', '2h', '-o', 'json']);
      tokens.push(...(JSON.parse(stdout) as { tokens: { token: string }[] }).tokens.map((t) => t.token));
    }
    const jobs: AgentJob[][] = Array.from({ length: WORKERS }, () => []);
    const width = String(AGENTS).length;
    tokens.forEach((token, index) => jobs[index % WORKERS]!.push({ deviceId: `robot-${String(index).padStart(width, '0')}`, token }));
    tokens.length = 0;

    for (let index = 0; index < WORKERS; index++) {
      // FLEETKEY_BENCH_CPU_PROF=<dir>: CPU profiles of the controller and each worker (where a round's time goes).
      const child = fork(WORKER, [], { execArgv: ['--max-old-space-size=8192', ...(profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const handle: WorkerHandle = { child, inbox: [] };
      child.on('message', (message: FromWorker) => {
        if (message.type === 'progress') console.error(`worker ${index}: ${message.phase} ${message.count}/${message.of}`);
        else handle.inbox.push(message);
        wake();
      });
      child.on('exit', (code) => {
        if (code !== 0 && code !== null) handle.inbox.push({ type: 'failed', message: `exited with code ${code}` });
        wake();
      });
      workers.push(handle);
    }
    await Promise.all(workers.map((_, index) => next(index, 'started')));
    const caPem = await readFile(caFile, 'utf8');
    const agentsRoot = join(parent, 'agents');

    console.error(`provisioning ${AGENTS} robots over ${WORKERS} workers`);
    const provisionStarted = Date.now();
    workers.forEach((worker, index) => worker.child.send({ type: 'provision', agents: jobs[index]!, controller: grpc, caPem, root: agentsRoot, fleet: FLEET } satisfies ToWorker));
    jobs.length = 0;
    const provisioned = await phase('provisioned');
    const provisionMs = provisioned.last - provisionStarted;
    console.error(`provisioned ${AGENTS} in ${ms(provisionMs)}`);

    console.error('connecting the links');
    const linkStarted = Date.now();
    broadcast({ type: 'link' });
    const connected = await phase('connected');
    const connectMs = connected.last - linkStarted;
    console.error(`connected in ${ms(connectMs)}`);

    const pids = [controller.pid!, ...workers.map((w) => w.child.pid!)];
    const settle = async (): Promise<void> => console.error(`settled in ${ms(await settled(pids))}`);
    await settle();
    console.error('rotating');
    const rotate = await fleetctl(['rotate', '--fleet', FLEET, '--reason', 'fleet benchmark rotation', '-o', 'json']);
    const [held, rotationAcked, rotated] = await Promise.all([phase('epoch2-held'), phase('epoch2-acked'), phase('epoch2')]);
    const rotationMs = rotated.last - rotate.startedAt;
    console.error(`rotation from fleetctl spawn: held ${ms(held.last - rotate.startedAt)}, acked ${ms(rotationAcked.last - rotate.startedAt)}, active ${ms(rotationMs)}`);

    await settle();
    console.error('lockdown');
    await armAll('arm-lockdown');
    const lockdownProbe = probe(http);
    const lockdown = await fleetctl(['lockdown', '--fleet', FLEET, '--reason', REASON, '-o', 'json']);
    const issued = (JSON.parse(lockdown.stdout) as { lockdown: { issuedAt: string; commandSequence: number } }).lockdown;
    const issuedAt = Date.parse(issued.issuedAt);
    const [locked, acked] = await Promise.all([phase('locked'), phase('acked')]);
    const lockdownStall = await lockdownProbe.stop();
    console.error(`lockdown from issuedAt: last locked ${ms(locked.last - issuedAt)}, last acked ${ms(acked.last - issuedAt)}`);
    // What the operator sees: every robot in `confirmed` (polled; not timed).
    let confirmed = 0;
    for (let attempt = 0; attempt < 60; attempt++) {
      const { stdout } = await fleetctl(['lockdown', 'status', '--fleet', FLEET, '-o', 'json']);
      const status = JSON.parse(stdout) as { lockdowns: { commandSequence: number; confirmed: string[]; notConfirmed: string[] }[] };
      confirmed = status.lockdowns.find((l) => l.commandSequence === issued.commandSequence)?.confirmed.length ?? 0;
      if (confirmed === AGENTS) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    if (confirmed !== AGENTS) throw new Error(`lockdown status shows ${confirmed}/${AGENTS} robots confirmed`);
    const lockedMs = locked.last - lockdown.startedAt;
    const ackedMs = acked.last - lockdown.startedAt;

    console.error('raw baseline');
    broadcast({ type: 'raw-subscribe' });
    await phase('raw-ready');
    await settle();
    await armAll('arm-raw');
    const rawProbe = probe(http);
    const rawLockdown = await fleetctl(['lockdown', '--fleet', FLEET, '--reason', REASON, '-o', 'json']);
    const rawIssuedAt = Date.parse((JSON.parse(rawLockdown.stdout) as { lockdown: { issuedAt: string } }).lockdown.issuedAt);
    const raw = await phase('raw');
    const rawStall = await rawProbe.stop();
    const rawMs = raw.last - rawLockdown.startedAt;

    broadcast({ type: 'close' });
    const closed = await Promise.all(workers.map((_, index) => next(index, 'closed')));
    await Promise.all(workers.map((worker) => (worker.child.exitCode === null ? once(worker.child, 'exit') : undefined)));
    const warnings = closed.reduce((sum, c) => sum + c.warnings, 0);
    const errors = closed.reduce((sum, c) => sum + c.errors, 0);

    // fleetctl is a Node + tsx process: its start-up alone is about as long as the target, and is
    // the same for every fleet size. The target is judged from the controller's issuedAt (the RPC
    // arrived); the figures from the spawn of fleetctl are printed beside it.
    const ackedFromIssue = acked.last - issuedAt;
    const target = AGENTS === LOCKDOWN_TARGET_AGENTS ? (ackedFromIssue <= LOCKDOWN_TARGET_MS ? 'met' : 'MISSED') : `n/a (the target is for N=${LOCKDOWN_TARGET_AGENTS})`;
    const rawFromIssue = raw.last - rawIssuedAt;
    const ratio = (value: number): string => `${(value / rawFromIssue).toFixed(1)}x raw`;
    printMeasurements(`fleet of ${AGENTS} robots (real agent code), ${WORKERS} worker processes, one controller`, [
      ['provisioning rate (ProvisioningService, keystores on tmpfs)', `${formatRate(AGENTS / (provisionMs / 1000))} (${AGENTS} in ${ms(provisionMs)})`],
      ['links connected (controller + broker), ramped', `${ms(connectMs)} for all`],
      ['fleetctl start-up: spawn -> controller issuedAt', ms(issuedAt - lockdown.startedAt)],
      ['RAW fan-out (baseline): issuedAt -> last raw subscriber', `${ms(rawFromIssue)} (${ms(rawMs)} from fleetctl spawn; ${raw.detail['payloadBytes'] ?? 0} B, retained QoS 1)`],
      ['lockdown: issuedAt -> last robot locked', `${ms(locked.last - issuedAt)} (${ratio(locked.last - issuedAt)}; ${ms(lockedMs)} from fleetctl spawn)`],
      ['lockdown: issuedAt -> last ack held by the controller', `${ms(ackedFromIssue)} (${ratio(ackedFromIssue)}; ${ms(ackedMs)} from fleetctl spawn)`],
      ['lockdown: first robot locked / acked (from issuedAt)', `${ms(locked.first - issuedAt)} / ${ms(acked.first - issuedAt)}`],
      ['longest stall: controller /healthz, worker event loop (lockdown)', `${ms(lockdownStall)}, ${ms(acked.detail['loopMaxMs'] ?? 0)}`],
      ['longest stall: controller /healthz, worker event loop (raw)', `${ms(rawStall)}, ${ms(raw.detail['loopMaxMs'] ?? 0)}`],
      ['lockdown status -o json: confirmed', `${confirmed}/${AGENTS}`],
      [`target: N=${LOCKDOWN_TARGET_AGENTS} lockdown fully acknowledged within ${LOCKDOWN_TARGET_MS / 1000} s`, target],
      ['rotation: fleetctl rotate spawn -> last robot holds epoch 2 (pending)', ms(held.last - rotate.startedAt)],
      ['rotation: fleetctl rotate spawn -> last robot acked it', ms(rotationAcked.last - rotate.startedAt)],
      ['rotation: fleetctl rotate spawn -> last robot with epoch 2 active', `${ms(rotationMs)} (activation waits for the scheduler tick, 15 s default)`],
      ['agent warnings / errors logged', `${warnings} / ${errors}`],
    ]);
    const samples = [...new Set(closed.flatMap((c) => c.samples))];
    if (samples.length > 0) console.log(`\nfirst agent log lines at warn/error:\n  ${samples.join('\n  ')}`);
  } finally {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    if (controller !== undefined && controller.exitCode === null) {
      const exited = once(controller, 'exit');
      controller.kill('SIGTERM');
      await exited;
    }
    await rm(parent, { recursive: true, force: true });
  }
}

await main();
