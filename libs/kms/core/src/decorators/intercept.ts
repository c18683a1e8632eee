/**
 * The one forwarding seam every uniform decorator (timeout, retry, circuit breaker, metrics) is
 * built on: `interceptProvider(inner, around)` returns a KmsProvider whose every method runs
 * `around(operation, keyId, call)`. Decorators compose by wrapping; none re-implements the port.
 *
 * Trust boundary: none of its own; it passes arguments and results through untouched.
 */
import type { KmsProvider, KmsProviderMethod } from '../provider.js';

/**
 * Runs one provider call. `keyId` is the key the call names (undefined for createKey, listKeys,
 * unwrap, health and close: unwrap's key is inside the envelope).
 */
export type CallInterceptor = <T>(operation: KmsProviderMethod, keyId: string | undefined, call: () => Promise<T>) => Promise<T>;

/** A provider whose every call goes through `around`; `name` and `supportedKeySpecs` are the inner ones. */
export function interceptProvider(inner: KmsProvider, around: CallInterceptor): KmsProvider {
  return {
    name: inner.name,
    supportedKeySpecs: inner.supportedKeySpecs,
    createKey: (params) => around('createKey', undefined, () => inner.createKey(params)),
    describeKey: (keyId) => around('describeKey', keyId, () => inner.describeKey(keyId)),
    listKeys: (filter) => around('listKeys', undefined, () => inner.listKeys(filter)),
    rotateKey: (keyId) => around('rotateKey', keyId, () => inner.rotateKey(keyId)),
    generateDataKey: (params) => around('generateDataKey', params.keyId, () => inner.generateDataKey(params)),
    wrap: (params) => around('wrap', params.keyId, () => inner.wrap(params)),
    unwrap: (params) => around('unwrap', undefined, () => inner.unwrap(params)),
    sign: (params) => around('sign', params.keyId, () => inner.sign(params)),
    verify: (params) => around('verify', params.keyId, () => inner.verify(params)),
    getPublicKey: (params) => around('getPublicKey', params.keyId, () => inner.getPublicKey(params)),
    health: () => around('health', undefined, () => inner.health()),
    close: () => around('close', undefined, () => inner.close()),
  };
}

/** Checks that `provider` looks like a KmsProvider (a decorator fed something else is misuse). */
export function checkProvider(provider: unknown, name = 'provider'): asserts provider is KmsProvider {
  if (typeof provider !== 'object' || provider === null) throw new TypeError(`"${name}" expected a KmsProvider`);
  const candidate = provider as Partial<KmsProvider>;
  if (typeof candidate.name !== 'string' || typeof candidate.wrap !== 'function' || typeof candidate.unwrap !== 'function') {
    throw new TypeError(`"${name}" expected a KmsProvider`);
  }
}

/** @throws RangeError unless `value` is an integer in min..max (named `name`). */
export function checkInteger(value: unknown, name: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`"${name}" expected an integer in ${min}..${max}, got ${String(value)}`);
  }
}
