/**
 * Test support for the link's component tests: a robot provisioned by TestFleet into a real
 * keystore in a temp dir, its AgentCore on a manual clock, and a logger that keeps every line.
 *
 * Not for production: test code only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentCore, type AgentLogger } from '../runtime/agent-core.js';
import { AgentState, agentPaths, agentProtector } from '../state/index.js';
import type { TestFleet, TestRobot } from '../testing/test-fleet.js';

export interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly object: Record<string, unknown>;
  readonly message: string;
}

export interface RecordingLogger extends AgentLogger {
  readonly lines: LogLine[];
  /** Resolves at the first line (already written or to come) matching `predicate`. */
  waitFor(predicate: (line: LogLine) => boolean): Promise<LogLine>;
}

export function recordingLogger(): RecordingLogger {
  const lines: LogLine[] = [];
  const waiters: { predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  const write = (level: LogLine['level']) => (object: object, message: string) => {
    const line = { level, object: object as Record<string, unknown>, message };
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  return {
    lines,
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    waitFor(predicate) {
      const found = lines.find(predicate);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
  };
}

export interface ManualClock {
  (): number;
  set(ms: number): void;
  advance(ms: number): void;
}

export function manualClock(start: number): ManualClock {
  let now = start;
  const clock = (() => now) as ManualClock;
  clock.set = (ms) => {
    now = ms;
  };
  clock.advance = (ms) => {
    now += ms;
  };
  return clock;
}

export interface TestAgent {
  readonly robot: TestRobot;
  readonly dataDir: string;
  core: AgentCore;
  state: AgentState;
  readonly clock: ManualClock;
  readonly logger: RecordingLogger;
  /** Closes the keystore and opens it again with a new core (a restart). */
  reopen(): Promise<void>;
  close(): void;
}

/** A fresh temp dir; removed by the returned cleanup. */
export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Provisions `deviceId` of `fleet` into `parent/deviceId` and opens its core. */
export async function provisionAgent(fleet: TestFleet, parent: string, deviceId: string, options: { group?: string; now?: number } = {}): Promise<TestAgent> {
  const dataDir = join(parent, deviceId);
  const robot = await fleet.provision(deviceId, dataDir, options.group === undefined ? {} : { group: options.group });
  const clock = manualClock(options.now ?? Date.now());
  const logger = recordingLogger();
  const open = async (): Promise<{ state: AgentState; core: AgentCore }> => {
    const paths = agentPaths(dataDir);
    const state = await AgentState.open(paths.keystore, agentProtector(paths));
    return { state, core: new AgentCore(state, { clock, logger }) };
  };
  const first = await open();
  const agent: TestAgent = {
    robot,
    dataDir,
    core: first.core,
    state: first.state,
    clock,
    logger,
    async reopen() {
      agent.state.close();
      const next = await open();
      agent.state = next.state;
      agent.core = next.core;
    },
    close() {
      agent.state.close();
    },
  };
  return agent;
}
