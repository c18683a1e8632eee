/**
 * Serial-number patterns of enrollment tokens (`fleetctl tokens create --serial PATTERN`): `*`
 * matches any run of characters, `?` exactly one, everything else itself; the whole serial must
 * match. Matching is linear (no backtracking blow-up on hostile patterns or serials).
 */

export const MAX_SERIAL_LENGTH = 128;

/** Whether `serial` matches `pattern` (both printable ASCII, at most MAX_SERIAL_LENGTH). */
export function serialMatches(pattern: string, serial: string): boolean {
  if (pattern.length > MAX_SERIAL_LENGTH || serial.length > MAX_SERIAL_LENGTH) return false;
  // Classic two-pointer wildcard match with a single backtrack point: O(n·m) worst case, bounded.
  let p = 0;
  let s = 0;
  let star = -1;
  let mark = 0;
  while (s < serial.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === serial[s])) {
      p++;
      s++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = s;
    } else if (star !== -1) {
      p = star + 1;
      s = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Printable ASCII without spaces, 1..MAX_SERIAL_LENGTH characters. */
export function isValidSerial(serial: string): boolean {
  return serial.length >= 1 && serial.length <= MAX_SERIAL_LENGTH && /^[\x21-\x7e]+$/.test(serial);
}
