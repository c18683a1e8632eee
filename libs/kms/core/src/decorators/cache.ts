/**
 * `withCache`: caches getPublicKey and describeKey answers (TTL, size-bounded LRU,
 * `invalidate(keyId?)`), and, only when asked with BOTH a maximum age and a maximum use count,
 * reuses data keys (the aws-encryption-sdk caching materials manager rule: a cached data key is
 * bounded by age AND by messages, never unbounded). rotateKey invalidates the rotated key.
 *
 * Trust boundary: public keys and key metadata are not secret. Cached data keys are: the cache
 * owns one copy of each plaintext, hands out copies (the caller zeroizes its own), and zeroizes its
 * copy on expiry, on reaching maxUses, on eviction and on invalidate / close.
 */
import type { KeyObject } from 'node:crypto';
import { encodeContext } from '@fleetkey/crypto';
import type { DataKey, KmsContext, KmsKeyDescription, KmsProvider } from '../provider.js';
import { checkInteger, checkProvider } from './intercept.js';

/** FLEETKEY_KMS_CACHE_TTL default: 300 s. */
export const DEFAULT_CACHE_TTL_MS = 300_000;
/** One day: metadata older than that is stale whatever the configuration says. */
export const MAX_CACHE_TTL_MS = 86_400_000;
export const DEFAULT_CACHE_MAX_ENTRIES = 1_000;
export const MAX_CACHE_ENTRIES = 100_000;
/** A cached data key lives at most one hour. */
export const MAX_DATA_KEY_AGE_MS = 3_600_000;
/** A cached data key protects at most 2^32 messages (the AES-GCM random-nonce bound, SP 800-38D §8.3). */
export const MAX_DATA_KEY_USES = 2 ** 32;
export const DEFAULT_DATA_KEY_MAX_ENTRIES = 100;

export interface DataKeyCacheOptions {
  /** Required: a cached data key is dropped this many ms after it was generated (1..1 h). */
  readonly maxAgeMs: number;
  /** Required: a cached data key is handed out at most this many times (1..2^32). */
  readonly maxUses: number;
  /** Distinct (key id, context) pairs cached at once; default 100. */
  readonly maxEntries?: number;
}

export interface CacheOptions {
  /** Time to live of public keys and descriptions, 1..1 day; default 300 s. */
  readonly ttlMs?: number;
  /** Entries of the metadata cache (public keys + descriptions), 1..100000; default 1000. */
  readonly maxEntries?: number;
  /** Milliseconds clock; default Date.now. */
  readonly now?: () => number;
  /** Data-key reuse. OFF unless given, and refused unless both maxAgeMs and maxUses are set. */
  readonly dataKeys?: DataKeyCacheOptions;
}

export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly dataKeyHits: number;
  readonly dataKeyMisses: number;
  readonly entries: number;
  readonly dataKeyEntries: number;
}

export interface CachingKmsProvider extends KmsProvider {
  /** Drops every cached entry of `keyId` (or everything), zeroizing cached data keys. */
  invalidate(keyId?: string): void;
  stats(): CacheStats;
}

interface Entry<T> {
  readonly keyId: string;
  readonly value: Promise<T>;
  readonly expiresAt: number;
}

interface DataKeyEntry {
  readonly keyId: string;
  readonly plaintext: Uint8Array;
  readonly wrapped: Uint8Array;
  readonly expiresAt: number;
  uses: number;
}

/** Insertion-ordered Map as an LRU: a hit re-inserts, the first key is the least recently used. */
class Lru<V extends { readonly keyId: string }> {
  private readonly map = new Map<string, V>();
  constructor(
    private readonly maxEntries: number,
    private readonly onDrop: (value: V) => void = () => undefined,
  ) {}
  get size(): number {
    return this.map.size;
  }
  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }
  set(key: string, value: V): void {
    const old = this.map.get(key);
    if (old !== undefined && old !== value) this.onDrop(old);
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value as string;
      this.delete(oldest);
    }
  }
  delete(key: string): void {
    const value = this.map.get(key);
    if (value === undefined) return;
    this.map.delete(key);
    this.onDrop(value);
  }
  deleteIf(test: (value: V) => boolean): void {
    for (const [key, value] of [...this.map]) if (test(value)) this.delete(key);
  }
}

/** Separator that cannot occur in a key id (printable ASCII) so composite keys never collide. */
const SEP = '\u0000';

function checkDataKeyOptions(options: DataKeyCacheOptions): Required<DataKeyCacheOptions> {
  if (typeof options !== 'object' || options === null) throw new TypeError('"dataKeys" expected an object');
  // Precondition: data-key reuse needs BOTH a maximum age and a maximum use count.
  if (options.maxAgeMs === undefined || options.maxUses === undefined) {
    throw new RangeError('"dataKeys" needs both maxAgeMs and maxUses: data-key reuse is never unbounded');
  }
  checkInteger(options.maxAgeMs, 'dataKeys.maxAgeMs', 1, MAX_DATA_KEY_AGE_MS);
  checkInteger(options.maxUses, 'dataKeys.maxUses', 1, MAX_DATA_KEY_USES);
  const maxEntries = options.maxEntries ?? DEFAULT_DATA_KEY_MAX_ENTRIES;
  checkInteger(maxEntries, 'dataKeys.maxEntries', 1, MAX_CACHE_ENTRIES);
  return { maxAgeMs: options.maxAgeMs, maxUses: options.maxUses, maxEntries };
}

/** @throws RangeError / TypeError for options out of bounds (including dataKeys without both limits). */
export function withCache(provider: KmsProvider, options: CacheOptions = {}): CachingKmsProvider {
  checkProvider(provider);
  const ttlMs = options.ttlMs ?? DEFAULT_CACHE_TTL_MS;
  const maxEntries = options.maxEntries ?? DEFAULT_CACHE_MAX_ENTRIES;
  checkInteger(ttlMs, 'ttlMs', 1, MAX_CACHE_TTL_MS);
  checkInteger(maxEntries, 'maxEntries', 1, MAX_CACHE_ENTRIES);
  const now = options.now ?? Date.now;
  const dataKeyOptions = options.dataKeys === undefined ? undefined : checkDataKeyOptions(options.dataKeys);

  const metadata = new Lru<Entry<KeyObject> | Entry<KmsKeyDescription>>(maxEntries);
  const dataKeys = new Lru<DataKeyEntry>(dataKeyOptions?.maxEntries ?? 1, (entry) => entry.plaintext.fill(0));
  let hits = 0;
  let misses = 0;
  let dataKeyHits = 0;
  let dataKeyMisses = 0;

  function cached<T>(cacheKey: string, keyId: string, load: () => Promise<T>): Promise<T> {
    const entry = metadata.get(cacheKey) as Entry<T> | undefined;
    if (entry !== undefined && entry.expiresAt > now()) {
      hits += 1;
      return entry.value;
    }
    misses += 1;
    const value = load();
    const fresh: Entry<T> = { keyId, value, expiresAt: now() + ttlMs };
    metadata.set(cacheKey, fresh as Entry<KeyObject>);
    // A failure is never cached: drop the entry (if it is still ours) and let the caller see the error.
    value.catch(() => {
      if (metadata.get(cacheKey) === (fresh as Entry<KeyObject>)) metadata.delete(cacheKey);
    });
    return value;
  }

  const invalidate = (keyId?: string): void => {
    if (keyId === undefined) {
      metadata.deleteIf(() => true);
      dataKeys.deleteIf(() => true);
      return;
    }
    metadata.deleteIf((entry) => entry.keyId === keyId);
    dataKeys.deleteIf((entry) => entry.keyId === keyId);
  };

  async function generateDataKey(params: { keyId: string; context?: KmsContext }): Promise<DataKey> {
    if (dataKeyOptions === undefined) return provider.generateDataKey(params);
    const cacheKey = `${params.keyId}${SEP}${Buffer.from(encodeContext(params.context)).toString('base64')}`;
    const entry = dataKeys.get(cacheKey);
    if (entry !== undefined && entry.expiresAt > now() && entry.uses < dataKeyOptions.maxUses) {
      entry.uses += 1;
      dataKeyHits += 1;
      const copy = entry.plaintext.slice();
      if (entry.uses >= dataKeyOptions.maxUses) dataKeys.delete(cacheKey);
      return { plaintext: copy, wrapped: entry.wrapped.slice() };
    }
    if (entry !== undefined) dataKeys.delete(cacheKey);
    dataKeyMisses += 1;
    const fresh = await provider.generateDataKey(params);
    if (dataKeyOptions.maxUses > 1) {
      dataKeys.set(cacheKey, {
        keyId: params.keyId,
        plaintext: fresh.plaintext.slice(),
        wrapped: fresh.wrapped.slice(),
        expiresAt: now() + dataKeyOptions.maxAgeMs,
        uses: 1,
      });
    }
    return fresh;
  }

  return {
    name: provider.name,
    supportedKeySpecs: provider.supportedKeySpecs,
    createKey: (params) => provider.createKey(params),
    describeKey: (keyId) => cached(`d${SEP}${keyId}`, keyId, () => provider.describeKey(keyId)),
    listKeys: (filter) => provider.listKeys(filter),
    rotateKey: async (keyId) => {
      // Invalidate before AND after: a describe racing the rotation must not re-cache the old state.
      invalidate(keyId);
      try {
        return await provider.rotateKey(keyId);
      } finally {
        invalidate(keyId);
      }
    },
    generateDataKey,
    wrap: (params) => provider.wrap(params),
    unwrap: (params) => provider.unwrap(params),
    sign: (params) => provider.sign(params),
    verify: (params) => provider.verify(params),
    getPublicKey: (params) =>
      cached(`p${SEP}${params.keyId}${SEP}${params.keyVersion ?? 'current'}`, params.keyId, () => provider.getPublicKey(params)),
    health: () => provider.health(),
    close: async () => {
      invalidate();
      await provider.close();
    },
    invalidate,
    stats: () => ({ hits, misses, dataKeyHits, dataKeyMisses, entries: metadata.size, dataKeyEntries: dataKeys.size }),
  };
}
