import { useEffect, useRef, useState, type KeyboardEvent as ReactKeyboardEvent } from 'react';
import { ConnectionBar } from './components/ConnectionBar';
import { EntriesPanel } from './components/EntriesPanel';
import { EntryPanel, VersionsPanel } from './components/EntryPanel';
import { LayoutPanel } from './components/LayoutPanel';
import { LookupBox } from './components/LookupBox';
import { NamespacesPanel } from './components/NamespacesPanel';
import { StatsPanel } from './components/StatsPanel';
import { TransfersPanel } from './components/TransfersPanel';
import { RetentionPanel } from './components/RetentionPanel';
import { RunningElsewhere } from './components/RunningElsewhere';
import { VerifyPanel } from './components/VerifyPanel';
import { filesFromDrop } from './lib/drop';
import { useApp } from './state/context';
import { ACTIVE_PHASES, type Tab } from './state/store';

const TABS: { id: Tab; label: string }[] = [
  { id: 'browse', label: 'Browse' },
  { id: 'layout', label: 'Layout' },
  { id: 'stats', label: 'Stats' },
  { id: 'verify', label: 'Verify' },
  { id: 'retention', label: 'Retention' },
];

export function App() {
  const init = useApp((s) => s.init);
  const tab = useApp((s) => s.tab);
  const setTab = useApp((s) => s.setTab);
  const theme = useApp((s) => s.theme);
  const storeFiles = useApp((s) => s.storeFiles);
  const clearLookup = useApp((s) => s.clearLookup);
  const notice = useApp((s) => s.notice);
  const notify = useApp((s) => s.notify);
  const runningTransfers = useApp((s) => s.transfers.filter((t) => ACTIVE_PHASES.includes(t.phase)).length);
  const lookupRef = useRef<HTMLInputElement>(null);
  const tabsRef = useRef<HTMLDivElement>(null);
  const [dragging, setDragging] = useState(false);
  // On a narrow window the transfers column folds to a button; a drop opens it.
  const [transfersOpen, setTransfersOpen] = useState(false);

  // Arrow keys, Home and End move between tabs (one tab stop for the whole list).
  function onTabKey(event: ReactKeyboardEvent) {
    const index = TABS.findIndex((t) => t.id === tab);
    const moves: Record<string, number> = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: TABS.length - 1 };
    const target = moves[event.key];
    if (target === undefined) return;
    event.preventDefault();
    const next = TABS[(target + TABS.length) % TABS.length]!;
    setTab(next.id);
    tabsRef.current?.querySelector<HTMLElement>(`#tab-${next.id}`)?.focus();
  }

  // Escape folds the transfers column that lies over the view (a narrow window), back to its button.
  const transfersToggleRef = useRef<HTMLButtonElement>(null);
  function onTransfersKey(event: ReactKeyboardEvent) {
    if (event.key !== 'Escape' || !transfersOpen || event.defaultPrevented) return;
    setTransfersOpen(false);
    transfersToggleRef.current?.focus();
  }

  useEffect(() => init(), [init]);

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    try {
      localStorage.setItem('cache-admin-theme', theme);
    } catch {
      // storage may be unavailable; the theme still applies for this run
    }
  }, [theme]);

  // `/` or Ctrl+K focuses the lookup box; Esc clears it.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement;
      if ((event.key === '/' && !typing) || (event.key.toLowerCase() === 'k' && (event.ctrlKey || event.metaKey))) {
        event.preventDefault();
        lookupRef.current?.focus();
        lookupRef.current?.select();
      } else if (event.key === 'Escape' && event.target === lookupRef.current) {
        clearLookup();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [clearLookup]);

  // Files dropped anywhere on the window are stored; the browser must never navigate to them.
  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes('Files');
    const onEnter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth++;
      setDragging(true);
    };
    const onLeave = () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) setDragging(false);
    };
    const onOver = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    };
    const onDrop = (e: DragEvent) => {
      e.preventDefault();
      depth = 0;
      setDragging(false);
      if (e.dataTransfer) void filesFromDrop(e.dataTransfer).then((files) => {
          if (!files.length) return;
          setTransfersOpen(true);
          void storeFiles(files);
        });
    };
    // Pasted outside a text field: files are stored as dropped, text as a file named pasted.txt.
    const onPaste = (e: ClipboardEvent) => {
      const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
      const data = e.clipboardData;
      if (typing || !data) return;
      const text = data.getData('text/plain');
      const files = data.files.length ? [...data.files] : text ? [new File([text], 'pasted.txt', { type: 'text/plain' })] : [];
      if (!files.length) return;
      e.preventDefault();
      setTransfersOpen(true);
      void storeFiles(files);
    };
    window.addEventListener('dragenter', onEnter);
    window.addEventListener('dragleave', onLeave);
    window.addEventListener('dragover', onOver);
    window.addEventListener('drop', onDrop);
    window.addEventListener('paste', onPaste);
    return () => {
      window.removeEventListener('dragenter', onEnter);
      window.removeEventListener('dragleave', onLeave);
      window.removeEventListener('dragover', onOver);
      window.removeEventListener('drop', onDrop);
      window.removeEventListener('paste', onPaste);
    };
  }, [storeFiles]);

  return (
    <div className={`app ${dragging ? 'dragging' : ''}`}>
      <ConnectionBar />
      <RunningElsewhere />
      {notice && (
        <div className="notice" role="status">
          {notice}
          <button type="button" className="link" onClick={() => notify(null)} aria-label="Dismiss">
            ✕
          </button>
        </div>
      )}
      <div className={`workspace ${transfersOpen ? 'transfers-open' : ''}`}>
        <div className="sidebar">
          <NamespacesPanel />
        </div>
        <main className="main">
          <div className="toolbar">
            <LookupBox ref={lookupRef} />
            <div className="tabs" role="tablist" aria-label="Views" ref={tabsRef} onKeyDown={onTabKey}>
              {TABS.map((t) => (
                <button
                  key={t.id}
                  id={`tab-${t.id}`}
                  type="button"
                  role="tab"
                  aria-selected={tab === t.id}
                  aria-controls="view"
                  tabIndex={tab === t.id ? 0 : -1}
                  className={tab === t.id ? 'active' : ''}
                  onClick={() => setTab(t.id)}
                >
                  {t.label}
                </button>
              ))}
            </div>
          </div>
          <div className="view" id="view" role="tabpanel" aria-labelledby={`tab-${tab}`}>
            {tab === 'browse' && (
              <div className="browse">
                <EntriesPanel />
                <div className="detail">
                  <EntryPanel />
                  <VersionsPanel />
                </div>
              </div>
            )}
            {tab === 'layout' && <LayoutPanel />}
            {tab === 'stats' && <StatsPanel />}
            {tab === 'verify' && <VerifyPanel />}
            {tab === 'retention' && <RetentionPanel />}
          </div>
        </main>
        <div className="transfers-side" onKeyDown={onTransfersKey}>
          <button ref={transfersToggleRef} type="button" className="transfers-toggle" aria-expanded={transfersOpen} aria-controls="transfers-column" onClick={() => setTransfersOpen(!transfersOpen)}>
            Transfers{runningTransfers > 0 && ` (${runningTransfers})`}
          </button>
          <div className="transfers-column" id="transfers-column">
            <TransfersPanel />
          </div>
        </div>
      </div>
      {dragging && (
        <div className="drop-overlay" aria-hidden="true">
          Drop to store
        </div>
      )}
    </div>
  );
}
