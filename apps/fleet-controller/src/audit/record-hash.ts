/**
 * The canonical byte encoding of an audit record and of a signed head's signing input, and the
 * SHA-256 chain hash. Changing a byte here breaks every existing chain: the known-answer test in
 * record-hash.spec.ts pins it.
 *
 * Record encoding (all integers big-endian, fixed field order, every variable field
 * length-prefixed so no two records share an encoding):
 *
 *   "fleetkey/v1 audit-record"  24 ASCII bytes (domain separation)
 *   0x00
 *   sequence                    u64
 *   time                        u64 (ms since the Unix epoch)
 *   actor                       STR
 *   action                      STR
 *   fleetId                     OPT
 *   deviceId                    OPT
 *   keyRef                      OPT
 *   result                      STR
 *   errorCode                   OPT
 *   detailsJson                 STR (canonical JSON exactly as stored)
 *   prevHash                    32 bytes (32 zero bytes for sequence 1)
 *
 *   STR = u32 byte length ‖ UTF-8 bytes;  OPT = 0x00 (absent) | 0x01 ‖ STR
 *   hash = SHA-256(encoding)                                   (FIPS 180-4)
 *
 * Head signing input: "fleetkey/v1 audit-head" (22 ASCII bytes) ‖ 0x00 ‖ u64 sequence ‖ 32-byte hash.
 *
 * Trust boundary: pure functions over already-validated fields.
 */
import { createHash } from 'node:crypto';

export const AUDIT_HASH_LENGTH = 32;
export const RECORD_DOMAIN = 'fleetkey/v1 audit-record';
export const HEAD_DOMAIN = 'fleetkey/v1 audit-head';
/** prev_hash of sequence 1. */
export const GENESIS_PREV_HASH: Uint8Array = new Uint8Array(AUDIT_HASH_LENGTH);

/** The hashed fields of one record. */
export interface HashableAuditRecord {
  readonly sequence: number;
  readonly time: number;
  readonly actor: string;
  readonly action: string;
  readonly fleetId: string | null;
  readonly deviceId: string | null;
  readonly keyRef: string | null;
  readonly result: string;
  readonly errorCode: string | null;
  readonly detailsJson: string;
  readonly prevHash: Uint8Array;
}

function u64(value: number, field: string): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`"${field}" expected a non-negative safe integer`);
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(value));
  return out;
}

function str(value: string): Buffer[] {
  const bytes = Buffer.from(value, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return [length, bytes];
}

function opt(value: string | null): Buffer[] {
  return value === null ? [Buffer.from([0])] : [Buffer.from([1]), ...str(value)];
}

/**
 * The canonical encoding of a record (layout above).
 * @throws RangeError when sequence/time are not non-negative safe integers or prevHash is not 32 bytes.
 */
export function encodeAuditRecord(record: HashableAuditRecord): Uint8Array {
  if (!(record.prevHash instanceof Uint8Array) || record.prevHash.length !== AUDIT_HASH_LENGTH) {
    throw new RangeError(`"prevHash" expected ${AUDIT_HASH_LENGTH} bytes`);
  }
  return Buffer.concat([
    Buffer.from(RECORD_DOMAIN, 'ascii'),
    Buffer.from([0]),
    u64(record.sequence, 'sequence'),
    u64(record.time, 'time'),
    ...str(record.actor),
    ...str(record.action),
    ...opt(record.fleetId),
    ...opt(record.deviceId),
    ...opt(record.keyRef),
    ...str(record.result),
    ...opt(record.errorCode),
    ...str(record.detailsJson),
    record.prevHash,
  ]);
}

/** SHA-256 of the canonical encoding. @throws RangeError as encodeAuditRecord. */
export function hashAuditRecord(record: HashableAuditRecord): Uint8Array {
  return new Uint8Array(createHash('sha256').update(encodeAuditRecord(record)).digest());
}

/** The bytes a head signature covers. @throws RangeError for a bad sequence or hash length. */
export function headSigningInput(sequence: number, hash: Uint8Array): Uint8Array {
  if (!(hash instanceof Uint8Array) || hash.length !== AUDIT_HASH_LENGTH) throw new RangeError(`"hash" expected ${AUDIT_HASH_LENGTH} bytes`);
  return new Uint8Array(Buffer.concat([Buffer.from(HEAD_DOMAIN, 'ascii'), Buffer.from([0]), u64(sequence, 'sequence'), hash]));
}
