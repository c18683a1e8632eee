/**
 * Mapping Vault's answers to the KMS error hierarchy. Vault has no error codes: an answer is an
 * HTTP status plus `{"errors": ["…"]}` text, so this is the one adapter where the message is the
 * only signal beyond the status. All of that matching lives in VAULT_ERROR_TABLE below (first
 * matching row wins); nothing else in the adapter looks at Vault's texts. Transport failures
 * (refused connection, reset, axios timeout) are mapped by their Node / axios `code`.
 *
 * Trust boundary: Vault's texts and bodies are never rendered into our messages; `detail` carries
 * the status and the table row's label only. The token never appears anywhere here.
 */
import {
  AccessDenied,
  InvalidCiphertext,
  InvalidKeyUsage,
  KeyDisabled,
  KeyNotFound,
  KmsTimeout,
  ProviderUnavailable,
  Throttled,
  UnsupportedKeySpec,
  isKmsError,
} from '@fleetkey/kms-core';
import type { KmsError, KmsErrorDetails, KmsOperation } from '@fleetkey/kms-core';

export const VAULT_PROVIDER_NAME = 'vault';

type ErrorClass = new (details: KmsErrorDetails) => KmsError;

export interface VaultErrorRow {
  /** HTTP statuses the row applies to. */
  readonly status: readonly number[];
  /** Matched against Vault's first `errors` entry; absent = any text. */
  readonly text?: RegExp;
  /** Restrict the row to these operations; absent = every operation. */
  readonly operations?: readonly KmsOperation[];
  readonly error: ErrorClass;
  /** Secret-free label rendered as the error's detail. */
  readonly label: string;
}

/**
 * Every Vault answer the adapter can meet, from keysutil / the transit paths / Vault's HTTP layer.
 * Order matters: specific texts first, then the per-status fallbacks.
 */
export const VAULT_ERROR_TABLE: readonly VaultErrorRow[] = Object.freeze([
  // Authentication and authorization (Vault: 403 "permission denied"; 401 from some auth paths).
  { status: [401, 403], error: AccessDenied, label: 'permission denied' },
  // Unknown keys: 404 on reads (empty errors), 400 with these texts on the operation paths.
  { status: [404], error: KeyNotFound, label: 'key not found' },
  { status: [400], text: /^(encryption key not found|signing key not found|key not found|policy not found|no existing key named )/, error: KeyNotFound, label: 'key not found' },
  // min_decryption_version raised past the envelope's version (keysutil ErrTooOld).
  { status: [400], text: /disallowed by policy \(too old\)/, error: KeyDisabled, label: 'key version below min_decryption_version' },
  { status: [400], text: /^no such key version/, error: KeyDisabled, label: 'key version not available' },
  // Wrong key usage: AES key asked to sign, signing key asked to encrypt, RSA key given associated_data.
  {
    status: [400],
    text: /(does not support (signing|verification)|message (en|de)cryption not supported for key type|provided for non-AEAD cipher suite|not supported for this operation)/,
    error: InvalidKeyUsage,
    label: 'key type cannot do this',
  },
  // Unsupported algorithms / key types.
  { status: [400], text: /^(unknown key type|only Pure Ed25519|invalid hash algorithm|invalid marshaling type|requested salt length)/, error: UnsupportedKeySpec, label: 'unsupported by vault' },
  // Ciphertexts Vault cannot open: bad prefix / version / base64, failed GCM tag, bad length.
  { status: [400], text: /^(invalid ciphertext|cipher: message authentication failed|invalid signature)/, error: InvalidCiphertext, label: 'invalid ciphertext' },
  { status: [400], operations: ['unwrap'], error: InvalidCiphertext, label: 'invalid ciphertext' },
  // Rate-limit quotas.
  { status: [429], error: Throttled, label: 'rate limit quota exceeded' },
  // Sealed / standby / internal errors / gateways: the service is (transiently) not answering.
  { status: [412, 500, 502, 503, 504], error: ProviderUnavailable, label: 'vault unavailable' },
  // Anything else Vault refuses as a bad request: the request cannot succeed as sent.
  { status: [400, 405, 413], error: InvalidKeyUsage, label: 'request refused by vault' },
] satisfies VaultErrorRow[]);

/** Node / axios error codes meaning "the service could not be reached" (retryable). */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ERR_NETWORK',
  'ERR_BAD_RESPONSE',
]);
/** axios / Node codes for a request that ran out of time. */
export const TIMEOUT_ERROR_CODES: ReadonlySet<string> = new Set(['ECONNABORTED', 'ETIMEDOUT', 'ERR_CANCELED']);

/** Reads status and first error text from a node-vault ApiResponseError (or undefined). */
function vaultAnswer(error: unknown): { status: number; text: string } | undefined {
  const response = (error as { response?: { statusCode?: unknown; body?: unknown } } | null)?.response;
  if (!response || typeof response.statusCode !== 'number') return undefined;
  const errors = (response.body as { errors?: unknown } | null | undefined)?.errors;
  const first = Array.isArray(errors) && typeof errors[0] === 'string' ? errors[0] : '';
  return { status: response.statusCode, text: first };
}

/** The matching row for an answer (exported for the table test). */
export function findVaultErrorRow(status: number, text: string, operation: KmsOperation): VaultErrorRow | undefined {
  return VAULT_ERROR_TABLE.find(
    (row) => row.status.includes(status) && (row.text === undefined || row.text.test(text)) && (row.operations === undefined || row.operations.includes(operation)),
  );
}

/**
 * Turns whatever node-vault threw into a KmsError. KmsErrors pass through unchanged.
 * Unmatched HTTP answers and unknown transport failures become ProviderUnavailable (retryable),
 * because an answer we cannot classify most likely came from something in front of Vault.
 */
export function mapVaultError(error: unknown, operation: KmsOperation, keyId?: string): KmsError {
  if (isKmsError(error)) return error;
  const base = { provider: VAULT_PROVIDER_NAME, operation, cause: error, ...(keyId === undefined ? {} : { keyId }) };
  const answer = vaultAnswer(error);
  if (answer) {
    const row = findVaultErrorRow(answer.status, answer.text, operation);
    if (row) return new row.error({ ...base, detail: `vault HTTP ${answer.status}: ${row.label}` });
    return new ProviderUnavailable({ ...base, detail: `vault HTTP ${answer.status}` });
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TIMEOUT_ERROR_CODES.has(code)) return new KmsTimeout({ ...base, detail: `transport ${code}` });
  if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return new ProviderUnavailable({ ...base, detail: `transport ${code}` });
  return new ProviderUnavailable({ ...base, detail: 'unexpected failure talking to vault' });
}
