/**
 * Validity windows for issued certificates. X.509 times have whole seconds (RFC 5280 §4.1.2.5), so
 * both ends are truncated to the second before they are checked and encoded; UTCTime is used
 * through 2049 and GeneralizedTime from 2050, as @peculiar/asn1-x509's Time does.
 *
 * Trust boundary: caller input (configuration / controller code), checked as programming misuse.
 */
import { Validity } from '@peculiar/asn1-x509';

/** UTCTime cannot express years before 1950 (RFC 5280 §4.1.2.5.1). */
const EARLIEST = Date.UTC(1950, 0, 1);
/** GeneralizedTime 99991231235959Z is the latest expressible time (RFC 5280 §4.1.2.5). */
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59);

function wholeSeconds(name: string, value: Date): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new TypeError(`"${name}" expected a valid Date`);
  const ms = Math.floor(value.getTime() / 1000) * 1000;
  if (ms < EARLIEST || ms > LATEST) throw new RangeError(`"${name}" expected a date between 1950 and 9999`);
  return new Date(ms);
}

/**
 * @throws TypeError when either end is not a valid Date.
 * @throws RangeError when an end is out of the X.509 range or notAfter is not after notBefore.
 */
export function buildValidity(notBefore: Date, notAfter: Date): Validity {
  const from = wholeSeconds('notBefore', notBefore);
  const to = wholeSeconds('notAfter', notAfter);
  if (to.getTime() <= from.getTime()) throw new RangeError('"notAfter" expected a time after "notBefore"');
  return new Validity({ notBefore: from, notAfter: to });
}
