/**
 * The writer lock: `<keyfile>.lock`, created with O_CREAT|O_EXCL, holding the owner's pid and a
 * random token. Two processes (the agent and a CLI, say) can therefore never interleave their
 * read-modify-write of the key file; a reader needs no lock because writes are atomic renames.
 *
 * A lock whose pid is no longer alive is stale (its writer crashed) and is broken: renamed away
 * (only one contender can rename a given file), checked to be the very lock judged stale, and
 * removed. If the renamed file turns out to be a fresh lock taken in between, it is linked back
 * (link(2) is exclusive) so its owner keeps it.
 *
 * Trust boundary: the lock file is read back from disk; only a bounded, strictly parsed pid and
 * token are taken from it. A lock still held when the timeout passes is ProviderUnavailable.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { DEFAULT_LOCK_TIMEOUT_MS, KEYFILE_MODE, LOCK_POLL_MS, LOCK_SUFFIX, MAX_LOCK_FILE_BYTES } from './constants.js';
import type { LocalKmsIo } from './io.js';

export interface LockOptions {
  readonly timeoutMs?: number;
  /** Whether the process `pid` is alive; defaults to `process.kill(pid, 0)`. */
  readonly isProcessAlive?: (pid: number) => boolean;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The lock could not be taken within the timeout; `holderPid` is the pid recorded in it, if any. */
export class LockTimeout extends Error {
  constructor(readonly holderPid: number | undefined) {
    super('local key file is locked by another writer');
  }
}

const LOCK_LINE = /^fleetkey-local-kms-lock v1 pid=([1-9][0-9]{0,9}) token=([0-9a-f]{32})\n$/;

export function defaultIsProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else, so it is alive.
    return (error as { code?: unknown }).code === 'EPERM';
  }
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? ((error as { code?: unknown }).code as string | undefined) : undefined;
}

function parseLock(data: Uint8Array): { pid: number; token: string } | undefined {
  const match = LOCK_LINE.exec(Buffer.from(data).toString('latin1'));
  return match ? { pid: Number(match[1]), token: match[2]! } : undefined;
}

async function readLock(io: LocalKmsIo, lockPath: string): Promise<{ pid: number; token: string } | undefined | 'missing'> {
  try {
    return parseLock((await io.readFile(lockPath, MAX_LOCK_FILE_BYTES)).data);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return 'missing';
    // A lock we cannot read (too large, not a file) is treated as held and unparseable.
    if (errnoCode(error) === 'EFBIG' || errnoCode(error) === 'EINVAL' || errnoCode(error) === 'ELOOP') return undefined;
    throw error;
  }
}

/**
 * Breaks the lock at `lockPath` if it is still the stale lock `stale`. Resolves whether it did.
 * Uses node:fs directly for link(2): the io seam has no link, and this path only runs on recovery.
 */
async function breakStaleLock(io: LocalKmsIo, lockPath: string, stale: { pid: number; token: string }): Promise<boolean> {
  const aside = `${lockPath}.stale-${randomBytes(6).toString('hex')}`;
  try {
    await io.rename(lockPath, aside);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false; // someone else broke it first
    throw error;
  }
  const moved = parseLock((await io.readFile(aside, MAX_LOCK_FILE_BYTES)).data);
  if (moved && moved.token === stale.token) {
    await io.unlink(aside);
    return true;
  }
  // We moved a fresh lock taken after we judged the old one stale: give it back to its owner.
  await fsp.link(aside, lockPath).catch(() => undefined);
  await io.unlink(aside);
  return false;
}

/**
 * Takes the writer lock of `keyFilePath`; resolves with the function that releases it.
 * @throws LockTimeout when another live writer holds it past `timeoutMs`; errno errors from io.
 */
export async function acquireWriterLock(io: LocalKmsIo, keyFilePath: string, options: LockOptions = {}): Promise<() => Promise<void>> {
  const lockPath = keyFilePath + LOCK_SUFFIX;
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const isAlive = options.isProcessAlive ?? defaultIsProcessAlive;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const token = randomBytes(16).toString('hex');
  const content = Buffer.from(`fleetkey-local-kms-lock v1 pid=${process.pid} token=${token}\n`, 'latin1');
  const deadline = now() + timeoutMs;
  let holderPid: number | undefined;
  for (;;) {
    try {
      await io.writeExclusive(lockPath, content, KEYFILE_MODE);
      return async () => {
        // Release only our own lock: if it was broken and retaken meanwhile, leave it alone.
        const current = await readLock(io, lockPath);
        if (current !== 'missing' && current?.token === token) await io.unlink(lockPath);
      };
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
    }
    const held = await readLock(io, lockPath);
    if (held === 'missing') continue;
    holderPid = held?.pid;
    if (held && !isAlive(held.pid) && (await breakStaleLock(io, lockPath, held))) continue;
    if (now() >= deadline) throw new LockTimeout(holderPid);
    await sleep(LOCK_POLL_MS);
  }
}
