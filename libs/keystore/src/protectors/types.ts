/**
 * The store-key protector port. A protector makes and recovers the 32-byte store key; what it
 * persists to do so is a non-secret descriptor kept in the sidecar JSON next to the database
 * (the database itself cannot be read before the key is known). `file` and `passphrase` live
 * here; later issues add `kms` and `pkcs11` behind the same interface.
 *
 * Trust boundary: a descriptor is read back from disk and is attacker-controlled; `unlock` must
 * validate it and fail with StoreCorrupt (bad shape) or StoreKeyInvalid (does not unlock).
 */

/** JSON-safe, non-secret fields. `kind` names the protector that wrote it. */
export type ProtectorDescriptor = Readonly<{ kind: string } & Record<string, string | number>>;

export interface StoreKeyProtector {
  /** Persisted in the descriptor; `open` refuses a protector of another kind. */
  readonly kind: string;
  /**
   * Makes a fresh random store key and protects it.
   * The caller owns the returned key and zeroizes it.
   */
  create(): Promise<{ storeKey: Uint8Array; descriptor: ProtectorDescriptor }>;
  /**
   * Protects an existing store key (changing passphrase or protector without re-encrypting the
   * database). Does not take ownership of `storeKey`.
   */
  protect(storeKey: Uint8Array): Promise<ProtectorDescriptor>;
  /**
   * Recovers the store key. The caller owns the returned buffer and zeroizes it.
   * @throws StoreKeyInvalid when it does not unlock; StoreCorrupt for a malformed descriptor.
   */
  unlock(descriptor: ProtectorDescriptor): Promise<Uint8Array>;
}
