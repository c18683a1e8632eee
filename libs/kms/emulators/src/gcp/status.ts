/**
 * gRPC status errors shaped as Cloud KMS answers them: the canonical code plus the message text
 * the real service uses (checked against Google's documentation and public error reports).
 * Clients must branch on the code; the messages are for people.
 *
 * Trust boundary: messages name resources only, never key material, plaintext or tokens.
 */
import { Metadata, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';

export class GcpStatusError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'GcpStatusError';
  }

  toServiceError(): Partial<ServiceError> {
    return { code: this.code, details: this.message, metadata: new Metadata() };
  }
}

export const notFound = (kind: string, name: string) => new GcpStatusError(status.NOT_FOUND, `${kind} ${name} not found.`);
export const alreadyExists = (name: string) => new GcpStatusError(status.ALREADY_EXISTS, `${name} already exists.`);
export const invalidArgument = (message: string) => new GcpStatusError(status.INVALID_ARGUMENT, message);
export const notEnabled = (versionName: string, state: string) =>
  new GcpStatusError(status.FAILED_PRECONDITION, `${versionName} is not enabled, current state is: ${state}.`);
export const incorrectPurpose = (versionOrKeyName: string, purpose: string) =>
  new GcpStatusError(status.FAILED_PRECONDITION, `Operation requested for Key ${versionOrKeyName} has incorrect key purpose: ${purpose}`);
export const checksumMismatch = (checksumField: string, dataField: string) =>
  new GcpStatusError(status.INVALID_ARGUMENT, `The checksum in field ${checksumField} did not match the data in field ${dataField}.`);
/** Google's fixed text for a ciphertext that does not open (wrong key, tampered, wrong AAD). */
export const decryptionFailed = () =>
  new GcpStatusError(status.INVALID_ARGUMENT, "Decryption failed: verify that 'name' refers to the correct CryptoKey.");
export const missingCredential = () =>
  new GcpStatusError(
    status.UNAUTHENTICATED,
    'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
  );
export const invalidCredential = () =>
  new GcpStatusError(
    status.UNAUTHENTICATED,
    'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
  );
export const permissionDenied = (permission: string, resource: string) =>
  new GcpStatusError(status.PERMISSION_DENIED, `Permission '${permission}' denied on resource '${resource}' (or it may not exist).`);
export const quotaExceeded = () =>
  new GcpStatusError(
    status.RESOURCE_EXHAUSTED,
    "Quota exceeded for quota metric 'Cryptographic requests' and limit 'Cryptographic requests per minute' of service 'cloudkms.googleapis.com'.",
  );
export const unavailable = () => new GcpStatusError(status.UNAVAILABLE, 'The service is currently unavailable.');
export const unimplemented = (what: string) => new GcpStatusError(status.UNIMPLEMENTED, `${what} is not implemented by the fleetkey emulator.`);
