/**
 * Reconnect forever with backoff: the control flow both link connections share (the controller
 * over gRPC, ./controller-session.ts, and the broker over MQTT, ./broker-session.ts). Attempts run
 * one at a time. A connection that came up resets the backoff; an outage is reported once, at its
 * first failure; `restart()` (a renewed certificate) drops the attempt in progress and starts the
 * next at once, without a backoff sleep and without counting as an outage; `close()` ends it all
 * and resolves once the last attempt has finished its clean-up.
 *
 * Trust boundary: none; it runs what the session gives it and never sees what goes over the wire.
 */
import { sleep, type Backoff } from './backoff.js';

/** What one attempt is given. */
export interface ReconnectAttempt {
  /** Aborted by `restart()` and `close()`: end the connection and return. */
  readonly signal: AbortSignal;
  /** The connection is up: the backoff starts over and the next failure begins a new outage. */
  connected(): void;
  /** The attempt failed; reported through `onOutage` only if it opens an outage and was not aborted. */
  failed(error: unknown): void;
  /** Connecting again is futile (a revoked device): no attempt follows this one. */
  giveUp(): void;
}

export interface ReconnectLoopOptions {
  readonly backoff: Backoff;
  /**
   * One connection, from dialling to its end, clean-up included. It reports a failure with
   * `failed()` (so the outage is logged before the clean-up runs); a rejection counts the same.
   */
  readonly attempt: (attempt: ReconnectAttempt) => Promise<void>;
  /** The first failure since the last connection (or since the start). Never throws. */
  readonly onOutage: (error: unknown) => void;
  /** An attempt ended other than by `restart()`: the connection state may have changed. Never throws. */
  readonly onEnded: () => void;
}

export class ReconnectLoop {
  readonly #options: ReconnectLoopOptions;
  readonly #stop = new AbortController();
  #attempt: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #restart = false;
  #outageLogged = false;

  constructor(options: ReconnectLoopOptions) {
    this.#options = options;
  }

  /** Starts the loop; later calls do nothing. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * Drops the attempt in progress and starts the next at once. A backoff sleep already under way
   * is not cut short: there is no connection to replace then, and the next attempt reads the new
   * credentials anyway.
   */
  restart(): void {
    this.#restart = true;
    this.#attempt?.abort();
  }

  /** Stops for good: aborts the attempt (or the sleep) in progress at once; resolves once the loop has ended. */
  async close(): Promise<void> {
    this.#stop.abort();
    this.#attempt?.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { backoff, onOutage, onEnded } = this.#options;
    const stop = this.#stop;
    while (!stop.signal.aborted) {
      const attempt = new AbortController();
      this.#attempt = attempt;
      this.#restart = false;
      const failed = (error: unknown): void => {
        // One line per outage, not one per attempt: a robot can be offline for days.
        if (attempt.signal.aborted || this.#outageLogged) return;
        this.#outageLogged = true;
        onOutage(error);
      };
      try {
        await this.#options.attempt({
          signal: attempt.signal,
          connected: () => {
            backoff.reset();
            this.#outageLogged = false;
          },
          failed,
          giveUp: () => stop.abort(),
        });
      } catch (error) {
        failed(error);
      } finally {
        // A deliberate reconnect (renewed certificate) is not an outage.
        if (!this.#restart) onEnded();
      }
      if (stop.signal.aborted) break;
      if (this.#restart) continue;
      await sleep(backoff.next(), stop.signal);
    }
  }
}
