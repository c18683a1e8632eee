/**
 * Reading AWS JSON 1.1 request members: strings, base64 blobs, encryption contexts, limits and
 * pagination markers, each bounded and each refused with the error AWS gives
 * (ValidationException, InvalidMarkerException).
 *
 * Trust boundary: every value here is client input.
 */
import { fault } from './errors.js';
import type { EncryptionContext } from './ciphertext.js';

export type Json = Record<string, unknown>;

/** AWS: an encryption context is at most 8192 characters in total; we bound entries too. */
export const MAX_ENCRYPTION_CONTEXT_CHARS = 8192;
export const MAX_LIST_LIMIT = 1000;
export const DEFAULT_LIST_LIMIT = 100;

function invalid(member: string, constraint: string): never {
  throw fault('ValidationException', `1 validation error detected: Value at '${member}' failed to satisfy constraint: ${constraint}`);
}

export function requiredString(body: Json, member: string, max = 2048): string {
  const value = body[member];
  if (typeof value !== 'string' || value.length === 0 || value.length > max) invalid(member, `Member must be a string of length 1..${max}`);
  return value;
}

export function optionalString(body: Json, member: string, max = 2048): string | undefined {
  return body[member] === undefined || body[member] === null ? undefined : requiredString(body, member, max);
}

export function requiredBlob(body: Json, member: string, max: number, min = 1): Buffer {
  const value = body[member];
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) invalid(member, 'Member must be base64 bytes');
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length < min || bytes.length > max) invalid(member, `Member must have length between ${min} and ${max}`);
  return bytes;
}

export function encryptionContext(body: Json, member: string): EncryptionContext {
  const value = body[member];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) invalid(member, 'Member must be a map of strings');
  let chars = 0;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') invalid(member, 'Member must be a map of strings');
    chars += k.length + v.length;
    out[k] = v;
  }
  if (chars > MAX_ENCRYPTION_CONTEXT_CHARS) invalid(member, `Member must be at most ${MAX_ENCRYPTION_CONTEXT_CHARS} characters`);
  return out;
}

export function listLimit(body: Json): number {
  const value = body['Limit'];
  if (value === undefined || value === null) return DEFAULT_LIST_LIMIT;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_LIST_LIMIT) {
    invalid('limit', `Member must have value between 1 and ${MAX_LIST_LIMIT}`);
  }
  return value;
}

/** Markers are opaque to clients; here they encode the next offset. */
export function listMarker(body: Json): number {
  const value = body['Marker'];
  if (value === undefined || value === null) return 0;
  const offset = typeof value === 'string' ? Number.parseInt(Buffer.from(value, 'base64url').toString('latin1').replace(/^o:/, ''), 10) : Number.NaN;
  if (!Number.isInteger(offset) || offset < 0) throw fault('InvalidMarkerException', 'Invalid marker');
  return offset;
}

export function page<T>(items: readonly T[], body: Json): { items: T[]; nextMarker?: string; truncated: boolean } {
  const offset = listMarker(body);
  const limit = listLimit(body);
  const slice = items.slice(offset, offset + limit);
  const next = offset + limit;
  return next < items.length
    ? { items: slice, nextMarker: Buffer.from(`o:${next}`, 'latin1').toString('base64url'), truncated: true }
    : { items: slice, truncated: false };
}
