/**
 * The disk-backed key set behind the local provider: loads the key file, notices when another
 * process replaced it (a changed inode / size / mtime), and runs every change as
 *   writer lock -> re-read the file -> change a fresh copy -> seal -> atomic rename -> unlock,
 * so two writers never lose each other's keys and a failed write (ENOSPC, EIO) leaves both the
 * file and the in-memory state as they were.
 *
 * Trust boundary: the file is read back from disk on every change and whenever it changed; it is
 * authenticated (AES-256-GCM under the scrypt-derived file key, header bound as context) before
 * the body is parsed. The file key and all material are wiped on close and whenever replaced.
 */
import { randomBytes } from 'node:crypto';
import { InvalidKmsConfig, type KmsOperation } from '@fleetkey/kms-core';
import { writeFileAtomic } from './atomic-write.js';
import {
  DEFAULT_SCRYPT_LOG2_N,
  DEFAULT_SCRYPT_P,
  DEFAULT_SCRYPT_R,
  KEYFILE_MODE,
  LOCAL_PROVIDER_NAME,
  MAX_KEYFILE_BYTES,
  SCRYPT_SALT_LENGTH,
} from './constants.js';
import { LocalKeyFileCorrupt, mapIoError } from './errors.js';
import type { FileIdentity, LocalKmsIo, ReadResult } from './io.js';
import { decodeBody, encodeBody, wipeKeys, type StoredKey } from './keyfile/body.js';
import { scryptParamsWithinBounds, type KeyFileHeader, type ScryptParams } from './keyfile/header.js';
import { deriveFileKey, openKeyFile, readKeyFileHeader, sealKeyFile } from './keyfile/seal.js';
import { acquireWriterLock, type LockOptions } from './lock.js';

export const DEFAULT_SCRYPT: ScryptParams = Object.freeze({ log2N: DEFAULT_SCRYPT_LOG2_N, r: DEFAULT_SCRYPT_R, p: DEFAULT_SCRYPT_P });

export interface KeySetOptions {
  readonly path: string;
  readonly io: LocalKmsIo;
  /** Owned by the key set from here on (wiped on close). */
  readonly passphrase: Uint8Array;
  readonly create: boolean;
  readonly scrypt: ScryptParams;
  readonly lock: LockOptions;
}

function errnoCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

function sameFile(a: FileIdentity | undefined, b: FileIdentity): boolean {
  return a !== undefined && a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

function sameSalt(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** In-process writers on the same file queue here before they take the file lock. */
const inProcessQueues = new Map<string, Promise<unknown>>();

export class KeySet {
  readonly #options: KeySetOptions;
  #fileKey: { salt: Uint8Array; scrypt: ScryptParams; key: Uint8Array } | undefined;
  #header: KeyFileHeader | undefined;
  #identity: FileIdentity | undefined;
  #keys = new Map<string, StoredKey>();
  #closed = false;

  private constructor(options: KeySetOptions) {
    this.#options = options;
  }

  /**
   * Opens (or, with `create`, makes) the key file.
   * @throws InvalidKmsConfig (no file and no `create`) | LocalKeyFileCorrupt | LocalKeyFileLocked |
   *   ProviderUnavailable / Throttled / AccessDenied (file-system errors).
   */
  static async open(options: KeySetOptions): Promise<KeySet> {
    // Precondition: a new key file is never protected by scrypt parameters weaker than log2N=15, r=8, p=1.
    if (!scryptParamsWithinBounds(options.scrypt)) {
      options.passphrase.fill(0);
      throw new RangeError('"scrypt" expected log2N 15..20, r 8..16, p 1..16');
    }
    const set = new KeySet(options);
    try {
      await set.#openOrCreate();
      return set;
    } catch (error) {
      set.close();
      throw error;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The current keys (read-only view; refresh first). */
  get keys(): ReadonlyMap<string, StoredKey> {
    return this.#keys;
  }

  async #openOrCreate(): Promise<void> {
    const { io, path } = this.#options;
    let read: ReadResult | undefined;
    try {
      read = await io.readFile(path, MAX_KEYFILE_BYTES);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw mapIoError(error, 'configure');
    }
    if (read) {
      await this.#load(read, 'configure');
      return;
    }
    if (!this.#options.create) {
      throw new InvalidKmsConfig([`local.path: ${path} does not exist; create it first (create: true, or fleetctl) or fix the path`], {
        provider: LOCAL_PROVIDER_NAME,
      });
    }
    await this.#withLock('configure', async () => {
      // Someone may have made it while we waited for the lock: then open theirs, never overwrite.
      try {
        await this.#load(await io.readFile(path, MAX_KEYFILE_BYTES), 'configure');
        return;
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error;
      }
      const header: KeyFileHeader = { scrypt: this.#options.scrypt, salt: randomBytes(SCRYPT_SALT_LENGTH), generation: 1 };
      await this.#write(header, [], 'configure');
    });
  }

  async #fileKeyFor(header: KeyFileHeader): Promise<Uint8Array> {
    const cached = this.#fileKey;
    const params = header.scrypt;
    if (cached && sameSalt(cached.salt, header.salt) && cached.scrypt.log2N === params.log2N && cached.scrypt.r === params.r && cached.scrypt.p === params.p) {
      return cached.key;
    }
    const key = await deriveFileKey(this.#options.passphrase, header.salt, params);
    cached?.key.fill(0);
    this.#fileKey = { salt: new Uint8Array(header.salt), scrypt: { ...params }, key };
    return key;
  }

  /** Parses a read file into fresh keys (owned by the caller). */
  async #parse(read: ReadResult, operation: KmsOperation): Promise<{ header: KeyFileHeader; keys: StoredKey[] }> {
    let parsed: { header: KeyFileHeader; keys: StoredKey[] };
    try {
      const header = readKeyFileHeader(read.data);
      const body = openKeyFile(read.data, await this.#fileKeyFor(header));
      try {
        parsed = { header, keys: decodeBody(body) };
      } finally {
        body.fill(0);
      }
    } catch (error) {
      throw mapIoError(error, operation);
    }
    // Precondition: a key file older than the one this process last saw is refused (rollback).
    if (this.#header !== undefined && parsed.header.generation < this.#header.generation) {
      wipeKeys(parsed.keys);
      throw new LocalKeyFileCorrupt('the key file went back to an older generation (restored or rolled back?)', { operation });
    }
    return parsed;
  }

  #install(header: KeyFileHeader, keys: StoredKey[], identity: FileIdentity): void {
    const previous = this.#keys;
    this.#keys = new Map(keys.map((k) => [k.keyId, k]));
    this.#header = header;
    this.#identity = identity;
    wipeKeys(previous.values());
  }

  async #load(read: ReadResult, operation: KmsOperation): Promise<void> {
    const { header, keys } = await this.#parse(read, operation);
    this.#install(header, keys, read.identity);
  }

  #checkOpen(operation: KmsOperation): void {
    if (this.#closed) throw new InvalidKmsConfig(['the local provider was closed'], { provider: LOCAL_PROVIDER_NAME, operation });
  }

  /**
   * Makes sure the in-memory keys are those of the file on disk (one stat when nothing changed).
   * @throws the mapped file-system errors, LocalKeyFileCorrupt, LocalKeyFileLocked.
   */
  async refresh(operation: KmsOperation, keyId?: string): Promise<void> {
    this.#checkOpen(operation);
    const { io, path } = this.#options;
    let identity: FileIdentity;
    try {
      identity = await io.stat(path);
    } catch (error) {
      throw mapIoError(error, operation, keyId);
    }
    if (sameFile(this.#identity, identity)) return;
    let read: ReadResult;
    try {
      read = await io.readFile(path, MAX_KEYFILE_BYTES);
    } catch (error) {
      throw mapIoError(error, operation, keyId);
    }
    await this.#load(read, operation);
  }

  async #withLock<T>(operation: KmsOperation, fn: () => Promise<T>, keyId?: string): Promise<T> {
    const { io, path } = this.#options;
    const previous = inProcessQueues.get(path) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(async () => {
      let release: () => Promise<void>;
      try {
        release = await acquireWriterLock(io, path, this.#options.lock);
      } catch (error) {
        throw mapIoError(error, operation, keyId);
      }
      try {
        return await fn();
      } finally {
        await release().catch(() => undefined);
      }
    });
    inProcessQueues.set(path, run);
    try {
      return await run;
    } finally {
      if (inProcessQueues.get(path) === run) inProcessQueues.delete(path);
    }
  }

  async #write(header: KeyFileHeader, keys: readonly StoredKey[], operation: KmsOperation, keyId?: string): Promise<void> {
    const { io, path } = this.#options;
    const body = encodeBody(keys);
    let file: Uint8Array;
    try {
      file = sealKeyFile(header, await this.#fileKeyFor(header), body);
    } finally {
      body.fill(0);
    }
    try {
      await writeFileAtomic(io, path, file, KEYFILE_MODE);
      const identity = await io.stat(path);
      this.#install(header, [...keys], identity);
    } catch (error) {
      throw mapIoError(error, operation, keyId);
    }
  }

  /**
   * Runs `change` on a fresh copy of the keys read from disk under the writer lock, then writes
   * the result. When `change` or the write throws, the file and the in-memory keys are unchanged.
   */
  async mutate<T>(operation: KmsOperation, keyId: string | undefined, change: (keys: Map<string, StoredKey>) => T): Promise<T> {
    this.#checkOpen(operation);
    return this.#withLock(
      operation,
      async () => {
        const { io, path } = this.#options;
        let read: ReadResult;
        try {
          read = await io.readFile(path, MAX_KEYFILE_BYTES);
        } catch (error) {
          throw mapIoError(error, operation, keyId);
        }
        const { header, keys } = await this.#parse(read, operation);
        const fresh = new Map(keys.map((k) => [k.keyId, k]));
        try {
          const result = change(fresh);
          await this.#write({ ...header, generation: header.generation + 1 }, [...fresh.values()], operation, keyId);
          return result;
        } catch (error) {
          wipeKeys(fresh.values());
          throw error;
        }
      },
      keyId,
    );
  }

  /** Wipes the passphrase, the file key and every key's material. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#options.passphrase.fill(0);
    this.#fileKey?.key.fill(0);
    this.#fileKey = undefined;
    wipeKeys(this.#keys.values());
    this.#keys = new Map();
  }
}
