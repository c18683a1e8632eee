/**
 * Start-up time and idle memory of the real `edge-agent serve` binary, next to a baseline measured
 * in the same run: the same launcher (Node + tsx registering a TypeScript entry point) for an
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

const AGENT_BIN = new URL('../bin/edge-agent.mjs', import.meta.url).pathname;
const BASELINE_BIN = new URL('./fixtures/idle-bin.mjs', import.meta.url).pathname;
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
  try {
    const fleet = await TestFleet.create({ fleet: 'bench' });
    const robot = await fleet.provision(DEVICE_ID, join(dir, 'robot'));
    const socketPath = join(dir, 'agent.sock');
    const agentArgs = ['serve', '--data-dir', robot.dataDir, '--socket', socketPath, '--peer-listen', '127.0.0.1:0'];

    const agentMs: number[] = [];
    const baselineMs: number[] = [];
    const exitCodes: (number | null)[] = [];
    let idle: { agent: Started; baseline: Started } | undefined;
    for (let round = 0; round < STARTS; round++) {
      const last = round === STARTS - 1;
      // Alternate which starts first, so drift in the machine's load hits both alike.
      const order = round % 2 === 0 ? (['agent', 'baseline'] as const) : (['baseline', 'agent'] as const);
      const started: Partial<Record<'agent' | 'baseline', Started>> = {};
      for (const which of order) {
        const launched = which === 'agent' ? await start(AGENT_BIN, agentArgs) : await start(BASELINE_BIN, []);
        running.push(launched.child);
        started[which] = launched;
        (which === 'agent' ? agentMs : baselineMs).push(launched.readyMs);
        if (!last) {
          if (which === 'agent') await assertServes(socketPath);
          const code = await stop(launched.child);
          if (which === 'agent') exitCodes.push(code);
        }
      }
      if (last) idle = { agent: started.agent!, baseline: started.baseline! };
    }

    // The last start of each stays up: both idle side by side, then their memory is read.
    await assertServes(socketPath);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const agentRss = await procStatusMb(idle!.agent.child.pid!, 'VmRSS');
    const agentPeak = await procStatusMb(idle!.agent.child.pid!, 'VmHWM');
    const baselineRss = await procStatusMb(idle!.baseline.child.pid!, 'VmRSS');
    exitCodes.push(await stop(idle!.agent.child));
    await stop(idle!.baseline.child);
    const cleanExits = exitCodes.every((code) => code === 0);

    printMeasurements(`edge-agent serve start-up (spawn -> ready line, ${STARTS} starts each, interleaved; no controller reachable)`, [
      ['agent: start-up p50 / max', `${percentile(agentMs, 50).toFixed(0)} ms / ${Math.max(...agentMs).toFixed(0)} ms`],
      ['baseline: Node + tsx, trivial entry point, p50 / max', `${percentile(baselineMs, 50).toFixed(0)} ms / ${Math.max(...baselineMs).toFixed(0)} ms`],
      ['agent start-up beyond the baseline (p50)', `${(percentile(agentMs, 50) - percentile(baselineMs, 50)).toFixed(0)} ms`],
    ]);
    printMeasurements(`idle resident memory after ${IDLE_MS / 1000} s (VmRSS)`, [
      [`agent (target < ${RSS_TARGET_MB} MB)`, `${agentRss.toFixed(1)} MB ${agentRss < RSS_TARGET_MB ? 'met' : 'MISSED'}`],
      ['agent peak so far (VmHWM)', `${agentPeak.toFixed(1)} MB`],
      ['baseline: Node + tsx, trivial entry point', `${baselineRss.toFixed(1)} MB`],
      ['agent exit code on SIGTERM', `${exitCodes.map(String).join(', ')} ${cleanExits ? '(all 0: ok)' : 'FAILED (expected 0)'}`],
    ]);
    // A non-zero exit on SIGTERM is a bug, not noise: that one fails the run.
    if (!cleanExits) {
      console.error(idle!.agent.stderr().slice(-2000));
      process.exitCode = 1;
    }
  } finally {
    for (const child of running) await stop(child);
    await rm(dir, { recursive: true, force: true });
  }
}

await benchmark();
