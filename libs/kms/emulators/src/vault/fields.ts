/**
 * Reading request fields the way Vault's framework does: weakly typed (a number may come as a
 * string, a bool as "true"), base64 decoded strictly like Go's `base64.StdEncoding`.
 *
 * Trust boundary: every value here is attacker input from the HTTP body; nothing is echoed back
 * except its position in a Go-style base64 error.
 */

export type Fields = Readonly<Record<string, unknown>>;

const BASE64_ALPHABET = /[A-Za-z0-9+/]/;
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Go `base64.StdEncoding.DecodeString`: padding required, no whitespace; error text as Go's. */
export function decodeBase64(text: string): Buffer | string {
  if (STRICT_BASE64.test(text)) return Buffer.from(text, 'base64');
  let index = 0;
  while (index < text.length && BASE64_ALPHABET.test(text[index] ?? '')) index += 1;
  if (index === text.length) index = text.length - (text.length % 4);
  return `illegal base64 data at input byte ${index}`;
}

export function stringField(fields: Fields, name: string, fallback = ''): string {
  const value = fields[name];
  if (value === undefined || value === null) return fallback;
  return typeof value === 'string' ? value : String(value);
}

export function hasField(fields: Fields, name: string): boolean {
  return fields[name] !== undefined && fields[name] !== null;
}

/** TypeInt: numbers and numeric strings; anything else answers the framework's 400 text. */
export function intField(fields: Fields, name: string, fallback = 0): number | string {
  const value = fields[name];
  if (value === undefined || value === null || value === '') return fallback;
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number)) return `error converting input for field "${name}": expected an integer`;
  return number;
}

/** TypeBool: booleans and "true"/"false"/"1"/"0". */
export function boolField(fields: Fields, name: string, fallback = false): boolean | string {
  const value = fields[name];
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1' || value === 1) return true;
  if (value === 'false' || value === '0' || value === 0) return false;
  return `error converting input for field "${name}": expected a boolean`;
}
