/**
 * Cloud KMS data-integrity checks (https://cloud.google.com/kms/docs/data-integrity-guidelines):
 * the CRC32C we attach to each request, and the checks on each response — the returned data's
 * CRC32C, the `verified_*_crc32c` flags confirming the service checked ours, and the resource
 * name confirming the intended key was used.
 *
 * Trust boundary: responses come from the network; any mismatch is a typed, retryable error.
 */
import { crc32c } from '@fleetkey/crypto';
import { integrityFailure } from './errors.js';
import type { GcpErrorContext } from './errors.js';

/** An Int64Value as the SDK accepts it. */
export const checksum = (data: Uint8Array) => ({ value: crc32c(data) });

/** The number in a response Int64Value (gax decodes int64 as a decimal string). */
function int64(value: { value?: unknown } | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  const n = Number(value.value ?? 0);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Checks `data` against the response checksum `field`.
 * @throws ProviderUnavailable (retryable) when the checksum is missing or differs.
 */
export function assertChecksum(data: Uint8Array | string | null | undefined, field: { value?: unknown } | null | undefined, context: Omit<GcpErrorContext, 'precondition'>, what: string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : (data ?? new Uint8Array(0));
  const expected = int64(field);
  // Postcondition: the data we are about to use is the data the service sent.
  if (expected === undefined || crc32c(bytes) !== expected) throw integrityFailure(context, `${what} CRC32C`);
}

/**
 * Checks the service confirmed the request checksum we sent.
 * @throws ProviderUnavailable (retryable) when it did not.
 */
export function assertVerified(flag: boolean | null | undefined, context: Omit<GcpErrorContext, 'precondition'>, what: string): void {
  if (flag !== true) throw integrityFailure(context, `${what} not verified by the service`);
}

/**
 * Checks the response names a version of the key we asked for and returns its number.
 * @throws ProviderUnavailable (retryable) when it names anything else.
 */
export function assertVersionOf(keyName: string, versionName: string | null | undefined, context: Omit<GcpErrorContext, 'precondition'>): number {
  const prefix = `${keyName}/cryptoKeyVersions/`;
  const id = typeof versionName === 'string' && versionName.startsWith(prefix) ? versionName.slice(prefix.length) : '';
  if (!/^[1-9][0-9]{0,9}$/.test(id)) throw integrityFailure(context, 'response names another resource');
  return Number(id);
}
