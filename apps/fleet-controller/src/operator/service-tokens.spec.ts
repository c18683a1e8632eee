/**
 * Enrollment tokens over real gRPC: minting (count, ttl bounds, serial binding, fleet and group
 * checks), that only hashes reach the SQLite file, listing by state, revocation, and the audit
 * trail (one record per token, no secret anywhere in the log).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3-multiple-ciphers';
import { status } from '@grpc/grpc-js';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { EnrollmentTokenState } from '@fleetkey/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rpcFailure, startHarness, type Harness } from './testing.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ttl = (seconds: number, nanos = 0) => ({ seconds: BigInt(seconds), nanos });

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
  await h.makeFleet('alpha');
  await h.makeFleet('bravo');
  await h.makeGroup('alpha', 'line-3');
});
afterEach(async () => {
  expect(h.unexpected).toEqual([]);
  await h.close();
});

describe('CreateEnrollmentToken', () => {
  it('mints `count` distinct single-use tokens valid 24 h by default, one audit record each, in one transaction', async () => {
    const factory = await h.makeOperator('factory', ['alpha']);
    const response = await h.client.createEnrollmentToken({ fleet: 'alpha', group: 'line-3', count: 3 }, h.as(factory));
    expect(response.tokens).toHaveLength(3);
    expect(new Set(response.tokens.map((t) => t.token)).size).toBe(3);
    for (const { token, info } of response.tokens) {
      expect(token).toMatch(/^fk_enr_[A-Za-z0-9_-]{43}$/);
      expect(info?.fleet).toBe('alpha');
      expect(info?.group).toBe('line-3');
      expect(info?.state).toBe(EnrollmentTokenState.ACTIVE);
      expect(info?.createdBy).toBe(factory.id);
      expect(timestampMs(info!.expiresAt!) - timestampMs(info!.createdAt!)).toBe(DAY);
      const stored = await h.repository.getEnrollmentToken('alpha', info?.tokenId ?? '');
      expect(Buffer.from(stored?.tokenHash ?? []).equals(createHash('sha256').update(token).digest())).toBe(true);
    }
    const records = (await h.auditRecords()).filter((r) => r.action === 'token.create');
    expect(records.map((r) => JSON.parse(r.detailsJson).subject)).toEqual(response.tokens.map((t) => t.info?.tokenId));
    expect(records.every((r) => r.actor === factory.id && r.fleetId === 'alpha' && r.result === 'ok')).toBe(true);
  });

  it('binds a serial number only with count 1', async () => {
    const one = await h.client.createEnrollmentToken({ fleet: 'alpha', serialNumber: 'SN-0042' }, h.as(h.admin));
    expect(one.tokens[0]?.info?.serialNumber).toBe('SN-0042');
    expect((await h.repository.getEnrollmentToken('alpha', one.tokens[0]?.info?.tokenId ?? ''))?.serialPattern).toBe('SN-0042');
    const error = await rpcFailure(h.client.createEnrollmentToken({ fleet: 'alpha', serialNumber: 'SN-0042', count: 2 }, h.as(h.admin)));
    expect(error.status).toBe(status.INVALID_ARGUMENT);
  });

  it('binds a batch to a serial pattern', async () => {
    const batch = await h.client.createEnrollmentToken({ fleet: 'alpha', serialNumber: 'SN-2026-*', count: 3 }, h.as(h.admin));
    expect(batch.tokens.map((t) => t.info?.serialNumber)).toEqual(['SN-2026-*', 'SN-2026-*', 'SN-2026-*']);
  });

  it('creates a group named for the first time, once, and audits it', async () => {
    await h.client.createEnrollmentToken({ fleet: 'alpha', group: 'line-9' }, h.as(h.admin));
    await h.client.createEnrollmentToken({ fleet: 'alpha', group: 'line-9' }, h.as(h.admin));
    expect((await h.repository.listGroups('alpha')).map((g) => g.id)).toContain('line-9');
    expect((await h.auditRecords()).filter((r) => r.action === 'group.create' && r.detailsJson.includes('line-9'))).toHaveLength(1);
  });

  const bad: [string, Record<string, unknown>, number][] = [
    ['ttl under a minute', { ttl: ttl(59, 999_000_000) }, status.INVALID_ARGUMENT],
    ['ttl zero', { ttl: ttl(0) }, status.INVALID_ARGUMENT],
    ['ttl negative', { ttl: ttl(-60) }, status.INVALID_ARGUMENT],
    ['ttl over 30 days', { ttl: ttl(30 * 86_400, 1_000_000) }, status.INVALID_ARGUMENT],
    ['ttl absurd', { ttl: ttl(2 ** 62) }, status.INVALID_ARGUMENT],
    ['count over 1000', { count: 1001 }, status.INVALID_ARGUMENT],
    ['no fleet', { fleet: '' }, status.INVALID_ARGUMENT],
    ['an unknown fleet', { fleet: 'charlie' }, status.NOT_FOUND],
    ['the reserved group name', { group: 'fleet' }, status.INVALID_ARGUMENT],
    ['an exact serial on several tokens', { serialNumber: 'SN-1', count: 2 }, status.INVALID_ARGUMENT],
    ['a serial with a space', { serialNumber: 'SN 1' }, status.INVALID_ARGUMENT],
  ];
  it.each(bad)('refuses %s and mints nothing', async (_name, fields, expected) => {
    const error = await rpcFailure(h.client.createEnrollmentToken({ fleet: 'alpha', ...fields }, h.as(h.admin)));
    expect(error.status).toBe(expected);
    expect(await h.repository.listEnrollmentTokens({ fleetId: 'alpha' })).toEqual([]);
    expect((await h.auditRecords()).some((r) => r.action === 'token.create')).toBe(false);
  });

  it('accepts the ttl bounds themselves (1 minute, 30 days) and count 1000', async () => {
    const short = await h.client.createEnrollmentToken({ fleet: 'alpha', ttl: ttl(60) }, h.as(h.admin));
    expect(timestampMs(short.tokens[0]!.info!.expiresAt!) - h.clock()).toBe(60_000);
    const long = await h.client.createEnrollmentToken({ fleet: 'alpha', ttl: ttl(30 * 86_400) }, h.as(h.admin));
    expect(timestampMs(long.tokens[0]!.info!.expiresAt!) - h.clock()).toBe(30 * DAY);
    const batch = await h.client.createEnrollmentToken({ fleet: 'bravo', count: 1000 }, h.as(h.admin));
    expect(batch.tokens).toHaveLength(1000);
  });

  it('stores only hashes: no token or operator credential is anywhere in the SQLite file, its WAL or the audit log', async () => {
    const created = await h.client.createOperator({ displayName: 'line 3', role: 3, fleets: ['alpha'] }, h.as(h.admin));
    const minted = await h.client.createEnrollmentToken({ fleet: 'alpha', count: 5 }, h.as(created.credential));
    await h.client.revokeEnrollmentToken({ fleet: 'alpha', tokenId: minted.tokens[0]?.info?.tokenId ?? '' }, h.as(created.credential));
    const secrets = [created.credential, h.admin.credential, ...minted.tokens.map((t) => t.token)];
    const hashes = secrets.map((s) => createHash('sha256').update(s).digest());

    const files = [h.path, `${h.path}-wal`].filter(existsSync).map((file) => readFileSync(file));
    expect(files.length).toBeGreaterThan(0);
    for (const bytes of files) {
      for (const secret of secrets) {
        expect(bytes.includes(Buffer.from(secret, 'utf8'))).toBe(false);
        // Nor the random part alone (in case a prefix was stripped somewhere).
        const random = secret.replace(/^fk_(op|enr)_/, '');
        expect(random.length).toBe(43);
        expect(bytes.includes(Buffer.from(random, 'utf8'))).toBe(false);
      }
    }
    const db = new Database(h.path, { readonly: true });
    try {
      const stored = db.prepare<[], { token_hash: Buffer }>('SELECT token_hash FROM enrollment_tokens').all();
      expect(stored.map((r) => r.token_hash.toString('hex')).sort()).toEqual(hashes.slice(2).map((x) => x.toString('hex')).sort());
    } finally {
      db.close();
    }
    const log = JSON.stringify(await h.auditRecords(), (_key, value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value));
    for (const secret of secrets) expect(log).not.toContain(secret);
    for (const hash of hashes) {
      expect(log).not.toContain(hash.toString('hex'));
      expect(log).not.toContain(hash.toString('base64'));
    }
  });
});

describe('ListEnrollmentTokens and RevokeEnrollmentToken', () => {
  it('computes each state from used / revoked / expiry against the clock, and filters by it', async () => {
    const minted = (await h.client.createEnrollmentToken({ fleet: 'alpha', count: 3, ttl: ttl(3600) }, h.as(h.admin))).tokens;
    const [used, revoked, expired] = minted;
    h.clock.advance(1000);
    const burn = await h.repository.burnEnrollmentToken(createHash('sha256').update(used!.token).digest(), h.clock());
    expect(burn.ok).toBe(true);
    await h.client.revokeEnrollmentToken({ fleet: 'alpha', tokenId: revoked!.info!.tokenId }, h.as(h.admin));
    // An hour on, the untouched third token has expired; one minted now is active.
    h.clock.advance(HOUR);
    const fresh = (await h.client.createEnrollmentToken({ fleet: 'alpha', ttl: ttl(3600) }, h.as(h.admin))).tokens[0];

    const all = (await h.client.listEnrollmentTokens({ fleet: 'alpha' }, h.as(h.admin))).tokens;
    const stateOf = (id: string | undefined) => all.find((t) => t.tokenId === id)?.state;
    expect(stateOf(used?.info?.tokenId)).toBe(EnrollmentTokenState.USED);
    expect(stateOf(revoked?.info?.tokenId)).toBe(EnrollmentTokenState.REVOKED);
    expect(stateOf(expired?.info?.tokenId)).toBe(EnrollmentTokenState.EXPIRED);
    expect(stateOf(fresh?.info?.tokenId)).toBe(EnrollmentTokenState.ACTIVE);
    expect(all.find((t) => t.tokenId === used?.info?.tokenId)?.usedAt).toBeDefined();

    const onlyActive = (await h.client.listEnrollmentTokens({ fleet: 'alpha', state: EnrollmentTokenState.ACTIVE }, h.as(h.admin))).tokens;
    expect(onlyActive.map((t) => t.tokenId)).toEqual([fresh?.info?.tokenId]);
    const onlyUsed = (await h.client.listEnrollmentTokens({ fleet: 'alpha', state: EnrollmentTokenState.USED }, h.as(h.admin))).tokens;
    expect(onlyUsed.map((t) => t.tokenId)).toEqual([used?.info?.tokenId]);
    expect(JSON.stringify(all, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))).not.toContain('fk_enr_');
  });

  it('pages tokens oldest first', async () => {
    for (let i = 0; i < 5; i++) {
      h.clock.advance(1000);
      await h.client.createEnrollmentToken({ fleet: 'alpha' }, h.as(h.admin));
    }
    const first = await h.client.listEnrollmentTokens({ fleet: 'alpha', pageSize: 3 }, h.as(h.admin));
    const second = await h.client.listEnrollmentTokens({ fleet: 'alpha', pageSize: 3, pageToken: first.nextPageToken }, h.as(h.admin));
    expect(first.tokens).toHaveLength(3);
    expect(second.tokens).toHaveLength(2);
    expect(second.nextPageToken).toBe('');
    const created = [...first.tokens, ...second.tokens].map((t) => timestampMs(t.createdAt!));
    expect(created).toEqual([...created].sort((a, b) => a - b));
  });

  it('revokes an unused token (audited), refuses a used one, and answers NOT_FOUND across fleets', async () => {
    const [a, b] = (await h.client.createEnrollmentToken({ fleet: 'alpha', count: 2 }, h.as(h.admin))).tokens;
    const revoked = await h.client.revokeEnrollmentToken({ fleet: 'alpha', tokenId: a!.info!.tokenId }, h.as(h.admin));
    expect(revoked.token?.state).toBe(EnrollmentTokenState.REVOKED);
    const record = (await h.auditRecords()).at(-1);
    expect([record?.action, record?.fleetId, JSON.parse(record?.detailsJson ?? '{}').subject]).toEqual(['token.revoke', 'alpha', a!.info!.tokenId]);

    await h.repository.burnEnrollmentToken(createHash('sha256').update(b!.token).digest(), h.clock());
    expect((await rpcFailure(h.client.revokeEnrollmentToken({ fleet: 'alpha', tokenId: b!.info!.tokenId }, h.as(h.admin)))).status).toBe(status.FAILED_PRECONDITION);
    // The token exists, but not in bravo: a fleet never reaches another's tokens.
    expect((await rpcFailure(h.client.revokeEnrollmentToken({ fleet: 'bravo', tokenId: b!.info!.tokenId }, h.as(h.admin)))).status).toBe(status.NOT_FOUND);
  });
});
