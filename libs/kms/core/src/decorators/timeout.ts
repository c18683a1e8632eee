/**
 * `withTimeout`: every call settles within `timeoutMs` or fails with the retryable `KmsTimeout`.
 * The inner call is not cancelled (the port has no AbortSignal), so its late result is dropped.
 *
 * One timer per decorated provider, not one per call: every call of one provider has the same
 * deadline length, so deadlines expire in call order and a FIFO queue with a single timer armed
 * for the oldest pending deadline is exact. A call that settles is marked done and skipped; the
 * queue is compacted as its head advances, so it holds at most the calls in flight plus a bounded
 * tail. The timer is unref'd while nothing is in flight (it never keeps a process alive) and
 * re-ref'd by the next call, so a busy caller pays a queue push per call, not a timer syscall.
 *
 * Trust boundary: none beyond the inner provider's.
 */
import { KmsTimeout } from '../errors.js';
import type { KmsProvider, KmsProviderMethod } from '../provider.js';
import { checkInteger, checkProvider, interceptProvider } from './intercept.js';

/** Default per-call deadline (FLEETKEY_KMS_TIMEOUT defaults to 30 s). */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Longest deadline accepted: 10 minutes (beyond that a KMS call is a hang, not a slow call). */
export const MAX_TIMEOUT_MS = 600_000;
/** Settled entries tolerated at the head of the queue before it is compacted. */
const COMPACT_AFTER = 1_024;

export interface TimeoutOptions {
  /** 1..MAX_TIMEOUT_MS, default DEFAULT_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** Milliseconds clock; default performance.now. */
  readonly now?: () => number;
}

interface Pending {
  readonly deadline: number;
  readonly operation: KmsProviderMethod;
  readonly keyId: string | undefined;
  readonly reject: (error: unknown) => void;
  done: boolean;
}

/**
 * @throws RangeError when `timeoutMs` is outside 1..MAX_TIMEOUT_MS. Calls on the result throw
 * `KmsTimeout` when the inner call takes longer than `timeoutMs`, else whatever it throws.
 */
export function withTimeout(provider: KmsProvider, options: TimeoutOptions = {}): KmsProvider {
  checkProvider(provider);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  checkInteger(timeoutMs, 'timeoutMs', 1, MAX_TIMEOUT_MS);
  const now = options.now ?? (() => performance.now());

  let queue: Pending[] = [];
  let head = 0;
  let timer: NodeJS.Timeout | undefined;

  function skipSettled(): void {
    while (head < queue.length && queue[head]!.done) head++;
    if (head === queue.length) {
      queue = [];
      head = 0;
      // Nothing in flight: the armed timer must not keep the process alive. It stays armed (unref'd)
      // so a busy caller does not pay a timer syscall per call; when it fires it finds nothing to do.
      timer?.unref();
    } else if (head > COMPACT_AFTER && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
  }

  function arm(): void {
    skipSettled();
    if (head < queue.length && timer === undefined) timer = setTimeout(expire, Math.max(0, queue[head]!.deadline - now()));
  }

  function expire(): void {
    timer = undefined;
    const t = now();
    while (head < queue.length && (queue[head]!.done || queue[head]!.deadline <= t)) {
      const pending = queue[head++]!;
      if (pending.done) continue;
      pending.done = true;
      pending.reject(
        new KmsTimeout({ provider: provider.name, operation: pending.operation, ...(pending.keyId === undefined ? {} : { keyId: pending.keyId }), detail: `no answer within ${timeoutMs} ms` }),
      );
    }
    // The head may be a call that started after the one the timer was armed for: re-arm for it.
    arm();
  }

  return interceptProvider(provider, <T>(operation: KmsProviderMethod, keyId: string | undefined, call: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      const pending: Pending = { deadline: now() + timeoutMs, operation, keyId, reject, done: false };
      queue.push(pending);
      if (timer === undefined) arm();
      else timer.ref();
      let result: Promise<T>;
      try {
        result = call();
      } catch (error) {
        pending.done = true;
        reject(error);
        return;
      }
      result.then(
        (value) => {
          if (pending.done) return;
          pending.done = true;
          skipSettled();
          resolve(value);
        },
        (error: unknown) => {
          if (pending.done) return;
          pending.done = true;
          skipSettled();
          reject(error);
        },
      );
    }),
  );
}
