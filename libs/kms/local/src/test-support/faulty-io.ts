/**
 * Test support: the local provider's honest fault seam. The local provider has no network, so its
 * faults are disk faults: every io call first asks the emulators' shared `FaultInjector` what happens, and then either
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
import type { FaultInjector } from '@fleetkey/kms-emulators';
import type { LocalKmsIo } from '../io.js';

function errno(code: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`injected ${code}`);
  error.code = code;
  return error;
}

/** An io layer over `base` that consults `faults` before every call. */
export function faultyIo(base: LocalKmsIo, faults: FaultInjector): LocalKmsIo {
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
