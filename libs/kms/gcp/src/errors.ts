/**
 * Maps every Cloud KMS failure to the fleetkey KMS error hierarchy, by the canonical gRPC status
 * code (google/rpc/code.proto) and the operation — never by message text. The vendor error is
 * kept as `cause`; only the status name reaches the message.
 *
 * FAILED_PRECONDITION means either "the version is not ENABLED" or "the key has the wrong purpose"
 * on Cloud KMS; the provider tells the two apart with a metadata lookup (see provider.ts), so this
 * table takes that answer as `precondition`.
 *
 * Trust boundary: vendor errors may carry resource names and request fragments; none of their
 * text is copied into a fleetkey message.
 */
import {
  AccessDenied,
  InvalidCiphertext,
  InvalidKeyUsage,
  KeyDisabled,
  KeyNotFound,
  KmsError,
  KmsTimeout,
  ProviderUnavailable,
  Throttled,
  UnsupportedKeySpec,
} from '@fleetkey/kms-core';
import type { KmsOperation } from '@fleetkey/kms-core';

/** Canonical status codes (google/rpc/code.proto), the numbers grpc-js and gax put in `code`. */
export const GRPC_STATUS = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const);

const STATUS_NAME: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(GRPC_STATUS).map(([k, v]) => [v, k]));

export interface GcpErrorContext {
  readonly provider: string;
  readonly keyId?: string;
  readonly operation: KmsOperation;
  /** For FAILED_PRECONDITION: what the follow-up lookup found (default 'disabled'). */
  readonly precondition?: 'disabled' | 'wrong-purpose';
}

/** The gRPC status code of a vendor error, or undefined when it has none (not a gRPC failure). */
export function grpcStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 16 ? code : undefined;
}

/**
 * The KmsError for a failed Cloud KMS call. A KmsError passes through unchanged.
 *
 * | status | error |
 * | --- | --- |
 * | NOT_FOUND | KeyNotFound |
 * | PERMISSION_DENIED, UNAUTHENTICATED | AccessDenied |
 * | RESOURCE_EXHAUSTED | Throttled (retryable) |
 * | FAILED_PRECONDITION | KeyDisabled, or InvalidKeyUsage when the key has the wrong purpose |
 * | INVALID_ARGUMENT | InvalidCiphertext on unwrap; InvalidKeyUsage otherwise |
 * | OUT_OF_RANGE | InvalidCiphertext on unwrap; InvalidKeyUsage otherwise |
 * | UNIMPLEMENTED | UnsupportedKeySpec |
 * | DEADLINE_EXCEEDED | KmsTimeout (retryable) |
 * | UNAVAILABLE, INTERNAL, UNKNOWN, ABORTED, DATA_LOSS, CANCELLED, ALREADY_EXISTS, none | ProviderUnavailable (retryable) |
 */
export function mapGcpError(error: unknown, context: GcpErrorContext): KmsError {
  if (error instanceof KmsError) return error;
  const code = grpcStatusOf(error);
  const details = {
    provider: context.provider,
    operation: context.operation,
    cause: error,
    detail: code === undefined ? 'no gRPC status (transport failure)' : `vendor status ${STATUS_NAME[code]}`,
    ...(context.keyId === undefined ? {} : { keyId: context.keyId }),
  };
  switch (code) {
    case GRPC_STATUS.NOT_FOUND:
      return new KeyNotFound(details);
    case GRPC_STATUS.PERMISSION_DENIED:
    case GRPC_STATUS.UNAUTHENTICATED:
      return new AccessDenied(details);
    case GRPC_STATUS.RESOURCE_EXHAUSTED:
      return new Throttled(details);
    case GRPC_STATUS.FAILED_PRECONDITION:
      return context.precondition === 'wrong-purpose' ? new InvalidKeyUsage(details) : new KeyDisabled(details);
    case GRPC_STATUS.INVALID_ARGUMENT:
    case GRPC_STATUS.OUT_OF_RANGE:
      return context.operation === 'unwrap' ? new InvalidCiphertext(details) : new InvalidKeyUsage(details);
    case GRPC_STATUS.UNIMPLEMENTED:
      return new UnsupportedKeySpec(details);
    case GRPC_STATUS.DEADLINE_EXCEEDED:
      return new KmsTimeout(details);
    default:
      // UNAVAILABLE, INTERNAL, UNKNOWN, ABORTED, DATA_LOSS, CANCELLED, ALREADY_EXISTS (only possible
      // for a freshly generated key id, so a retry with a new id succeeds), or no status at all.
      return new ProviderUnavailable(details);
  }
}

/**
 * A response failed its CRC32C integrity check (or the service did not confirm our request
 * checksum). Google's guidance is to discard the response and retry a limited number of times
 * (https://cloud.google.com/kms/docs/data-integrity-guidelines), so it is the retryable
 * ProviderUnavailable.
 */
export function integrityFailure(context: Omit<GcpErrorContext, 'precondition'>, what: string): ProviderUnavailable {
  return new ProviderUnavailable({
    provider: context.provider,
    operation: context.operation,
    detail: `response failed its integrity check (${what})`,
    ...(context.keyId === undefined ? {} : { keyId: context.keyId }),
  });
}
