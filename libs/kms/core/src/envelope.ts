/**
 * Envelope v1 algorithm 0x30 KMS_AES_256_GCM for adapters: `sealWithKmsWrappedKey` puts the
 * vendor's ciphertext of a CEK into the header and seals the payload under the CEK;
 * `openKmsEnvelope` parses, asks the adapter to decrypt the CEK (one KMS call) and opens the
 * payload. Both are thin layers over @fleetkey/crypto's `sealWithContentKey` / `openWithContentKey`,
 * the one content-encryption path, so no adapter re-implements AES-GCM or the AAD.
 *
 * Trust boundary: `openKmsEnvelope` takes attacker bytes. Parse failures stay crypto's typed
 * `EnvelopeMalformed` / `EnvelopeUnsupported`; every authentication or CEK-recovery failure that
 * is not already a KmsError becomes the one `InvalidCiphertext`. The CEK is zeroized on every
 * path, sealing and opening.
 */
import {
  CONTENT_KEY_LENGTH,
  openWithContentKey,
  readEnvelopeHeader,
  sealWithContentKey,
  type DecodeOptions,
  type EnvelopeHeader,
} from '@fleetkey/crypto';
import { InvalidCiphertext, isKmsError } from './errors.js';
import { randomBytes } from 'node:crypto';
import { DATA_KEY_LENGTH, type DataKey, type KmsContext, type KmsGenerateDataKeyParams, type KmsWrapParams } from './provider.js';

/** The envelope algorithm every KMS adapter writes. */
export const KMS_ENVELOPE_ALGORITHM = 'KMS_AES_256_GCM' as const;

export interface SealWithKmsWrappedKeyParams {
  /** The adapter's provider name ('aws', 'gcp', …): `[a-z0-9-]`, 1..32. */
  readonly provider: string;
  /** The vendor key id the adapter needs to decrypt the CEK (printable ASCII, 1..1024). */
  readonly keyId: string;
  /** The vendor's key version, or 0 when the vendor tracks versions itself. */
  readonly keyVersion: number;
  /** The vendor's ciphertext of `cek`, 1..2048 bytes (opaque). */
  readonly encapsulatedKey: Uint8Array;
  /** The 32-byte CEK. This function zeroizes it before returning (or throwing). */
  readonly cek: Uint8Array;
  readonly plaintext: Uint8Array;
  readonly context?: KmsContext;
}

/**
 * Seals `plaintext` as a KMS_AES_256_GCM envelope. Takes ownership of `cek` and zeroizes it.
 * @throws TypeError / RangeError on misuse (bad provider / key id / version, an encapsulated key
 * outside 1..2048 bytes, a CEK that is not 32 bytes, a context breaking the envelope rules).
 */
export function sealWithKmsWrappedKey(params: SealWithKmsWrappedKeyParams): Uint8Array {
  if (typeof params !== 'object' || params === null) throw new TypeError('"params" expected an object');
  const { cek } = params;
  try {
    return sealWithContentKey(
      {
        algorithm: KMS_ENVELOPE_ALGORITHM,
        provider: params.provider,
        keyId: params.keyId,
        keyVersion: params.keyVersion,
        encapsulatedKey: params.encapsulatedKey,
      },
      cek,
      params.plaintext,
      params.context,
    );
  } finally {
    if (cek instanceof Uint8Array) cek.fill(0);
  }
}

export interface OpenKmsEnvelopeOptions extends DecodeOptions {
  /**
   * The provider name the caller answers for. When set, an envelope naming another provider is
   * refused with InvalidCiphertext before any KMS call.
   */
  readonly provider?: string;
}

/**
 * Opens a KMS_AES_256_GCM envelope. `unwrapCek(header)` makes the one KMS call that turns
 * `header.encapsulatedKey` back into the 32-byte CEK (the header also names key id and version);
 * the CEK it returns is owned and zeroized here.
 * @throws EnvelopeMalformed / EnvelopeUnsupported for bytes that are not a well-formed envelope v1;
 * InvalidCiphertext for an envelope of another algorithm or provider, a CEK-recovery failure that is
 * not a KmsError, a CEK of the wrong length, and any authentication failure (wrong context, tampering);
 * any KmsError `unwrapCek` throws (KeyNotFound, AccessDenied, Throttled, …) unchanged.
 */
export async function openKmsEnvelope(
  envelope: Uint8Array,
  unwrapCek: (header: EnvelopeHeader) => Promise<Uint8Array>,
  context?: KmsContext,
  options: OpenKmsEnvelopeOptions = {},
): Promise<Uint8Array> {
  if (typeof unwrapCek !== 'function') throw new TypeError('"unwrapCek" expected a function');
  const decodeOptions: DecodeOptions = options.maxCiphertextLength === undefined ? {} : { maxCiphertextLength: options.maxCiphertextLength };
  const header = readEnvelopeHeader(envelope, decodeOptions);
  const details = { provider: header.provider, keyId: header.keyId, operation: 'unwrap' as const };
  // Precondition: only KMS_AES_256_GCM envelopes are opened through a KMS.
  if (header.algorithm !== KMS_ENVELOPE_ALGORITHM) throw new InvalidCiphertext(details);
  // Precondition: the envelope names the provider that is opening it.
  if (options.provider !== undefined && header.provider !== options.provider) {
    throw new InvalidCiphertext({ ...details, provider: options.provider });
  }

  let cek: Uint8Array;
  try {
    cek = await unwrapCek(header);
  } catch (error) {
    if (isKmsError(error)) throw error;
    throw new InvalidCiphertext({ ...details, cause: error });
  }
  try {
    // Precondition: the provider returned a 32-byte CEK.
    if (!(cek instanceof Uint8Array) || cek.length !== CONTENT_KEY_LENGTH) throw new InvalidCiphertext(details);
    try {
      return openWithContentKey(envelope, cek, context, decodeOptions);
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) throw error;
      // DecryptionFailed (wrong context, flipped bit): no cause, so nothing about why leaks.
      throw new InvalidCiphertext(details);
    }
  } finally {
    if (cek instanceof Uint8Array) cek.fill(0);
  }
}

/**
 * `generateDataKey` for a provider whose vendor has no data-key call that fits the 0x30 envelope:
 * 32 fresh random bytes, wrapped by the provider's own `wrap`. The returned plaintext belongs to
 * the caller, who zeroizes it; on failure it is zeroized here.
 * @throws whatever `wrap` throws.
 */
export async function dataKeyByWrapping(
  wrap: (params: KmsWrapParams) => Promise<Uint8Array>,
  params: KmsGenerateDataKeyParams,
  random: (size: number) => Uint8Array = (size) => new Uint8Array(randomBytes(size)),
): Promise<DataKey> {
  const plaintext = random(DATA_KEY_LENGTH);
  try {
    const wrapped = await wrap({ keyId: params?.keyId, plaintext, ...(params?.context === undefined ? {} : { context: params.context }) });
    return { plaintext, wrapped };
  } catch (error) {
    plaintext.fill(0);
    throw error;
  }
}
