/**
 * AWS KMS emulator: `startAwsKmsEmulator({ port: 0 })` serves AWS JSON 1.1 (TrentService) on
 * 127.0.0.1 for @aws-sdk/client-kms, with SigV4 checked, real key material, real crypto, the real
 * error types and statuses, and fault injection.
 *
 * Trust boundary: test and demo tooling only; never a production path.
 */
export { startAwsKmsEmulator, AWS_TEST_CREDENTIALS, MAX_AWS_REQUEST_BODY } from './server.js';
export type { AwsKmsEmulator, AwsKmsEmulatorOptions } from './server.js';
export type { AwsTestCredentials } from './sigv4.js';
export { AWS_KMS_ERROR_STATUS } from './errors.js';
export type { AwsKmsErrorType } from './errors.js';
