/**
 * The key-info sidecar `<db>.keyinfo.json`: what is needed to recover the store key before the
 * (whole-file encrypted) database can be read. Non-secret by construction: the protector's
 * descriptor (kind, salt, KDF parameters, the wrapped store key) and a key-check value.
 *
 * The key check is HKDF-SHA256(store key, info "fleetkey keystore v1 key check"), a PRF output
 * that reveals nothing about the key; `open` compares it in constant time before handing the key
 * to SQLite, so a wrong key is refused without SQLite ever touching the database file.
 *
 * Written atomically (temp file + fsync + rename + directory fsync), mode 0600.
 *
 * Trust boundary: the file is read from disk and attacker-controlled; parsing is strict (size
 * bound, exact field set, bounded strings) and every failure is StoreCorrupt / StoreNotFound.
 */
import { promises as fsp } from 'node:fs';
import { decodeBase64Field, encodeBase64 } from './base64.js';
import { DERIVED_KEY_LENGTH, MAX_SIDECAR_BYTES, SIDECAR_FORMAT, SIDECAR_SUFFIX, SIDECAR_VERSION, SQLITE_CIPHER } from './constants.js';
import { StoreCorrupt, StoreNotFound } from './errors.js';
import { writeFileAtomic } from './fs-durable.js';
import type { ProtectorDescriptor } from './protectors/types.js';

export const SIDECAR_FILE_MODE = 0o600;
export const MAX_DESCRIPTOR_FIELDS = 32;
export const MAX_DESCRIPTOR_STRING_LENGTH = 4096;
const DESCRIPTOR_KIND_PATTERN = /^[a-z0-9-]{1,32}$/;
const DESCRIPTOR_FIELD_PATTERN = /^[A-Za-z0-9_]{1,64}$/;
const SIDECAR_FIELDS = ['format', 'version', 'cipher', 'keyCheck', 'protector'] as const;

export interface Sidecar {
  readonly cipher: string;
  readonly keyCheck: Uint8Array;
  readonly protector: ProtectorDescriptor;
}

export function sidecarPath(databasePath: string): string {
  return `${databasePath}${SIDECAR_SUFFIX}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** @throws StoreCorrupt when `value` is not a well-formed descriptor. */
export function validateDescriptor(value: unknown): ProtectorDescriptor {
  if (!isPlainObject(value)) throw new StoreCorrupt('keystore sidecar: "protector" is not an object');
  const entries = Object.entries(value);
  if (entries.length > MAX_DESCRIPTOR_FIELDS) throw new StoreCorrupt('keystore sidecar: too many protector fields');
  if (typeof value['kind'] !== 'string' || !DESCRIPTOR_KIND_PATTERN.test(value['kind'])) {
    throw new StoreCorrupt('keystore sidecar: protector "kind" is missing or invalid');
  }
  for (const [field, fieldValue] of entries) {
    if (!DESCRIPTOR_FIELD_PATTERN.test(field)) throw new StoreCorrupt('keystore sidecar: invalid protector field name');
    const ok =
      (typeof fieldValue === 'string' && fieldValue.length <= MAX_DESCRIPTOR_STRING_LENGTH) ||
      (typeof fieldValue === 'number' && Number.isFinite(fieldValue));
    if (!ok) throw new StoreCorrupt(`keystore sidecar: protector field "${field}" is not a bounded string or number`);
  }
  return Object.freeze({ ...value }) as ProtectorDescriptor;
}

/** Serialises a sidecar (canonical field order, trailing newline). */
export function encodeSidecar(sidecar: Sidecar): Uint8Array {
  const json = {
    format: SIDECAR_FORMAT,
    version: SIDECAR_VERSION,
    cipher: sidecar.cipher,
    keyCheck: encodeBase64(sidecar.keyCheck),
    protector: validateDescriptor(sidecar.protector),
  };
  return new TextEncoder().encode(`${JSON.stringify(json, null, 2)}\n`);
}

/** @throws StoreCorrupt for anything but exactly the fields this version writes. */
export function decodeSidecar(bytes: Uint8Array): Sidecar {
  // Precondition: the sidecar is bounded in size before it is parsed.
  if (bytes.length > MAX_SIDECAR_BYTES) throw new StoreCorrupt(`keystore sidecar: larger than ${MAX_SIDECAR_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new StoreCorrupt('keystore sidecar: not valid UTF-8 JSON');
  }
  if (!isPlainObject(parsed)) throw new StoreCorrupt('keystore sidecar: not a JSON object');
  const unknown = Object.keys(parsed).filter((k) => !(SIDECAR_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new StoreCorrupt(`keystore sidecar: unknown field(s) ${unknown.slice(0, 4).join(', ')}`);
  if (parsed['format'] !== SIDECAR_FORMAT) throw new StoreCorrupt('keystore sidecar: not a fleetkey keystore key-info file');
  if (parsed['version'] !== SIDECAR_VERSION) throw new StoreCorrupt('keystore sidecar: unsupported version');
  // Precondition: the sidecar names the cipher this build opens; another cipher is never tried.
  if (parsed['cipher'] !== SQLITE_CIPHER) throw new StoreCorrupt('keystore sidecar: unsupported database cipher');
  const keyCheck = decodeBase64Field(parsed['keyCheck'], 'keyCheck', DERIVED_KEY_LENGTH, DERIVED_KEY_LENGTH);
  return { cipher: SQLITE_CIPHER, keyCheck, protector: validateDescriptor(parsed['protector']) };
}

/** @throws StoreNotFound when there is no sidecar; StoreCorrupt when it does not parse. */
export async function readSidecar(databasePath: string): Promise<Sidecar> {
  const file = sidecarPath(databasePath);
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, 'r');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') throw new StoreNotFound(`keystore sidecar ${file} not found`);
    throw error;
  }
  try {
    const { size } = await handle.stat();
    if (size > MAX_SIDECAR_BYTES) throw new StoreCorrupt(`keystore sidecar: larger than ${MAX_SIDECAR_BYTES} bytes`);
    const buffer = new Uint8Array(size);
    const { bytesRead } = await handle.read(buffer, 0, size, 0);
    return decodeSidecar(buffer.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** Atomically writes (or replaces) the sidecar of `databasePath`. */
export async function writeSidecar(databasePath: string, sidecar: Sidecar): Promise<void> {
  await writeFileAtomic(sidecarPath(databasePath), encodeSidecar(sidecar), SIDECAR_FILE_MODE);
}
