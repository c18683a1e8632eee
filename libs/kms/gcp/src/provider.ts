/**
 * The Google Cloud KMS adapter: a `KmsProvider` over `@google-cloud/kms`.
 *
 * - Keys live in one key ring (created on first use). The key id is the CryptoKey resource name.
 * - AES_256 = ENCRYPT_DECRYPT / GOOGLE_SYMMETRIC_ENCRYPTION. wrap = Encrypt of a fresh CEK with
 *   additional_authenticated_data = the canonical context bytes, then envelope v1 KMS_AES_256_GCM;
 *   the envelope's key version is the version Cloud KMS says it used. unwrap = one Decrypt.
 * - Signing specs = ASYMMETRIC_SIGN keys. Cloud KMS gives asymmetric keys no primary version, so
 *   the current version is the highest ENABLED one. sign hashes the message here and sends the
 *   digest (Ed25519: the message, as PureEdDSA requires).
 * - rotateKey = CreateCryptoKeyVersion, made primary for symmetric keys
 *   (UpdateCryptoKeyPrimaryVersion); old versions keep decrypting / verifying.
 * - Every request carries CRC32C checksums and every response is checked as Google documents
 *   (integrity.ts). SDK retries are off: core's decorators own retries and timeouts.
 *
 * Trust boundary: the CEK and data-key plaintext exist in memory only between the KMS call and the
 * envelope, and are zeroized; errors carry provider, key id and operation, never bytes or tokens.
 */
import { createHash, createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { KeyManagementServiceClient, protos } from '@google-cloud/kms';
import type { CallOptions } from 'google-gax';
import { encodeContext, verifySignature } from '@fleetkey/crypto';
import type { EnvelopeHeader, SignatureAlgorithm } from '@fleetkey/crypto';
import {
  InvalidCiphertext,
  dataKeyByWrapping,
  InvalidKeyUsage,
  KeyDisabled,
  KeyNotFound,
  ProviderUnavailable,
  UnsupportedKeySpec,
  isKmsError,
  openKmsEnvelope,
  purposeOfSpec,
  sealWithKmsWrappedKey,
} from '@fleetkey/kms-core';
import type {
  DataKey,
  KmsContext,
  KmsHealth,
  KmsKeyDescription,
  KmsKeyPurpose,
  KmsKeySpec,
  KmsOperation,
  KmsProvider,
  KmsSignature,
} from '@fleetkey/kms-core';
import { fromGcpAlgorithm, toGcpAlgorithm } from './algorithms.js';
import type { GcpAlgorithm } from './algorithms.js';
import { callOptionsFactory, createKmsClient } from './client.js';
import type { GcpAuthClient } from './client.js';
import { resolveGcpKmsConfig } from './config.js';
import type { GcpKmsConfig, ResolvedGcpKmsConfig } from './config.js';
import { GRPC_STATUS, grpcStatusOf, mapGcpError } from './errors.js';
import { assertChecksum, assertVerified, assertVersionOf, checksum } from './integrity.js';
import { cryptoKeyName, isCryptoKeyName, versionName, versionNumberOf } from './names.js';
import { labelsFromTags, tagsFromLabels } from './labels.js';

type ICryptoKey = protos.google.cloud.kms.v1.ICryptoKey;
type ICryptoKeyVersion = protos.google.cloud.kms.v1.ICryptoKeyVersion;
type GcpPurpose = 'ENCRYPT_DECRYPT' | 'ASYMMETRIC_SIGN';

/** Objects the adapter is given rather than making (tests, custom transports, credentials). */
export interface GcpKmsDeps {
  /** A ready client; when absent one is built from the config. The provider closes it. */
  readonly client?: KeyManagementServiceClient;
  /** google-auth-library client; when absent the SDK uses Application Default Credentials. */
  readonly authClient?: GcpAuthClient;
  /** Monotonic milliseconds, for health latency and generation waits (default performance.now). */
  readonly now?: () => number;
  /** Waits between PENDING_GENERATION polls (default setTimeout). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Longest wait for a new asymmetric version to leave PENDING_GENERATION (Google: usually seconds),
 * and the poll delays (doubling from the first to the cap).
 */
export const MAX_GENERATION_WAIT_MS = 60_000;
const FIRST_POLL_MS = 50;
const MAX_POLL_MS = 1_000;

/** Cloud KMS limit on AsymmetricSign `data` (Ed25519 signs the message itself). */
export const MAX_ED25519_MESSAGE_BYTES = 64 * 1024;
/** Most keys listKeys scans in the key ring, and most versions read per key. */
export const MAX_LISTED_KEYS = 10_000;
export const MAX_LISTED_VERSIONS = 1_000;
const PAGE_SIZE = 200;
/** AES-256 content keys (the CEK under the envelope). */
const CEK_LENGTH = 32;

const toDate = (t: { seconds?: unknown; nanos?: unknown } | null | undefined): Date | undefined =>
  t && t.seconds !== undefined && t.seconds !== null ? new Date(Number(t.seconds) * 1000 + Math.floor(Number(t.nanos ?? 0) / 1e6)) : undefined;

function purposeName(purpose: unknown): string {
  return typeof purpose === 'string' ? purpose : String(purpose ?? '');
}

/**
 * Creates the adapter. No network call is made until the first operation.
 * @throws InvalidKmsConfig listing every configuration problem.
 */
export function createGcpKmsProvider(config: GcpKmsConfig, deps: GcpKmsDeps = {}): KmsProvider {
  return new GcpKmsProvider(resolveGcpKmsConfig(config), deps);
}

class GcpKmsProvider implements KmsProvider {
  readonly name: string;
  readonly supportedKeySpecs: readonly KmsKeySpec[];
  readonly #config: ResolvedGcpKmsConfig;
  readonly #client: KeyManagementServiceClient;
  readonly #options: () => Promise<CallOptions>;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  #keyRingReady: Promise<void> | undefined;

  constructor(config: ResolvedGcpKmsConfig, deps: GcpKmsDeps) {
    this.name = config.name;
    this.supportedKeySpecs = config.keySpecs;
    this.#config = config;
    this.#client = deps.client ?? createKmsClient(config, deps.authClient);
    this.#options = callOptionsFactory(config, deps.authClient);
    this.#now = deps.now ?? (() => performance.now());
    this.#sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Waits until a new asymmetric version is generated: Cloud KMS answers PENDING_GENERATION first
   * and enables it seconds later (https://cloud.google.com/kms/docs/create-validate-signatures).
   * @throws ProviderUnavailable (retryable) when it is still pending after MAX_GENERATION_WAIT_MS or
   * generation failed.
   */
  async #awaitGenerated(keyName: string, version: number, operation: KmsOperation): Promise<void> {
    const started = this.#now();
    let delay = FIRST_POLL_MS;
    for (;;) {
      const [v] = await this.#call(operation, keyName, undefined, async (o) => this.#client.getCryptoKeyVersion({ name: versionName(keyName, version) }, o));
      if (v.state !== 'PENDING_GENERATION') {
        if (v.state === 'GENERATION_FAILED') throw mapGcpError(undefined, { provider: this.name, keyId: keyName, operation });
        return;
      }
      if (this.#now() - started + delay > MAX_GENERATION_WAIT_MS) {
        throw new ProviderUnavailable({ provider: this.name, keyId: keyName, operation, detail: 'key version still being generated' });
      }
      await this.#sleep(delay);
      delay = Math.min(delay * 2, MAX_POLL_MS);
    }
  }

  // ---- plumbing -------------------------------------------------------------------------------

  /** Resolves a caller's key id. @throws KeyNotFound when it cannot name a Cloud KMS key. */
  #keyName(keyId: string, operation: KmsOperation): string {
    const name = cryptoKeyName(keyId, this.#config.keyRingName);
    if (name === undefined) throw new KeyNotFound({ provider: this.name, operation, ...(typeof keyId === 'string' ? { keyId: keyId.slice(0, 256) } : {}) });
    return name;
  }

  /**
   * Runs one vendor call and maps its failure. FAILED_PRECONDITION is told apart (disabled
   * version vs wrong key purpose) by reading the key's purpose, since Cloud KMS uses the one
   * status for both.
   */
  async #call<T>(operation: KmsOperation, keyName: string | undefined, expected: GcpPurpose | undefined, fn: (options: CallOptions) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.#options());
    } catch (error) {
      const context = { provider: this.name, operation, ...(keyName === undefined ? {} : { keyId: keyName }) };
      if (grpcStatusOf(error) === GRPC_STATUS.FAILED_PRECONDITION && keyName !== undefined && expected !== undefined) {
        const actual = await this.#purposeOf(keyName);
        throw mapGcpError(error, { ...context, precondition: actual !== undefined && actual !== expected ? 'wrong-purpose' : 'disabled' });
      }
      throw mapGcpError(error, context);
    }
  }

  async #purposeOf(keyName: string): Promise<string | undefined> {
    try {
      const [key] = await this.#client.getCryptoKey({ name: keyName }, await this.#options());
      return purposeName(key.purpose);
    } catch {
      return undefined;
    }
  }

  /** Makes sure the configured key ring exists (GetKeyRing, then CreateKeyRing on NOT_FOUND). */
  #ensureKeyRing(): Promise<void> {
    this.#keyRingReady ??= (async () => {
      const name = this.#config.keyRingName;
      try {
        await this.#client.getKeyRing({ name }, await this.#options());
        return;
      } catch (error) {
        if (grpcStatusOf(error) !== GRPC_STATUS.NOT_FOUND) throw mapGcpError(error, { provider: this.name, operation: 'createKey' });
      }
      try {
        await this.#client.createKeyRing(
          { parent: `projects/${this.#config.projectId}/locations/${this.#config.location}`, keyRingId: this.#config.keyRing, keyRing: {} },
          await this.#options(),
        );
      } catch (error) {
        // Another process created it in between: that is what we wanted.
        if (grpcStatusOf(error) !== GRPC_STATUS.ALREADY_EXISTS) throw mapGcpError(error, { provider: this.name, operation: 'createKey' });
      }
    })().catch((error: unknown) => {
      this.#keyRingReady = undefined;
      throw error;
    });
    return this.#keyRingReady;
  }

  async #versions(keyName: string, operation: KmsOperation): Promise<ICryptoKeyVersion[]> {
    const out: ICryptoKeyVersion[] = [];
    let pageToken = '';
    do {
      const [page, , raw] = await this.#call(operation, keyName, undefined, async (o) =>
        this.#client.listCryptoKeyVersions({ parent: keyName, pageSize: PAGE_SIZE, pageToken }, { ...o, autoPaginate: false }),
      );
      out.push(...page);
      pageToken = raw?.nextPageToken ?? '';
    } while (pageToken !== '' && out.length < MAX_LISTED_VERSIONS);
    return out;
  }

  /** The highest ENABLED version (Cloud KMS asymmetric keys have no primary). */
  static #current(versions: readonly ICryptoKeyVersion[]): ICryptoKeyVersion | undefined {
    let best: ICryptoKeyVersion | undefined;
    let bestId = 0;
    for (const v of versions) {
      const id = versionNumberOf(v.name) ?? 0;
      if (v.state === 'ENABLED' && id > bestId) [best, bestId] = [v, id];
    }
    return best;
  }

  #describe(key: ICryptoKey, versions: readonly ICryptoKeyVersion[] | undefined): KmsKeyDescription {
    const info = fromGcpAlgorithm(key.versionTemplate?.algorithm as string | undefined);
    if (!info) throw new UnsupportedKeySpec({ provider: this.name, keyId: key.name ?? '', operation: 'describeKey', detail: 'key algorithm not used by fleetkey' });
    let enabled: boolean;
    let currentVersion: number;
    if (versions === undefined) {
      enabled = key.primary?.state === 'ENABLED';
      currentVersion = versionNumberOf(key.primary?.name) ?? 0;
    } else {
      const current = GcpKmsProvider.#current(versions);
      enabled = current !== undefined;
      currentVersion = current ? versionNumberOf(current.name)! : Math.max(0, ...versions.map((v) => versionNumberOf(v.name) ?? 0));
    }
    const createdAt = toDate(key.createTime as { seconds?: unknown; nanos?: unknown } | null | undefined);
    return Object.freeze({
      provider: this.name,
      keyId: key.name ?? '',
      spec: info.spec,
      purpose: purposeOfSpec(info.spec),
      enabled,
      currentVersion,
      ...(createdAt ? { createdAt } : {}),
      tags: Object.freeze(tagsFromLabels(key.labels ?? {})),
    });
  }

  async #describeByName(keyName: string, operation: KmsOperation): Promise<KmsKeyDescription> {
    const [key] = await this.#call(operation, keyName, undefined, async (o) => this.#client.getCryptoKey({ name: keyName }, o));
    const symmetric = purposeName(key.purpose) === 'ENCRYPT_DECRYPT';
    return this.#describe(key, symmetric ? undefined : await this.#versions(keyName, operation));
  }

  /** The signing version to use and what it signs with. */
  async #signingVersion(keyName: string, operation: KmsOperation, keyVersion: number | undefined): Promise<{ version: number; info: GcpAlgorithm & { signature: SignatureAlgorithm } }> {
    let version: ICryptoKeyVersion | undefined;
    if (keyVersion !== undefined) {
      if (!Number.isInteger(keyVersion) || keyVersion < 1 || keyVersion > 0xffffffff) throw new RangeError(`"keyVersion" expected an integer in 1..4294967295, got ${keyVersion}`);
      [version] = await this.#call(operation, keyName, undefined, async (o) => this.#client.getCryptoKeyVersion({ name: versionName(keyName, keyVersion) }, o));
    } else {
      const versions = await this.#versions(keyName, operation);
      version = GcpKmsProvider.#current(versions);
      if (!version) {
        const symmetric = versions.some((v) => v.algorithm === 'GOOGLE_SYMMETRIC_ENCRYPTION');
        if (symmetric) throw new InvalidKeyUsage({ provider: this.name, keyId: keyName, operation, detail: 'an ENCRYPT_DECRYPT key cannot sign' });
        // Made by someone else moments ago: retryable, it will be ENABLED within seconds.
        if (versions.some((v) => v.state === 'PENDING_GENERATION')) {
          throw new ProviderUnavailable({ provider: this.name, keyId: keyName, operation, detail: 'key version still being generated' });
        }
        throw new KeyDisabled({ provider: this.name, keyId: keyName, operation, detail: 'no ENABLED version' });
      }
    }
    const info = fromGcpAlgorithm(version.algorithm as string | undefined);
    if (info?.signature === undefined) {
      if (info?.spec === 'AES_256') throw new InvalidKeyUsage({ provider: this.name, keyId: keyName, operation, detail: 'an ENCRYPT_DECRYPT key cannot sign' });
      throw new UnsupportedKeySpec({ provider: this.name, keyId: keyName, operation, detail: 'key algorithm not used by fleetkey' });
    }
    if (version.state !== 'ENABLED') throw new KeyDisabled({ provider: this.name, keyId: keyName, operation, detail: `version state ${String(version.state)}` });
    return { version: versionNumberOf(version.name)!, info: info as GcpAlgorithm & { signature: SignatureAlgorithm } };
  }

  // ---- KmsProvider ----------------------------------------------------------------------------

  async createKey(params: { spec: KmsKeySpec; tags?: Record<string, string>; description?: string }): Promise<KmsKeyDescription> {
    const algorithm = toGcpAlgorithm(params.spec, this.#config.rsaSignaturePadding);
    // Precondition: an unsupported spec is refused, never substituted.
    if (algorithm === undefined || !this.supportedKeySpecs.includes(params.spec)) {
      throw new UnsupportedKeySpec({ provider: this.name, operation: 'createKey', detail: `Cloud KMS has no ${String(params.spec).slice(0, 32)} key` });
    }
    const labels = labelsFromTags(params.tags ?? {});
    await this.#ensureKeyRing();
    const parent = this.#config.keyRingName;
    const [key] = await this.#call('createKey', undefined, undefined, async (o) =>
      this.#client.createCryptoKey(
        {
          parent,
          cryptoKeyId: `fk-${randomUUID()}`,
          cryptoKey: {
            purpose: params.spec === 'AES_256' ? 'ENCRYPT_DECRYPT' : 'ASYMMETRIC_SIGN',
            versionTemplate: { algorithm: algorithm as never, protectionLevel: this.#config.protectionLevel },
            labels,
          },
        },
        o,
      ),
    );
    if (params.spec === 'AES_256') return this.#describe(key, undefined);
    // A new key has exactly version 1 (Cloud KMS makes it with the key); wait until it can sign.
    await this.#awaitGenerated(key.name ?? '', 1, 'createKey');
    return this.#describe(key, [{ name: versionName(key.name ?? '', 1), state: 'ENABLED' }]);
  }

  async describeKey(keyId: string): Promise<KmsKeyDescription> {
    return this.#describeByName(this.#keyName(keyId, 'describeKey'), 'describeKey');
  }

  async listKeys(filter: { tags?: Record<string, string>; purpose?: KmsKeyPurpose; limit?: number } = {}): Promise<KmsKeyDescription[]> {
    const limit = filter.limit ?? MAX_LISTED_KEYS;
    if (!Number.isInteger(limit) || limit < 0 || limit > MAX_LISTED_KEYS) throw new RangeError(`"limit" expected an integer in 0..${MAX_LISTED_KEYS}, got ${limit}`);
    const wanted = Object.entries(filter.tags ?? {});
    const out: KmsKeyDescription[] = [];
    let pageToken = '';
    let scanned = 0;
    do {
      let page: ICryptoKey[];
      let raw: { nextPageToken?: string | null } | undefined;
      try {
        [page, , raw] = await this.#call('listKeys', undefined, undefined, async (o) =>
          this.#client.listCryptoKeys({ parent: this.#config.keyRingName, pageSize: PAGE_SIZE, pageToken }, { ...o, autoPaginate: false }),
        );
      } catch (error) {
        // No key ring yet means no keys yet.
        if (isKmsError(error, 'KMS_KEY_NOT_FOUND')) return out;
        throw error;
      }
      for (const key of page) {
        scanned++;
        if (out.length >= limit) break;
        const info = fromGcpAlgorithm(key.versionTemplate?.algorithm as string | undefined);
        if (!info) continue; // keys of algorithms fleetkey does not use are not ours to list
        if (filter.purpose !== undefined && purposeOfSpec(info.spec) !== filter.purpose) continue;
        const tags = tagsFromLabels(key.labels ?? {});
        if (!wanted.every(([k, v]) => tags[k] === v)) continue;
        const symmetric = info.spec === 'AES_256';
        out.push(this.#describe(key, symmetric ? undefined : await this.#versions(key.name ?? '', 'listKeys')));
      }
      pageToken = raw?.nextPageToken ?? '';
    } while (pageToken !== '' && out.length < limit && scanned < MAX_LISTED_KEYS);
    return out;
  }

  async rotateKey(keyId: string): Promise<KmsKeyDescription> {
    const keyName = this.#keyName(keyId, 'rotateKey');
    const [version] = await this.#call('rotateKey', keyName, undefined, async (o) =>
      this.#client.createCryptoKeyVersion({ parent: keyName, cryptoKeyVersion: {} }, o),
    );
    const id = versionNumberOf(version.name);
    if (id === undefined) throw mapGcpError(undefined, { provider: this.name, keyId: keyName, operation: 'rotateKey' });
    if (version.algorithm === 'GOOGLE_SYMMETRIC_ENCRYPTION') {
      const [key] = await this.#call('rotateKey', keyName, undefined, async (o) =>
        this.#client.updateCryptoKeyPrimaryVersion({ name: keyName, cryptoKeyVersionId: String(id) }, o),
      );
      return this.#describe(key, undefined);
    }
    await this.#awaitGenerated(keyName, id, 'rotateKey');
    return this.#describeByName(keyName, 'rotateKey');
  }

  async generateDataKey(params: { keyId: string; context?: KmsContext }): Promise<DataKey> {
    return dataKeyByWrapping((p) => this.wrap(p), params);
  }

  async wrap(params: { keyId: string; plaintext: Uint8Array; context?: KmsContext }): Promise<Uint8Array> {
    if (!(params.plaintext instanceof Uint8Array)) throw new TypeError('"plaintext" expected a Uint8Array');
    const keyName = this.#keyName(params.keyId, 'wrap');
    // Validates the context (TypeError / RangeError) before any network call.
    const aad = encodeContext(params.context);
    const cek = randomBytes(CEK_LENGTH);
    try {
      const context = { provider: this.name, keyId: keyName, operation: 'wrap' as const };
      const [response] = await this.#call('wrap', keyName, 'ENCRYPT_DECRYPT', async (o) =>
        this.#client.encrypt(
          { name: keyName, plaintext: cek, plaintextCrc32c: checksum(cek), additionalAuthenticatedData: aad, additionalAuthenticatedDataCrc32c: checksum(aad) },
          o,
        ),
      );
      // https://cloud.google.com/kms/docs/data-integrity-guidelines (Encrypt).
      assertVerified(response.verifiedPlaintextCrc32c, context, 'plaintext checksum');
      assertVerified(response.verifiedAdditionalAuthenticatedDataCrc32c, context, 'AAD checksum');
      const version = assertVersionOf(keyName, response.name, context);
      const ciphertext = response.ciphertext as Uint8Array | null | undefined;
      assertChecksum(ciphertext, response.ciphertextCrc32c, context, 'ciphertext');
      return sealWithKmsWrappedKey({
        provider: this.name,
        keyId: keyName,
        keyVersion: version,
        encapsulatedKey: ciphertext!,
        cek,
        plaintext: params.plaintext,
        ...(params.context === undefined ? {} : { context: params.context }),
      });
    } finally {
      cek.fill(0);
    }
  }

  async unwrap(params: { envelope: Uint8Array; context?: KmsContext }): Promise<Uint8Array> {
    const aad = encodeContext(params.context);
    return openKmsEnvelope(
      params.envelope,
      async (header: EnvelopeHeader) => {
        const details = { provider: this.name, keyId: header.keyId, operation: 'unwrap' as const };
        // Precondition: the envelope names a Cloud KMS CryptoKey; anything else is never sent.
        if (!isCryptoKeyName(header.keyId)) throw new InvalidCiphertext(details);
        const ciphertext = header.encapsulatedKey;
        const [response] = await this.#call('unwrap', header.keyId, 'ENCRYPT_DECRYPT', async (o) =>
          this.#client.decrypt(
            { name: header.keyId, ciphertext, ciphertextCrc32c: checksum(ciphertext), additionalAuthenticatedData: aad, additionalAuthenticatedDataCrc32c: checksum(aad) },
            o,
          ),
        );
        const plaintext = (response.plaintext as Uint8Array | null | undefined) ?? new Uint8Array(0);
        try {
          // https://cloud.google.com/kms/docs/data-integrity-guidelines (Decrypt).
          assertChecksum(plaintext, response.plaintextCrc32c, details, 'plaintext');
        } catch (error) {
          plaintext.fill(0);
          throw error;
        }
        return plaintext;
      },
      params.context,
      { provider: this.name },
    );
  }

  async sign(params: { keyId: string; data: Uint8Array; algorithm?: SignatureAlgorithm }): Promise<KmsSignature> {
    if (!(params.data instanceof Uint8Array)) throw new TypeError('"data" expected a Uint8Array');
    const keyName = this.#keyName(params.keyId, 'sign');
    const { version, info } = await this.#signingVersion(keyName, 'sign', undefined);
    // Precondition: a Cloud KMS version signs with one algorithm; another is refused, not substituted.
    if (params.algorithm !== undefined && params.algorithm !== info.signature) {
      throw new UnsupportedKeySpec({ provider: this.name, keyId: keyName, operation: 'sign', detail: `this key signs with ${info.signature}` });
    }
    const name = versionName(keyName, version);
    const context = { provider: this.name, keyId: keyName, operation: 'sign' as const };
    let request: protos.google.cloud.kms.v1.IAsymmetricSignRequest;
    if (info.digest === undefined) {
      if (params.data.length > MAX_ED25519_MESSAGE_BYTES) throw new RangeError(`"data" expected at most ${MAX_ED25519_MESSAGE_BYTES} bytes for Ed25519 on Cloud KMS, got ${params.data.length}`);
      request = { name, data: params.data, dataCrc32c: checksum(params.data) };
    } else {
      const digest = createHash(info.digest).update(params.data).digest();
      request = { name, digest: { [info.digest]: digest }, digestCrc32c: checksum(digest) };
    }
    const [response] = await this.#call('sign', keyName, 'ASYMMETRIC_SIGN', async (o) => this.#client.asymmetricSign(request, o));
    // https://cloud.google.com/kms/docs/data-integrity-guidelines (AsymmetricSign).
    assertVerified(info.digest === undefined ? response.verifiedDataCrc32c : response.verifiedDigestCrc32c, context, info.digest === undefined ? 'data checksum' : 'digest checksum');
    if (assertVersionOf(keyName, response.name, context) !== version) throw mapGcpError(undefined, context);
    const signature = response.signature as Uint8Array | null | undefined;
    assertChecksum(signature, response.signatureCrc32c, context, 'signature');
    return { signature: new Uint8Array(signature!), algorithm: info.signature, keyVersion: version };
  }

  async verify(params: { keyId: string; data: Uint8Array; signature: Uint8Array; algorithm?: SignatureAlgorithm; keyVersion?: number }): Promise<boolean> {
    const keyName = this.#keyName(params.keyId, 'verify');
    const { version, info } = await this.#signingVersion(keyName, 'verify', params.keyVersion);
    if (params.algorithm !== undefined && params.algorithm !== info.signature) {
      throw new UnsupportedKeySpec({ provider: this.name, keyId: keyName, operation: 'verify', detail: `this key signs with ${info.signature}` });
    }
    // Cloud KMS has no Verify for asymmetric keys: verification is local, with the public key.
    const publicKey = await this.#publicKey(keyName, version, 'verify');
    return verifySignature(publicKey, info.signature, params.data, params.signature);
  }

  async getPublicKey(params: { keyId: string; keyVersion?: number }): Promise<KeyObject> {
    const keyName = this.#keyName(params.keyId, 'getPublicKey');
    const version = params.keyVersion ?? (await this.#signingVersion(keyName, 'getPublicKey', undefined)).version;
    if (!Number.isInteger(version) || version < 1 || version > 0xffffffff) throw new RangeError(`"keyVersion" expected an integer in 1..4294967295, got ${version}`);
    return this.#publicKey(keyName, version, 'getPublicKey');
  }

  async #publicKey(keyName: string, version: number, operation: KmsOperation): Promise<KeyObject> {
    const context = { provider: this.name, keyId: keyName, operation };
    const [response] = await this.#call(operation, keyName, 'ASYMMETRIC_SIGN', async (o) => this.#client.getPublicKey({ name: versionName(keyName, version) }, o));
    // https://cloud.google.com/kms/docs/data-integrity-guidelines (GetPublicKey).
    if (assertVersionOf(keyName, response.name, context) !== version) throw mapGcpError(undefined, context);
    assertChecksum(response.pem, response.pemCrc32c, context, 'PEM');
    return createPublicKey(response.pem!);
  }

  async health(): Promise<KmsHealth> {
    const start = this.#now();
    try {
      await this.#client.getKeyRing({ name: this.#config.keyRingName }, await this.#options());
      return { ok: true, latencyMs: this.#now() - start };
    } catch (error) {
      const latencyMs = this.#now() - start;
      // The service answered: reachable and authorized, the ring is simply made on first createKey.
      if (grpcStatusOf(error) === GRPC_STATUS.NOT_FOUND) return { ok: true, latencyMs, detail: 'key ring not created yet' };
      return { ok: false, latencyMs, detail: mapGcpError(error, { provider: this.name, operation: 'health' }).code };
    }
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}
