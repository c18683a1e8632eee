/**
 * The AWS KMS error answers the emulator gives: the `__type` names and HTTP statuses of the real
 * service (JSON 1.1 protocol: body `{"__type": "...", "message": "..."}`). Statuses follow the
 * service model shipped in @aws-sdk/client-kms (NotFound 404, Disabled/KMSInvalidState 409,
 * KMSInternal/KeyUnavailable 500, DependencyTimeout 503, the rest 400) and the AWS common errors
 * for authentication and throttling, which KMS answers with 400.
 *
 * Trust boundary: messages name key ids and operations only, never key material or plaintext.
 */

export const AWS_KMS_ERROR_STATUS = Object.freeze({
  NotFoundException: 404,
  DisabledException: 409,
  KMSInvalidStateException: 409,
  InvalidCiphertextException: 400,
  IncorrectKeyException: 400,
  InvalidKeyUsageException: 400,
  KMSInvalidSignatureException: 400,
  UnsupportedOperationException: 400,
  ValidationException: 400,
  InvalidAliasNameException: 400,
  AlreadyExistsException: 400,
  InvalidArnException: 400,
  InvalidMarkerException: 400,
  TagException: 400,
  LimitExceededException: 400,
  SerializationException: 400,
  UnknownOperationException: 400,
  AccessDeniedException: 400,
  MissingAuthenticationTokenException: 400,
  IncompleteSignatureException: 400,
  InvalidSignatureException: 400,
  UnrecognizedClientException: 400,
  ThrottlingException: 400,
  KMSInternalException: 500,
  KeyUnavailableException: 500,
  DependencyTimeoutException: 503,
} as const);

export type AwsKmsErrorType = keyof typeof AWS_KMS_ERROR_STATUS;

/** Thrown inside the emulator and turned into the wire error by the server. */
export class AwsKmsFault extends Error {
  readonly type: AwsKmsErrorType;
  readonly status: number;

  constructor(type: AwsKmsErrorType, message: string) {
    super(message);
    this.name = 'AwsKmsFault';
    this.type = type;
    this.status = AWS_KMS_ERROR_STATUS[type];
  }
}

export function fault(type: AwsKmsErrorType, message: string): AwsKmsFault {
  return new AwsKmsFault(type, message);
}
