/**
 * Maps every error @aws-sdk/client-kms can surface to the KmsError hierarchy, by the error's
 * `name` (the AWS error code) and, for codes not in the table, by `$metadata.httpStatusCode` /
 * `$fault` — never by message text. Network failures (no HTTP answer) are ProviderUnavailable,
 * SDK timeouts KmsTimeout, a credential chain that finds nothing AccessDenied.
 *
 * Trust boundary: vendor errors may carry request details; only the vendor code (checked against
 * a strict pattern) reaches the message, and the original error is kept as `cause` for debugging.
 */
import {
  AccessDenied,
  InvalidKmsConfig,
  KeyNotFound,
  ProviderUnavailable,
  Throttled,
  isKmsError,
  kmsErrorFactories,
} from '@fleetkey/kms-core';
import type { KmsError, KmsErrorDetails, KmsErrorFactory, KmsOperation } from '@fleetkey/kms-core';

export const AWS_PROVIDER_NAME = 'aws';

type Factory = KmsErrorFactory;
const { notFound, denied, throttled, badCiphertext, disabled, unavailable, timeout, usage, unsupported } = kmsErrorFactories;

const refused: Factory = (d) =>
  new InvalidKmsConfig([`AWS KMS refused the ${d.operation} request as invalid (${d.detail ?? 'no vendor code'}); check the key id, key spec, tags and alias names`], d);

/**
 * Every AWS error code the adapter can meet. KMS codes from the service model
 * (https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html and each operation's
 * "Errors" section), then the AWS common errors of SigV4 and the SDK's own client-side errors.
 */
export const AWS_ERROR_TABLE: Readonly<Record<string, Factory>> = Object.freeze({
  // key lookup
  NotFoundException: notFound,
  InvalidArnException: notFound,
  // key state (AWS: DisabledException for Disabled, KMSInvalidStateException for PendingDeletion & co.)
  DisabledException: disabled,
  KMSInvalidStateException: disabled,
  // ciphertext: wrong context, tampered blob, or a blob of another key than KeyId names
  InvalidCiphertextException: badCiphertext,
  IncorrectKeyException: badCiphertext,
  // key usage and capability
  InvalidKeyUsageException: usage,
  UnsupportedOperationException: unsupported,
  // authentication and authorization (SigV4 and IAM / key policy)
  AccessDeniedException: denied,
  MissingAuthenticationTokenException: denied,
  IncompleteSignatureException: denied,
  InvalidSignatureException: denied,
  UnrecognizedClientException: denied,
  InvalidClientTokenId: denied,
  SignatureDoesNotMatch: denied,
  ExpiredTokenException: denied,
  ExpiredToken: denied,
  NotAuthorized: denied,
  InvalidGrantTokenException: denied,
  CredentialsProviderError: denied,
  // rate limits (LimitExceededException was KMS's request-rate error before ThrottlingException)
  ThrottlingException: throttled,
  Throttling: throttled,
  TooManyRequestsException: throttled,
  RequestLimitExceeded: throttled,
  LimitExceededException: throttled,
  // the service or a dependency is failing
  KMSInternalException: unavailable,
  KeyUnavailableException: unavailable,
  InternalFailure: unavailable,
  ServiceUnavailable: unavailable,
  ServiceUnavailableException: unavailable,
  DependencyTimeoutException: timeout,
  // SDK client-side: request timeout / abort
  TimeoutError: timeout,
  RequestTimeout: timeout,
  RequestTimeoutException: timeout,
  AbortError: timeout,
  // the request itself was refused as malformed or conflicting
  ValidationException: refused,
  SerializationException: refused,
  UnknownOperationException: refused,
  InvalidAliasNameException: refused,
  AlreadyExistsException: refused,
  TagException: refused,
  InvalidMarkerException: refused,
  MalformedPolicyDocumentException: refused,
});

/** Socket-level failures: the endpoint could not be reached or dropped the connection. */
export const NETWORK_ERROR_CODES: readonly string[] = Object.freeze([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'ETIMEDOUT',
]);

const VENDOR_CODE_PATTERN = /^[A-Za-z][A-Za-z0-9_.#]{0,63}$/;

interface SdkErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly $fault?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

/** The AWS code of an SDK error (`name`), stripped of a `namespace#` prefix. */
function vendorCode(error: SdkErrorShape): string | undefined {
  const name = typeof error.name === 'string' ? error.name.replace(/^.*#/, '') : undefined;
  return name !== undefined && VENDOR_CODE_PATTERN.test(name) ? name : undefined;
}

/**
 * Turns anything an SDK call threw into a KmsError. KmsErrors pass through unchanged.
 * @returns never throws.
 */
export function mapAwsError(error: unknown, where: { readonly operation: KmsOperation; readonly keyId?: string }): KmsError {
  if (isKmsError(error)) return error;
  const shape = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const code = vendorCode(shape);
  const networkCode = typeof shape.code === 'string' && NETWORK_ERROR_CODES.includes(shape.code) ? shape.code : undefined;
  const details: KmsErrorDetails = {
    provider: AWS_PROVIDER_NAME,
    operation: where.operation,
    ...(where.keyId === undefined ? {} : { keyId: where.keyId }),
    cause: error,
    detail: `vendor code ${networkCode ?? code ?? 'unknown'}`,
  };
  // A dropped or refused connection is an outage even when the SDK labels it TimeoutError.
  if (networkCode !== undefined) return new ProviderUnavailable(details);
  const factory = code !== undefined && Object.hasOwn(AWS_ERROR_TABLE, code) ? AWS_ERROR_TABLE[code] : undefined;
  if (factory) return factory(details);
  const status = typeof shape.$metadata?.httpStatusCode === 'number' ? shape.$metadata.httpStatusCode : undefined;
  if (status === 429) return new Throttled(details);
  if (status === 401 || status === 403) return new AccessDenied(details);
  if (status === 404) return new KeyNotFound(details);
  if (status !== undefined && status >= 500) return new ProviderUnavailable(details);
  if (status !== undefined || shape.$fault === 'client') return refused(details);
  // No HTTP answer at all and no known code: the service could not be reached.
  return new ProviderUnavailable(details);
}
