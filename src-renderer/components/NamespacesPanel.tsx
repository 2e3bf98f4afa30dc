import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { LIMITS } from '../../src-shared/contract';
import { counted, formatBytes } from '../lib/format';
import { useApp } from '../state/context';
import { Empty, ErrorLine, Loading, Panel } from './common';

export function NamespacesPanel() {
  const namespaces = useApp((s) => s.namespaces);
  const selected = useApp((s) => s.namespace);
  const filter = useApp((s) => s.namespaceFilter);
  const setFilter = useApp((s) => s.setNamespaceFilter);
  const select = useApp((s) => s.selectNamespace);
  const refresh = useApp((s) => s.refreshNamespaces);
  const refreshEntries = useApp((s) => s.refreshEntries);
  const checkNamespace = useApp((s) => s.checkNamespace);
  const listRef = useRef<HTMLUListElement>(null);
  const listed = 'data' in namespaces ? namespaces.data : undefined;
  // The selected namespace is shown even before anything is stored in it.
  const data = useMemo(
    () => (listed && !listed.some((n) => n.name === selected) ? [...listed, { name: selected, entries: 0, versions: 0, bytes: 0 }].sort((a, b) => a.name.localeCompare(b.name)) : listed),
    [listed, selected],
  );
  const typed = filter.trim();
  const known = typed === selected || (data ?? []).some((n) => n.name === typed);
  // A filter that names no namespace yet can start one (it exists once something is stored in it), if the open layout's rules take it: main checks.
  const [checked, setChecked] = useState<{ name: string; refused: string | null } | null>(null);
  useEffect(() => {
    if (!typed || known) return setChecked(null);
    // Longer than any layout takes: said here, not in the words of main's payload check.
    if (typed.length > LIMITS.namespaceLength) return setChecked({ name: typed, refused: `a namespace is at most ${LIMITS.namespaceLength} characters in any layout` });
    let current = true;
    void checkNamespace(typed).then((refused) => current && setChecked({ name: typed, refused: refused?.message ?? null }));
    return () => {
      current = false;
    };
  }, [typed, known, checkNamespace]);
  const candidate = checked?.name === typed && !known ? checked : null;
  const visible = useMemo(() => (data ?? []).filter((n) => n.name.toLowerCase().includes(filter.trim().toLowerCase())), [data, filter]);

  function onKey(event: KeyboardEvent) {
    const index = visible.findIndex((n) => n.name === selected);
    const next = ({ ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: visible.length - 1 } as Record<string, number>)[event.key];
    if (next === undefined || !visible.length) return;
    event.preventDefault();
    const target = visible[Math.max(0, Math.min(visible.length - 1, next))]!;
    select(target.name);
    listRef.current?.querySelector<HTMLElement>(`[data-name="${target.name}"]`)?.scrollIntoView({ block: 'nearest' });
  }

  /** Enter in the filter opens what it names: the namespace typed, the only one it matches, or the new one it offers. */
  function onFilterKey(event: KeyboardEvent) {
    if (event.key !== 'Enter') return;
    const target = visible.find((n) => n.name === typed)?.name ?? (visible.length === 1 ? visible[0]!.name : visible.length === 0 && candidate?.refused === null ? candidate.name : null);
    if (!target) return;
    event.preventDefault();
    select(target);
    setFilter('');
  }

  return (
    <Panel
      label="Namespaces"
      actions={
        // Other programs' changes: the open list is read again with the counts, or the two would disagree.
        <button
          type="button"
          className="link"
          onClick={() => {
            void refresh();
            refreshEntries({ counted: true }); // refresh() counts every namespace
          }}
          aria-label="Refresh namespaces"
          title="Read the namespaces, their counts and the open list again (changes other programs made)"
        >
          ↻
        </button>
      }
    >
      <input className="filter" aria-label="Filter namespaces" placeholder="Filter" value={filter} onChange={(e) => setFilter(e.target.value)} onKeyDown={onFilterKey} />
      {namespaces.status === 'error' && <ErrorLine error={namespaces.error} />}
      {!data && namespaces.status !== 'error' && (
        <>
          <Loading what="namespaces" />
          <ul className="ns-list" role="listbox" aria-label="Namespace list">
            <li role="option" aria-selected className="selected">
              <span className="ns-name">{selected}</span>
              <span className="ns-meta">counting…</span>
            </li>
          </ul>
        </>
      )}
      {listed && listed.length === 0 && <Empty>Nothing stored yet. Drop files to store them in “{selected}”.</Empty>}
      {data && data.length > 0 && visible.length === 0 && <Empty>No namespace matches “{filter}”.</Empty>}
      {visible.length > 0 && (
        <ul className="ns-list" role="listbox" aria-label="Namespace list" tabIndex={0} ref={listRef} onKeyDown={onKey} aria-activedescendant={`ns-${selected}`}>
          {visible.map((n) => (
            <li
              key={n.name}
              id={`ns-${n.name}`}
              data-name={n.name}
              role="option"
              aria-selected={n.name === selected}
              className={n.name === selected ? 'selected' : ''}
              onClick={() => select(n.name)}
            >
              <span className="ns-name">{n.name}</span>
              <span className="ns-meta">
                {n.entries === undefined ? 'counting…' : `${counted(n.entries, 'entry', 'entries')} · ${counted(n.versions ?? 0, 'version', 'versions')} · ${formatBytes(n.bytes ?? 0)}${n.recounting ? ' · updating…' : ''}`}
              </span>
            </li>
          ))}
        </ul>
      )}
      {candidate &&
        (candidate.refused === null ? (
          // Below the namespaces the filter matches, which come first; once used, the new one is listed beside the others.
          <button type="button" className="link new-ns" onClick={() => (select(candidate.name), setFilter(''))}>
            Use new namespace “{candidate.name}”
          </button>
        ) : (
          <p className="muted new-ns" data-testid="namespace-refused">
            “{candidate.name}” cannot be a namespace here: {candidate.refused}
          </p>
        ))}
    </Panel>
  );
}
