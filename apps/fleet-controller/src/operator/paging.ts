/**
 * AIP-158 paging for the operator API's list rpcs: page sizes (0 -> 100, at most 1000) and
 * opaque page tokens that carry a keyset cursor (the sort key of the last item returned), so a
 * page boundary stays put when records are added before it.
 *
 * Token form: base64url (RFC 4648 §5, no padding) of the JSON array `[1, "<kind>", ...key]`.
 * Opaque to clients; only this module reads it.
 *
 * Trust boundary: `page_token` is attacker-controlled. It is bounded (MAX_PAGE_TOKEN_LENGTH),
 * must be canonical base64url of UTF-8 JSON of exactly the expected shape for that list, and is
 * otherwise refused with one InvalidArgument. A cursor only says where to resume inside a list
 * the caller is already authorized to read, so a forged one can skip items, never reveal others.
 */
import { InvalidArgument } from '@fleetkey/key-types';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
/** operator.proto: page tokens are at most 512 bytes. */
export const MAX_PAGE_TOKEN_LENGTH = 512;
/** Longest string inside a cursor (ids are at most 64 characters; room to spare, still bounded). */
export const MAX_CURSOR_STRING_LENGTH = 128;
const PAGE_TOKEN_VERSION = 1;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const INVALID_TOKEN_MESSAGE = 'invalid page_token';

export type PageKind = 'fleets' | 'operators' | 'tokens' | 'devices' | 'audit' | 'lift-requests';
export type SortKey = readonly (string | number)[];
/** The type of each part of a list's sort key. */
export type SortKeyShape = readonly ('string' | 'integer')[];

/** AIP-158: 0 means the default; a value above the maximum is coerced to it. */
export function resolvePageSize(requested: number): number {
  if (!Number.isSafeInteger(requested) || requested < 0) throw new InvalidArgument('"page_size" expected a non-negative integer');
  if (requested === 0) return DEFAULT_PAGE_SIZE;
  return Math.min(requested, MAX_PAGE_SIZE);
}

export function encodePageToken(kind: PageKind, key: SortKey): string {
  return Buffer.from(JSON.stringify([PAGE_TOKEN_VERSION, kind, ...key]), 'utf8').toString('base64url');
}

function partMatches(part: unknown, type: 'string' | 'integer'): boolean {
  if (type === 'string') return typeof part === 'string' && part.length <= MAX_CURSOR_STRING_LENGTH;
  return typeof part === 'number' && Number.isSafeInteger(part) && part >= 0;
}

/**
 * The sort key carried by `token`, or undefined for the empty token (the first page).
 * @throws InvalidArgument for anything but a token this module made for `kind` with `shape`.
 */
export function decodePageToken(token: string, kind: PageKind, shape: SortKeyShape): SortKey | undefined {
  if (token === '') return undefined;
  // Precondition: a page token is bounded and canonical base64url before it is decoded.
  if (token.length > MAX_PAGE_TOKEN_LENGTH || !BASE64URL.test(token)) throw new InvalidArgument(INVALID_TOKEN_MESSAGE);
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.toString('base64url') !== token) throw new InvalidArgument(INVALID_TOKEN_MESSAGE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new InvalidArgument(INVALID_TOKEN_MESSAGE);
  }
  // Precondition: the token was made for this list, in this version, with a key of this shape.
  if (!Array.isArray(parsed) || parsed.length !== shape.length + 2 || parsed[0] !== PAGE_TOKEN_VERSION || parsed[1] !== kind) {
    throw new InvalidArgument(INVALID_TOKEN_MESSAGE);
  }
  const key = parsed.slice(2) as unknown[];
  if (!key.every((part, i) => partMatches(part, shape[i] as 'string' | 'integer'))) throw new InvalidArgument(INVALID_TOKEN_MESSAGE);
  return key as SortKey;
}

/** Orders sort keys part by part (numbers numerically, strings by UTF-16 code unit). */
export function compareSortKeys(a: SortKey, b: SortKey): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

export interface Page<T> {
  readonly items: T[];
  readonly nextPageToken: string;
}

/**
 * One page of `items` (any order; sorted here by `keyOf`) after the token's cursor.
 * @throws InvalidArgument for a bad page token or page size.
 */
export function takePage<T>(items: readonly T[], request: { readonly pageSize: number; readonly pageToken: string }, kind: PageKind, shape: SortKeyShape, keyOf: (item: T) => SortKey): Page<T> {
  const size = resolvePageSize(request.pageSize);
  const after = decodePageToken(request.pageToken, kind, shape);
  const sorted = items.map((item) => ({ item, key: keyOf(item) })).sort((a, b) => compareSortKeys(a.key, b.key));
  const start = after === undefined ? 0 : sorted.findIndex((entry) => compareSortKeys(entry.key, after) > 0);
  if (start < 0) return { items: [], nextPageToken: '' };
  const page = sorted.slice(start, start + size);
  const last = page[page.length - 1];
  const more = start + size < sorted.length && last !== undefined;
  return { items: page.map((entry) => entry.item), nextPageToken: more ? encodePageToken(kind, last.key) : '' };
}
