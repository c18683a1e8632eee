/**
 * The Azure Key Vault adapter: the KmsProvider port over @azure/keyvault-keys (KeyClient +
 * CryptographyClient) and @azure/identity.
 *   - `encrypt` purpose (port spec AES_256): Key Vault has no symmetric keys outside Managed HSM,
 *     so the key is RSA-3072 with key_ops wrapKey/unwrapKey. Wrap draws a fresh 32-byte CEK,
 *     wraps it with RSA-OAEP-256 (one wrapKey call) and seals the payload with core's
 *     KMS_AES_256_GCM envelope; the envelope's key id is the full versioned key id, so unwrap is
 *     one unwrapKey call on exactly that version. Key Vault cannot bind the CEK to a context; the
 *     GCM AAD (header ‖ context) still does.
 *   - Signing hashes the message here and sends the digest (JWA ES256/384/512, RS256, PS256);
 *     ECDSA answers are raw r‖s and become DER with `p1363ToDer`. Ed25519 does not exist in Key
 *     Vault and is refused with UnsupportedKeySpec.
 *   - Versions: Key Vault versions are opaque ids. The adapter numbers the versions it makes
 *     1, 2, 3 … in a `fleetkey-version` tag (createKey writes 1, rotateKey writes n + 1), so the
 *     port's `currentVersion`, `KmsSignature.keyVersion` and `verify({ keyVersion })` work; keys
 *     made outside fleetkey have version 0 (latest only).
 *   - SDK retries are off (core's withRetry owns retries).
 *
 * Trust boundary: the edge between fleetkey and Azure. Only CEKs (owned and zeroized here or by
 * core's helpers), wrapped CEKs, digests, signatures and public keys cross it. Envelope key ids are
 * attacker bytes and are resolved against the configured vault only (key-id.ts). Every SDK error
 * is mapped by errors.ts and never carries a secret.
 */
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { CryptographyClient, KeyClient, KeyVaultKey, KeyProperties } from '@azure/keyvault-keys';
import { derToP1363, isSignatureAlgorithm, p1363ToDer, signatureAlgorithmsFor, SignatureInvalid } from '@fleetkey/crypto';
import type { SignatureAlgorithm } from '@fleetkey/crypto';
import type { NamedCurve } from '@fleetkey/key-types';
import {
  DATA_KEY_LENGTH,
  InvalidKeyUsage,
  KeyDisabled,
  KeyNotFound,
  UnsupportedKeySpec,
  dataKeyByWrapping,
  defaultSignatureAlgorithmOfSpec,
  isKmsKeySpec,
  openKmsEnvelope,
  purposeOfSpec,
  sealWithKmsWrappedKey,
} from '@fleetkey/kms-core';
import type { DataKey, KmsContext, KmsHealth, KmsKeyDescription, KmsKeyPurpose, KmsKeySpec, KmsOperation, KmsProvider, KmsSignature } from '@fleetkey/kms-core';
import { AZURE_PROVIDER_NAME, mapAzureError } from './errors.js';
import { parseAzureKeyId, unversionedKeyId, versionedKeyId } from './key-id.js';
import type { AzureKeyRef } from './key-id.js';
import {
  AZURE_KEY_SHAPES,
  AZURE_SIGNATURE_ALGORITHMS,
  AZURE_SUPPORTED_KEY_SPECS,
  AZURE_WRAP_ALGORITHM,
  RESERVED_TAGS,
  SPEC_TAG,
  VERSION_TAG,
  specOfAzureKey,
} from './specs.js';

/** Latest-version entries remembered (one per key name). */
export const MAX_CACHED_KEYS = 1024;
/** Version entries remembered (versions are immutable, so these never go stale). */
export const MAX_CACHED_VERSIONS = 4096;
/** CryptographyClients kept (one per versioned key id; each fetched its key once). */
export const MAX_CRYPTO_CLIENTS = 256;
/** Most key properties scanned by one listKeys. */
export const MAX_LISTED_KEYS = 10_000;
/** A signature is at most an RSA-4096 block; anything longer cannot verify. */
export const MAX_AZURE_SIGNATURE = 512;
const VERSION_NUMBER_PATTERN = /^[1-9][0-9]{0,8}$/;

interface KeyInfo {
  readonly name: string;
  readonly version: string;
  /** The fleetkey version number, 0 when the version carries none. */
  readonly number: number;
  readonly spec: KmsKeySpec;
  readonly enabled: boolean;
  readonly createdAt?: Date;
  readonly tags: Readonly<Record<string, string>>;
  readonly key: KeyVaultKey;
}

export interface AzureKmsProviderDeps {
  readonly keyClient: KeyClient;
  /** `https://host[:port]` of the configured vault. */
  readonly vaultOrigin: string;
  readonly keyInfoTtlMs: number;
  /** Monotonic milliseconds (cache ages, health latency). */
  readonly now?: () => number;
  /** Wall clock for the keys' nbf / exp window. */
  readonly clock?: () => Date;
}

function userTags(tags: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags ?? {})) if (!RESERVED_TAGS.includes(k)) out[k] = v;
  return out;
}

function versionNumber(tags: Readonly<Record<string, string>> | undefined): number {
  const value = tags?.[VERSION_TAG];
  return value !== undefined && VERSION_NUMBER_PATTERN.test(value) ? Number(value) : 0;
}

function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}

function checkBytes(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`"${name}" expected a Uint8Array`);
  return value;
}

const CURVE_OF_SPEC: Readonly<Partial<Record<KmsKeySpec, NamedCurve>>> = { ECDSA_P256: 'P-256', ECDSA_P384: 'P-384', ECDSA_P521: 'P-521' };

export class AzureKmsProvider implements KmsProvider {
  readonly name = AZURE_PROVIDER_NAME;
  readonly supportedKeySpecs: readonly KmsKeySpec[] = AZURE_SUPPORTED_KEY_SPECS;
  readonly #client: KeyClient;
  readonly #origin: string;
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #clock: () => Date;
  readonly #latest = new Map<string, { info: KeyInfo; at: number }>();
  readonly #versions = new Map<string, KeyInfo>();
  readonly #versionIds = new Map<string, string>();
  readonly #crypto = new Map<string, CryptographyClient>();

  constructor(deps: AzureKmsProviderDeps) {
    this.#client = deps.keyClient;
    this.#origin = deps.vaultOrigin;
    this.#ttl = deps.keyInfoTtlMs;
    this.#now = deps.now ?? (() => performance.now());
    this.#clock = deps.clock ?? (() => new Date());
  }

  async #call<T>(operation: KmsOperation, keyId: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw mapAzureError(error, { operation, ...(keyId === undefined ? {} : { keyId }) });
    }
  }

  /** @throws KeyNotFound for an id that cannot name a key of this vault. */
  #ref(keyId: unknown, operation: KmsOperation): AzureKeyRef {
    // Precondition: the key id is a key name or a key URL of the configured vault.
    const ref = typeof keyId === 'string' ? parseAzureKeyId(keyId, this.#origin) : undefined;
    if (!ref) {
      if (typeof keyId !== 'string') throw new TypeError('"keyId" expected a string');
      throw new KeyNotFound({ provider: this.name, operation, detail: 'not a key of the configured vault' });
    }
    return ref;
  }

  /** @throws UnsupportedKeySpec for a key fleetkey cannot use (oct, P-256K, RSA-1024 …). */
  #info(key: KeyVaultKey, operation: KmsOperation): KeyInfo {
    const spec = specOfAzureKey({
      ...(key.keyType === undefined ? {} : { kty: key.keyType }),
      ...(key.key?.n === undefined ? {} : { modulusBytes: key.key.n.length }),
      ...(key.key?.crv === undefined ? {} : { crv: key.key.crv }),
      ...(key.keyOperations === undefined ? {} : { keyOps: key.keyOperations }),
    });
    if (spec === undefined) {
      throw new UnsupportedKeySpec({ provider: this.name, keyId: unversionedKeyId(this.#origin, key.name), operation, detail: 'the key type is not one fleetkey uses' });
    }
    const info: KeyInfo = {
      name: key.name,
      version: key.properties.version ?? '',
      number: versionNumber(key.properties.tags),
      spec,
      enabled: key.properties.enabled !== false,
      ...(key.properties.createdOn ? { createdAt: key.properties.createdOn } : {}),
      tags: userTags(key.properties.tags),
      key,
    };
    remember(this.#versions, versionedKeyId(this.#origin, info.name, info.version), info, MAX_CACHED_VERSIONS);
    return info;
  }

  #describe(info: KeyInfo): KmsKeyDescription {
    return {
      provider: this.name,
      keyId: unversionedKeyId(this.#origin, info.name),
      spec: info.spec,
      purpose: purposeOfSpec(info.spec),
      enabled: info.enabled,
      currentVersion: info.number,
      ...(info.createdAt ? { createdAt: info.createdAt } : {}),
      tags: { ...info.tags },
    };
  }

  /**
   * Checks what the SDK would otherwise check locally with a plain Error (the key's operations and
   * its nbf / exp window), so the caller gets a typed KmsError instead.
   * @throws InvalidKeyUsage when the version does not permit `keyOperation`; KeyDisabled outside nbf / exp.
   */
  #usable(info: KeyInfo, keyOperation: 'wrapKey' | 'sign' | 'verify', operation: KmsOperation): void {
    const keyId = unversionedKeyId(this.#origin, info.name);
    const ops = info.key.keyOperations;
    if (ops !== undefined && !ops.includes(keyOperation)) {
      throw new InvalidKeyUsage({ provider: this.name, keyId, operation, detail: `the key does not permit ${keyOperation}` });
    }
    const now = this.#clock().getTime();
    const { notBefore, expiresOn } = info.key.properties;
    if ((notBefore && now < notBefore.getTime()) || (expiresOn && now > expiresOn.getTime())) {
      throw new KeyDisabled({ provider: this.name, keyId, operation, detail: 'the key is outside its activation window' });
    }
  }

  /** The latest version, from the TTL cache or one GET. */
  async #latestInfo(name: string, operation: KmsOperation, fresh = false): Promise<KeyInfo> {
    const cached = this.#latest.get(name);
    if (!fresh && cached && this.#now() - cached.at < this.#ttl) return cached.info;
    const key = await this.#call(operation, unversionedKeyId(this.#origin, name), () => this.#client.getKey(name));
    const info = this.#info(key, operation);
    remember(this.#latest, name, { info, at: this.#now() }, MAX_CACHED_KEYS);
    return info;
  }

  /** One version by Key Vault version id (cached: versions are immutable apart from their state). */
  async #versionInfo(name: string, version: string, operation: KmsOperation): Promise<KeyInfo> {
    const cached = this.#versions.get(versionedKeyId(this.#origin, name, version));
    if (cached) return cached;
    const key = await this.#call(operation, unversionedKeyId(this.#origin, name), () => this.#client.getKey(name, { version }));
    return this.#info(key, operation);
  }

  /** The version with fleetkey number `n` (1, 2, …); 0 or absent means the latest. */
  async #numberedInfo(ref: AzureKeyRef, keyVersion: number | undefined, operation: KmsOperation): Promise<KeyInfo> {
    if (ref.version !== undefined) return this.#versionInfo(ref.name, ref.version, operation);
    if (keyVersion === undefined || keyVersion === 0) return this.#latestInfo(ref.name, operation);
    if (!Number.isSafeInteger(keyVersion) || keyVersion < 0) throw new RangeError('"keyVersion" expected a non-negative integer');
    const cacheKey = `${ref.name}#${keyVersion}`;
    let versionId = this.#versionIds.get(cacheKey);
    if (versionId === undefined) {
      versionId = await this.#call(operation, unversionedKeyId(this.#origin, ref.name), async () => {
        for await (const properties of this.#client.listPropertiesOfKeyVersions(ref.name)) {
          if (versionNumber(properties.tags) === keyVersion && properties.version) return properties.version;
        }
        return undefined;
      });
      if (versionId === undefined) {
        throw new KeyNotFound({ provider: this.name, keyId: unversionedKeyId(this.#origin, ref.name), operation, detail: `no version ${keyVersion}` });
      }
      remember(this.#versionIds, cacheKey, versionId, MAX_CACHED_VERSIONS);
    }
    return this.#versionInfo(ref.name, versionId, operation);
  }

  #cryptoClient(info: KeyInfo | AzureKeyRef): CryptographyClient {
    const version = info.version;
    const id = version ? versionedKeyId(this.#origin, info.name, version) : unversionedKeyId(this.#origin, info.name);
    let client = this.#crypto.get(id);
    if (!client) {
      client = this.#client.getCryptographyClient(info.name, version ? { keyVersion: version } : {});
      remember(this.#crypto, id, client, MAX_CRYPTO_CLIENTS);
    }
    return client;
  }

  /**
   * A new key named `fleetkey-<spec>-<random>`, tagged with its spec and version 1.
   * @throws UnsupportedKeySpec for ED25519 or an unknown spec; RangeError for reserved tag names.
   */
  async createKey(params: { spec: KmsKeySpec; tags?: Record<string, string>; description?: string }): Promise<KmsKeyDescription> {
    const shape = isKmsKeySpec(params?.spec) ? AZURE_KEY_SHAPES[params.spec] : undefined;
    // Precondition: an unsupported spec is refused as UNSUPPORTED_ALGORITHM, never substituted.
    if (!shape) {
      throw new UnsupportedKeySpec({ provider: this.name, operation: 'createKey', detail: `key spec ${String(params?.spec).slice(0, 32)} is not available in Key Vault` });
    }
    for (const reserved of RESERVED_TAGS) {
      if (params.tags && Object.hasOwn(params.tags, reserved)) throw new RangeError(`"tags" may not use the reserved tag ${reserved}`);
    }
    const name = `fleetkey-${params.spec.toLowerCase().replace(/_/g, '-')}-${randomBytes(8).toString('hex')}`;
    return this.#call('createKey', undefined, async () => {
      const key = await this.#client.createKey(name, shape.kty, {
        ...(shape.keySize === undefined ? {} : { keySize: shape.keySize }),
        ...(shape.curve === undefined ? {} : { curve: shape.curve }),
        keyOps: [...shape.keyOps],
        tags: { ...params.tags, [SPEC_TAG]: params.spec, [VERSION_TAG]: '1' },
      });
      const info = this.#info(key, 'createKey');
      remember(this.#latest, name, { info, at: this.#now() }, MAX_CACHED_KEYS);
      return this.#describe(info);
    });
  }

  async describeKey(keyId: string): Promise<KmsKeyDescription> {
    const ref = this.#ref(keyId, 'describeKey');
    const info = ref.version ? await this.#versionInfo(ref.name, ref.version, 'describeKey') : await this.#latestInfo(ref.name, 'describeKey', true);
    return this.#describe(info);
  }

  async listKeys(filter?: { tags?: Record<string, string>; purpose?: KmsKeyPurpose; limit?: number }): Promise<KmsKeyDescription[]> {
    const limit = filter?.limit ?? Number.POSITIVE_INFINITY;
    if (filter?.limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) throw new RangeError('"limit" expected a positive integer');
    const wanted = Object.entries(filter?.tags ?? {});
    return this.#call('listKeys', undefined, async () => {
      const out: KmsKeyDescription[] = [];
      let scanned = 0;
      for await (const properties of this.#client.listPropertiesOfKeys()) {
        if (out.length >= limit || (scanned += 1) > MAX_LISTED_KEYS) break;
        const tags = properties.tags ?? {};
        if (!wanted.every(([k, v]) => !RESERVED_TAGS.includes(k) && tags[k] === v)) continue;
        const description = await this.#listed(properties);
        if (description && (filter?.purpose === undefined || description.purpose === filter.purpose)) out.push(description);
      }
      return out;
    });
  }

  /** A listed key's description: from its tags when fleetkey made it, else one GET; undefined if unusable. */
  async #listed(properties: KeyProperties): Promise<KmsKeyDescription | undefined> {
    const spec = properties.tags?.[SPEC_TAG];
    if (isKmsKeySpec(spec) && this.supportedKeySpecs.includes(spec)) {
      return {
        provider: this.name,
        keyId: unversionedKeyId(this.#origin, properties.name),
        spec,
        purpose: purposeOfSpec(spec),
        enabled: properties.enabled !== false,
        currentVersion: versionNumber(properties.tags),
        ...(properties.createdOn ? { createdAt: properties.createdOn } : {}),
        tags: userTags(properties.tags),
      };
    }
    try {
      return this.#describe(await this.#latestInfo(properties.name, 'listKeys', true));
    } catch (error) {
      if (error instanceof UnsupportedKeySpec) return undefined;
      throw error;
    }
  }

  /**
   * A new version (Key Vault rotate), numbered one above the current one. Old versions keep
   * unwrapping and verifying: envelopes and `verify({ keyVersion })` name their version.
   */
  async rotateKey(keyId: string): Promise<KmsKeyDescription> {
    const ref = this.#ref(keyId, 'rotateKey');
    const current = await this.#latestInfo(ref.name, 'rotateKey', true);
    return this.#call('rotateKey', unversionedKeyId(this.#origin, ref.name), async () => {
      let key = await this.#client.rotateKey(ref.name);
      if (current.number > 0 && key.properties.version) {
        key = await this.#client.updateKeyProperties(ref.name, key.properties.version, {
          tags: { ...current.tags, [SPEC_TAG]: current.spec, [VERSION_TAG]: String(current.number + 1) },
        });
      }
      const info = this.#info(key, 'rotateKey');
      remember(this.#latest, ref.name, { info, at: this.#now() }, MAX_CACHED_KEYS);
      return this.#describe(info);
    });
  }

  async generateDataKey(params: { keyId: string; context?: KmsContext }): Promise<DataKey> {
    return dataKeyByWrapping((p) => this.wrap(p), params);
  }

  /** One wrapKey (RSA-OAEP-256) of a fresh CEK with the key's latest version (when its metadata is cached). */
  async wrap(params: { keyId: string; plaintext: Uint8Array; context?: KmsContext }): Promise<Uint8Array> {
    const ref = this.#ref(params?.keyId, 'wrap');
    const plaintext = checkBytes('plaintext', params.plaintext);
    const info = ref.version ? await this.#versionInfo(ref.name, ref.version, 'wrap') : await this.#latestInfo(ref.name, 'wrap');
    const keyId = unversionedKeyId(this.#origin, info.name);
    // Precondition: only encrypt-purpose keys (RSA-3072 wrap keys) wrap.
    if (info.spec !== 'AES_256') throw new InvalidKeyUsage({ provider: this.name, keyId, operation: 'wrap', detail: `a ${info.spec} key signs` });
    this.#usable(info, 'wrapKey', 'wrap');
    const cek = randomBytes(DATA_KEY_LENGTH);
    try {
      const result = await this.#call('wrap', keyId, () => this.#cryptoClient(info).wrapKey(AZURE_WRAP_ALGORITHM, cek));
      return sealWithKmsWrappedKey({
        provider: this.name,
        keyId: versionedKeyId(this.#origin, info.name, info.version),
        keyVersion: info.number,
        encapsulatedKey: result.result,
        cek,
        plaintext,
        ...(params.context ? { context: params.context } : {}),
      });
    } finally {
      cek.fill(0);
    }
  }

  /** One unwrapKey on the versioned key the envelope names. */
  async unwrap(params: { envelope: Uint8Array; context?: KmsContext }): Promise<Uint8Array> {
    const envelope = checkBytes('envelope', params?.envelope);
    return openKmsEnvelope(
      envelope,
      async (header) => {
        const ref = parseAzureKeyId(header.keyId, this.#origin);
        // Precondition: the envelope names a key of the configured vault (our token goes nowhere else).
        if (!ref) throw new KeyNotFound({ provider: this.name, operation: 'unwrap', detail: 'the envelope names a key outside the configured vault' });
        const result = await this.#call('unwrap', unversionedKeyId(this.#origin, ref.name), () =>
          this.#cryptoClient(ref).unwrapKey(AZURE_WRAP_ALGORITHM, header.encapsulatedKey),
        );
        return result.result;
      },
      params.context,
      { provider: this.name },
    );
  }

  #algorithm(info: KeyInfo, requested: SignatureAlgorithm | undefined, operation: KmsOperation): { algorithm: SignatureAlgorithm; alg: string; hash: string } {
    const keyId = unversionedKeyId(this.#origin, info.name);
    // Precondition: only signing keys sign, and only with an algorithm their key can make.
    if (info.spec === 'AES_256') throw new InvalidKeyUsage({ provider: this.name, keyId, operation, detail: 'an encrypt-purpose key does not sign' });
    if (requested !== undefined && !isSignatureAlgorithm(requested)) throw new TypeError('"algorithm" expected a SignatureAlgorithm');
    const algorithm = requested ?? defaultSignatureAlgorithmOfSpec(info.spec)!;
    const azure = AZURE_SIGNATURE_ALGORITHMS[algorithm];
    if (!azure) throw new UnsupportedKeySpec({ provider: this.name, keyId, operation, detail: `${algorithm} is not available in Key Vault` });
    if (!signatureAlgorithmsFor(info.spec as Exclude<KmsKeySpec, 'AES_256'>).includes(algorithm)) {
      throw new InvalidKeyUsage({ provider: this.name, keyId, operation, detail: `a ${info.spec} key cannot make ${algorithm} signatures` });
    }
    return { algorithm, ...azure };
  }

  /** Hashes `data` here and has Key Vault sign the digest; ECDSA r‖s comes back as DER. */
  async sign(params: { keyId: string; data: Uint8Array; algorithm?: SignatureAlgorithm }): Promise<KmsSignature> {
    const ref = this.#ref(params?.keyId, 'sign');
    const data = checkBytes('data', params.data);
    const info = ref.version ? await this.#versionInfo(ref.name, ref.version, 'sign') : await this.#latestInfo(ref.name, 'sign');
    const { algorithm, alg, hash } = this.#algorithm(info, params.algorithm, 'sign');
    this.#usable(info, 'sign', 'sign');
    const digest = createHash(hash).update(data).digest();
    const result = await this.#call('sign', unversionedKeyId(this.#origin, info.name), () => this.#cryptoClient(info).sign(alg, digest));
    const curve = CURVE_OF_SPEC[info.spec];
    const signature = curve ? p1363ToDer(result.result, curve) : new Uint8Array(result.result);
    return { signature, algorithm, keyVersion: info.number };
  }

  /** Key Vault verifies the digest; a malformed DER signature is simply not valid. */
  async verify(params: { keyId: string; data: Uint8Array; signature: Uint8Array; algorithm?: SignatureAlgorithm; keyVersion?: number }): Promise<boolean> {
    const ref = this.#ref(params?.keyId, 'verify');
    const data = checkBytes('data', params.data);
    const signature = checkBytes('signature', params.signature);
    const info = await this.#numberedInfo(ref, params.keyVersion, 'verify');
    const { alg, hash } = this.#algorithm(info, params.algorithm, 'verify');
    this.#usable(info, 'verify', 'verify');
    if (signature.length === 0 || signature.length > MAX_AZURE_SIGNATURE) return false;
    const curve = CURVE_OF_SPEC[info.spec];
    let raw: Uint8Array;
    try {
      raw = curve ? derToP1363(signature, curve) : signature;
    } catch (error) {
      if (error instanceof SignatureInvalid) return false;
      throw error;
    }
    const digest = createHash(hash).update(data).digest();
    const result = await this.#call('verify', unversionedKeyId(this.#origin, info.name), () => this.#cryptoClient(info).verify(alg, digest, raw));
    return result.result === true;
  }

  /** The public half from the key's JWK (`n`/`e` or `crv`/`x`/`y`). */
  async getPublicKey(params: { keyId: string; keyVersion?: number }): Promise<KeyObject> {
    const ref = this.#ref(params?.keyId, 'getPublicKey');
    const info = await this.#numberedInfo(ref, params.keyVersion, 'getPublicKey');
    if (info.spec === 'AES_256') {
      throw new InvalidKeyUsage({ provider: this.name, keyId: unversionedKeyId(this.#origin, info.name), operation: 'getPublicKey', detail: 'an encrypt-purpose key has no public signing key' });
    }
    const jwk = info.key.key!;
    const b64 = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('base64url');
    return info.spec.startsWith('RSA')
      ? createPublicKey({ key: { kty: 'RSA', n: b64(jwk.n), e: b64(jwk.e) }, format: 'jwk' })
      : createPublicKey({ key: { kty: 'EC', crv: jwk.crv!, x: b64(jwk.x), y: b64(jwk.y) }, format: 'jwk' });
  }

  /** One list call with a page of one key. */
  async health(): Promise<KmsHealth> {
    const started = this.#now();
    try {
      await this.#call('health', undefined, () => this.#client.listPropertiesOfKeys().byPage({ maxPageSize: 1 }).next());
      return { ok: true, latencyMs: this.#now() - started };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return { ok: false, latencyMs: this.#now() - started, detail: typeof code === 'string' ? code : 'unknown error' };
    }
  }

  /** The SDK holds no sockets of its own to close; the caches are dropped. */
  async close(): Promise<void> {
    this.#latest.clear();
    this.#versions.clear();
    this.#versionIds.clear();
    this.#crypto.clear();
  }
}
