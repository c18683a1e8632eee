/** Reconnect backoff (full jitter, capped, reset) and the broker address parser's table of bad inputs. */
import { describe, expect, it } from 'vitest';
import { createBackoff, sleep } from './backoff.js';
import { parseBrokerAddress } from './broker-session.js';

describe('createBackoff', () => {
  it('doubles the ceiling from 1 s up to 5 min, drawing uniformly below it (full jitter)', () => {
    const top = createBackoff({ random: () => 0.999_999 });
    const ceilings = Array.from({ length: 12 }, () => top.next());
    expect(ceilings.slice(0, 4)).toEqual([999, 1_999, 3_999, 7_999]);
    expect(Math.max(...ceilings)).toBeLessThan(300_000);
    expect(ceilings.at(-1)).toBe(299_999);
    const bottom = createBackoff({ random: () => 0 });
    expect(Array.from({ length: 5 }, () => bottom.next())).toEqual([0, 0, 0, 0, 0]);
  });

  it('starts again from the first ceiling after a reset', () => {
    const backoff = createBackoff({ initialMs: 100, maxMs: 1_000, random: () => 0.5 });
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([50, 100, 200]);
    backoff.reset();
    expect(backoff.next()).toBe(50);
  });

  it('keeps the attempt count bounded however long it fails', () => {
    const backoff = createBackoff({ random: () => 0.5 });
    for (let i = 0; i < 100_000; i += 1) backoff.next();
    expect(backoff.next()).toBe(150_000);
  });

  it.each([
    [{ initialMs: 0 }],
    [{ initialMs: -1 }],
    [{ initialMs: 1_000, maxMs: 10 }],
    [{ maxMs: Number.NaN }],
  ])('refuses %j', (options) => {
    expect(() => createBackoff(options)).toThrow(RangeError);
  });

  it('sleep returns at once when aborted', async () => {
    const controller = new AbortController();
    const pending = sleep(3_600_000, controller.signal);
    controller.abort();
    await expect(pending).resolves.toBeUndefined();
  });
});

describe('parseBrokerAddress', () => {
  it('reads host and port of mqtts:// addresses', () => {
    expect(parseBrokerAddress('mqtts://127.0.0.1:8883')).toEqual({ host: '127.0.0.1', port: 8883 });
    expect(parseBrokerAddress('mqtts://broker.example:9000/')).toEqual({ host: 'broker.example', port: 9000 });
    expect(parseBrokerAddress('mqtts://[::1]:1883')).toEqual({ host: '::1', port: 1883 });
    expect(parseBrokerAddress('mqtts://broker.example')).toEqual({ host: 'broker.example', port: 8883 });
  });

  it.each(['mqtt://127.0.0.1:1883', 'tcp://127.0.0.1:1883', 'wss://broker:443', 'mqtts://user:pw@broker:8883', 'mqtts://broker:8883/topic', 'mqtts://broker:8883?x=1', 'not a url', ''])(
    'Precondition: refuses %j (TLS only, host and port only)',
    (address) => {
      expect(() => parseBrokerAddress(address)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error);
    },
  );
});
