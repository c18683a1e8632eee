/**
 * The `passphrase` protector: a random 32-byte store key wrapped (envelope v1, AES-256-GCM) under
 * a key-encryption key derived from the passphrase with scrypt (RFC 7914; N=2^15, r=8, p=1 or
 * stronger; a random 16-byte salt). Only the wrap depends on the passphrase, so changing it
 * re-wraps 32 bytes and never re-encrypts the database.
 *
 * The wrap's envelope context binds the KDF name, its parameters and the salt: editing any of them
 * in the sidecar makes the unwrap fail as a forgery rather than silently deriving another key.
 *
 * Trust boundary: the descriptor comes from the sidecar on disk (attacker-controlled); every field
 * is checked and bounded before scrypt runs. A wrong passphrase and a tampered wrap fail alike
 * with StoreKeyInvalid (one fixed message).
 */
import { randomBytes } from 'node:crypto';
import { isFleetkeyError } from '@fleetkey/key-types';
import { openEnvelope, sealEnvelope, type EnvelopeContext } from '@fleetkey/crypto';
import { encodeBase64, decodeBase64Field } from '../base64.js';
import { KEYSTORE_PROVIDER, SEAL_TAG_LENGTH, STORE_KEY_LENGTH, STORE_KEY_PURPOSE } from '../constants.js';
import { StoreCorrupt, StoreKeyInvalid } from '../errors.js';
import {
  DEFAULT_SCRYPT_PARAMS,
  SCRYPT_SALT_LENGTH,
  deriveScryptKey,
  scryptParamsWithinBounds,
  type ScryptParams,
} from './scrypt.js';
import type { ProtectorDescriptor, StoreKeyProtector } from './types.js';

export const PASSPHRASE_PROTECTOR_KIND = 'passphrase';
/** Envelope key id of the wrapped store key (the record-level ids are key ids; this is not). */
export const STORE_KEY_ENVELOPE_KEY_ID = 'store-key';
export const MIN_PASSPHRASE_BYTES = 8;
export const MAX_PASSPHRASE_BYTES = 1024;
/** Bound on the wrapped store key an unlock will parse (a 32-byte key in envelope v1 is ~60 B). */
export const MAX_WRAPPED_STORE_KEY_BYTES = 256;

export interface PassphraseProtectorOptions {
  /** Strings are NFC-normalised and UTF-8 encoded. The protector keeps its own copy (see `dispose`). */
  readonly passphrase: string | Uint8Array;
  /** Defaults to N=2^15, r=8, p=1; weaker is refused. */
  readonly scrypt?: ScryptParams;
}

export interface PassphraseProtector extends StoreKeyProtector {
  /** Zeroizes the protector's copy of the passphrase; later calls throw TypeError. */
  dispose(): void;
}

function contextFor(params: ScryptParams, salt: string): EnvelopeContext {
  return {
    purpose: STORE_KEY_PURPOSE,
    protector: PASSPHRASE_PROTECTOR_KIND,
    kdf: 'scrypt',
    N: String(params.N),
    r: String(params.r),
    p: String(params.p),
    salt,
  };
}

function passphraseBytes(passphrase: string | Uint8Array): Uint8Array {
  const bytes =
    typeof passphrase === 'string'
      ? new Uint8Array(Buffer.from(passphrase.normalize('NFC'), 'utf8'))
      : passphrase instanceof Uint8Array
        ? new Uint8Array(passphrase)
        : undefined;
  if (bytes === undefined) throw new TypeError('"passphrase" expected a string or Uint8Array');
  if (bytes.length < MIN_PASSPHRASE_BYTES || bytes.length > MAX_PASSPHRASE_BYTES) {
    const length = bytes.length;
    bytes.fill(0);
    throw new RangeError(`"passphrase" expected ${MIN_PASSPHRASE_BYTES}..${MAX_PASSPHRASE_BYTES} bytes, got ${length}`);
  }
  return bytes;
}

class ScryptPassphraseProtector implements PassphraseProtector {
  readonly kind = PASSPHRASE_PROTECTOR_KIND;
  readonly #passphrase: Uint8Array;
  readonly #params: ScryptParams;
  #disposed = false;

  constructor(options: PassphraseProtectorOptions) {
    const params = options?.scrypt ?? DEFAULT_SCRYPT_PARAMS;
    // Precondition: a new store is never protected by scrypt parameters weaker than N=2^15, r=8, p=1.
    if (!scryptParamsWithinBounds(params)) {
      throw new RangeError('"scrypt" expected N a power of two in 2^15..2^20, r in 8..16, p in 1..16, 128·N·r <= 1 GiB');
    }
    this.#params = Object.freeze({ N: params.N, r: params.r, p: params.p });
    this.#passphrase = passphraseBytes(options.passphrase);
  }

  #checkUsable(): void {
    if (this.#disposed) throw new TypeError('passphrase protector was disposed');
  }

  async create(): Promise<{ storeKey: Uint8Array; descriptor: ProtectorDescriptor }> {
    const storeKey = new Uint8Array(randomBytes(STORE_KEY_LENGTH));
    try {
      return { storeKey, descriptor: await this.protect(storeKey) };
    } catch (error) {
      storeKey.fill(0);
      throw error;
    }
  }

  async protect(storeKey: Uint8Array): Promise<ProtectorDescriptor> {
    this.#checkUsable();
    if (!(storeKey instanceof Uint8Array) || storeKey.length !== STORE_KEY_LENGTH) {
      throw new RangeError(`"storeKey" expected ${STORE_KEY_LENGTH} bytes`);
    }
    const params = this.#params;
    const salt = encodeBase64(randomBytes(SCRYPT_SALT_LENGTH));
    const kek = await deriveScryptKey(this.#passphrase, Buffer.from(salt, 'base64'), params);
    try {
      const wrapped = sealEnvelope({
        key: kek,
        algorithm: 'AES_256_GCM',
        provider: KEYSTORE_PROVIDER,
        keyId: STORE_KEY_ENVELOPE_KEY_ID,
        keyVersion: 1,
        plaintext: storeKey,
        context: contextFor(params, salt),
      });
      return {
        kind: PASSPHRASE_PROTECTOR_KIND,
        kdf: 'scrypt',
        N: params.N,
        r: params.r,
        p: params.p,
        salt,
        wrappedStoreKey: encodeBase64(wrapped),
      };
    } finally {
      kek.fill(0);
    }
  }

  /**
   * @throws StoreKeyInvalid (wrong passphrase or a tampered wrap / salt / parameters) |
   * StoreCorrupt (a malformed descriptor).
   */
  async unlock(descriptor: ProtectorDescriptor): Promise<Uint8Array> {
    this.#checkUsable();
    const { params, saltText, salt, wrapped } = parseDescriptor(descriptor);
    const kek = await deriveScryptKey(this.#passphrase, salt, params);
    let storeKey: Uint8Array | undefined;
    try {
      storeKey = openEnvelope(wrapped, kek, contextFor(params, saltText), {
        maxCiphertextLength: STORE_KEY_LENGTH + SEAL_TAG_LENGTH,
      });
    } catch (error) {
      // One outcome for every failure below the descriptor's shape: no oracle on which part failed.
      if (isFleetkeyError(error)) throw new StoreKeyInvalid();
      throw error;
    } finally {
      kek.fill(0);
    }
    if (storeKey.length !== STORE_KEY_LENGTH) {
      storeKey.fill(0);
      throw new StoreKeyInvalid();
    }
    return storeKey;
  }

  dispose(): void {
    this.#passphrase.fill(0);
    this.#disposed = true;
  }
}

interface ParsedDescriptor {
  readonly params: ScryptParams;
  readonly saltText: string;
  readonly salt: Uint8Array;
  readonly wrapped: Uint8Array;
}

/** @throws StoreCorrupt for any field missing, mistyped or out of bounds. */
function parseDescriptor(descriptor: ProtectorDescriptor): ParsedDescriptor {
  if (typeof descriptor !== 'object' || descriptor === null || descriptor.kind !== PASSPHRASE_PROTECTOR_KIND) {
    throw new StoreCorrupt('keystore sidecar: not a passphrase protector descriptor');
  }
  if (descriptor['kdf'] !== 'scrypt') throw new StoreCorrupt('keystore sidecar: unknown passphrase kdf');
  const params = { N: descriptor['N'], r: descriptor['r'], p: descriptor['p'] };
  // Precondition: scrypt parameters read from disk are within bounds before scrypt runs (a
  // tampered sidecar can neither weaken the KDF nor exhaust memory).
  if (!scryptParamsWithinBounds(params)) throw new StoreCorrupt('keystore sidecar: scrypt parameters out of bounds');
  const saltText = descriptor['salt'];
  const salt = decodeBase64Field(saltText, 'salt', SCRYPT_SALT_LENGTH, SCRYPT_SALT_LENGTH);
  const wrapped = decodeBase64Field(descriptor['wrappedStoreKey'], 'wrappedStoreKey', 1, MAX_WRAPPED_STORE_KEY_BYTES);
  return { params, saltText: saltText as string, salt, wrapped };
}

/**
 * A protector deriving a wrapping key from a passphrase with scrypt.
 * @throws TypeError / RangeError for a missing or out-of-bounds passphrase or weak scrypt parameters.
 */
export function passphraseProtector(options: PassphraseProtectorOptions): PassphraseProtector {
  return new ScryptPassphraseProtector(options);
}
