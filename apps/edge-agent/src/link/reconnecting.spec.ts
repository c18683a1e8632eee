/**
 * The reconnect loop's control flow: backoff reset, one outage line per outage, restart without a
 * sleep, close. The loop does no I/O, so attempts here are scripted promises the test settles; the
 * backoff is the real one (./backoff.ts), recorded as it is drawn.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createBackoff, type Backoff, type BackoffOptions } from './backoff.js';
import { ReconnectLoop, type ReconnectAttempt } from './reconnecting.js';

/** One attempt the loop is running, settled by the test. */
interface Scripted {
  readonly context: ReconnectAttempt;
  /** The attempt returns (its connection ended, or it stopped on its signal). */
  end(): void;
  reject(error: Error): void;
}

/** An hour: a loop that sleeps this long instead of going on fails the test by its timeout. */
const LONG_MS = 3_600_000;

const loops: ReconnectLoop[] = [];
afterEach(async () => {
  await Promise.all(loops.splice(0).map((loop) => loop.close()));
});

/**
 * A started loop over scripted attempts. With `endOnAbort`, an attempt returns as soon as its
 * signal aborts, as a real one does; without, it returns only when the test ends it.
 */
function harness(backoffOptions: BackoffOptions, endOnAbort = true) {
  const real = createBackoff(backoffOptions);
  const delays: number[] = [];
  const backoff: Backoff = {
    next: () => {
      const delay = real.next();
      delays.push(delay);
      return delay;
    },
    reset: () => real.reset(),
  };
  const outages: unknown[] = [];
  let ended = 0;
  let started = 0;
  const ready: Scripted[] = [];
  const waiting: ((attempt: Scripted) => void)[] = [];
  const loop = new ReconnectLoop({
    backoff,
    attempt: (context) =>
      new Promise<void>((resolve, reject) => {
        started += 1;
        if (endOnAbort) context.signal.addEventListener('abort', () => resolve(), { once: true });
        const scripted: Scripted = { context, end: () => resolve(), reject };
        const waiter = waiting.shift();
        if (waiter === undefined) ready.push(scripted);
        else waiter(scripted);
      }),
    onOutage: (error) => outages.push(error),
    onEnded: () => {
      ended += 1;
    },
  });
  loops.push(loop);
  loop.start();
  return {
    loop,
    delays,
    outages,
    ended: () => ended,
    started: () => started,
    /** The next attempt the loop starts. */
    next: (): Promise<Scripted> => {
      const attempt = ready.shift();
      return attempt === undefined ? new Promise((resolve) => waiting.push(resolve)) : Promise.resolve(attempt);
    },
  };
}

/** Lets pending callbacks run until `done` holds (an event to wait for, not a time). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setImmediate(resolve));
}

describe('ReconnectLoop', () => {
  it('starts the backoff over after a connection came up', async () => {
    // Ceilings 1, 2, 4, 8 ms: near the top of each, 0, 1, 3, 7.
    const { delays, next } = harness({ initialMs: 1, maxMs: 64, random: () => 0.999 });
    (await next()).reject(new Error('refused'));
    (await next()).reject(new Error('refused'));
    (await next()).reject(new Error('refused'));
    const up = await next();
    up.context.connected();
    up.end();
    (await next()).reject(new Error('refused'));
    await next();
    // Without the reset the last two would be 7 and 15.
    expect(delays).toEqual([0, 1, 3, 0, 1]);
  });

  it('reports an outage once, at its first failure, and again after a connection came up', async () => {
    const { outages, ended, next } = harness({ initialMs: 1, maxMs: 4 });
    const first = new Error('first');
    (await next()).reject(first);
    (await next()).reject(new Error('again'));
    const reported = await next();
    reported.context.failed(new Error('again, reported'));
    reported.end();
    expect(outages).toEqual([first]);

    const lost = new Error('lost after connecting');
    const up = await next();
    up.context.connected();
    up.reject(lost);
    (await next()).reject(new Error('still down'));
    expect(outages).toEqual([first, lost]);

    const upAgain = await next();
    upAgain.context.connected();
    upAgain.end();
    const down = new Error('down again');
    (await next()).reject(down);
    await next();
    expect(outages).toEqual([first, lost, down]);
    expect(ended()).toBe(7);
  });

  it('restart() drops the attempt and starts the next at once: no backoff sleep, no outage, no end reported', async () => {
    const { loop, delays, outages, ended, next } = harness({ initialMs: LONG_MS, maxMs: LONG_MS, random: () => 0.999 });
    const current = await next();
    current.context.connected();
    loop.restart();
    expect(current.context.signal.aborted).toBe(true);
    // What an aborted attempt reports (a cancelled call) is not an outage.
    current.context.failed(new Error('cancelled'));
    const following = await next();
    expect(following.context.signal.aborted).toBe(false);
    expect(delays).toEqual([]);
    expect(outages).toEqual([]);
    expect(ended()).toBe(0);
  });

  it('close() aborts the attempt in progress, resolves once it has returned, and starts no other', async () => {
    const { loop, ended, started, next } = harness({ initialMs: 1, maxMs: 4, random: () => 0 }, false);
    const current = await next();
    let closed = false;
    const closing = loop.close().then(() => {
      closed = true;
    });
    expect(current.context.signal.aborted).toBe(true);
    // The attempt is still cleaning up: close() waits for it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    current.end();
    await closing;
    expect(ended()).toBe(1);
    loop.start();
    loop.restart();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started()).toBe(1);
  });

  it('close() cuts a backoff sleep short', async () => {
    const { loop, delays, started, next } = harness({ initialMs: LONG_MS, maxMs: LONG_MS, random: () => 0.999 });
    (await next()).reject(new Error('refused'));
    await until(() => delays.length === 1);
    expect(delays[0]).toBeGreaterThan(60_000);
    await loop.close();
    expect(started()).toBe(1);
  });

  it('giveUp(): no sleep and no attempt follow, and close() still resolves', async () => {
    const { loop, delays, ended, started, next } = harness({ initialMs: 1, maxMs: 4, random: () => 0 });
    const refused = await next();
    refused.context.giveUp();
    refused.end();
    await until(() => ended() === 1);
    // The loop draws the next delay in the same turn as it reports the end.
    expect(delays).toEqual([]);
    await loop.close();
    expect(started()).toBe(1);
  });
});
