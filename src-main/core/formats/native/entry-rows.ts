/** The native layout's entries browser rows: names-only listings of `<ns>/objects/`, no record read. */
import { type CacheHash, parseNamespace } from '../../../../src-shared/domain';
import type { CacheService } from '../../cache-service';
import { mapLimit } from '../../keyed-lock';
import { forEachKey } from '../../storage/list-page';
import type { EntryRowsOptions, FormatEntryRow } from '../format';

/**
 * Folds listed keys into rows. A hash is a row when its content or an index entry
 * (`<hash>~<ver>~<time>~<size>~<source>`) is listed, as the namespace's entry count counts it: the
 * index entries give the versions, and the latest's time, size and source. An index entry without
 * its content (content lost: a store writes its content first and a delete removes it last) is a
 * row marked `contentMissing`, so a loss shows in the list instead of hiding the entry.
 */
class RowFolder {
  private readonly listed = new Map<string, FormatEntryRow>();
  private readonly withContent = new Set<string>();
  /** Hashes that are rows, in listing order. */
  readonly hashes: string[] = [];

  constructor(private readonly cache: CacheService) {}

  private seen(hash: string): void {
    if (!this.withContent.has(hash) && !this.listed.has(hash)) this.hashes.push(hash);
  }

  /** The hash the key belongs to, or null for a key that is no part of an entry. */
  add(key: string): string | null {
    const { layout } = this.cache;
    const described = layout.describeKey(key);
    if (described?.kind === 'content') {
      this.seen(described.hash);
      this.withContent.add(described.hash);
    }
    if (described?.kind !== 'version_entry') return described?.hash ?? null;
    const v = layout.parseVersionEntry(described.hash, key);
    if (!v) return described.hash;
    this.seen(described.hash);
    const row = this.listed.get(described.hash);
    if (!row) this.listed.set(described.hash, { hash: described.hash, versions: 1, version: v.version, storedAt: v.stored_at, size: v.size, source: v.source });
    else {
      row.versions!++;
      if (v.version > row.version!) Object.assign(row, { version: v.version, storedAt: v.stored_at, size: v.size, source: v.source });
    }
    return described.hash;
  }

  /** The rows of the first `count` hashes, forgotten here. */
  take(count = this.hashes.length): FormatEntryRow[] {
    return this.hashes.splice(0, count).map((hash) => {
      // Content no index entry names (a store in flight, or one killed before its record) is still an entry, with what is known: no version.
      const row = this.listed.get(hash) ?? { hash, versions: 0, version: null, storedAt: null, size: null, source: '' };
      if (!this.withContent.delete(hash)) row.contentMissing = true;
      this.listed.delete(hash);
      return row;
    });
  }
}

/**
 * Rows of content no version uses, with their content's size and write time (one listing each: they
 * are rare, a store stopped before its record), so the list says how big and how old they are.
 */
async function withContentFacts(cache: CacheService, namespace: string, rows: FormatEntryRow[]): Promise<FormatEntryRow[]> {
  const ns = parseNamespace(namespace);
  await mapLimit(
    rows.filter((row) => row.versions === 0),
    4,
    async (row) => {
      const key = cache.layout.content(ns, row.hash as CacheHash);
      const found = (await cache.storage.list(key, { limit: 1 })).objects.find((o) => o.key === key);
      if (found) Object.assign(row, { size: found.size, storedAt: found.modified });
    },
  );
  return rows;
}

/** Every row, from the fastest listing the storage has (a local folder: walking threads, in no order). */
export async function nativeEntryRows(cache: CacheService, namespace: string, { onListed, signal }: EntryRowsOptions = {}): Promise<FormatEntryRow[]> {
  const rows = new RowFolder(cache);
  let told = 0;
  const visit = (key: string) => {
    rows.add(key);
    // Told once per thousand: a walking thread's batch of keys arrives at once.
    if (onListed && rows.hashes.length - told >= 1000) onListed((told = rows.hashes.length));
  };
  await forEachKey(cache.storage, cache.layout.objectsPrefix(parseNamespace(namespace)), visit, signal);
  return withContentFacts(cache, namespace, rows.take());
}

/**
 * The rows in hash order, a page of keys at a time: all of a hash's keys share its name as their
 * prefix, so keys sort by hash and a row is complete once a later hash's key is listed.
 */
export async function* nativeSortedEntryRows(cache: CacheService, namespace: string): AsyncGenerator<FormatEntryRow[]> {
  const { storage } = cache;
  const prefix = cache.layout.objectsPrefix(parseNamespace(namespace));
  const rows = new RowFolder(cache);
  let cursor: string | undefined;
  do {
    const page = storage.listKeys ? await storage.listKeys(prefix, { cursor }) : await storage.list(prefix, { cursor });
    let last: string | null = null;
    for (const key of 'keys' in page ? page.keys : page.objects.map((o) => o.key)) last = rows.add(key) ?? last;
    cursor = page.cursor;
    // The last hash of a page may have more keys on the next one (its content key comes first: it is their prefix).
    const pending = cursor !== undefined && last !== null && rows.hashes.at(-1) === last ? 1 : 0;
    yield await withContentFacts(cache, namespace, rows.take(rows.hashes.length - pending));
  } while (cursor !== undefined);
}
