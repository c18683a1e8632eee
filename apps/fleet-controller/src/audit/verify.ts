/**
 * Verifies the audit log: recomputes every record hash in order, checks the sequence is contiguous
 * from 1 and every link, and checks every signed head (signature, and that it matches the
 * recomputed hash at its sequence). Records stream in pages, so memory is bounded by the page size
 * and the number of signed heads (MAX_VERIFIED_HEADS).
 *
 * Trust boundary: everything read from the store is untrusted (someone may have edited the file);
 * only the public keys passed in are trusted.
 */
import { timingSafeEqual, type KeyObject } from 'node:crypto';
import { verifySignature, type SignatureAlgorithm } from '@fleetkey/crypto';
import type { AuditHead, AuditRecord, AuditRepository } from '../store/repository.js';
import { AUDIT_HASH_LENGTH, GENESIS_PREV_HASH, hashAuditRecord, headSigningInput } from './record-hash.js';

/** Records read per page. */
export const VERIFY_PAGE_SIZE = 500;
/** Most signed heads one verification holds in memory. */
export const MAX_VERIFIED_HEADS = 100_000;

export interface VerifyAuditOptions {
  /** The trusted public key for a head's key id; undefined when the key id is not trusted. */
  readonly publicKeys: (keyId: string) => KeyObject | undefined;
}

export type AuditVerification =
  | { readonly ok: true; readonly records: number; readonly heads: number }
  | { readonly ok: false; readonly firstBadSequence: number; readonly reason: string };

const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && timingSafeEqual(a, b);

function headValid(head: AuditHead, options: VerifyAuditOptions): boolean {
  const key = options.publicKeys(head.keyId);
  if (key === undefined) return false;
  try {
    return verifySignature(key, head.algorithm as SignatureAlgorithm, headSigningInput(head.sequence, head.hash), head.signature);
  } catch {
    // An unknown algorithm or a key that does not fit it is a bad head, not a crash.
    return false;
  }
}

async function loadHeads(audit: AuditRepository): Promise<Map<number, AuditHead[]>> {
  const bySequence = new Map<number, AuditHead[]>();
  let after = 0;
  let count = 0;
  for (;;) {
    const page = await audit.listHeads(after, VERIFY_PAGE_SIZE);
    for (const { index, head } of page) {
      after = index;
      if (++count > MAX_VERIFIED_HEADS) throw new RangeError(`audit log has more than ${MAX_VERIFIED_HEADS} signed heads`);
      const list = bySequence.get(head.sequence) ?? [];
      list.push(head);
      bySequence.set(head.sequence, list);
    }
    if (page.length < VERIFY_PAGE_SIZE) return bySequence;
  }
}

/**
 * Verifies the chain and its signed heads; names the FIRST bad record.
 * A record whose own hash fails was edited; a record whose own hash holds but whose prev_hash does
 * not match its predecessor means the predecessor's hash was rewritten (to hide an edit), so the
 * predecessor is named. A missing record is named by its sequence.
 * @throws RangeError past MAX_VERIFIED_HEADS; whatever the store throws.
 */
export async function verifyAuditChain(repo: { readonly audit: AuditRepository }, options: VerifyAuditOptions): Promise<AuditVerification> {
  const heads = await loadHeads(repo.audit);
  let expected = 1;
  let prevHash: Uint8Array = GENESIS_PREV_HASH;
  let headsChecked = 0;
  const bad = (firstBadSequence: number, reason: string): AuditVerification => ({ ok: false, firstBadSequence, reason });
  for (;;) {
    const page: AuditRecord[] = await repo.audit.listRecords(expected - 1, VERIFY_PAGE_SIZE);
    for (const record of page) {
      // Precondition: sequences are contiguous from 1 (a deleted record leaves a gap).
      if (record.sequence !== expected) return bad(expected, 'record missing (sequence gap)');
      if (record.hash.length !== AUDIT_HASH_LENGTH || record.prevHash.length !== AUDIT_HASH_LENGTH) return bad(expected, 'malformed hash');
      let recomputed: Uint8Array;
      try {
        recomputed = hashAuditRecord(record);
      } catch {
        return bad(expected, 'malformed record');
      }
      // Precondition: each record's stored hash is the hash of its content.
      if (!equal(recomputed, record.hash)) return bad(expected, 'record hash does not match its content');
      // Precondition: each record links to the previous record's hash.
      if (!equal(record.prevHash, prevHash)) {
        return expected === 1 ? bad(1, 'first record does not start from the zero hash') : bad(expected - 1, 'record hash was rewritten (next record does not link to it)');
      }
      for (const head of heads.get(expected) ?? []) {
        // Precondition: every signed head carries a valid signature by a trusted key.
        if (!headValid(head, options)) return bad(expected, 'signed head has an invalid or untrusted signature');
        // Precondition: a signed head matches the recomputed chain at its sequence (a re-chained log
        // passes every link check; only a signature the forger cannot make catches it).
        if (!equal(head.hash, recomputed)) return bad(expected, 'signed head does not match the chain: a record at or before this sequence was changed');
        headsChecked++;
      }
      prevHash = recomputed;
      expected++;
    }
    if (page.length < VERIFY_PAGE_SIZE) break;
  }
  // Precondition: no signed head points past the end of the log (records deleted from the tail).
  const beyond = [...heads.keys()].filter((sequence) => sequence >= expected);
  if (beyond.length > 0) return bad(expected, 'signed head points past the end of the log (records missing)');
  return { ok: true, records: expected - 1, heads: headsChecked };
}
