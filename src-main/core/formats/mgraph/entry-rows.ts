/** The service layout's entries browser rows: listings of `<ns>/refs/by-hash/`, no ref read. */
import { MAX_LIST_PAGE, type ListPage, type StorageBackend } from '../../storage/types';
import type { EntryRowsOptions, FormatEntryRow } from '../format';
import { classifyKey, isServiceHash } from './keys';

/** Keys per page of the sorted listing: by-hash refs sit two shard folders deep, so a page of 200 is ~130 folder reads (a screenful, fast). */
const SORTED_PAGE = 200;

/**
 * A by-hash ref's name is its hash and it is rewritten by every store of the hash, so its modified
 * time is the latest version's store time (or a later delete's). Versions, size and source are in
 * the refs and by-id refs: reading them would cost one to two reads per entry, so they stay unknown.
 */
function rowsOf(page: ListPage): FormatEntryRow[] {
  const rows: FormatEntryRow[] = [];
  for (const o of page.objects) {
    const c = classifyKey(o.key);
    if (c?.kind === 'ref_by_hash' && isServiceHash(c.id!)) rows.push({ hash: c.id!, versions: null, version: null, storedAt: o.modified, size: null, source: '' });
  }
  return rows;
}

/** The rows in hash order (a ref's name is its hash), a page at a time. */
export async function* serviceSortedEntryRows(storage: StorageBackend, ns: string, pageKeys = SORTED_PAGE): AsyncGenerator<FormatEntryRow[]> {
  let cursor: string | undefined;
  do {
    const page = await storage.list(`${ns}/refs/by-hash/`, { cursor, limit: pageKeys });
    yield rowsOf(page);
    cursor = page.cursor;
  } while (cursor !== undefined);
}

/** Every row, in full pages. */
export async function serviceEntryRows(storage: StorageBackend, ns: string, { onListed, signal }: EntryRowsOptions = {}): Promise<FormatEntryRow[]> {
  const rows: FormatEntryRow[] = [];
  for await (const page of serviceSortedEntryRows(storage, ns, MAX_LIST_PAGE)) {
    signal?.throwIfAborted(); // leaving the loop stops the listing: no further page is read
    rows.push(...page);
    onListed?.(rows.length);
  }
  return rows;
}
