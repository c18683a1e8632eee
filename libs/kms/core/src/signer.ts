/**
 * `kmsSigner(provider, keyId, options)`: a @fleetkey/crypto `Signer` whose private key stays in
 * the KMS, so createCaCertificate / issueDeviceCertificate and command signing work unchanged with
 * a KMS key (the SPIRE keymanager model).
 *
 * The signer is pinned to one key version (the current one when created, or `keyVersion`): its
 * public key is that version's, and a signature the KMS made with any other version (the key was
 * rotated meanwhile) is refused rather than returned, because it would not verify under the public
 * key this signer advertised.
 *
 * Trust boundary: only public keys and signatures cross; `data` is whatever the caller signs.
 */
import type { KeyObject } from 'node:crypto';
import { assertKeyMatches, defaultSignatureAlgorithm, keyAlgorithmOf, type SignatureAlgorithm, type Signer } from '@fleetkey/crypto';
import { InvalidKeyUsage, KeyDisabled } from './errors.js';
import type { KmsProvider } from './provider.js';
import { checkProvider } from './decorators/intercept.js';

export interface KmsSignerOptions {
  /** Default: the key's default algorithm (RSA: RSA_PKCS1_SHA256; ECDSA: the curve's hash; Ed25519). */
  readonly algorithm?: SignatureAlgorithm;
  /** Pin a version; default the key's current version (0 where the vendor does not number them). */
  readonly keyVersion?: number;
}

export interface KmsSigner extends Signer {
  /** The key version this signer signs with (0 = vendor-tracked). */
  readonly keyVersion: number;
}

/**
 * Creates the signer (one describeKey and one getPublicKey call; sign() is one KMS call each).
 * @throws InvalidKeyUsage when the key is not a signing key, KeyDisabled when it is disabled,
 * RangeError when `algorithm` does not fit the key, and any provider error.
 */
export async function kmsSigner(provider: KmsProvider, keyId: string, options: KmsSignerOptions = {}): Promise<KmsSigner> {
  checkProvider(provider);
  if (typeof keyId !== 'string' || keyId === '') throw new TypeError('"keyId" expected a non-empty string');
  const description = await provider.describeKey(keyId);
  const details = { provider: provider.name, keyId, operation: 'sign' as const };
  // Precondition: only an enabled signing key backs a signer.
  if (description.purpose !== 'sign') throw new InvalidKeyUsage({ ...details, detail: 'not a signing key' });
  if (!description.enabled) throw new KeyDisabled(details);
  const keyVersion = options.keyVersion ?? description.currentVersion;
  const publicKey: KeyObject = await provider.getPublicKey(keyVersion === 0 ? { keyId } : { keyId, keyVersion });
  const algorithm = options.algorithm ?? defaultSignatureAlgorithm(keyAlgorithmOf(publicKey));
  assertKeyMatches(publicKey, algorithm);

  return Object.freeze({
    algorithm,
    keyId,
    keyVersion,
    publicKey: () => Promise.resolve(publicKey),
    async sign(data: Uint8Array): Promise<Uint8Array> {
      if (!(data instanceof Uint8Array)) throw new TypeError('"data" expected a Uint8Array');
      const result = await provider.sign({ keyId, data, algorithm });
      // Precondition: the KMS signed with the pinned version and algorithm.
      if (result.algorithm !== algorithm || (keyVersion !== 0 && result.keyVersion !== keyVersion)) {
        throw new InvalidKeyUsage({ ...details, detail: `the KMS signed with version ${result.keyVersion}, this signer is pinned to ${keyVersion}` });
      }
      return result.signature;
    },
  });
}
