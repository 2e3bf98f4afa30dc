/** The native layout's entries browser rows: one names-only listing of `<ns>/objects/`, no record read. */
import { parseNamespace } from '../../../../src-shared/domain';
import type { CacheService } from '../../cache-service';
import { forEachKey } from '../../storage/list-page';
import type { FormatEntryRow } from '../format';

/**
 * A hash is a row when its content is listed (as the namespace's entry count counts it); its index
 * entries (`<hash>~<ver>~<time>~<size>~<source>`) give the versions, and the latest's time, size and source.
 */
export async function nativeEntryRows(cache: CacheService, namespace: string): Promise<FormatEntryRow[]> {
  const { layout } = cache;
  const listed = new Map<string, FormatEntryRow>();
  const withContent: string[] = [];
  await forEachKey(cache.storage, layout.objectsPrefix(parseNamespace(namespace)), (key) => {
    const described = layout.describeKey(key);
    if (described?.kind === 'content') withContent.push(described.hash);
    if (described?.kind !== 'version_entry') return;
    const v = layout.parseVersionEntry(described.hash, key);
    if (!v) return;
    const row = listed.get(described.hash);
    if (!row) listed.set(described.hash, { hash: described.hash, versions: 1, version: v.version, storedAt: v.stored_at, size: v.size, source: v.source });
    else {
      row.versions!++;
      if (v.version > row.version!) Object.assign(row, { version: v.version, storedAt: v.stored_at, size: v.size, source: v.source });
    }
  });
  // Content no index entry names yet (a store in flight) is still an entry, with what is known.
  return withContent.map((hash) => listed.get(hash) ?? { hash, versions: null, version: null, storedAt: null, size: null, source: '' });
}
