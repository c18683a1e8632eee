/**
 * An in-process KmsProvider for tests of kms-core itself (decorators, batch forms, the signer and
 * the conformance suite): real node:crypto keys, real envelopes (KMS_AES_256_GCM, the CEK sealed
 * under the key version with @fleetkey/crypto's symmetric envelope, bound to the context), real
 * signatures, versions and rotation, plus a fault hook shaped like the emulators' FaultInjector
 * (latency, throttleRate, errorRate, outage, `requests`). Exported from
 * `@fleetkey/kms-core/testing` only.
 *
 * Trust boundary: test support. Keys live in memory and are zeroed on close; it is not a KMS.
 */
import { randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import {
  createLocalSigner,
  defaultSignatureAlgorithm,
  generateKeyPair,
  keyMatchesSignatureAlgorithm,
  openEnvelope,
  sealEnvelope,
  verifySignature,
  type SignatureAlgorithm,
} from '@fleetkey/crypto';
import { openKmsEnvelope, sealWithKmsWrappedKey } from '../envelope.js';
import {
  InvalidCiphertext,
  InvalidKeyUsage,
  KeyDisabled,
  KeyNotFound,
  ProviderUnavailable,
  Throttled,
  UnsupportedKeySpec,
  type KmsOperation,
} from '../errors.js';
import {
  DATA_KEY_LENGTH,
  KMS_KEY_SPECS,
  purposeOfSpec,
  type KmsContext,
  type KmsKeyDescription,
  type KmsKeySpec,
  type KmsProvider,
  type KmsProviderMethod,
} from '../provider.js';

/** What the conformance suite and tests may inject (the emulators' FaultInjector shape). */
export interface FaultSpec {
  /** Every request fails as unavailable (HTTP 503). */
  readonly outage?: boolean;
  /** Share of requests refused as throttled, 0..1. */
  readonly throttleRate?: number;
  /** Share of requests failing as a server error, 0..1. */
  readonly errorRate?: number;
  /** Added latency per request, ms. */
  readonly latencyMs?: number;
}

export interface FaultControl {
  set(spec: FaultSpec): void;
  reset(): void;
  /** Requests that reached the provider (every method but close). */
  readonly requests: number;
}

export interface MemoryKmsOptions {
  /** Provider name, `[a-z0-9-]`; default 'memory'. */
  readonly name?: string;
  /** Default: every spec of the port. */
  readonly supportedKeySpecs?: readonly KmsKeySpec[];
  /** Uniform [0,1) for the fault rates; default Math.random. */
  readonly random?: () => number;
  /** Called once per request after the injected faults; may throw a KmsError to fail it. */
  readonly fault?: (operation: KmsProviderMethod, keyId: string | undefined) => void | Promise<void>;
}

export interface MemoryKms {
  readonly provider: KmsProvider;
  readonly faults: FaultControl;
  disableKey(keyId: string): void;
  enableKey(keyId: string): void;
}

interface Version {
  readonly secret?: Uint8Array;
  readonly privateKey?: KeyObject;
  readonly publicKey?: KeyObject;
}

interface MemoryKey {
  readonly keyId: string;
  readonly spec: KmsKeySpec;
  readonly tags: Readonly<Record<string, string>>;
  readonly createdAt: Date;
  readonly versions: Version[];
  enabled: boolean;
}

/** Largest number of keys one memory provider holds (a test making more has a bug). */
export const MAX_MEMORY_KEYS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function checkRate(value: number | undefined, name: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new RangeError(`"${name}" expected a number in 0..1`);
  return value;
}

/** Creates an in-memory provider and its fault control. */
export function createMemoryKmsProvider(options: MemoryKmsOptions = {}): MemoryKms {
  const name = options.name ?? 'memory';
  if (!/^[a-z0-9-]{1,32}$/.test(name)) throw new RangeError('"name" expected 1..32 characters of [a-z0-9-]');
  const supported = options.supportedKeySpecs ?? KMS_KEY_SPECS;
  const random = options.random ?? Math.random;
  const keys = new Map<string, MemoryKey>();
  let faults: Required<FaultSpec> = { outage: false, throttleRate: 0, errorRate: 0, latencyMs: 0 };
  let requests = 0;
  let closed = false;

  const control: FaultControl = {
    set(spec) {
      faults = {
        outage: spec.outage ?? false,
        throttleRate: checkRate(spec.throttleRate, 'throttleRate'),
        errorRate: checkRate(spec.errorRate, 'errorRate'),
        latencyMs: spec.latencyMs ?? 0,
      };
    },
    reset() {
      faults = { outage: false, throttleRate: 0, errorRate: 0, latencyMs: 0 };
    },
    get requests() {
      return requests;
    },
  };

  async function request(operation: KmsProviderMethod, keyId: string | undefined): Promise<void> {
    requests += 1;
    const details = { provider: name, operation, ...(keyId === undefined ? {} : { keyId }) };
    if (faults.latencyMs > 0) await sleep(faults.latencyMs);
    if (closed) throw new ProviderUnavailable({ ...details, detail: 'provider closed' });
    if (faults.outage) throw new ProviderUnavailable({ ...details, detail: 'injected outage' });
    if (faults.throttleRate > 0 && random() < faults.throttleRate) throw new Throttled({ ...details, detail: 'injected throttling' });
    if (faults.errorRate > 0 && random() < faults.errorRate) throw new ProviderUnavailable({ ...details, detail: 'injected server error' });
    await options.fault?.(operation, keyId);
  }

  function find(keyId: string, operation: KmsOperation): MemoryKey {
    const key = typeof keyId === 'string' ? keys.get(keyId) : undefined;
    if (key === undefined) throw new KeyNotFound({ provider: name, keyId: String(keyId), operation });
    return key;
  }

  function usable(keyId: string, operation: KmsOperation, purpose: 'encrypt' | 'sign'): MemoryKey {
    const key = find(keyId, operation);
    if (!key.enabled) throw new KeyDisabled({ provider: name, keyId, operation });
    if (purposeOfSpec(key.spec) !== purpose) throw new InvalidKeyUsage({ provider: name, keyId, operation, detail: `a ${key.spec} key cannot ${operation}` });
    return key;
  }

  function describe(key: MemoryKey): KmsKeyDescription {
    return Object.freeze({
      provider: name,
      keyId: key.keyId,
      spec: key.spec,
      purpose: purposeOfSpec(key.spec),
      enabled: key.enabled,
      currentVersion: key.versions.length,
      createdAt: key.createdAt,
      tags: key.tags,
    });
  }

  async function newVersion(spec: KmsKeySpec): Promise<Version> {
    if (spec === 'AES_256') return { secret: new Uint8Array(randomBytes(32)) };
    const pair = await generateKeyPair(spec);
    return { privateKey: pair.privateKey, publicKey: pair.publicKey };
  }

  function version(key: MemoryKey, number: number, operation: KmsOperation): Version {
    const found = Number.isInteger(number) && number >= 1 ? key.versions[number - 1] : undefined;
    if (found === undefined) throw new KeyNotFound({ provider: name, keyId: key.keyId, operation, detail: `no version ${number}` });
    return found;
  }

  async function wrap(params: { keyId: string; plaintext: Uint8Array; context?: KmsContext }): Promise<Uint8Array> {
    await request('wrap', params.keyId);
    return wrapNow(params.keyId, params.plaintext, params.context, 'wrap');
  }

  function wrapNow(keyId: string, plaintext: Uint8Array, context: KmsContext | undefined, operation: KmsOperation): Uint8Array {
    const key = usable(keyId, operation, 'encrypt');
    const keyVersion = key.versions.length;
    const cek = new Uint8Array(randomBytes(DATA_KEY_LENGTH));
    // The "vendor ciphertext" of the CEK: a symmetric envelope under the key version, bound to the context.
    const encapsulatedKey = sealEnvelope({ key: version(key, keyVersion, operation).secret!, provider: name, keyId, keyVersion, plaintext: cek, ...(context === undefined ? {} : { context }) });
    return sealWithKmsWrappedKey({ provider: name, keyId, keyVersion, encapsulatedKey, cek, plaintext, ...(context === undefined ? {} : { context }) });
  }

  function signatureAlgorithmFor(key: MemoryKey, requested: SignatureAlgorithm | undefined, operation: KmsOperation): SignatureAlgorithm {
    const publicKey = key.versions[key.versions.length - 1]!.publicKey!;
    const algorithm = requested ?? defaultSignatureAlgorithm(key.spec as Exclude<KmsKeySpec, 'AES_256'>);
    if (!keyMatchesSignatureAlgorithm(publicKey, algorithm)) {
      throw new InvalidKeyUsage({ provider: name, keyId: key.keyId, operation, detail: `${algorithm} does not fit a ${key.spec} key` });
    }
    return algorithm;
  }

  const provider: KmsProvider = {
    name,
    supportedKeySpecs: Object.freeze([...supported]),

    async createKey(params) {
      await request('createKey', undefined);
      // Precondition: a spec the provider does not offer is refused, never substituted.
      if (!supported.includes(params.spec)) throw new UnsupportedKeySpec({ provider: name, operation: 'createKey', detail: `key spec ${String(params.spec).slice(0, 32)}` });
      if (keys.size >= MAX_MEMORY_KEYS) throw new RangeError(`the memory provider holds at most ${MAX_MEMORY_KEYS} keys`);
      const key: MemoryKey = {
        keyId: `${name}-${randomUUID()}`,
        spec: params.spec,
        tags: Object.freeze({ ...(params.tags ?? {}) }),
        createdAt: new Date(),
        versions: [await newVersion(params.spec)],
        enabled: true,
      };
      keys.set(key.keyId, key);
      return describe(key);
    },

    async describeKey(keyId) {
      await request('describeKey', keyId);
      return describe(find(keyId, 'describeKey'));
    },

    async listKeys(filter = {}) {
      await request('listKeys', undefined);
      const out: KmsKeyDescription[] = [];
      for (const key of keys.values()) {
        if (filter.purpose !== undefined && purposeOfSpec(key.spec) !== filter.purpose) continue;
        if (filter.tags !== undefined && !Object.entries(filter.tags).every(([k, v]) => key.tags[k] === v)) continue;
        out.push(describe(key));
        if (filter.limit !== undefined && out.length >= filter.limit) break;
      }
      return out;
    },

    async rotateKey(keyId) {
      await request('rotateKey', keyId);
      const key = find(keyId, 'rotateKey');
      key.versions.push(await newVersion(key.spec));
      return describe(key);
    },

    async generateDataKey(params) {
      await request('generateDataKey', params.keyId);
      const plaintext = new Uint8Array(randomBytes(DATA_KEY_LENGTH));
      return { plaintext, wrapped: wrapNow(params.keyId, plaintext, params.context, 'generateDataKey') };
    },

    wrap,

    async unwrap(params) {
      await request('unwrap', undefined);
      return openKmsEnvelope(
        params.envelope,
        async (header) => {
          const key = usable(header.keyId, 'unwrap', 'encrypt');
          const secret = version(key, header.keyVersion, 'unwrap').secret!;
          try {
            return openEnvelope(header.encapsulatedKey, secret, params.context);
          } catch (error) {
            throw new InvalidCiphertext({ provider: name, keyId: header.keyId, operation: 'unwrap', cause: error });
          }
        },
        params.context,
        { provider: name },
      );
    },

    async sign(params) {
      await request('sign', params.keyId);
      const key = usable(params.keyId, 'sign', 'sign');
      const algorithm = signatureAlgorithmFor(key, params.algorithm, 'sign');
      const keyVersion = key.versions.length;
      const signer = createLocalSigner(version(key, keyVersion, 'sign').privateKey!, { algorithm });
      return { signature: await signer.sign(params.data), algorithm, keyVersion };
    },

    async verify(params) {
      await request('verify', params.keyId);
      const key = usable(params.keyId, 'verify', 'sign');
      const algorithm = signatureAlgorithmFor(key, params.algorithm, 'verify');
      const publicKey = version(key, params.keyVersion ?? key.versions.length, 'verify').publicKey!;
      return verifySignature(publicKey, algorithm, params.data, params.signature);
    },

    async getPublicKey(params) {
      await request('getPublicKey', params.keyId);
      const key = find(params.keyId, 'getPublicKey');
      if (purposeOfSpec(key.spec) !== 'sign') throw new InvalidKeyUsage({ provider: name, keyId: params.keyId, operation: 'getPublicKey', detail: 'a symmetric key has no public key' });
      return version(key, params.keyVersion ?? key.versions.length, 'getPublicKey').publicKey!;
    },

    async health() {
      const started = performance.now();
      await request('health', undefined);
      return { ok: true, latencyMs: performance.now() - started };
    },

    async close() {
      closed = true;
      for (const key of keys.values()) for (const v of key.versions) v.secret?.fill(0);
      keys.clear();
    },
  };

  return {
    provider,
    faults: control,
    disableKey: (keyId) => {
      find(keyId, 'describeKey').enabled = false;
    },
    enableKey: (keyId) => {
      find(keyId, 'describeKey').enabled = true;
    },
  };
}
