/**
 * The one error hierarchy of fleetkey. Every library throws a subclass of `FleetkeyError` whose
 * `code` is a stable literal that callers `switch` on; messages are for people and may change.
 * Transports map codes to gRPC status codes and MQTT reason codes; nothing below them does.
 *
 * Trust boundary: an error message and its fields never carry key material, plaintext, tokens or
 * wrapped blobs. Authentication failures use one fixed message so they leak nothing.
 */

export type FleetkeyErrorCode =
  // identifiers and key ids
  | 'INVALID_IDENTIFIER'
  | 'INVALID_KEY_ID'
  // the key-state machine
  | 'ILLEGAL_STATE_TRANSITION'
  | 'UNSUPPORTED_ALGORITHM'
  // envelopes and wrapping
  | 'ENVELOPE_MALFORMED'
  | 'ENVELOPE_UNSUPPORTED'
  | 'DECRYPTION_FAILED'
  // signatures and certificates
  | 'SIGNATURE_INVALID'
  | 'CSR_INVALID'
  | 'CERTIFICATE_INVALID'
  | 'CERTIFICATE_REVOKED'
  // keystore
  | 'STORE_KEY_INVALID'
  | 'STORE_CORRUPT'
  | 'STORE_LOCKED'
  | 'KEY_NOT_FOUND'
  | 'KEY_EXISTS'
  | 'KEY_NOT_USABLE'
  // protocol
  | 'TOPIC_INVALID'
  | 'MESSAGE_MALFORMED'
  // a remote call failed without a fleetkey code of its own (transport, deadline, cancel)
  | 'RPC_FAILED'
  // keystore files (libs/keystore)
  | 'STORE_EXISTS'
  | 'STORE_NOT_FOUND'
  | 'KEY_FILE_INSECURE'
  // KMS providers (libs/kms/core)
  | 'KMS_KEY_NOT_FOUND'
  | 'ACCESS_DENIED'
  | 'THROTTLED'
  | 'INVALID_CIPHERTEXT'
  | 'KEY_DISABLED'
  | 'PROVIDER_UNAVAILABLE'
  | 'TIMEOUT'
  | 'CIRCUIT_OPEN'
  | 'INVALID_CONFIG'
  | 'INVALID_KEY_USAGE'
  // controller state store (apps/fleet-controller/src/store)
  | 'SCHEMA_VERSION_UNSUPPORTED'
  | 'RECORD_EXISTS'
  | 'RECORD_NOT_FOUND'
  | 'AUDIT_DETAILS_REFUSED'
  // requests and callers
  | 'INVALID_ARGUMENT'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'ENROLLMENT_TOKEN_REJECTED'
  | 'NOT_IMPLEMENTED'
  | 'KEY_BUNDLE_REJECTED'
  // the edge agent
  | 'DEVICE_LOCKED'
  | 'KEYS_EXPIRED'
  | 'COMMAND_REJECTED'
  | 'PEER_REFUSED';

export interface FleetkeyErrorOptions {
  cause?: unknown;
}

export abstract class FleetkeyError extends Error {
  abstract readonly code: FleetkeyErrorCode;

  constructor(message: string, options: FleetkeyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** Type guard that survives duplicated module instances (compares the code, not the prototype). */
export function isFleetkeyError(value: unknown, code?: FleetkeyErrorCode): value is FleetkeyError {
  if (!(value instanceof Error)) return false;
  const candidate = (value as { code?: unknown }).code;
  if (typeof candidate !== 'string') return false;
  return code === undefined ? value instanceof FleetkeyError : candidate === code;
}

export class InvalidIdentifier extends FleetkeyError {
  readonly code = 'INVALID_IDENTIFIER' as const;
}

export class InvalidKeyId extends FleetkeyError {
  readonly code = 'INVALID_KEY_ID' as const;
}

export class IllegalStateTransition extends FleetkeyError {
  readonly code = 'ILLEGAL_STATE_TRANSITION' as const;
}

export class UnsupportedAlgorithm extends FleetkeyError {
  readonly code = 'UNSUPPORTED_ALGORITHM' as const;
}

/** A request field is missing, malformed or out of range (beyond what the wire codec checks). */
export class InvalidArgument extends FleetkeyError {
  readonly code = 'INVALID_ARGUMENT' as const;
}

/** No valid credential: missing, unknown or revoked. One fixed message, whichever it was. */
export class Unauthenticated extends FleetkeyError {
  readonly code = 'UNAUTHENTICATED' as const;
  constructor(options: FleetkeyErrorOptions = {}) {
    super('missing, unknown or revoked credential', options);
  }
}

/** A valid caller asked for something its role or fleet scope does not allow. */
export class PermissionDenied extends FleetkeyError {
  readonly code = 'PERMISSION_DENIED' as const;
}

/** Why an enrollment token was refused. `unknown` also covers a forged token. */
export type EnrollmentTokenRejection = 'unknown' | 'used' | 'expired' | 'revoked' | 'out-of-scope';

const ENROLLMENT_REJECTION_MESSAGES: Readonly<Record<EnrollmentTokenRejection, string>> = Object.freeze({
  unknown: 'enrollment token not recognised',
  used: 'enrollment token already used',
  expired: 'enrollment token expired',
  revoked: 'enrollment token revoked',
  'out-of-scope': 'enrollment token is not valid for this device',
});

/**
 * An enrollment token was refused. The reason is told to the station (a token is a 256-bit random
 * secret, so naming why a presented one failed gives a guesser nothing) and is a stable field.
 */
export class EnrollmentTokenRejected extends FleetkeyError {
  readonly code = 'ENROLLMENT_TOKEN_REJECTED' as const;
  readonly reason: EnrollmentTokenRejection;
  constructor(reason: EnrollmentTokenRejection, detail?: string, options: FleetkeyErrorOptions = {}) {
    super(detail === undefined ? ENROLLMENT_REJECTION_MESSAGES[reason] : `${ENROLLMENT_REJECTION_MESSAGES[reason]}: ${detail}`, options);
    this.reason = reason;
  }
}

/** The operation is part of the contract but this build does not provide it yet. */
export class NotImplemented extends FleetkeyError {
  readonly code = 'NOT_IMPLEMENTED' as const;
}

/** The robot is LOCKED by a signed lockdown (or revoked): every cryptographic call is refused until a signed LIFT. */
export class DeviceLocked extends FleetkeyError {
  readonly code = 'DEVICE_LOCKED' as const;
  constructor(reason?: string, options: FleetkeyErrorOptions = {}) {
    super(reason === undefined || reason.length === 0 ? 'the device is locked' : `the device is locked: ${reason}`, options);
  }
}

/**
 * The robot has no communication key it may seal with: its epochs are past their not_after, or it
 * has been offline longer than its max_offline bound. Data sealed earlier still opens.
 */
export class KeysExpired extends FleetkeyError {
  readonly code = 'KEYS_EXPIRED' as const;
}

/** A signed command was refused (forged, replayed, expired, out of scope or malformed) and not obeyed. */
export class CommandRejected extends FleetkeyError {
  readonly code = 'COMMAND_REJECTED' as const;
}

/** A peer agent was refused: unknown address, a certificate of another CA or fleet, a revoked device, or not the expected device. */
export class PeerRefused extends FleetkeyError {
  readonly code = 'PEER_REFUSED' as const;
}
