/**
 * Start-up time and idle memory of the real `edge-agent serve`, in its two forms — the production
 * bundle (scripts/build.mjs, built into the temp dir for the run, plain Node) and the development
 * launcher (bin/edge-agent.mjs, tsx) — each next to a baseline measured in the same run: plain
 * Node printing a ready line (bench/fixtures/idle-plain.mjs), and the same tsx launcher for an
 * entry point that only prints a ready line (bench/fixtures/idle-bin.mjs).
 *
 * The robot is provisioned by a TestFleet into a temp dir; its keystore names an unreachable
 * controller (127.0.0.1:1), so the agent starts from its keystore alone, as it must when the
 * network is down. Start-up is spawn -> ready line on stdout, over several interleaved starts;
 * each start is checked to serve GetStatus (not timed) and to exit 0 on SIGTERM. Memory is VmRSS
 * from /proc/<pid>/status after ~5 s idle (target: under 100 MB).
 *
 * Trust boundary: none; throwaway keys in a temp directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { percentile, printMeasurements } from '@fleetkey/bench';
import { AgentService, closeClient, createClient } from '@fleetkey/protocol';
import { credentials } from '@grpc/grpc-js';
import { TestFleet } from '../src/testing/test-fleet.js';

type Variant = 'bundle' | 'plain' | 'agent' | 'baseline';
const VARIANTS: readonly Variant[] = ['bundle', 'plain', 'agent', 'baseline'];

const AGENT_BIN = new URL('../bin/edge-agent.mjs', import.meta.url).pathname;
const BASELINE_BIN = new URL('./fixtures/idle-bin.mjs', import.meta.url).pathname;
const PLAIN_BASELINE_BIN = new URL('./fixtures/idle-plain.mjs', import.meta.url).pathname;
const BUILD_SCRIPT = new URL('../scripts/build.mjs', import.meta.url).href;
const STARTS = 5;
const IDLE_MS = 5_000;
const RSS_TARGET_MB = 100;
const DEVICE_ID = 'robot-idle';

interface Started {
  readonly child: ChildProcess;
  readonly readyMs: number;
  readonly ready: Record<string, unknown>;
  readonly stderr: () => string;
}

/** Spawns `node script ...args` and resolves once it printed its first stdout line. */
async function start(script: string, args: readonly string[]): Promise<Started> {
  let stderr = '';
  const started = performance.now();
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.on('data', (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-20_000)));
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => [undefined])])) as [string | undefined];
  const readyMs = performance.now() - started;
  if (line === undefined) throw new Error(`${script} exited before it was ready: ${stderr.slice(-2000)}`);
  const ready = JSON.parse(line) as Record<string, unknown>;
  if (ready.event !== 'ready') throw new Error(`${script} printed ${line} instead of a ready line`);
  return { child, readyMs, ready, stderr: () => stderr };
}

/** SIGTERM; resolves the exit code (null when a signal ended it). */
async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  return code;
}

/** A figure of /proc/<pid>/status in MB (VmRSS: resident now; VmHWM: the peak so far). */
async function procStatusMb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

async function assertServes(socketPath: string): Promise<void> {
  const client = createClient(AgentService, `unix://${socketPath}`, credentials.createInsecure());
  try {
    const status = await client.getStatus({}, { timeoutMs: 10_000 });
    if (!status.provisioned || status.deviceId !== DEVICE_ID) throw new Error(`GetStatus answered ${JSON.stringify({ provisioned: status.provisioned, deviceId: status.deviceId })}`);
  } finally {
    closeClient(client);
  }
}

async function benchmark(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'fk-bench-start-'));
  const running: ChildProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const fleet = await TestFleet.create({ fleet: 'bench' });
    const robot = await fleet.provision(DEVICE_ID, join(dir, 'robot'));
    const socketPath = join(dir, 'agent.sock');
    const agentArgs = ['serve', '--data-dir', robot.dataDir, '--socket', socketPath, '--peer-listen', '127.0.0.1:0'];

    const { buildAgentBundle } = (await import(BUILD_SCRIPT)) as { buildAgentBundle: (outfile: string) => Promise<string> };
    // Inside the package, so the bundle finds the SQLite addon in node_modules as a deployment would.
    const bundle = await buildAgentBundle(new URL(`../dist/edge-agent.bench-${process.pid}.mjs`, import.meta.url).pathname);
    cleanups.push(() => rm(bundle, { force: true }));
    const scripts: Record<Variant, { script: string; args: readonly string[]; socket?: string }> = {
      bundle: { script: bundle, args: [...agentArgs.slice(0, 4), join(dir, 'bundle.sock'), ...agentArgs.slice(5)], socket: join(dir, 'bundle.sock') },
      plain: { script: PLAIN_BASELINE_BIN, args: [] },
      agent: { script: AGENT_BIN, args: agentArgs, socket: socketPath },
      baseline: { script: BASELINE_BIN, args: [] },
    };
    const readyMs: Record<Variant, number[]> = { bundle: [], plain: [], agent: [], baseline: [] };
    const exitCodes: (number | null)[] = [];
    const idle: Partial<Record<Variant, Started>> = {};
    for (let round = 0; round < STARTS; round++) {
      const last = round === STARTS - 1;
      // Rotate which starts first, so drift in the machine's load hits every variant alike.
      const order = VARIANTS.map((_, index) => VARIANTS[(index + round) % VARIANTS.length]!);
      for (const which of order) {
        const { script, args, socket } = scripts[which];
        const launched = await start(script, args);
        running.push(launched.child);
        readyMs[which].push(launched.readyMs);
        if (socket !== undefined) await assertServes(socket);
        if (last) idle[which] = launched;
        else {
          const code = await stop(launched.child);
          if (socket !== undefined) exitCodes.push(code);
        }
      }
    }

    // The last start of each stays up: all idle side by side, then their memory is read.
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const rss = {} as Record<Variant, number>;
    for (const which of VARIANTS) rss[which] = await procStatusMb(idle[which]!.child.pid!, 'VmRSS');
    const bundlePeak = await procStatusMb(idle.bundle!.child.pid!, 'VmHWM');
    for (const which of VARIANTS) {
      const code = await stop(idle[which]!.child);
      if (scripts[which].socket !== undefined) exitCodes.push(code);
    }
    const cleanExits = exitCodes.every((code) => code === 0);
    const p50 = (which: Variant): string => `${percentile(readyMs[which], 50).toFixed(0)} ms / ${Math.max(...readyMs[which]).toFixed(0)} ms`;

    printMeasurements(`edge-agent serve start-up (spawn -> ready line, ${STARTS} starts each, interleaved; no controller reachable)`, [
      ['agent, production bundle (node dist/edge-agent.mjs): p50 / max', p50('bundle')],
      ['baseline: plain Node printing a ready line: p50 / max', p50('plain')],
      ['agent, development launcher (tsx): p50 / max', p50('agent')],
      ['baseline: Node + tsx, trivial entry point: p50 / max', p50('baseline')],
      ['bundle start-up beyond plain Node (p50)', `${(percentile(readyMs.bundle, 50) - percentile(readyMs.plain, 50)).toFixed(0)} ms`],
    ]);
    printMeasurements(`idle resident memory after ${IDLE_MS / 1000} s (VmRSS)`, [
      [`agent, production bundle (target < ${RSS_TARGET_MB} MB)`, `${rss.bundle.toFixed(1)} MB ${rss.bundle < RSS_TARGET_MB ? 'met' : 'MISSED'}`],
      ['agent, production bundle, peak so far (VmHWM)', `${bundlePeak.toFixed(1)} MB`],
      ['baseline: plain Node', `${rss.plain.toFixed(1)} MB`],
      ['agent, development launcher (tsx)', `${rss.agent.toFixed(1)} MB`],
      ['baseline: Node + tsx, trivial entry point', `${rss.baseline.toFixed(1)} MB`],
      ['agent exit code on SIGTERM (both forms)', `${exitCodes.map(String).join(', ')} ${cleanExits ? '(all 0: ok)' : 'FAILED (expected 0)'}`],
    ]);
    // A non-zero exit on SIGTERM is a bug, not noise: that one fails the run.
    if (!cleanExits) {
      console.error((idle.bundle ?? idle.agent)?.stderr().slice(-2000));
      process.exitCode = 1;
    }
  } finally {
    for (const child of running) await stop(child);
    for (const cleanup of cleanups) await cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

await benchmark();
