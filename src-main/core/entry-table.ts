/**
 * The entries browser's table: one compact row per hash of a namespace, built from one names-only
 * listing pass (StoreFormat.entryRows), sorted and filtered here so the renderer only ever asks for
 * the window it shows. While that listing runs (100,000 entries: seconds), windows in hash order
 * are served from a sorted listing read only as far as they reach (StoreFormat.sortedEntryRows);
 * any other order or a filter waits for the table. Tables are kept per open store (a WeakMap on its
 * format) and per namespace, the few most recently used; the app calls `changed` after it stores,
 * deletes or prunes. A change does not restart a listing under way: it runs to its end, and then
 * the namespace is listed again, with the last whole table shown meanwhile. So under a steady
 * stream of changes (a big drop into the namespace on show) the view is never more than two
 * listings old, instead of waiting for the changes to stop.
 */
import type { EntryColumn, EntryFilter, EntrySelection } from '../../src-shared/contract';
import { CacheError } from '../../src-shared/errors';
import { contentTypeOfName } from './content-type';
import type { FormatEntryRow, FormatStats, StoreFormat } from './formats/format';

/** Namespaces whose tables are kept per store: a 100,000-entry table is ~20 MB. */
const KEPT_TABLES = 4;

export interface EntryTableRow extends FormatEntryRow {
  type: string | null;
}

export interface EntryQuery {
  sort: EntryColumn;
  descending: boolean;
  filter: EntryFilter;
}

export interface EntryWindow {
  total: number;
  knownTotal: number;
  offset: number;
  rows: EntryTableRow[];
  located: number | null;
  types: string[];
  listing?: { listed: number; waitsForAll: boolean; previous?: boolean };
}

type SortKey = (row: EntryTableRow) => string | number | null;
const SORT_KEYS: Record<EntryColumn, SortKey> = {
  hash: (r) => r.hash,
  source: (r) => (r.source ? r.source.toLowerCase() : null),
  type: (r) => r.type,
  size: (r) => r.size,
  storedAt: (r) => r.storedAt,
  versions: (r) => r.versions,
};

class EntryTable {
  readonly types: string[];
  /** The last sorted, filtered order asked for: scrolling asks for the same one window after window. */
  private view: { key: string; order: Uint32Array } | null = null;

  constructor(
    readonly rows: EntryTableRow[],
    /** When the listing these rows came from began (ms): what was written after it may be missing. */
    readonly listedFrom: number,
  ) {
    this.types = [...new Set(rows.map((r) => r.type).filter((t): t is string => t !== null))].sort();
  }

  order(query: EntryQuery): Uint32Array {
    const key = JSON.stringify([query.sort, query.descending, query.filter]);
    if (this.view?.key === key) return this.view.order;
    const shown = matcher(query.filter);
    const picked: number[] = [];
    this.rows.forEach((row, i) => shown(row) && picked.push(i));
    const sortKey = SORT_KEYS[query.sort];
    const keys = this.rows.map(sortKey);
    const direction = query.descending ? -1 : 1;
    picked.sort((a, b) => {
      const ka = keys[a]!;
      const kb = keys[b]!;
      // Unknown values last in either direction; equal ones by hash, so the order is stable.
      if (ka !== kb) {
        if (ka === null) return 1;
        if (kb === null) return -1;
        return (ka < kb ? -1 : 1) * direction;
      }
      return this.rows[a]!.hash < this.rows[b]!.hash ? -1 : 1;
    });
    const order = Uint32Array.from(picked);
    this.view = { key, order };
    return order;
  }
}

function matcher(filter: EntryFilter): (row: EntryTableRow) => boolean {
  const name = (filter.name ?? '').toLowerCase();
  const type = (filter.type ?? '').toLowerCase();
  const from = filter.storedFrom ? new Date(filter.storedFrom).toISOString() : null;
  const to = filter.storedTo ? new Date(filter.storedTo).toISOString() : null;
  const { minSize, maxSize } = filter;
  return (row) => {
    if (name && !row.source.toLowerCase().includes(name) && !row.hash.includes(name)) return false;
    // Any part of the type: `image` (the major type), `json` (application/json), `text/plain`.
    if (type && !row.type?.toLowerCase().includes(type)) return false;
    if ((minSize !== undefined || maxSize !== undefined) && row.size === null) return false;
    if (minSize !== undefined && row.size! < minSize) return false;
    if (maxSize !== undefined && row.size! > maxSize) return false;
    if ((from || to) && row.storedAt === null) return false;
    if (from && row.storedAt! < from) return false;
    if (to && row.storedAt! > to) return false;
    return true;
  };
}

/** How long a window that needs the whole table waits for it before answering with the listing's progress. */
const WAIT_FOR_TABLE_MS = 250;
/**
 * A namespace a change made stale is listed again no sooner than this many times its last listing
 * took, after that listing ended: under a steady stream of stores into a 70,000-entry namespace (a
 * listing of a second or two) the listing takes a quarter of the time, not all of it, and windows
 * show the last listing, with its note, meanwhile.
 */
const RELIST_COST_FACTOR = 3;

/** The format's rows become the table's own: typed in place, not copied (70,000 copies held main ~70 ms). */
const typed = (r: FormatEntryRow): EntryTableRow => Object.assign(r, { type: contentTypeOfName(r.source) });
const isHashOrder = (q: EntryQuery) => q.sort === 'hash' && !q.descending && Object.values(q.filter).every((v) => v === undefined || v === '');

/**
 * One namespace's listing: the full listing that builds the table, shared by every window asked for
 * meanwhile, and beside it the first rows in hash order, read as far as windows ask (a few pages).
 * The full listing starts once the first rows are read (it takes every core), or at once for a window
 * that needs it; a sorted listing that reaches its end is the whole table, and then it never starts.
 */
class Listing {
  /** Entries the full listing has found so far. */
  private listedByAll = 0;
  table: EntryTable | null = null;
  readonly built: Promise<EntryTable>;
  private settle!: (table: EntryTable) => void;
  private fail!: (err: unknown) => void;
  private head: EntryTableRow[] = [];
  private headDone = false;
  private readonly pages: AsyncIterator<FormatEntryRow[]>;
  private reading: Promise<void> = Promise.resolve();
  private fullStarted = false;
  private readonly stopper = new AbortController();
  /** The namespace changed since this listing started: its table may miss that. */
  stale = false;
  private readonly startedAt = Date.now();
  /** When the table may be listed again after a change (see RELIST_COST_FACTOR). */
  relistAt = Infinity;

  constructor(
    private readonly format: StoreFormat,
    private readonly namespace: string,
    onFailed: () => void,
    /** The last whole table of the namespace, shown while this listing runs. */
    readonly previous: EntryTable | null,
  ) {
    this.built = new Promise((resolve, reject) => ((this.settle = resolve), (this.fail = reject)));
    this.built.catch(onFailed); // a listing that failed is not kept: the next call lists again
    this.pages = format.sortedEntryRows(namespace)[Symbol.asyncIterator]();
  }

  /** The table, once the full listing (started now if it is not yet) or the sorted one has ended. */
  whole(): Promise<EntryTable> {
    if (!this.table && !this.fullStarted) {
      this.fullStarted = true;
      const options = { onListed: (n: number) => (this.listedByAll = n), signal: this.stopper.signal };
      this.format.entryRows(this.namespace, options).then((rows) => this.done(new EntryTable(rows.map(typed), this.startedAt)), this.fail);
    }
    return this.built;
  }

  /** Replaced or dropped: no further page is read, and whoever waits on it asks the new listing. */
  stop(): void {
    if (this.stopped) return;
    this.stopper.abort(new CacheError('cancelled', `the listing of ${this.namespace} was replaced`));
    void this.pages.return?.();
    this.fail(this.stopper.signal.reason);
  }

  get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  get listed(): number {
    return Math.max(this.listedByAll, this.head.length);
  }

  private done(table: EntryTable): void {
    // A stopped listing's sorted pages may end early (their reader was closed): that is no whole table.
    if (this.table || this.stopped) return;
    const ended = Date.now();
    this.relistAt = ended + RELIST_COST_FACTOR * (ended - this.startedAt);
    this.table = table;
    this.head = [];
    void this.pages.return?.();
    this.settle(table);
  }

  /** Reads the sorted listing until it holds `rows` rows or ends; reads never overlap. */
  readHead(rows: number): Promise<void> {
    const read = this.reading.then(async () => {
      while (!this.table && !this.headDone && this.head.length < rows) {
        const page = await this.pages.next();
        if (page.done) this.headDone = true;
        else for (const row of page.value) this.head.push(typed(row));
      }
      if (this.headDone) this.done(new EntryTable(this.head, this.startedAt));
    });
    // A failed read fails the listing (it is dropped and the next call lists again).
    this.reading = read.catch(this.fail);
    return read;
  }

  /** What is listed so far in hash order: rows [offset, offset+limit), read on when they follow on from it. */
  async partialWindow(query: EntryQuery & { offset: number; limit: number; locate?: string }): Promise<EntryWindow | null> {
    const inOrder = isHashOrder(query);
    // A window in hash order from the listed rows on waits for the sorted listing's next page, anything else for the table (a while).
    const readsOn = inOrder && query.offset <= this.head.length;
    if (!readsOn) void this.whole();
    await Promise.race([this.built, readsOn ? this.readHead(query.offset + query.limit) : new Promise((resolve) => setTimeout(resolve, WAIT_FOR_TABLE_MS))]);
    void this.whole(); // the first rows are read: the full listing may take every core now
    if (this.table) return null;
    const index = inOrder && query.locate !== undefined ? this.head.findIndex((r) => r.hash === query.locate) : -1;
    const offset = index >= 0 ? Math.floor(index / query.limit) * query.limit : query.offset;
    const rows = inOrder ? this.head.slice(offset, offset + query.limit) : [];
    return { total: this.listed, knownTotal: this.listed, offset, rows, located: index >= 0 ? index : null, types: [], listing: { listed: this.listed, waitsForAll: !inOrder } };
  }
}

/** How long a namespace's counts serve other callers, when nothing changed it through this app since they began. */
const COUNTS_SHARED_MS = 3_000;

export class EntryTables {
  /** Insertion order is use order: the first is the least recently used. */
  private readonly listings = new Map<string, Listing>();
  /** Changes made through this app, per namespace and to any (`changed()`): counts begun before one are not shared after it. */
  private readonly changes = new Map<string, number>();
  private changesToAny = 0;
  private readonly counts = new Map<string, { changes: number; began: number; stats: Promise<FormatStats> }>();

  constructor(private readonly format: StoreFormat) {}

  private listing(namespace: string, refresh: boolean): Listing {
    let listing = this.listings.get(namespace);
    let previous: EntryTable | null = null;
    // Listed again: on a refresh, or once a listing a change made stale has ended (not before:
    // restarted at every change, a listing under a steady stream of them would never end), paced by
    // what that listing cost.
    if (listing && (refresh || (listing.stale && listing.table && Date.now() >= listing.relistAt))) {
      previous = listing.table ?? listing.previous;
      this.drop(namespace);
      listing = undefined;
    }
    if (!listing) {
      const started: Listing = new Listing(this.format, namespace, () => this.listings.get(namespace) === started && this.listings.delete(namespace), previous);
      listing = started;
    }
    this.listings.delete(namespace);
    this.listings.set(namespace, listing);
    if (this.listings.size > KEPT_TABLES) this.drop(this.listings.keys().next().value!);
    return listing;
  }

  /** Forgets a namespace's listing and stops it, if it is still reading. */
  private drop(namespace: string): void {
    this.listings.get(namespace)?.stop();
    this.listings.delete(namespace);
  }

  /** The app changed a namespace (or, without one, anything): it is listed again once its listing under way has ended. */
  changed(namespace?: string): void {
    if (namespace === undefined) this.changesToAny++;
    else this.changes.set(namespace, (this.changes.get(namespace) ?? 0) + 1);
    for (const ns of namespace === undefined ? [...this.listings.keys()] : [namespace]) {
      const listing = this.listings.get(ns);
      if (listing) listing.stale = true;
    }
  }

  /**
   * A namespace's counts (`StoreFormat.stats`: one listing of it), shared by whoever asks while it is
   * under way, or within COUNTS_SHARED_MS after it began, when nothing changed the namespace through
   * this app since: several windows following one stream of changes, or a window's own store and
   * main's announcement of it, cost one listing, not one each (a second of the bridge's time for
   * 70,000 entries). Another process's changes show after those few seconds.
   */
  stats(namespace: string): Promise<FormatStats> {
    const changes = (this.changes.get(namespace) ?? 0) + this.changesToAny;
    const shared = this.counts.get(namespace);
    if (shared && shared.changes === changes && Date.now() - shared.began < COUNTS_SHARED_MS) return shared.stats;
    const stats = this.format.stats(namespace);
    const entry = { changes, began: Date.now(), stats };
    this.counts.set(namespace, entry);
    stats.catch(() => this.counts.get(namespace) === entry && this.counts.delete(namespace)); // a failed count is not shared
    return stats;
  }

  /** `read` on the namespace's listing; on the new one when the listing it started on was replaced meanwhile. */
  private async onListing<T>(namespace: string, refresh: boolean, read: (listing: Listing) => Promise<T>): Promise<T> {
    const listing = this.listing(namespace, refresh);
    try {
      return await read(listing);
    } catch (err) {
      if (listing.stopped) return this.onListing(namespace, false, read);
      throw err;
    }
  }

  /**
   * Rows [offset, offset+limit) of the sorted, filtered list; with `locate`, the window that holds
   * that hash's row. While the namespace is still being listed, what is listed so far (`listing`).
   */
  window(namespace: string, query: EntryQuery & { offset: number; limit: number; locate?: string; refresh?: boolean }): Promise<EntryWindow> {
    return this.onListing(namespace, query.refresh ?? false, (listing) => this.windowOf(listing, query));
  }

  private async windowOf(listing: Listing, query: EntryQuery & { offset: number; limit: number; locate?: string }): Promise<EntryWindow> {
    if (!listing.table && listing.previous) {
      // Listed again after a change: the last whole table is shown until the new one is whole.
      await Promise.race([listing.whole(), new Promise((resolve) => setTimeout(resolve, WAIT_FOR_TABLE_MS))]);
      if (!listing.table) return { ...tableWindow(listing.previous, query), listing: { listed: listing.listed, waitsForAll: false, previous: true } };
    }
    const partial = listing.table ? null : await listing.partialWindow(query);
    if (partial) return partial;
    const window = tableWindow(listing.table!, query);
    // Changed since this table was listed: shown, and the next window lists again (ask again).
    return listing.stale ? { ...window, listing: { listed: window.knownTotal, waitsForAll: false, previous: true } } : window;
  }

  /** The rows a selection names, in the table as it is now: hashes no longer there are left out. */
  /**
   * The rows a selection names, and when their listing began. Listed afresh if a change made the
   * current listing stale (an action acts on what is there now), unless `asShown`: then from the
   * table the lists were last shown (a delete compares each row with what is there now, and one
   * listed afresh here would take what the operator never saw for what they saw).
   */
  async selected(namespace: string, selection: EntrySelection, { asShown = false } = {}): Promise<{ rows: EntryTableRow[]; listedFrom: number }> {
    const current = this.listings.get(namespace);
    const shown = asShown ? (current?.table ?? current?.previous) : undefined;
    const table = shown ?? (await this.onListing(namespace, current?.stale ?? false, (listing) => listing.whole()));
    const { listedFrom } = table;
    if ('hashes' in selection) {
      const wanted = new Set(selection.hashes.map((h) => h.toLowerCase()));
      return { rows: table.rows.filter((r) => wanted.has(r.hash)), listedFrom };
    }
    const except = new Set(selection.except.map((h) => h.toLowerCase()));
    const rows = table.rows.filter(matcher(selection.filter)).filter((r) => !except.has(r.hash));
    if (rows.length !== selection.count) {
      throw new CacheError('conflict', `the list changed since the selection was made: ${rows.length.toLocaleString('en-US')} ${rows.length === 1 ? 'entry matches' : 'entries match'} it now, ${selection.count.toLocaleString('en-US')} ${selection.count === 1 ? 'was' : 'were'} selected; nothing was done (select again)`);
    }
    return { rows, listedFrom };
  }
}

function tableWindow(table: EntryTable, query: EntryQuery & { offset: number; limit: number; locate?: string }): EntryWindow {
  const order = table.order(query);
  let located: number | null = null;
  let offset = query.offset;
  if (query.locate !== undefined) {
    const index = order.findIndex((i) => table.rows[i]!.hash === query.locate);
    if (index >= 0) {
      located = index;
      // Aligned to the window size, so a renderer keeping fixed blocks can keep this one.
      offset = Math.floor(index / query.limit) * query.limit;
    }
  }
  offset = Math.min(offset, Math.max(0, order.length - 1));
  const rows = Array.from(order.subarray(offset, offset + query.limit), (i) => table.rows[i]!);
  return { total: order.length, knownTotal: table.rows.length, offset, rows, located, types: table.types };
}

const kept = new WeakMap<StoreFormat, EntryTables>();

/** The open store's tables: a store switched to is a new format, so tables never outlive their store. */
export function entryTablesOf(format: StoreFormat): EntryTables {
  let tables = kept.get(format);
  if (!tables) kept.set(format, (tables = new EntryTables(format)));
  return tables;
}
