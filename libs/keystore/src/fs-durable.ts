/**
 * Durable file writes: write a temp file, fsync it, rename it over the target, fsync the
 * directory. After `writeFileAtomic` returns, a crash leaves either the old or the new file,
 * never a torn one, and the rename itself survives power loss (POSIX rename(2) is atomic; the
 * directory fsync makes it durable).
 *
 * Trust boundary: paths come from the caller's configuration; nothing here interprets contents.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';

/** fsync a directory so a create / rename in it is durable. Best effort where unsupported. */
export async function fsyncDirectory(directory: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(directory, 'r');
    await handle.sync();
  } catch (error) {
    // Some filesystems refuse fsync on a directory (EINVAL/EISDIR); the rename is still atomic.
    const code = (error as { code?: unknown }).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw error;
  } finally {
    await handle?.close();
  }
}

/** Atomically replaces (or creates) `target` with `contents`, mode `mode`. */
export async function writeFileAtomic(target: string, contents: Uint8Array, mode: number): Promise<void> {
  const directory = path.dirname(target);
  const temp = path.join(directory, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fsp.open(temp, 'wx', mode);
  try {
    try {
      await handle.writeFile(contents);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(temp, target);
  } catch (error) {
    await fsp.rm(temp, { force: true });
    throw error;
  }
  await fsyncDirectory(directory);
}
