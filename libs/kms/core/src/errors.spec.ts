/**
 * The KmsError hierarchy: one row per class (code, retryable, fields), fixed unwrap message, guards.
 *
 * Trust boundary: none; test code.
 */
import { describe, expect, it } from 'vitest';
import { FleetkeyError, isFleetkeyError } from '@fleetkey/key-types';
import {
  AccessDenied,
  CircuitOpen,
  INVALID_CIPHERTEXT_MESSAGE,
  InvalidCiphertext,
  InvalidKeyUsage,
  InvalidKmsConfig,
  KMS_ERROR_CODES,
  KeyDisabled,
  KeyNotFound,
  KmsError,
  KmsTimeout,
  MAX_CONFIG_PROBLEMS_IN_MESSAGE,
  MAX_KEY_ID_IN_MESSAGE,
  ProviderUnavailable,
  Throttled,
  UnsupportedKeySpec,
  isKmsError,
  isRetryableKmsError,
  type KmsErrorDetails,
} from './errors.js';

const details: KmsErrorDetails = { provider: 'aws', keyId: 'arn:aws:kms:eu-west-1:1:key/abc', operation: 'wrap' };

const TABLE: ReadonlyArray<readonly [string, (d: KmsErrorDetails) => KmsError, string, boolean]> = [
  ['KeyNotFound', (d) => new KeyNotFound(d), 'KMS_KEY_NOT_FOUND', false],
  ['AccessDenied', (d) => new AccessDenied(d), 'ACCESS_DENIED', false],
  ['Throttled', (d) => new Throttled(d), 'THROTTLED', true],
  ['InvalidCiphertext', (d) => new InvalidCiphertext(d), 'INVALID_CIPHERTEXT', false],
  ['KeyDisabled', (d) => new KeyDisabled(d), 'KEY_DISABLED', false],
  ['UnsupportedKeySpec', (d) => new UnsupportedKeySpec(d), 'UNSUPPORTED_ALGORITHM', false],
  ['ProviderUnavailable', (d) => new ProviderUnavailable(d), 'PROVIDER_UNAVAILABLE', true],
  ['KmsTimeout', (d) => new KmsTimeout(d), 'TIMEOUT', true],
  ['CircuitOpen', (d) => new CircuitOpen(d), 'CIRCUIT_OPEN', false],
  ['InvalidKeyUsage', (d) => new InvalidKeyUsage(d), 'INVALID_KEY_USAGE', false],
  ['InvalidKmsConfig', (d) => new InvalidKmsConfig(['"provider" is required'], d), 'INVALID_CONFIG', false],
];

describe('KmsError hierarchy', () => {
  it.each(TABLE)('%s: code, retryable, provider / key / operation, cause, name', (name, make, code, retryable) => {
    const cause = new Error('vendor said no');
    const error = make({ ...details, cause });
    expect(error).toBeInstanceOf(KmsError);
    expect(error).toBeInstanceOf(FleetkeyError);
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.name).toBe(name);
    expect(error.provider).toBe('aws');
    expect(error.operation).toBe('wrap');
    expect(error.keyId).toBe(details.keyId);
    expect(error.cause).toBe(cause);
    expect(error.message).not.toContain('vendor said no');
    expect(isKmsError(error)).toBe(true);
    expect(isKmsError(error, code as (typeof KMS_ERROR_CODES)[number])).toBe(true);
    expect(isFleetkeyError(error, error.code)).toBe(true);
    expect(isRetryableKmsError(error)).toBe(retryable);
  });

  it('covers every KMS error code exactly once', () => {
    expect(new Set(TABLE.map((row) => row[2]))).toEqual(new Set(KMS_ERROR_CODES));
  });

  it('InvalidCiphertext has one fixed message whatever the details say', () => {
    const a = new InvalidCiphertext({ ...details, detail: 'tag mismatch at byte 7' });
    const b = new InvalidCiphertext({ provider: 'gcp', operation: 'unwrap' });
    expect(a.message).toBe(INVALID_CIPHERTEXT_MESSAGE);
    expect(b.message).toBe(INVALID_CIPHERTEXT_MESSAGE);
  });

  it('messages name provider, key and operation, cut long key ids and add the detail', () => {
    const error = new KeyNotFound({ provider: 'vault', keyId: 'k'.repeat(500), operation: 'sign', detail: 'vendor code 404' });
    expect(error.message).toContain('provider vault');
    expect(error.message).toContain('operation sign');
    expect(error.message).toContain('vendor code 404');
    expect(error.message).toContain(`${'k'.repeat(MAX_KEY_ID_IN_MESSAGE)}...`);
    expect(error.message).not.toContain('k'.repeat(MAX_KEY_ID_IN_MESSAGE + 1));
  });

  it('InvalidKmsConfig lists every problem and keeps them as data', () => {
    const problems = Array.from({ length: MAX_CONFIG_PROBLEMS_IN_MESSAGE + 3 }, (_, i) => `problem ${i}`);
    const error = new InvalidKmsConfig(problems);
    expect(error.problems).toEqual(problems);
    expect(Object.isFrozen(error.problems)).toBe(true);
    expect(error.provider).toBe('config');
    expect(error.operation).toBe('configure');
    expect(error.message).toContain('problem 0');
    expect(error.message).toContain('and 3 more');
  });

  it('isKmsError refuses look-alikes and other FleetkeyErrors', () => {
    expect(isKmsError(new Error('x'))).toBe(false);
    expect(isKmsError({ code: 'THROTTLED', retryable: true, provider: 'aws' })).toBe(false);
    const fake = Object.assign(new Error('x'), { code: 'NOT_A_KMS_CODE', retryable: true, provider: 'aws' });
    expect(isKmsError(fake)).toBe(false);
    // a KmsError from a duplicated module instance: same shape, different prototype chain
    const duplicate = Object.assign(new Error('x'), { code: 'THROTTLED', retryable: true, provider: 'aws' });
    expect(isKmsError(duplicate)).toBe(true);
    expect(isRetryableKmsError(duplicate)).toBe(true);
    expect(isKmsError(new KeyNotFound(details), 'THROTTLED')).toBe(false);
  });
});
