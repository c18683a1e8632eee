/**
 * Re-wrapping: moves KMS-wrapped material onto the current version of a KMS key (after a
 * rotation, or onto another key) as unwrap + wrap, with the plaintext zeroized in between.
 *
 * Why not the vendors' server-side re-encryption (AWS ReEncrypt, Vault transit/rewrap): in an
 * envelope v1 0x30 the vendor ciphertext of the content key sits in the authenticated header, so
 * changing it means re-sealing the payload under the content key anyway; and Vault's rewrap takes
 * no `associated_data`, so it cannot carry the context binding. Unwrap + wrap costs the same two
 * KMS calls and keeps one code path.
 *
 * Trust boundary: the envelope is untrusted input (unwrap checks it); the plaintext exists only
 * inside this function and is zeroized before it returns.
 */
import type { KmsContext, KmsProvider } from './provider.js';

export interface RewrapParams {
  readonly envelope: Uint8Array;
  /** The key to wrap under now (the port key id; its current version is used). */
  readonly keyId: string;
  readonly context?: KmsContext;
}

/**
 * Unwraps `envelope` with the key and version it names and wraps the plaintext under the current
 * version of `keyId`, with the same context.
 * @throws whatever `unwrap` or `wrap` throws (InvalidCiphertext, KeyNotFound, KeyDisabled, …);
 *   nothing is returned half-done.
 */
export async function rewrapEnvelope(provider: KmsProvider, params: RewrapParams): Promise<Uint8Array> {
  const context = params.context;
  const plaintext = await provider.unwrap({ envelope: params.envelope, ...(context === undefined ? {} : { context }) });
  try {
    return await provider.wrap({ keyId: params.keyId, plaintext, ...(context === undefined ? {} : { context }) });
  } finally {
    plaintext.fill(0);
  }
}
