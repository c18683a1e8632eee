/** Following page tokens: to the end, to a limit, and never forever. */
import { describe, expect, it } from 'vitest';
import { MAX_PAGES, collectPages, type Page } from './paging.js';

function pagedList(total: number, serverPageSize: number) {
  const requests: Array<[string, number]> = [];
  const fetch = async (pageToken: string, pageSize: number): Promise<Page<number>> => {
    requests.push([pageToken, pageSize]);
    const offset = pageToken === '' ? 0 : Number(pageToken);
    const size = Math.min(pageSize === 0 ? serverPageSize : pageSize, serverPageSize);
    const end = Math.min(offset + size, total);
    return { items: Array.from({ length: end - offset }, (_, i) => offset + i), nextPageToken: end < total ? String(end) : '' };
  };
  return { fetch, requests };
}

describe('collectPages', () => {
  it('follows next_page_token until it is empty', async () => {
    const list = pagedList(7, 3);
    expect(await collectPages(list.fetch)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(list.requests).toEqual([
      ['', 0],
      ['3', 0],
      ['6', 0],
    ]);
  });

  it('stops at the limit across pages, asking each page for what is still missing', async () => {
    const list = pagedList(100, 4);
    expect(await collectPages(list.fetch, 6)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(list.requests).toEqual([
      ['', 6],
      ['4', 2],
    ]);
  });

  it('caps the page size it asks for at 1000', async () => {
    const list = pagedList(10, 1000);
    await collectPages(list.fetch, 5000);
    expect(list.requests[0]).toEqual(['', 1000]);
  });

  it('Precondition: a repeated page token ends the listing instead of looping', async () => {
    let calls = 0;
    const looping = async (): Promise<Page<number>> => ({ items: [calls++], nextPageToken: 'again' });
    await expect(collectPages(looping)).rejects.toMatchObject({ code: 'MESSAGE_MALFORMED' });
    expect(calls).toBe(2);
  });

  it('Precondition: a controller that never stops is cut off after MAX_PAGES pages', async () => {
    let calls = 0;
    const endless = async (): Promise<Page<number>> => ({ items: [], nextPageToken: String(++calls) });
    await expect(collectPages(endless)).rejects.toThrow(`more than ${MAX_PAGES} pages`);
    expect(calls).toBe(MAX_PAGES);
  });
});
