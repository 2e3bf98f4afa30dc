import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef, useState, type KeyboardEvent, type MouseEvent } from 'react';
import { COLUMN_FIELD, type EntryColumn, type EntryFilter, type ListedTime, type UnlistedField } from '../../src-shared/contract';
import { counted, formatBytes, formatCount, formatTime } from '../lib/format';
import { shownName } from '../../src-shared/printable';
import { useApp } from '../state/context';
import { shownEntryHash } from '../state/store';
import { ENTRY_BLOCK, MAX_PICKED, isSelected, rowAt, selectedCount, type EntriesBrowser } from '../state/entries-browser';
import { AsIs, Empty, ErrorLine, Modal, Panel, READ_ONLY_REASON, useReadOnly } from './common';

const ROW_HEIGHT = 30;
/** How long keys rest on a row before the entry panel opens it. */
const FOLLOW_DELAY_MS = 150;
const COLUMNS: [EntryColumn, string][] = [
  ['hash', 'Hash'],
  ['source', 'Name'],
  ['type', 'Type'],
  ['size', 'Size'],
  ['versions', 'Versions'],
  ['storedAt', 'Stored'],
];
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

const hasFilter = (filter: EntryFilter) => Object.values(filter).some((v) => v !== undefined && v !== '');

/** `1.5 MB`, `200k`, `42`: bytes; undefined for empty or unreadable text (the field says so). */
function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  const bytes = m && unit ? Math.round(Number(m[1]) * unit) : undefined;
  return bytes !== undefined && Number.isSafeInteger(bytes) ? bytes : undefined; // beyond that, no size: the field says so
}

/** Every entry of the selected namespace: main sorts and filters, the list fetches only the rows on show. */
export function EntriesPanel() {
  const entries = useApp((s) => s.entries);
  const loadRange = useApp((s) => s.loadEntryRange);
  const setQuery = useApp((s) => s.setEntryQuery);
  const locate = useApp((s) => s.locateEntry);
  const setSelection = useApp((s) => s.setEntrySelection);
  const unlisted = useApp((s) => (s.capabilities.status === 'ready' ? s.capabilities.data.unlisted : NONE_UNLISTED));
  const listedTime = useApp((s) => (s.capabilities.status === 'ready' ? s.capabilities.data.listedTime : 'stored'));
  const selectEntryRange = useApp((s) => s.selectEntryRange);
  const refresh = useApp((s) => s.refreshEntries);
  const lookup = useApp((s) => s.lookup);
  const setInput = useApp((s) => s.setLookupInput);
  const notify = useApp((s) => s.notify);
  const readOnly = useReadOnly();
  const shownHash = useApp(shownEntryHash);
  /** The entry panel has settled on what it shows (not loading the next one). */
  const entrySettled = useApp((s) => s.entry.status !== 'loading');
  const scrollRef = useRef<HTMLDivElement>(null);
  const [active, setActive] = useState(0);
  /** Where a Shift-click or Shift+arrow range starts, in this list (another namespace, filter or order has none yet). */
  const [anchor, setAnchor] = useState<number | null>(null);
  const [confirming, setConfirming] = useState<'delete' | 'save' | null>(null);
  /** End pressed while main was still listing (in this generation of the list): the last row is gone to once the listing is complete. */
  const [endPressedIn, setEndPressedIn] = useState<number | null>(null);
  const endWanted = endPressedIn === entries.generation;
  /** Ctrl+A pressed while a change was listed again: every entry is selected once the listing is whole (its count is then known). */
  const [selectAllPending, setSelectAllPending] = useState(false);
  const { listing } = entries;
  // An order or filter that waits for the whole listing has no rows to show yet, only its progress.
  const total = listing?.waitsForAll ? 0 : (entries.total ?? 0);
  // Off with no rows (no scroll box), so it forgets its offset: re-applied to the box that comes back, the browser clamped it unsaid and the rows sat out of sight.
  const virtualizer = useVirtualizer({ count: total, enabled: total > 0, getScrollElement: () => scrollRef.current, estimateSize: () => ROW_HEIGHT, overscan: 20, initialRect: { width: 600, height: 600 } });
  const items = virtualizer.getVirtualItems();
  const firstShown = items[0]?.index ?? 0;
  const lastShown = items[items.length - 1]?.index ?? 0;

  // The rows on show, fetched a block at a time (the first block tells how many there are).
  const unknown = entries.total === null && entries.status !== 'error';
  const complete = listing === null;
  useEffect(() => {
    if (unknown || total > 0) void loadRange(firstShown, lastShown);
  }, [firstShown, lastShown, total, unknown, complete, entries.generation, loadRange]);

  function moveTo(index: number) {
    setSelectAllPending(false);
    setActive(index);
    virtualizer.scrollToIndex(index, { align: 'auto' });
    setAnchor(index);
    const row = rowAt(entries, index);
    // A row not fetched yet (a jump to the end) is selected once its block is there.
    if (row) setSelection({ all: false, hashes: [row.hash] });
    else void selectEntryRange(index, index);
  }

  // Another namespace, filter or order starts at its first row, not where the last list was scrolled to.
  const query = `${entries.namespace}\n${entries.sort}\n${entries.descending}\n${JSON.stringify(entries.filter)}`;
  useEffect(() => {
    if (scrollRef.current) scrollRef.current.scrollTop = 0;
    setSelectAllPending(false);
    setFollowing(null);
    setAnchor(null);
    setActive(0);
  }, [query]);
  useEffect(() => {
    if (!selectAllPending || !complete) return;
    setSelectAllPending(false);
    setSelection({ all: true, hashes: [] });
  }, [selectAllPending, complete, setSelection]);

  // The entry panel follows the row the keys move to once they rest (holding a key opens no entry per row
  // passed); a row far away opens once its block is fetched.
  const [following, setFollowing] = useState<number | null>(null);
  const followingRef = useRef(following);
  followingRef.current = following;
  const followedHash = following === null ? null : (rowAt(entries, following)?.hash ?? null);
  useEffect(() => {
    if (followedHash === null) return;
    const timer = setTimeout(() => {
      setFollowing(null);
      setInput(followedHash);
      void lookup(followedHash);
    }, FOLLOW_DELAY_MS);
    return () => clearTimeout(timer);
  }, [followedHash, lookup, setInput]);

  // The entry on show is the selected row, however it was opened, even far from the rows fetched so far;
  // a selection that already holds it (Ctrl+A pressed while it was opening) is kept. Found again in a
  // list fetched afresh (a Refresh, a change, another order), it is scrolled to, and the rows picked
  // since it opened stay picked.
  const entriesRef = useRef(entries);
  entriesRef.current = entries;
  const selectedFor = useRef<string | null>(null);
  useEffect(() => {
    // The panel is about no row of the list now (nothing found, or cleared): the row picked only for
    // what was on show is picked no more, so the list's Delete… never acts on another entry than the one shown.
    const release = () => {
      const { all, hashes } = entriesRef.current.selection;
      if (!all && hashes.length === 1 && hashes[0] === selectedFor.current) setSelection({ all: false, hashes: [] });
      selectedFor.current = null;
    };
    if (!entrySettled) return;
    if (!shownHash) return release();
    if (followingRef.current !== null) return; // keys moved on since: an older entry arriving does not pull the list back
    let stale = false;
    void locate(shownHash).then((index) => {
      if (stale || index === undefined) return;
      if (index === null) return release();
      setActive(index);
      setAnchor(index);
      virtualizer.scrollToIndex(index, { align: 'auto' });
      if (selectedFor.current === shownHash) return;
      selectedFor.current = shownHash;
      if (!isSelected(entriesRef.current, shownHash)) setSelection({ all: false, hashes: [shownHash] });
    });
    return () => void (stale = true);
  }, [shownHash, entrySettled, entries.generation, complete, locate, setSelection, virtualizer]); // a row not listed yet is found once the listing is complete

  function open(index: number) {
    setFollowing(null);
    const entry = rowAt(entries, index);
    if (!entry) return;
    moveTo(index);
    setInput(entry.hash);
    void lookup(entry.hash);
  }

  function toggle(index: number) {
    const row = rowAt(entries, index);
    if (!row) return;
    const { all, hashes } = entries.selection;
    setFollowing(null);
    setSelectAllPending(false);
    const next = hashes.includes(row.hash) ? hashes.filter((h) => h !== row.hash) : [...hashes, row.hash];
    if (!all && next.length > MAX_PICKED) return notify(`At most ${formatCount(MAX_PICKED)} entries can be picked one by one: Ctrl+A selects every entry the filter shows`);
    setAnchor(index);
    setActive(index);
    setSelection({ all, hashes: next });
  }

  /** Picks the rows from the anchor to `to`; with no anchor in this list, from `start` (the keys' row), or, clicked, the row alone. */
  function selectRange(to: number, start: number | null = null) {
    const from = anchor ?? start;
    if (from === null) return open(to);
    setAnchor(from);
    setFollowing(null);
    setSelectAllPending(false);
    setActive(to);
    void selectEntryRange(from, to);
  }

  function onClick(event: MouseEvent, index: number) {
    if (event.shiftKey) return selectRange(index);
    if (event.ctrlKey || event.metaKey) return toggle(index);
    open(index);
  }

  function onKey(event: KeyboardEvent) {
    if (event.key === 'Enter') return open(active);
    if (event.key === ' ') {
      event.preventDefault();
      return toggle(active);
    }
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'a') {
      event.preventDefault();
      // Its count would be what is listed so far, not what a bulk action would act on.
      if (listing && !listing.previous) return notify('Every entry can be selected once the namespace is listed');
      // A change is being listed: the rows on show are the last whole listing, about to be replaced.
      if (listing) return setSelectAllPending(true);
      return setSelection({ all: true, hashes: [] });
    }
    if (event.key === 'Escape') {
      setSelectAllPending(false);
      return setSelection({ all: false, hashes: [] });
    }
    if (event.key === 'Delete' && selectedCount(entries) > 0 && !readOnly) return setConfirming('delete');
    const page = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? 0) / ROW_HEIGHT) - 1);
    const moves: Record<string, number> = { ArrowDown: active + 1, ArrowUp: active - 1, PageDown: active + page, PageUp: active - page, Home: 0, End: total - 1 };
    const target = moves[event.key];
    if (target === undefined || total === 0) return;
    event.preventDefault();
    if (event.key === 'End' && listing) return setEndPressedIn(entries.generation);
    const next = Math.max(0, Math.min(total - 1, target));
    if (event.shiftKey) {
      setActive(next);
      virtualizer.scrollToIndex(next, { align: 'auto' });
      return selectRange(next, active);
    }
    if (event.ctrlKey || event.metaKey) {
      // Moves focus only, as a listbox does: Space then adds the row, so rows apart are picked from the keyboard.
      setFollowing(null);
      setActive(next);
      return virtualizer.scrollToIndex(next, { align: 'auto' });
    }
    moveTo(next);
    setFollowing(next);
  }

  useEffect(() => {
    if (!endWanted || !complete) return;
    setEndPressedIn(null);
    if (total > 0) {
      moveTo(total - 1);
      setFollowing(total - 1);
    }
  }, [endWanted, complete, total]); // moveTo reads the entries of this render

  const selected = selectedCount(entries);
  const sortBy = (column: EntryColumn) => setQuery(entries.sort === column ? { descending: !entries.descending } : { sort: column, descending: false });
  const counts = entries.total === null || listing ? '' : entries.total === entries.knownTotal ? counted(entries.total, 'entry', 'entries') : `${formatCount(entries.total)} of ${counted(entries.knownTotal ?? 0, 'entry', 'entries')}`;

  return (
    <Panel
      label="Entries"
      className="entries-panel"
      title={
        <>
          Entries in <AsIs>{entries.namespace}</AsIs>
        </>
      }
      actions={
        <>
          <span className="muted" data-testid="entries-count">
            {counts}
            {selected > 0 && ` · ${formatCount(selected)} selected`}
          </span>
          <button type="button" onClick={() => refresh()} title="List the namespace again (changes made by other programs)">
            Refresh
          </button>
          <button type="button" disabled={selected === 0} onClick={() => setConfirming('save')}>
            Save…
          </button>
          <button type="button" className="danger" disabled={selected === 0 || readOnly} title={readOnly ? READ_ONLY_REASON : undefined} onClick={() => setConfirming('delete')}>
            Delete…
          </button>
        </>
      }
    >
      <EntryFilters key={`${entries.namespace}:${entries.generation === 0}`} filter={entries.filter} types={entries.types} unlisted={unlisted} timeLabel={TIME_LABEL[listedTime]} onChange={(filter) => setQuery({ filter })} />
      <div className="entry-columns" role="group" aria-label="Sort entries by">
        {COLUMNS.map(([column, columnLabel]) => {
          // A fact the layout's listing does not carry sorts nothing: every row would tie.
          const field = COLUMN_FIELD[column];
          const unsortable = field !== undefined && unlisted.includes(field);
          const label = column === 'storedAt' ? TIME_LABEL[listedTime] : columnLabel;
          return (
            <button
              key={column}
              type="button"
              className={`col-${column}`}
              data-short={column === 'versions' ? '#' : undefined}
              aria-pressed={entries.sort === column}
              disabled={unsortable}
              onClick={() => sortBy(column)}
              title={unsortable ? `This layout's listing has no ${UNLISTED_WORDS[field]}: sort by hash or store time` : column === 'storedAt' ? `${listedTime === 'ref_written' ? REF_WRITTEN_MEANS : `Sort by ${label.toLowerCase()}`} (times in UTC)` : `Sort by ${label.toLowerCase()}`}
            >
              {label}
              {entries.sort === column ? (entries.descending ? ' ▼' : ' ▲') : ''}
            </button>
          );
        })}
      </div>
      {entries.status === 'error' &&
        entries.error &&
        // The bar above says why, with Reconnect: the list only says what it could not do.
        (entries.error.code === 'storage_unreachable' ? (
          <p className="error" role="alert">
            Not listed: the store is missing or unreachable.
          </p>
        ) : (
          <ErrorLine error={entries.error} />
        ))}
      {listing && (
        <p className="muted" role="status" data-testid="entries-listing">
          {listing.previous
            ? 'Changed since it was listed: showing the last full listing while the namespace is listed again…'
            : listing.waitsForAll
              ? `${hasFilter(entries.filter) ? 'Filtering' : 'Sorting'} needs the full listing: ${formatCount(listing.listed)} listed`
              : `Listing… ${formatCount(listing.listed)} so far`}
          {endWanted && ' (End goes to the last entry once all are listed)'}
        </p>
      )}
      {entries.status === 'ready' && !listing && entries.knownTotal === 0 && <Empty>This namespace has no entries yet.</Empty>}
      {entries.status === 'ready' && !listing && entries.knownTotal !== 0 && total === 0 && <Empty>No entry matches the filter.</Empty>}
      {(entries.status === 'idle' || entries.status === 'loading') && entries.total === null && <p className="muted" role="status">Listing the namespace…</p>}
      {total > 0 && (
        <div
          className="virtual-scroll"
          ref={scrollRef}
          role="listbox"
          aria-label="Entry list"
          aria-multiselectable="true"
          tabIndex={0}
          onKeyDown={onKey}
          onBlur={() => setFollowing(null)} // the operator went elsewhere (the lookup box): the row left is not opened over it
          aria-activedescendant={rowAt(entries, active) ? `entry-${active}` : undefined}
        >
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
            {items.map((item) => {
              const entry = rowAt(entries, item.index);
              const picked = entry ? isSelected(entries, entry.hash) : false;
              return (
                <div
                  key={item.key}
                  id={`entry-${item.index}`}
                  role="option"
                  aria-selected={picked}
                  className={`entry-row ${picked ? 'selected' : ''} ${item.index === active ? 'active' : ''}`}
                  style={{ transform: `translateY(${item.start}px)`, height: ROW_HEIGHT }}
                  onMouseDown={(event) => {
                    if (!event.shiftKey) return;
                    event.preventDefault(); // Shift+click picks rows, not their text; the list still takes the keys that follow
                    scrollRef.current?.focus({ preventScroll: true });
                  }}
                  onClick={(event) => onClick(event, item.index)}
                >
                  {entry ? (
                    <>
                      <code className="hash">{entry.hash}</code>
                      <span className="name" title={shownName(entry.source)}>
                        {entry.content_missing && (
                          <span className="badge expired" data-short="!" title="Its content is not in the store (lost or deleted by hand): open it to verify or delete it">
                            content missing
                          </span>
                        )}
                        {entry.versions === 0 && (
                          <span className="badge expired" data-short={entry.source ? '∅' : undefined} title="Content that no version uses: a store stopped before its record (or one still writing it). Delete it, or Verify and repair moves it to the quarantine">
                            no version
                          </span>
                        )}
                        {entry.expired && <span className="badge expired" data-short="exp" title={`expired at ${entry.expires_at ? formatTime(entry.expires_at) : ''}`}>expired</span>} <ShownName name={shownName(entry.source)} />
                      </span>
                      <span className="type" title={entry.content_type ?? ''}>
                        <ShownType type={entry.content_type ?? ''} />
                      </span>
                      <span className="size">{entry.size === null ? '' : formatBytes(entry.size)}</span>
                      <span className="versions">{entry.versions ?? ''}</span>
                      <span className="time" title={entry.stored_at ? formatTime(entry.stored_at) : ''}>
                        {entry.stored_at && (
                          <>
                            {formatTime(entry.stored_at).slice(0, 10)}
                            <span className="clock">{formatTime(entry.stored_at).slice(10, 16)}</span>
                          </>
                        )}
                      </span>
                    </>
                  ) : (
                    <span className="muted">
                      {entries.status === 'error' ? 'Not listed' : 'Loading'} rows {formatCount(Math.floor(item.index / ENTRY_BLOCK) * ENTRY_BLOCK + 1)}…
                    </span>
                  )}
                </div>
              );
            })}
          </div>
        </div>
      )}
      {confirming === 'delete' && <ConfirmDelete count={selected} named={namedPicks(entries)} namespace={entries.namespace} onClose={() => setConfirming(null)} />}
      {confirming === 'save' && <ConfirmSave count={selected} unversioned={namedPicks(entries).unversioned} onClose={() => setConfirming(null)} />}
    </Panel>
  );
}

/**
 * A name cut to its cell from its start (`…/2024/summer/beach-001.jpg`): its end, the file's name, is what
 * tells the files of one folder drop apart. The text is the whole name (title, screen readers, copy).
 */
function ShownName({ name }: { name: string }) {
  return (
    <span className="name-text">
      <bdi>{name}</bdi>
    </span>
  );
}

/** A type whose major part (`image/`) a narrow list leaves out: `jpeg`, `plain` and `pdf` tell rows apart, `image/j…` did not. */
function ShownType({ type }: { type: string }) {
  const slash = type.indexOf('/') + 1;
  return (
    <>
      {slash > 0 && <span className="type-major">{type.slice(0, slash)}</span>}
      {type.slice(slash)}
    </>
  );
}

/** One array for every render before capabilities come (a new one each time would re-render for ever). */
const NONE_UNLISTED: readonly UnlistedField[] = [];
/** The entries list's time, by what the layout's listing carries. */
const TIME_LABEL: Record<ListedTime, string> = { stored: 'Stored', ref_written: 'Ref written' };
const REF_WRITTEN_MEANS =
  "Sort by when each entry's by-hash ref was last written: the service writes it when a version is stored or deleted, and a copied store shows the copy's time. The versions' own store times are in the entry panel.";
const UNLISTED_WORDS: Record<UnlistedField, string> = { name: 'names', type: 'types', size: 'sizes', versions: 'version counts' };
const listJoin = (words: string[]) => (words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words.at(-1)!}`);

/** Name, type, size and store-time bounds: applied by main as they are typed. */
function EntryFilters({ filter, types, unlisted, timeLabel, onChange }: { filter: EntryFilter; types: string[]; unlisted: readonly UnlistedField[]; timeLabel: string; onChange: (filter: EntryFilter) => void }) {
  // Shown again as the list is filtered (back from another tab): fields left empty would clear the filter, and the selection with it.
  const [name, setName] = useState(filter.name ?? '');
  const [minSize, setMinSize] = useState(filter.minSize === undefined ? '' : String(filter.minSize));
  const [maxSize, setMaxSize] = useState(filter.maxSize === undefined ? '' : String(filter.maxSize));
  const [from, setFrom] = useState(filter.storedFrom?.slice(0, 10) ?? '');
  const [to, setTo] = useState(filter.storedTo?.slice(0, 10) ?? '');
  const [type, setType] = useState(filter.type ?? '');
  const badSize = [minSize, maxSize].some((t) => t.trim() !== '' && parseSize(t) === undefined);
  const next: EntryFilter = {
    name,
    type,
    minSize: parseSize(minSize),
    maxSize: parseSize(maxSize),
    // Days as the list shows times: in UTC, whatever this machine's time zone.
    storedFrom: from ? `${from}T00:00:00.000Z` : undefined,
    storedTo: to ? `${to}T23:59:59.999Z` : undefined,
  };
  const key = JSON.stringify(next);
  useEffect(() => {
    if (badSize || key === JSON.stringify({ ...{ name: '', type: '' }, ...filter })) return;
    const timer = setTimeout(() => onChange(JSON.parse(key) as EntryFilter), 250); // a query per pause in typing, not per key
    return () => clearTimeout(timer);
  }, [key, badSize]); // onChange and filter are read when it fires
  const majors = [...new Set(types.map((t) => t.split('/')[0]!))];
  return (
    <div className="entry-filters" role="search" aria-label="Filter entries">
      <input className="entry-name-filter" aria-label="Filter by name or hash" placeholder="Name or hash" value={name} onChange={(e) => setName(e.target.value)} />
      {/* A fact the layout's listing does not carry cannot be filtered by: every entry would seem to fail it. */}
      {!unlisted.includes('type') && (
        <>
          <input aria-label="Filter by type" placeholder="type" list="entry-types" value={type} onChange={(e) => setType(e.target.value)} />
          <datalist id="entry-types">
            {[...majors, ...types].map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </>
      )}
      {!unlisted.includes('size') && (
        <>
          <input aria-label="Smallest size" placeholder="min size" value={minSize} onChange={(e) => setMinSize(e.target.value)} aria-invalid={minSize.trim() !== '' && parseSize(minSize) === undefined} />
          <input aria-label="Largest size" placeholder="max size" value={maxSize} onChange={(e) => setMaxSize(e.target.value)} aria-invalid={maxSize.trim() !== '' && parseSize(maxSize) === undefined} />
        </>
      )}
      {/* One group, so the two dates wrap together and say which is which. */}
      <span className="entry-date-range">
        <span className="muted">{timeLabel} (UTC)</span>
        <input type="date" aria-label={`${timeLabel} from (UTC)`} value={from} onChange={(e) => setFrom(e.target.value)} />
        <span className="muted" aria-hidden="true">
          to
        </span>
        <input type="date" aria-label={`${timeLabel} until (UTC)`} value={to} onChange={(e) => setTo(e.target.value)} />
      </span>
      {unlisted.length > 0 && (
        <span className="muted" data-testid="unlisted-note">
          This layout&apos;s listing has no {listJoin(unlisted.map((f) => UNLISTED_WORDS[f]))} (they are in each entry&apos;s refs): look an entry up for them.
        </span>
      )}
      {badSize && (
        <span className="error" role="alert">
          A size is a number of bytes, or with k, M or G. The list and its count are still those of the filter before this one.
        </span>
      )}
    </div>
  );
}

/** Entries picked one by one are named in the delete dialog (the first few), so a slip of the mouse shows before it costs anything. */
const NAMED_PICKS = 5;
interface NamedPicks {
  shown: { hash: string; source: string; unversioned: boolean }[];
  more: number;
  /** Picks listed as content no version uses: what goes of them is that content, not versions. */
  unversioned: number;
}
function namedPicks(entries: EntriesBrowser): NamedPicks {
  const { all, hashes } = entries.selection;
  if (all) return { shown: [], more: 0, unversioned: 0 };
  const listed = new Map(Object.values(entries.blocks).flatMap((rows) => rows.map((row) => [row.hash, row] as const)));
  const unversioned = (hash: string) => listed.get(hash)?.versions === 0;
  return {
    shown: hashes.slice(0, NAMED_PICKS).map((hash) => ({ hash, source: listed.get(hash)?.source ?? '', unversioned: unversioned(hash) })),
    more: Math.max(0, hashes.length - NAMED_PICKS),
    unversioned: hashes.filter(unversioned).length,
  };
}

/** What the delete takes, as the picked rows were listed: versions with their bytes, or content no version uses. */
function whatGoes(picked: number, what: string, unversioned: number, namespace: string) {
  const ns = <code>{namespace}</code>;
  if (unversioned > 0 && unversioned >= picked) return <>The content of {picked === 1 ? 'this entry' : `each of the ${what}`} goes from {ns}: no version uses it. This cannot be undone.</>;
  const also = unversioned > 0 ? ` (${counted(unversioned, 'of them is', 'of them are')} content no version uses, which goes too)` : '';
  return <>Every version of {picked === 1 ? 'this entry' : `each of the ${what}`} goes from {ns}, with its bytes{also}. This cannot be undone.</>;
}

function ConfirmDelete({ count, named, namespace, onClose }: { count: number; named: NamedPicks; namespace: string; onClose: () => void }) {
  const deleteSelected = useApp((s) => s.deleteSelectedEntries);
  const stop = useApp((s) => s.stopEntryDeletion);
  const deletion = useApp((s) => s.entryDeletion);
  // The count confirmed: the selection may change while they are deleted (another window), what is said of this run does not.
  const [started, setStarted] = useState<number | null>(null);
  const busy = started !== null;
  const [stopping, setStopping] = useState(false);
  const status = useRef<HTMLParagraphElement>(null);
  // Delete is disabled as it starts: focus goes to what is happening, not to the page behind the dialog
  // (nor to Stop, which a second Enter would press).
  useEffect(() => {
    if (busy) status.current?.focus();
  }, [busy]);
  const picked = started ?? count;
  const what = counted(picked, 'entry', 'entries');
  // Once main is deleting, closing would look like keeping them while it goes on: the dialog stays until it is done.
  const close = busy ? () => undefined : onClose;
  return (
    <Modal label={`Delete ${what}`} onClose={close}>
      <h2>{busy ? `Deleting ${what}` : `Delete ${what}?`}</h2>
      <p>{whatGoes(picked, what, named.unversioned, namespace)}</p>
      {named.shown.length > 0 && (
        <ul className="named-picks" aria-label="Entries to delete">
          {named.shown.map(({ hash, source, unversioned }) => (
            <li key={hash}>
              <code>{hash}</code> {unversioned ? '(no version)' : shownName(source)}
            </li>
          ))}
          {named.more > 0 && <li>and {formatCount(named.more)} more</li>}
        </ul>
      )}
      {/* The list changed under the dialog (another window deleted them): nothing is left to delete. */}
      {count === 0 && !busy && <p role="status">Nothing is selected any more: the list changed since they were chosen.</p>}
      {busy && (
        <p role="status" tabIndex={-1} ref={status}>
          {stopping ? 'Stopping: the entries under way finish, the rest are kept.' : `Deleting ${what}.`} This window closes and says how many went when it has finished.
        </p>
      )}
      {/* The count moves every 100 ms: outside the status, so a screen reader is not told each step. */}
      {busy && deletion?.total ? (
        <p>
          <progress max={deletion.total} value={deletion.settled} aria-label="Entries deleted" /> {formatCount(deletion.settled)} of {counted(deletion.total, 'entry', 'entries')} done
        </p>
      ) : null}
      <div className="row-actions">
        <button type="button" className="danger" disabled={busy || count === 0} onClick={() => (setStarted(count), void deleteSelected().finally(onClose))}>
          {busy ? 'Deleting…' : `Delete ${what}`}
        </button>
        {busy ? (
          <button
            type="button"
            aria-disabled={stopping}
            onClick={() => {
              if (stopping) return;
              setStopping(true);
              void stop().then((asked) => asked || setStopping(false)); // not asked: Stop again
            }}
          >
            Stop
          </button>
        ) : (
          <button type="button" data-autofocus onClick={close}>
            {count === 1 ? 'Keep it' : 'Keep them'}
          </button>
        )}
      </div>
    </Modal>
  );
}

/** `unversioned`: picks listed as content no version uses, which a save (of latest versions) leaves out. */
function ConfirmSave({ count, unversioned, onClose }: { count: number; unversioned: number; onClose: () => void }) {
  const saveSelected = useApp((s) => s.saveSelectedEntries);
  const [includeExpired, setIncludeExpired] = useState(false);
  const [busy, setBusy] = useState(false);
  const what = counted(count, 'entry', 'entries');
  return (
    <Modal label={`Save ${what}`} onClose={onClose}>
      <h2>Save {what}</h2>
      <p>Each entry’s latest version is saved under its name, checked against its hash as it is read: content that does not match is not saved.</p>
      {unversioned > 0 && (
        <p>
          {unversioned >= count ? `${count === 1 ? 'It has' : 'They have'} no version, so nothing is saved` : `${counted(unversioned, 'of them has', 'of them have')} no version, and ${unversioned === 1 ? 'is' : 'are'} left out`}: content
          no version uses has no record to save it by (look it up to delete it).
        </p>
      )}
      <label>
        <input type="checkbox" checked={includeExpired} onChange={(e) => setIncludeExpired(e.target.checked)} /> Include expired entries
      </label>
      <div className="row-actions">
        <button type="button" data-autofocus disabled={busy} onClick={() => (setBusy(true), void saveSelected(includeExpired).finally(onClose))}>
          {busy ? 'Saving…' : 'Save'}
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </Modal>
  );
}
