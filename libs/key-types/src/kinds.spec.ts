import { describe, expect, it } from 'vitest';
import { algorithmInfo, isSymmetric, KEY_ALGORITHMS } from './algorithms.js';
import { isFleetkeyError } from './errors.js';
import { assertIdentifier, isValidIdentifier } from './identifiers.js';
import { KEY_KINDS, KIND_POLICIES, assertAlgorithmAllowed } from './kinds.js';

describe('kind policies', () => {
  it('rotates communication keys every 24 hours and emergency keys yearly', () => {
    expect(KIND_POLICIES.communication.rotation).toMatchObject({ mode: 'interval', intervalMs: 86_400_000 });
    expect(KIND_POLICIES.emergency.rotation).toMatchObject({ mode: 'interval', intervalMs: 365 * 86_400_000 });
    expect(KIND_POLICIES['device-identity'].rotation.mode).toBe('manual');
    expect(KIND_POLICIES.storage.rotation.mode).toBe('manual');
  });

  it('allows each kind its default algorithm, and symmetric kinds only symmetric algorithms', () => {
    for (const kind of KEY_KINDS) {
      const policy = KIND_POLICIES[kind];
      expect(policy.allowedAlgorithms).toContain(policy.defaultAlgorithm);
      const symmetric = isSymmetric(policy.defaultAlgorithm);
      for (const algorithm of policy.allowedAlgorithms) expect(isSymmetric(algorithm)).toBe(symmetric);
    }
  });

  it('refuses an algorithm the policy does not allow', () => {
    let caught: unknown;
    try {
      assertAlgorithmAllowed('device-identity', 'ED25519');
    } catch (error) {
      caught = error;
    }
    expect(isFleetkeyError(caught, 'UNSUPPORTED_ALGORITHM')).toBe(true);
  });

  it('describes every algorithm and refuses unknown ones', () => {
    for (const algorithm of KEY_ALGORITHMS) expect(algorithmInfo(algorithm).bits).toBeGreaterThan(0);
    expect(() => algorithmInfo('DES')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_ALGORITHM' }));
  });
});

describe('identifiers', () => {
  it.each(['acme', 'robot-0042', 'A1.b_c-d', 'x'.repeat(64)])('accepts %s', (id) => {
    expect(isValidIdentifier(id)).toBe(true);
  });

  it.each(['', '-lead', '.hidden', 'a/b', 'a+b', 'a#', 'a b', 'a\u0000', 'é', 'x'.repeat(65), 'a:b', 'a@b'])('refuses %j', (id) => {
    expect(isValidIdentifier(id)).toBe(false);
    expect(() => assertIdentifier('device', id)).toThrow(expect.objectContaining({ code: 'INVALID_IDENTIFIER' }));
  });

  it('does not echo more than the maximum length of an over-long id', () => {
    try {
      assertIdentifier('fleet', 'y'.repeat(10_000));
    } catch (error) {
      expect((error as Error).message.length).toBeLessThan(300);
      return;
    }
    throw new Error('expected an error');
  });
});
