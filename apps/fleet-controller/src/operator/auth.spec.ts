/**
 * Operator authentication and authorization, below the gRPC layer: the bearer parser against a
 * table of bad inputs and a property test, the credential check against a real SQLite store, and
 * the role / fleet-scope rules. (The same rules over real gRPC: ./service-access.spec.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rejectionCode, manualClock } from '../store/testing.js';
import { generateToken, hashToken, MAX_TOKEN_LENGTH, openSqliteRepository, type Operator, type Repository } from '../store/index.js';
import {
  authenticateOperator,
  authorize,
  authorizeAllFleets,
  checkOperatorCredential,
  mayActOnFleet,
  parseBearerCredential,
  scopeWithin,
  visibleFleets,
} from './auth.js';

const metadataWith = (...values: (string | Buffer)[]): Metadata => {
  const metadata = new Metadata();
  for (const value of values) metadata.add(typeof value === 'string' ? 'authorization' : 'authorization-bin', value);
  return metadata;
};

const GOOD = generateToken('operator');

describe('parseBearerCredential', () => {
  it('accepts exactly one `Bearer <operator token>` (scheme case-insensitive, RFC 7235 §2.1)', () => {
    expect(parseBearerCredential(metadataWith(`Bearer ${GOOD}`))).toEqual({ ok: true, token: GOOD });
    expect(parseBearerCredential(metadataWith(`bearer ${GOOD}`))).toEqual({ ok: true, token: GOOD });
  });

  it('reports a missing credential as missing', () => {
    expect(parseBearerCredential(new Metadata())).toEqual({ ok: false, reason: 'missing' });
  });

  const bad: [string, Metadata][] = [
    ['two authorization values', metadataWith(`Bearer ${GOOD}`, `Bearer ${GOOD}`)],
    ['no scheme', metadataWith(GOOD)],
    ['another scheme', metadataWith(`Basic ${GOOD}`)],
    ['two spaces', metadataWith(`Bearer  ${GOOD}`)],
    ['trailing space', metadataWith(`Bearer ${GOOD} `)],
    ['empty token', metadataWith('Bearer ')],
    ['an enrollment token', metadataWith(`Bearer ${generateToken('enrollment')}`)],
    ['prefix only', metadataWith('Bearer fk_op_')],
    ['padding and other base64 characters', metadataWith(`Bearer ${GOOD}=`)],
    ['a token past MAX_TOKEN_LENGTH', metadataWith(`Bearer fk_op_${'A'.repeat(MAX_TOKEN_LENGTH)}`)],
    ['a huge value', metadataWith(`Bearer ${'x'.repeat(100_000)}`)],
    ['a character outside base64url', metadataWith(`Bearer ${GOOD.slice(0, 20)}!${GOOD.slice(21)}`)],
  ];
  it.each(bad)('Precondition: refuses %s as malformed', (_name, metadata) => {
    expect(parseBearerCredential(metadata)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('never accepts anything but a bounded `fk_op_` base64url token (property)', () => {
    // Printable ASCII is all grpc-js lets through as a metadata value.
    const printable = fc.string({ unit: fc.constantFrom(...' Bearfk_op-AZz09/+=!bEARER'.split('')), maxLength: 200 });
    fc.assert(
      fc.property(fc.oneof(printable, printable.map((tail) => `Bearer fk_op_${tail}`)), (value) => {
        const result = parseBearerCredential(metadataWith(value));
        if (result.ok) {
          expect(result.token.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH);
          expect(result.token).toMatch(/^fk_op_[A-Za-z0-9_-]+$/);
          expect(value.toLowerCase()).toBe(`bearer ${result.token.toLowerCase()}`);
        }
      }),
    );
  });
});

describe('checkOperatorCredential / authenticateOperator (real SQLite store)', () => {
  let dir: string;
  let repository: Repository;
  const clock = manualClock();

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fk-operator-auth-'));
    repository = await openSqliteRepository({ path: join(dir, 'state.db'), clock });
  });
  afterEach(async () => {
    await repository.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the operator by the hash of its credential, and refuses unknown and revoked ones', async () => {
    const credential = generateToken('operator');
    const created = await repository.createOperator({ name: 'alice', role: 'auditor', fleetScope: { kind: 'all' }, tokenHash: hashToken(credential) });
    const found = await authenticateOperator(repository, metadataWith(`Bearer ${credential}`));
    expect(found.id).toBe(created.id);

    expect(await checkOperatorCredential(repository, metadataWith(`Bearer ${generateToken('operator')}`))).toEqual({ ok: false, reason: 'unknown' });
    expect(await rejectionCode(authenticateOperator(repository, metadataWith(`Bearer ${generateToken('operator')}`)))).toBe('UNAUTHENTICATED');

    await repository.revokeOperator(created.id);
    expect(await checkOperatorCredential(repository, metadataWith(`Bearer ${credential}`))).toEqual({ ok: false, reason: 'revoked', operatorId: created.id });
    expect(await rejectionCode(authenticateOperator(repository, metadataWith(`Bearer ${credential}`)))).toBe('UNAUTHENTICATED');
  });

  it('gives every failure the same Unauthenticated message', async () => {
    const messages = new Set<string>();
    for (const metadata of [new Metadata(), metadataWith('Bearer nope'), metadataWith(`Bearer ${generateToken('operator')}`)]) {
      try {
        await authenticateOperator(repository, metadata);
      } catch (error) {
        messages.add((error as Error).message);
      }
    }
    expect(messages.size).toBe(1);
  });
});

describe('authorization rules', () => {
  const op = (role: Operator['role'], fleetIds?: string[]): Pick<Operator, 'role' | 'fleetScope'> => ({
    role,
    fleetScope: fleetIds === undefined ? { kind: 'all' } : { kind: 'fleets', fleetIds },
  });

  it('Precondition: only the listed roles pass', () => {
    expect(() => authorize(op('admin'), ['admin'], undefined)).not.toThrow();
    for (const role of ['operator', 'factory', 'auditor'] as const) {
      expect(() => authorize(op(role), ['admin'], undefined)).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
    }
  });

  it('Precondition: a fleet-scoped operator acts only on its fleets', () => {
    expect(() => authorize(op('operator', ['a']), ['operator'], 'a')).not.toThrow();
    expect(() => authorize(op('operator', ['a']), ['operator'], 'b')).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
    expect(() => authorize(op('operator'), ['operator'], 'b')).not.toThrow();
    expect(mayActOnFleet(op('auditor', ['a', 'c']), 'c')).toBe(true);
    expect(mayActOnFleet(op('auditor', ['a', 'c']), 'b')).toBe(false);
  });

  it('Precondition: controller-wide actions need the all-fleets scope', () => {
    expect(() => authorizeAllFleets(op('admin'), 'x')).not.toThrow();
    expect(() => authorizeAllFleets(op('admin', ['a']), 'x')).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
  });

  it('tells which fleets a caller may list, and whether one scope lies within another', () => {
    expect(visibleFleets(op('auditor'))).toBe('all');
    expect([...(visibleFleets(op('auditor', ['b', 'a'])) as Set<string>)].sort()).toEqual(['a', 'b']);
    expect(scopeWithin({ kind: 'fleets', fleetIds: ['a'] }, { kind: 'fleets', fleetIds: ['a', 'b'] })).toBe(true);
    expect(scopeWithin({ kind: 'fleets', fleetIds: ['a', 'c'] }, { kind: 'fleets', fleetIds: ['a', 'b'] })).toBe(false);
    expect(scopeWithin({ kind: 'all' }, { kind: 'fleets', fleetIds: ['a'] })).toBe(false);
    expect(scopeWithin({ kind: 'all' }, { kind: 'all' })).toBe(true);
  });
});
