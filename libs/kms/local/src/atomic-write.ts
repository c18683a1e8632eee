/**
 * Durable replacement of the key file: write a temp file next to it (O_EXCL, 0600), fsync it,
 * rename it over the target, fsync the directory. After `writeFileAtomic` resolves, a crash
 * leaves either the old or the new key file, never a torn one (POSIX rename(2) is atomic; the
 * directory fsync makes the rename itself durable).
 *
 * Trust boundary: paths come from configuration; the bytes written are already sealed.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { LocalKmsIo } from './io.js';

/** Atomically replaces (or creates) `target` with `data`, mode `mode`. Rejects with the errno error. */
export async function writeFileAtomic(io: LocalKmsIo, target: string, data: Uint8Array, mode: number): Promise<void> {
  const directory = path.dirname(target);
  const temp = path.join(directory, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await io.writeExclusive(temp, data, mode);
    await io.rename(temp, target);
  } catch (error) {
    // Best effort: a temp file left behind by a failed write holds only sealed bytes anyway.
    await io.unlink(temp).catch(() => undefined);
    throw error;
  }
  await io.syncDirectory(directory);
}
