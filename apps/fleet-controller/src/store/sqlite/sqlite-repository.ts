/**
 * The SQLite implementation of the repository port: one better-sqlite3 connection per
 * repository, WAL journal, foreign keys on, synchronous=FULL (a committed burn or revocation
 * survives power loss), a busy timeout so several processes can share the file.
 *
 * Trust boundary: the database file in the controller's data dir, opened without an encryption
 * key on purpose (see ./connection.ts: the controller holds only KMS-wrapped material).
 *
 * Concurrency: calls are queued through one gate. `transaction(fn)` holds the gate from BEGIN
 * IMMEDIATE to COMMIT/ROLLBACK, so nothing else on this repository interleaves with it while fn
 * awaits; other processes wait on SQLite's write lock (busy_timeout).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditRecord, AuditRepository, Clock, Repository, RepositoryTx } from '../repository.js';
import { SqliteAuditView } from './sqlite-audit.js';
import { openConnection } from './connection.js';
import { migrate, MIGRATIONS, type Migration } from './migrations.js';
import { SqliteTxView } from './sqlite-tx.js';

export { DEFAULT_BUSY_TIMEOUT_MS } from './connection.js';

export interface SqliteRepositoryOptions {
  /** Database file path (created when missing). */
  readonly path: string;
  /** Source of every timestamp the store sets. */
  readonly clock: Clock;
  /** Id generator for operators and enrollment tokens (default: crypto.randomUUID). */
  readonly newId?: () => string;
  readonly busyTimeoutMs?: number;
  /** For tests of the migration machinery only. */
  readonly migrations?: readonly Migration[];
  /** Told of every audit record once it is committed (metrics); never of a rolled-back one. */
  readonly onAuditAppended?: (record: AuditRecord) => void;
}

// Every RepositoryTx method, listed so the compiler proves the wrapper covers the whole port.
const TX_METHODS: Readonly<Record<Exclude<keyof RepositoryTx, 'audit'>, true>> = Object.freeze({
  createFleet: true,
  getFleet: true,
  listFleets: true,
  deleteFleet: true,
  createGroup: true,
  getGroup: true,
  listGroups: true,
  createOperator: true,
  getOperator: true,
  findOperatorByTokenHash: true,
  listOperators: true,
  revokeOperator: true,
  createEnrollmentToken: true,
  getEnrollmentToken: true,
  listEnrollmentTokens: true,
  revokeEnrollmentToken: true,
  burnEnrollmentToken: true,
  setEnrollmentTokenDevice: true,
  createDevice: true,
  getDevice: true,
  listDevices: true,
  revokeDevice: true,
  updateDeviceCertificate: true,
  createEpoch: true,
  destroyEpoch: true,
  getEpoch: true,
  listEpochs: true,
  latestEpochVersion: true,
  setEpochState: true,
  nextSequence: true,
  currentSequence: true,
  recordDeviceAck: true,
  touchDevice: true,
  createCommand: true,
  getCommand: true,
  listCommands: true,
  latestCommandFor: true,
  recordCommandAck: true,
  listCommandAcks: true,
  createLiftRequest: true,
  getLiftRequest: true,
  listLiftRequests: true,
  addLiftApproval: true,
  setLiftRequestState: true,
  putSignedArtifact: true,
  getSignedArtifact: true,
  getSetting: true,
  setSetting: true,
});

const AUDIT_METHODS: Readonly<Record<keyof AuditRepository, true>> = Object.freeze({
  append: true,
  head: true,
  listRecords: true,
  appendHead: true,
  listHeads: true,
});

type Invoke = (call: () => Promise<unknown>) => Promise<unknown>;

function wrapMethods(target: object, names: readonly string[], invoke: Invoke): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const method = (target as Record<string, unknown>)[name] as (...args: unknown[]) => Promise<unknown>;
    out[name] = (...args: unknown[]) => invoke(() => method.apply(target, args));
  }
  return out;
}

function wrapView(view: SqliteTxView, audit: SqliteAuditView, invoke: Invoke, onAppended: (record: AuditRecord) => void): RepositoryTx {
  const out = wrapMethods(view, Object.keys(TX_METHODS), invoke);
  const auditMethods = wrapMethods(audit, Object.keys(AUDIT_METHODS), invoke);
  const append = auditMethods['append'] as (input: unknown) => Promise<AuditRecord>;
  auditMethods['append'] = async (input: unknown) => {
    const record = await append(input);
    onAppended(record);
    return record;
  };
  out['audit'] = Object.freeze(auditMethods);
  return out as unknown as RepositoryTx;
}

/** Calls the observer, which must never break a write that has already committed. */
function notify(observer: ((record: AuditRecord) => void) | undefined, record: AuditRecord): void {
  try {
    observer?.(record);
  } catch {
    // An observer is metrics or logging: its failure is not the store's.
  }
}

/** A FIFO of async calls: one at a time per repository. */
class Gate {
  private tail: Promise<unknown> = Promise.resolve();
  readonly inside = new AsyncLocalStorage<Gate>();

  run<T>(call: () => Promise<T>): Promise<T> {
    // Waiting on the gate from inside its own transaction would deadlock: refuse at once.
    if (this.inside.getStore() === this) {
      return Promise.reject(new TypeError('repository used inside its own transaction: use the transactional view passed to fn'));
    }
    const result = this.tail.then(call);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * Opens (creating and migrating as needed) the SQLite state store at `options.path`.
 * @throws SchemaVersionUnsupported when the file was written by a newer controller; SqliteError
 *   when the file is not a database or cannot be opened.
 */
export async function openSqliteRepository(options: SqliteRepositoryOptions): Promise<Repository> {
  const db = openConnection(options.path, options.busyTimeoutMs);
  try {
    migrate(db, options.migrations ?? MIGRATIONS);
  } catch (error) {
    db.close();
    throw error;
  }
  const view = new SqliteTxView(db, options.clock, options.newId);
  const audit = new SqliteAuditView(db, options.clock);
  const gate = new Gate();
  const direct = wrapView(view, audit, (call) => gate.run(call), (record) => notify(options.onAuditAppended, record));

  const transaction = <T>(fn: (tx: RepositoryTx) => Promise<T>): Promise<T> =>
    gate.run(async () => {
      let open = true;
      const appended: AuditRecord[] = [];
      const tx = wrapView(
        view,
        audit,
        (call) => {
          if (!open) return Promise.reject(new TypeError('transaction has ended: its view can no longer be used'));
          return call();
        },
        (record) => appended.push(record),
      );
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = await gate.inside.run(gate, () => fn(tx));
        db.exec('COMMIT');
        // Only committed records are reported: a rolled-back append never happened.
        for (const record of appended) notify(options.onAuditAppended, record);
        return result;
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw error;
      } finally {
        open = false;
      }
    });

  const close = (): Promise<void> =>
    gate.run(async () => {
      if (db.open) db.close();
    });

  // secure_delete (./connection.ts) zeroes freed space in the database file; the write-ahead log
  // still holds earlier page images until it is checkpointed and truncated.
  const scrub = (): Promise<boolean> =>
    gate.run(async () => {
      const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
      return result !== undefined && result.busy === 0;
    });

  return Object.freeze({ ...direct, transaction, close, scrub }) as Repository;
}
