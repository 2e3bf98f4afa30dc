import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { counted, formatBytes, formatCount, formatTime } from '../lib/format';
import { useApp } from '../state/context';
import { Empty, ErrorLine, Panel } from './common';

const ROW_HEIGHT = 30;

/** Every entry of the selected namespace: virtualized, and paged from main as the operator scrolls. */
export function EntriesPanel() {
  const entries = useApp((s) => s.entries);
  const total = useApp((s) => (s.namespaces.status === 'ready' ? s.namespaces.data.find((n) => n.name === s.namespace)?.entries : undefined));
  const loadMore = useApp((s) => s.loadMoreEntries);
  const lookup = useApp((s) => s.lookup);
  const setInput = useApp((s) => s.setLookupInput);
  const shownHash = useApp((s) => (s.entry.status === 'ready' ? s.entry.data.record.hash : null));
  const scrollRef = useRef<HTMLDivElement>(null);
  const [active, setActive] = useState(0);
  const rows = entries.items.length + (entries.done ? 0 : 1);
  const virtualizer = useVirtualizer({ count: rows, getScrollElement: () => scrollRef.current, estimateSize: () => ROW_HEIGHT, overscan: 20, initialRect: { width: 600, height: 600 } });
  const items = virtualizer.getVirtualItems();
  const last = items[items.length - 1];

  // The row of the entry on show is selected, however it was opened (a lookup, a version, a key).
  const shownIndex = useMemo(() => entries.items.findIndex((e) => e.hash === shownHash), [entries.items, shownHash]);
  useEffect(() => {
    if (shownIndex < 0) return;
    setActive(shownIndex);
    virtualizer.scrollToIndex(shownIndex, { align: 'auto' });
  }, [shownIndex, virtualizer]);

  useEffect(() => {
    if (last && last.index >= entries.items.length - 50 && !entries.done && entries.status === 'ready') void loadMore();
  }, [last, entries.items.length, entries.done, entries.status, loadMore]);

  function open(index: number) {
    const entry = entries.items[index];
    if (!entry) return;
    setActive(index);
    setInput(entry.hash);
    void lookup(entry.hash);
  }

  function onKey(event: KeyboardEvent) {
    if (event.key === 'Enter') return open(active);
    const page = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? 0) / ROW_HEIGHT) - 1);
    const moves: Record<string, number> = { ArrowDown: active + 1, ArrowUp: active - 1, PageDown: active + page, PageUp: active - page, Home: 0, End: entries.items.length - 1 };
    const target = moves[event.key];
    if (target === undefined) return;
    event.preventDefault();
    const next = Math.max(0, Math.min(entries.items.length - 1, target));
    setActive(next);
    virtualizer.scrollToIndex(next, { align: 'auto' });
  }

  return (
    <Panel label="Entries" title={`Entries in ${entries.namespace}`} actions={<span className="muted">{total !== undefined ? counted(total, 'entry', 'entries') : `${formatCount(entries.items.length)}${entries.done ? '' : '+'} loaded`}</span>}>
      {entries.status === 'error' && entries.error && <ErrorLine error={entries.error} />}
      {entries.done && entries.items.length === 0 && entries.status === 'ready' && <Empty>This namespace has no entries yet.</Empty>}
      {rows > 0 && !(entries.done && entries.items.length === 0) && (
        <div className="virtual-scroll" ref={scrollRef} role="listbox" aria-label="Entry list" tabIndex={0} onKeyDown={onKey} aria-activedescendant={entries.items[active] ? `entry-${active}` : undefined}>
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
            {items.map((item) => {
              const entry = entries.items[item.index];
              return (
                <div
                  key={item.key}
                  id={`entry-${item.index}`}
                  role="option"
                  aria-selected={item.index === active}
                  className={`entry-row ${item.index === active ? 'selected' : ''}`}
                  style={{ transform: `translateY(${item.start}px)`, height: ROW_HEIGHT }}
                  onClick={() => open(item.index)}
                >
                  {entry ? (
                    <>
                      <code className="hash">{entry.hash}</code>
                      <span className="size">{entry.size === null ? '' : formatBytes(entry.size)}</span>
                      <span className="time" title={formatTime(entry.modified)}>
                        {formatTime(entry.modified).slice(0, 16)}
                      </span>
                    </>
                  ) : (
                    <span className="muted">Loading more…</span>
                  )}
                </div>
              );
            })}
          </div>
        </div>
      )}
    </Panel>
  );
}
