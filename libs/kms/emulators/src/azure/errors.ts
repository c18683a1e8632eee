/**
 * The error answers of the Azure Key Vault emulator, in the service's own shape:
 * `{"error":{"code":"KeyNotFound","message":"…","innererror":{"code":"KeyDisabled"}}}` (Key Vault
 * REST "KeyVaultError"), and the Entra ID token endpoint's OAuth 2.0 error body
 * (RFC 6749 §5.2 plus Entra's `error_codes`).
 *
 * Trust boundary: messages name operations and key names only, never key bytes or tokens.
 */

export class KeyVaultHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly innerCode?: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'KeyVaultHttpError';
  }

  body(): { error: { code: string; message: string; innererror?: { code: string } } } {
    return {
      error: { code: this.code, message: this.message, ...(this.innerCode === undefined ? {} : { innererror: { code: this.innerCode } }) },
    };
  }
}

export const keyNotFound = (name: string, version?: string): KeyVaultHttpError =>
  new KeyVaultHttpError(
    404,
    'KeyNotFound',
    version ? `A key with (name/id) ${name}/${version} was not found in this key vault.` : `A key with (name/id) ${name} was not found in this key vault.`,
  );

export const badParameter = (message: string): KeyVaultHttpError => new KeyVaultHttpError(400, 'BadParameter', message);

export const keyDisabled = (operation: string): KeyVaultHttpError =>
  new KeyVaultHttpError(403, 'Forbidden', `Operation ${operation} is not allowed on a disabled key.`, 'KeyDisabled');

export const operationNotPermitted = (operation: string): KeyVaultHttpError =>
  new KeyVaultHttpError(403, 'Forbidden', `Operation ${operation} is not permitted on this key.`, 'KeyOperationForbidden');

export const forbiddenByPolicy = (operation: string, clientId: string): KeyVaultHttpError =>
  new KeyVaultHttpError(
    403,
    'Forbidden',
    `The user, group or application 'appid=${clientId}' does not have keys ${operation} permission on key vault. Inner error: access policy.`,
    'ForbiddenByPolicy',
  );

export const missingToken = (): KeyVaultHttpError =>
  new KeyVaultHttpError(401, 'Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.');

export const invalidToken = (): KeyVaultHttpError => new KeyVaultHttpError(401, 'Unauthorized', 'AKV10022: Invalid audience or expired token.');

export const throttled = (retryAfterSeconds: number): KeyVaultHttpError =>
  new KeyVaultHttpError(
    429,
    'Throttled',
    'Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached',
    undefined,
    { 'retry-after': String(retryAfterSeconds) },
  );

export const serviceUnavailable = (): KeyVaultHttpError =>
  new KeyVaultHttpError(503, 'ServiceUnavailable', 'The service is temporarily unavailable. Please retry later.');

/** Entra ID's answer to a token request it refuses (OAuth 2.0 RFC 6749 §5.2 with AADSTS codes). */
export interface EntraError {
  readonly status: number;
  readonly body: {
    readonly error: string;
    readonly error_description: string;
    readonly error_codes: readonly number[];
    readonly timestamp: string;
    readonly trace_id: string;
    readonly correlation_id: string;
  };
}
