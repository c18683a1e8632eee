/**
 * withTimeout (per-call deadlines, one timer) and withRetry (full jitter, retryable errors only).
 *
 * Trust boundary: none; test code.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AccessDenied, InvalidCiphertext, KeyNotFound, ProviderUnavailable, Throttled } from '../errors.js';
import type { KmsProviderMethod } from '../provider.js';
import { createMemoryKmsProvider } from '../testing/memory-provider.js';
import { codeOf, hex } from '../test-support.js';
import { fullJitterDelay, withRetry } from './retry.js';
import { withTimeout } from './timeout.js';

const run = promisify(execFile);

describe('withTimeout', () => {
  it('fails a call slower than the deadline with TIMEOUT naming provider, key and operation', async () => {
    const { provider, faults } = createMemoryKmsProvider();
    const key = await provider.createKey({ spec: 'AES_256' });
    faults.set({ latencyMs: 200 });
    const timed = withTimeout(provider, { timeoutMs: 20 });
    try {
      await timed.describeKey(key.keyId);
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'TIMEOUT', retryable: true, provider: 'memory', keyId: key.keyId, operation: 'describeKey' });
    }
    faults.reset();
    await new Promise((resolve) => setTimeout(resolve, 220));
  });

  it('gives every call its own deadline, with one timer for many overlapping calls', async () => {
    const latency = new Map<string, number>();
    const { provider } = createMemoryKmsProvider({
      fault: async (_operation, keyId) => {
        await new Promise((resolve) => setTimeout(resolve, latency.get(keyId ?? '') ?? 0));
      },
    });
    latency.set('slow-a', 150);
    latency.set('fast-b', 0);
    latency.set('slow-c', 150);
    const timed = withTimeout(provider, { timeoutMs: 60 });
    const started = performance.now();
    const settledAt = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code).then((code) => [code, Math.round(performance.now() - started)] as const);
    const a = settledAt(timed.describeKey('slow-a'));
    await new Promise((resolve) => setTimeout(resolve, 30));
    const b = settledAt(timed.describeKey('fast-b'));
    const c = settledAt(timed.describeKey('slow-c'));
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    expect(ra[0]).toBe('TIMEOUT');
    expect(rb[0]).toBe('KMS_KEY_NOT_FOUND');
    expect(rc[0]).toBe('TIMEOUT');
    expect(ra[1]).toBeGreaterThanOrEqual(55);
    expect(ra[1]).toBeLessThan(120);
    // c started ~30 ms after a: its deadline is its own, not a's
    expect(rc[1]).toBeGreaterThanOrEqual(85);
    expect(rc[1]).toBeLessThan(170);
    await new Promise((resolve) => setTimeout(resolve, 160));
  });

  it('passes fast calls and their errors through unchanged', async () => {
    const { provider } = createMemoryKmsProvider();
    const timed = withTimeout(provider, { timeoutMs: 1_000 });
    const key = await timed.createKey({ spec: 'AES_256' });
    const envelope = await timed.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(5) });
    expect(hex(await timed.unwrap({ envelope }))).toBe('05');
    expect(await codeOf(timed.describeKey('nope'))).toBe('KMS_KEY_NOT_FOUND');
    expect(timed.name).toBe('memory');
    expect(timed.supportedKeySpecs).toBe(provider.supportedKeySpecs);
  });

  it('never keeps a process alive once its calls have settled (child process, 30 s deadline)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-timeout-'));
    try {
      const script = join(dir, 'exit.mts');
      const src = fileURLToPath(new URL('..', import.meta.url));
      writeFileSync(
        script,
        [
          `import { withTimeout } from ${JSON.stringify(join(src, 'index.ts'))};`,
          `import { createMemoryKmsProvider } from ${JSON.stringify(join(src, 'testing.ts'))};`,
          `const timed = withTimeout(createMemoryKmsProvider().provider, { timeoutMs: 30_000 });`,
          `for (let i = 0; i < 3; i++) await timed.health();`,
          `console.log('done');`,
        ].join('\n'),
      );
      const started = Date.now();
      const { stdout } = await run(process.execPath, ['--import', 'tsx', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)), timeout: 25_000 });
      expect(stdout.trim()).toBe('done');
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('refuses a deadline outside 1..600000 ms', () => {
    const { provider } = createMemoryKmsProvider();
    for (const timeoutMs of [0, -1, 1.5, 600_001]) expect(() => withTimeout(provider, { timeoutMs })).toThrow(RangeError);
    expect(() => withTimeout({} as never)).toThrow(TypeError);
  });
});

describe('withRetry', () => {
  /** A memory provider whose hook throws `errors[i]` on request i (then succeeds). */
  function scripted(errors: Array<Error | undefined>) {
    let i = 0;
    const seen: KmsProviderMethod[] = [];
    const memory = createMemoryKmsProvider({
      fault: (operation) => {
        seen.push(operation);
        const error = errors[i++];
        if (error !== undefined) throw error;
      },
    });
    return { ...memory, seen };
  }
  const d = { provider: 'memory', operation: 'wrap' as const };

  it('retries THROTTLED, PROVIDER_UNAVAILABLE and TIMEOUT with full-jitter sleeps, then succeeds', async () => {
    const { provider, seen } = scripted([undefined, new Throttled(d), new ProviderUnavailable(d), new Throttled(d)]);
    const key = await provider.createKey({ spec: 'AES_256' });
    const sleeps: number[] = [];
    const retried = withRetry(provider, { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 250, random: () => 0.999, sleep: async (ms) => void sleeps.push(ms) });
    const envelope = await retried.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) });
    expect(hex(await provider.unwrap({ envelope }))).toBe('01');
    // ceilings 100, 200, min(250, 400) = 250; random 0.999 -> floor(0.999 * ceiling)
    expect(sleeps).toEqual([99, 199, 249]);
    expect(seen.filter((op) => op === 'wrap').length).toBe(4);
  });

  it('gives up after maxRetries and throws the last error', async () => {
    const { provider, faults } = createMemoryKmsProvider();
    const key = await provider.createKey({ spec: 'AES_256' });
    faults.set({ throttleRate: 1 });
    const before = faults.requests;
    const sleeps: number[] = [];
    const retried = withRetry(provider, { maxRetries: 2, sleep: async (ms) => void sleeps.push(ms) });
    expect(await codeOf(retried.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) }))).toBe('THROTTLED');
    expect(faults.requests - before).toBe(3);
    expect(sleeps.length).toBe(2);
  });

  it.each([
    ['ACCESS_DENIED', new AccessDenied(d)],
    ['INVALID_CIPHERTEXT', new InvalidCiphertext(d)],
    ['KMS_KEY_NOT_FOUND', new KeyNotFound(d)],
    ['a TypeError (a bug)', new TypeError('bug')],
  ] as const)('never retries %s', async (_title, error) => {
    const { provider, seen } = scripted([undefined, error]);
    const key = await provider.createKey({ spec: 'AES_256' });
    const sleeps: number[] = [];
    const retried = withRetry(provider, { sleep: async (ms) => void sleeps.push(ms) });
    await expect(retried.wrap({ keyId: key.keyId, plaintext: Uint8Array.of(1) })).rejects.toBe(error);
    expect(sleeps).toEqual([]);
    expect(seen.filter((op) => op === 'wrap').length).toBe(1);
  });

  it('retries createKey / rotateKey on THROTTLED only (a timeout may hide a call that succeeded)', async () => {
    const unavailable = scripted([new ProviderUnavailable({ ...d, operation: 'createKey' })]);
    const sleeps: number[] = [];
    const retried = withRetry(unavailable.provider, { sleep: async (ms) => void sleeps.push(ms) });
    expect(await codeOf(retried.createKey({ spec: 'AES_256' }))).toBe('PROVIDER_UNAVAILABLE');
    expect(sleeps).toEqual([]);
    const throttled = scripted([new Throttled({ ...d, operation: 'createKey' })]);
    const retried2 = withRetry(throttled.provider, { sleep: async (ms) => void sleeps.push(ms) });
    expect((await retried2.createKey({ spec: 'AES_256' })).spec).toBe('AES_256');
    expect(sleeps.length).toBe(1);
  });

  it('full jitter: every delay lies in [0, min(cap, base * 2^attempt)] for any random value', () => {
    fc.assert(
      fc.property(fc.nat({ max: 20 }), fc.nat({ max: 1000 }), fc.nat({ max: 60_000 }), fc.double({ noNaN: false }), (attempt, base, extra, r) => {
        const cap = base + extra;
        const delay = fullJitterDelay(attempt, base, cap, () => r);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(Math.min(cap, base * 2 ** attempt));
        expect(Number.isInteger(delay)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('full jitter spreads delays across the whole window (not equal jitter)', () => {
    const delays = Array.from({ length: 1000 }, () => fullJitterDelay(3, 100, 10_000, Math.random));
    expect(Math.min(...delays)).toBeLessThan(80);
    expect(Math.max(...delays)).toBeGreaterThan(720);
  });

  it('refuses options out of bounds', () => {
    const { provider } = createMemoryKmsProvider();
    expect(() => withRetry(provider, { maxRetries: 11 })).toThrow(RangeError);
    expect(() => withRetry(provider, { maxRetries: -1 })).toThrow(RangeError);
    expect(() => withRetry(provider, { baseDelayMs: 100, maxDelayMs: 50 })).toThrow(RangeError);
    expect(() => withRetry(provider, { random: 'x' as never })).toThrow(TypeError);
  });

  it('the default sleep really waits (small base delay)', async () => {
    const { provider, faults } = createMemoryKmsProvider();
    const key = await provider.createKey({ spec: 'AES_256' });
    faults.set({ throttleRate: 1 });
    const started = Date.now();
    expect(await codeOf(withRetry(provider, { maxRetries: 2, baseDelayMs: 20, random: () => 0.99 }).describeKey(key.keyId))).toBe('THROTTLED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(19 + 39 - 5);
  });
});
