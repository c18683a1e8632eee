/**
 * Per-record sealing: each record's material is an envelope v1 (AES-256-GCM, provider "keystore",
 * key id = the record's versioned key id text, key version = the record's version) under the
 * record-sealing key derived from the store key. The envelope header is AAD, and the context adds
 * the record's kind and algorithm, so a sealed blob moved to another row (another id, version,
 * kind or algorithm) fails authentication instead of being served as that row's key.
 *
 * Tags, state and the validity window are deliberately NOT bound: they change over a key's life
 * (transition, setTags) and binding them would mean unsealing and resealing the material on every
 * state change. They are protected by the whole-file encryption, like every other column.
 *
 * Meta values use the same scheme with key id `value/<name>`, version 0, and a context binding
 * the name and the value's type.
 *
 * Trust boundary: sealed blobs are read from the database; an authentication failure is a
 * StoreCorrupt for that record (the database decrypted, so the key is right and the row is not).
 */
import { formatVersionedKeyId, isFleetkeyError, type KeyAlgorithm, type VersionedKeyId } from '@fleetkey/key-types';
import { openEnvelope, sealEnvelope, type EnvelopeContext } from '@fleetkey/crypto';
import {
  EXPORT_PROVIDER,
  EXPORT_PURPOSE,
  KEYSTORE_PROVIDER,
  MAX_MATERIAL_LENGTH,
  MAX_VALUE_LENGTH,
  RECORD_PURPOSE,
  SEAL_TAG_LENGTH,
  VALUE_PURPOSE,
} from '../constants.js';
import { StoreCorrupt } from '../errors.js';

/** Envelope key version of meta values: they are not versioned. */
export const VALUE_ENVELOPE_KEY_VERSION = 0;

/** The context (AAD beyond the header) of a record's sealed material. */
export function recordContext(keyId: VersionedKeyId, algorithm: KeyAlgorithm): EnvelopeContext {
  return {
    purpose: RECORD_PURPOSE,
    keyId: formatVersionedKeyId(keyId),
    version: String(keyId.version),
    kind: keyId.kind,
    algorithm,
  };
}

export function sealRecordMaterial(recordKey: Uint8Array, keyId: VersionedKeyId, algorithm: KeyAlgorithm, material: Uint8Array): Uint8Array {
  return sealEnvelope({
    key: recordKey,
    algorithm: 'AES_256_GCM',
    provider: KEYSTORE_PROVIDER,
    keyId: formatVersionedKeyId(keyId),
    keyVersion: keyId.version,
    plaintext: material,
    context: recordContext(keyId, algorithm),
  });
}

/**
 * Opens a record's material. Returns a fresh buffer the caller owns and zeroizes.
 * @throws StoreCorrupt when the blob does not authenticate for this row.
 */
export function openRecordMaterial(recordKey: Uint8Array, keyId: VersionedKeyId, algorithm: KeyAlgorithm, sealed: Uint8Array): Uint8Array {
  try {
    return openEnvelope(sealed, recordKey, recordContext(keyId, algorithm), {
      maxCiphertextLength: MAX_MATERIAL_LENGTH + SEAL_TAG_LENGTH,
    });
  } catch (error) {
    if (isFleetkeyError(error)) {
      throw new StoreCorrupt(`keystore record ${formatVersionedKeyId(keyId)} failed authentication`);
    }
    throw error;
  }
}

function valueContext(name: string, type: 'bytes' | 'text'): EnvelopeContext {
  return { purpose: VALUE_PURPOSE, name, type };
}

export function sealValue(recordKey: Uint8Array, name: string, type: 'bytes' | 'text', bytes: Uint8Array): Uint8Array {
  return sealEnvelope({
    key: recordKey,
    algorithm: 'AES_256_GCM',
    provider: KEYSTORE_PROVIDER,
    keyId: `value/${name}`,
    keyVersion: VALUE_ENVELOPE_KEY_VERSION,
    plaintext: bytes,
    context: valueContext(name, type),
  });
}

/** @throws StoreCorrupt when the blob does not authenticate as value `name` of `type`. */
export function openValue(recordKey: Uint8Array, name: string, type: 'bytes' | 'text', sealed: Uint8Array): Uint8Array {
  try {
    return openEnvelope(sealed, recordKey, valueContext(name, type), { maxCiphertextLength: MAX_VALUE_LENGTH + SEAL_TAG_LENGTH });
  } catch (error) {
    if (isFleetkeyError(error)) throw new StoreCorrupt(`keystore value "${name}" failed authentication`);
    throw error;
  }
}

/** The context of a record re-wrapped under a caller's export key (backups). */
export function exportContext(keyId: VersionedKeyId, algorithm: KeyAlgorithm): EnvelopeContext {
  return { purpose: EXPORT_PURPOSE, keyId: formatVersionedKeyId(keyId), kind: keyId.kind, algorithm };
}

export function wrapForExport(exportKey: Uint8Array, keyId: VersionedKeyId, algorithm: KeyAlgorithm, material: Uint8Array): Uint8Array {
  return sealEnvelope({
    key: exportKey,
    algorithm: 'AES_256_GCM',
    provider: EXPORT_PROVIDER,
    keyId: formatVersionedKeyId(keyId),
    keyVersion: keyId.version,
    plaintext: material,
    context: exportContext(keyId, algorithm),
  });
}

/**
 * Opens an exported record with the export key. Returns a fresh buffer the caller zeroizes.
 * @throws DecryptionFailed | EnvelopeMalformed | EnvelopeUnsupported (from @fleetkey/crypto).
 */
export function unwrapFromExport(exportKey: Uint8Array, keyId: VersionedKeyId, algorithm: KeyAlgorithm, wrapped: Uint8Array): Uint8Array {
  return openEnvelope(wrapped, exportKey, exportContext(keyId, algorithm), {
    maxCiphertextLength: MAX_MATERIAL_LENGTH + SEAL_TAG_LENGTH,
  });
}
