import { describe, expect, it } from 'vitest';
import { FaultInjector } from './faults.js';

describe('FaultInjector', () => {
  it('answers ok with no faults and counts requests', async () => {
    const faults = new FaultInjector();
    expect(await faults.next()).toBe('ok');
    expect(await faults.next()).toBe('ok');
    expect(faults.requests).toBe(2);
  });

  it('throttles and errors at the configured rates', async () => {
    const rolls = [0.05, 0.15, 0.5];
    const faults = new FaultInjector({ random: () => rolls.shift() ?? 0.9 });
    faults.set({ throttleRate: 0.1, errorRate: 0.2 });
    expect([await faults.next(), await faults.next(), await faults.next(), await faults.next()]).toEqual(['throttle', 'error', 'ok', 'ok']);
  });

  it('fails everything during an outage until reset', async () => {
    const faults = new FaultInjector();
    faults.set({ outage: true });
    expect(await faults.next()).toBe('outage');
    faults.reset();
    expect(await faults.next()).toBe('ok');
  });

  it('adds latency', async () => {
    const faults = new FaultInjector();
    faults.set({ latencyMs: 30 });
    const started = Date.now();
    await faults.next();
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('refuses out-of-range settings', () => {
    const faults = new FaultInjector();
    expect(() => faults.set({ throttleRate: 1.5 })).toThrow(RangeError);
    expect(() => faults.set({ latencyMs: -1 })).toThrow(RangeError);
  });
});
