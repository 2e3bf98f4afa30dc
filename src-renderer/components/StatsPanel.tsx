import { formatBytes, formatCount } from '../lib/format';
import { useApp } from '../state/context';
import { ErrorLine, Loading, Panel } from './common';

export function StatsPanel() {
  const stats = useApp((s) => s.stats);
  const namespaces = useApp((s) => s.namespaces);
  const all = namespaces.status === 'ready' ? namespaces.data : [];
  const totals = all.reduce((t, n) => ({ entries: t.entries + (n.entries ?? 0), versions: t.versions + (n.versions ?? 0), bytes: t.bytes + (n.bytes ?? 0) }), { entries: 0, versions: 0, bytes: 0 });
  return (
    <Panel label="Stats">
      <div className="stats-grid">
        <div>
          <h3>Namespace</h3>
          {stats.status === 'error' && <ErrorLine error={stats.error} />}
          {(stats.status === 'loading' || stats.status === 'idle') && <Loading what="stats" />}
          {stats.status === 'ready' && (
            <dl className="facts big" aria-label="Namespace stats">
              <dt>Namespace</dt>
              <dd>{stats.data.name}</dd>
              <dt>Entries</dt>
              <dd>{formatCount(stats.data.entries)}</dd>
              <dt>Versions</dt>
              <dd>{formatCount(stats.data.versions)}</dd>
              <dt title="Bytes of the content files in the store: once per hash in the native layout, every copy the service's layout keeps">Content bytes stored</dt>
              <dd>{formatBytes(stats.data.bytes)}</dd>
              <dt>Storage objects</dt>
              <dd>{formatCount(stats.data.objects)}</dd>
              <dt>Shards in use</dt>
              <dd>{Object.keys(stats.data.shards).length}</dd>
            </dl>
          )}
        </div>
        <div>
          <h3>Store</h3>
          <dl className="facts big" aria-label="Store stats">
            <dt>Namespaces</dt>
            <dd>{formatCount(all.length)}</dd>
            <dt>Entries</dt>
            <dd>{formatCount(totals.entries)}</dd>
            <dt>Versions</dt>
            <dd>{formatCount(totals.versions)}</dd>
            <dt title="Bytes of the content files in the store: once per hash in the native layout, every copy the service's layout keeps">Content bytes stored</dt>
            <dd>{formatBytes(totals.bytes)}</dd>
          </dl>
        </div>
      </div>
    </Panel>
  );
}
