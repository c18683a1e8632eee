/**
 * SQL for the `keys`, `key_tags` and `meta` tables, and the mapping from rows back to records.
 * Statements are prepared once per connection. Rows are re-validated on the way out: the file
 * is authenticated, but a row written by a buggy or newer build must fail loudly (StoreCorrupt),
 * not turn into a half-valid record.
 *
 * Trust boundary: SQL parameters are always bound, never interpolated. Rows come from the
 * decrypted database.
 */
import {
  isKeyAlgorithm,
  isKeyState,
  versionedKeyId,
  type KeyAlgorithm,
  type KeyId,
  type KeyKind,
  type KeyState,
  type VersionedKeyId,
} from '@fleetkey/key-types';
import { StoreCorrupt } from '../errors.js';
import type { SqliteDatabase } from '../sqlite/open-database.js';
import type { CheckedFilter } from './validate.js';
import type { KeyRecordMeta, Tags } from './types.js';

export interface KeyRow {
  readonly kind: string;
  readonly fleet: string;
  readonly name: string;
  readonly version: number;
  readonly algorithm: string;
  readonly state: string;
  readonly public_key: Uint8Array | null;
  readonly not_before: number | null;
  readonly not_after: number | null;
  readonly created_at: number;
  readonly updated_at: number;
  readonly sealed_material: Uint8Array | null;
  readonly tags: string;
}

export interface NewKeyRow {
  readonly keyId: VersionedKeyId;
  readonly algorithm: KeyAlgorithm;
  readonly state: KeyState;
  readonly publicKey: Uint8Array | null;
  readonly notBefore: number | null;
  readonly notAfter: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly sealedMaterial: Uint8Array | null;
}

const SELECT_COLUMNS = `
  k.kind, k.fleet, k.name, k.version, k.algorithm, k.state, k.public_key, k.not_before, k.not_after,
  k.created_at, k.updated_at, k.sealed_material,
  (SELECT json_group_object(t.tag, t.value) FROM key_tags t
     WHERE t.kind = k.kind AND t.fleet = k.fleet AND t.name = k.name AND t.version = k.version) AS tags`;

type KeyParams = [kind: string, fleet: string, name: string, version: number];

function keyParams(id: KeyId, version: number): KeyParams {
  return [id.kind, id.fleet, id.name, version];
}

/** Prepared statements over one connection. */
export class RecordTables {
  readonly #insertKey;
  readonly #insertTag;
  readonly #deleteTags;
  readonly #selectOne;
  readonly #selectLatest;
  readonly #selectLatestInState;
  readonly #list;
  readonly #updateState;
  readonly #destroyMaterial;
  readonly #touch;
  readonly #deleteKey;
  readonly #selectSealed;
  readonly #upsertValue;
  readonly #selectValue;
  readonly #deleteValue;

  constructor(db: SqliteDatabase) {
    this.#insertKey = db.prepare<[string, string, string, number, string, string, Uint8Array | null, number | null, number | null, number, number, Uint8Array | null]>(
      `INSERT INTO keys (kind, fleet, name, version, algorithm, state, public_key, not_before, not_after, created_at, updated_at, sealed_material)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insertTag = db.prepare<[...KeyParams, string, string]>(
      'INSERT INTO key_tags (kind, fleet, name, version, tag, value) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#deleteTags = db.prepare<KeyParams>('DELETE FROM key_tags WHERE kind = ? AND fleet = ? AND name = ? AND version = ?');
    this.#selectOne = db.prepare<KeyParams, KeyRow>(
      `SELECT ${SELECT_COLUMNS} FROM keys k WHERE k.kind = ? AND k.fleet = ? AND k.name = ? AND k.version = ?`,
    );
    this.#selectLatest = db.prepare<[string, string, string], KeyRow>(
      `SELECT ${SELECT_COLUMNS} FROM keys k WHERE k.kind = ? AND k.fleet = ? AND k.name = ? ORDER BY k.version DESC LIMIT 1`,
    );
    this.#selectLatestInState = db.prepare<[string, string, string, string], KeyRow>(
      `SELECT ${SELECT_COLUMNS} FROM keys k WHERE k.kind = ? AND k.fleet = ? AND k.name = ? AND k.state = ? ORDER BY k.version DESC LIMIT 1`,
    );
    this.#list = db.prepare<[Record<string, string | number | null>], KeyRow>(
      `SELECT ${SELECT_COLUMNS} FROM keys k
       WHERE (@kind IS NULL OR k.kind = @kind)
         AND (@state IS NULL OR k.state = @state)
         AND (@fleet IS NULL OR k.fleet = @fleet)
         AND (@tagName IS NULL OR EXISTS (
               SELECT 1 FROM key_tags t
               WHERE t.kind = k.kind AND t.fleet = k.fleet AND t.name = k.name AND t.version = k.version
                 AND t.tag = @tagName AND (@tagValue IS NULL OR t.value = @tagValue)))
       ORDER BY k.kind, k.fleet, k.name, k.version
       LIMIT @limit`,
    );
    this.#updateState = db.prepare<[string, number, ...KeyParams]>(
      'UPDATE keys SET state = ?, updated_at = ? WHERE kind = ? AND fleet = ? AND name = ? AND version = ?',
    );
    this.#destroyMaterial = db.prepare<KeyParams>(
      'UPDATE keys SET sealed_material = NULL WHERE kind = ? AND fleet = ? AND name = ? AND version = ?',
    );
    this.#touch = db.prepare<[number, ...KeyParams]>(
      'UPDATE keys SET updated_at = ? WHERE kind = ? AND fleet = ? AND name = ? AND version = ?',
    );
    this.#deleteKey = db.prepare<KeyParams>('DELETE FROM keys WHERE kind = ? AND fleet = ? AND name = ? AND version = ?');
    this.#selectSealed = db.prepare<KeyParams, Uint8Array | null>(
      'SELECT sealed_material FROM keys WHERE kind = ? AND fleet = ? AND name = ? AND version = ?',
    ).pluck();
    this.#upsertValue = db.prepare<[string, string, Uint8Array, number]>(
      `INSERT INTO meta (name, type, sealed, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET type = excluded.type, sealed = excluded.sealed, updated_at = excluded.updated_at`,
    );
    this.#selectValue = db.prepare<[string], { type: string; sealed: Uint8Array }>('SELECT type, sealed FROM meta WHERE name = ?');
    this.#deleteValue = db.prepare<[string]>('DELETE FROM meta WHERE name = ?');
  }

  insertKey(row: NewKeyRow, tags: Tags): void {
    const { keyId } = row;
    this.#insertKey.run(
      keyId.kind, keyId.fleet, keyId.name, keyId.version, row.algorithm, row.state, row.publicKey,
      row.notBefore, row.notAfter, row.createdAt, row.updatedAt, row.sealedMaterial,
    );
    this.replaceTags(keyId, keyId.version, tags);
  }

  replaceTags(id: KeyId, version: number, tags: Tags): void {
    const params = keyParams(id, version);
    this.#deleteTags.run(...params);
    for (const [tag, value] of Object.entries(tags)) this.#insertTag.run(...params, tag, value);
  }

  selectOne(id: KeyId, version: number): KeyRow | undefined {
    return this.#selectOne.get(...keyParams(id, version));
  }

  selectLatest(id: KeyId, state?: KeyState): KeyRow | undefined {
    return state === undefined
      ? this.#selectLatest.get(id.kind, id.fleet, id.name)
      : this.#selectLatestInState.get(id.kind, id.fleet, id.name, state);
  }

  list(filter: CheckedFilter): KeyRow[] {
    return this.#list.all({ ...filter });
  }

  updateState(id: KeyId, version: number, state: KeyState, updatedAt: number): void {
    this.#updateState.run(state, updatedAt, ...keyParams(id, version));
  }

  destroyMaterial(id: KeyId, version: number): void {
    this.#destroyMaterial.run(...keyParams(id, version));
  }

  touch(id: KeyId, version: number, updatedAt: number): void {
    this.#touch.run(updatedAt, ...keyParams(id, version));
  }

  /** Deletes the row (tags cascade). Returns whether a row was deleted. */
  deleteKey(id: KeyId, version: number): boolean {
    return this.#deleteKey.run(...keyParams(id, version)).changes > 0;
  }

  /** The sealed blob as stored (tests check it is gone after a secure delete). */
  selectSealed(id: KeyId, version: number): Uint8Array | null | undefined {
    return this.#selectSealed.get(...keyParams(id, version)) as Uint8Array | null | undefined;
  }

  upsertValue(name: string, type: 'bytes' | 'text', sealed: Uint8Array, updatedAt: number): void {
    this.#upsertValue.run(name, type, sealed, updatedAt);
  }

  selectValue(name: string): { type: string; sealed: Uint8Array } | undefined {
    return this.#selectValue.get(name);
  }

  deleteValue(name: string): boolean {
    return this.#deleteValue.run(name).changes > 0;
  }
}

function optionalDate(ms: number | null): Date | undefined {
  return ms === null ? undefined : new Date(ms);
}

function parseTags(json: string): Tags {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new StoreCorrupt('keystore record: tags are not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new StoreCorrupt('keystore record: tags malformed');
  for (const value of Object.values(parsed)) {
    if (typeof value !== 'string') throw new StoreCorrupt('keystore record: tag value is not a string');
  }
  return Object.freeze(parsed as Record<string, string>);
}

/** @throws StoreCorrupt when a stored column is outside the domain. */
export function rowKeyId(row: KeyRow): VersionedKeyId {
  try {
    return versionedKeyId(row.kind as KeyKind, row.fleet, row.name, row.version);
  } catch (error) {
    throw new StoreCorrupt('keystore record: stored key id is invalid', { cause: error });
  }
}

/** @throws StoreCorrupt when a stored column is outside the domain. */
export function rowToMeta(row: KeyRow): KeyRecordMeta {
  const keyId = rowKeyId(row);
  if (!isKeyAlgorithm(row.algorithm)) throw new StoreCorrupt('keystore record: stored algorithm is invalid');
  if (!isKeyState(row.state)) throw new StoreCorrupt('keystore record: stored state is invalid');
  const notBefore = optionalDate(row.not_before);
  const notAfter = optionalDate(row.not_after);
  return Object.freeze({
    keyId,
    algorithm: row.algorithm,
    state: row.state,
    ...(row.public_key === null ? {} : { publicKey: new Uint8Array(row.public_key) }),
    ...(notBefore ? { notBefore } : {}),
    ...(notAfter ? { notAfter } : {}),
    tags: parseTags(row.tags),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    materialDestroyed: row.sealed_material === null,
  });
}
