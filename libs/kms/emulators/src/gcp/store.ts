/**
 * In-memory state of one emulator: key rings, crypto keys and their versions, with real key
 * material (AES-256 keys, EC / RSA / Ed25519 key pairs). Lookups throw the status errors the real
 * service answers with; the service layer (service.ts) only adds the wire shapes.
 *
 * Trust boundary: holds private keys in process memory; test and demo use only.
 */
import { randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { generateKeyPair } from '@fleetkey/crypto';
import { gcpAlgorithmInfo } from './algorithms.js';
import type { GcpAlgorithmInfo, GcpPurpose } from './algorithms.js';
import { KEY_TAG_LENGTH } from './ciphertext.js';
import { alreadyExists, incorrectPurpose, invalidArgument, notEnabled, notFound, unimplemented } from './status.js';

export type VersionState = 'ENABLED' | 'DISABLED';

export interface VersionRecord {
  readonly name: string;
  readonly id: number;
  readonly algorithm: string;
  readonly info: GcpAlgorithmInfo;
  state: VersionState;
  readonly createTime: Date;
  /** Before this instant (clock ms) the version reports PENDING_GENERATION and cannot be used. */
  readonly readyAt: number;
  readonly secret?: Buffer;
  readonly privateKey?: KeyObject;
  readonly publicKeyPem?: string;
}

export interface CryptoKeyRecord {
  readonly name: string;
  readonly purpose: GcpPurpose;
  readonly algorithm: string;
  readonly protectionLevel: string;
  readonly labels: Record<string, string>;
  readonly createTime: Date;
  readonly keyTag: Buffer;
  readonly versions: Map<number, VersionRecord>;
  nextVersion: number;
  primary?: number;
}

export interface KeyRingRecord {
  readonly name: string;
  readonly createTime: Date;
  readonly keys: Map<string, CryptoKeyRecord>;
}

/** Bounds that keep one emulator's memory finite. */
export const MAX_KEY_RINGS = 1000;
export const MAX_KEYS_PER_RING = 10_000;
export const MAX_VERSIONS_PER_KEY = 1000;
export const MAX_LABELS = 64;
// Cloud KMS label rules (https://cloud.google.com/kms/docs/creating-managing-labels).
const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;

export class GcpKmsStore {
  readonly #rings = new Map<string, KeyRingRecord>();
  readonly #clock: () => Date;
  readonly #generationDelayMs: number;

  /** @param generationDelayMs how long new asymmetric versions stay PENDING_GENERATION (Google: seconds). */
  constructor(clock: () => Date, generationDelayMs = 0) {
    this.#clock = clock;
    this.#generationDelayMs = generationDelayMs;
  }

  /** The state a client sees now. */
  stateOf(version: VersionRecord): VersionState | 'PENDING_GENERATION' {
    return this.#clock().getTime() < version.readyAt ? 'PENDING_GENERATION' : version.state;
  }

  /** @throws GcpStatusError FAILED_PRECONDITION when the version cannot be used now. */
  assertEnabled(version: VersionRecord): void {
    const state = this.stateOf(version);
    if (state !== 'ENABLED') throw notEnabled(version.name, state);
  }

  createKeyRing(name: string): KeyRingRecord {
    if (this.#rings.has(name)) throw alreadyExists(name);
    if (this.#rings.size >= MAX_KEY_RINGS) throw invalidArgument('Too many key rings in this emulator.');
    const ring: KeyRingRecord = { name, createTime: this.#clock(), keys: new Map() };
    this.#rings.set(name, ring);
    return ring;
  }

  keyRing(name: string): KeyRingRecord {
    const ring = this.#rings.get(name);
    if (!ring) throw notFound('KeyRing', name);
    return ring;
  }

  async createCryptoKey(params: {
    ring: string;
    name: string;
    purpose: string;
    algorithm: string | undefined;
    protectionLevel: string | undefined;
    labels: Record<string, string> | undefined;
    skipInitialVersion: boolean;
  }): Promise<CryptoKeyRecord> {
    const ring = this.keyRing(params.ring);
    if (ring.keys.has(params.name)) throw alreadyExists(params.name);
    if (ring.keys.size >= MAX_KEYS_PER_RING) throw invalidArgument('Too many crypto keys in this key ring.');
    if (params.purpose !== 'ENCRYPT_DECRYPT' && params.purpose !== 'ASYMMETRIC_SIGN') {
      if (params.purpose === 'ASYMMETRIC_DECRYPT' || params.purpose === 'MAC' || params.purpose === 'RAW_ENCRYPT_DECRYPT' || params.purpose === 'KEY_ENCAPSULATION') {
        throw unimplemented(`Purpose ${params.purpose}`);
      }
      throw invalidArgument('crypto_key.purpose is required.');
    }
    const algorithm = params.algorithm ?? (params.purpose === 'ENCRYPT_DECRYPT' ? 'GOOGLE_SYMMETRIC_ENCRYPTION' : undefined);
    if (algorithm === undefined) throw invalidArgument('crypto_key.version_template.algorithm is required for asymmetric keys.');
    const info = gcpAlgorithmInfo(algorithm);
    if (!info) throw unimplemented(`Algorithm ${algorithm}`);
    if (info.purpose !== params.purpose) {
      throw invalidArgument(`Algorithm ${algorithm} is not compatible with purpose ${params.purpose}.`);
    }
    const protectionLevel = params.protectionLevel ?? 'SOFTWARE';
    if (protectionLevel !== 'SOFTWARE' && protectionLevel !== 'HSM') throw unimplemented(`Protection level ${protectionLevel}`);
    const labels = validateLabels(params.labels ?? {});
    const key: CryptoKeyRecord = {
      name: params.name,
      purpose: params.purpose,
      algorithm,
      protectionLevel,
      labels,
      createTime: this.#clock(),
      keyTag: randomBytes(KEY_TAG_LENGTH),
      versions: new Map(),
      nextVersion: 1,
    };
    if (!params.skipInitialVersion) {
      await this.#addVersion(key);
    }
    // Insert after the (asynchronous) generation so a concurrent create of the same name loses.
    if (ring.keys.has(params.name)) throw alreadyExists(params.name);
    ring.keys.set(params.name, key);
    return key;
  }

  cryptoKey(name: string, ring: string): CryptoKeyRecord {
    const key = this.#rings.get(ring)?.keys.get(name);
    if (!key) throw notFound('CryptoKey', name);
    return key;
  }

  version(key: CryptoKeyRecord, id: number): VersionRecord {
    const version = key.versions.get(id);
    if (!version) throw notFound('CryptoKeyVersion', `${key.name}/cryptoKeyVersions/${id}`);
    return version;
  }

  async createVersion(key: CryptoKeyRecord): Promise<VersionRecord> {
    if (key.versions.size >= MAX_VERSIONS_PER_KEY) throw invalidArgument('Too many versions for this crypto key.');
    return this.#addVersion(key);
  }

  async #addVersion(key: CryptoKeyRecord): Promise<VersionRecord> {
    const id = key.nextVersion++;
    const info = gcpAlgorithmInfo(key.algorithm)!;
    const createTime = this.#clock();
    // Real Cloud KMS answers PENDING_GENERATION for new asymmetric versions and enables them a few
    // seconds later; `generationDelayMs` reproduces that (0 by default: enabled at once).
    const readyAt = createTime.getTime() + (key.purpose === 'ASYMMETRIC_SIGN' ? this.#generationDelayMs : 0);
    const base = { name: `${key.name}/cryptoKeyVersions/${id}`, id, algorithm: key.algorithm, info, state: 'ENABLED' as VersionState, createTime, readyAt };
    let version: VersionRecord;
    if (info.purpose === 'ENCRYPT_DECRYPT') {
      version = { ...base, secret: randomBytes(32) };
    } else {
      const pair = await generateKeyPair(info.keyAlgorithm);
      version = { ...base, privateKey: pair.privateKey, publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() };
    }
    key.versions.set(id, version);
    // Symmetric keys get a primary at creation; asymmetric keys never have one (Cloud KMS rule).
    if (key.purpose === 'ENCRYPT_DECRYPT' && key.primary === undefined) key.primary = id;
    return version;
  }

  setPrimary(key: CryptoKeyRecord, id: number): void {
    if (key.purpose !== 'ENCRYPT_DECRYPT') throw incorrectPurpose(key.name, key.purpose);
    this.assertEnabled(this.version(key, id));
    key.primary = id;
  }

  listKeys(ring: string): CryptoKeyRecord[] {
    return [...this.keyRing(ring).keys.values()];
  }
}

/** @throws GcpStatusError INVALID_ARGUMENT on a label the real service refuses. */
export function validateLabels(labels: Record<string, string>): Record<string, string> {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) throw invalidArgument(`A resource can have at most ${MAX_LABELS} labels.`);
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k) || typeof v !== 'string' || !LABEL_VALUE.test(v)) {
      throw invalidArgument('Label keys and values must be lowercase letters, digits, underscores and dashes (keys start with a letter, at most 63 characters).');
    }
  }
  return { ...labels };
}
