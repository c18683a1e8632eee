/**
 * The `kms` protector: a random 32-byte store key wrapped by a KMS key through any `KmsProvider`
 * (local, AWS, Azure, Google Cloud, Vault). The wrap is the provider's envelope v1
 * (KMS_AES_256_GCM) made with a context naming this store, so a wrapped store key copied into
 * another store's sidecar does not unwrap there. The descriptor records the provider name, the
 * key id and the envelope (base64); unlocking is one `unwrap` call — the envelope itself names
 * the key and version, so a rotated KMS key still unlocks stores wrapped under older versions.
 *
 * Trust boundary: the descriptor comes from the sidecar on disk (attacker-controlled) and is
 * checked and bounded before the KMS is called; the provider is trusted code handed in by the
 * composition root (this module imports only kms-core's types, never an adapter). A wrap that does
 * not open (tampered, wrong store, wrong key) is StoreKeyInvalid with the one fixed message; KMS
 * errors that say the KMS could not answer (ProviderUnavailable, Throttled, AccessDenied,
 * KeyDisabled, KeyNotFound, Timeout …) pass through unchanged, so an operator can tell "the KMS is
 * down" from "this is not the right key".
 */
import { randomFillSync } from 'node:crypto';
import { isFleetkeyError } from '@fleetkey/key-types';
import { readEnvelopeHeader } from '@fleetkey/crypto';
import type { KmsContext, KmsProvider } from '@fleetkey/kms-core';
import { decodeBase64Field, encodeBase64 } from '../base64.js';
import { STORE_KEY_LENGTH, STORE_KEY_PURPOSE } from '../constants.js';
import { StoreCorrupt, StoreKeyInvalid } from '../errors.js';
import type { ProtectorDescriptor, StoreKeyProtector } from './types.js';

export const KMS_PROTECTOR_KIND = 'kms';
/**
 * Bound on the wrapped store key an unlock will parse. A 32-byte key in a KMS envelope is about
 * 100..700 bytes (the vendor's CEK ciphertext is at most 512 bytes for RSA-4096 at Azure); the
 * sidecar's 4096-character string limit caps base64 at 3072 bytes anyway.
 */
export const MAX_KMS_WRAPPED_STORE_KEY_BYTES = 3072;
/** Store names: what the wrap's context binds. */
export const STORE_NAME_PATTERN = /^[\x21-\x7e]{1,256}$/;
const PROVIDER_NAME_PATTERN = /^[a-z0-9-]{1,32}$/;
const KEY_ID_PATTERN = /^[\x21-\x7e]{1,1024}$/;
/** KMS error codes that mean "these bytes do not open": folded into StoreKeyInvalid. */
const DOES_NOT_OPEN = new Set(['INVALID_CIPHERTEXT', 'ENVELOPE_MALFORMED', 'ENVELOPE_UNSUPPORTED', 'DECRYPTION_FAILED']);

export interface KmsProtectorOptions {
  /** Any KmsProvider (usually `createKmsProvider(...)` from @fleetkey/kms-providers, decorated). */
  readonly provider: KmsProvider;
  /** The AES_256 KMS key that wraps new store keys. Unlocking uses the key named in the envelope. */
  readonly keyId: string;
  /** A stable name of this store (e.g. the device id); bound into the wrap's context. */
  readonly store: string;
}

function contextFor(store: string): KmsContext {
  return { purpose: STORE_KEY_PURPOSE, protector: KMS_PROTECTOR_KIND, store };
}

class KmsProtector implements StoreKeyProtector {
  readonly kind = KMS_PROTECTOR_KIND;
  readonly #provider: KmsProvider;
  readonly #keyId: string;
  readonly #store: string;

  constructor(options: KmsProtectorOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('"options" expected an object');
    const provider = options.provider;
    if (typeof provider !== 'object' || provider === null || typeof provider.wrap !== 'function' || typeof provider.unwrap !== 'function') {
      throw new TypeError('"provider" expected a KmsProvider');
    }
    if (typeof options.keyId !== 'string' || !KEY_ID_PATTERN.test(options.keyId)) throw new TypeError('"keyId" expected 1..1024 printable ASCII characters');
    if (typeof options.store !== 'string' || !STORE_NAME_PATTERN.test(options.store)) throw new TypeError('"store" expected 1..256 printable ASCII characters');
    this.#provider = provider;
    this.#keyId = options.keyId;
    this.#store = options.store;
  }

  async create(): Promise<{ storeKey: Uint8Array; descriptor: ProtectorDescriptor }> {
    // randomFillSync into our own buffer: no copy of the store key is left in Node's buffer pool.
    const storeKey = randomFillSync(new Uint8Array(STORE_KEY_LENGTH));
    try {
      return { storeKey, descriptor: await this.protect(storeKey) };
    } catch (error) {
      storeKey.fill(0);
      throw error;
    }
  }

  /** @throws whatever the provider's wrap throws (KeyNotFound, KeyDisabled, ProviderUnavailable …). */
  async protect(storeKey: Uint8Array): Promise<ProtectorDescriptor> {
    if (!(storeKey instanceof Uint8Array) || storeKey.length !== STORE_KEY_LENGTH) {
      throw new RangeError(`"storeKey" expected ${STORE_KEY_LENGTH} bytes`);
    }
    const wrapped = await this.#provider.wrap({ keyId: this.#keyId, plaintext: storeKey, context: contextFor(this.#store) });
    if (wrapped.length > MAX_KMS_WRAPPED_STORE_KEY_BYTES) {
      throw new RangeError(`the provider's wrap is ${wrapped.length} bytes; the sidecar holds at most ${MAX_KMS_WRAPPED_STORE_KEY_BYTES}`);
    }
    return {
      kind: KMS_PROTECTOR_KIND,
      provider: this.#provider.name,
      keyId: this.#keyId,
      store: this.#store,
      wrappedStoreKey: encodeBase64(wrapped),
    };
  }

  /**
   * @throws StoreCorrupt (malformed descriptor, or one written through another provider) |
   * StoreKeyInvalid (the wrap does not open for this store) | the provider's own KMS errors.
   */
  async unlock(descriptor: ProtectorDescriptor): Promise<Uint8Array> {
    const wrapped = this.#parseDescriptor(descriptor);
    let storeKey: Uint8Array;
    try {
      storeKey = await this.#provider.unwrap({ envelope: wrapped, context: contextFor(this.#store) });
    } catch (error) {
      // One outcome for every "does not open": no oracle on which part failed.
      if (isFleetkeyError(error) && DOES_NOT_OPEN.has(error.code)) throw new StoreKeyInvalid();
      throw error;
    }
    if (storeKey.length !== STORE_KEY_LENGTH) {
      storeKey.fill(0);
      throw new StoreKeyInvalid();
    }
    return storeKey;
  }

  /** @throws StoreCorrupt for any field missing, mistyped, out of bounds or inconsistent. */
  #parseDescriptor(descriptor: ProtectorDescriptor): Uint8Array {
    if (typeof descriptor !== 'object' || descriptor === null || descriptor.kind !== KMS_PROTECTOR_KIND) {
      throw new StoreCorrupt('keystore sidecar: not a kms protector descriptor');
    }
    const provider = descriptor['provider'];
    const keyId = descriptor['keyId'];
    if (typeof provider !== 'string' || !PROVIDER_NAME_PATTERN.test(provider)) throw new StoreCorrupt('keystore sidecar: kms "provider" is malformed');
    if (typeof keyId !== 'string' || !KEY_ID_PATTERN.test(keyId)) throw new StoreCorrupt('keystore sidecar: kms "keyId" is malformed');
    // Precondition: the store is unlocked through a provider of the name that wrapped its key.
    if (provider !== this.#provider.name) {
      throw new StoreCorrupt(`keystore sidecar: the store key was wrapped by provider "${provider}", not "${this.#provider.name}"`);
    }
    const wrapped = decodeBase64Field(descriptor['wrappedStoreKey'], 'wrappedStoreKey', 1, MAX_KMS_WRAPPED_STORE_KEY_BYTES);
    let header;
    try {
      header = readEnvelopeHeader(wrapped);
    } catch {
      throw new StoreKeyInvalid();
    }
    // Precondition: the envelope names the provider and key the descriptor records.
    if (header.provider !== provider || header.keyId !== keyId) {
      throw new StoreCorrupt('keystore sidecar: the wrapped store key names another provider or key than the descriptor');
    }
    return wrapped;
  }
}

/**
 * A protector wrapping the store key with a KMS key.
 * @throws TypeError for a missing provider, key id or store name.
 */
export function kmsProtector(options: KmsProtectorOptions): StoreKeyProtector {
  return new KmsProtector(options);
}
