/**
 * ListAuditRecords and VerifyAudit over the controller's one hash-chained audit log.
 *
 * Listing: with a fleet, only that fleet's records (fleet scope checked); without one, the whole
 * controller-wide chain, which needs the all-fleets scope. A fleet-filtered page scans at most
 * MAX_AUDIT_SCAN records per call and may come back short (even empty) with a next_page_token
 * (AIP-158 allows it), so a sparse fleet never turns one call into a walk of the whole log.
 *
 * Verifying: recomputes the whole chain (verifyAuditChain) and checks the latest signed head's
 * signature against the trusted keys. A fleet-scoped auditor may run it (naming one of its fleets
 * or none); it reveals chain-level facts only (counts, hashes), never another fleet's records.
 *
 * Trust boundary: runs behind ./guard.ts. Everything read from the log is untrusted (the file may
 * have been edited); only `deps.auditPublicKeys` is trusted.
 */
import { verifySignature, type SignatureAlgorithm } from '@fleetkey/crypto';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { headSigningInput, verifyAuditChain } from '../audit/index.js';
import { MAX_AUDIT_PAGE, type AuditHead, type AuditRecord, type AuditRepository } from '../store/index.js';
import { authorizeAllFleets } from './auth.js';
import type { OperatorServiceDeps } from './deps.js';
import type { Guard } from './guard.js';
import { auditRecordToProto } from './mapping.js';
import { decodePageToken, encodePageToken, resolvePageSize } from './paging.js';
import type { RpcHandlers } from './policy.js';
import { optionalIdentifier, sequenceNumber } from './requests.js';

/** Most records one fleet-filtered ListAuditRecords call reads from the store. */
export const MAX_AUDIT_SCAN = 10_000;

/** The most recently stored signed head, or undefined when none was ever signed. */
async function latestSignedHead(audit: AuditRepository): Promise<AuditHead | undefined> {
  let after = 0;
  let latest: AuditHead | undefined;
  for (;;) {
    const page = await audit.listHeads(after, MAX_AUDIT_PAGE);
    for (const { index, head } of page) {
      after = index;
      latest = head;
    }
    if (page.length < MAX_AUDIT_PAGE) return latest;
  }
}

function headSignatureValid(head: AuditHead, publicKeys: OperatorServiceDeps['auditPublicKeys']): boolean {
  const key = publicKeys(head.keyId);
  if (key === undefined) return false;
  try {
    return verifySignature(key, head.algorithm as SignatureAlgorithm, headSigningInput(head.sequence, head.hash), head.signature);
  } catch {
    // An unknown algorithm or a key that does not fit it is an invalid head, not a failed call.
    return false;
  }
}

export function auditRpcs(deps: OperatorServiceDeps, guard: Guard): RpcHandlers<'listAuditRecords' | 'verifyAudit'> {
  const { audit } = deps.repository;

  return {
    listAuditRecords: (request, context) =>
      guard.run(
        'listAuditRecords',
        context,
        () => optionalIdentifier('fleet', request.fleet),
        async (caller) => {
          const fleetId = optionalIdentifier('fleet', request.fleet);
          // Precondition: the controller-wide log spans every fleet, so it needs the all-fleets scope.
          if (fleetId === undefined) authorizeAllFleets(caller, 'the controller-wide audit log');
          const size = resolvePageSize(request.pageSize);
          const cursor = decodePageToken(request.pageToken, 'audit', ['integer']);
          let after = cursor === undefined ? sequenceNumber('after_sequence', request.afterSequence) : (cursor[0] as number);
          const last = (await audit.head())?.sequence ?? 0;
          const records: AuditRecord[] = [];
          let scanned = 0;
          while (records.length < size && after < last && scanned < MAX_AUDIT_SCAN) {
            const limit = fleetId === undefined ? Math.min(size - records.length, MAX_AUDIT_PAGE) : MAX_AUDIT_PAGE;
            const chunk = await audit.listRecords(after, limit);
            if (chunk.length === 0) break;
            for (const record of chunk) {
              after = record.sequence;
              scanned++;
              if (fleetId !== undefined && record.fleetId !== fleetId) continue;
              records.push(record);
              if (records.length === size) break;
            }
          }
          return { records: records.map(auditRecordToProto), nextPageToken: after < last ? encodePageToken('audit', [after]) : '' };
        },
      ),

    verifyAudit: (request, context) =>
      guard.run(
        'verifyAudit',
        context,
        () => optionalIdentifier('fleet', request.fleet),
        async () => {
          // One chain per controller: naming a fleet only scopes the permission check.
          const verification = await verifyAuditChain(deps.repository, { publicKeys: deps.auditPublicKeys });
          const signed = await latestSignedHead(audit);
          const chainHead = signed === undefined ? await audit.head() : undefined;
          return {
            valid: verification.ok,
            recordsChecked: BigInt(verification.ok ? verification.records : verification.firstBadSequence - 1),
            firstInvalidSequence: BigInt(verification.ok ? 0 : verification.firstBadSequence),
            // The latest signed head when there is one (what the signature vouches for), else the chain's last record.
            headSequence: BigInt(signed?.sequence ?? chainHead?.sequence ?? 0),
            headHash: new Uint8Array(signed?.hash ?? chainHead?.hash ?? new Uint8Array(0)),
            headSignedAt: signed === undefined ? undefined : timestampFromMs(signed.signedAt),
            headSignatureValid: signed !== undefined && headSignatureValid(signed, deps.auditPublicKeys),
          };
        },
      ),
  };
}
