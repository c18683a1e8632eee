/**
 * The KMS error hierarchy: `KmsError` and one subclass per code. Every adapter maps every vendor
 * error it can meet (by the vendor's code or status, never by message text) to one of these, and
 * every decorator decides what to do by `code` and `retryable` alone.
 *
 * Trust boundary: messages and fields carry the provider name, the key id (an identifier, not a
 * secret) and the operation only. Never key bytes, plaintext, wrapped blobs, tokens or vendor
 * response bodies. `InvalidCiphertext` has one fixed message whatever went wrong, so an unwrap
 * failure tells an attacker nothing (wrong key, wrong context, flipped bit all read the same).
 */
import { FleetkeyError, type FleetkeyErrorCode } from '@fleetkey/key-types';
import type { KmsProviderMethod } from './provider.js';

/** What the failing call was: a port method, or `configure` for configuration and detection. */
export type KmsOperation = KmsProviderMethod | 'configure';

export interface KmsErrorDetails {
  /** The provider name ('aws', 'local', …), or 'config' before one is known. */
  readonly provider: string;
  readonly keyId?: string;
  readonly operation: KmsOperation;
  /** The vendor / transport error, kept for debugging; never rendered into the message. */
  readonly cause?: unknown;
  /**
   * A short, secret-free explanation appended to the message (e.g. "vendor code
   * NotFoundException"). Ignored by `InvalidCiphertext`, whose message is fixed.
   */
  readonly detail?: string;
}

/** The longest key id rendered into a message; longer ids are cut (they are identifiers, but unbounded). */
export const MAX_KEY_ID_IN_MESSAGE = 128;
/** The longest `detail` rendered into a message. */
export const MAX_DETAIL_IN_MESSAGE = 256;

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

function describe(summary: string, details: KmsErrorDetails): string {
  const where = [`provider ${details.provider}`];
  if (details.keyId !== undefined) where.push(`key ${cut(details.keyId, MAX_KEY_ID_IN_MESSAGE)}`);
  where.push(`operation ${details.operation}`);
  const detail = details.detail === undefined || details.detail === '' ? '' : `: ${cut(details.detail, MAX_DETAIL_IN_MESSAGE)}`;
  return `${summary} (${where.join(', ')})${detail}`;
}

/** Base class of every KMS error. Switch on `code`; retry only when `retryable`. */
export abstract class KmsError extends FleetkeyError {
  abstract override readonly code: FleetkeyErrorCode;
  /** Whether the same call may succeed when repeated later (throttling, outage, timeout). */
  abstract readonly retryable: boolean;
  readonly provider: string;
  readonly keyId: string | undefined;
  readonly operation: KmsOperation;

  constructor(message: string, details: KmsErrorDetails) {
    super(message, details.cause === undefined ? {} : { cause: details.cause });
    this.provider = details.provider;
    this.keyId = details.keyId;
    this.operation = details.operation;
  }
}

/** The key id is unknown to the provider (or the caller may not even learn that it exists). */
export class KeyNotFound extends KmsError {
  readonly code = 'KMS_KEY_NOT_FOUND' as const;
  readonly retryable = false;
  constructor(details: KmsErrorDetails) {
    super(describe('kms key not found', details), details);
  }
}

/** Authentication or authorization failed (missing / bad credentials, policy denies the call). */
export class AccessDenied extends KmsError {
  readonly code = 'ACCESS_DENIED' as const;
  readonly retryable = false;
  constructor(details: KmsErrorDetails) {
    super(describe('access denied', details), details);
  }
}

/** The provider asked us to slow down (HTTP 429, AWS ThrottlingException, gRPC RESOURCE_EXHAUSTED). */
export class Throttled extends KmsError {
  readonly code = 'THROTTLED' as const;
  readonly retryable = true;
  constructor(details: KmsErrorDetails) {
    super(describe('request throttled', details), details);
  }
}

/** The one fixed message of every unwrap / decrypt failure. */
export const INVALID_CIPHERTEXT_MESSAGE = 'invalid ciphertext';

/**
 * Unwrap failed: wrong key, wrong context, tampered envelope or encapsulated key, a CEK the
 * provider could not decrypt. One fixed message; the fields still say provider / key / operation.
 */
export class InvalidCiphertext extends KmsError {
  readonly code = 'INVALID_CIPHERTEXT' as const;
  readonly retryable = false;
  constructor(details: KmsErrorDetails) {
    super(INVALID_CIPHERTEXT_MESSAGE, details);
  }
}

/** The key exists but is disabled (or pending deletion / destroyed version). */
export class KeyDisabled extends KmsError {
  readonly code = 'KEY_DISABLED' as const;
  readonly retryable = false;
  constructor(details: KmsErrorDetails) {
    super(describe('kms key is disabled', details), details);
  }
}

/** The provider does not offer the key spec or signature algorithm asked for (never substituted). */
export class UnsupportedKeySpec extends KmsError {
  readonly code = 'UNSUPPORTED_ALGORITHM' as const;
  readonly retryable = false;
  constructor(details: KmsErrorDetails) {
    super(describe('unsupported key spec or algorithm', details), details);
  }
}

/** The provider could not be reached or answered 5xx / UNAVAILABLE. */
export class ProviderUnavailable extends KmsError {
  readonly code = 'PROVIDER_UNAVAILABLE' as const;
  readonly retryable = true;
  constructor(details: KmsErrorDetails) {
    super(describe('kms provider unavailable', details), details);
  }
}

/** The call did not finish within its deadline (`withTimeout`, or the vendor's own deadline). */
export class KmsTimeout extends KmsError {
  readonly code = 'TIMEOUT' as const;
  readonly retryable = true;
  constructor(details: KmsErrorDetails) {
    super(describe('kms call timed out', details), details);
  }
}

/** `withCircuitBreaker` refused the call without trying: the provider failed too often recently. */
export class CircuitOpen extends KmsError {
  readonly code = 'CIRCUIT_OPEN' as const;
  readonly retryable = false;
  constructor(details: KmsErrorDetails) {
    super(describe('circuit open', details), details);
  }
}

/** The key exists but cannot do this (sign with an AES key, wrap with a signing key). */
export class InvalidKeyUsage extends KmsError {
  readonly code = 'INVALID_KEY_USAGE' as const;
  readonly retryable = false;
  constructor(details: KmsErrorDetails) {
    super(describe('kms key cannot be used for this operation', details), details);
  }
}

/** The longest list of problems an InvalidKmsConfig renders into its message. */
export const MAX_CONFIG_PROBLEMS_IN_MESSAGE = 32;

/**
 * The KMS configuration is invalid. `problems` lists EVERY problem found (each names the setting
 * and says what to do), so a person can fix them all in one go.
 */
export class InvalidKmsConfig extends KmsError {
  readonly code = 'INVALID_CONFIG' as const;
  readonly retryable = false;
  readonly problems: readonly string[];
  constructor(problems: readonly string[], details: Partial<KmsErrorDetails> = {}) {
    const list = problems.slice(0, MAX_CONFIG_PROBLEMS_IN_MESSAGE);
    const more = problems.length > list.length ? `\n  - … and ${problems.length - list.length} more` : '';
    super(`invalid KMS configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${list.join('\n  - ')}${more}`, {
      provider: details.provider ?? 'config',
      operation: details.operation ?? 'configure',
      ...(details.keyId === undefined ? {} : { keyId: details.keyId }),
      ...(details.cause === undefined ? {} : { cause: details.cause }),
    });
    this.problems = Object.freeze([...problems]);
  }
}

/** Builds the KmsError an adapter's vendor-error table names (one entry per error class). */
export type KmsErrorFactory = (details: KmsErrorDetails) => KmsError;

/**
 * One factory per error class, so every adapter's vendor-error table refers to these instead of
 * declaring its own `(d) => new KeyNotFound(d)` lines.
 */
export const kmsErrorFactories = Object.freeze({
  notFound: ((d) => new KeyNotFound(d)) as KmsErrorFactory,
  denied: ((d) => new AccessDenied(d)) as KmsErrorFactory,
  throttled: ((d) => new Throttled(d)) as KmsErrorFactory,
  badCiphertext: ((d) => new InvalidCiphertext(d)) as KmsErrorFactory,
  disabled: ((d) => new KeyDisabled(d)) as KmsErrorFactory,
  unavailable: ((d) => new ProviderUnavailable(d)) as KmsErrorFactory,
  timeout: ((d) => new KmsTimeout(d)) as KmsErrorFactory,
  usage: ((d) => new InvalidKeyUsage(d)) as KmsErrorFactory,
  unsupported: ((d) => new UnsupportedKeySpec(d)) as KmsErrorFactory,
});

/** Every KMS error code (for tables and tests). */
export const KMS_ERROR_CODES = Object.freeze([
  'KMS_KEY_NOT_FOUND',
  'ACCESS_DENIED',
  'THROTTLED',
  'INVALID_CIPHERTEXT',
  'KEY_DISABLED',
  'UNSUPPORTED_ALGORITHM',
  'PROVIDER_UNAVAILABLE',
  'TIMEOUT',
  'CIRCUIT_OPEN',
  'INVALID_CONFIG',
  'INVALID_KEY_USAGE',
] as const satisfies readonly FleetkeyErrorCode[]);

export type KmsErrorCode = (typeof KMS_ERROR_CODES)[number];

/**
 * Whether `value` is a KmsError. Compares shape, not only the prototype, so it survives a duplicated
 * module instance (a second copy of kms-core in node_modules).
 */
export function isKmsError(value: unknown, code?: KmsErrorCode): value is KmsError {
  if (!(value instanceof Error)) return false;
  const candidate = value as Partial<KmsError>;
  if (typeof candidate.code !== 'string' || !(KMS_ERROR_CODES as readonly string[]).includes(candidate.code)) return false;
  if (typeof candidate.retryable !== 'boolean' || typeof candidate.provider !== 'string') return false;
  return code === undefined || candidate.code === code;
}

/** True for errors a retry may cure: Throttled, ProviderUnavailable, KmsTimeout. */
export function isRetryableKmsError(value: unknown): boolean {
  return isKmsError(value) && value.retryable;
}
