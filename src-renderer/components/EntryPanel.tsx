import { Fragment, useEffect, useMemo, useRef, useState } from 'react';
import { LIMITS } from '../../src-shared/contract';
import { counted, formatBytes, formatTime, previewOf } from '../lib/format';
import { shownName } from '../../src-shared/printable';
import { useApp } from '../state/context';
import { unopenedVersion, unversionedContent } from '../state/store';
import { CopyButton, Empty, ErrorLine, Loading, Panel, READ_ONLY_REASON, useReadOnly } from './common';

/** How the entry's bytes were stored (`data_type`): text/plain content stored as bytes is no contradiction. */
const DATA_TYPE_NAMES: Record<string, string> = { binary: 'bytes', string: 'a string', json: 'JSON' };

/** The entries list (EntriesPanel), where focus goes when the entry on show is deleted. */
const ENTRY_LIST = '[role="listbox"][aria-label="Entry list"]';

export function EntryPanel() {
  const entry = useApp((s) => s.entry);
  const namespace = useApp((s) => s.namespace);
  const save = useApp((s) => s.saveEntry);
  const setTab = useApp((s) => s.setTab);
  const describeKey = useApp((s) => s.describeKey);
  const readOnly = useReadOnly();
  const deleteEntry = useApp((s) => s.deleteEntry);
  const runVerify = useApp((s) => s.runVerify);
  const showExpiredAnyway = useApp((s) => s.showExpiredAnyway);
  const versionCount = useApp((s) => (s.versions.status === 'ready' ? s.versions.data.versions.length : null));
  const [confirming, setConfirming] = useState<string | null>(null); // the cache id asked about
  const data = entry.status === 'ready' ? entry.data : null;
  const unopened = useApp(unopenedVersion);
  const unversioned = useApp(unversionedContent);
  // What Delete… deletes: the version on show, a listed one that would not open, or content no version uses (version null).
  const target = data
    ? { cacheId: data.record.cache_id, version: data.record.version, childFiles: data.record.child_data.length }
    : unopened
      ? { cacheId: unopened.cache_id, version: unopened.version, childFiles: 0 }
      : unversioned && { cacheId: unversioned.hash, version: null, childFiles: 0 };
  // The question takes focus on its safe answer; Keep or Escape gives it back to Delete….
  const asking = !!target && confirming === target.cacheId;
  const deleteRef = useRef<HTMLButtonElement>(null);
  const keepRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) keepRef.current?.focus();
  }, [asking]);
  const keep = () => {
    setConfirming(null);
    deleteRef.current?.focus();
  };
  const remove = async (scope: 'version' | 'all') => {
    await deleteEntry(scope);
    setConfirming(null);
    // Focus stays in the panel when a version is left to show; the entry gone, it goes to the list it was picked from, not the page.
    requestAnimationFrame(() => (deleteRef.current ?? document.querySelector<HTMLElement>(ENTRY_LIST))?.focus());
  };
  const openKey = (key: string) => {
    setTab('layout');
    void describeKey(key);
  };
  // Decoded (gzip) or unquoted (string) content is not the stored size: its length is unknown here.
  const servedSize = data && !data.record.content_encoding && data.record.data_type !== 'string' ? data.record.size : null;
  // An image type comes from the name: bytes the browser cannot draw as one are shown as bytes instead.
  const [undrawable, setUndrawable] = useState<string | null>(null); // the image source that failed to draw
  const drawn = useMemo(() => (data ? previewOf(data.record.content_type, data.preview, data.previewTruncated) : null), [data]);
  const notAnImage = drawn?.kind === 'image' && drawn.src === undrawable;
  const preview = useMemo(() => (data && notAnImage ? previewOf('application/octet-stream', data.preview, data.previewTruncated) : drawn), [data, drawn, notAnImage]);

  return (
    <Panel
      label="Entry"
      actions={
        data && (
          <>
            {!data.contentProblem && !data.withheld && (
              <button type="button" onClick={() => void save()}>
                Save to file…
              </button>
            )}
            <button ref={deleteRef} type="button" disabled={readOnly} title={readOnly ? READ_ONLY_REASON : undefined} onClick={() => setConfirming(data.record.cache_id)}>
              Delete…
            </button>
          </>
        )
      }
    >
      {target && asking && (
        <div className="confirm" role="alertdialog" aria-label="Delete entry" onKeyDown={(event) => event.key === 'Escape' && keep()}>
          {target.version === null ? (
            <p>
              Delete the content of <code>{target.cacheId}</code> from <code>{namespace}</code>? No version uses it. This cannot be undone.
            </p>
          ) : (
            <p>
              Delete <code>{target.cacheId}</code> from <code>{namespace}</code>? Its content goes with it unless another version still uses it
              {target.childFiles > 0 && <>, and so does its child data ({counted(target.childFiles, 'file', 'files')})</>}. This cannot be undone.
            </p>
          )}
          <div className="row-actions">
            <button type="button" className="danger" onClick={() => void remove('version')}>
              {target.version === null ? 'Delete the content' : `Delete v${target.version}`}
            </button>
            {versionCount !== null && versionCount > 1 && (
              <button type="button" className="danger" onClick={() => void remove('all')}>
                Delete all {versionCount} versions
              </button>
            )}
            <button ref={keepRef} type="button" onClick={keep}>
              Keep
            </button>
          </div>
        </div>
      )}
      {entry.status === 'idle' && <Empty>Look up a hash, or pick an entry in the list, to see it here.</Empty>}
      {entry.status === 'loading' && <Loading what="entry" />}
      {entry.status === 'error' &&
        !unversioned &&
        (entry.error.code === 'not_found' ? (
          <p className="error" role="alert">
            Nothing found: {entry.error.message}.
          </p>
        ) : (
          <ErrorLine error={entry.error} />
        ))}
      {entry.status === 'error' && !unopened && versionCount !== null && (entry.error.code === 'corrupt' || entry.error.code === 'not_found') && (
        <p className="muted" data-testid="other-versions">
          {entry.error.code === 'corrupt' ? 'Its versions are listed in Versions: open another from there, or pick the damaged one to delete it.' : 'Its versions are listed in Versions: open one from there.'}
        </p>
      )}
      {unopened && !asking && (
        <div className="row-actions" data-testid="unopened-version">
          <p className="muted">
            v{unopened.version} is listed among the versions but {entry.status === 'error' && entry.error.code === 'not_found' ? 'has no record' : 'its record is damaged'}: deleting it removes what is left of it.
          </p>
          <button ref={deleteRef} type="button" className="danger" disabled={readOnly} title={readOnly ? READ_ONLY_REASON : undefined} onClick={() => setConfirming(unopened.cache_id)}>
            Delete v{unopened.version}…
          </button>
        </div>
      )}
      {unversioned && !asking && (
        <div className="row-actions" data-testid="unversioned-content">
          <p className="muted">
            <code>{unversioned.hash}</code> is content{unversioned.size === null ? '' : ` (${formatBytes(unversioned.size)})`} that no version uses: a store stopped before it wrote its
            record, or one writing it now. It has no entry to open. Once it is a minute old (until then a store may still be writing it), Verify with repair moves it to the
            quarantine, or delete it here.
          </p>
          <button ref={deleteRef} type="button" className="danger" disabled={readOnly} title={readOnly ? READ_ONLY_REASON : undefined} onClick={() => setConfirming(unversioned.hash)}>
            Delete the content…
          </button>
        </div>
      )}
      {data?.contentProblem && (
        <div className="confirm" role="alert" data-testid="content-problem">
          <p>
            {data.contentProblem === 'corrupt' ? (
              <>
                <strong>Corrupt:</strong> the content of <code>{data.record.cache_id}</code> no longer matches its hash. It is not previewed or saved.
              </>
            ) : (
              <>
                <strong>Missing:</strong> the content of <code>{data.record.cache_id}</code> is not in the store. Only its record is left.
              </>
            )}
          </p>
          <div className="row-actions">
            <button
              type="button"
              onClick={() => {
                setTab('verify');
                void runVerify({ wholeStore: false, repair: false });
              }}
            >
              Verify {namespace}
            </button>
            <button type="button" className="danger" disabled={readOnly} title={readOnly ? READ_ONLY_REASON : undefined} onClick={() => setConfirming(data.record.cache_id)}>
              Delete…
            </button>
          </div>
        </div>
      )}
      {data?.withheld && (
        <div className="confirm" role="status" data-testid="expired-withheld">
          <p>
            <strong>Expired:</strong> {data.withheld.message}. Show it anyway to see or save it.
          </p>
          <div className="row-actions">
            <button type="button" onClick={() => void showExpiredAnyway()}>
              Show anyway
            </button>
          </div>
        </div>
      )}
      {data && (
        <>
          <dl className="facts">
            <dt>Hash</dt>
            <dd>
              <code data-testid="entry-hash">{data.record.hash}</code> <CopyButton text={data.record.hash} what="hash" />
            </dd>
            <dt>Cache id</dt>
            <dd>
              <code data-testid="entry-cache-id">{data.record.cache_id}</code> <CopyButton text={data.record.cache_id} what="cache id" />
            </dd>
            <dt>Version</dt>
            <dd>
              {data.record.version === 0 ? (
                // Version 0: no readable list of this hash's versions says which this is.
                <span className="muted" data-testid="version-unknown">
                  unknown: no readable list of this hash&apos;s versions names it (Verify reports why; repair rebuilds the list)
                </span>
              ) : (
                <>
                  {data.record.version}{' '}
                  {data.record.version === data.record.latest_version ? (
                    <span className="badge ok">latest</span>
                  ) : (
                    <span className="badge">latest is v{data.record.latest_version}</span>
                  )}
                </>
              )}
            </dd>
            {data.record.sha256 && (
              <>
                <dt>SHA-256</dt>
                <dd>
                  <code className="wrap">{data.record.sha256}</code>
                </dd>
              </>
            )}
            <dt>Size</dt>
            <dd>
              {formatBytes(data.record.size)} ({counted(data.record.size, 'byte', 'bytes')}
              {data.record.content_encoding && `, ${data.record.content_encoding}-encoded`}
              {data.record.data_type === 'string' && ' stored, the text quoted as a JSON string'})
            </dd>
            <dt>Content type</dt>
            <dd>
              {data.record.content_type}
              {/* The native layout stores bytes, whatever they were stored as: said only where the layout records it. */}
              {data.record.format !== 'native' && <span className="muted"> (stored as {DATA_TYPE_NAMES[data.record.data_type] ?? data.record.data_type})</span>}
            </dd>
            {data.record.content_encoding && (
              <>
                <dt>Content encoding</dt>
                <dd data-testid="entry-encoding">{data.record.content_encoding} (preview and save are decoded)</dd>
              </>
            )}
            <dt>Source</dt>
            <dd>{shownName(data.record.source) || <span className="muted">none</span>}</dd>
            <dt>Stored at</dt>
            <dd>{formatTime(data.record.stored_at)}</dd>
            <dt>Expires</dt>
            <dd data-testid="entry-expiry">
              {data.expires_at === null ? 'never (no TTL)' : formatTime(data.expires_at)} {data.expired && <ExpiredBadge />}
            </dd>
            <dt>Namespace</dt>
            <dd>{namespace}</dd>
            {Object.entries(data.record.details).map(([name, value]) => (
              <Fragment key={name}>
                <dt>{detailLabel(name)}</dt>
                <dd data-testid={`entry-detail-${name}`}>{value === null ? <span className="muted">none</span> : String(value)}</dd>
              </Fragment>
            ))}
          </dl>
          <h3>Storage keys</h3>
          <ul className="keys" aria-label="Storage keys">
            {data.record.keys.map(({ key, role }) => (
              <li key={key}>
                <span className="muted">{role}: </span>
                <KeyLink storageKey={key} open={openKey} />
              </li>
            ))}
          </ul>
          {data.record.child_data.length > 0 && (
            <>
              <h3>Child data</h3>
              <ul className="keys" aria-label="Child data">
                {data.record.child_data.map(({ key, size }) => (
                  <li key={key}>
                    <KeyLink storageKey={key} open={openKey} /> <span className="muted">{formatBytes(size)}</span>
                  </li>
                ))}
              </ul>
            </>
          )}
          {!data.contentProblem && !data.withheld && (
            <>
              <h3 id="preview-heading">
                Preview
                {preview && preview.kind !== 'too-big' && (data.previewTruncated || (servedSize !== null && preview.shownBytes < servedSize)) && (
                  <span className="muted">
                    {' '}
                    (first {formatBytes(preview.shownBytes)}
                    {servedSize !== null && ` of ${formatBytes(servedSize)}`}
                    {preview.kind === 'hex' && ', in hex'})
                  </span>
                )}
                {data.record.content_encoding && <span className="badge">{data.record.content_encoding} decoded</span>}
                {data.previewVerified && (
                  <span className="badge ok" title="The whole content was read and matches its hash">
                    verified
                  </span>
                )}
              </h3>
              {notAnImage && (
                <p className="muted" data-testid="not-an-image">
                  Not an image this window can draw, although its name says {data.record.content_type}: its bytes are shown instead.
                </p>
              )}
              {preview && preview.shownBytes === 0 && !data.previewTruncated && preview.kind !== 'too-big' ? (
                <p className="muted" data-testid="preview-empty">
                  Empty: this version holds no bytes.
                </p>
              ) : preview?.kind === 'image' ? (
                <img className="preview-image" src={preview.src} alt={`Preview of ${data.record.cache_id}`} onError={() => setUndrawable(preview.src)} />
              ) : preview?.kind === 'too-big' ? (
                <p className="preview-too-big" data-testid="preview-too-big">
                  {/* Decoded content's size is not known up front: only that it passed the bound. */}
                  Too big to preview: {servedSize === null ? `over ${formatBytes(LIMITS.imagePreviewBytes)}` : formatBytes(servedSize)} (images up to {formatBytes(LIMITS.imagePreviewBytes)} are shown).{' '}
                  <button type="button" onClick={() => void save()}>
                    Save instead…
                  </button>
                </p>
              ) : (
                <pre className={`preview ${preview?.kind}`} aria-label="Preview">
                  {preview?.text}
                </pre>
              )}
            </>
          )}
        </>
      )}
    </Panel>
  );
}

/** Past its namespace's TTL: retrieve refuses it (the service's 410) unless asked for anyway. */
function ExpiredBadge() {
  return (
    <span className="badge expired" title="Past its namespace's TTL: served only when asked for anyway">
      expired
    </span>
  );
}

/** `json_field_path` → "Json field path": the layout's own field names, readable. */
function detailLabel(name: string): string {
  const words = name.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function KeyLink({ storageKey, open }: { storageKey: string; open: (key: string) => void }) {
  return (
    <button type="button" className="link mono" onClick={() => open(storageKey)}>
      {storageKey}
    </button>
  );
}

export function VersionsPanel() {
  const versions = useApp((s) => s.versions);
  const entry = useApp((s) => s.entry);
  const lookup = useApp((s) => s.lookup);
  const setInput = useApp((s) => s.setLookupInput);
  const shown = entry.status === 'ready' ? entry.data.record.version : null;
  const list = versions.status === 'ready' ? versions.data.versions : [];
  const latest = list.length ? list[list.length - 1]!.version : null;

  function open(cacheId: string) {
    setInput(cacheId);
    void lookup(cacheId);
  }

  return (
    <Panel label="Versions" className="versions-panel" actions={versions.status === 'ready' && <span className="muted">{counted(list.length, 'version', 'versions')}</span>}>
      {versions.status === 'idle' && <Empty>The versions of the looked-up hash appear here.</Empty>}
      {versions.status === 'loading' && <Loading what="versions" />}
      {versions.status === 'error' && <ErrorLine error={versions.error} />}
      {versions.status === 'ready' && list.length === 0 && <Empty>{shown !== null ? 'No readable list of this hash’s versions: Verify reports why, and repair rebuilds it.' : 'No versions.'}</Empty>}
      {list.length > 0 && (
        <div className="table-scroll">
          <table className="versions">
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col" className="cache-id">
                  Cache id
                </th>
                <th scope="col">Stored at</th>
                <th scope="col">Size</th>
                <th scope="col">Source</th>
              </tr>
            </thead>
            <tbody>
              {[...list].reverse().map((v) => (
                <tr
                  key={v.version}
                  className={v.version === shown ? 'selected' : ''}
                  aria-selected={v.version === shown}
                  tabIndex={0}
                  onClick={() => open(v.cache_id)}
                  onKeyDown={(e) => e.key === 'Enter' && open(v.cache_id)}
                >
                  <td title={v.cache_id}>
                    v{v.version} {v.version === latest && <span className="badge ok">latest</span>}
                  </td>
                  <td className="cache-id">
                    <code>{v.cache_id}</code>
                  </td>
                  <td title={formatTime(v.stored_at)}>
                    {formatTime(v.stored_at).slice(0, 10)}
                    <span className="clock">{formatTime(v.stored_at).slice(10)}</span> {v.expired && <ExpiredBadge />}
                  </td>
                  {/* The service layout's refs hold neither: said, not left blank. */}
                  <td title={v.size === null ? 'not in the refs of this layout: open the version for its size' : undefined}>{v.size === null ? '—' : formatBytes(v.size)}</td>
                  <td className="ellipsis source" title={v.source ? shownName(v.source) : 'no source name is recorded for it'}>
                    {v.source ? shownName(v.source) : '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}
