/**
 * The typed failures of backups and restore. Each reuses a stable fleetkey code, so the gRPC
 * adapter maps it to a status and fleetctl / fleet-controller to an exit code without a table of
 * their own.
 *
 * Trust boundary: messages name what is wrong with an archive (a bound, a record, a field), never a
 * key, a wrapped blob or plaintext. Decryption failures share one fixed message.
 */
import { FleetkeyError, type FleetkeyErrorOptions } from '@fleetkey/key-types';

/** The archive is truncated, malformed, out of bounds or of an unknown format version (DATA_LOSS). */
export class BackupArchiveInvalid extends FleetkeyError {
  readonly code = 'STORE_CORRUPT' as const;
  constructor(reason: string, options: FleetkeyErrorOptions = {}) {
    super(`the backup archive is not valid: ${reason}`, options);
  }
}

/** The archive's signature does not verify, or it was signed by a key this controller does not trust. */
export class BackupSignatureInvalid extends FleetkeyError {
  readonly code = 'SIGNATURE_INVALID' as const;
  constructor(reason = 'its signature does not verify', options: FleetkeyErrorOptions = {}) {
    super(`the backup archive is not authentic: ${reason}`, options);
  }
}

/** One fixed message for every failure to recover the data key or open a chunk. */
export const BACKUP_DECRYPTION_FAILED_MESSAGE = 'the backup archive does not decrypt: it was changed, or it was not made with these keys';

export class BackupDecryptionFailed extends FleetkeyError {
  readonly code = 'DECRYPTION_FAILED' as const;
  constructor() {
    super(BACKUP_DECRYPTION_FAILED_MESSAGE);
  }
}

/** The controller is not set up for what was asked (no data directory wiring, no secondary KMS). */
export class BackupNotConfigured extends FleetkeyError {
  readonly code = 'INVALID_CONFIG' as const;
}

/** Another backup is being made right now; one at a time bounds the disk and KMS load. */
export class BackupInProgress extends FleetkeyError {
  readonly code = 'THROTTLED' as const;
  constructor() {
    super('a backup is already being made on this controller; try again when it has finished');
  }
}
