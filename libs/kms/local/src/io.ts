/**
 * The file-system seam of the local provider. Everything the provider does to disk goes through
 * one `LocalKmsIo`, so a test can hand it an io layer that fails the way disks fail (EIO, ENOSPC,
 * EAGAIN) or runs slowly, instead of pretending the local file is a network service.
 *
 * Trust boundary: paths come from configuration; nothing here interprets file contents. Reads use
 * O_NOFOLLOW so a symlink planted at the key-file path is refused (ELOOP), not followed.
 */
import { constants as fsConstants, promises as fsp, type Stats } from 'node:fs';

/** What the provider needs to know about a file to tell whether it changed. */
export interface FileIdentity {
  readonly ino: number;
  readonly dev: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly mode: number;
  readonly isFile: boolean;
}

export interface ReadResult {
  readonly data: Uint8Array;
  /** The identity of the file that was read (fstat of the open handle, not a second lookup). */
  readonly identity: FileIdentity;
}

export interface LocalKmsIo {
  /** lstat; rejects with the errno error (ENOENT, EIO, …). */
  stat(path: string): Promise<FileIdentity>;
  /**
   * Reads a whole regular file of at most `maxBytes` (O_NOFOLLOW).
   * @throws an errno error; RangeError (code `EFBIG`) when the file is larger than `maxBytes`.
   */
  readFile(path: string, maxBytes: number): Promise<ReadResult>;
  /** Creates `path` with O_CREAT|O_EXCL and `mode`, writes `data`, fsyncs and closes it. */
  writeExclusive(path: string, data: Uint8Array, mode: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Removes `path`; a missing file is not an error. */
  unlink(path: string): Promise<void>;
  /** fsync of a directory so a create / rename in it is durable. */
  syncDirectory(path: string): Promise<void>;
}

function identityOf(stat: Stats): FileIdentity {
  return { ino: stat.ino, dev: stat.dev, size: stat.size, mtimeMs: stat.mtimeMs, mode: stat.mode, isFile: stat.isFile() };
}

function errnoError(code: string, message: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(message);
  error.code = code;
  return error;
}

/** The real file system (node:fs/promises). */
export const nodeIo: LocalKmsIo = Object.freeze({
  async stat(path: string): Promise<FileIdentity> {
    return identityOf(await fsp.lstat(path));
  },

  async readFile(path: string, maxBytes: number): Promise<ReadResult> {
    const handle = await fsp.open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw errnoError('EINVAL', 'not a regular file');
      if (stat.size > maxBytes) throw errnoError('EFBIG', `file larger than ${maxBytes} bytes`);
      const data = new Uint8Array(stat.size);
      let offset = 0;
      while (offset < data.length) {
        const { bytesRead } = await handle.read(data, offset, data.length - offset, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
      }
      // A file that shrank under us is a torn read; the caller's parser refuses the short buffer.
      return { data: offset === data.length ? data : data.subarray(0, offset), identity: identityOf(stat) };
    } finally {
      await handle.close();
    }
  },

  async writeExclusive(path: string, data: Uint8Array, mode: number): Promise<void> {
    const handle = await fsp.open(path, 'wx', mode);
    try {
      // The umask can only clear bits; be explicit so the file is `mode` whatever the umask was.
      await handle.chmod(mode);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  },

  async rename(from: string, to: string): Promise<void> {
    await fsp.rename(from, to);
  },

  async unlink(path: string): Promise<void> {
    await fsp.rm(path, { force: true });
  },

  async syncDirectory(path: string): Promise<void> {
    let handle: fsp.FileHandle | undefined;
    try {
      handle = await fsp.open(path, 'r');
      await handle.sync();
    } catch (error) {
      // Some filesystems refuse fsync on a directory (EINVAL/EISDIR); the rename is still atomic.
      const code = (error as { code?: unknown }).code;
      if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw error;
    } finally {
      await handle?.close();
    }
  },
});
