/**
 * The files of a data directory an archive carries besides the state store, read with a bound,
 * and written back (mode and place) by a restore. Paths come from ../datadir/layout.ts, never from
 * an archive: an entry name selects one of these fixed destinations, so an archive cannot write
 * anywhere else.
 *
 * Trust boundary: reads from the controller's own data directory; writes into a restore's private
 * staging directory.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CA_FILE, CONTROLLER_FILE, SERVER_CERTIFICATE_FILE, SERVER_KEY_FILE, STATE_FILE } from '../datadir/layout.js';
import type { EntryName } from './archive-format.js';

/** Where each entry lives in a data directory and with which mode (secondary.json lives nowhere). */
export const ENTRY_FILES: Readonly<Record<Exclude<EntryName, 'secondary.json'>, { readonly path: string; readonly mode: number }>> = Object.freeze({
  'controller.json': { path: CONTROLLER_FILE, mode: 0o600 },
  'ca.pem': { path: CA_FILE, mode: 0o644 },
  'tls/server.pem': { path: SERVER_CERTIFICATE_FILE, mode: 0o644 },
  'tls/server-key.env': { path: SERVER_KEY_FILE, mode: 0o600 },
  'state.db': { path: STATE_FILE, mode: 0o600 },
});

/** The KMS context of the sealed TLS server key (the one ../core/server-tls.ts seals it with). */
export const SERVER_KEY_CONTEXT: Readonly<Record<string, string>> = Object.freeze({ purpose: 'tls-server-key' });

/**
 * Reads a whole file of at most `max` bytes.
 * @throws RangeError when it is larger; the fs error when it cannot be read.
 */
export async function readBounded(path: string, max: number): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size > max) throw new RangeError(`${path} is ${size} bytes; at most ${max}`);
    const buffer = new Uint8Array(size);
    const { bytesRead } = await handle.read(buffer, 0, size, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Creates `root/relative` exclusively with `mode`, its directory 0700. */
export async function createPrivateFile(root: string, relative: string, mode: number): Promise<FileHandle> {
  const path = join(root, relative);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  return open(path, 'wx', mode);
}

/** Writes `contents` to a new file and fsyncs it. */
export async function writePrivateFile(root: string, relative: string, contents: Uint8Array | string, mode: number): Promise<void> {
  const handle = await createPrivateFile(root, relative, mode);
  try {
    await handle.writeFile(contents);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync(2) of a directory, so a rename or a new entry in it survives power loss. */
export async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
