/**
 * Operators over real gRPC: create (credential once, stored hashed), list (scoped view, revoked
 * filter, paging), revoke (never oneself; a scoped admin only within its fleets), and the audit
 * records each change and each refusal leaves.
 */
import { createHash } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { OperatorRole } from '@fleetkey/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rpcFailure, startHarness, type Harness } from './testing.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
  await h.makeFleet('alpha');
  await h.makeFleet('bravo');
});
afterEach(async () => {
  expect(h.unexpected).toEqual([]);
  await h.close();
});

describe('CreateOperator', () => {
  it('returns the credential once; the store keeps only its SHA-256; the credential works', async () => {
    const created = await h.client.createOperator({ displayName: 'Factory line 3', role: OperatorRole.FACTORY, fleets: ['alpha'] }, h.as(h.admin));
    expect(created.credential).toMatch(/^fk_op_[A-Za-z0-9_-]{43}$/);
    expect(created.operator?.role).toBe(OperatorRole.FACTORY);
    expect(created.operator?.fleets).toEqual(['alpha']);
    const stored = await h.repository.getOperator(created.operator?.operatorId ?? '');
    expect(Buffer.from(stored?.tokenHash ?? []).equals(createHash('sha256').update(created.credential).digest())).toBe(true);

    const minted = await h.client.createEnrollmentToken({ fleet: 'alpha' }, h.as(created.credential));
    expect(minted.tokens).toHaveLength(1);

    const record = (await h.auditRecords()).find((r) => r.action === 'operator.create');
    expect([record?.actor, record?.result, record?.fleetId]).toEqual([h.admin.id, 'ok', 'alpha']);
    expect(JSON.parse(record?.detailsJson ?? '{}')).toMatchObject({ subject: created.operator?.operatorId, role: 'factory', allFleets: false, fleetCount: 1 });
    expect(record?.detailsJson).not.toContain(created.credential);
  });

  it('empty fleets means all fleets', async () => {
    const created = await h.client.createOperator({ displayName: 'Auditor', role: OperatorRole.AUDITOR }, h.as(h.admin));
    expect(created.operator?.fleets).toEqual([]);
    expect((await h.client.listFleets({}, h.as(created.credential))).fleets.map((f) => f.fleet)).toEqual(['alpha', 'bravo']);
  });

  it('refuses an unspecified role, neither id nor display name, a malformed id and an unknown fleet', async () => {
    const as = h.as(h.admin);
    expect((await rpcFailure(h.client.createOperator({ displayName: 'x', role: OperatorRole.UNSPECIFIED }, as))).status).toBe(status.INVALID_ARGUMENT);
    expect((await rpcFailure(h.client.createOperator({ displayName: 'x', role: 99 as OperatorRole }, as))).status).toBe(status.INVALID_ARGUMENT);
    expect((await rpcFailure(h.client.createOperator({ role: OperatorRole.ADMIN }, as))).status).toBe(status.INVALID_ARGUMENT);
    expect((await rpcFailure(h.client.createOperator({ operatorId: 'al ice', displayName: 'x', role: OperatorRole.ADMIN }, as))).status).toBe(status.INVALID_ARGUMENT);
    expect((await rpcFailure(h.client.createOperator({ displayName: 'x', role: OperatorRole.ADMIN, fleets: ['nowhere'] }, as))).status).toBe(status.NOT_FOUND);
    expect((await h.repository.listOperators()).length).toBe(1);
  });

  it('takes the requested operator id (display name defaulting to it), and refuses a taken one', async () => {
    const as = h.as(h.admin);
    const created = await h.client.createOperator({ operatorId: 'alice', role: OperatorRole.OPERATOR }, as);
    expect(created.operator).toMatchObject({ operatorId: 'alice', displayName: 'alice' });
    expect((await rpcFailure(h.client.createOperator({ operatorId: 'alice', role: OperatorRole.OPERATOR }, as))).status).toBe(status.ALREADY_EXISTS);
    expect((await h.repository.getOperator('alice'))?.name).toBe('alice');
  });

  it('Precondition: a fleet-scoped admin creates operators only within its fleets, never an all-fleets one', async () => {
    const scopedAdmin = await h.makeOperator('admin', ['alpha']);
    const as = h.as(scopedAdmin);
    expect((await rpcFailure(h.client.createOperator({ displayName: 'x', role: OperatorRole.OPERATOR }, as))).status).toBe(status.PERMISSION_DENIED);
    expect((await rpcFailure(h.client.createOperator({ displayName: 'x', role: OperatorRole.OPERATOR, fleets: ['bravo'] }, as))).status).toBe(status.PERMISSION_DENIED);
    expect((await rpcFailure(h.client.createOperator({ displayName: 'x', role: OperatorRole.OPERATOR, fleets: ['alpha', 'bravo'] }, as))).status).toBe(
      status.PERMISSION_DENIED,
    );
    const ok = await h.client.createOperator({ displayName: 'x', role: OperatorRole.OPERATOR, fleets: ['alpha'] }, as);
    expect(ok.operator?.fleets).toEqual(['alpha']);
    const denied = (await h.auditRecords()).filter((r) => r.result === 'denied');
    expect(denied.map((r) => [r.actor, r.action, r.errorCode])).toEqual(Array(3).fill([scopedAdmin.id, 'operator.create', 'PERMISSION_DENIED']));
  });
});

describe('ListOperators', () => {
  it('shows a fleet-scoped caller only operators within its scope, and revoked ones only on request', async () => {
    const alphaAuditor = await h.makeOperator('auditor', ['alpha']);
    const alphaFactory = await h.makeOperator('factory', ['alpha']);
    const bravoFactory = await h.makeOperator('factory', ['bravo']);
    await h.makeOperator('operator', ['alpha', 'bravo']);
    const gone = await h.makeOperator('operator', ['alpha']);
    await h.repository.revokeOperator(gone.id);

    const scoped = (await h.client.listOperators({}, h.as(alphaAuditor))).operators.map((o) => o.operatorId).sort();
    expect(scoped).toEqual([alphaAuditor.id, alphaFactory.id].sort());
    const withRevoked = (await h.client.listOperators({ includeRevoked: true }, h.as(alphaAuditor))).operators;
    expect(withRevoked.map((o) => o.operatorId)).toContain(gone.id);
    expect(withRevoked.find((o) => o.operatorId === gone.id)?.revokedAt).toBeDefined();

    const all = (await h.client.listOperators({}, h.as(h.admin))).operators.map((o) => o.operatorId);
    expect(all).toHaveLength(5);
    expect(all).toContain(bravoFactory.id);
  });

  it('pages with next_page_token and refuses a forged one', async () => {
    for (let i = 0; i < 4; i++) {
      h.clock.advance(1000);
      await h.makeOperator('auditor');
    }
    const seen: string[] = [];
    let pageToken = '';
    do {
      const page = await h.client.listOperators({ pageSize: 2, pageToken }, h.as(h.admin));
      expect(page.operators.length).toBeLessThanOrEqual(2);
      seen.push(...page.operators.map((o) => o.operatorId));
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    expect(new Set(seen).size).toBe(5);
    expect(seen).toHaveLength(5);
    for (const bad of ['%%%', 'eyJ2IjoxfQ', Buffer.from('[1,"devices","x"]').toString('base64url')]) {
      expect((await rpcFailure(h.client.listOperators({ pageToken: bad }, h.as(h.admin)))).status).toBe(status.INVALID_ARGUMENT);
    }
  });
});

describe('RevokeOperator', () => {
  it('revokes: the credential stops working at once, and the change is audited with its reason', async () => {
    const victim = await h.makeOperator('operator', ['alpha']);
    await h.client.listFleets({}, h.as(victim));
    const revoked = await h.client.revokeOperator({ operatorId: victim.id, reason: 'left the company' }, h.as(h.admin));
    expect(revoked.operator?.revokedAt).toBeDefined();
    expect((await rpcFailure(h.client.listFleets({}, h.as(victim)))).status).toBe(status.UNAUTHENTICATED);
    const record = (await h.auditRecords()).find((r) => r.action === 'operator.revoke');
    expect([record?.actor, record?.result, record?.fleetId]).toEqual([h.admin.id, 'ok', 'alpha']);
    expect(JSON.parse(record?.detailsJson ?? '{}')).toMatchObject({ subject: victim.id, alreadyRevoked: false, reason: 'left the company' });
  });

  it('Precondition: an operator cannot revoke itself (refused and audited)', async () => {
    const error = await rpcFailure(h.client.revokeOperator({ operatorId: h.admin.id }, h.as(h.admin)));
    expect(error.status).toBe(status.PERMISSION_DENIED);
    expect((await h.repository.getOperator(h.admin.id))?.revokedAt).toBeNull();
    const record = (await h.auditRecords()).at(-1);
    expect([record?.actor, record?.action, record?.result]).toEqual([h.admin.id, 'operator.revoke', 'denied']);
  });

  it('Precondition: a fleet-scoped admin revokes only operators within its fleets', async () => {
    const scopedAdmin = await h.makeOperator('admin', ['alpha']);
    const inside = await h.makeOperator('factory', ['alpha']);
    const outside = await h.makeOperator('factory', ['bravo']);
    const straddling = await h.makeOperator('factory', ['alpha', 'bravo']);
    for (const target of [h.admin, outside, straddling]) {
      expect((await rpcFailure(h.client.revokeOperator({ operatorId: target.id }, h.as(scopedAdmin)))).status).toBe(status.PERMISSION_DENIED);
      expect((await h.repository.getOperator(target.id))?.revokedAt).toBeNull();
    }
    await h.client.revokeOperator({ operatorId: inside.id }, h.as(scopedAdmin));
    expect((await h.repository.getOperator(inside.id))?.revokedAt).not.toBeNull();
  });

  it('answers NOT_FOUND for an unknown operator and INVALID_ARGUMENT for none', async () => {
    expect((await rpcFailure(h.client.revokeOperator({ operatorId: 'nobody' }, h.as(h.admin)))).status).toBe(status.NOT_FOUND);
    expect((await rpcFailure(h.client.revokeOperator({}, h.as(h.admin)))).status).toBe(status.INVALID_ARGUMENT);
  });
});
