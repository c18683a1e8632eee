/**
 * The revocation list as keystore values. A signed list may reach 2 MiB (messages.proto) while a
 * keystore value holds at most 64 KiB, so the bytes are split into chunks under a generation
 * number and a small header names the generation, length and SHA-256. A new list is written as a
 * new generation first and the header switched last, so a crash leaves either the old list or
 * the new one, never a mix; the old generation's chunks are deleted afterwards.
 *
 * Trust boundary: the bytes are a SignedRevocationList the provisioning or sync code verified
 * before storing; on the way back they are checked against the header's length and digest.
 */
import { createHash } from 'node:crypto';
import { MAX_VALUE_LENGTH, StoreCorrupt, type KeyStore } from '@fleetkey/keystore';
import { MAX_REVOCATION_LIST_BYTES } from '@fleetkey/protocol';
import { VALUE_NAMES, chunkHeaderSchema, parseStoredJson } from './values.js';

/** Bytes per chunk: under the keystore's value bound, with room for nothing else. */
export const REVOCATION_CHUNK_BYTES = MAX_VALUE_LENGTH;
/** Most chunks a list may take (2 MiB / 64 KiB). */
export const MAX_REVOCATION_CHUNKS = Math.ceil(MAX_REVOCATION_LIST_BYTES / REVOCATION_CHUNK_BYTES);

export interface StoredRevocationList {
  /** RevocationList.sequence. */
  readonly sequence: bigint;
  /** The SignedRevocationList as received (payload, signature, signing key). */
  readonly signed: Uint8Array;
}

function chunkName(generation: number, index: number): string {
  return `${VALUE_NAMES.revocationList}.g${generation}.${index}`;
}

function digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function readHeader(store: KeyStore) {
  const raw = store.getValue(VALUE_NAMES.revocationList);
  if (raw === undefined) return undefined;
  const header = parseStoredJson(VALUE_NAMES.revocationList, raw, chunkHeaderSchema);
  if (header.length > MAX_REVOCATION_LIST_BYTES || header.chunks > MAX_REVOCATION_CHUNKS || header.chunks !== Math.ceil(header.length / REVOCATION_CHUNK_BYTES)) {
    throw new StoreCorrupt(`agent state: ${VALUE_NAMES.revocationList} has an impossible size`);
  }
  return header;
}

/**
 * @throws StoreCorrupt when a chunk is missing or the bytes do not match the header.
 */
export function readRevocationList(store: KeyStore): StoredRevocationList | undefined {
  const header = readHeader(store);
  if (header === undefined) return undefined;
  const signed = new Uint8Array(header.length);
  let offset = 0;
  for (let index = 0; index < header.chunks; index += 1) {
    const chunk = store.getValue(chunkName(header.generation, index));
    if (!(chunk instanceof Uint8Array) || offset + chunk.length > header.length) throw new StoreCorrupt(`agent state: revocation list chunk ${index} is missing or too long`);
    signed.set(chunk, offset);
    offset += chunk.length;
  }
  if (offset !== header.length || digest(signed) !== header.sha256) throw new StoreCorrupt('agent state: the stored revocation list does not match its digest');
  return { sequence: BigInt(header.sequence), signed };
}

/**
 * Replaces the stored list (new generation first, header last, old chunks removed after).
 * @throws RangeError for an empty list or one over MAX_REVOCATION_LIST_BYTES.
 */
export function writeRevocationList(store: KeyStore, list: StoredRevocationList): void {
  if (!(list.signed instanceof Uint8Array) || list.signed.length === 0 || list.signed.length > MAX_REVOCATION_LIST_BYTES) {
    throw new RangeError(`"signed" expected 1..${MAX_REVOCATION_LIST_BYTES} bytes`);
  }
  if (typeof list.sequence !== 'bigint' || list.sequence < 0n) throw new RangeError('"sequence" expected a non-negative bigint');
  const previous = readHeader(store);
  const generation = (previous?.generation ?? 0) + 1;
  const chunks = Math.ceil(list.signed.length / REVOCATION_CHUNK_BYTES);
  for (let index = 0; index < chunks; index += 1) {
    store.setValue(chunkName(generation, index), list.signed.subarray(index * REVOCATION_CHUNK_BYTES, (index + 1) * REVOCATION_CHUNK_BYTES));
  }
  store.setValue(
    VALUE_NAMES.revocationList,
    JSON.stringify({ sequence: list.sequence.toString(), generation, length: list.signed.length, chunks, sha256: digest(list.signed) }),
  );
  if (previous !== undefined) {
    for (let index = 0; index < previous.chunks; index += 1) store.deleteValue(chunkName(previous.generation, index));
  }
}
