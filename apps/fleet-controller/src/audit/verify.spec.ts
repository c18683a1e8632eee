/**
 * End to end over a real SQLite file: append records, sign heads with a real key, then edit the
 * file directly (as an attacker with file access would: dropping the append-only triggers first)
 * and check verifyAuditChain names the first bad record.
 */
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3-multiple-ciphers';
import { createLocalSigner, generateKeyPair, type Signer } from '@fleetkey/crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditDetails, Repository } from '../store/repository.js';
import { manualClock } from '../store/testing.js';
import { generateToken } from '../store/tokens.js';
import { openSqliteRepository } from '../store/sqlite/sqlite-repository.js';
import { hashAuditRecord } from './record-hash.js';
import { signHead } from './sign-head.js';
import { VERIFY_PAGE_SIZE, verifyAuditChain } from './verify.js';

describe('audit chain verification', () => {
  let dir: string;
  let path: string;
  let repo: Repository;
  let signer: Signer;
  let publicKey: KeyObject;
  const clock = manualClock();

  const keys = () => ({ publicKeys: (keyId: string) => (keyId === signer.keyId ? publicKey : undefined) });
  const verify = () => verifyAuditChain(repo, keys());
  /** Edits the file behind the repository's back, as someone with file access would. */
  const tamper = (sql: string, ...params: unknown[]) => {
    const db = new Database(path);
    try {
      db.exec('DROP TRIGGER IF EXISTS audit_records_no_update; DROP TRIGGER IF EXISTS audit_records_no_delete;');
      db.exec('DROP TRIGGER IF EXISTS audit_heads_no_update; DROP TRIGGER IF EXISTS audit_heads_no_delete;');
      db.prepare(sql).run(...params);
    } finally {
      db.close();
    }
  };
  const appendN = async (n: number) => {
    for (let i = 1; i <= n; i++) {
      clock.advance(1000);
      await repo.audit.append({ actor: `op-${i}`, action: i % 2 ? 'token.create' : 'device.enroll', fleetId: 'alpha', result: 'ok', details: { n: i } });
    }
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fk-audit-'));
    path = join(dir, 'state.db');
    repo = await openSqliteRepository({ path, clock });
    const pair = await generateKeyPair('ECDSA_P256');
    signer = createLocalSigner(pair.privateKey);
    publicKey = pair.publicKey;
  });

  afterEach(async () => {
    await repo.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts an untouched chain with signed heads, and an empty log', async () => {
    expect(await verify()).toEqual({ ok: true, records: 0, heads: 0 });
    expect(await signHead(repo, signer, clock())).toBeUndefined();
    await appendN(3);
    await signHead(repo, signer, clock());
    await appendN(2);
    const head = await signHead(repo, signer, clock());
    expect(head?.sequence).toBe(5);
    expect(head?.keyId).toBe(signer.keyId);
    expect(await verify()).toEqual({ ok: true, records: 5, heads: 2 });
  });

  it('streams past one page', async () => {
    await repo.transaction(async (tx) => {
      for (let i = 0; i < VERIFY_PAGE_SIZE + 7; i++) await tx.audit.append({ actor: 'system', action: 'key.sign', result: 'ok' });
    });
    await signHead(repo, signer, clock());
    expect(await verify()).toEqual({ ok: true, records: VERIFY_PAGE_SIZE + 7, heads: 1 });
  });

  it('Precondition: each record\'s stored hash is the hash of its content (UPDATE details)', async () => {
    await appendN(5);
    tamper('UPDATE audit_records SET details = ? WHERE sequence = 3', '{"n":99}');
    expect(await verify()).toMatchObject({ ok: false, firstBadSequence: 3 });
  });

  it('Precondition: sequences are contiguous from 1 (DELETE a middle row)', async () => {
    await appendN(5);
    tamper('DELETE FROM audit_records WHERE sequence = 2');
    expect(await verify()).toMatchObject({ ok: false, firstBadSequence: 2 });
  });

  it('detects two rows whose actions were swapped', async () => {
    await appendN(5);
    tamper("UPDATE audit_records SET action = CASE sequence WHEN 2 THEN 'token.create' ELSE 'device.enroll' END WHERE sequence IN (2, 3)");
    expect(await verify()).toMatchObject({ ok: false, firstBadSequence: 2 });
  });

  it('Precondition: each record links to the previous record\'s hash (hash rewritten to hide an edit)', async () => {
    await appendN(5);
    const [row] = await repo.audit.listRecords(3, 1);
    const edited = { ...row!, actor: 'someone-else' };
    tamper('UPDATE audit_records SET actor = ?, hash = ? WHERE sequence = 4', edited.actor, hashAuditRecord(edited));
    expect(await verify()).toMatchObject({ ok: false, firstBadSequence: 4 });
  });

  it('Precondition: every signed head carries a valid signature by a trusted key (forged head)', async () => {
    await appendN(4);
    await signHead(repo, signer, clock());
    const [rec] = await repo.audit.listRecords(1, 1);
    tamper(
      'INSERT INTO audit_heads (sequence, hash, signature, algorithm, key_id, signed_at) VALUES (2, ?, ?, ?, ?, 0)',
      rec!.hash,
      new Uint8Array(70).fill(1),
      signer.algorithm,
      signer.keyId,
    );
    expect(await verify()).toMatchObject({ ok: false, firstBadSequence: 2 });
    // A head signed by a key the verifier does not trust is as bad as a forged one.
    const other = createLocalSigner((await generateKeyPair('ECDSA_P256')).privateKey);
    expect(await verifyAuditChain(repo, { publicKeys: () => undefined })).toMatchObject({ ok: false, firstBadSequence: 2 });
    expect(other.keyId).not.toBe(signer.keyId);
  });

  it('Precondition: a signed head matches the recomputed chain at its sequence (every hash rewritten after an edit)', async () => {
    await appendN(3);
    await signHead(repo, signer, clock());
    // Re-chain the whole log after editing record 2: links and hashes all hold, only the head can tell.
    const records = await repo.audit.listRecords(0, 10);
    let prev = records[0]!.hash;
    for (const r of records.slice(1)) {
      const edited = { ...r, prevHash: prev, actor: r.sequence === 2 ? 'forger' : r.actor };
      const hash = hashAuditRecord(edited);
      tamper('UPDATE audit_records SET actor = ?, prev_hash = ?, hash = ? WHERE sequence = ?', edited.actor, prev, hash, r.sequence);
      prev = hash;
    }
    expect(await verify()).toMatchObject({ ok: false, firstBadSequence: 3 });
  });

  it('Precondition: no signed head points past the end of the log (tail truncated)', async () => {
    await appendN(4);
    await signHead(repo, signer, clock());
    tamper('DELETE FROM audit_records WHERE sequence >= 3');
    expect(await verify()).toMatchObject({ ok: false, firstBadSequence: 3 });
  });

  it('the append-only triggers stop edits through an ordinary connection', async () => {
    await appendN(1);
    const db = new Database(path);
    try {
      expect(() => db.prepare('UPDATE audit_records SET actor = ?').run('x')).toThrow(/append-only/);
      expect(() => db.prepare('DELETE FROM audit_records').run()).toThrow(/append-only/);
    } finally {
      db.close();
    }
  });

  it('no token or key ever reaches a record or the database file', async () => {
    const token = generateToken('operator');
    const pem = (await generateKeyPair('ECDSA_P256')).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const attempts: AuditDetails[] = [{ token }, { note: `bearer ${token}` }, { pem }, { key: 'x' }, { body: pem.slice(0, 256) }];
    for (const details of attempts) {
      await expect(repo.transaction(async (tx) => tx.audit.append({ actor: 'op-1', action: 'operator.create', result: 'ok', details }))).rejects.toMatchObject({
        code: 'AUDIT_DETAILS_REFUSED',
      });
    }
    await appendN(2);
    await repo.close();
    const needle = token.slice(-20);
    for (const name of readdirSync(dir)) {
      const content = readFileSync(join(dir, name)).toString('latin1');
      expect(content.includes(needle)).toBe(false);
      expect(content.includes('PRIVATE KEY')).toBe(false);
    }
    repo = await openSqliteRepository({ path, clock });
    expect((await repo.audit.listRecords(0, 10)).map((r) => r.detailsJson)).toEqual(['{"n":1}', '{"n":2}']);
  });
});
