/**
 * Errors of `edge-agent provision` beyond those of the libraries it drives.
 *
 * Trust boundary: messages name files, addresses, device ids and reasons, never a token or a key.
 */
import { FleetkeyError, isFleetkeyError, type FleetkeyErrorCode, type FleetkeyErrorOptions } from '@fleetkey/key-types';

/**
 * The controller answered Enroll, but the answer failed the robot's own checks. The device is
 * recorded at the controller and the token is spent, while nothing was stored here. `code` is
 * that of the check that failed (CERTIFICATE_INVALID, KEY_BUNDLE_REJECTED, SIGNATURE_INVALID,
 * MESSAGE_MALFORMED).
 */
export class EnrollmentAnswerRejected extends FleetkeyError {
  readonly code: FleetkeyErrorCode;

  constructor(what: string, options: FleetkeyErrorOptions = {}) {
    super(`the controller's enrollment answer was refused (${what}); nothing was stored, but the token is spent and the device is recorded at the controller`, options);
    this.code = isFleetkeyError(options.cause) ? options.cause.code : 'MESSAGE_MALFORMED';
  }
}

/** The data directory holds something that is not this agent's state, or another robot's. */
export class DataDirConflict extends FleetkeyError {
  readonly code = 'STORE_EXISTS' as const;
}

/** A setting given on the command line or in the environment is unusable. */
export class ProvisionSettingInvalid extends FleetkeyError {
  readonly code = 'INVALID_ARGUMENT' as const;
}
