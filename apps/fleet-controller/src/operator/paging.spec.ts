/**
 * Page tokens and page sizes: a table of bad tokens, round trips (property), and walking a list
 * page by page visits every item exactly once even when items are added between pages.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rejectionCode } from '../store/testing.js';
import { compareSortKeys, decodePageToken, DEFAULT_PAGE_SIZE, encodePageToken, MAX_PAGE_SIZE, resolvePageSize, takePage, type SortKey } from './paging.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const codeOf = (fn: () => unknown) => rejectionCode(Promise.resolve().then(fn));

describe('page sizes', () => {
  it('0 means 100; above 1000 is coerced to 1000 (AIP-158)', () => {
    expect(resolvePageSize(0)).toBe(DEFAULT_PAGE_SIZE);
    expect(resolvePageSize(7)).toBe(7);
    expect(resolvePageSize(5000)).toBe(MAX_PAGE_SIZE);
  });
});

describe('page tokens', () => {
  it('round-trip their sort key (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), fc.nat(), (id, n) => {
        const token = encodePageToken('operators', [n, id]);
        expect(token.length).toBeLessThanOrEqual(512);
        expect(decodePageToken(token, 'operators', ['integer', 'string'])).toEqual([n, id]);
      }),
    );
  });

  it('the empty token is the first page', () => {
    expect(decodePageToken('', 'devices', ['string'])).toBeUndefined();
  });

  const bad: [string, string][] = [
    ['not base64url', 'a+b/c=='],
    ['padding', `${b64('[1,"devices","a"]')}=`],
    ['non-canonical base64url (stray low bits)', `${b64('[1,"devices","a"]').slice(0, -1)}B`],
    ['past 512 characters', 'A'.repeat(513)],
    ['not JSON', b64('hello')],
    ['not UTF-8', Buffer.from([0xff, 0xfe, 0x5b]).toString('base64url')],
    ['another list kind', encodePageToken('fleets', ['a'])],
    ['another version', b64('[2,"devices","a"]')],
    ['a key of the wrong type', b64('[1,"devices",5]')],
    ['a key too long', b64(`[1,"devices","${'a'.repeat(200)}"]`)],
    ['too many key parts', b64('[1,"devices","a","b"]')],
    ['an object', b64('{"v":1}')],
    ['a negative integer', b64('[1,"audit",-1]')],
    ['a fractional integer', b64('[1,"audit",1.5]')],
  ];
  it.each(bad)('Precondition: refuses %s with INVALID_ARGUMENT', async (_name, token) => {
    const kind = token === b64('[1,"audit",-1]') || token === b64('[1,"audit",1.5]') ? 'audit' : 'devices';
    const shape = kind === 'audit' ? (['integer'] as const) : (['string'] as const);
    expect(await codeOf(() => decodePageToken(token, kind, shape))).toBe('INVALID_ARGUMENT');
  });
});

describe('takePage', () => {
  it('visits every item exactly once across pages, even with inserts between pages', () => {
    const items = Array.from({ length: 25 }, (_, i) => `id-${String(i).padStart(2, '0')}`);
    const seen: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = takePage(items, { pageSize: 7, pageToken }, 'devices', ['string'], (id) => [id]);
      seen.push(...page.items);
      pageToken = page.nextPageToken;
      // An item sorting before the cursor appears meanwhile: it must not shift the next page.
      items.push(`id-00-late-${pages++}`);
    } while (pageToken !== '');
    expect(seen.filter((id) => !id.includes('late'))).toEqual([...Array(25).keys()].map((i) => `id-${String(i).padStart(2, '0')}`));
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages).toBe(4);
  });

  it('orders composite keys part by part', () => {
    const keys: SortKey[] = [[2, 'a'], [1, 'b'], [1, 'a']];
    expect([...keys].sort(compareSortKeys)).toEqual([[1, 'a'], [1, 'b'], [2, 'a']]);
  });
});
