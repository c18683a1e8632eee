/**
 * The key file's body (the plaintext inside the sealed envelope):
 *
 *   uint32 big-endian  length of the metadata JSON
 *   metadata JSON      UTF-8, no key material (see MetadataJson below)
 *   material section   every version's material, concatenated in the order the JSON lists keys
 *                      and versions; each version's `length` says how many bytes are its own, and
 *                      the lengths must add up to exactly the rest of the body.
 *
 * Material: AES_256 versions are 32 raw bytes; asymmetric versions are PKCS#8 DER private keys.
 * Keeping material out of the JSON means it is never a JS string (which cannot be zeroized):
 * it lives in Uint8Arrays the provider owns and wipes.
 *
 * Trust boundary: `decodeBody` runs only after the envelope authenticated the body, but it is
 * still strict (exact field sets, bounds, consecutive versions, unique ids, each private key
 * parsed and checked against its spec) so a file written by a buggy or newer build is refused
 * with LocalKeyFileCorrupt rather than half-understood.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { keyAlgorithmOf } from '@fleetkey/crypto';
import type { KmsKeySpec } from '@fleetkey/kms-core';
import {
  AES_KEY_LENGTH,
  KEY_ID_PATTERN,
  MAX_BODY_JSON_BYTES,
  MAX_DESCRIPTION_LENGTH,
  MAX_KEYS,
  MAX_PRIVATE_KEY_DER_LENGTH,
  MAX_TAG_KEY_LENGTH,
  MAX_TAG_VALUE_LENGTH,
  MAX_TAGS,
  MAX_VERSIONS_PER_KEY,
  TAG_KEY_PATTERN,
  TAG_VALUE_PATTERN,
} from '../constants.js';
import { LocalKeyFileCorrupt } from '../errors.js';

export const BODY_FORMAT = 'fleetkey-local-kms-keys';
export const LOCAL_KEY_SPECS: readonly KmsKeySpec[] = Object.freeze([
  'AES_256',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECDSA_P256',
  'ECDSA_P384',
  'ECDSA_P521',
  'ED25519',
] as const);

export interface StoredVersion {
  readonly version: number;
  readonly createdAt: number;
  /** 32 raw bytes (AES_256) or PKCS#8 DER. Owned by the key set; wiped by `wipeKeys`. */
  readonly material: Uint8Array;
  /** Parsed private key (asymmetric specs only), made once at load. */
  readonly privateKey?: KeyObject;
}

export interface StoredKey {
  readonly keyId: string;
  readonly spec: KmsKeySpec;
  enabled: boolean;
  readonly createdAt: number;
  readonly description?: string;
  readonly tags: Readonly<Record<string, string>>;
  primaryVersion: number;
  readonly versions: StoredVersion[];
}

const KEY_FIELDS = new Set(['keyId', 'spec', 'enabled', 'createdAt', 'description', 'tags', 'primaryVersion', 'versions']);
const VERSION_FIELDS = new Set(['version', 'createdAt', 'length']);

/** Wipes every material buffer of `keys`. */
export function wipeKeys(keys: Iterable<StoredKey>): void {
  for (const key of keys) for (const version of key.versions) version.material.fill(0);
}

/** Checks tags (the same rules for createKey input and the file). Returns a message or undefined. */
export function tagsProblem(tags: unknown): string | undefined {
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) return 'tags must be an object';
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS) return `at most ${MAX_TAGS} tags`;
  for (const [name, value] of entries) {
    if (name.length > MAX_TAG_KEY_LENGTH || !TAG_KEY_PATTERN.test(name)) return `tag names are 1..${MAX_TAG_KEY_LENGTH} printable ASCII characters`;
    if (typeof value !== 'string' || value.length > MAX_TAG_VALUE_LENGTH || !TAG_VALUE_PATTERN.test(value)) {
      return `tag values are 0..${MAX_TAG_VALUE_LENGTH} printable ASCII characters`;
    }
  }
  return undefined;
}

/** Parses and checks a version's material against its spec. @throws LocalKeyFileCorrupt */
export function checkMaterial(spec: KmsKeySpec, material: Uint8Array): KeyObject | undefined {
  if (spec === 'AES_256') {
    if (material.length !== AES_KEY_LENGTH) throw new LocalKeyFileCorrupt('AES_256 material is not 32 bytes');
    return undefined;
  }
  if (material.length < 1 || material.length > MAX_PRIVATE_KEY_DER_LENGTH) throw new LocalKeyFileCorrupt('private key length out of bounds');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(material.buffer, material.byteOffset, material.byteLength), format: 'der', type: 'pkcs8' });
  } catch (error) {
    throw new LocalKeyFileCorrupt('a private key does not parse', { cause: error });
  }
  let algorithm: string;
  try {
    algorithm = keyAlgorithmOf(key);
  } catch (error) {
    throw new LocalKeyFileCorrupt('a private key is of an unsupported type', { cause: error });
  }
  if (algorithm !== spec) throw new LocalKeyFileCorrupt(`a private key is ${algorithm}, not ${spec}`);
  return key;
}

/** Serialises the key set. The caller owns the returned buffer (it holds key material) and wipes it. */
export function encodeBody(keys: readonly StoredKey[]): Uint8Array {
  const metadata = {
    format: BODY_FORMAT,
    keys: keys.map((k) => ({
      keyId: k.keyId,
      spec: k.spec,
      enabled: k.enabled,
      createdAt: k.createdAt,
      ...(k.description === undefined ? {} : { description: k.description }),
      tags: { ...k.tags },
      primaryVersion: k.primaryVersion,
      versions: k.versions.map((v) => ({ version: v.version, createdAt: v.createdAt, length: v.material.length })),
    })),
  };
  const json = Buffer.from(JSON.stringify(metadata), 'utf8');
  const materialLength = keys.reduce((sum, k) => sum + k.versions.reduce((s, v) => s + v.material.length, 0), 0);
  const out = new Uint8Array(4 + json.length + materialLength);
  new DataView(out.buffer).setUint32(0, json.length);
  out.set(json, 4);
  let offset = 4 + json.length;
  for (const key of keys) {
    for (const version of key.versions) {
      out.set(version.material, offset);
      offset += version.material.length;
    }
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTimestamp(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function exactFields(value: Record<string, unknown>, allowed: ReadonlySet<string>, required: readonly string[], what: string): void {
  for (const name of Object.keys(value)) if (!allowed.has(name)) throw new LocalKeyFileCorrupt(`unknown field in ${what}`);
  for (const name of required) if (!(name in value)) throw new LocalKeyFileCorrupt(`missing field "${name}" in ${what}`);
}

interface ParsedVersionMeta {
  readonly version: number;
  readonly createdAt: number;
  readonly length: number;
}

function parseVersions(value: unknown, spec: KmsKeySpec): ParsedVersionMeta[] {
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_VERSIONS_PER_KEY) {
    throw new LocalKeyFileCorrupt(`a key must have 1..${MAX_VERSIONS_PER_KEY} versions`);
  }
  return value.map((v: unknown, index) => {
    if (!isObject(v)) throw new LocalKeyFileCorrupt('a version is not an object');
    exactFields(v, VERSION_FIELDS, ['version', 'createdAt', 'length'], 'a version');
    // Versions are 1..n in order: nothing is ever deleted, so a gap means a damaged file.
    if (v['version'] !== index + 1) throw new LocalKeyFileCorrupt('versions are not numbered 1..n');
    if (!isTimestamp(v['createdAt'])) throw new LocalKeyFileCorrupt('a version has a bad createdAt');
    const length = v['length'];
    const max = spec === 'AES_256' ? AES_KEY_LENGTH : MAX_PRIVATE_KEY_DER_LENGTH;
    if (typeof length !== 'number' || !Number.isInteger(length) || length < 1 || length > max) {
      throw new LocalKeyFileCorrupt('a version has a material length out of bounds');
    }
    return { version: index + 1, createdAt: v['createdAt'], length };
  });
}

/**
 * Parses a body. Material is copied out of `body` (the caller wipes `body` afterwards).
 * @throws LocalKeyFileCorrupt for anything that is not exactly what `encodeBody` writes.
 */
export function decodeBody(body: Uint8Array): StoredKey[] {
  if (body.length < 4) throw new LocalKeyFileCorrupt('body truncated');
  const jsonLength = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
  if (jsonLength > MAX_BODY_JSON_BYTES || 4 + jsonLength > body.length) throw new LocalKeyFileCorrupt('metadata length out of bounds');
  let metadata: unknown;
  try {
    metadata = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(4, 4 + jsonLength)));
  } catch (error) {
    throw new LocalKeyFileCorrupt('metadata is not UTF-8 JSON', { cause: error });
  }
  if (!isObject(metadata)) throw new LocalKeyFileCorrupt('metadata is not an object');
  exactFields(metadata, new Set(['format', 'keys']), ['format', 'keys'], 'the metadata');
  if (metadata['format'] !== BODY_FORMAT) throw new LocalKeyFileCorrupt('metadata format label unknown');
  const rawKeys = metadata['keys'];
  if (!Array.isArray(rawKeys) || rawKeys.length > MAX_KEYS) throw new LocalKeyFileCorrupt(`keys must be a list of at most ${MAX_KEYS}`);

  const seen = new Set<string>();
  let offset = 4 + jsonLength;
  const keys: StoredKey[] = [];
  try {
    for (const raw of rawKeys as unknown[]) {
      if (!isObject(raw)) throw new LocalKeyFileCorrupt('a key is not an object');
      exactFields(raw, KEY_FIELDS, ['keyId', 'spec', 'enabled', 'createdAt', 'tags', 'primaryVersion', 'versions'], 'a key');
      const keyId = raw['keyId'];
      if (typeof keyId !== 'string' || !KEY_ID_PATTERN.test(keyId)) throw new LocalKeyFileCorrupt('a key id is malformed');
      if (seen.has(keyId)) throw new LocalKeyFileCorrupt('a key id appears twice');
      seen.add(keyId);
      const spec = raw['spec'];
      if (typeof spec !== 'string' || !(LOCAL_KEY_SPECS as readonly string[]).includes(spec)) throw new LocalKeyFileCorrupt('a key spec is unknown');
      if (typeof raw['enabled'] !== 'boolean') throw new LocalKeyFileCorrupt('a key has a bad enabled flag');
      if (!isTimestamp(raw['createdAt'])) throw new LocalKeyFileCorrupt('a key has a bad createdAt');
      const description = raw['description'];
      if (description !== undefined && (typeof description !== 'string' || description.length > MAX_DESCRIPTION_LENGTH)) {
        throw new LocalKeyFileCorrupt('a key description is out of bounds');
      }
      const tagProblem = tagsProblem(raw['tags']);
      if (tagProblem) throw new LocalKeyFileCorrupt(`a key has bad tags: ${tagProblem}`);
      const metas = parseVersions(raw['versions'], spec as KmsKeySpec);
      const primary = raw['primaryVersion'];
      if (typeof primary !== 'number' || !Number.isInteger(primary) || primary < 1 || primary > metas.length) {
        throw new LocalKeyFileCorrupt('a key names a primary version it does not have');
      }
      const versions: StoredVersion[] = [];
      const key: StoredKey = {
        keyId,
        spec: spec as KmsKeySpec,
        enabled: raw['enabled'],
        createdAt: raw['createdAt'],
        ...(description === undefined ? {} : { description }),
        tags: Object.freeze({ ...(raw['tags'] as Record<string, string>) }),
        primaryVersion: primary,
        versions,
      };
      keys.push(key);
      for (const meta of metas) {
        if (offset + meta.length > body.length) throw new LocalKeyFileCorrupt('material section truncated');
        // A copy, never a view: `body` may be a Buffer (whose slice() is a view) and is wiped after.
        const material = new Uint8Array(body.subarray(offset, offset + meta.length));
        offset += meta.length;
        versions.push({ version: meta.version, createdAt: meta.createdAt, material });
        const privateKey = checkMaterial(key.spec, material);
        if (privateKey) versions[versions.length - 1] = { version: meta.version, createdAt: meta.createdAt, material, privateKey };
      }
    }
    if (offset !== body.length) throw new LocalKeyFileCorrupt('trailing bytes after the material section');
  } catch (error) {
    wipeKeys(keys);
    throw error;
  }
  return keys;
}
