/**
 * Replaces a file so a reader sees the old contents or the new, never a mix: written to a hidden
 * temporary file beside it with the final mode, synced, then renamed over it. Shared by the
 * commands that rewrite files of a data directory or an output directory (tls-renew,
 * mqtt-credentials).
 *
 * Trust boundary: paths are the operator's; `wx` refuses to follow a planted temporary file.
 */
import { randomBytes } from 'node:crypto';
import { open, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function replaceFile(path: string, contents: string | Uint8Array, mode: number): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx', mode);
  try {
    await handle.writeFile(contents);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
}
