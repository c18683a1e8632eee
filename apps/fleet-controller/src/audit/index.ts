/**
 * The controller's hash-chained audit log: record validation and the redaction guard, the
 * canonical hash, head signing and chain verification. Records are appended through
 * `tx.audit.append(...)` (../store/repository.ts) in the same transaction as the change.
 *
 * Trust boundary: see each module; no token, key or plaintext is ever accepted into a record.
 */
export { AuditDetailsRefused } from './errors.js';
export {
  prepareAuditRecord,
  prepareDetails,
  canonicalDetailsJson,
  looksSecret,
  isDeniedKeyName,
  DENIED_KEY_FRAGMENTS,
  MAX_AUDIT_NAME_LENGTH,
  MAX_AUDIT_KEY_REF_LENGTH,
  MAX_AUDIT_ERROR_CODE_LENGTH,
  MAX_AUDIT_DETAIL_KEYS,
  MAX_AUDIT_DETAIL_KEY_LENGTH,
  MAX_AUDIT_DETAIL_VALUE_LENGTH,
  MAX_AUDIT_DETAILS_BYTES,
  MAX_OPAQUE_RUN,
  type PreparedAuditFields,
} from './details.js';
export { encodeAuditRecord, hashAuditRecord, headSigningInput, AUDIT_HASH_LENGTH, GENESIS_PREV_HASH, RECORD_DOMAIN, HEAD_DOMAIN, type HashableAuditRecord } from './record-hash.js';
export { signHead } from './sign-head.js';
export { verifyAuditChain, VERIFY_PAGE_SIZE, MAX_VERIFIED_HEADS, type VerifyAuditOptions, type AuditVerification } from './verify.js';
