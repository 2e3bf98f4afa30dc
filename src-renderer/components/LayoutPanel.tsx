import { useEffect, useRef, useState } from 'react';
import type { KeyPage } from '../../src-shared/contract';
import type { ErrorInfo } from '../../src-shared/errors';
import { isReadablePrefix } from '../../src-shared/keys';
import { counted, formatBytes, formatTime } from '../lib/format';
import { SHARDS, heatmapKey } from '../state/heatmap';
import { useApp, useClient } from '../state/context';
import { Empty, ErrorLine, Loading, Panel } from './common';

const HEX = '0123456789abcdef';
const NO_KEYS: { key: string }[] = [];

/** What the tree opens to: every folder on the way to `paths` (an entry's keys, or a shard's folder), scrolling to `focus`. */
interface Reveal {
  paths: string[];
  focus?: string;
  /** Bumped on every request, so asking for the same place again opens it again. */
  seq: number;
}

export function LayoutPanel() {
  const namespace = useApp((s) => s.namespace);
  const storeEpoch = useApp((s) => s.storeEpoch);
  const entryKeys = useApp((s) => (s.entry.status === 'ready' ? s.entry.data.record.keys : NO_KEYS));
  const [reveal, setReveal] = useState<Reveal>({ paths: [], seq: 0 });
  // An entry shown: the tree opens down to its keys.
  useEffect(() => {
    const paths = entryKeys.map((k) => k.key);
    if (paths.length) setReveal((r) => ({ paths, focus: paths[0], seq: r.seq + 1 }));
  }, [entryKeys]);
  const openShard = (prefix: string) => setReveal((r) => ({ paths: [prefix], focus: prefix, seq: r.seq + 1 }));
  return (
    <Panel label="Layout" title="Storage layout" className="layout-panel">
      <div className="layout-grid">
        <div>
          <h3>Keys by prefix</h3>
          <ul role="tree" aria-label="Storage keys" className="tree">
            {/* A new store or namespace starts a new tree: nothing listed from the previous one stays. */}
            <TreeNode key={`${storeEpoch}:${namespace}`} prefix={`${namespace}/`} label={`${namespace}/`} highlight={entryKeys.map((k) => k.key)} reveal={reveal} initiallyOpen />
          </ul>
        </div>
        <div>
          <Heatmap openShard={openShard} />
          <KeyInfoView />
        </div>
      </div>
    </Panel>
  );
}

/** `unfold`: opened for the operator (a heatmap shard), so a folder that holds only one folder opens that one too, down to keys. */
function TreeNode({ prefix, label, highlight, reveal, initiallyOpen = false, unfold = false }: { prefix: string; label: string; highlight: string[]; reveal: Reveal; initiallyOpen?: boolean; unfold?: boolean }) {
  const client = useClient();
  const describeKey = useApp((s) => s.describeKey);
  const onPath = highlight.some((k) => k.startsWith(prefix));
  const [open, setOpen] = useState(initiallyOpen);
  const [pages, setPages] = useState<KeyPage[]>([]);
  const [state, setState] = useState<{ loading: boolean; error?: ErrorInfo }>({ loading: false });
  const self = useRef<HTMLLIElement>(null);
  const cursor = pages.length ? pages[pages.length - 1]!.cursor : undefined;
  const prefixes = pages.flatMap((p) => p.prefixes);
  const objects = pages.flatMap((p) => p.objects);
  const wanted = reveal.paths.filter((p) => p.startsWith(prefix));
  const onlyFolder = (unfold || reveal.focus === prefix) && prefixes.length === 1 && objects.length === 0 && cursor === undefined ? prefixes[0] : undefined;

  async function load(next?: string) {
    setState({ loading: true });
    const result = await client.api.listKeys({ prefix, delimiter: true, limit: 200, cursor: next });
    if (!result.ok) return setState({ loading: false, error: result.error });
    setPages((p) => [...(next ? p : []), result.value]);
    setState({ loading: false });
  }

  // A folder another tool named as no key can be (`é/`, `.git/`) cannot be listed: said, not asked for.
  const listable = isReadablePrefix(prefix);
  useEffect(() => {
    if (open && listable && pages.length === 0) void load();
  }, [open]);

  // On the way to what is to be revealed: open, and scroll to it once it is there.
  useEffect(() => {
    if (wanted.length) setOpen(true);
    // A shard opened from the heatmap: to the top, so what it holds shows below it.
    if (reveal.focus === prefix) self.current?.scrollIntoView?.({ block: 'start' });
  }, [reveal.seq]);

  // A revealed key past the pages listed so far (they come sorted): list on until it is there or passed.
  const pending = wanted.some((p) => p !== prefix && cursor !== undefined && p > cursor && !prefixes.some((c) => p.startsWith(c)));
  useEffect(() => {
    if (open && pending && !state.loading && !state.error) void load(cursor);
  }, [open, pending, state.loading, cursor]);

  return (
    <li role="treeitem" aria-expanded={open} aria-label={label} className={onPath ? 'on-path' : ''} ref={self}>
      <button type="button" className="tree-label" onClick={() => setOpen(!open)}>
        <span className="twisty" aria-hidden="true">
          {open ? '▾' : '▸'}
        </span>
        {label}
      </button>
      {open && (
        <ul role="group">
          {!listable && (
            <li className="muted" role="none">
              A folder named as no key can be (put here by another tool): it cannot be listed here; verify names its keys as misplaced.
            </li>
          )}
          {prefixes.map((p) => (
            <TreeNode key={p} prefix={p} label={p.slice(prefix.length)} highlight={highlight} reveal={reveal} initiallyOpen={p === onlyFolder} unfold={p === onlyFolder} />
          ))}
          {objects.map((o) => (
            <TreeLeaf key={o.key} object={o} label={o.key.slice(prefix.length)} highlighted={highlight.includes(o.key)} focus={reveal.focus === o.key ? reveal.seq : 0} open={describeKey} />
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

/** A storage key in the tree; `focus` (a reveal's number) scrolls it into view when it is the one revealed. */
function TreeLeaf({ object, label, highlighted, focus, open }: { object: KeyPage['objects'][number]; label: string; highlighted: boolean; focus: number; open: (key: string) => void }) {
  const self = useRef<HTMLLIElement>(null);
  useEffect(() => {
    if (focus) self.current?.scrollIntoView?.({ block: 'nearest' });
  }, [focus]);
  return (
    <li role="treeitem" aria-label={label} className={highlighted ? 'highlight' : ''} ref={self}>
      <button type="button" className="tree-leaf mono" onClick={() => void open(object.key)}>
        {label} <span className="muted">{formatBytes(object.size)}</span>
      </button>
    </li>
  );
}

/** Entries per first-level shard, counted a range at a time: progress at once, cells filling in, cached per store and namespace. */
function Heatmap({ openShard }: { openShard: (prefix: string) => void }) {
  const namespace = useApp((s) => s.namespace);
  const key = useApp((s) => heatmapKey(s, s.namespace));
  const heatmap = useApp((s) => s.heatmaps[key]);
  const generation = useApp((s) => s.heatmapGeneration);
  const countHeatmap = useApp((s) => s.countHeatmap);
  const forgetHeatmap = useApp((s) => s.forgetHeatmap);
  const storeEpoch = useApp((s) => s.storeEpoch);
  const selectedShard = useApp((s) => (s.entry.status === 'ready' ? s.entry.data.record.hash.slice(0, 2) : null));
  // Leaving the namespace or the store (or the tab) stops the count; a cached one is not counted again.
  useEffect(() => countHeatmap(), [key, generation, storeEpoch]);
  const shards = heatmap?.shards ?? {};
  const done = Object.keys(shards).length;
  const entries = Object.values(shards).reduce((sum, s) => sum + s.entries, 0);
  const max = Math.max(1, ...Object.values(shards).map((s) => s.entries));
  const percent = Math.floor((done / SHARDS.length) * 100);
  return (
    <figure className="heatmap-figure">
      <figcaption>
        Entries per first-level shard in <code>{namespace}</code> ({done < SHARDS.length ? `${counted(entries, 'entry', 'entries')} so far` : counted(entries, 'entry', 'entries')})
        {/* Counts are kept per namespace; another program's stores and deletes show only when counted again. */}
        {(heatmap?.status === 'ready' || heatmap?.status === 'error') && (
          <button type="button" className="link" onClick={() => forgetHeatmap(namespace)}>
            Count again
          </button>
        )}
      </figcaption>
      {heatmap?.status !== 'ready' && heatmap?.status !== 'error' && (
        <p className="heat-progress" role="status">
          <progress max={SHARDS.length} value={done} aria-label="Shards counted" /> Counting shards: {done} / {SHARDS.length} ({percent}%)
        </p>
      )}
      {heatmap?.error && <ErrorLine error={heatmap.error} />}
      <div className="heatmap" role="grid" aria-label="Shard heatmap">
        {[...HEX].map((hi) => (
          <div role="row" key={hi} className="heat-row">
            {[...HEX].map((lo) => {
              const shard = hi + lo;
              const found = shards[shard];
              const n = found?.entries ?? 0;
              const level = !found ? 'pending' : n === 0 ? 0 : 1 + Math.round((n / max) * 4);
              const label = found ? `Shard ${shard}: ${counted(n, 'entry', 'entries')}` : `Shard ${shard}: not counted yet`;
              return (
                <div role="gridcell" key={shard} className={`heat heat-${level} ${shard === selectedShard ? 'selected' : ''}`} aria-label={label} title={label}>
                  {/* An empty shard has nothing to open: its cell is not a button that would lead nowhere. */}
                  {found && n > 0 ? (
                    <button type="button" className="heat-open" aria-label={`Open shard ${shard} in the tree (${counted(n, 'entry', 'entries')})`} onClick={() => openShard(found.prefix)}>
                      {shard}
                    </button>
                  ) : (
                    shard
                  )}
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
  const self = useRef<HTMLDivElement>(null);
  const shown = useRef(info);
  // A key opened in the tree: its details come into view below the heatmap (coming back to the tab moves nothing).
  useEffect(() => {
    if (info !== shown.current && info.status !== 'idle') self.current?.scrollIntoView?.({ block: 'nearest' });
    shown.current = info;
  }, [info]);
  return (
    <div ref={self}>
      <KeyInfo />
    </div>
  );
}

function KeyInfo() {
  const info = useApp((s) => s.keyInfo);
  const lookup = useApp((s) => s.lookup);
  const setTab = useApp((s) => s.setTab);
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
        <button
          type="button"
          onClick={() => {
            setTab('browse'); // the entry shows there
            void lookup(k.key);
          }}
        >
          Open {ref}
        </button>
      )}
    </div>
  );
}
