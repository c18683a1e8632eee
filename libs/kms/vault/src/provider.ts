/**
 * The Vault Transit adapter: KmsProvider over node-vault. Wrap encrypts a fresh 32-byte CEK with
 * `/transit/encrypt` (AES-256-GCM under the key's current version, with the caller's context as
 * `associated_data`) and seals the payload under the CEK (envelope 0x30, keyVersion = Vault's
 * version); unwrap makes the one `/transit/decrypt` call. Sign sends a digest with `prehashed` and
 * `marshaling_algorithm: asn1` (Ed25519: the message), so ECDSA comes back as DER. Verify and
 * getPublicKey read the key once and check with node:crypto and the public key alone.
 *
 * Trust boundary: Vault is the root of trust for key material; its answers are still checked in
 * shape. Envelopes are attacker input (openKmsEnvelope parses; key name and version are checked
 * before the call). CEKs are zeroized on every path; the token stays inside the client.
 */
import { createHash, randomBytes as nodeRandomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { MAX_SIGNED_MESSAGE_LENGTH, encodeContext, isSignatureAlgorithm, signatureAlgorithmInfo, verifySignature } from '@fleetkey/crypto';
import type { EnvelopeHeader, SignatureAlgorithm } from '@fleetkey/crypto';
import {
  DATA_KEY_LENGTH,
  InvalidCiphertext,
  InvalidKeyUsage,
  KeyDisabled,
  KeyNotFound,
  ProviderUnavailable,
  UnsupportedKeySpec,
  dataKeyByWrapping,
  defaultSignatureAlgorithmOfSpec,
  isKmsKeySpec,
  openKmsEnvelope,
  purposeOfSpec,
  sealWithKmsWrappedKey,
} from '@fleetkey/kms-core';
import type { DataKey, KmsContext, KmsHealth, KmsKeyDescription, KmsKeyPurpose, KmsKeySpec, KmsOperation, KmsProvider, KmsSignature } from '@fleetkey/kms-core';
import type { VaultClient, VaultResponse } from './client.js';
import type { ResolvedVaultKmsConfig } from './config.js';
import { VAULT_PROVIDER_NAME, mapVaultError } from './errors.js';
import type { VaultKeyInfo } from './keys.js';
import { describe, parseKeyData, splitVersioned, toPublicKey } from './keys.js';
import { isVaultKeyName, newKeyName, specOfName, tagsOfName } from './names.js';
import { VAULT_KEY_TYPES, VAULT_SIGNING, VAULT_SUPPORTED_KEY_SPECS, specOfVaultType } from './specs.js';

/**
 * Domain tag in front of the canonical context in `associated_data`. It binds every CEK to
 * fleetkey's use (a plain Transit decrypt without it fails) and makes the AD non-empty even for
 * an empty context, so a non-AEAD key (RSA) is refused by Vault instead of silently used.
 */
export const CEK_ASSOCIATED_DATA_TAG = Buffer.from('fleetkey/kms-cek/v1\0', 'ascii');
/** listKeys answers at most this many keys (and reads at most this many). */
export const MAX_LIST_KEYS = 1_000;
/** Key reads in flight at once during listKeys. */
export const LIST_READ_CONCURRENCY = 8;
/** Bound on the remembered key-name → spec entries (a Transit key's type never changes). */
export const MAX_SPEC_CACHE_ENTRIES = 4_096;

export interface VaultKmsProviderDeps {
  /** Clock for health latency (ms). */
  readonly now?: () => number;
  /** Randomness for CEKs. */
  readonly randomBytes?: (size: number) => Buffer;
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function associatedData(context: KmsContext | undefined): string {
  return Buffer.concat([CEK_ASSOCIATED_DATA_TAG, encodeContext(context)]).toString('base64');
}

export class VaultKmsProvider implements KmsProvider {
  readonly name = VAULT_PROVIDER_NAME;
  readonly supportedKeySpecs: readonly KmsKeySpec[] = VAULT_SUPPORTED_KEY_SPECS;
  readonly #client: VaultClient;
  readonly #config: ResolvedVaultKmsConfig;
  readonly #now: () => number;
  readonly #random: (size: number) => Buffer;
  readonly #specs = new Map<string, KmsKeySpec>();

  constructor(client: VaultClient, config: ResolvedVaultKmsConfig, deps: VaultKmsProviderDeps = {}) {
    this.#client = client;
    this.#config = config;
    this.#now = deps.now ?? Date.now;
    this.#random = deps.randomBytes ?? nodeRandomBytes;
  }

  async #call<T>(operation: KmsOperation, keyId: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw mapVaultError(error, operation, keyId);
    }
  }

  /** Precondition: key ids are Vault key names; anything else cannot name a key. */
  #checkKeyId(keyId: unknown, operation: KmsOperation): string {
    if (typeof keyId !== 'string') throw new TypeError('"keyId" expected a string');
    if (!isVaultKeyName(keyId)) throw new KeyNotFound({ provider: this.name, keyId, operation, detail: 'not a valid Vault key name' });
    return keyId;
  }

  async #readKey(keyId: string, operation: 'describeKey' | 'getPublicKey' | 'sign' | 'rotateKey' | 'verify' | 'listKeys'): Promise<VaultKeyInfo> {
    const response = await this.#call(operation, keyId, () => this.#client.read(`keys/${keyId}`));
    const info = parseKeyData(keyId, response?.data, operation);
    this.#remember(keyId, info.spec);
    return info;
  }

  /**
   * A listed key's info, or undefined for a key deleted since the LIST or of a Transit type the
   * port does not use (hmac, chacha20-poly1305, …). Outages and denials still throw: a partial
   * list must never pass for a complete one.
   */
  async #readListedKey(name: string): Promise<VaultKeyInfo | undefined> {
    let response: VaultResponse;
    try {
      response = await this.#client.read(`keys/${name}`);
    } catch (error) {
      const mapped = mapVaultError(error, 'listKeys', name);
      if (mapped.code === 'KMS_KEY_NOT_FOUND') return undefined;
      throw mapped;
    }
    if (specOfVaultType(response?.data?.type) === undefined) return undefined;
    const info = parseKeyData(name, response.data, 'listKeys');
    this.#remember(name, info.spec);
    return info;
  }

  /** Remembers a key's spec (a Transit key's type never changes while the name exists). */
  #remember(keyId: string, spec: KmsKeySpec): void {
    if (this.#specs.size >= MAX_SPEC_CACHE_ENTRIES) this.#specs.clear();
    this.#specs.set(keyId, spec);
  }

  #describe(info: VaultKeyInfo): KmsKeyDescription {
    return { ...describe(info), tags: tagsOfName(info.name) };
  }

  /**
   * Creates `<prefix><type>-<uuid>[.t-<tags>]` (tags travel in the name: Transit keeps none).
   * `description` has nowhere to go in Transit and is not stored.
   * @throws UnsupportedKeySpec for a spec outside the port; RangeError / TypeError for bad tags.
   */
  async createKey(params: { spec: KmsKeySpec; tags?: Record<string, string>; description?: string }): Promise<KmsKeyDescription> {
    if (typeof params !== 'object' || params === null) throw new TypeError('"params" expected an object');
    if (!isKmsKeySpec(params.spec)) {
      throw new UnsupportedKeySpec({ provider: this.name, operation: 'createKey', detail: `spec ${String(params.spec).slice(0, 32)}` });
    }
    const name = newKeyName(this.#config.keyNamePrefix, params.spec, params.tags);
    const type = VAULT_KEY_TYPES[params.spec];
    const response = await this.#call('createKey', name, () => this.#client.write(`keys/${name}`, { type }));
    // Vault ≥ 1.12 answers with the key; older versions answer 204 and need a read.
    const info = response?.data ? parseKeyData(name, response.data, 'describeKey') : await this.#readKey(name, 'describeKey');
    this.#remember(name, info.spec);
    return this.#describe(info);
  }

  /** @throws KeyNotFound, AccessDenied, Throttled, ProviderUnavailable, KmsTimeout. */
  async describeKey(keyId: string): Promise<KmsKeyDescription> {
    const name = this.#checkKeyId(keyId, 'describeKey');
    return this.#describe(await this.#readKey(name, 'describeKey'));
  }

  /** Lists the mount's keys (tags and purpose filtered from the names first, then one read per key). */
  async listKeys(filter: { tags?: Record<string, string>; purpose?: KmsKeyPurpose; limit?: number } = {}): Promise<KmsKeyDescription[]> {
    const limit = filter.limit ?? MAX_LIST_KEYS;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_KEYS) throw new RangeError(`"limit" expected an integer in 1..${MAX_LIST_KEYS}, got ${limit}`);
    let names: string[];
    try {
      const response = await this.#client.list('keys');
      const keys = response?.data?.keys;
      names = Array.isArray(keys) ? keys.filter(isVaultKeyName) : [];
    } catch (error) {
      const mapped = mapVaultError(error, 'listKeys');
      // Vault answers an empty LIST with 404.
      if (mapped.code === 'KMS_KEY_NOT_FOUND') return [];
      throw mapped;
    }
    const wanted = Object.entries(filter.tags ?? {});
    const prefix = this.#config.keyNamePrefix;
    const candidates = names.filter((name) => {
      const tags = tagsOfName(name);
      if (!wanted.every(([k, v]) => tags[k] === v)) return false;
      const spec = specOfName(prefix, name) ?? this.#specs.get(name);
      return filter.purpose === undefined || spec === undefined || purposeOfSpec(spec) === filter.purpose;
    });
    const out: KmsKeyDescription[] = [];
    for (let i = 0; i < candidates.length && out.length < limit; i += LIST_READ_CONCURRENCY) {
      const batch = candidates.slice(i, i + LIST_READ_CONCURRENCY);
      const infos = await Promise.all(batch.map((name) => this.#readListedKey(name)));
      for (const info of infos) {
        if (!info || (filter.purpose !== undefined && purposeOfSpec(info.spec) !== filter.purpose)) continue;
        if (out.length < limit) out.push(this.#describe(info));
      }
    }
    return out;
  }

  /** New version via /keys/:name/rotate. @throws KeyNotFound, AccessDenied, … */
  async rotateKey(keyId: string): Promise<KmsKeyDescription> {
    const name = this.#checkKeyId(keyId, 'rotateKey');
    const response: VaultResponse = await this.#call('rotateKey', name, () => this.#client.write(`keys/${name}/rotate`, {}));
    const info = response?.data ? parseKeyData(name, response.data, 'rotateKey') : await this.#readKey(name, 'rotateKey');
    return this.#describe(info);
  }

  /** A fresh 32-byte key and its envelope. The caller zeroizes `plaintext`. */
  async generateDataKey(params: { keyId: string; context?: KmsContext }): Promise<DataKey> {
    return dataKeyByWrapping((p) => this.wrap(p), params, (size) => this.#random(size));
  }

  /**
   * Envelope v1 (KMS_AES_256_GCM) of `plaintext`; one /transit/encrypt call.
   * @throws KeyNotFound (unknown key, with upsert disabled), InvalidKeyUsage (not an AES key),
   * AccessDenied, Throttled, ProviderUnavailable, KmsTimeout; TypeError / RangeError on misuse.
   */
  async wrap(params: { keyId: string; plaintext: Uint8Array; context?: KmsContext }): Promise<Uint8Array> {
    if (typeof params !== 'object' || params === null) throw new TypeError('"params" expected an object');
    const name = this.#checkKeyId(params.keyId, 'wrap');
    if (!(params.plaintext instanceof Uint8Array)) throw new TypeError('"plaintext" expected a Uint8Array');
    const ad = associatedData(params.context);
    const cek = this.#random(DATA_KEY_LENGTH);
    // The base64 form sent to Vault is an immutable JS string and cannot be zeroized; the bytes are.
    try {
      const response = await this.#call('wrap', name, () => this.#client.encrypt(name, { plaintext: b64(cek), associated_data: ad }));
      const ciphertext = response?.data?.ciphertext;
      const parsed = typeof ciphertext === 'string' ? splitVersioned(ciphertext) : undefined;
      if (!parsed || typeof ciphertext !== 'string') throw new ProviderUnavailable({ provider: this.name, keyId: name, operation: 'wrap', detail: 'unexpected answer shape from vault' });
      return sealWithKmsWrappedKey({
        provider: this.name,
        keyId: name,
        keyVersion: parsed.version,
        encapsulatedKey: Buffer.from(ciphertext, 'ascii'),
        cek,
        plaintext: params.plaintext,
        ...(params.context === undefined ? {} : { context: params.context }),
      });
    } finally {
      cek.fill(0);
    }
  }

  /**
   * Opens an envelope made by `wrap`; one /transit/decrypt call.
   * @throws InvalidCiphertext (tampered, wrong context, not a Vault envelope), KeyDisabled (the
   * version is below min_decryption_version), KeyNotFound, AccessDenied, Throttled, …
   */
  async unwrap(params: { envelope: Uint8Array; context?: KmsContext }): Promise<Uint8Array> {
    if (typeof params !== 'object' || params === null) throw new TypeError('"params" expected an object');
    const ad = associatedData(params.context);
    return openKmsEnvelope(
      params.envelope,
      async (header: EnvelopeHeader) => {
        const details = { provider: this.name, keyId: header.keyId, operation: 'unwrap' as const };
        // Precondition: the envelope names a Vault key and carries a `vault:vN:` ciphertext.
        if (!isVaultKeyName(header.keyId) || !header.encapsulatedKey) throw new InvalidCiphertext(details);
        const ciphertext = Buffer.from(header.encapsulatedKey).toString('latin1');
        const parsed = splitVersioned(ciphertext);
        // Precondition: the header's key version is the version inside the Vault ciphertext.
        if (!parsed || parsed.version !== header.keyVersion) throw new InvalidCiphertext(details);
        const response = await this.#call('unwrap', header.keyId, () => this.#client.decrypt(header.keyId, { ciphertext, associated_data: ad }));
        const plaintext = response?.data?.plaintext;
        if (typeof plaintext !== 'string') throw new InvalidCiphertext(details);
        // Returned without a copy: openKmsEnvelope zeroizes exactly this buffer.
        return Buffer.from(plaintext, 'base64');
      },
      params.context,
      { provider: this.name },
    );
  }

  async #specOf(keyId: string, operation: 'sign' | 'verify'): Promise<KmsKeySpec> {
    return this.#specs.get(keyId) ?? (await this.#readKey(keyId, operation)).spec;
  }

  #algorithmFor(spec: KmsKeySpec, requested: SignatureAlgorithm | undefined, keyId: string, operation: KmsOperation): SignatureAlgorithm {
    if (spec === 'AES_256') throw new InvalidKeyUsage({ provider: this.name, keyId, operation, detail: 'AES_256 keys cannot sign' });
    const algorithm = requested ?? defaultSignatureAlgorithmOfSpec(spec)!;
    // Precondition: the algorithm is one fleetkey knows and fits the key (never a silent substitute).
    if (!isSignatureAlgorithm(algorithm) || !(signatureAlgorithmInfo(algorithm).keyAlgorithms as readonly string[]).includes(spec)) {
      throw new UnsupportedKeySpec({ provider: this.name, keyId, operation, detail: `algorithm ${String(algorithm).slice(0, 32)} for ${spec}` });
    }
    return algorithm;
  }

  /**
   * Signs `data` (the message); ECDSA signatures are DER.
   * @throws InvalidKeyUsage (AES key), UnsupportedKeySpec (algorithm does not fit), KeyNotFound, …
   */
  async sign(params: { keyId: string; data: Uint8Array; algorithm?: SignatureAlgorithm }): Promise<KmsSignature> {
    if (typeof params !== 'object' || params === null) throw new TypeError('"params" expected an object');
    const name = this.#checkKeyId(params.keyId, 'sign');
    if (!(params.data instanceof Uint8Array)) throw new TypeError('"data" expected a Uint8Array');
    if (params.data.length > MAX_SIGNED_MESSAGE_LENGTH) throw new RangeError(`"data" expected at most ${MAX_SIGNED_MESSAGE_LENGTH} bytes, got ${params.data.length}`);
    const algorithm = this.#algorithmFor(await this.#specOf(name, 'sign'), params.algorithm, name, 'sign');
    const how = VAULT_SIGNING[algorithm];
    const input = how.digest === null ? b64(params.data) : createHash(how.digest).update(params.data).digest('base64');
    const response = await this.#call('sign', name, () => this.#client.write(`sign/${name}`, { ...how.body, input }));
    const signature = response?.data?.signature;
    const parsed = typeof signature === 'string' ? splitVersioned(signature) : undefined;
    if (!parsed) throw new ProviderUnavailable({ provider: this.name, keyId: name, operation: 'sign', detail: 'unexpected answer shape from vault' });
    return { signature: new Uint8Array(Buffer.from(parsed.body, 'base64')), algorithm, keyVersion: parsed.version };
  }

  #versionKey(info: VaultKeyInfo, version: number, operation: 'getPublicKey' | 'verify'): KeyObject {
    const text = info.publicKeys.get(version);
    if (text === undefined) {
      const details = { provider: this.name, keyId: info.name, operation, detail: `version ${version}` };
      if (version >= 1 && version < info.minDecryptionVersion) throw new KeyDisabled({ ...details, detail: `version ${version} is below min_decryption_version` });
      throw new KeyNotFound(details);
    }
    return toPublicKey(info.name, info.spec, text);
  }

  /**
   * Checks a signature with the key's public half (one key read, then node:crypto). Without
   * `keyVersion`, every version Vault still lists is tried, newest first.
   * @throws KeyNotFound / KeyDisabled for an unknown / retired version, InvalidKeyUsage for an AES key.
   */
  async verify(params: { keyId: string; data: Uint8Array; signature: Uint8Array; algorithm?: SignatureAlgorithm; keyVersion?: number }): Promise<boolean> {
    if (typeof params !== 'object' || params === null) throw new TypeError('"params" expected an object');
    const name = this.#checkKeyId(params.keyId, 'verify');
    if (!(params.data instanceof Uint8Array)) throw new TypeError('"data" expected a Uint8Array');
    if (!(params.signature instanceof Uint8Array)) throw new TypeError('"signature" expected a Uint8Array');
    const info = await this.#readKey(name, 'verify');
    const algorithm = this.#algorithmFor(info.spec, params.algorithm, name, 'verify');
    const versions = params.keyVersion === undefined ? [...info.publicKeys.keys()].sort((a, b) => b - a) : [params.keyVersion];
    for (const version of versions) {
      if (verifySignature(this.#versionKey(info, version, 'verify'), algorithm, params.data, params.signature)) return true;
    }
    return false;
  }

  /** @throws InvalidKeyUsage for an AES key, KeyNotFound / KeyDisabled for an unknown / retired version. */
  async getPublicKey(params: { keyId: string; keyVersion?: number }): Promise<KeyObject> {
    if (typeof params !== 'object' || params === null) throw new TypeError('"params" expected an object');
    const name = this.#checkKeyId(params.keyId, 'getPublicKey');
    const info = await this.#readKey(name, 'getPublicKey');
    if (info.spec === 'AES_256') throw new InvalidKeyUsage({ provider: this.name, keyId: name, operation: 'getPublicKey', detail: 'AES_256 keys have no public key' });
    return this.#versionKey(info, params.keyVersion ?? info.latestVersion, 'getPublicKey');
  }

  /** `GET /v1/sys/health`: ok when initialized, unsealed and active. Never throws. */
  async health(): Promise<KmsHealth> {
    const started = this.#now();
    try {
      const body = await this.#client.health();
      const latencyMs = this.#now() - started;
      if (body?.initialized === true && body.sealed === false && body.standby !== true) return { ok: true, latencyMs };
      const state = body?.sealed === true ? 'sealed' : body?.initialized !== true ? 'not initialized' : 'standby';
      return { ok: false, latencyMs, detail: `vault ${state}` };
    } catch (error) {
      return { ok: false, latencyMs: this.#now() - started, detail: mapVaultError(error, 'health').code };
    }
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}
