/**
 * The SQLite AuditRepository: appends a record after the last one inside the current write
 * transaction (or its own IMMEDIATE transaction), so the chain stays linear across processes.
 *
 * Trust boundary: fields are validated and run through the redaction guard
 * (../../audit/details.ts) BEFORE anything is hashed or written; rows are returned exactly as
 * stored, so the verifier sees tampering instead of a repaired view.
 */
import type Database from 'better-sqlite3-multiple-ciphers';
import { prepareAuditRecord } from '../../audit/details.js';
import { AUDIT_HASH_LENGTH, GENESIS_PREV_HASH, hashAuditRecord } from '../../audit/record-hash.js';
import { MAX_AUDIT_PAGE, type AuditAction, type AuditHead, type AuditRecord, type AuditResult, type Clock, type NewAuditRecord } from '../repository.js';
import * as v from '../validate.js';

/** Longest stored head signature (an RSA-4096 signature is 512 bytes). */
export const MAX_HEAD_SIGNATURE_LENGTH = 1024;
/** Longest signer key id / algorithm name stored with a head. */
export const MAX_HEAD_NAME_LENGTH = 1024;

interface AuditRow {
  sequence: number;
  time: number;
  actor: string;
  action: string;
  fleet_id: string | null;
  device_id: string | null;
  key_ref: string | null;
  result: string;
  error_code: string | null;
  details: string;
  prev_hash: Uint8Array;
  hash: Uint8Array;
}

interface HeadRow {
  id: number;
  sequence: number;
  hash: Uint8Array;
  signature: Uint8Array;
  algorithm: string;
  key_id: string;
  signed_at: number;
}

const bytes = (value: Uint8Array): Uint8Array => new Uint8Array(value);

function recordFromRow(row: AuditRow): AuditRecord {
  return {
    sequence: row.sequence,
    time: row.time,
    actor: row.actor,
    // As stored: a tampered value is the verifier's business (the hash covers it).
    action: row.action as AuditAction,
    fleetId: row.fleet_id,
    deviceId: row.device_id,
    keyRef: row.key_ref,
    result: row.result as AuditResult,
    errorCode: row.error_code,
    detailsJson: row.details,
    prevHash: bytes(row.prev_hash),
    hash: bytes(row.hash),
  };
}

function headFromRow(row: HeadRow): AuditHead {
  return {
    sequence: row.sequence,
    hash: bytes(row.hash),
    signature: bytes(row.signature),
    algorithm: row.algorithm,
    keyId: row.key_id,
    signedAt: row.signed_at,
  };
}

function page(name: string, after: number, limit: number): void {
  if (!Number.isSafeInteger(after) || after < 0) throw new RangeError(`"${name}" expected a non-negative integer`);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE) throw new RangeError(`"limit" expected 1..${MAX_AUDIT_PAGE}, got ${limit}`);
}

export class SqliteAuditView {
  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
  ) {}

  async append(input: NewAuditRecord): Promise<AuditRecord> {
    // Precondition: an append carrying a token, key or secret-named detail is refused and writes nothing
    // (validation and the redaction guard run before anything is hashed or written).
    const fields = prepareAuditRecord(input);
    const time = v.millis('clock()', this.clock());
    // Nested in the caller's transaction this is a SAVEPOINT; alone it is BEGIN IMMEDIATE, so the
    // read of the last record and the insert are one atomic step under the write lock.
    const run = this.db.transaction((): AuditRecord => {
      const last = this.db.prepare('SELECT sequence, hash FROM audit_records ORDER BY sequence DESC LIMIT 1').get() as
        | { sequence: number; hash: Uint8Array }
        | undefined;
      const sequence = (last?.sequence ?? 0) + 1;
      const prevHash = last === undefined ? GENESIS_PREV_HASH : bytes(last.hash);
      const record = { sequence, time, ...fields, prevHash };
      const hash = hashAuditRecord(record);
      this.db
        .prepare(
          `INSERT INTO audit_records (sequence, time, actor, action, fleet_id, device_id, key_ref, result, error_code, details, prev_hash, hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(sequence, time, fields.actor, fields.action, fields.fleetId, fields.deviceId, fields.keyRef, fields.result, fields.errorCode, fields.detailsJson, prevHash, hash);
      return { ...record, hash };
    });
    return run.immediate();
  }

  async head(): Promise<AuditRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM audit_records ORDER BY sequence DESC LIMIT 1').get() as AuditRow | undefined;
    return row === undefined ? undefined : recordFromRow(row);
  }

  async listRecords(afterSequence: number, limit: number): Promise<AuditRecord[]> {
    page('afterSequence', afterSequence, limit);
    const rows = this.db.prepare('SELECT * FROM audit_records WHERE sequence > ? ORDER BY sequence LIMIT ?').all(afterSequence, limit) as AuditRow[];
    return rows.map(recordFromRow);
  }

  async appendHead(head: AuditHead): Promise<AuditHead> {
    if (!Number.isSafeInteger(head.sequence) || head.sequence < 1) throw new RangeError('"sequence" expected a positive integer');
    if (!(head.hash instanceof Uint8Array) || head.hash.length !== AUDIT_HASH_LENGTH) throw new RangeError(`"hash" expected ${AUDIT_HASH_LENGTH} bytes`);
    if (!(head.signature instanceof Uint8Array) || head.signature.length < 1 || head.signature.length > MAX_HEAD_SIGNATURE_LENGTH) {
      throw new RangeError(`"signature" expected 1..${MAX_HEAD_SIGNATURE_LENGTH} bytes`);
    }
    for (const [name, value] of [['algorithm', head.algorithm], ['keyId', head.keyId]] as const) {
      if (typeof value !== 'string' || value.length < 1 || value.length > MAX_HEAD_NAME_LENGTH) {
        throw new RangeError(`"${name}" expected 1..${MAX_HEAD_NAME_LENGTH} characters`);
      }
    }
    const signedAt = v.millis('signedAt', head.signedAt);
    this.db
      .prepare('INSERT INTO audit_heads (sequence, hash, signature, algorithm, key_id, signed_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(head.sequence, head.hash, head.signature, head.algorithm, head.keyId, signedAt);
    return { ...head, hash: bytes(head.hash), signature: bytes(head.signature), signedAt };
  }

  async listHeads(afterIndex: number, limit: number): Promise<{ readonly index: number; readonly head: AuditHead }[]> {
    page('afterIndex', afterIndex, limit);
    const rows = this.db.prepare('SELECT * FROM audit_heads WHERE id > ? ORDER BY id LIMIT ?').all(afterIndex, limit) as HeadRow[];
    return rows.map((row) => ({ index: row.id, head: headFromRow(row) }));
  }
}
