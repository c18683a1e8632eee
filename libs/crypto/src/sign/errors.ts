/**
 * The signature error of @fleetkey/crypto. One fixed message whatever the cause (bad DER, wrong
 * key, tampered data), so a caller that forwards it to a peer leaks nothing about why.
 *
 * Trust boundary: thrown on attacker-supplied signatures; carries no signature bytes.
 */
import { FleetkeyError } from '@fleetkey/key-types';

/** The one message of every `SignatureInvalid`. */
export const SIGNATURE_INVALID_MESSAGE = 'signature invalid';

export class SignatureInvalid extends FleetkeyError {
  readonly code = 'SIGNATURE_INVALID' as const;

  constructor(options: { cause?: unknown } = {}) {
    super(SIGNATURE_INVALID_MESSAGE, options);
  }
}
