/**
 * Signs the current audit chain head with a Signer (a KMS key in production): the controller calls
 * it at intervals and on shutdown, so a later edit that re-chains every hash still fails against a
 * signature the attacker cannot make.
 *
 * Trust boundary: the Signer holds the private key; only the signature and the key id are stored.
 */
import type { Signer } from '@fleetkey/crypto';
import type { AuditHead, AuditRepository, Millis } from '../store/repository.js';
import { headSigningInput } from './record-hash.js';

/**
 * Signs the current head ("fleetkey/v1 audit-head" ‖ 0x00 ‖ u64 sequence ‖ hash) and stores it.
 * Resolves undefined when the log is empty (nothing to sign).
 * @throws whatever the signer throws (nothing is stored then); RangeError for a bad `now`.
 */
export async function signHead(repo: { readonly audit: AuditRepository }, signer: Signer, now: Millis): Promise<AuditHead | undefined> {
  const head = await repo.audit.head();
  if (head === undefined) return undefined;
  // The record at head.sequence is immutable, so signing outside a transaction cannot race: a
  // record appended meanwhile is simply covered by the next signature.
  const signature = await signer.sign(headSigningInput(head.sequence, head.hash));
  return repo.audit.appendHead({ sequence: head.sequence, hash: head.hash, signature, algorithm: signer.algorithm, keyId: signer.keyId, signedAt: now });
}
