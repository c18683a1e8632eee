/**
 * SecureKeyStore: a robot's (and later the controller's) keys in an encrypted SQLite file.
 * Two layers: the whole file is encrypted by SQLite3MultipleCiphers under the store key, and each
 * record's material is additionally an envelope v1 under a record-sealing key derived from it
 * (records/seal.ts). See docs/keystore.md for the format and the guarantees.
 *
 * Every multi-statement change runs in one IMMEDIATE transaction (the write lock is taken up
 * front, so two processes never deadlock upgrading a read lock); WAL + busy_timeout let the agent
 * and the CLI share the file.
 *
 * Trust boundary: callers are trusted code in the same process (agent, CLI); their inputs are
 * still validated and bounded. Every `material` returned is a fresh buffer the caller must
 * zeroize. The store key and the record key are zeroized on close().
 */
import {
  assertTransition,
  formatVersionedKeyId,
  KIND_POLICIES,
  type KeyId,
  type KeyState,
  type VersionedKeyId,
} from '@fleetkey/key-types';
import { CONTENT_KEY_LENGTH } from '@fleetkey/crypto';
import { DEFAULT_OPEN_CLOCK_SKEW_MS, MAX_OPEN_CLOCK_SKEW_MS, SQLITE_CIPHER } from './constants.js';
import { deriveKeyCheck, deriveRecordKey } from './derive.js';
import { KeyExists, KeyNotFound, KeyNotUsable, StoreCorrupt } from './errors.js';
import { createStoreFiles, openStoreFiles, type OpenedStore } from './lifecycle.js';
import type { StoreKeyProtector } from './protectors/types.js';
import { RecordTables, rowKeyId, rowToMeta, type KeyRow } from './records/rows.js';
import {
  openRecordMaterial,
  openValue,
  sealRecordMaterial,
  sealValue,
  unwrapFromExport,
  wrapForExport,
} from './records/seal.js';
import type {
  ExportWrapping,
  ExportedKeyRecord,
  ImportOptions,
  ImportResult,
  ImportUnwrapping,
  KeyRecord,
  KeyRecordInput,
  KeyRecordMeta,
  KeyStore,
  ListFilter,
  StoredValue,
  Tags,
} from './records/types.js';
import { openBlocker, sealBlocker } from './records/usable.js';
import {
  checkFilter,
  checkKeyId,
  checkRecordInput,
  checkRecordMeta,
  checkRequiredDate,
  checkState,
  checkTags,
  checkValue,
  checkValueName,
  checkVersion,
  type CheckedRecordMeta,
} from './records/validate.js';
import { writeSidecar } from './sidecar.js';
import { schemaVersion, type Migration } from './sqlite/migrations.js';
import type { SqliteDatabase } from './sqlite/open-database.js';

export interface SecureKeyStoreOptions {
  /** The clock for created/updated times and usability checks. Defaults to `() => new Date()`. */
  readonly now?: () => Date;
  /** How long a write waits for another process's lock (default 5 s, max 60 s). */
  readonly busyTimeoutMs?: number;
  /** Allowance before notBefore when opening (default 5 min); see records/usable.ts. */
  readonly openClockSkewMs?: number;
}

/** Internal options: test seams not exported from the package index. */
export interface InternalStoreOptions extends SecureKeyStoreOptions {
  readonly migrations?: readonly Migration[];
}

function isPrimaryKeyViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function checkExportKey(key: unknown): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== CONTENT_KEY_LENGTH) {
    throw new RangeError(`"exportKey" expected ${CONTENT_KEY_LENGTH} bytes`);
  }
  return key;
}

function idText(keyId: KeyId, version: number): string {
  return formatVersionedKeyId({ ...keyId, version } as VersionedKeyId);
}

export class SecureKeyStore implements KeyStore {
  /** Absolute path of the database file. */
  readonly path: string;
  #db: SqliteDatabase | undefined;
  readonly #tables: RecordTables;
  readonly #storeKey: Uint8Array;
  readonly #recordKey: Uint8Array;
  readonly #now: () => Date;
  readonly #openClockSkewMs: number;

  private constructor(opened: OpenedStore, options: SecureKeyStoreOptions) {
    this.path = opened.path;
    this.#db = opened.db;
    this.#storeKey = opened.storeKey;
    this.#recordKey = deriveRecordKey(opened.storeKey);
    this.#tables = new RecordTables(opened.db);
    this.#now = options.now ?? (() => new Date());
    this.#openClockSkewMs = options.openClockSkewMs ?? DEFAULT_OPEN_CLOCK_SKEW_MS;
  }

  static #checkOptions(options: SecureKeyStoreOptions): void {
    if (typeof options !== 'object' || options === null) throw new TypeError('"options" expected an object');
    if (options.now !== undefined && typeof options.now !== 'function') throw new TypeError('"now" expected a function returning a Date');
    const skew = options.openClockSkewMs;
    if (skew !== undefined && (!Number.isInteger(skew) || skew < 0 || skew > MAX_OPEN_CLOCK_SKEW_MS)) {
      throw new RangeError(`"openClockSkewMs" expected 0..${MAX_OPEN_CLOCK_SKEW_MS}`);
    }
  }

  static #wrap(opened: OpenedStore, options: SecureKeyStoreOptions): SecureKeyStore {
    try {
      return new SecureKeyStore(opened, options);
    } catch (error) {
      opened.db.close();
      opened.storeKey.fill(0);
      throw error;
    }
  }

  /**
   * Creates a new keystore at `path` (plus `<path>.keyinfo.json`), protected by `protector`.
   * @throws StoreExists (anything already at those paths) | whatever the protector throws.
   */
  static async create(path: string, protector: StoreKeyProtector, options: SecureKeyStoreOptions = {}): Promise<SecureKeyStore> {
    SecureKeyStore.#checkOptions(options);
    return SecureKeyStore.#wrap(await createStoreFiles(path, protector, options as InternalStoreOptions), options);
  }

  /**
   * Opens an existing keystore and applies pending schema migrations.
   * @throws StoreNotFound | StoreKeyInvalid (the file is left untouched) | StoreCorrupt |
   * KeyFileInsecure | whatever the protector throws.
   */
  static async open(path: string, protector: StoreKeyProtector, options: SecureKeyStoreOptions = {}): Promise<SecureKeyStore> {
    SecureKeyStore.#checkOptions(options);
    return SecureKeyStore.#wrap(await openStoreFiles(path, protector, options as InternalStoreOptions), options);
  }

  get #database(): SqliteDatabase {
    if (this.#db === undefined) throw new TypeError('keystore is closed');
    return this.#db;
  }

  #immediate<T>(fn: () => T): T {
    return this.#database.transaction(fn).immediate();
  }

  #row(keyId: KeyId, version: number): KeyRow {
    const id = checkKeyId(keyId);
    const row = this.#tables.selectOne(id, checkVersion(version));
    if (row === undefined) throw new KeyNotFound(`key ${idText(id, version)} not found`);
    return row;
  }

  #insert(meta: CheckedRecordMeta, sealed: Uint8Array | null, createdAt: number, updatedAt: number): void {
    try {
      this.#tables.insertKey(
        {
          keyId: meta.keyId,
          algorithm: meta.algorithm,
          state: meta.state,
          publicKey: meta.publicKey ?? null,
          notBefore: meta.notBefore?.getTime() ?? null,
          notAfter: meta.notAfter?.getTime() ?? null,
          createdAt,
          updatedAt,
          sealedMaterial: sealed,
        },
        meta.tags,
      );
    } catch (error) {
      if (isPrimaryKeyViolation(error)) throw new KeyExists(`key ${formatVersionedKeyId(meta.keyId)} already exists`);
      throw error;
    }
  }

  /**
   * Stores a new key version. The material is sealed; the caller keeps (and zeroizes) its buffer.
   * @throws KeyExists | InvalidKeyId | UnsupportedAlgorithm | TypeError / RangeError.
   */
  put(record: KeyRecordInput): KeyRecordMeta {
    const checked = checkRecordInput(record);
    const sealed = sealRecordMaterial(this.#recordKey, checked.keyId, checked.algorithm, checked.material);
    const now = this.#now().getTime();
    this.#immediate(() => this.#insert(checked, sealed, now, now));
    return this.getMeta(checked.keyId, checked.keyId.version);
  }

  /**
   * The record with its material, a fresh buffer the caller MUST zeroize (`material.fill(0)`).
   * @throws KeyNotFound | KeyNotUsable (material destroyed) | StoreCorrupt (blob fails to authenticate).
   */
  get(keyId: KeyId, version: number): KeyRecord {
    const row = this.#row(keyId, version);
    const meta = rowToMeta(row);
    if (row.sealed_material === null) {
      throw new KeyNotUsable(`key ${formatVersionedKeyId(meta.keyId)} was destroyed; its material is gone`);
    }
    const material = openRecordMaterial(this.#recordKey, meta.keyId, meta.algorithm, row.sealed_material);
    return { ...meta, material };
  }

  /** @throws KeyNotFound. */
  getMeta(keyId: KeyId, version: number): KeyRecordMeta {
    return rowToMeta(this.#row(keyId, version));
  }

  /** The highest version of `keyId` (in `state`, when given), or undefined when there is none. */
  latest(keyId: KeyId, state?: KeyState): KeyRecordMeta | undefined {
    const id = checkKeyId(keyId);
    const row = this.#tables.selectLatest(id, state === undefined ? undefined : checkState(state));
    return row === undefined ? undefined : rowToMeta(row);
  }

  /** Records matching every given criterion, ordered by kind, fleet, name, version. */
  list(filter: ListFilter = {}): KeyRecordMeta[] {
    return this.#tables.list(checkFilter(filter)).map(rowToMeta);
  }

  /**
   * Moves a key through the lifecycle (key-types `assertTransition`). Reaching `destroyed` also
   * erases the sealed material (overwritten: secure_delete is on); the metadata stays as a tombstone.
   * @throws KeyNotFound | IllegalStateTransition (and nothing changes).
   */
  transition(keyId: KeyId, version: number, toState: KeyState): KeyRecordMeta {
    const target = checkState(toState, 'toState');
    const id = checkKeyId(keyId);
    checkVersion(version);
    this.#immediate(() => {
      const meta = rowToMeta(this.#row(id, version));
      // Precondition: only transitions in the key-types lifecycle table are applied.
      assertTransition(meta.state, target);
      this.#tables.updateState(id, version, target, this.#now().getTime());
      if (target === 'destroyed') this.#tables.destroyMaterial(id, version);
    });
    return this.getMeta(id, version);
  }

  /** Replaces a record's tags. @throws KeyNotFound | RangeError / TypeError. */
  setTags(keyId: KeyId, version: number, tags: Tags): KeyRecordMeta {
    const checked = checkTags(tags);
    const id = checkKeyId(keyId);
    checkVersion(version);
    this.#immediate(() => {
      this.#row(id, version);
      this.#tables.replaceTags(id, version, checked);
      this.#tables.touch(id, version, this.#now().getTime());
    });
    return this.getMeta(id, version);
  }

  /** Whether the key may seal now (active, inside its window). @throws KeyNotFound. */
  usableForSeal(keyId: KeyId, version: number): boolean {
    return sealBlocker(this.getMeta(keyId, version), this.#now()) === undefined;
  }

  /** Whether the key may open now (pending/active/retiring, not before notBefore - skew). @throws KeyNotFound. */
  usableForOpen(keyId: KeyId, version: number): boolean {
    return openBlocker(this.getMeta(keyId, version), this.#now(), this.#openClockSkewMs) === undefined;
  }

  /** @throws KeyNotFound | KeyNotUsable naming why (state, not yet valid, expired, destroyed). */
  materialForSeal(keyId: KeyId, version: number): KeyRecord {
    const meta = this.getMeta(keyId, version);
    const blocker = sealBlocker(meta, this.#now());
    if (blocker !== undefined) {
      throw new KeyNotUsable(`key ${formatVersionedKeyId(meta.keyId)} cannot seal: ${blocker} (state ${meta.state})`);
    }
    return this.get(keyId, version);
  }

  /** @throws KeyNotFound | KeyNotUsable naming why (state, not yet valid, destroyed). */
  materialForOpen(keyId: KeyId, version: number): KeyRecord {
    const meta = this.getMeta(keyId, version);
    const blocker = openBlocker(meta, this.#now(), this.#openClockSkewMs);
    if (blocker !== undefined) {
      throw new KeyNotUsable(`key ${formatVersionedKeyId(meta.keyId)} cannot open: ${blocker} (state ${meta.state})`);
    }
    return this.get(keyId, version);
  }

  /**
   * Deletes the record and its tags; with secure_delete on, SQLite overwrites the freed cells with
   * zeros, and a TRUNCATE checkpoint then empties the WAL that still held the old page images
   * (unless another connection's open read pins them: see docs/keystore.md).
   * @throws KeyNotFound.
   */
  secureDelete(keyId: KeyId, version: number): void {
    const id = checkKeyId(keyId);
    checkVersion(version);
    this.#immediate(() => {
      if (!this.#tables.deleteKey(id, version)) throw new KeyNotFound(`key ${idText(id, version)} not found`);
    });
    this.checkpoint();
  }

  /**
   * Every record (matching `filter`) of an exportable kind (key-types KIND_POLICIES: device
   * identity, fleet CA, emergency and fleet master keys never leave home and are omitted) with its
   * material re-wrapped for a backup: under a 32-byte export key (envelope v1, provider
   * "keystore-export") or by the caller's `wrap`. The plaintext passed to `wrap` is zeroized as
   * soon as it returns: `wrap` must not keep a reference to it.
   */
  exportRecords(wrapping: ExportWrapping): ExportedKeyRecord[] {
    if (typeof wrapping !== 'object' || wrapping === null) throw new TypeError('"wrapping" expected { exportKey } or { wrap }');
    const exportKey = 'exportKey' in wrapping ? checkExportKey(wrapping.exportKey) : undefined;
    const wrap = 'wrap' in wrapping ? wrapping.wrap : undefined;
    if (exportKey === undefined && typeof wrap !== 'function') throw new TypeError('"wrapping" expected { exportKey } or { wrap }');
    const rows = this.#database.transaction(() => this.#tables.list(checkFilter(wrapping.filter ?? {})))();
    // Precondition: a kind whose policy says its secret never leaves home (device identity, …) is never exported.
    return rows.filter((row) => KIND_POLICIES[rowKeyId(row).kind].exportable).map((row) => {
      const meta = rowToMeta(row);
      const { materialDestroyed: _destroyed, ...exported } = meta;
      if (row.sealed_material === null) return exported;
      const material = openRecordMaterial(this.#recordKey, meta.keyId, meta.algorithm, row.sealed_material);
      try {
        const wrapped = exportKey ? wrapForExport(exportKey, meta.keyId, meta.algorithm, material) : wrap!(material, meta);
        if (!(wrapped instanceof Uint8Array)) throw new TypeError('"wrap" expected to return a Uint8Array');
        return { ...exported, wrappedMaterial: new Uint8Array(wrapped) };
      } finally {
        material.fill(0);
      }
    });
  }

  /**
   * Imports exported records in one transaction (all or nothing). The buffer an `unwrap` returns
   * is taken over and zeroized once sealed.
   * @throws RangeError (a non-exportable kind, a missing material) | KeyExists (onExisting 'fail', the default) | DecryptionFailed (wrong export key or a
   * tampered record) | InvalidKeyId | UnsupportedAlgorithm | TypeError / RangeError.
   */
  importRecords(records: readonly ExportedKeyRecord[], unwrapping: ImportUnwrapping, options: ImportOptions = {}): ImportResult {
    if (!Array.isArray(records)) throw new TypeError('"records" expected an array');
    if (typeof unwrapping !== 'object' || unwrapping === null) throw new TypeError('"unwrapping" expected { exportKey } or { unwrap }');
    const exportKey = 'exportKey' in unwrapping ? checkExportKey(unwrapping.exportKey) : undefined;
    const unwrap = 'unwrap' in unwrapping ? unwrapping.unwrap : undefined;
    if (exportKey === undefined && typeof unwrap !== 'function') throw new TypeError('"unwrapping" expected { exportKey } or { unwrap }');
    const onExisting = options.onExisting ?? 'fail';
    if (onExisting !== 'fail' && onExisting !== 'skip') throw new RangeError('"onExisting" expected fail or skip');

    const prepared: Array<{ meta: CheckedRecordMeta; sealed: Uint8Array | null; createdAt: number; updatedAt: number }> = [];
    for (const record of records) {
      const meta = checkRecordMeta(record, { allowDestroyed: true });
      if (!KIND_POLICIES[meta.keyId.kind].exportable) {
        throw new RangeError(`"records" holds a ${meta.keyId.kind} key, a kind that is never exported or imported`);
      }
      const createdAt = checkRequiredDate(record.createdAt, 'createdAt').getTime();
      const updatedAt = checkRequiredDate(record.updatedAt, 'updatedAt').getTime();
      if (record.wrappedMaterial === undefined) {
        // Precondition: only a destroyed key may come without material.
        if (meta.state !== 'destroyed') throw new RangeError(`"wrappedMaterial" missing for ${formatVersionedKeyId(meta.keyId)}`);
        prepared.push({ meta, sealed: null, createdAt, updatedAt });
        continue;
      }
      const { wrappedMaterial, ...withoutMaterial } = record;
      const material = exportKey
        ? unwrapFromExport(exportKey, meta.keyId, meta.algorithm, wrappedMaterial)
        : unwrap!(wrappedMaterial, withoutMaterial);
      try {
        const checked = checkRecordInput({ ...meta, material }, { allowDestroyed: true });
        prepared.push({ meta, sealed: sealRecordMaterial(this.#recordKey, checked.keyId, checked.algorithm, material), createdAt, updatedAt });
      } finally {
        material.fill(0);
      }
    }
    return this.#immediate(() => {
      let imported = 0;
      let skipped = 0;
      for (const item of prepared) {
        if (onExisting === 'skip' && this.#tables.selectOne(item.meta.keyId, item.meta.keyId.version) !== undefined) {
          skipped += 1;
          continue;
        }
        this.#insert(item.meta, item.sealed, item.createdAt, item.updatedAt);
        imported += 1;
      }
      return { imported, skipped };
    });
  }

  /** Stores a small named value (sealed like key material). @throws RangeError / TypeError. */
  setValue(name: string, value: StoredValue): void {
    const checkedName = checkValueName(name);
    const { type, bytes } = checkValue(value);
    try {
      const sealed = sealValue(this.#recordKey, checkedName, type, bytes);
      this.#immediate(() => this.#tables.upsertValue(checkedName, type, sealed, this.#now().getTime()));
    } finally {
      // Our own UTF-8 copy of a text value; a bytes value belongs to the caller.
      if (type === 'text') bytes.fill(0);
    }
  }

  /** The value as it was set (Uint8Array or string), or undefined. @throws StoreCorrupt. */
  getValue(name: string): StoredValue | undefined {
    const checkedName = checkValueName(name);
    const row = this.#tables.selectValue(checkedName);
    if (row === undefined) return undefined;
    if (row.type !== 'bytes' && row.type !== 'text') throw new StoreCorrupt(`keystore value "${checkedName}" has an unknown type`);
    const bytes = openValue(this.#recordKey, checkedName, row.type, row.sealed);
    if (row.type === 'bytes') return bytes;
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new StoreCorrupt(`keystore value "${checkedName}" is not valid UTF-8`);
    } finally {
      bytes.fill(0);
    }
  }

  /** Deletes a value; returns whether it existed. */
  deleteValue(name: string): boolean {
    const checkedName = checkValueName(name);
    return this.#immediate(() => this.#tables.deleteValue(checkedName));
  }

  /**
   * Re-protects the store key with `next` (a new passphrase, another protector kind) and
   * atomically replaces the sidecar. The database is not re-encrypted.
   * @throws whatever `next.protect` throws (e.g. StoreExists for an existing key file).
   */
  async changeProtector(next: StoreKeyProtector): Promise<void> {
    if (this.closed) throw new TypeError('keystore is closed');
    const descriptor = await next.protect(this.#storeKey);
    await writeSidecar(this.path, { cipher: SQLITE_CIPHER, keyCheck: deriveKeyCheck(this.#storeKey), protector: descriptor });
  }

  /** Copies the WAL into the database file and truncates it. Returns whether it was blocked by a reader. */
  checkpoint(): { busy: boolean } {
    const [result] = this.#database.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
    return { busy: (result?.busy ?? 0) !== 0 };
  }

  /** `PRAGMA integrity_check` rows: `['ok']` for a sound database. */
  integrityCheck(): string[] {
    return (this.#database.pragma('integrity_check', { simple: false }) as unknown[]).map((row) => String(Object.values(row as object)[0]));
  }

  /** The schema version (`PRAGMA user_version`). */
  schemaVersion(): number {
    return schemaVersion(this.#database);
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#db === undefined;
  }

  /** Closes the database (checkpointing the WAL if last) and zeroizes the store and record keys. Idempotent. */
  close(): void {
    const db = this.#db;
    this.#db = undefined;
    try {
      db?.close();
    } finally {
      this.#storeKey.fill(0);
      this.#recordKey.fill(0);
    }
  }
}
