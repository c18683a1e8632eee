/** Every gRPC status Cloud KMS can answer maps to one KmsError code, by status and operation. */
import { describe, expect, it } from 'vitest';
import { KeyNotFound } from '@fleetkey/kms-core';
import type { KmsOperation } from '@fleetkey/kms-core';
import { GRPC_STATUS, grpcStatusOf, mapGcpError } from './errors.js';

const vendor = (code: number) => Object.assign(new Error('vendor text with projects/p/... and secrets?'), { code, details: 'x' });

describe('mapGcpError', () => {
  const table: [keyof typeof GRPC_STATUS, KmsOperation, string, boolean][] = [
    ['NOT_FOUND', 'describeKey', 'KMS_KEY_NOT_FOUND', false],
    ['PERMISSION_DENIED', 'wrap', 'ACCESS_DENIED', false],
    ['UNAUTHENTICATED', 'sign', 'ACCESS_DENIED', false],
    ['RESOURCE_EXHAUSTED', 'wrap', 'THROTTLED', true],
    ['FAILED_PRECONDITION', 'wrap', 'KEY_DISABLED', false],
    ['INVALID_ARGUMENT', 'unwrap', 'INVALID_CIPHERTEXT', false],
    ['INVALID_ARGUMENT', 'sign', 'INVALID_KEY_USAGE', false],
    ['OUT_OF_RANGE', 'unwrap', 'INVALID_CIPHERTEXT', false],
    ['OUT_OF_RANGE', 'wrap', 'INVALID_KEY_USAGE', false],
    ['UNIMPLEMENTED', 'createKey', 'UNSUPPORTED_ALGORITHM', false],
    ['DEADLINE_EXCEEDED', 'wrap', 'TIMEOUT', true],
    ['UNAVAILABLE', 'wrap', 'PROVIDER_UNAVAILABLE', true],
    ['INTERNAL', 'unwrap', 'PROVIDER_UNAVAILABLE', true],
    ['UNKNOWN', 'sign', 'PROVIDER_UNAVAILABLE', true],
    ['ABORTED', 'rotateKey', 'PROVIDER_UNAVAILABLE', true],
    ['DATA_LOSS', 'unwrap', 'PROVIDER_UNAVAILABLE', true],
    ['CANCELLED', 'wrap', 'PROVIDER_UNAVAILABLE', true],
    ['ALREADY_EXISTS', 'createKey', 'PROVIDER_UNAVAILABLE', true],
  ];
  it.each(table)('%s during %s -> %s (retryable %s)', (status, operation, code, retryable) => {
    const error = mapGcpError(vendor(GRPC_STATUS[status]), { provider: 'gcp', keyId: 'projects/p/k', operation });
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.provider).toBe('gcp');
    expect(error.keyId).toBe('projects/p/k');
    expect(error.operation).toBe(operation);
    expect(error.message).not.toContain('vendor text');
    expect(error.message).not.toContain('secrets');
  });

  it('FAILED_PRECONDITION with the wrong key purpose -> INVALID_KEY_USAGE', () => {
    expect(mapGcpError(vendor(GRPC_STATUS.FAILED_PRECONDITION), { provider: 'gcp', operation: 'wrap', precondition: 'wrong-purpose' }).code).toBe('INVALID_KEY_USAGE');
  });

  it('an error without a gRPC status (transport failure) -> PROVIDER_UNAVAILABLE, keeping the cause', () => {
    const cause = new Error('socket hang up');
    const error = mapGcpError(cause, { provider: 'gcp', operation: 'health' });
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.cause).toBe(cause);
  });

  it('a KmsError passes through unchanged', () => {
    const original = new KeyNotFound({ provider: 'gcp', operation: 'wrap' });
    expect(mapGcpError(original, { provider: 'gcp', operation: 'unwrap' })).toBe(original);
  });

  it('covers every canonical status code', () => {
    for (const code of Object.values(GRPC_STATUS)) {
      if (code === GRPC_STATUS.OK) continue;
      expect(mapGcpError(vendor(code), { provider: 'gcp', operation: 'wrap' }).code).toMatch(/^[A-Z_]+$/);
    }
  });

  it('grpcStatusOf reads only integer codes 0..16', () => {
    expect(grpcStatusOf(vendor(5))).toBe(5);
    expect(grpcStatusOf({ code: 'ENOENT' })).toBeUndefined();
    expect(grpcStatusOf({ code: 99 })).toBeUndefined();
    expect(grpcStatusOf(null)).toBeUndefined();
  });
});
