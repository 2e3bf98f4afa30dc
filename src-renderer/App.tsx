import { useEffect, useRef, useState } from 'react';
import { ConnectionBar } from './components/ConnectionBar';
import { EntriesPanel } from './components/EntriesPanel';
import { EntryPanel, VersionsPanel } from './components/EntryPanel';
import { LayoutPanel } from './components/LayoutPanel';
import { LookupBox } from './components/LookupBox';
import { NamespacesPanel } from './components/NamespacesPanel';
import { StatsPanel } from './components/StatsPanel';
import { TransfersPanel } from './components/TransfersPanel';
import { VerifyPanel } from './components/VerifyPanel';
import { filesFromDrop } from './lib/drop';
import { useApp } from './state/context';
import type { Tab } from './state/store';

const TABS: { id: Tab; label: string }[] = [
  { id: 'browse', label: 'Browse' },
  { id: 'layout', label: 'Layout' },
  { id: 'stats', label: 'Stats' },
  { id: 'verify', label: 'Verify' },
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
  const lookupRef = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);

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
          if (files.length) void storeFiles(files);
        });
    };
    window.addEventListener('dragenter', onEnter);
    window.addEventListener('dragleave', onLeave);
    window.addEventListener('dragover', onOver);
    window.addEventListener('drop', onDrop);
    return () => {
      window.removeEventListener('dragenter', onEnter);
      window.removeEventListener('dragleave', onLeave);
      window.removeEventListener('dragover', onOver);
      window.removeEventListener('drop', onDrop);
    };
  }, [storeFiles]);

  return (
    <div className={`app ${dragging ? 'dragging' : ''}`}>
      <ConnectionBar />
      {notice && (
        <div className="notice" role="status">
          {notice}
          <button type="button" className="link" onClick={() => notify(null)} aria-label="Dismiss">
            ✕
          </button>
        </div>
      )}
      <div className="workspace">
        <aside className="sidebar">
          <NamespacesPanel />
        </aside>
        <main className="main">
          <div className="toolbar">
            <LookupBox ref={lookupRef} />
            <nav className="tabs" role="tablist" aria-label="Views">
              {TABS.map((t) => (
                <button key={t.id} type="button" role="tab" aria-selected={tab === t.id} className={tab === t.id ? 'active' : ''} onClick={() => setTab(t.id)}>
                  {t.label}
                </button>
              ))}
            </nav>
          </div>
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
        </main>
        <aside className="transfers-side">
          <TransfersPanel />
        </aside>
      </div>
      {dragging && (
        <div className="drop-overlay" aria-hidden="true">
          Drop to store
        </div>
      )}
    </div>
  );
}
