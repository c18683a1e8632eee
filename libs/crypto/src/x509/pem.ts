/**
 * PEM <-> DER for certificates and CSRs (RFC 7468). Decoding is strict: one block of the expected
 * label, canonical base64 only, and a size bound checked before any work is done.
 *
 * Trust boundary: the input may be attacker text; failures are reported through `fail`, which the
 * caller maps to its own typed error.
 */

export type PemLabel = 'CERTIFICATE' | 'CERTIFICATE REQUEST';

/** RFC 7468 §2: generators wrap base64 at 64 characters. */
const PEM_LINE_LENGTH = 64;

export function toPem(der: Uint8Array, label: PemLabel): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += PEM_LINE_LENGTH) lines.push(base64.slice(i, i + PEM_LINE_LENGTH));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Longest PEM text that can hold `maxDerBytes` bytes: base64, a newline per line, the two markers. */
export function maxPemLength(maxDerBytes: number, label: PemLabel): number {
  const base64 = Math.ceil(maxDerBytes / 3) * 4;
  return base64 + 2 * Math.ceil(base64 / PEM_LINE_LENGTH) + 2 * (label.length + 16) + 8;
}

/**
 * Returns DER bytes from PEM text or DER bytes.
 * @param fail called with 'too-large' or 'malformed'; must throw.
 * @throws TypeError when `input` is neither a string nor a Uint8Array.
 */
export function decodePemOrDer(
  input: string | Uint8Array,
  label: PemLabel,
  maxDerBytes: number,
  fail: (reason: 'too-large' | 'malformed') => never,
): Uint8Array {
  if (input instanceof Uint8Array) {
    if (input.length > maxDerBytes) fail('too-large');
    return input;
  }
  if (typeof input !== 'string') throw new TypeError('expected PEM text or DER bytes');
  if (input.length > maxPemLength(maxDerBytes, label)) fail('too-large');
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const text = input.trim();
  if (!text.startsWith(begin) || !text.endsWith(end)) fail('malformed');
  const body = text.slice(begin.length, text.length - end.length).replace(/[\r\n]/g, '');
  // Precondition: the PEM body is canonical base64 (no other characters, no second block).
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) fail('malformed');
  const der = Buffer.from(body, 'base64');
  if (der.toString('base64') !== body) fail('malformed');
  if (der.length > maxDerBytes) fail('too-large');
  return new Uint8Array(der.buffer, der.byteOffset, der.byteLength);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
