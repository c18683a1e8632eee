/**
 * Test support: the local provider's honest fault seam. The local provider has no network, so its
 * faults are disk faults: every io call first asks a `DiskFaults` what happens, and then either
 * runs on the real file system or fails the way a disk fails —
 *   throttle -> EAGAIN (the OS says "try again"; mapped to Throttled),
 *   error    -> ENOSPC on writes, EIO on reads (mapped to ProviderUnavailable),
 *   outage   -> EIO on everything (the disk is gone; ProviderUnavailable),
 * after the injected latency. `requests` counts io calls, so a cache hit above the provider (no
 * provider call) leaves it unchanged. It matches the conformance suite's `faults` hook.
 * Not exported from the package index.
 *
 * Trust boundary: test-only.
 */
import type { LocalKmsIo } from '../io.js';

export interface DiskFaultSpec {
  readonly outage?: boolean;
  readonly throttleRate?: number;
  readonly errorRate?: number;
  readonly latencyMs?: number;
}

type Decision = 'ok' | 'throttle' | 'error' | 'outage';

export class DiskFaults {
  #spec: DiskFaultSpec = {};
  #requests = 0;
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  set(spec: DiskFaultSpec): void {
    for (const name of ['throttleRate', 'errorRate'] as const) {
      const rate = spec[name];
      if (rate !== undefined && !(rate >= 0 && rate <= 1)) throw new RangeError(`"${name}" expected 0..1, got ${rate}`);
    }
    this.#spec = { ...spec };
  }

  reset(): void {
    this.#spec = {};
  }

  get requests(): number {
    return this.#requests;
  }

  async next(): Promise<Decision> {
    this.#requests += 1;
    const { latencyMs = 0, throttleRate = 0, errorRate = 0, outage = false } = this.#spec;
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    if (outage) return 'outage';
    const roll = this.#random();
    if (roll < throttleRate) return 'throttle';
    if (roll < throttleRate + errorRate) return 'error';
    return 'ok';
  }
}

function errno(code: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`injected ${code}`);
  error.code = code;
  return error;
}

/** An io layer over `base` that consults `faults` before every call. */
export function faultyIo(base: LocalKmsIo, faults: DiskFaults): LocalKmsIo {
  async function gate(kind: 'read' | 'write'): Promise<void> {
    const decision = await faults.next();
    if (decision === 'throttle') throw errno('EAGAIN');
    if (decision === 'outage') throw errno('EIO');
    if (decision === 'error') throw errno(kind === 'write' ? 'ENOSPC' : 'EIO');
  }
  return {
    stat: async (path) => (await gate('read'), base.stat(path)),
    readFile: async (path, maxBytes) => (await gate('read'), base.readFile(path, maxBytes)),
    writeExclusive: async (path, data, mode) => (await gate('write'), base.writeExclusive(path, data, mode)),
    rename: async (from, to) => (await gate('write'), base.rename(from, to)),
    unlink: async (path) => (await gate('write'), base.unlink(path)),
    syncDirectory: async (path) => (await gate('write'), base.syncDirectory(path)),
  };
}
