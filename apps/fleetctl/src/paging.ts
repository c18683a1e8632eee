/**
 * Follows AIP-158 page tokens to the end of a list, or until a limit. The operator API pages every
 * list (page_size 0 means 100, at most 1000; an empty next_page_token ends the list).
 *
 * Trust boundary: page tokens and page contents come from the controller. A controller that hands
 * back a token it already gave, or never stops, is cut off instead of looping forever.
 */
import { MessageMalformed } from '@fleetkey/protocol';

/** Largest page_size the API accepts. */
export const MAX_PAGE_SIZE = 1000;
/** Most pages one listing follows (a million items at the controller's default page size). */
export const MAX_PAGES = 10_000;

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextPageToken: string;
}

/** Fetches one page: `pageSize` 0 leaves the size to the controller. */
export type PageFetcher<T> = (pageToken: string, pageSize: number) => Promise<Page<T>>;

/**
 * Collects every item of a paged list, or the first `limit` items.
 * @throws MessageMalformed when the controller repeats a page token or exceeds MAX_PAGES.
 * @throws whatever `fetchPage` throws (RpcError).
 */
export async function collectPages<T>(fetchPage: PageFetcher<T>, limit?: number): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let pageToken = '';
  for (let pages = 0; ; pages++) {
    // Precondition: a controller that never stops is cut off after MAX_PAGES pages.
    if (pages === MAX_PAGES) throw new MessageMalformed(`the controller sent more than ${MAX_PAGES} pages`);
    const remaining = limit === undefined ? undefined : limit - items.length;
    const page = await fetchPage(pageToken, remaining === undefined ? 0 : Math.min(remaining, MAX_PAGE_SIZE));
    items.push(...(remaining === undefined ? page.items : page.items.slice(0, remaining)));
    if (page.nextPageToken === '' || (limit !== undefined && items.length >= limit)) return items;
    // Precondition: a repeated page token ends the listing instead of looping.
    if (seen.has(page.nextPageToken)) throw new MessageMalformed('the controller repeated a page token');
    seen.add(page.nextPageToken);
    pageToken = page.nextPageToken;
  }
}
