/**
 * The entries browser's state: windows of main's sorted, filtered table, fetched a block at a time
 * as the list scrolls (so a jump anywhere in 100,000 entries fetches one block), and a selection
 * main resolves (some hashes, or all the filter shows but some) for bulk delete and save.
 */
import type { CacheAdminApi, EntriesWindow, EntryColumn, EntryFilter, EntryListItem, EntrySelection, Result } from '../../src-shared/contract';
import type { ErrorInfo } from '../../src-shared/errors';

/** Rows per fetch: a few screens, one contract page at most. */
export const ENTRY_BLOCK = 200;
/** Hashes one selection may name (LIMITS.pageSize); Ctrl+A selects any number. */
export const MAX_PICKED = 1000;
/** How often a namespace still being listed is asked about again. */
const LISTING_POLL_MS = 400;

export interface EntriesBrowser {
  namespace: string;
  sort: EntryColumn;
  descending: boolean;
  filter: EntryFilter;
  /** Entries the filter shows, and in the namespace; null until main has answered. */
  total: number | null;
  knownTotal: number | null;
  types: string[];
  /** Fetched blocks of rows, by block number. */
  blocks: Record<number, EntryListItem[]>;
  status: 'idle' | 'loading' | 'ready' | 'error';
  /** While main is still listing the namespace: how far it is, and whether this order or filter waits for all of it. */
  listing: EntriesWindow['listing'] | null;
  error?: ErrorInfo;
  /** `all`: every entry the filter shows except `hashes`; else just `hashes`. */
  selection: { all: boolean; hashes: string[] };
  /** Bumped whenever the list must be fetched afresh: blocks of an older generation are dropped. */
  generation: number;
}

export function emptyEntries(namespace: string, generation = 0): EntriesBrowser {
  return { namespace, sort: 'hash', descending: false, filter: {}, total: null, knownTotal: null, types: [], blocks: {}, status: 'idle', listing: null, selection: { all: false, hashes: [] }, generation };
}

export function rowAt(entries: EntriesBrowser, index: number): EntryListItem | undefined {
  return entries.blocks[Math.floor(index / ENTRY_BLOCK)]?.[index % ENTRY_BLOCK];
}

export function isSelected(entries: EntriesBrowser, hash: string): boolean {
  return entries.selection.all !== entries.selection.hashes.includes(hash);
}

export function selectedCount(entries: EntriesBrowser): number {
  const { all, hashes } = entries.selection;
  return all ? Math.max(0, (entries.total ?? 0) - hashes.length) : hashes.length;
}

export function selectionOf(entries: EntriesBrowser): EntrySelection | null {
  const { all, hashes } = entries.selection;
  if (all) return { filter: entries.filter, except: hashes, count: selectedCount(entries) };
  return hashes.length ? { hashes } : null;
}

type Set_ = (change: (s: { entries: EntriesBrowser }) => { entries: EntriesBrowser }) => void;

/** Fetches the blocks a visible range needs and are not there yet; answers for another generation or namespace are dropped. */
export function blockLoader(api: CacheAdminApi, get: () => { entries: EntriesBrowser }, set: Set_) {
  const inFlight = new Set<string>();
  /** The located hash's index; null: not in the list as shown (listed whole); undefined: no answer (asked already, another list by now, a failure, still listing). */
  async function fetchBlock(block: number, locate?: string, refresh = false): Promise<number | null | undefined> {
    const { entries } = get();
    const key = `${entries.namespace}:${entries.generation}:${block}:${locate ?? ''}`;
    if (inFlight.has(key)) return undefined;
    inFlight.add(key);
    const { namespace, generation, sort, descending, filter } = entries;
    if (entries.status === 'idle') set((s) => ({ entries: { ...s.entries, status: 'loading' } }));
    const result: Result<EntriesWindow> = await api.entries({ namespace, offset: block * ENTRY_BLOCK, limit: ENTRY_BLOCK, sort, descending, filter, locate, refresh });
    inFlight.delete(key);
    const now = get().entries;
    if (now.namespace !== namespace || now.generation !== generation) return undefined;
    if (!result.ok) {
      // Nothing of this listing came: the count it had is no longer known (no rows wait as "loading").
      set((s) => ({ entries: { ...s.entries, status: 'error', error: result.error, listing: null, ...(Object.keys(s.entries.blocks).length === 0 && { total: null, knownTotal: null }) } }));
      return undefined;
    }
    const w = result.value;
    // The listing just ended: every block is fetched again from the whole table.
    const blocks = now.listing && !w.listing ? {} : { ...now.blocks };
    // Past the end of a list that shrank, or rows still being listed: nothing to keep.
    if (w.offset % ENTRY_BLOCK === 0 && !(w.listing && w.rows.length === 0)) blocks[w.offset / ENTRY_BLOCK] = w.rows;
    // Ctrl+A picked the entries on show: once a change (a drop, a store elsewhere) shows another number, it no longer says which.
    const changed = now.selection.all && !w.listing && now.total !== null && w.total !== now.total;
    const selection = changed ? { all: false, hashes: [] } : now.selection;
    set((s) => ({ entries: { ...s.entries, blocks, total: w.total, knownTotal: w.knownTotal, types: w.types, listing: w.listing ?? null, status: 'ready', error: undefined, selection } }));
    if (w.listing) pollListing();
    return w.located ?? (w.listing ? undefined : null);
  }
  let polling: ReturnType<typeof setTimeout> | null = null;
  /** Asks again while main lists (whatever list is on show by then), until an answer says the listing is complete. */
  function pollListing() {
    polling ??= setTimeout(() => {
      polling = null;
      if (get().entries.listing) void fetchBlock(0);
    }, LISTING_POLL_MS);
  }
  return {
    /** Rows [first, last] on show: their blocks are fetched once each. */
    loadRange(first: number, last: number): Promise<unknown> {
      const { entries } = get();
      const wanted: Promise<unknown>[] = [];
      for (let b = Math.floor(Math.max(0, first) / ENTRY_BLOCK); b <= Math.floor(Math.max(0, last) / ENTRY_BLOCK); b++) {
        if (!entries.blocks[b]) wanted.push(fetchBlock(b));
      }
      return Promise.all(wanted);
    },
    /** Where a hash is in the list as sorted and filtered now (its block fetched): see fetchBlock. */
    async locate(hash: string): Promise<number | null | undefined> {
      return fetchBlock(0, hash);
    },
    first: (refresh: boolean) => fetchBlock(0, undefined, refresh),
  };
}
