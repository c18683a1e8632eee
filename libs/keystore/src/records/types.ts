/**
 * The record shapes and the `KeyStore` port every keystore implements (this SQLite store now;
 * an in-memory and a PKCS#11 store later), checked by `runKeyStoreConformance`.
 *
 * Trust boundary: `material` is secret. Every `material` a store returns is a fresh buffer that
 * the caller owns and must zeroize (`material.fill(0)`) when done; the store keeps no reference.
 */
import type { KeyAlgorithm, KeyId, KeyKind, KeyState, VersionedKeyId } from '@fleetkey/key-types';

export type Tags = Readonly<Record<string, string>>;

/** What `put` takes. */
export interface KeyRecordInput {
  readonly keyId: VersionedKeyId;
  readonly algorithm: KeyAlgorithm;
  readonly state: KeyState;
  /** Secret key bytes (raw symmetric key, PKCS#8 DER private key, …). Not retained. */
  readonly material: Uint8Array;
  readonly publicKey?: Uint8Array;
  /** Validity window. Sealing needs notBefore <= now < notAfter; see usableForSeal / usableForOpen. */
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly tags?: Tags;
}

/** A record without its material. */
export interface KeyRecordMeta {
  readonly keyId: VersionedKeyId;
  readonly algorithm: KeyAlgorithm;
  readonly state: KeyState;
  readonly publicKey?: Uint8Array;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly tags: Tags;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** True once the key reached `destroyed`: the material is gone, the metadata is a tombstone. */
  readonly materialDestroyed: boolean;
}

/** A record with its material: a fresh buffer the caller must zeroize. */
export interface KeyRecord extends KeyRecordMeta {
  readonly material: Uint8Array;
}

export interface TagFilter {
  readonly name: string;
  /** Omitted: any value. */
  readonly value?: string;
}

export interface ListFilter {
  readonly kind?: KeyKind;
  readonly state?: KeyState;
  readonly fleet?: string;
  readonly tag?: TagFilter;
  /** At most MAX_LIST_RESULTS (the default). */
  readonly limit?: number;
}

/** A record as exported for a backup: metadata plus its material wrapped under the caller's key. */
export interface ExportedKeyRecord extends Omit<KeyRecordMeta, 'materialDestroyed'> {
  /** Envelope v1 (or the caller's `wrap` output); absent for a destroyed key. */
  readonly wrappedMaterial?: Uint8Array;
}

export type WrapFunction = (material: Uint8Array, meta: KeyRecordMeta) => Uint8Array;
export type UnwrapFunction = (wrapped: Uint8Array, meta: Omit<ExportedKeyRecord, 'wrappedMaterial'>) => Uint8Array;

/** Either a 32-byte export key (envelope v1, AES-256-GCM) or a caller's wrap function. */
export type ExportWrapping = { readonly exportKey: Uint8Array; readonly filter?: ListFilter } | { readonly wrap: WrapFunction; readonly filter?: ListFilter };
export type ImportUnwrapping = { readonly exportKey: Uint8Array } | { readonly unwrap: UnwrapFunction };

export interface ImportOptions {
  /** 'fail' (default): any record already present -> KeyExists and nothing is imported. */
  readonly onExisting?: 'fail' | 'skip';
}

export interface ImportResult {
  readonly imported: number;
  readonly skipped: number;
}

export type StoredValue = Uint8Array | string;

/** The keystore port. Methods are synchronous: SQLite (and PKCS#11) calls are. */
export interface KeyStore {
  /** @throws KeyExists | InvalidKeyId | UnsupportedAlgorithm | TypeError / RangeError. */
  put(record: KeyRecordInput): KeyRecordMeta;
  /** @throws KeyNotFound | KeyNotUsable (destroyed) | StoreCorrupt. Caller zeroizes `material`. */
  get(keyId: KeyId, version: number): KeyRecord;
  /** @throws KeyNotFound. */
  getMeta(keyId: KeyId, version: number): KeyRecordMeta;
  /** The highest version of `keyId` (in `state`, if given), or undefined. */
  latest(keyId: KeyId, state?: KeyState): KeyRecordMeta | undefined;
  list(filter?: ListFilter): KeyRecordMeta[];
  /** @throws KeyNotFound | IllegalStateTransition (nothing changed). */
  transition(keyId: KeyId, version: number, toState: KeyState): KeyRecordMeta;
  /** Replaces all tags. @throws KeyNotFound | RangeError. */
  setTags(keyId: KeyId, version: number, tags: Tags): KeyRecordMeta;
  usableForSeal(keyId: KeyId, version: number): boolean;
  usableForOpen(keyId: KeyId, version: number): boolean;
  /** The record if it may seal now. @throws KeyNotFound | KeyNotUsable. Caller zeroizes `material`. */
  materialForSeal(keyId: KeyId, version: number): KeyRecord;
  /** The record if it may open now. @throws KeyNotFound | KeyNotUsable. Caller zeroizes `material`. */
  materialForOpen(keyId: KeyId, version: number): KeyRecord;
  /** Removes the record and overwrites its bytes. @throws KeyNotFound. */
  secureDelete(keyId: KeyId, version: number): void;
  exportRecords(wrapping: ExportWrapping): ExportedKeyRecord[];
  importRecords(records: readonly ExportedKeyRecord[], unwrapping: ImportUnwrapping, options?: ImportOptions): ImportResult;
  setValue(name: string, value: StoredValue): void;
  getValue(name: string): StoredValue | undefined;
  deleteValue(name: string): boolean;
  close(): void;
}
