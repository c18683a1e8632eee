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
  | 'AUDIT_DETAILS_REFUSED';

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
