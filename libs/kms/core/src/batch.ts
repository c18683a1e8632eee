/**
 * Batch forms of wrap / unwrap / sign: `wrapMany`, `unwrapMany`, `signMany` run up to
 * `concurrency` calls at once, return results in input order, and report each item's failure
 * in its slot instead of failing (or hiding) the whole batch.
 *
 * Trust boundary: none beyond the provider's. Results carry the provider's errors unchanged.
 */
import type { KmsContext, KmsProvider, KmsSignature } from './provider.js';
import type { SignatureAlgorithm } from '@fleetkey/crypto';
import { checkInteger, checkProvider } from './decorators/intercept.js';

export const DEFAULT_BATCH_CONCURRENCY = 8;
/** Upper bound of `concurrency`: more parallel calls than this only earns throttling. */
export const MAX_BATCH_CONCURRENCY = 64;
/** Upper bound of items per batch call (split larger jobs; each result stays in memory). */
export const MAX_BATCH_ITEMS = 100_000;

export type BatchResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

export interface BatchOptions {
  /** 1..MAX_BATCH_CONCURRENCY; default 8. */
  readonly concurrency?: number;
}

/**
 * Runs `task` over `items` with at most `concurrency` in flight; results in input order.
 * @throws RangeError / TypeError on misuse (never for a failing item).
 */
export async function mapBounded<I, O>(items: readonly I[], task: (item: I, index: number) => Promise<O>, options: BatchOptions = {}): Promise<BatchResult<O>[]> {
  if (!Array.isArray(items)) throw new TypeError('"items" expected an array');
  if (items.length > MAX_BATCH_ITEMS) throw new RangeError(`"items" expected at most ${MAX_BATCH_ITEMS} items, got ${items.length}`);
  const concurrency = options.concurrency ?? DEFAULT_BATCH_CONCURRENCY;
  checkInteger(concurrency, 'concurrency', 1, MAX_BATCH_CONCURRENCY);
  const results = new Array<BatchResult<O>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { ok: true, value: await task(items[index] as I, index) };
      } catch (error) {
        results[index] = { ok: false, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

export interface WrapItem {
  readonly keyId: string;
  readonly plaintext: Uint8Array;
  readonly context?: KmsContext;
}

export interface UnwrapItem {
  readonly envelope: Uint8Array;
  readonly context?: KmsContext;
}

export interface SignItem {
  readonly keyId: string;
  readonly data: Uint8Array;
  readonly algorithm?: SignatureAlgorithm;
}

/** wrap() each item; `results[i]` is item i's envelope or error. @throws RangeError / TypeError on misuse. */
export function wrapMany(provider: KmsProvider, items: readonly WrapItem[], options?: BatchOptions): Promise<BatchResult<Uint8Array>[]> {
  checkProvider(provider);
  return mapBounded(items, (item) => provider.wrap(item), options);
}

/** unwrap() each item; `results[i]` is item i's plaintext (caller zeroizes) or error. */
export function unwrapMany(provider: KmsProvider, items: readonly UnwrapItem[], options?: BatchOptions): Promise<BatchResult<Uint8Array>[]> {
  checkProvider(provider);
  return mapBounded(items, (item) => provider.unwrap(item), options);
}

/** sign() each item; `results[i]` is item i's signature or error. */
export function signMany(provider: KmsProvider, items: readonly SignItem[], options?: BatchOptions): Promise<BatchResult<KmsSignature>[]> {
  checkProvider(provider);
  return mapBounded(items, (item) => provider.sign(item), options);
}
