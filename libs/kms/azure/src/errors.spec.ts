/**
 * Table test of the Azure error mapping: every Key Vault code and inner code, every Entra OAuth
 * error, the status fallbacks, transport failures and aborts. Identity errors are the SDK's own
 * classes; Key Vault errors are built in the RestError shape (name, statusCode, code, details) the
 * SDK throws, which the adapter tests also meet for real against the emulator.
 */
import { AuthenticationError, CredentialUnavailableError } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import { KeyNotFound } from '@fleetkey/kms-core';
import type { KmsOperation } from '@fleetkey/kms-core';
import { AZURE_ERROR_TABLE, AZURE_INNER_ERROR_TABLE, ENTRA_ERROR_TABLE, mapAzureError } from './errors.js';

class RestErrorShape extends Error {
  override readonly name = 'RestError';
  constructor(
    readonly statusCode: number | undefined,
    readonly code: string | undefined,
    inner?: string,
  ) {
    super('vendor message with Bearer secret-token-value');
    this.details = { error: { code, message: 'x', innerError: inner === undefined ? undefined : { code: inner } } };
    this.request = { headers: { authorization: 'Bearer secret-token-value' } };
  }
  readonly details: unknown;
  readonly request: unknown;
}

function mapped(error: unknown, operation: KmsOperation = 'wrap') {
  return mapAzureError(error, { operation, keyId: 'https://v.vault.azure.net/keys/k' }) as Error & { code?: string; retryable?: boolean; cause?: unknown };
}

describe('mapAzureError', () => {
  const table: [string, number | undefined, string | undefined, string | undefined, KmsOperation, string][] = [
    ['KeyNotFound', 404, 'KeyNotFound', undefined, 'wrap', 'KMS_KEY_NOT_FOUND'],
    ['NotFound path', 404, 'NotFound', undefined, 'describeKey', 'KMS_KEY_NOT_FOUND'],
    ['missing / bad token', 401, 'Unauthorized', undefined, 'sign', 'ACCESS_DENIED'],
    ['disabled key', 403, 'Forbidden', 'KeyDisabled', 'unwrap', 'KEY_DISABLED'],
    ['expired key', 403, 'Forbidden', 'KeyExpired', 'sign', 'KEY_DISABLED'],
    ['operation not in key_ops', 403, 'Forbidden', 'KeyOperationForbidden', 'wrap', 'INVALID_KEY_USAGE'],
    ['access policy', 403, 'Forbidden', 'ForbiddenByPolicy', 'wrap', 'ACCESS_DENIED'],
    ['RBAC', 403, 'Forbidden', 'ForbiddenByRbac', 'sign', 'ACCESS_DENIED'],
    ['firewall', 403, 'Forbidden', 'ForbiddenByFirewall', 'sign', 'ACCESS_DENIED'],
    ['bare Forbidden', 403, 'Forbidden', undefined, 'sign', 'ACCESS_DENIED'],
    ['bad ciphertext', 400, 'BadParameter', undefined, 'unwrap', 'INVALID_CIPHERTEXT'],
    ['bad key shape', 400, 'BadParameter', undefined, 'createKey', 'UNSUPPORTED_ALGORITHM'],
    ['bad algorithm for key', 400, 'BadParameter', undefined, 'sign', 'INVALID_KEY_USAGE'],
    ['key being deleted', 409, 'Conflict', undefined, 'wrap', 'KEY_DISABLED'],
    ['throttled', 429, 'Throttled', undefined, 'wrap', 'THROTTLED'],
    ['unavailable', 503, 'ServiceUnavailable', undefined, 'wrap', 'PROVIDER_UNAVAILABLE'],
    ['internal', 500, 'InternalServerError', undefined, 'wrap', 'PROVIDER_UNAVAILABLE'],
    ['unknown 5xx code', 502, 'SomethingNew', undefined, 'wrap', 'PROVIDER_UNAVAILABLE'],
    ['unknown 404 code', 404, 'SomethingNew', undefined, 'wrap', 'KMS_KEY_NOT_FOUND'],
    ['unknown 429 code', 429, undefined, undefined, 'wrap', 'THROTTLED'],
    ['request timeout', 408, undefined, undefined, 'wrap', 'PROVIDER_UNAVAILABLE'],
    ['connection reset', undefined, 'ECONNRESET', undefined, 'wrap', 'PROVIDER_UNAVAILABLE'],
    ['connection refused', undefined, 'ECONNREFUSED', undefined, 'wrap', 'PROVIDER_UNAVAILABLE'],
  ];
  it.each(table)('%s (%s %s/%s on %s) -> %s', (_label, status, code, inner, operation, expected) => {
    const error = mapped(new RestErrorShape(status, code, inner), operation);
    expect(error.code).toBe(expected);
    expect(error.message).not.toContain('secret-token-value');
    // The cause keeps the codes, never the SDK error with its request and bearer token.
    expect(JSON.stringify(error.cause)).not.toContain('secret-token-value');
    expect(String(error.cause)).not.toContain('secret-token-value');
  });

  it('covers every code of the tables', () => {
    const seen = new Set(table.map((row) => row[2]));
    const inners = new Set(table.map((row) => row[3]));
    for (const code of ['KeyNotFound', 'NotFound', 'Unauthorized', 'Forbidden', 'BadParameter', 'Conflict', 'Throttled', 'ServiceUnavailable', 'InternalServerError']) {
      expect(seen.has(code)).toBe(true);
    }
    for (const code of Object.keys(AZURE_ERROR_TABLE)) expect(mapped(new RestErrorShape(418, code)).code).toMatch(/^[A-Z_]+$/);
    for (const code of Object.keys(AZURE_INNER_ERROR_TABLE)) expect(mapped(new RestErrorShape(403, 'Forbidden', code)).code).toMatch(/^[A-Z_]+$/);
    expect(inners.has('KeyDisabled') && inners.has('KeyOperationForbidden') && inners.has('ForbiddenByPolicy')).toBe(true);
  });

  it.each(Object.keys(ENTRA_ERROR_TABLE))('Entra %s on the token request is mapped by its OAuth error', (oauth) => {
    const error = mapped(new AuthenticationError(oauth === 'temporarily_unavailable' ? 503 : 401, { error: oauth, error_description: 'AADSTS7000215: secret-token-value' }));
    expect(error.code).toBe(oauth === 'temporarily_unavailable' ? 'PROVIDER_UNAVAILABLE' : 'ACCESS_DENIED');
    expect(error.message).not.toContain('secret-token-value');
  });

  it('an Entra 5xx without a known OAuth error is PROVIDER_UNAVAILABLE; no configured credential is ACCESS_DENIED', () => {
    expect(mapped(new AuthenticationError(500, { error: 'server_error_new', error_description: 'x' })).code).toBe('PROVIDER_UNAVAILABLE');
    expect(mapped(new CredentialUnavailableError('DefaultAzureCredential found nothing')).code).toBe('ACCESS_DENIED');
  });

  it('aborts are TIMEOUT; KmsErrors pass through; programming errors are returned unchanged', () => {
    const abort = new Error('aborted');
    abort.name = 'AbortError';
    expect(mapped(abort).code).toBe('TIMEOUT');
    const kms = new KeyNotFound({ provider: 'azure', operation: 'wrap' });
    expect(mapped(kms)).toBe(kms);
    const misuse = new TypeError('"keyId" expected a string');
    expect(mapped(misuse)).toBe(misuse);
    expect(mapped('not an error').code).toBe('PROVIDER_UNAVAILABLE');
  });
});
