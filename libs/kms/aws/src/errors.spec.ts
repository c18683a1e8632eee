/**
 * Table test of errors.ts: every AWS error code the adapter can meet maps to the right KmsError
 * code and retryability, the SDK's own exception classes map by name, unknown codes fall back on
 * the HTTP status, socket errors are outages, and nothing from the vendor message leaks.
 */
import {
  DisabledException,
  IncorrectKeyException,
  InvalidCiphertextException,
  KMSInternalException,
  KMSInvalidStateException,
  NotFoundException,
  UnsupportedOperationException,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { AWS_ERROR_TABLE, mapAwsError } from './errors.js';

const EXPECTED: Record<string, string> = {
  NotFoundException: 'KMS_KEY_NOT_FOUND',
  InvalidArnException: 'KMS_KEY_NOT_FOUND',
  DisabledException: 'KEY_DISABLED',
  KMSInvalidStateException: 'KEY_DISABLED',
  InvalidCiphertextException: 'INVALID_CIPHERTEXT',
  IncorrectKeyException: 'INVALID_CIPHERTEXT',
  InvalidKeyUsageException: 'INVALID_KEY_USAGE',
  UnsupportedOperationException: 'UNSUPPORTED_ALGORITHM',
  AccessDeniedException: 'ACCESS_DENIED',
  MissingAuthenticationTokenException: 'ACCESS_DENIED',
  IncompleteSignatureException: 'ACCESS_DENIED',
  InvalidSignatureException: 'ACCESS_DENIED',
  UnrecognizedClientException: 'ACCESS_DENIED',
  InvalidClientTokenId: 'ACCESS_DENIED',
  SignatureDoesNotMatch: 'ACCESS_DENIED',
  ExpiredTokenException: 'ACCESS_DENIED',
  ExpiredToken: 'ACCESS_DENIED',
  NotAuthorized: 'ACCESS_DENIED',
  InvalidGrantTokenException: 'ACCESS_DENIED',
  CredentialsProviderError: 'ACCESS_DENIED',
  ThrottlingException: 'THROTTLED',
  Throttling: 'THROTTLED',
  TooManyRequestsException: 'THROTTLED',
  RequestLimitExceeded: 'THROTTLED',
  LimitExceededException: 'THROTTLED',
  KMSInternalException: 'PROVIDER_UNAVAILABLE',
  KeyUnavailableException: 'PROVIDER_UNAVAILABLE',
  InternalFailure: 'PROVIDER_UNAVAILABLE',
  ServiceUnavailable: 'PROVIDER_UNAVAILABLE',
  ServiceUnavailableException: 'PROVIDER_UNAVAILABLE',
  DependencyTimeoutException: 'TIMEOUT',
  TimeoutError: 'TIMEOUT',
  RequestTimeout: 'TIMEOUT',
  RequestTimeoutException: 'TIMEOUT',
  AbortError: 'TIMEOUT',
  ValidationException: 'INVALID_CONFIG',
  SerializationException: 'INVALID_CONFIG',
  UnknownOperationException: 'INVALID_CONFIG',
  InvalidAliasNameException: 'INVALID_CONFIG',
  AlreadyExistsException: 'INVALID_CONFIG',
  TagException: 'INVALID_CONFIG',
  InvalidMarkerException: 'INVALID_CONFIG',
  MalformedPolicyDocumentException: 'INVALID_CONFIG',
};

const RETRYABLE = new Set(['THROTTLED', 'PROVIDER_UNAVAILABLE', 'TIMEOUT']);

function awsError(name: string, status = 400, message = 'secret-looking vendor text AKIA0000'): Error {
  return Object.assign(new Error(message), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

describe('mapAwsError', () => {
  it('the table covers exactly the expected codes', () => {
    expect(Object.keys(AWS_ERROR_TABLE).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED))('%s -> %s', (name, code) => {
    const mapped = mapAwsError(awsError(name), { operation: 'unwrap', keyId: 'arn:aws:kms:us-east-1:111122223333:key/k' });
    expect(mapped.code).toBe(code);
    expect(mapped.retryable).toBe(RETRYABLE.has(code));
    expect(mapped.provider).toBe('aws');
    expect(mapped.operation).toBe('unwrap');
    expect(mapped.keyId).toBe('arn:aws:kms:us-east-1:111122223333:key/k');
    expect(mapped.message).not.toContain('AKIA0000');
  });

  it('maps the SDK exception classes by name', () => {
    const $metadata = { httpStatusCode: 400 };
    const cases: [Error, string][] = [
      [new NotFoundException({ message: 'x', $metadata: { httpStatusCode: 404 } }), 'KMS_KEY_NOT_FOUND'],
      [new DisabledException({ message: 'x', $metadata: { httpStatusCode: 409 } }), 'KEY_DISABLED'],
      [new KMSInvalidStateException({ message: 'x', $metadata: { httpStatusCode: 409 } }), 'KEY_DISABLED'],
      [new InvalidCiphertextException({ message: 'x', $metadata }), 'INVALID_CIPHERTEXT'],
      [new IncorrectKeyException({ message: 'x', $metadata }), 'INVALID_CIPHERTEXT'],
      [new UnsupportedOperationException({ message: 'x', $metadata }), 'UNSUPPORTED_ALGORITHM'],
      [new KMSInternalException({ message: 'x', $metadata: { httpStatusCode: 500 } }), 'PROVIDER_UNAVAILABLE'],
    ];
    for (const [error, code] of cases) expect(mapAwsError(error, { operation: 'wrap' }).code).toBe(code);
  });

  it.each([
    [429, 'THROTTLED'],
    [401, 'ACCESS_DENIED'],
    [403, 'ACCESS_DENIED'],
    [404, 'KMS_KEY_NOT_FOUND'],
    [500, 'PROVIDER_UNAVAILABLE'],
    [503, 'PROVIDER_UNAVAILABLE'],
    [400, 'INVALID_CONFIG'],
  ])('an unknown code with HTTP %i -> %s', (status, code) => {
    expect(mapAwsError(awsError('SomethingNewException', status), { operation: 'sign' }).code).toBe(code);
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT'])('socket error %s -> PROVIDER_UNAVAILABLE even when named TimeoutError', (code) => {
    const error = Object.assign(new Error('socket hang up'), { name: 'TimeoutError', code, $metadata: {} });
    const mapped = mapAwsError(error, { operation: 'wrap' });
    expect(mapped.code).toBe('PROVIDER_UNAVAILABLE');
    expect(mapped.retryable).toBe(true);
  });

  it('anything without an HTTP answer or known code is PROVIDER_UNAVAILABLE', () => {
    expect(mapAwsError(new Error('boom'), { operation: 'wrap' }).code).toBe('PROVIDER_UNAVAILABLE');
    expect(mapAwsError('not even an error', { operation: 'wrap' }).code).toBe('PROVIDER_UNAVAILABLE');
  });

  it('strips a namespace prefix and ignores names that are not codes', () => {
    expect(mapAwsError(awsError('com.amazonaws.kms#NotFoundException', 404), { operation: 'describeKey' }).code).toBe('KMS_KEY_NOT_FOUND');
    const odd = mapAwsError(awsError('<script>', 400), { operation: 'describeKey' });
    expect(odd.code).toBe('INVALID_CONFIG');
    expect(odd.message).not.toContain('<script>');
  });

  it('keeps the vendor error as cause and KmsErrors unchanged', () => {
    const original = awsError('ThrottlingException');
    const mapped = mapAwsError(original, { operation: 'sign' });
    expect(mapped.cause).toBe(original);
    expect(mapAwsError(mapped, { operation: 'wrap' })).toBe(mapped);
  });
});
