import { useEffect, useState } from 'react';
import type { KeyPage } from '../../src-shared/contract';
import type { ErrorInfo } from '../../src-shared/errors';
import { counted, formatBytes, formatTime } from '../lib/format';
import { useApp, useClient } from '../state/context';
import { Empty, ErrorLine, Loading, Panel } from './common';

const HEX = '0123456789abcdef';
const NO_KEYS: { key: string }[] = [];

export function LayoutPanel() {
  const namespace = useApp((s) => s.namespace);
  const storeEpoch = useApp((s) => s.storeEpoch);
  const entryKeys = useApp((s) => (s.entry.status === 'ready' ? s.entry.data.record.keys : NO_KEYS)).map((k) => k.key);
  return (
    <Panel label="Layout" title="Storage layout" className="layout-panel">
      <div className="layout-grid">
        <div>
          <h3>Keys by prefix</h3>
          <ul role="tree" aria-label="Storage keys" className="tree">
            {/* A new store or namespace starts a new tree: nothing listed from the previous one stays. */}
            <TreeNode key={`${storeEpoch}:${namespace}`} prefix={`${namespace}/`} label={`${namespace}/`} highlight={entryKeys} initiallyOpen />
          </ul>
        </div>
        <div>
          <Heatmap />
          <KeyInfoView />
        </div>
      </div>
    </Panel>
  );
}

function TreeNode({ prefix, label, highlight, initiallyOpen = false }: { prefix: string; label: string; highlight: string[]; initiallyOpen?: boolean }) {
  const client = useClient();
  const describeKey = useApp((s) => s.describeKey);
  const onPath = highlight.some((k) => k.startsWith(prefix));
  const [open, setOpen] = useState(initiallyOpen);
  const [pages, setPages] = useState<KeyPage[]>([]);
  const [state, setState] = useState<{ loading: boolean; error?: ErrorInfo }>({ loading: false });
  const cursor = pages.length ? pages[pages.length - 1]!.cursor : undefined;

  async function load(next?: string) {
    setState({ loading: true });
    const result = await client.api.listKeys({ prefix, delimiter: true, limit: 200, cursor: next });
    if (!result.ok) return setState({ loading: false, error: result.error });
    setPages((p) => [...(next ? p : []), result.value]);
    setState({ loading: false });
  }

  useEffect(() => {
    if (open && pages.length === 0) void load();
  }, [open]);

  const prefixes = pages.flatMap((p) => p.prefixes);
  const objects = pages.flatMap((p) => p.objects);
  return (
    <li role="treeitem" aria-expanded={open} aria-label={label} className={onPath ? 'on-path' : ''}>
      <button type="button" className="tree-label" onClick={() => setOpen(!open)}>
        <span className="twisty" aria-hidden="true">
          {open ? '▾' : '▸'}
        </span>
        {label}
      </button>
      {open && (
        <ul role="group">
          {prefixes.map((p) => (
            <TreeNode key={p} prefix={p} label={p.slice(prefix.length)} highlight={highlight} />
          ))}
          {objects.map((o) => (
            <li role="treeitem" key={o.key} aria-label={o.key.slice(prefix.length)} className={highlight.includes(o.key) ? 'highlight' : ''}>
              <button type="button" className="tree-leaf mono" onClick={() => void describeKey(o.key)}>
                {o.key.slice(prefix.length)} <span className="muted">{formatBytes(o.size)}</span>
              </button>
            </li>
          ))}
          {state.loading && (
            <li className="muted" role="none">
              Loading…
            </li>
          )}
          {state.error && (
            <li role="none">
              <ErrorLine error={state.error} />
            </li>
          )}
          {!state.loading && pages.length > 0 && !prefixes.length && !objects.length && (
            <li className="muted" role="none">
              (empty)
            </li>
          )}
          {cursor && !state.loading && (
            <li role="none">
              <button type="button" className="link" onClick={() => void load(cursor)}>
                Load more…
              </button>
            </li>
          )}
        </ul>
      )}
    </li>
  );
}

function Heatmap() {
  const stats = useApp((s) => s.stats);
  const namespace = useApp((s) => s.namespace);
  const selectedShard = useApp((s) => (s.entry.status === 'ready' ? s.entry.data.record.hash.slice(0, 2) : null));
  if (stats.status === 'idle' || stats.status === 'loading') return <Loading what="shard counts" />;
  if (stats.status === 'error') return <ErrorLine error={stats.error} />;
  const counts = stats.data.shards;
  const max = Math.max(1, ...Object.values(counts));
  return (
    <figure className="heatmap-figure">
      <figcaption>
        Entries per first-level shard in <code>{namespace}</code> ({counted(stats.data.entries, 'entry', 'entries')})
      </figcaption>
      <div className="heatmap" role="grid" aria-label="Shard heatmap">
        {[...HEX].map((hi) => (
          <div role="row" key={hi} className="heat-row">
            {[...HEX].map((lo) => {
              const shard = hi + lo;
              const n = counts[shard] ?? 0;
              const level = n === 0 ? 0 : 1 + Math.round((n / max) * 4);
              return (
                <div
                  role="gridcell"
                  key={shard}
                  className={`heat heat-${level} ${shard === selectedShard ? 'selected' : ''}`}
                  aria-label={`Shard ${shard}: ${counted(n, 'entry', 'entries')}`}
                  title={`${shard}: ${counted(n, 'entry', 'entries')}`}
                >
                  {shard}
                </div>
              );
            })}
          </div>
        ))}
      </div>
    </figure>
  );
}

function KeyInfoView() {
  const info = useApp((s) => s.keyInfo);
  const lookup = useApp((s) => s.lookup);
  if (info.status === 'idle') return <Empty>Open a key in the tree to see what it is.</Empty>;
  if (info.status === 'loading') return <Loading what="key" />;
  if (info.status === 'error') return <ErrorLine error={info.error} />;
  const k = info.data;
  const ref = k.cache_id ?? k.hash ?? null;
  return (
    <div className="key-info" aria-label="Key details">
      <code className="wrap">{k.key}</code>
      <p data-testid="key-explanation">{k.explanation}</p>
      <dl className="facts">
        {k.namespace && (
          <>
            <dt>Namespace</dt>
            <dd>{k.namespace}</dd>
          </>
        )}
        {k.size !== undefined && (
          <>
            <dt>Size</dt>
            <dd>{formatBytes(k.size)}</dd>
            <dt>Modified</dt>
            <dd>{k.modified && formatTime(k.modified)}</dd>
          </>
        )}
      </dl>
      {ref && (
        <button type="button" onClick={() => void lookup(`${k.key}`)}>
          Open {ref}
        </button>
      )}
    </div>
  );
}
