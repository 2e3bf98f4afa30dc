/**
 * The entries browser's table: one compact row per hash of a namespace, built from one names-only
 * listing pass (StoreFormat.entryRows), sorted and filtered here so the renderer only ever asks for
 * the window it shows. Tables are kept per open store (a WeakMap on its format) and per namespace,
 * the few most recently used; the app calls `changed` after it stores, deletes or prunes.
 */
import type { EntryColumn, EntryFilter, EntrySelection } from '../../src-shared/contract';
import { contentTypeOfName } from './content-type';
import type { FormatEntryRow, StoreFormat } from './formats/format';

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

  constructor(readonly rows: EntryTableRow[]) {
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
  const type = filter.type ?? '';
  const from = filter.storedFrom ? new Date(filter.storedFrom).toISOString() : null;
  const to = filter.storedTo ? new Date(filter.storedTo).toISOString() : null;
  const { minSize, maxSize } = filter;
  return (row) => {
    if (name && !row.source.toLowerCase().includes(name) && !row.hash.includes(name)) return false;
    if (type && row.type !== type && !row.type?.startsWith(`${type}/`)) return false;
    if ((minSize !== undefined || maxSize !== undefined) && row.size === null) return false;
    if (minSize !== undefined && row.size! < minSize) return false;
    if (maxSize !== undefined && row.size! > maxSize) return false;
    if ((from || to) && row.storedAt === null) return false;
    if (from && row.storedAt! < from) return false;
    if (to && row.storedAt! > to) return false;
    return true;
  };
}

export class EntryTables {
  /** Insertion order is use order: the first is the least recently used. */
  private readonly tables = new Map<string, Promise<EntryTable>>();

  constructor(private readonly format: StoreFormat) {}

  private table(namespace: string, refresh: boolean): Promise<EntryTable> {
    let table = refresh ? undefined : this.tables.get(namespace);
    if (!table) {
      table = this.format.entryRows(namespace).then((rows) => new EntryTable(rows.map((r) => ({ ...r, type: contentTypeOfName(r.source) }))));
      // A listing that failed is not kept: the next call lists again.
      table.catch(() => this.tables.get(namespace) === table && this.tables.delete(namespace));
    }
    this.tables.delete(namespace);
    this.tables.set(namespace, table);
    if (this.tables.size > KEPT_TABLES) this.tables.delete(this.tables.keys().next().value!);
    return table;
  }

  /** The app changed a namespace (or, without one, anything): its table is listed again when next asked for. */
  changed(namespace?: string): void {
    if (namespace === undefined) this.tables.clear();
    else this.tables.delete(namespace);
  }

  /** Rows [offset, offset+limit) of the sorted, filtered list; with `locate`, the window that holds that hash's row. */
  async window(namespace: string, query: EntryQuery & { offset: number; limit: number; locate?: string; refresh?: boolean }): Promise<EntryWindow> {
    const table = await this.table(namespace, query.refresh ?? false);
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

  /** The rows a selection names, in the table as it is now: hashes no longer there are left out. */
  async selected(namespace: string, selection: EntrySelection): Promise<EntryTableRow[]> {
    const table = await this.table(namespace, false);
    if ('hashes' in selection) {
      const wanted = new Set(selection.hashes.map((h) => h.toLowerCase()));
      return table.rows.filter((r) => wanted.has(r.hash));
    }
    const except = new Set(selection.except.map((h) => h.toLowerCase()));
    return table.rows.filter(matcher(selection.filter)).filter((r) => !except.has(r.hash));
  }
}

const kept = new WeakMap<StoreFormat, EntryTables>();

/** The open store's tables: a store switched to is a new format, so tables never outlive their store. */
export function entryTablesOf(format: StoreFormat): EntryTables {
  let tables = kept.get(format);
  if (!tables) kept.set(format, (tables = new EntryTables(format)));
  return tables;
}
