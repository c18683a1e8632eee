/**
 * Errors of the local provider, and the one place that maps file-system errors to the KMS error
 * hierarchy (by errno code, never by message text):
 *
 *   EAGAIN, EWOULDBLOCK, EBUSY, EMFILE, ENFILE, EINTR          -> Throttled (retryable: the OS said "later")
 *   EIO, ENOSPC, EDQUOT, EROFS, ENXIO, ENODEV, ESTALE, ETIMEDOUT,
 *   ENOENT / ENOTDIR (the key file vanished), a held writer lock -> ProviderUnavailable (retryable)
 *   EACCES, EPERM                                               -> AccessDenied
 *   anything else                                               -> ProviderUnavailable
 *
 * Trust boundary: messages name the provider, key id and operation, plus an errno code; never the
 * passphrase, key material or file contents. LocalKeyFileLocked has one fixed message whether the
 * passphrase was wrong or the file was altered.
 */
import { AccessDenied, KmsError, ProviderUnavailable, Throttled, isKmsError, type KmsOperation } from '@fleetkey/kms-core';
import { isFleetkeyError } from '@fleetkey/key-types';
import { LOCAL_PROVIDER_NAME } from './constants.js';
import { LockTimeout } from './lock.js';

/** The key file is not what this build writes (bad magic, version, bounds, damaged body). Not retryable. */
export class LocalKeyFileCorrupt extends KmsError {
  readonly code = 'STORE_CORRUPT' as const;
  readonly retryable = false;

  constructor(problem: string, options: { cause?: unknown; operation?: KmsOperation } = {}) {
    super(`local key file corrupt: ${problem} (provider ${LOCAL_PROVIDER_NAME}, operation ${options.operation ?? 'configure'})`, {
      provider: LOCAL_PROVIDER_NAME,
      operation: options.operation ?? 'configure',
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
  }
}

/** The fixed detail of LocalKeyFileLocked. */
export const KEYFILE_LOCKED_DETAIL = 'the passphrase does not open the local key file, or the file was altered';

/** The passphrase did not open the key file, or the file was tampered with (one message for both). */
export class LocalKeyFileLocked extends AccessDenied {
  constructor(operation: KmsOperation = 'configure') {
    super({ provider: LOCAL_PROVIDER_NAME, operation, detail: KEYFILE_LOCKED_DETAIL });
  }
}

const THROTTLE_CODES = new Set(['EAGAIN', 'EWOULDBLOCK', 'EBUSY', 'EMFILE', 'ENFILE', 'EINTR']);
const DENIED_CODES = new Set(['EACCES', 'EPERM']);

function errnoCode(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^E[A-Z0-9]{1,15}$/.test(code) ? code : undefined;
}

/**
 * Turns whatever an io call threw into a KMS error. KMS / fleetkey errors pass through unchanged.
 * Programming errors (TypeError, RangeError) pass through too: they are bugs, not outages.
 */
export function mapIoError(error: unknown, operation: KmsOperation, keyId?: string): unknown {
  if (isKmsError(error) || isFleetkeyError(error)) return error;
  const where = { provider: LOCAL_PROVIDER_NAME, operation, ...(keyId === undefined ? {} : { keyId }), cause: error };
  if (error instanceof LockTimeout) {
    const holder = error.holderPid === undefined ? '' : ` (pid ${error.holderPid})`;
    return new ProviderUnavailable({ ...where, detail: `the key file is locked by another writer${holder}` });
  }
  const code = errnoCode(error);
  if (code === undefined) return error instanceof TypeError || error instanceof RangeError ? error : new ProviderUnavailable({ ...where, detail: 'file system error' });
  if (THROTTLE_CODES.has(code)) return new Throttled({ ...where, detail: `file system busy (${code})` });
  if (DENIED_CODES.has(code)) return new AccessDenied({ ...where, detail: `file system refused access (${code})` });
  return new ProviderUnavailable({ ...where, detail: `file system error (${code})` });
}
