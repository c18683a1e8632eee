/**
 * The data directory's life cycle: what is at the path now, and the staging directory that
 * provisioning fills and renames into place, so a failed enrollment leaves the path as it was
 * (absent, or an empty directory). The same pattern as the controller's `init`.
 *
 * Trust boundary: the path comes from the command line; a directory that holds anything but an
 * agent keystore is never written to.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DATA_DIR_MODE, KEYSTORE_FILE, type AgentPaths, agentPaths } from '../state/index.js';

export type DataDirKind = 'absent' | 'empty' | 'agent' | 'foreign';

/** What is at `paths.root`: nothing, an empty directory, an agent keystore, or something else. */
export async function inspectDataDir(paths: AgentPaths): Promise<DataDirKind> {
  let entries: string[];
  try {
    const info = await stat(paths.root);
    if (!info.isDirectory()) return 'foreign';
    entries = await readdir(paths.root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw error;
  }
  if (entries.length === 0) return 'empty';
  return entries.includes(KEYSTORE_FILE) ? 'agent' : 'foreign';
}

async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface Staging {
  readonly paths: AgentPaths;
  /** Renames the staging directory onto the target (which must be absent or empty). */
  commit(): Promise<void>;
  /** Removes the staging directory and everything in it. */
  discard(): Promise<void>;
}

/** Makes `.<name>.provision-<random>` next to the target, mode 0700. */
export async function createStaging(target: AgentPaths): Promise<Staging> {
  const parent = dirname(target.root);
  await mkdir(parent, { recursive: true });
  const root = join(parent, `.${basename(target.root)}.provision-${randomBytes(6).toString('hex')}`);
  await mkdir(root, { mode: DATA_DIR_MODE });
  return {
    paths: agentPaths(root),
    async commit() {
      await fsyncDirectory(root);
      // rename(2) replaces an empty directory atomically and fails on a non-empty one, so a
      // directory filled meanwhile by someone else is never overwritten.
      await rmdir(target.root).catch(() => undefined);
      await rename(root, target.root);
      await fsyncDirectory(parent);
    },
    async discard() {
      await rm(root, { recursive: true, force: true });
    },
  };
}
