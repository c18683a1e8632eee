/**
 * The table test of mapVaultError: every Vault status / text the adapter can meet, and the
 * transport failures, each to its KMS error code, with provider / key / operation kept and no
 * Vault text in the message.
 */
import { describe, expect, it } from 'vitest';
import { isKmsError } from '@fleetkey/kms-core';
import type { KmsOperation } from '@fleetkey/kms-core';
import { VAULT_ERROR_TABLE, mapVaultError } from './errors.js';

/** A node-vault ApiResponseError as node-vault 0.12 builds it. */
function answer(statusCode: number, ...errors: string[]): Error {
  return Object.assign(new Error(errors[0] ?? `Status ${statusCode}`), { response: { statusCode, body: { errors } } });
}

const TABLE: Array<[string, Error, KmsOperation, string]> = [
  ['403 permission denied', answer(403, 'permission denied'), 'wrap', 'ACCESS_DENIED'],
  ['401 from an auth path', answer(401), 'describeKey', 'ACCESS_DENIED'],
  ['404 on a key read (empty errors)', answer(404), 'describeKey', 'KMS_KEY_NOT_FOUND'],
  ['400 encryption key not found (encrypt, upsert disabled)', answer(400, 'encryption key not found'), 'wrap', 'KMS_KEY_NOT_FOUND'],
  ['400 encryption key not found (decrypt)', answer(400, 'encryption key not found'), 'unwrap', 'KMS_KEY_NOT_FOUND'],
  ['400 signing key not found', answer(400, 'signing key not found'), 'sign', 'KMS_KEY_NOT_FOUND'],
  ['400 key not found (rotate)', answer(400, 'key not found'), 'rotateKey', 'KMS_KEY_NOT_FOUND'],
  ['400 policy not found (old rewrap)', answer(400, 'policy not found'), 'unwrap', 'KMS_KEY_NOT_FOUND'],
  ['400 no existing key named (config)', answer(400, 'no existing key named k could be found'), 'rotateKey', 'KMS_KEY_NOT_FOUND'],
  ['400 too old (min_decryption_version)', answer(400, 'ciphertext or signature version is disallowed by policy (too old)'), 'unwrap', 'KEY_DISABLED'],
  ['400 no such key version', answer(400, 'no such key version'), 'sign', 'KEY_DISABLED'],
  ['400 AES key asked to sign', answer(400, 'key type aes256-gcm96 does not support signing'), 'sign', 'INVALID_KEY_USAGE'],
  ['400 AES key asked to verify', answer(400, 'key type aes256-gcm96 does not support verification'), 'verify', 'INVALID_KEY_USAGE'],
  ['400 ECDSA key asked to encrypt', answer(400, 'message encryption not supported for key type ecdsa-p256'), 'wrap', 'INVALID_KEY_USAGE'],
  ['400 ECDSA key asked to decrypt', answer(400, 'message decryption not supported for key type ecdsa-p256'), 'unwrap', 'INVALID_KEY_USAGE'],
  ['400 RSA key given associated_data', answer(400, "'[0].associated_data' provided for non-AEAD cipher suite rsa-2048"), 'wrap', 'INVALID_KEY_USAGE'],
  ['400 upsert of an ECDSA key', answer(400, 'key type ecdsa-p256 not supported for this operation'), 'wrap', 'INVALID_KEY_USAGE'],
  ['400 unknown key type', answer(400, 'unknown key type rot13'), 'createKey', 'UNSUPPORTED_ALGORITHM'],
  ['400 prehashed Ed25519', answer(400, 'only Pure Ed25519 signatures supported, prehashed must be false'), 'sign', 'UNSUPPORTED_ALGORITHM'],
  ['400 invalid hash algorithm', answer(400, 'invalid hash algorithm "md5"'), 'sign', 'UNSUPPORTED_ALGORITHM'],
  ['400 invalid marshaling type', answer(400, 'invalid marshaling type "der"'), 'sign', 'UNSUPPORTED_ALGORITHM'],
  ['400 bad salt length', answer(400, 'requested salt length 999 is invalid'), 'sign', 'UNSUPPORTED_ALGORITHM'],
  ['400 GCM tag failure', answer(400, 'cipher: message authentication failed'), 'unwrap', 'INVALID_CIPHERTEXT'],
  ['400 no prefix', answer(400, 'invalid ciphertext: no prefix'), 'unwrap', 'INVALID_CIPHERTEXT'],
  ['400 version too new', answer(400, 'invalid ciphertext: version is too new'), 'unwrap', 'INVALID_CIPHERTEXT'],
  ['400 bad base64', answer(400, 'invalid ciphertext: could not decode base64'), 'unwrap', 'INVALID_CIPHERTEXT'],
  ['400 short ciphertext', answer(400, 'invalid ciphertext length'), 'unwrap', 'INVALID_CIPHERTEXT'],
  ['400 any other refusal on unwrap', answer(400, 'something new'), 'unwrap', 'INVALID_CIPHERTEXT'],
  ['400 any other refusal elsewhere', answer(400, 'something new'), 'createKey', 'INVALID_KEY_USAGE'],
  ['413 body too large', answer(413, 'http: request body too large'), 'sign', 'INVALID_KEY_USAGE'],
  ['429 rate limit quota', answer(429, 'request path "transit/encrypt/k": rate limit quota exceeded'), 'wrap', 'THROTTLED'],
  ['412 performance standby not caught up', answer(412), 'wrap', 'PROVIDER_UNAVAILABLE'],
  ['500 internal error', answer(500, 'internal error'), 'wrap', 'PROVIDER_UNAVAILABLE'],
  ['502 bad gateway', answer(502), 'wrap', 'PROVIDER_UNAVAILABLE'],
  ['503 sealed', answer(503, 'Vault is sealed'), 'wrap', 'PROVIDER_UNAVAILABLE'],
  ['504 gateway timeout', answer(504), 'wrap', 'PROVIDER_UNAVAILABLE'],
  ['418 unknown status', answer(418), 'wrap', 'PROVIDER_UNAVAILABLE'],
  ['ECONNREFUSED', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'wrap', 'PROVIDER_UNAVAILABLE'],
  ['ECONNRESET', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'unwrap', 'PROVIDER_UNAVAILABLE'],
  ['ENOTFOUND', Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' }), 'health', 'PROVIDER_UNAVAILABLE'],
  ['axios timeout ECONNABORTED', Object.assign(new Error('timeout of 50ms exceeded'), { code: 'ECONNABORTED' }), 'sign', 'TIMEOUT'],
  ['ETIMEDOUT', Object.assign(new Error('t'), { code: 'ETIMEDOUT' }), 'sign', 'TIMEOUT'],
  ['anything else', new Error('weird'), 'sign', 'PROVIDER_UNAVAILABLE'],
];

describe('mapVaultError: every Vault answer the adapter can meet', () => {
  it.each(TABLE)('%s', (_label, error, operation, code) => {
    const mapped = mapVaultError(error, operation, 'k1');
    expect(isKmsError(mapped)).toBe(true);
    expect(mapped.code).toBe(code);
    expect(mapped).toMatchObject({ provider: 'vault', operation, keyId: 'k1' });
    expect(mapped.retryable).toBe(['THROTTLED', 'PROVIDER_UNAVAILABLE', 'TIMEOUT'].includes(code));
    expect(mapped.cause).toBe(error);
  });

  it("never renders Vault's text into the message", () => {
    const mapped = mapVaultError(answer(400, 'no existing key named SECRET-LOOKING could be found'), 'rotateKey');
    expect(mapped.message).not.toContain('SECRET-LOOKING');
    expect(mapVaultError(answer(400, 'cipher: message authentication failed'), 'unwrap').message).toBe('invalid ciphertext');
  });

  it('every table row is reachable (no row shadowed by an earlier one)', () => {
    const reached = new Set(TABLE.map(([, error, operation]) => {
      const response = (error as { response?: { statusCode: number; body: { errors: string[] } } }).response;
      if (!response) return -1;
      return VAULT_ERROR_TABLE.findIndex(
        (row) =>
          row.status.includes(response.statusCode) &&
          (row.text === undefined || row.text.test(response.body.errors[0] ?? '')) &&
          (row.operations === undefined || row.operations.includes(operation)),
      );
    }));
    VAULT_ERROR_TABLE.forEach((_row, index) => expect([index, reached.has(index)]).toEqual([index, true]));
  });

  it('passes KmsErrors through unchanged', () => {
    const first = mapVaultError(answer(429), 'wrap');
    expect(mapVaultError(first, 'unwrap')).toBe(first);
  });
});
