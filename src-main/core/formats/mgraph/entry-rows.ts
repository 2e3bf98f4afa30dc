/** The service layout's entries browser rows: one listing of `<ns>/refs/by-hash/`, no ref read. */
import { forEachPage } from '../../storage/list-page';
import type { StorageBackend } from '../../storage/types';
import type { FormatEntryRow } from '../format';
import { classifyKey, isServiceHash } from './keys';

/**
 * A by-hash ref's name is its hash and it is rewritten by every store of the hash, so its modified
 * time is the latest version's store time (or a later delete's). Versions, size and source are in
 * the refs and by-id refs: reading them would cost one to two reads per entry, so they stay unknown.
 */
export async function serviceEntryRows(storage: StorageBackend, ns: string): Promise<FormatEntryRow[]> {
  const rows: FormatEntryRow[] = [];
  await forEachPage(storage, `${ns}/refs/by-hash/`, (page) => {
    for (const o of page.objects) {
      const c = classifyKey(o.key);
      if (c?.kind === 'ref_by_hash' && isServiceHash(c.id!)) rows.push({ hash: c.id!, versions: null, version: null, storedAt: o.modified, size: null, source: '' });
    }
  });
  return rows;
}
