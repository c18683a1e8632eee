/**
 * The SQLite store: the shared conformance suite on real temp files, plus what only SQLite has
 * (pragmas, the file on disk, several connections and processes on one file).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3-multiple-ciphers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Repository } from '../repository.js';
import { manualClock, rejectionCode, runRepositoryConformance } from '../testing.js';
import { generateToken, hashToken } from '../tokens.js';
import { openConnection } from './connection.js';
import { openSqliteRepository } from './sqlite-repository.js';

const HOUR = 3_600_000;

runRepositoryConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fk-store-'));
  const clock = manualClock();
  const repository = await openSqliteRepository({ path: join(dir, 'state.db'), clock });
  return {
    repository,
    clock,
    cleanup: async () => {
      await repository.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SQLite store', () => {
  let dir: string;
  let path: string;
  const open: Repository[] = [];
  const clock = manualClock();

  const openRepo = async () => {
    const repo = await openSqliteRepository({ path, clock });
    open.push(repo);
    return repo;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fk-store-'));
    path = join(dir, 'state.db');
  });
  afterEach(async () => {
    for (const repo of open.splice(0)) await repo.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tells its observer of committed audit records only', async () => {
    const seen: string[] = [];
    const repo = await openSqliteRepository({ path, clock, onAuditAppended: (record) => seen.push(`${record.sequence}:${record.action}`) });
    open.push(repo);
    await repo.audit.append({ actor: 'system', action: 'controller.start', result: 'ok' });
    await expect(
      repo.transaction(async (tx) => {
        await tx.audit.append({ actor: 'system', action: 'fleet.create', result: 'ok' });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await repo.transaction(async (tx) => {
      await tx.audit.append({ actor: 'system', action: 'controller.stop', result: 'ok' });
      expect(seen).toEqual(['1:controller.start']); // not before the commit
    });
    expect(seen).toEqual(['1:controller.start', '2:controller.stop']);
  });

  it('configures WAL, busy_timeout, foreign keys and synchronous=FULL', async () => {
    await openRepo();
    const persisted = new Database(path, { readonly: true });
    try {
      expect(persisted.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      persisted.close();
    }
    const db = openConnection(path, 1234);
    try {
      expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(db.pragma('synchronous', { simple: true })).toBe(2); // 2 = FULL
    } finally {
      db.close();
    }
    expect(() => openConnection(path, 60_001)).toThrow(RangeError);
    // foreign_keys ON, observed through the repository: a group in a missing fleet is refused.
    const repo = await openRepo();
    expect(await rejectionCode(repo.createGroup({ fleetId: 'nope', id: 'g', name: 'G' }))).toBe('RECORD_NOT_FOUND');
  });

  it('Precondition: bearer tokens never reach the database file, only their SHA-256', async () => {
    const repo = await openRepo();
    await repo.createFleet({ id: 'alpha', name: 'A' });
    const opToken = generateToken('operator');
    const enrToken = generateToken('enrollment');
    await repo.createOperator({ name: 'root', role: 'admin', fleetScope: { kind: 'all' }, tokenHash: hashToken(opToken) });
    await repo.createEnrollmentToken({ fleetId: 'alpha', tokenHash: hashToken(enrToken), expiresAt: clock() + HOUR });
    await repo.burnEnrollmentToken(hashToken(enrToken), clock());
    const files = readdirSync(dir).map((f) => readFileSync(join(dir, f)));
    const all = Buffer.concat(files);
    for (const token of [opToken, enrToken]) {
      expect(all.includes(Buffer.from(token))).toBe(false);
      expect(all.includes(Buffer.from(token.slice(-43)))).toBe(false);
    }
    expect(all.includes(hashToken(opToken))).toBe(true);
  });

  it('two connections to one file: exactly one burn of a token wins', async () => {
    const a = await openRepo();
    const b = await openRepo();
    await a.createFleet({ id: 'alpha', name: 'A' });
    const tokens = Array.from({ length: 20 }, () => generateToken('enrollment'));
    for (const t of tokens) await a.createEnrollmentToken({ fleetId: 'alpha', tokenHash: hashToken(t), expiresAt: clock() + HOUR });
    for (const t of tokens) {
      const results = await Promise.all([a.burnEnrollmentToken(hashToken(t), clock()), b.burnEnrollmentToken(hashToken(t), clock())]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.find((r) => !r.ok)).toEqual({ ok: false, reason: 'used' });
    }
  });

  it('two child processes racing on the same tokens: each token is won exactly once', async () => {
    const repo = await openRepo();
    await repo.createFleet({ id: 'alpha', name: 'A' });
    const hashes: string[] = [];
    for (let i = 0; i < 40; i += 1) {
      const hash = hashToken(generateToken('enrollment'));
      await repo.createEnrollmentToken({ fleetId: 'alpha', tokenHash: hash, expiresAt: clock() + HOUR });
      hashes.push(hash.toString('hex'));
    }
    const script = fileURLToPath(new URL('./burn-child.fixture.ts', import.meta.url));
    const children = [0, 1].map(() => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, path, hashes.join(','), String(clock())], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const ready = new Promise<void>((resolve, reject) => {
        const check = () => (out.includes('ready\n') ? resolve() : undefined);
        child.stdout.on('data', check);
        child.on('exit', (code) => reject(new Error(`child exited ${code} before ready: ${err}`)));
      });
      const done = new Promise<string[]>((resolve, reject) => {
        child.on('exit', (code) => {
          if (code !== 0) return reject(new Error(`child exited ${code}: ${err}`));
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line === undefined) return reject(new Error(`no result from child: ${out}`));
          resolve((JSON.parse(line) as { won: string[] }).won);
        });
      });
      return { child, ready, done };
    });
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.write('go\n');
    const [first, second] = await Promise.all(children.map((c) => c.done));
    const wins = [...(first ?? []), ...(second ?? [])];
    expect(wins.sort()).toEqual([...hashes].sort());
    expect(new Set(wins).size).toBe(hashes.length);
    const used = await repo.listEnrollmentTokens({ fleetId: 'alpha' });
    expect(used.every((t) => t.usedAt === clock())).toBe(true);
  });

  it('command sequences stay unique across two connections', async () => {
    const a = await openRepo();
    const b = await openRepo();
    await a.createFleet({ id: 'alpha', name: 'A' });
    const seen = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).nextSequence('alpha')));
    expect(new Set(seen).size).toBe(20);
    expect(Math.max(...seen)).toBe(20);
  });

  it('refuses the outer repository inside its own transaction, and the view after the transaction', async () => {
    const repo = await openRepo();
    let leaked: Parameters<Parameters<Repository['transaction']>[0]>[0] | undefined;
    const code = await repo.transaction(async (tx) => {
      leaked = tx;
      return rejectionCode(repo.listFleets());
    });
    expect(code).toBe('TypeError');
    expect(await rejectionCode(leaked?.listFleets() ?? Promise.resolve())).toBe('TypeError');
    expect(await repo.listFleets()).toEqual([]);
  });

  it('keeps data across close and reopen', async () => {
    const first = await openRepo();
    await first.createFleet({ id: 'alpha', name: 'A' });
    await first.close();
    open.splice(open.indexOf(first), 1);
    const second = await openRepo();
    expect((await second.getFleet('alpha'))?.name).toBe('A');
    expect(await rejectionCode(first.listFleets())).toBe('TypeError');
  });
});
