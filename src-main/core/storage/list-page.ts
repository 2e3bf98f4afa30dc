import type { ListOptions, ListPage, ObjectInfo, StorageBackend } from './types';
import { MAX_LIST_PAGE } from './types';

/**
 * Builds one page from keys in ascending order, with S3 semantics: with a delimiter, keys below
 * a deeper "/" fold into one prefix entry; the cursor is the last key or prefix returned.
 */
export function pageFromSorted(
  sorted: Iterable<ObjectInfo>,
  prefix: string,
  options: ListOptions = {},
): ListPage {
  const limit = Math.max(1, Math.min(options.limit ?? MAX_LIST_PAGE, MAX_LIST_PAGE));
  const objects: ObjectInfo[] = [];
  const prefixes: string[] = [];
  let last: string | undefined;
  for (const info of sorted) {
    if (!info.key.startsWith(prefix)) {
      if (info.key > prefix) break; // sorted: past the prefix's range
      continue;
    }
    if (options.cursor !== undefined && info.key <= options.cursor) continue;
    let entry = info.key;
    let folded: string | undefined;
    if (options.delimiter) {
      const at = info.key.indexOf(options.delimiter, prefix.length);
      if (at >= 0) {
        folded = info.key.slice(0, at + 1);
        if (folded === last) continue;
        if (options.cursor !== undefined && folded <= options.cursor) continue;
        entry = folded;
      }
    }
    if (objects.length + prefixes.length >= limit) return { objects, prefixes, cursor: last };
    if (folded) prefixes.push(folded);
    else objects.push(info);
    last = entry;
  }
  return { objects, prefixes };
}

/**
 * Visits every key under a prefix, in no particular order, with its size where the listing has it:
 * names only where sizes cost a stat each (a local folder), so callers ask sizeOf for the few they need.
 */
export async function forEachKey(storage: StorageBackend, prefix: string, visit: (key: string, size: number | undefined) => void, signal?: AbortSignal): Promise<void> {
  if (storage.walkKeys) {
    // A local walk's threads finish the folders they hold (a second or two for 100,000 keys); nothing more is visited.
    await storage.walkKeys(prefix, (keys) => {
      if (!signal?.aborted) for (const key of keys) visit(key, undefined);
    });
    signal?.throwIfAborted();
    return;
  }
  const listKeys = storage.listKeys?.bind(storage);
  let cursor: string | undefined;
  do {
    signal?.throwIfAborted();
    if (listKeys) {
      const page = await listKeys(prefix, { cursor });
      for (const key of page.keys) visit(key, undefined);
      cursor = page.cursor;
    } else {
      const page = await storage.list(prefix, { cursor });
      for (const o of page.objects) visit(o.key, o.size);
      cursor = page.cursor;
    }
  } while (cursor !== undefined);
}

/** One key's size: a stat where the backend has one, else from a listing; 0 when it is gone meanwhile. */
export async function sizeOf(storage: StorageBackend, key: string): Promise<number> {
  if (storage.sizeOf) return (await storage.sizeOf(key)) ?? 0;
  return (await storage.list(key, { limit: 1 })).objects.find((o) => o.key === key)?.size ?? 0;
}

/** Visits every page under a prefix, following cursors to the end. */
export async function forEachPage(storage: StorageBackend, prefix: string, visit: (page: ListPage) => void, options: ListOptions = {}): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await storage.list(prefix, { ...options, cursor });
    visit(page);
    cursor = page.cursor;
  } while (cursor !== undefined);
}
