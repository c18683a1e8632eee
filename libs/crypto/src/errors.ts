/**
 * The typed errors @fleetkey/crypto throws for envelopes and wrapping. Each class has one stable
 * `code` from the key-types union; callers and tests switch on the code, never on the message.
 *
 * Trust boundary: messages never carry key material, plaintext, context values or envelope bytes.
 * `DecryptionFailed` always carries the same fixed message whatever went wrong (wrong key, wrong
 * context, a flipped bit, an RSA padding failure, an invalid ephemeral point), so an attacker who
 * feeds us forgeries learns nothing from the error beyond "no".
 */
import { FleetkeyError } from '@fleetkey/key-types';

/**
 * The bytes are not a well-formed envelope v1: bad magic, a length out of bounds, truncation,
 * trailing bytes, or a provider / key id with characters outside its alphabet.
 */
export class EnvelopeMalformed extends FleetkeyError {
  readonly code = 'ENVELOPE_MALFORMED' as const;
}

/** The envelope names a format version or an algorithm this build does not implement. */
export class EnvelopeUnsupported extends FleetkeyError {
  readonly code = 'ENVELOPE_UNSUPPORTED' as const;
}

/** The one message every authentication / unwrap failure carries. */
export const DECRYPTION_FAILED_MESSAGE = 'decryption failed';

/**
 * Authentication or unwrap failed. The message is fixed on purpose (see module comment), and the
 * constructor takes neither a message nor a `cause`: an OpenSSL reason string ("bad padding",
 * "point not on curve") is exactly the oracle the fixed message exists to hide.
 */
export class DecryptionFailed extends FleetkeyError {
  readonly code = 'DECRYPTION_FAILED' as const;

  constructor() {
    super(DECRYPTION_FAILED_MESSAGE);
  }
}
