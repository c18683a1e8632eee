/**
 * `localKmsProvider`: the KmsProvider over one passphrase-protected key file — the embedded
 * default and the offline fallback. AES_256 keys wrap (envelope 0x30 KMS_AES_256_GCM: a fresh CEK,
 * itself sealed as an AES-256-GCM envelope under the key version and bound to the caller's
 * context); ECDSA P-256/P-384/P-521, RSA 2048/3072/4096 and Ed25519 keys sign. Every key has
 * numbered versions; rotation adds a primary version and keeps the old ones for unwrap / verify.
 *
 * Trust boundary: callers are trusted code; envelopes and signatures handed to unwrap / verify
 * are attacker bytes. Private keys and AES key versions never leave this module: callers get
 * envelopes, signatures and public keys. Errors carry provider, key id and operation only.
 */
import { createPublicKey, randomFillSync, randomUUID, type KeyObject } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import type { AsymmetricAlgorithm } from '@fleetkey/key-types';
import {
  createLocalSigner,
  generateKeyPair,
  isSignatureAlgorithm,
  openEnvelope,
  readEnvelopeHeader,
  sealEnvelope,
  signatureAlgorithmsFor,
  verifySignature,
  type EnvelopeHeader,
  type SignatureAlgorithm,
  type Signer,
} from '@fleetkey/crypto';
import {
  DATA_KEY_LENGTH,
  InvalidCiphertext,
  InvalidKeyUsage,
  KeyDisabled,
  KeyNotFound,
  UnsupportedKeySpec,
  defaultSignatureAlgorithmOfSpec,
  isKmsKeySpec,
  openKmsEnvelope,
  purposeOfSpec,
  sealWithKmsWrappedKey,
  type DataKey,
  type KmsContext,
  type KmsHealth,
  type KmsKeyDescription,
  type KmsKeyPurpose,
  type KmsKeySpec,
  type KmsOperation,
  type KmsProvider,
  type KmsSignature,
} from '@fleetkey/kms-core';
import {
  AES_KEY_LENGTH,
  DEFAULT_LOCK_TIMEOUT_MS,
  LOCAL_PROVIDER_NAME,
  MAX_DESCRIPTION_LENGTH,
  MAX_LIST_LIMIT,
  MAX_LOCK_TIMEOUT_MS,
  MAX_VERSIONS_PER_KEY,
  MAX_WRAPPED_CEK_LENGTH,
} from './constants.js';
import { mapIoError } from './errors.js';
import { nodeIo, type LocalKmsIo } from './io.js';
import { LOCAL_KEY_SPECS, checkMaterial, tagsProblem, type StoredKey, type StoredVersion } from './keyfile/body.js';
import type { ScryptParams } from './keyfile/header.js';
import { DEFAULT_SCRYPT, KeySet } from './keyset.js';
import { passphraseFromFile, passphraseFromValue } from './passphrase.js';

export interface LocalKmsProviderOptions {
  /** The key file. */
  readonly path: string;
  /** The passphrase itself (tests, embedding). Exactly one of passphrase / passphraseFile. */
  readonly passphrase?: string | Uint8Array;
  /** A file holding the passphrase (mode 0600; one trailing newline is ignored). */
  readonly passphraseFile?: string;
  /** Make the key file when it does not exist (default false: a missing file is InvalidKmsConfig). */
  readonly create?: boolean;
  /** Clock for createdAt (default `() => new Date()`). */
  readonly now?: () => Date;
  /** The file-system seam (default node:fs). Tests inject failures and latency here. */
  readonly io?: LocalKmsIo;
  /** scrypt parameters of a NEW file (default log2N=15, r=8, p=1; weaker is refused). */
  readonly scrypt?: ScryptParams;
  /** How long a writer waits for another process's lock (default 5 s, at most 60 s). */
  readonly lockTimeoutMs?: number;
  /** Liveness check of a lock holder's pid (default `process.kill(pid, 0)`). */
  readonly isProcessAlive?: (pid: number) => boolean;
}

export interface LocalKmsProvider extends KmsProvider {
  readonly name: 'local';
  /** The absolute key file path. */
  readonly path: string;
  /** @throws KeyNotFound */
  enableKey(keyId: string): Promise<KmsKeyDescription>;
  /** A disabled key refuses wrap, unwrap, sign, verify, getPublicKey and rotate. @throws KeyNotFound */
  disableKey(keyId: string): Promise<KmsKeyDescription>;
}

/** Largest CEK envelope: header + key id + 32-byte CEK + tag, far below MAX_WRAPPED_CEK_LENGTH. */
const CEK_CIPHERTEXT_LENGTH = DATA_KEY_LENGTH + 16;

function checkKeyId(keyId: unknown): asserts keyId is string {
  if (typeof keyId !== 'string') throw new TypeError('"keyId" expected a string');
}

function describe(key: StoredKey): KmsKeyDescription {
  return Object.freeze({
    provider: LOCAL_PROVIDER_NAME,
    keyId: key.keyId,
    spec: key.spec,
    purpose: purposeOfSpec(key.spec),
    enabled: key.enabled,
    currentVersion: key.primaryVersion,
    createdAt: new Date(key.createdAt),
    tags: Object.freeze({ ...key.tags }),
  });
}

async function makeMaterial(spec: KmsKeySpec): Promise<Uint8Array> {
  // randomFillSync into our own buffer: no copy of the key is left in Node's buffer pool.
  if (spec === 'AES_256') return randomFillSync(new Uint8Array(AES_KEY_LENGTH));
  const { privateKey } = await generateKeyPair(spec as AsymmetricAlgorithm);
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const material = new Uint8Array(der);
  der.fill(0);
  return material;
}

function newVersion(spec: KmsKeySpec, version: number, createdAt: number, material: Uint8Array): StoredVersion {
  const privateKey = checkMaterial(spec, material);
  return privateKey ? { version, createdAt, material, privateKey } : { version, createdAt, material };
}

class LocalKms implements LocalKmsProvider {
  readonly name = 'local' as const;
  readonly supportedKeySpecs: readonly KmsKeySpec[] = LOCAL_KEY_SPECS;
  readonly path: string;
  readonly #keys: KeySet;
  readonly #now: () => Date;
  // Derived public keys and signers, per version object (a reload makes new version objects).
  readonly #publicKeys = new WeakMap<StoredVersion, KeyObject>();
  readonly #signers = new WeakMap<StoredVersion, Map<SignatureAlgorithm, Signer>>();

  constructor(path: string, keys: KeySet, now: () => Date) {
    this.path = path;
    this.#keys = keys;
    this.#now = now;
  }

  #find(keys: ReadonlyMap<string, StoredKey>, keyId: string, operation: KmsOperation): StoredKey {
    const key = keys.get(keyId);
    if (!key) throw new KeyNotFound({ provider: LOCAL_PROVIDER_NAME, keyId, operation });
    return key;
  }

  /** Refreshes, finds the key, and checks it is enabled and of `purpose`. */
  async #usable(keyId: unknown, operation: KmsOperation, purpose: KmsKeyPurpose): Promise<StoredKey> {
    checkKeyId(keyId);
    await this.#keys.refresh(operation, keyId);
    const key = this.#find(this.#keys.keys, keyId, operation);
    const where = { provider: LOCAL_PROVIDER_NAME, keyId, operation };
    // Precondition: a disabled key does nothing but describe / list / enable.
    if (!key.enabled) throw new KeyDisabled(where);
    // Precondition: AES keys only wrap; asymmetric keys only sign.
    if (purposeOfSpec(key.spec) !== purpose) throw new InvalidKeyUsage({ ...where, detail: `a ${key.spec} key cannot ${operation}` });
    return key;
  }

  #version(key: StoredKey, version: number | undefined, operation: KmsOperation): StoredVersion {
    const wanted = version ?? key.primaryVersion;
    if (!Number.isInteger(wanted) || wanted < 1) throw new RangeError(`"keyVersion" expected a positive integer, got ${wanted}`);
    const found = key.versions[wanted - 1];
    if (!found) throw new KeyNotFound({ provider: LOCAL_PROVIDER_NAME, keyId: key.keyId, operation, detail: `no version ${wanted}` });
    return found;
  }

  #algorithm(key: StoredKey, algorithm: unknown, operation: KmsOperation): SignatureAlgorithm {
    const where = { provider: LOCAL_PROVIDER_NAME, keyId: key.keyId, operation };
    if (algorithm === undefined) return defaultSignatureAlgorithmOfSpec(key.spec)!;
    if (!isSignatureAlgorithm(algorithm)) throw new UnsupportedKeySpec({ ...where, detail: 'unknown signature algorithm' });
    // Precondition: a signature algorithm that does not fit the key is refused, never substituted.
    if (!signatureAlgorithmsFor(key.spec as AsymmetricAlgorithm).includes(algorithm)) {
      throw new InvalidKeyUsage({ ...where, detail: `a ${key.spec} key cannot make ${algorithm} signatures` });
    }
    return algorithm;
  }

  #publicKey(version: StoredVersion): KeyObject {
    let publicKey = this.#publicKeys.get(version);
    if (!publicKey) {
      publicKey = createPublicKey(version.privateKey!);
      this.#publicKeys.set(version, publicKey);
    }
    return publicKey;
  }

  #signer(key: StoredKey, version: StoredVersion, algorithm: SignatureAlgorithm): Signer {
    let byAlgorithm = this.#signers.get(version);
    if (!byAlgorithm) {
      byAlgorithm = new Map();
      this.#signers.set(version, byAlgorithm);
    }
    let signer = byAlgorithm.get(algorithm);
    if (!signer) {
      signer = createLocalSigner(version.privateKey!, { algorithm, keyId: `${key.keyId}/${version.version}` });
      byAlgorithm.set(algorithm, signer);
    }
    return signer;
  }

  async createKey(params: { spec: KmsKeySpec; tags?: Record<string, string>; description?: string }): Promise<KmsKeyDescription> {
    if (typeof params !== 'object' || params === null) throw new TypeError('"params" expected an object');
    const { spec, tags = {}, description } = params;
    // Precondition: an unsupported key spec is refused, never substituted.
    if (!isKmsKeySpec(spec) || !this.supportedKeySpecs.includes(spec)) {
      throw new UnsupportedKeySpec({ provider: LOCAL_PROVIDER_NAME, operation: 'createKey', detail: `key spec ${String(spec).slice(0, 32)}` });
    }
    const problem = tagsProblem(tags);
    if (problem) throw new RangeError(`"tags": ${problem}`);
    if (description !== undefined && (typeof description !== 'string' || description.length > MAX_DESCRIPTION_LENGTH)) {
      throw new RangeError(`"description" expected a string of at most ${MAX_DESCRIPTION_LENGTH} characters`);
    }
    const material = await makeMaterial(spec);
    const createdAt = this.#now().getTime();
    const keyId = randomUUID();
    try {
      return await this.#keys.mutate('createKey', keyId, (keys) => {
        const key: StoredKey = {
          keyId,
          spec,
          enabled: true,
          createdAt,
          ...(description === undefined ? {} : { description }),
          tags: Object.freeze({ ...tags }),
          primaryVersion: 1,
          versions: [newVersion(spec, 1, createdAt, new Uint8Array(material))],
        };
        keys.set(keyId, key);
        return describe(key);
      });
    } finally {
      material.fill(0);
    }
  }

  async describeKey(keyId: string): Promise<KmsKeyDescription> {
    checkKeyId(keyId);
    await this.#keys.refresh('describeKey', keyId);
    return describe(this.#find(this.#keys.keys, keyId, 'describeKey'));
  }

  async listKeys(filter: { tags?: Record<string, string>; purpose?: KmsKeyPurpose; limit?: number } = {}): Promise<KmsKeyDescription[]> {
    const limit = filter.limit ?? MAX_LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw new RangeError(`"limit" expected 1..${MAX_LIST_LIMIT}, got ${limit}`);
    await this.#keys.refresh('listKeys');
    const wanted = Object.entries(filter.tags ?? {});
    const out: KmsKeyDescription[] = [];
    for (const key of this.#keys.keys.values()) {
      if (filter.purpose !== undefined && purposeOfSpec(key.spec) !== filter.purpose) continue;
      if (!wanted.every(([name, value]) => key.tags[name] === value)) continue;
      out.push(describe(key));
      if (out.length >= limit) break;
    }
    return out;
  }

  async rotateKey(keyId: string): Promise<KmsKeyDescription> {
    checkKeyId(keyId);
    await this.#keys.refresh('rotateKey', keyId);
    const current = this.#find(this.#keys.keys, keyId, 'rotateKey');
    const material = await makeMaterial(current.spec);
    const createdAt = this.#now().getTime();
    try {
      return await this.#keys.mutate('rotateKey', keyId, (keys) => {
        const key = this.#find(keys, keyId, 'rotateKey');
        const where = { provider: LOCAL_PROVIDER_NAME, keyId, operation: 'rotateKey' as const };
        if (!key.enabled) throw new KeyDisabled(where);
        if (key.versions.length >= MAX_VERSIONS_PER_KEY) {
          throw new InvalidKeyUsage({ ...where, detail: `a key has at most ${MAX_VERSIONS_PER_KEY} versions` });
        }
        const version = key.versions.length + 1;
        key.versions.push(newVersion(key.spec, version, createdAt, new Uint8Array(material)));
        key.primaryVersion = version;
        return describe(key);
      });
    } finally {
      material.fill(0);
    }
  }

  async #setEnabled(keyId: string, enabled: boolean, operation: KmsOperation): Promise<KmsKeyDescription> {
    checkKeyId(keyId);
    return this.#keys.mutate(operation, keyId, (keys) => {
      const key = this.#find(keys, keyId, operation);
      key.enabled = enabled;
      return describe(key);
    });
  }

  enableKey(keyId: string): Promise<KmsKeyDescription> {
    return this.#setEnabled(keyId, true, 'configure');
  }

  disableKey(keyId: string): Promise<KmsKeyDescription> {
    return this.#setEnabled(keyId, false, 'configure');
  }

  async generateDataKey(params: { keyId: string; context?: KmsContext }): Promise<DataKey> {
    const plaintext = randomFillSync(new Uint8Array(DATA_KEY_LENGTH));
    try {
      const wrapped = await this.#wrap(params?.keyId, plaintext, params?.context, 'generateDataKey');
      return { plaintext, wrapped };
    } catch (error) {
      plaintext.fill(0);
      throw error;
    }
  }

  wrap(params: { keyId: string; plaintext: Uint8Array; context?: KmsContext }): Promise<Uint8Array> {
    return this.#wrap(params?.keyId, params?.plaintext, params?.context, 'wrap');
  }

  async #wrap(keyId: unknown, plaintext: unknown, context: KmsContext | undefined, operation: KmsOperation): Promise<Uint8Array> {
    if (!(plaintext instanceof Uint8Array)) throw new TypeError('"plaintext" expected a Uint8Array');
    const key = await this.#usable(keyId, operation, 'encrypt');
    const version = this.#version(key, undefined, operation);
    const cek = randomFillSync(new Uint8Array(DATA_KEY_LENGTH));
    try {
      // The CEK is sealed under the key version and bound to the same context as the payload
      // (as AWS binds its EncryptionContext), so the CEK alone cannot be moved to another context.
      const encapsulatedKey = sealEnvelope({
        key: version.material,
        algorithm: 'AES_256_GCM',
        provider: LOCAL_PROVIDER_NAME,
        keyId: key.keyId,
        keyVersion: version.version,
        plaintext: cek,
        ...(context === undefined ? {} : { context }),
      });
      return sealWithKmsWrappedKey({
        provider: LOCAL_PROVIDER_NAME,
        keyId: key.keyId,
        keyVersion: version.version,
        encapsulatedKey,
        cek,
        plaintext,
        ...(context === undefined ? {} : { context }),
      });
    } finally {
      cek.fill(0);
    }
  }

  async unwrap(params: { envelope: Uint8Array; context?: KmsContext }): Promise<Uint8Array> {
    const envelope = params?.envelope;
    if (!(envelope instanceof Uint8Array)) throw new TypeError('"envelope" expected a Uint8Array');
    const context = params.context;
    await this.#keys.refresh('unwrap');
    const opened = await openKmsEnvelope(envelope, async (header) => this.#unwrapCek(header, context), context, {
      provider: LOCAL_PROVIDER_NAME,
    });
    // Hand back a plain Uint8Array of our own (the opener may return a Buffer view of a pool).
    const plaintext = new Uint8Array(opened);
    opened.fill(0);
    return plaintext;
  }

  async #unwrapCek(header: EnvelopeHeader, context: KmsContext | undefined): Promise<Uint8Array> {
    const where = { provider: LOCAL_PROVIDER_NAME, keyId: header.keyId, operation: 'unwrap' as const };
    const key = this.#find(this.#keys.keys, header.keyId, 'unwrap');
    if (!key.enabled) throw new KeyDisabled(where);
    if (purposeOfSpec(key.spec) !== 'encrypt') throw new InvalidCiphertext(where);
    const version = key.versions[header.keyVersion - 1];
    if (!version || header.encapsulatedKey.length > MAX_WRAPPED_CEK_LENGTH) throw new InvalidCiphertext(where);
    // Precondition: the sealed CEK names the same key and version as the outer envelope.
    const inner = readEnvelopeHeader(header.encapsulatedKey, { maxCiphertextLength: CEK_CIPHERTEXT_LENGTH });
    if (inner.algorithm !== 'AES_256_GCM' || inner.provider !== LOCAL_PROVIDER_NAME || inner.keyId !== key.keyId || inner.keyVersion !== version.version) {
      throw new InvalidCiphertext(where);
    }
    return openEnvelope(header.encapsulatedKey, version.material, context, { maxCiphertextLength: CEK_CIPHERTEXT_LENGTH });
  }

  async sign(params: { keyId: string; data: Uint8Array; algorithm?: SignatureAlgorithm }): Promise<KmsSignature> {
    if (!(params?.data instanceof Uint8Array)) throw new TypeError('"data" expected a Uint8Array');
    const key = await this.#usable(params.keyId, 'sign', 'sign');
    const algorithm = this.#algorithm(key, params.algorithm, 'sign');
    const version = this.#version(key, undefined, 'sign');
    const signature = await this.#signer(key, version, algorithm).sign(params.data);
    return { signature, algorithm, keyVersion: version.version };
  }

  async verify(params: { keyId: string; data: Uint8Array; signature: Uint8Array; algorithm?: SignatureAlgorithm; keyVersion?: number }): Promise<boolean> {
    if (!(params?.data instanceof Uint8Array)) throw new TypeError('"data" expected a Uint8Array');
    if (!(params.signature instanceof Uint8Array)) throw new TypeError('"signature" expected a Uint8Array');
    const key = await this.#usable(params.keyId, 'verify', 'sign');
    const algorithm = this.#algorithm(key, params.algorithm, 'verify');
    const version = this.#version(key, params.keyVersion, 'verify');
    return verifySignature(this.#publicKey(version), algorithm, params.data, params.signature);
  }

  async getPublicKey(params: { keyId: string; keyVersion?: number }): Promise<KeyObject> {
    const key = await this.#usable(params?.keyId, 'getPublicKey', 'sign');
    return this.#publicKey(this.#version(key, params.keyVersion, 'getPublicKey'));
  }

  async health(): Promise<KmsHealth> {
    const started = performance.now();
    if (this.#keys.closed) return { ok: false, latencyMs: 0, detail: 'closed' };
    try {
      // One stat of the key file (and a reload if another process replaced it).
      await this.#keys.refresh('health');
      return { ok: true, latencyMs: performance.now() - started };
    } catch (error) {
      const mapped = mapIoError(error, 'health') as { code?: unknown };
      return { ok: false, latencyMs: performance.now() - started, detail: typeof mapped.code === 'string' ? mapped.code : 'error' };
    }
  }

  async close(): Promise<void> {
    this.#keys.close();
  }
}

/**
 * Opens (or with `create: true` makes) a local key file and returns the provider over it.
 * @throws TypeError / RangeError on misuse (no path, both or neither passphrase options, weak scrypt);
 *   InvalidKmsConfig (missing file without `create`, a bad passphrase file); LocalKeyFileLocked
 *   (ACCESS_DENIED: wrong passphrase or an altered file); LocalKeyFileCorrupt (STORE_CORRUPT);
 *   ProviderUnavailable / Throttled / AccessDenied for file-system failures.
 */
export async function localKmsProvider(options: LocalKmsProviderOptions): Promise<LocalKmsProvider> {
  if (typeof options !== 'object' || options === null) throw new TypeError('"options" expected an object');
  if (typeof options.path !== 'string' || options.path.length === 0) throw new TypeError('"path" expected a non-empty string');
  if ((options.passphrase === undefined) === (options.passphraseFile === undefined)) {
    throw new TypeError('expected exactly one of "passphrase" and "passphraseFile"');
  }
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  if (!Number.isInteger(lockTimeoutMs) || lockTimeoutMs < 0 || lockTimeoutMs > MAX_LOCK_TIMEOUT_MS) {
    throw new RangeError(`"lockTimeoutMs" expected 0..${MAX_LOCK_TIMEOUT_MS}, got ${lockTimeoutMs}`);
  }
  const path = resolvePath(options.path);
  const passphrase =
    options.passphrase !== undefined ? passphraseFromValue(options.passphrase) : await passphraseFromFile(options.passphraseFile!);
  const io = options.io ?? nodeIo;
  const keys = await KeySet.open({
    path,
    io,
    passphrase,
    create: options.create ?? false,
    scrypt: options.scrypt ?? DEFAULT_SCRYPT,
    lock: { timeoutMs: lockTimeoutMs, ...(options.isProcessAlive ? { isProcessAlive: options.isProcessAlive } : {}) },
  });
  return new LocalKms(path, keys, options.now ?? (() => new Date()));
}
