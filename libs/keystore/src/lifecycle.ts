/**
 * Creating and opening a keystore on disk: the database file, its sidecar and the protector.
 *
 * Create: refuse any existing file (database, -wal, -shm, -journal, sidecar); make the database
 * file empty with O_EXCL and mode 0600; let the protector make the store key; write the sidecar
 * (atomically); then initialise the encrypted schema. The sidecar is written before the database
 * holds anything, so a crash can never leave data whose key was not yet recorded. On failure the
 * files this call made are removed (a key file a protector made stays: see docs/keystore.md).
 *
 * Open: read the sidecar, check the protector kind, unlock, verify the key check in constant time
 * (a wrong key is refused before SQLite sees the file), open the database, migrate.
 *
 * Trust boundary: paths come from configuration; the sidecar and the database are untrusted input
 * until authenticated by the store key. Store keys are zeroized on every failure path.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { DEFAULT_BUSY_TIMEOUT_MS, MAX_BUSY_TIMEOUT_MS, SQLITE_CIPHER, STORE_KEY_LENGTH } from './constants.js';
import { deriveKeyCheck, keyCheckMatches } from './derive.js';
import { StoreExists, StoreKeyInvalid, StoreNotFound } from './errors.js';
import { fsyncDirectory } from './fs-durable.js';
import type { StoreKeyProtector } from './protectors/types.js';
import { readSidecar, sidecarPath, writeSidecar } from './sidecar.js';
import { migrate, type Migration, MIGRATIONS } from './sqlite/migrations.js';
import { openEncryptedDatabase, type SqliteDatabase } from './sqlite/open-database.js';

export const DATABASE_FILE_MODE = 0o600;
/** Files SQLite keeps next to the database; `create` refuses if any exists. */
export const COMPANION_SUFFIXES = ['-wal', '-shm', '-journal'] as const;

export interface OpenedStore {
  readonly db: SqliteDatabase;
  /** Owned by the store from here on; zeroized on close. */
  readonly storeKey: Uint8Array;
  readonly path: string;
}

export interface LifecycleOptions {
  readonly busyTimeoutMs?: number;
  /** Test seam: apply only these migrations (defaults to all). */
  readonly migrations?: readonly Migration[];
}

function checkProtector(protector: StoreKeyProtector): void {
  if (typeof protector !== 'object' || protector === null || typeof protector.unlock !== 'function') {
    throw new TypeError('"protector" expected a StoreKeyProtector');
  }
}

function checkPath(databasePath: string): string {
  if (typeof databasePath !== 'string' || databasePath.length === 0) throw new TypeError('"path" expected a non-empty path');
  return path.resolve(databasePath);
}

export function checkBusyTimeout(value: number | undefined): number {
  const ms = value ?? DEFAULT_BUSY_TIMEOUT_MS;
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_BUSY_TIMEOUT_MS) {
    throw new RangeError(`"busyTimeoutMs" expected 0..${MAX_BUSY_TIMEOUT_MS}`);
  }
  return ms;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.lstat(file);
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return false;
    throw error;
  }
}

/** @throws StoreExists | whatever the protector throws | StoreCorrupt. */
export async function createStoreFiles(databasePath: string, protector: StoreKeyProtector, options: LifecycleOptions): Promise<OpenedStore> {
  const file = checkPath(databasePath);
  checkProtector(protector);
  const busyTimeoutMs = checkBusyTimeout(options.busyTimeoutMs);
  // Precondition: create never touches an existing store (database, its WAL/SHM/journal, sidecar).
  for (const other of [sidecarPath(file), ...COMPANION_SUFFIXES.map((s) => file + s)]) {
    if (await exists(other)) throw new StoreExists(`${other} already exists; refusing to create a keystore over it`);
  }
  try {
    // O_EXCL closes the race with another creator; 0600 because the file is nobody else's business
    // even encrypted (SQLite gives -wal and -shm the database file's mode).
    await (await fsp.open(file, 'wx', DATABASE_FILE_MODE)).close();
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EEXIST') throw new StoreExists(`${file} already exists; refusing to create a keystore over it`);
    throw error;
  }
  let storeKey: Uint8Array | undefined;
  let sidecarWritten = false;
  try {
    await fsyncDirectory(path.dirname(file));
    const created = await protector.create();
    storeKey = created.storeKey;
    if (!(storeKey instanceof Uint8Array) || storeKey.length !== STORE_KEY_LENGTH) {
      throw new RangeError(`protector "${protector.kind}" returned a store key that is not ${STORE_KEY_LENGTH} bytes`);
    }
    const keyCheck = deriveKeyCheck(storeKey);
    await writeSidecar(file, { cipher: SQLITE_CIPHER, keyCheck, protector: created.descriptor });
    sidecarWritten = true;
    const db = openEncryptedDatabase(file, storeKey, { create: true, busyTimeoutMs });
    try {
      migrate(db, options.migrations ?? MIGRATIONS);
    } catch (error) {
      db.close();
      throw error;
    }
    return { db, storeKey, path: file };
  } catch (error) {
    storeKey?.fill(0);
    // Remove only what this call made; the paths were checked absent above.
    const made = [file, ...COMPANION_SUFFIXES.map((s) => file + s), ...(sidecarWritten ? [sidecarPath(file)] : [])];
    await Promise.all(made.map((f) => fsp.rm(f, { force: true })));
    throw error;
  }
}

/** @throws StoreNotFound | StoreCorrupt | StoreKeyInvalid | KeyFileInsecure | whatever the protector throws. */
export async function openStoreFiles(databasePath: string, protector: StoreKeyProtector, options: LifecycleOptions): Promise<OpenedStore> {
  const file = checkPath(databasePath);
  checkProtector(protector);
  const busyTimeoutMs = checkBusyTimeout(options.busyTimeoutMs);
  if (!(await exists(file))) throw new StoreNotFound(`keystore ${file} not found`);
  const sidecar = await readSidecar(file);
  // Precondition: the protector is of the kind that protected this store.
  if (sidecar.protector.kind !== protector.kind) {
    throw new StoreKeyInvalid(`keystore is protected by a "${sidecar.protector.kind}" protector, not "${protector.kind}"`);
  }
  const storeKey = await protector.unlock(sidecar.protector);
  try {
    // Precondition: the unlocked key matches the sidecar's key check before SQLite sees the file.
    if (!(storeKey instanceof Uint8Array) || storeKey.length !== STORE_KEY_LENGTH || !keyCheckMatches(storeKey, sidecar.keyCheck)) {
      throw new StoreKeyInvalid();
    }
    const db = openEncryptedDatabase(file, storeKey, { create: false, busyTimeoutMs });
    try {
      migrate(db, options.migrations ?? MIGRATIONS);
    } catch (error) {
      db.close();
      throw error;
    }
    return { db, storeKey, path: file };
  } catch (error) {
    storeKey.fill(0);
    throw error;
  }
}
