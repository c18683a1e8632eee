/**
 * `withMetrics(provider, sink)`: one record per call — provider, operation, ok, error code,
 * latency — for counts, latencies and errors by provider and operation. `InMemoryMetricsSink`
 * keeps a bounded window of records plus running totals (tests, `fleetctl` status pages).
 *
 * Trust boundary: a record holds names, a code and a number; never arguments, results, key ids,
 * or error messages, so nothing secret can reach a metrics backend through it.
 */
import { isFleetkeyError } from '@fleetkey/key-types';
import type { KmsProvider, KmsProviderMethod } from '../provider.js';
import { checkInteger, checkProvider, interceptProvider } from './intercept.js';

export interface KmsMetricRecord {
  readonly provider: string;
  readonly operation: KmsProviderMethod;
  readonly ok: boolean;
  /** The FleetkeyError code of a failure, or 'UNKNOWN' for anything else. */
  readonly errorCode?: string;
  readonly latencyMs: number;
}

export interface KmsMetricsSink {
  record(record: KmsMetricRecord): void;
}

export interface MetricsOptions {
  /** High-resolution milliseconds clock; default performance.now. */
  readonly now?: () => number;
}

/**
 * Wraps every call with one `sink.record`. A sink that throws is ignored (metrics never break a
 * KMS call). @throws TypeError when `sink` has no record function.
 */
export function withMetrics(provider: KmsProvider, sink: KmsMetricsSink, options: MetricsOptions = {}): KmsProvider {
  checkProvider(provider);
  if (typeof sink !== 'object' || sink === null || typeof sink.record !== 'function') throw new TypeError('"sink" expected { record(record) }');
  const now = options.now ?? (() => performance.now());
  const emit = (record: KmsMetricRecord): void => {
    try {
      sink.record(record);
    } catch {
      // Metrics are best effort by design.
    }
  };
  return interceptProvider(provider, <T>(operation: KmsProviderMethod, _keyId: string | undefined, call: () => Promise<T>): Promise<T> => {
    const started = now();
    let result: Promise<T>;
    try {
      result = call();
    } catch (error) {
      result = Promise.reject(error);
    }
    return result.then(
      (value) => {
        emit({ provider: provider.name, operation, ok: true, latencyMs: now() - started });
        return value;
      },
      (error: unknown) => {
        const errorCode = isFleetkeyError(error) ? error.code : 'UNKNOWN';
        emit({ provider: provider.name, operation, ok: false, errorCode, latencyMs: now() - started });
        throw error;
      },
    );
  });
}

export interface OperationSummary {
  readonly provider: string;
  readonly operation: KmsProviderMethod;
  readonly calls: number;
  readonly errors: number;
  readonly errorsByCode: Readonly<Record<string, number>>;
  readonly totalLatencyMs: number;
  readonly maxLatencyMs: number;
}

export const DEFAULT_METRICS_WINDOW = 10_000;
export const MAX_METRICS_WINDOW = 1_000_000;

/** Keeps the last `window` records and running totals per provider and operation. */
export class InMemoryMetricsSink implements KmsMetricsSink {
  /** Ring buffer: `next` is where the next record goes once the window is full. */
  private readonly recent: KmsMetricRecord[] = [];
  private next = 0;
  private readonly totals = new Map<string, { provider: string; operation: KmsProviderMethod; calls: number; errors: number; errorsByCode: Record<string, number>; totalLatencyMs: number; maxLatencyMs: number }>();
  private readonly window: number;

  /** @throws RangeError when `window` is outside 1..MAX_METRICS_WINDOW. */
  constructor(window = DEFAULT_METRICS_WINDOW) {
    checkInteger(window, 'window', 1, MAX_METRICS_WINDOW);
    this.window = window;
  }

  record(record: KmsMetricRecord): void {
    if (this.recent.length < this.window) this.recent.push(record);
    else {
      this.recent[this.next] = record;
      this.next = (this.next + 1) % this.window;
    }
    const key = `${record.provider}\u0000${record.operation}`;
    let total = this.totals.get(key);
    if (total === undefined) {
      total = { provider: record.provider, operation: record.operation, calls: 0, errors: 0, errorsByCode: {}, totalLatencyMs: 0, maxLatencyMs: 0 };
      this.totals.set(key, total);
    }
    total.calls += 1;
    total.totalLatencyMs += record.latencyMs;
    total.maxLatencyMs = Math.max(total.maxLatencyMs, record.latencyMs);
    if (!record.ok) {
      total.errors += 1;
      const code = record.errorCode ?? 'UNKNOWN';
      total.errorsByCode[code] = (total.errorsByCode[code] ?? 0) + 1;
    }
  }

  /** The retained records, oldest first. */
  records(): readonly KmsMetricRecord[] {
    return [...this.recent.slice(this.next), ...this.recent.slice(0, this.next)];
  }

  /** Totals per (provider, operation) since creation or the last reset. */
  summary(): OperationSummary[] {
    return [...this.totals.values()].map((t) => ({ ...t, errorsByCode: { ...t.errorsByCode } }));
  }

  reset(): void {
    this.recent.length = 0;
    this.next = 0;
    this.totals.clear();
  }
}
