/**
 * `withFailover([primary, secondary, …])`: wrap, generateDataKey, sign, verify and getPublicKey go
 * to the first provider that answers, skipping one that is unavailable (ProviderUnavailable,
 * CircuitOpen, KmsTimeout); unwrap goes to the provider NAMED IN THE ENVELOPE header (read with
 * readEnvelopeHeader), never to whichever is up, because only that provider can decrypt the CEK.
 * Key management (createKey, describeKey, listKeys, rotateKey) stays on the primary: creating or
 * rotating keys in a fallback KMS behind the operator's back would split the key inventory.
 *
 * Each target may translate the caller's key id to its own (`mapKeyId`), so a secondary KMS with
 * its own key can take over wrapping; the envelope it writes names the secondary and its key, so
 * unwrap finds it later. Signing failover is only meaningful when the secondary holds the same key
 * (replicas, multi-region keys) or verifiers trust both keys; say so where you configure it.
 *
 * Trust boundary: the envelope header is attacker bytes, parsed by @fleetkey/crypto's strict
 * reader before its provider name picks anything.
 */
import { readEnvelopeHeader } from '@fleetkey/crypto';
import { ProviderUnavailable, isKmsError } from '../errors.js';
import type { KmsProvider, KmsProviderMethod } from '../provider.js';
import { checkProvider } from './intercept.js';

/** At most this many providers in one failover chain. */
export const MAX_FAILOVER_PROVIDERS = 8;

export interface FailoverTarget {
  readonly provider: KmsProvider;
  /** The key id this provider uses for the caller's key id; default: the same id. */
  readonly mapKeyId?: (keyId: string) => string;
}

const SKIPPED_CODES: ReadonlySet<string> = new Set(['PROVIDER_UNAVAILABLE', 'CIRCUIT_OPEN', 'TIMEOUT']);

function isUnavailable(error: unknown): boolean {
  return isKmsError(error) && SKIPPED_CODES.has(error.code);
}

function normalise(entry: KmsProvider | FailoverTarget, index: number): Required<FailoverTarget> {
  const target: FailoverTarget = 'provider' in entry && typeof (entry as FailoverTarget).provider === 'object' ? (entry as FailoverTarget) : { provider: entry as KmsProvider };
  checkProvider(target.provider, `providers[${index}]`);
  if (target.mapKeyId !== undefined && typeof target.mapKeyId !== 'function') throw new TypeError(`"providers[${index}].mapKeyId" expected a function`);
  return { provider: target.provider, mapKeyId: target.mapKeyId ?? ((keyId: string) => keyId) };
}

/**
 * @throws RangeError when given no provider or more than MAX_FAILOVER_PROVIDERS; TypeError for a
 * non-provider. Calls on the result throw the first non-availability error at once, or, when every
 * provider was unavailable, the last availability error.
 */
export function withFailover(providers: readonly (KmsProvider | FailoverTarget)[]): KmsProvider {
  if (!Array.isArray(providers)) throw new TypeError('"providers" expected an array');
  if (providers.length < 1 || providers.length > MAX_FAILOVER_PROVIDERS) {
    throw new RangeError(`"providers" expected 1..${MAX_FAILOVER_PROVIDERS} providers, got ${providers.length}`);
  }
  const targets = providers.map(normalise);
  const primary = targets[0]!.provider;

  /** Tries each target in order, moving on only when one is unavailable. */
  async function firstAvailable<T>(operation: KmsProviderMethod, keyId: string, call: (target: Required<FailoverTarget>, keyId: string) => Promise<T>): Promise<T> {
    let last: unknown;
    for (const target of targets) {
      try {
        return await call(target, target.mapKeyId(keyId));
      } catch (error) {
        if (!isUnavailable(error)) throw error;
        last = error;
      }
    }
    throw last ?? new ProviderUnavailable({ provider: primary.name, keyId, operation });
  }

  /**
   * Unwrap: only providers whose name is the envelope's. With several of that name (two
   * instances), one that does not know the key or cannot decrypt hands over to the next; the
   * error reported is the most telling one: a decrypt failure, else "unavailable" (the instance
   * holding the key may be the one that is down, so the caller should retry), else "not found".
   */
  async function unwrap(params: { envelope: Uint8Array; context?: Readonly<Record<string, string>> }): Promise<Uint8Array> {
    const header = readEnvelopeHeader(params.envelope);
    const candidates = targets.filter((t) => t.provider.name === header.provider);
    // Precondition: an envelope is only ever opened by a provider of the name it carries.
    if (candidates.length === 0) {
      throw new ProviderUnavailable({ provider: header.provider, keyId: header.keyId, operation: 'unwrap', detail: 'no provider of that name in the failover chain' });
    }
    const errors: unknown[] = [];
    for (const target of candidates) {
      try {
        return await target.provider.unwrap(params);
      } catch (error) {
        const handOver = isUnavailable(error) || (isKmsError(error) && (error.code === 'KMS_KEY_NOT_FOUND' || error.code === 'INVALID_CIPHERTEXT'));
        if (!handOver) throw error;
        errors.push(error);
      }
    }
    const rank = (e: unknown): number => (isKmsError(e) && e.code === 'INVALID_CIPHERTEXT' ? 0 : isUnavailable(e) ? 1 : 2);
    throw [...errors].sort((a, b) => rank(a) - rank(b))[0];
  }

  return {
    name: primary.name,
    supportedKeySpecs: primary.supportedKeySpecs,
    createKey: (params) => primary.createKey(params),
    describeKey: (keyId) => primary.describeKey(keyId),
    listKeys: (filter) => primary.listKeys(filter),
    rotateKey: (keyId) => primary.rotateKey(keyId),
    generateDataKey: (params) => firstAvailable('generateDataKey', params.keyId, (t, keyId) => t.provider.generateDataKey({ ...params, keyId })),
    wrap: (params) => firstAvailable('wrap', params.keyId, (t, keyId) => t.provider.wrap({ ...params, keyId })),
    unwrap,
    sign: (params) => firstAvailable('sign', params.keyId, (t, keyId) => t.provider.sign({ ...params, keyId })),
    verify: (params) => firstAvailable('verify', params.keyId, (t, keyId) => t.provider.verify({ ...params, keyId })),
    getPublicKey: (params) => firstAvailable('getPublicKey', params.keyId, (t, keyId) => t.provider.getPublicKey({ ...params, keyId })),
    health: async () => {
      const started = performance.now();
      const results = await Promise.all(targets.map((t) => t.provider.health().catch(() => ({ ok: false, latencyMs: 0 }))));
      const up = results.filter((r) => r.ok).length;
      return { ok: up > 0, latencyMs: performance.now() - started, detail: `${up}/${results.length} providers healthy` };
    },
    close: async () => {
      const outcomes = await Promise.allSettled(targets.map((t) => t.provider.close()));
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    },
  };
}
