/**
 * The audit log over real gRPC: ListAuditRecords (mapping, paging, after_sequence, fleet filter
 * with its bounded scan, bad page tokens) and VerifyAudit (valid chain, signed head, then an edit
 * made directly in the SQLite file, as an attacker with file access would: dropping the
 * append-only triggers first).
 */
import { status } from '@grpc/grpc-js';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import Database from 'better-sqlite3-multiple-ciphers';
import { createLocalSigner, generateKeyPair } from '@fleetkey/crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signHead } from '../audit/index.js';
import { MAX_AUDIT_SCAN } from './audit-rpcs.js';
import { AUDIT_VIEW_KEYS } from './mapping.js';
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

/** Edits the file behind the repository's back. */
function tamper(sql: string, ...params: unknown[]): void {
  const db = new Database(h.path);
  try {
    db.exec('DROP TRIGGER IF EXISTS audit_records_no_update; DROP TRIGGER IF EXISTS audit_records_no_delete;');
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

describe('ListAuditRecords', () => {
  it('maps records as stored: sequence, time, fleet, actor, action, subject, result, chain hashes', async () => {
    h.clock.advance(5000);
    const minted = await h.client.createEnrollmentToken({ fleet: 'alpha' }, h.as(h.admin));
    const records = (await h.client.listAuditRecords({}, h.as(h.admin))).records;
    const stored = await h.auditRecords();
    expect(records.map((r) => Number(r.sequence))).toEqual(stored.map((r) => r.sequence));
    const last = records.at(-1);
    expect([last?.fleet, last?.actor, last?.action, last?.subject, last?.success]).toEqual(['alpha', h.admin.id, 'token.create', minted.tokens[0]?.info?.tokenId, true]);
    expect(last?.details[AUDIT_VIEW_KEYS.result]).toBe('ok');
    expect(last?.details['batchSize']).toBe('1');
    expect(timestampMs(last!.recordedAt!)).toBe(h.clock());
    expect(Buffer.from(last!.hash).equals(Buffer.from(stored.at(-1)!.hash))).toBe(true);
    expect(Buffer.from(last!.previousHash).equals(Buffer.from(stored.at(-2)!.hash))).toBe(true);

    await rpcFailure(h.client.listFleets({}, {}));
    const denied = (await h.client.listAuditRecords({ afterSequence: BigInt(stored.length) }, h.as(h.admin))).records;
    expect(denied.map((r) => [r.actor, r.success, r.details[AUDIT_VIEW_KEYS.result], r.details[AUDIT_VIEW_KEYS.errorCode]])).toEqual([
      ['anonymous', false, 'denied', 'UNAUTHENTICATED'],
    ]);
  });

  it('pages in sequence order from after_sequence, and refuses bad page tokens', async () => {
    await h.client.createEnrollmentToken({ fleet: 'alpha', count: 7 }, h.as(h.admin));
    const total = (await h.auditRecords()).length;
    const seen: number[] = [];
    let pageToken = '';
    do {
      const page = await h.client.listAuditRecords({ pageSize: 3, pageToken, afterSequence: 2n }, h.as(h.admin));
      seen.push(...page.records.map((r) => Number(r.sequence)));
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    expect(seen).toEqual(Array.from({ length: total - 2 }, (_, i) => i + 3));

    const devicesToken = (await h.client.listFleets({ pageSize: 1 }, h.as(h.admin))).nextPageToken;
    for (const bad of [devicesToken, 'not base64!', 'A'.repeat(600), Buffer.from('[1,"audit","3"]').toString('base64url')]) {
      expect((await rpcFailure(h.client.listAuditRecords({ pageToken: bad }, h.as(h.admin)))).status).toBe(status.INVALID_ARGUMENT);
    }
  });

  it(`bounds a fleet-filtered scan to ${MAX_AUDIT_SCAN} records per call, resuming from where it stopped`, async () => {
    await h.repository.transaction(async (tx) => {
      for (let i = 0; i < MAX_AUDIT_SCAN + 5; i++) await tx.audit.append({ actor: 'system', action: 'key.sign', fleetId: 'bravo', result: 'ok' });
      await tx.audit.append({ actor: 'system', action: 'key.sign', fleetId: 'alpha', result: 'ok', details: { marker: true } });
    });
    const first = await h.client.listAuditRecords({ fleet: 'alpha', afterSequence: 2n }, h.as(h.admin));
    expect(first.records).toEqual([]);
    expect(first.nextPageToken).not.toBe('');
    const second = await h.client.listAuditRecords({ fleet: 'alpha', pageToken: first.nextPageToken }, h.as(h.admin));
    expect(second.records.map((r) => r.details['marker'])).toEqual(['true']);
    expect(second.nextPageToken).toBe('');
  });

  it('shows a tampered row as stored, made to fit the response limits', async () => {
    await h.client.createEnrollmentToken({ fleet: 'alpha' }, h.as(h.admin));
    tamper("UPDATE audit_records SET actor = ?, fleet_id = ?, details = ? WHERE sequence = 3", 'é'.repeat(200), 'not/a fleet', '[broken');
    const record = (await h.client.listAuditRecords({}, h.as(h.admin))).records.find((r) => r.sequence === 3n);
    expect(Buffer.byteLength(record?.actor ?? '')).toBeLessThanOrEqual(128);
    expect(record?.fleet).toBe('');
    expect(record?.details[AUDIT_VIEW_KEYS.fleet]).toBe('not/a fleet');
    expect(record?.details[AUDIT_VIEW_KEYS.unparsed]).toBe('[broken');
  });
});

describe('VerifyAudit', () => {
  it('reports a valid chain with its signed head, then names the first record edited in the file', async () => {
    const auditor = await h.makeOperator('auditor', ['alpha']);
    await h.client.createEnrollmentToken({ fleet: 'alpha', count: 4 }, h.as(h.admin));
    const unsigned = await h.client.verifyAudit({}, h.as(auditor));
    expect([unsigned.valid, unsigned.headSignatureValid, unsigned.headSignedAt]).toEqual([true, false, undefined]);

    h.clock.advance(60_000);
    const head = await signHead(h.repository, h.auditSigner, h.clock());
    const total = (await h.auditRecords()).length;
    const report = await h.client.verifyAudit({ fleet: 'alpha' }, h.as(auditor));
    expect(report.valid).toBe(true);
    expect(report.recordsChecked).toBe(BigInt(total));
    expect(report.firstInvalidSequence).toBe(0n);
    expect(report.headSequence).toBe(BigInt(head!.sequence));
    expect(Buffer.from(report.headHash).equals(Buffer.from(head!.hash))).toBe(true);
    expect(timestampMs(report.headSignedAt!)).toBe(h.clock());
    expect(report.headSignatureValid).toBe(true);

    tamper("UPDATE audit_records SET actor = 'mallory' WHERE sequence = 3");
    const broken = await h.client.verifyAudit({}, h.as(h.admin));
    expect([broken.valid, broken.firstInvalidSequence, broken.recordsChecked]).toEqual([false, 3n, 2n]);
    // The head's own signature still verifies: it is the chain under it that no longer matches.
    expect(broken.headSignatureValid).toBe(true);
  });

  it('does not trust a head signed by an unknown key', async () => {
    await h.client.createEnrollmentToken({ fleet: 'alpha' }, h.as(h.admin));
    const stranger = createLocalSigner((await generateKeyPair('ECDSA_P256')).privateKey, { keyId: 'stranger' });
    await signHead(h.repository, stranger, h.clock());
    const report = await h.client.verifyAudit({}, h.as(h.admin));
    expect([report.valid, report.headSignatureValid]).toEqual([false, false]);
  });

  it('Precondition: a fleet-scoped auditor may verify only naming its own fleet (or none)', async () => {
    const auditor = await h.makeOperator('auditor', ['alpha']);
    expect((await h.client.verifyAudit({}, h.as(auditor))).valid).toBe(true);
    expect((await rpcFailure(h.client.verifyAudit({ fleet: 'bravo' }, h.as(auditor)))).status).toBe(status.PERMISSION_DENIED);
  });
});
