/**
 * One-at-a-time execution of everything that changes the robot's state from the network: the
 * command stream and the MQTT topics both lead here, so two copies of one command can never both
 * pass the replay check, and sequences are persisted in arrival order.
 *
 * Bound: at most `maxWaiting` tasks wait; `offer` drops beyond that (the MQTT path: what is
 * retained or streamed comes again), `run` always queues (the gRPC path awaits each item, which is
 * its backpressure).
 */
export class SerialQueue {
  readonly maxWaiting: number;
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;

  constructor(maxWaiting: number) {
    if (!Number.isSafeInteger(maxWaiting) || maxWaiting < 1) throw new RangeError(`"maxWaiting" expected a positive integer, got ${String(maxWaiting)}`);
    this.maxWaiting = maxWaiting;
  }

  /** Runs `task` after every task queued before it; settles as the task does. */
  run<T>(task: () => Promise<T>): Promise<T> {
    this.#waiting += 1;
    const result = this.#tail.then(task);
    this.#tail = result.then(
      () => {
        this.#waiting -= 1;
      },
      () => {
        this.#waiting -= 1;
      },
    );
    return result;
  }

  /** Queues `task` unless the queue is full; a task's failure is the task's to report. */
  offer(task: () => Promise<void>): boolean {
    if (this.#waiting >= this.maxWaiting) return false;
    void this.run(task).catch(() => undefined);
    return true;
  }

  /** Resolves once everything queued so far has run. */
  idle(): Promise<void> {
    return this.#tail;
  }
}
