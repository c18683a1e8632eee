/**
 * The one place where fleetkey error codes become gRPC status codes (server side) and gRPC
 * statuses become RpcErrors (client side). Nothing below the transport knows about gRPC.
 *
 * Trust boundary: what leaves the server. A FleetkeyError's message is written for people and by
 * convention carries no secret, so it travels as the status details together with its code (the
 * `fleetkey-error-code` trailer). Any other error (a bug, a TypeError, a driver error) becomes
 * INTERNAL with a fixed message: its text, stack and cause never leave the process.
 */
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { isFleetkeyError, type FleetkeyErrorCode } from '@fleetkey/key-types';
import { RpcError } from '../errors.js';

/** Trailer carrying the fleetkey error code of a failed call. */
export const ERROR_CODE_TRAILER = 'fleetkey-error-code';
/** The details of every INTERNAL status made from a non-fleetkey error. */
export const INTERNAL_ERROR_MESSAGE = 'internal error';
/** The details of a request that could not be decoded. */
export const MALFORMED_REQUEST_MESSAGE = 'malformed request';
/** Status details are cut to this many characters (a long message is a bug, not information). */
export const MAX_STATUS_DETAILS_LENGTH = 512;

/**
 * fleetkey error code -> gRPC status. The type demands a row for every FleetkeyErrorCode, so a
 * new code does not compile until someone decides its status here.
 */
export const STATUS_BY_ERROR_CODE = Object.freeze({
  INVALID_IDENTIFIER: Status.INVALID_ARGUMENT,
  INVALID_KEY_ID: Status.INVALID_ARGUMENT,
  ILLEGAL_STATE_TRANSITION: Status.FAILED_PRECONDITION,
  UNSUPPORTED_ALGORITHM: Status.INVALID_ARGUMENT,
  ENVELOPE_MALFORMED: Status.INVALID_ARGUMENT,
  ENVELOPE_UNSUPPORTED: Status.INVALID_ARGUMENT,
  DECRYPTION_FAILED: Status.INVALID_ARGUMENT,
  SIGNATURE_INVALID: Status.INVALID_ARGUMENT,
  CSR_INVALID: Status.INVALID_ARGUMENT,
  CERTIFICATE_INVALID: Status.UNAUTHENTICATED,
  CERTIFICATE_REVOKED: Status.PERMISSION_DENIED,
  STORE_KEY_INVALID: Status.FAILED_PRECONDITION,
  STORE_CORRUPT: Status.DATA_LOSS,
  STORE_LOCKED: Status.FAILED_PRECONDITION,
  KEY_NOT_FOUND: Status.NOT_FOUND,
  KEY_EXISTS: Status.ALREADY_EXISTS,
  KEY_NOT_USABLE: Status.FAILED_PRECONDITION,
  TOPIC_INVALID: Status.INVALID_ARGUMENT,
  MESSAGE_MALFORMED: Status.INVALID_ARGUMENT,
  RPC_FAILED: Status.UNAVAILABLE,
  STORE_EXISTS: Status.ALREADY_EXISTS,
  STORE_NOT_FOUND: Status.FAILED_PRECONDITION,
  KEY_FILE_INSECURE: Status.FAILED_PRECONDITION,
  KMS_KEY_NOT_FOUND: Status.NOT_FOUND,
  ACCESS_DENIED: Status.PERMISSION_DENIED,
  THROTTLED: Status.RESOURCE_EXHAUSTED,
  INVALID_CIPHERTEXT: Status.INVALID_ARGUMENT,
  KEY_DISABLED: Status.FAILED_PRECONDITION,
  PROVIDER_UNAVAILABLE: Status.UNAVAILABLE,
  TIMEOUT: Status.DEADLINE_EXCEEDED,
  CIRCUIT_OPEN: Status.UNAVAILABLE,
  INVALID_CONFIG: Status.FAILED_PRECONDITION,
  INVALID_KEY_USAGE: Status.FAILED_PRECONDITION,
  SCHEMA_VERSION_UNSUPPORTED: Status.FAILED_PRECONDITION,
  RECORD_EXISTS: Status.ALREADY_EXISTS,
  RECORD_NOT_FOUND: Status.NOT_FOUND,
  AUDIT_DETAILS_REFUSED: Status.INVALID_ARGUMENT,
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  UNAUTHENTICATED: Status.UNAUTHENTICATED,
  PERMISSION_DENIED: Status.PERMISSION_DENIED,
  ENROLLMENT_TOKEN_REJECTED: Status.UNAUTHENTICATED,
  NOT_IMPLEMENTED: Status.UNIMPLEMENTED,
  KEY_BUNDLE_REJECTED: Status.INVALID_ARGUMENT,
  DEVICE_LOCKED: Status.FAILED_PRECONDITION,
  KEYS_EXPIRED: Status.FAILED_PRECONDITION,
  COMMAND_REJECTED: Status.INVALID_ARGUMENT,
  PEER_REFUSED: Status.PERMISSION_DENIED,
} as const satisfies Record<FleetkeyErrorCode, Status>);

/** A status as grpc-js sends it from a handler. */
export interface ServerStatus {
  readonly code: Status;
  readonly details: string;
  readonly metadata: Metadata;
}

function truncate(text: string): string {
  return text.length > MAX_STATUS_DETAILS_LENGTH ? `${text.slice(0, MAX_STATUS_DETAILS_LENGTH)}...` : text;
}

/**
 * The status a server sends for `error` thrown by a handler. `unexpected` is called for errors
 * that are not FleetkeyErrors (so the application can log them with its redacting logger).
 */
export function statusForError(error: unknown, unexpected?: (error: unknown) => void): ServerStatus {
  const metadata = new Metadata();
  if (isFleetkeyError(error) && typeof error.code === 'string') {
    // An RpcError relayed from an upstream call maps by its code too (RPC_FAILED -> UNAVAILABLE).
    const table = STATUS_BY_ERROR_CODE as Readonly<Partial<Record<string, Status>>>;
    const code = table[error.code] ?? Status.UNKNOWN;
    metadata.set(ERROR_CODE_TRAILER, error.code);
    return { code, details: truncate(error.message), metadata };
  }
  unexpected?.(error);
  // Precondition: an error that is not a FleetkeyError leaks nothing: fixed status and message.
  return { code: Status.INTERNAL, details: INTERNAL_ERROR_MESSAGE, metadata };
}

/** The status for a request that failed to decode or broke a field limit. */
export function malformedRequestStatus(): ServerStatus {
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_TRAILER, 'MESSAGE_MALFORMED');
  return { code: Status.INVALID_ARGUMENT, details: MALFORMED_REQUEST_MESSAGE, metadata };
}

// Shape of a fleetkey code as a trailer value; a server can only hint at a code, never inject text.
const CODE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Turns a grpc-js client-side error (ServiceError or anything else) into an RpcError. */
export function rpcErrorFrom(error: unknown): RpcError {
  if (error instanceof RpcError) return error;
  const candidate = error as Partial<ServiceError> | undefined;
  if (candidate !== undefined && candidate !== null && typeof candidate.code === 'number') {
    const remote = candidate.metadata instanceof Metadata ? candidate.metadata.get(ERROR_CODE_TRAILER)[0] : undefined;
    const remoteCode = typeof remote === 'string' && CODE_PATTERN.test(remote) ? (remote as FleetkeyErrorCode) : undefined;
    const details = typeof candidate.details === 'string' && candidate.details !== '' ? candidate.details : `gRPC status ${candidate.code}`;
    return new RpcError(truncate(details), {
      status: candidate.code,
      cause: error,
      ...(remoteCode === undefined ? {} : { remoteCode }),
    });
  }
  return new RpcError('call failed', { status: Status.UNKNOWN, cause: error });
}
