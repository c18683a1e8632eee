/**
 * Maps every error the Azure SDK can surface to the KmsError hierarchy, by HTTP `statusCode`, the
 * Key Vault error `code` and its `innererror.code`, and for @azure/identity by the error class and
 * the Entra OAuth `error` — never by message text:
 *   - Key Vault REST errors (`RestError`: statusCode + code, body `{"error":{"code","innererror"}}`),
 *     https://learn.microsoft.com/azure/key-vault/general/rest-error-codes;
 *   - Entra token errors (`AuthenticationError`: statusCode + errorResponse.error, e.g.
 *     `invalid_client` / AADSTS7000215), and `CredentialUnavailableError` when no credential of
 *     the chain is configured;
 *   - transport failures (`RestError` without a statusCode: ECONNRESET, ECONNREFUSED, TLS) and
 *     aborts.
 *
 * Trust boundary: vendor errors carry the request, bearer token included; only the vendor codes
 * (checked against a strict pattern) reach the message and the `cause` (an AzureVendorError);
 * the SDK's error object itself is dropped.
 */
import {
  AccessDenied,
  InvalidCiphertext,
  KmsTimeout,
  ProviderUnavailable,
  isKmsError,
  kmsErrorFactories,
} from '@fleetkey/kms-core';
import type { KmsErrorFactory, KmsOperation } from '@fleetkey/kms-core';

export const AZURE_PROVIDER_NAME = 'azure';

type Factory = KmsErrorFactory;
const { notFound, denied, throttled, disabled, unavailable, usage, unsupported } = kmsErrorFactories;

/** 400 BadParameter: on unwrap the ciphertext was refused; on create / rotate the key shape; else the usage. */
const badParameter: Factory = (d) =>
  d.operation === 'unwrap' ? new InvalidCiphertext(d) : d.operation === 'createKey' || d.operation === 'rotateKey' ? unsupported(d) : usage(d);

/**
 * Key Vault `innererror.code`s that decide the class on their own (403 answers share the outer
 * code `Forbidden`).
 */
export const AZURE_INNER_ERROR_TABLE: Readonly<Record<string, Factory>> = Object.freeze({
  KeyDisabled: disabled,
  KeyExpired: disabled,
  KeyOperationForbidden: usage,
  ForbiddenByPolicy: denied,
  ForbiddenByRbac: denied,
  ForbiddenByFirewall: denied,
  ForbiddenByConnection: denied,
  AccessDenied: denied,
});

/** Key Vault error `code`s. */
export const AZURE_ERROR_TABLE: Readonly<Record<string, Factory>> = Object.freeze({
  KeyNotFound: notFound,
  NotFound: notFound,
  ObjectNotFound: notFound,
  Unauthorized: denied,
  Forbidden: denied,
  BadParameter: badParameter,
  BadRequest: badParameter,
  // A key being deleted, recovered or purged cannot be used until that finishes.
  Conflict: disabled,
  ObjectIsBeingDeleted: disabled,
  Throttled: throttled,
  TooManyRequests: throttled,
  ServiceUnavailable: unavailable,
  InternalServerError: unavailable,
  GatewayTimeout: unavailable,
  BadGateway: unavailable,
});

/** Entra ID OAuth errors (RFC 6749 §5.2) on the token request: all mean "these credentials do not work". */
export const ENTRA_ERROR_TABLE: Readonly<Record<string, Factory>> = Object.freeze({
  invalid_client: denied,
  unauthorized_client: denied,
  invalid_grant: denied,
  invalid_request: denied,
  invalid_scope: denied,
  unsupported_grant_type: denied,
  access_denied: denied,
  temporarily_unavailable: unavailable,
});

/** By HTTP status when the code is not in the tables. */
function byStatus(status: number): Factory {
  if (status === 404) return notFound;
  if (status === 401 || status === 403) return denied;
  if (status === 429) return throttled;
  if (status === 400) return badParameter;
  if (status === 409) return disabled;
  if (status === 408 || status >= 500) return unavailable;
  return denied;
}

const CODE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
function safe(code: unknown): string | undefined {
  return typeof code === 'string' && CODE_PATTERN.test(code) ? code : undefined;
}

interface ErrorShape {
  readonly name?: unknown;
  readonly statusCode?: unknown;
  readonly code?: unknown;
  readonly details?: unknown;
  readonly errorResponse?: { readonly error?: unknown };
}

/** `details.error.innerError.code` (the SDK camel-cases `innererror`) of a Key Vault RestError. */
function innerCode(details: unknown): string | undefined {
  const error = (details as { error?: { innerError?: { code?: unknown }; innererror?: { code?: unknown } } } | undefined)?.error;
  return safe(error?.innerError?.code ?? error?.innererror?.code);
}

/**
 * What of a vendor error is kept as `cause`: its class name, status and codes. The SDK's RestError
 * carries the request, including the `Authorization: Bearer` header, so it is never kept itself.
 */
export class AzureVendorError extends Error {
  constructor(
    readonly vendorName: string,
    readonly statusCode: number | undefined,
    readonly vendorCode: string | undefined,
    readonly innerCode: string | undefined,
  ) {
    super(`${vendorName}${statusCode === undefined ? '' : ` ${statusCode}`}${vendorCode ? ` ${vendorCode}` : ''}${innerCode ? `/${innerCode}` : ''}`);
    this.name = 'AzureVendorError';
  }
}

/**
 * The KmsError for anything the Azure SDK threw. KmsErrors pass through; errors that are not the
 * SDK's (TypeError, RangeError: programming misuse) are rethrown by the caller unchanged, so this
 * returns them as they are.
 */
export function mapAzureError(error: unknown, context: { readonly operation: KmsOperation; readonly keyId?: string }): Error {
  if (isKmsError(error)) return error;
  if (!(error instanceof Error)) {
    return new ProviderUnavailable({ provider: AZURE_PROVIDER_NAME, operation: context.operation, detail: 'non-error thrown by the Azure SDK' });
  }
  const shape = error as ErrorShape;
  const name = typeof shape.name === 'string' ? shape.name : '';
  const status = typeof shape.statusCode === 'number' ? shape.statusCode : undefined;
  const cause = new AzureVendorError(safe(name) ?? 'Error', status, safe(shape.code) ?? safe(shape.errorResponse?.error), innerCode(shape.details));
  const base = { provider: AZURE_PROVIDER_NAME, operation: context.operation, ...(context.keyId === undefined ? {} : { keyId: context.keyId }), cause };

  if (name === 'AbortError') return new KmsTimeout({ ...base, detail: 'request aborted' });
  if (name === 'CredentialUnavailableError') return new AccessDenied({ ...base, detail: 'no Azure credential is configured' });
  if (name === 'AuthenticationError' || name === 'AuthenticationRequiredError' || name === 'AggregateAuthenticationError') {
    const oauth = safe(shape.errorResponse?.error);
    const factory = (oauth ? ENTRA_ERROR_TABLE[oauth] : undefined) ?? (status !== undefined && status >= 500 ? unavailable : denied);
    return factory({ ...base, detail: `Entra ID ${oauth ?? 'error'}${status === undefined ? '' : ` (HTTP ${status})`}` });
  }
  if (name === 'RestError' || status !== undefined) {
    const code = safe(shape.code);
    // No HTTP answer at all: connection refused or reset, TLS failure, DNS: the service is unreachable.
    if (status === undefined) return new ProviderUnavailable({ ...base, detail: `transport error ${code ?? 'unknown'}` });
    const inner = innerCode(shape.details);
    const factory = (inner ? AZURE_INNER_ERROR_TABLE[inner] : undefined) ?? (code ? AZURE_ERROR_TABLE[code] : undefined) ?? byStatus(status);
    return factory({ ...base, detail: `vendor status ${status} code ${code ?? 'none'}${inner ? `/${inner}` : ''}` });
  }
  return error;
}
