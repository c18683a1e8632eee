/**
 * The `file` protector: the store key is 32 random bytes in a key file of its own, mode 0600,
 * made when the store is created. Suits a robot whose disk is protected by other means (a
 * read-only root, full-disk encryption, a TPM-sealed partition) and that must start unattended.
 *
 * Trust boundary: the key file path comes from configuration; its contents and permissions are
 * checked on every unlock. A key file that group or others may access, or that is a symlink, is
 * refused before it is read (the same stance as OpenSSH with private key files).
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { STORE_KEY_LENGTH } from '../constants.js';
import { KeyFileInsecure, StoreCorrupt, StoreExists, StoreKeyInvalid, StoreNotFound } from '../errors.js';
import { fsyncDirectory } from '../fs-durable.js';
import type { ProtectorDescriptor, StoreKeyProtector } from './types.js';

export const FILE_PROTECTOR_KIND = 'file';
/** Permission bits a key file must not have: any access by group or others. */
export const KEY_FILE_FORBIDDEN_MODE = 0o077;
export const KEY_FILE_MODE = 0o600;

export interface FileProtectorOptions {
  /** Path of the key file. `create` makes it (and refuses if it exists); `unlock` reads it. */
  readonly keyFile: string;
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? ((error as { code?: unknown }).code as string | undefined) : undefined;
}

class FileProtector implements StoreKeyProtector {
  readonly kind = FILE_PROTECTOR_KIND;
  readonly #keyFile: string;

  constructor(options: FileProtectorOptions) {
    if (typeof options?.keyFile !== 'string' || options.keyFile.length === 0) {
      throw new TypeError('"keyFile" expected a non-empty path');
    }
    this.#keyFile = path.resolve(options.keyFile);
  }

  async create(): Promise<{ storeKey: Uint8Array; descriptor: ProtectorDescriptor }> {
    const storeKey = new Uint8Array(randomBytes(STORE_KEY_LENGTH));
    try {
      const descriptor = await this.protect(storeKey);
      return { storeKey, descriptor };
    } catch (error) {
      storeKey.fill(0);
      throw error;
    }
  }

  /** @throws StoreExists when the key file already exists (it is never overwritten). */
  async protect(storeKey: Uint8Array): Promise<ProtectorDescriptor> {
    if (!(storeKey instanceof Uint8Array) || storeKey.length !== STORE_KEY_LENGTH) {
      throw new RangeError(`"storeKey" expected ${STORE_KEY_LENGTH} bytes`);
    }
    let handle: fsp.FileHandle;
    try {
      // Precondition: create refuses an existing key file. 'wx' is O_CREAT|O_EXCL, which also
      // refuses a dangling symlink planted at the path.
      handle = await fsp.open(this.#keyFile, 'wx', KEY_FILE_MODE);
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') throw new StoreExists(`key file ${this.#keyFile} already exists; refusing to overwrite it`);
      throw error;
    }
    try {
      // The umask can only clear bits, but be explicit: the file is 0600 whatever the umask was.
      await handle.chmod(KEY_FILE_MODE);
      await handle.writeFile(storeKey);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsyncDirectory(path.dirname(this.#keyFile));
    return { kind: FILE_PROTECTOR_KIND };
  }

  /**
   * @throws KeyFileInsecure (group/others may access the file, or it is not a regular file) |
   * StoreNotFound (no key file) | StoreKeyInvalid (wrong length) | StoreCorrupt (descriptor).
   */
  async unlock(descriptor: ProtectorDescriptor): Promise<Uint8Array> {
    if (descriptor?.kind !== FILE_PROTECTOR_KIND) throw new StoreCorrupt('keystore sidecar: not a file protector descriptor');
    let handle: fsp.FileHandle;
    try {
      // O_NOFOLLOW: a symlink swapped in for the key file is refused, not followed.
      handle = await fsp.open(this.#keyFile, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT') throw new StoreNotFound(`key file ${this.#keyFile} not found`);
      if (code === 'ELOOP') throw new KeyFileInsecure(`key file ${this.#keyFile} is a symlink; refusing to follow it`);
      throw error;
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new KeyFileInsecure(`key file ${this.#keyFile} is not a regular file`);
      // Precondition: a key file readable by group or others is refused before it is read.
      if ((stat.mode & KEY_FILE_FORBIDDEN_MODE) !== 0) {
        const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
        throw new KeyFileInsecure(
          `key file ${this.#keyFile} has mode ${mode}: group/others may access it; run chmod 600 on it`,
        );
      }
      if (stat.size !== STORE_KEY_LENGTH) throw new StoreKeyInvalid();
      const storeKey = new Uint8Array(STORE_KEY_LENGTH);
      const { bytesRead } = await handle.read(storeKey, 0, STORE_KEY_LENGTH, 0);
      if (bytesRead !== STORE_KEY_LENGTH) {
        storeKey.fill(0);
        throw new StoreKeyInvalid();
      }
      return storeKey;
    } finally {
      await handle.close();
    }
  }
}

/** A protector keeping the store key in a 0600 key file. @throws TypeError without a path. */
export function fileProtector(options: FileProtectorOptions): StoreKeyProtector {
  return new FileProtector(options);
}
