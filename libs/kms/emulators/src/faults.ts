/**
 * Fault injection shared by every emulator: added latency, throttling and errors at a rate, and a
 * full outage. Each emulator asks `next()` once per request and answers in its vendor's own shape
 * (AWS ThrottlingException, Azure 429, Google RESOURCE_EXHAUSTED, Vault 429 …). Randomness is
 * injectable so tests of "errors at a rate" are reproducible.
 *
 * Trust boundary: test and demo tooling only; never part of a production path.
 */

export interface FaultSpec {
  /** Milliseconds added before every answer (0..60000). */
  readonly latencyMs?: number;
  /** Share of requests answered as throttled, 0..1. */
  readonly throttleRate?: number;
  /** Share of requests answered with a transient server error (5xx / UNAVAILABLE), 0..1. */
  readonly errorRate?: number;
  /** Every request fails as if the service were down (connection-level where the vendor is). */
  readonly outage?: boolean;
}

export type FaultDecision = 'ok' | 'throttle' | 'error' | 'outage';

export const MAX_INJECTED_LATENCY_MS = 60_000;

function checkRate(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value >= 0 && value <= 1)) {
    throw new RangeError(`"${name}" expected a number in 0..1, got ${value}`);
  }
}

export class FaultInjector {
  #spec: FaultSpec = {};
  readonly #random: () => number;
  #requests = 0;

  constructor(options: { readonly random?: () => number } = {}) {
    this.#random = options.random ?? Math.random;
  }

  /** Replaces the current faults. @throws RangeError on an out-of-range rate or latency. */
  set(spec: FaultSpec): void {
    checkRate('throttleRate', spec.throttleRate);
    checkRate('errorRate', spec.errorRate);
    if (spec.latencyMs !== undefined && !(Number.isInteger(spec.latencyMs) && spec.latencyMs >= 0 && spec.latencyMs <= MAX_INJECTED_LATENCY_MS)) {
      throw new RangeError(`"latencyMs" expected an integer in 0..${MAX_INJECTED_LATENCY_MS}, got ${spec.latencyMs}`);
    }
    this.#spec = { ...spec };
  }

  reset(): void {
    this.#spec = {};
  }

  get spec(): FaultSpec {
    return this.#spec;
  }

  /** Requests seen since construction (lets tests prove a cache hit made no provider call). */
  get requests(): number {
    return this.#requests;
  }

  /** Waits out the injected latency, then decides how this request is answered. */
  async next(): Promise<FaultDecision> {
    this.#requests += 1;
    const { latencyMs = 0, throttleRate = 0, errorRate = 0, outage = false } = this.#spec;
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    if (outage) return 'outage';
    const roll = this.#random();
    if (roll < throttleRate) return 'throttle';
    if (roll < throttleRate + errorRate) return 'error';
    return 'ok';
  }
}
