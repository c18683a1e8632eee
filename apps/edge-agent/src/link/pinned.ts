/**
 * Verification of what the controller signs with the fleet's emergency key (commands, revocation
 * lists, epoch manifests): the signing key must be one this robot pinned at provisioning, the
 * algorithm must be the pinned key's, and the signature must hold over the payload bytes exactly
 * as received (libs/protocol signed.ts parses only after that).
 *
 * Trust boundary: the signed wrapper is untrusted network input; the pinned keys come from the
 * keystore. Every failure is the one uninformative SignatureInvalid.
 */
import type { KeyObject } from 'node:crypto';
import { SignatureInvalid, verifySignature, type SignatureAlgorithm } from '@fleetkey/crypto';
import { signatureAlgorithmToProto, type PayloadVerifier, type SignedPayload } from '@fleetkey/protocol';
import type { AgentCore } from '../runtime/agent-core.js';

export interface PinnedKey {
  readonly publicKey: KeyObject;
  readonly algorithm: SignatureAlgorithm;
}

/** The pinned emergency key a wrapper names, or undefined when it names none this robot pinned. */
export function pinnedKeyOf(core: AgentCore, signed: Pick<SignedPayload, 'signingKey'>): PinnedKey | undefined {
  const ref = signed.signingKey;
  if (ref === undefined) return undefined;
  return core.emergencyKeyMap().get(`${ref.keyId}@${ref.version}`);
}

/**
 * A verifier for `verifyPayload` bound to one pinned key.
 * @throws SignatureInvalid (from the returned function) for another algorithm or a bad signature.
 */
export function pinnedVerifier(pinned: PinnedKey): PayloadVerifier {
  return (input, signed) => {
    // Precondition: the wrapper's algorithm is the pinned key's; a downgrade is never negotiated.
    if (signed.signatureAlgorithm !== signatureAlgorithmToProto(pinned.algorithm)) throw new SignatureInvalid();
    if (!verifySignature(pinned.publicKey, pinned.algorithm, input, signed.signature)) throw new SignatureInvalid();
  };
}
