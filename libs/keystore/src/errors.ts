/**
 * The typed errors of the keystore. One class per code from the key-types union; callers and tests
 * switch on `code`, never on the message.
 *
 * Trust boundary: messages name key ids, versions, states and file paths at most. They never carry
 * key material, store keys, passphrases, sealed blobs or descriptor secrets. `StoreKeyInvalid`
 * uses one fixed message whatever failed (wrong passphrase, wrong key file, a tampered sidecar, a
 * database that does not decrypt), so it is no oracle.
 */
import { FleetkeyError } from '@fleetkey/key-types';

/** The one message `StoreKeyInvalid` carries when the store key did not unlock the store. */
export const STORE_KEY_INVALID_MESSAGE = 'store key invalid: the protector did not unlock this keystore';

/** The protector could not produce the right store key, or the store key does not open the database. */
export class StoreKeyInvalid extends FleetkeyError {
  readonly code = 'STORE_KEY_INVALID' as const;

  constructor(message: string = STORE_KEY_INVALID_MESSAGE) {
    super(message);
  }
}

/** The database or its sidecar is not what this version of the keystore wrote (or was damaged). */
export class StoreCorrupt extends FleetkeyError {
  readonly code = 'STORE_CORRUPT' as const;
}

/** `create` refused because the database, its WAL, its sidecar or a key file already exists. */
export class StoreExists extends FleetkeyError {
  readonly code = 'STORE_EXISTS' as const;
}

/** `open` found no database, or no sidecar next to it. */
export class StoreNotFound extends FleetkeyError {
  readonly code = 'STORE_NOT_FOUND' as const;
}

/** A key file is not a private regular file (group/others may access it, or it is a symlink). */
export class KeyFileInsecure extends FleetkeyError {
  readonly code = 'KEY_FILE_INSECURE' as const;
}

/** No record with this key id and version (or no meta value with this name). */
export class KeyNotFound extends FleetkeyError {
  readonly code = 'KEY_NOT_FOUND' as const;
}

/** `put` / `importRecords` of a key id and version that is already stored. */
export class KeyExists extends FleetkeyError {
  readonly code = 'KEY_EXISTS' as const;
}

/** The key exists but its state or validity window forbids the operation (or it was destroyed). */
export class KeyNotUsable extends FleetkeyError {
  readonly code = 'KEY_NOT_USABLE' as const;
}
