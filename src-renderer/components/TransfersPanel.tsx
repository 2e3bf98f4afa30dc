import { useRef } from 'react';
import type { StoredEntry } from '../../src-shared/contract';
import type { StoreChoice } from '../api/client';
import { counted, formatBytes, formatCount } from '../lib/format';
import { shownName } from '../../src-shared/printable';
import { useApp } from '../state/context';
import { dropProgress, retryable, type Drop } from '../state/drops';
import { ACTIVE_PHASES as ACTIVE, type Transfer } from '../state/store';
import { Empty, ErrorLine, Panel, useReadOnly } from './common';

export function TransfersPanel() {
  const transfers = useApp((s) => s.transfers);
  const drops = useApp((s) => s.drops);
  const namespace = useApp((s) => s.namespace);
  const storeFiles = useApp((s) => s.storeFiles);
  const cancelAll = useApp((s) => s.cancelAll);
  const clearFinished = useApp((s) => s.clearFinished);
  const storeProblem = useApp((s) => s.storeProblem);
  const accessRefused = useApp((s) => s.accessRefused);
  const readOnly = useReadOnly();
  const refused = storeProblem !== null || accessRefused !== null || readOnly;
  const picker = useRef<HTMLInputElement>(null);
  const folderPicker = useRef<HTMLInputElement>(null);
  const running = transfers.some((t) => ACTIVE.includes(t.phase));
  const choose = () => !refused && picker.current?.click();

  return (
    <Panel
      label="Transfers"
      actions={
        <>
          {running && (
            <button type="button" onClick={() => void cancelAll()}>
              Cancel all
            </button>
          )}
          {(transfers.some((t) => !ACTIVE.includes(t.phase)) || drops.some((d) => d.status === 'done' || d.status === 'cancelled')) && (
            <button type="button" className="link" onClick={clearFinished}>
              Clear finished
            </button>
          )}
        </>
      }
    >
      <StoreChoiceFields />
      <div
        className={`dropzone ${refused ? 'refused' : ''}`}
        role="button"
        tabIndex={0}
        aria-label="Drop files to store"
        aria-disabled={refused}
        onClick={choose}
        onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && choose()}
      >
        {accessRefused ? (
          <span className="warn-text">Storing is off: {accessRefused.message}.</span>
        ) : storeProblem ? (
          <span className="warn-text">Storing is off: the store is missing or unreachable. Reconnect, or pick another store.</span>
        ) : readOnly ? (
          <span className="warn-text">Storing is off: this store is open read-only (its credentials may read but not write).</span>
        ) : (
          <>
            <strong>Drop files or folders</strong> anywhere to store them in <code>{namespace}</code>
            <span className="muted">or click to choose files</span>
          </>
        )}
        <input
          ref={picker}
          type="file"
          multiple
          hidden
          onChange={(e) => {
            void storeFiles([...(e.target.files ?? [])]);
            e.target.value = '';
          }}
        />
      </div>
      {!refused && (
        <button type="button" className="link" onClick={() => folderPicker.current?.click()}>
          Choose a folder…
        </button>
      )}
      {/* A folder keeps its files' paths inside it as their source names (webkitRelativePath). */}
      <input
        ref={folderPicker}
        type="file"
        aria-label="Folder to store"
        hidden
        {...{ webkitdirectory: '' }}
        onChange={(e) => {
          void storeFiles([...(e.target.files ?? [])]);
          e.target.value = '';
        }}
      />
      {transfers.length === 0 && drops.length === 0 && <Empty>No transfers yet.</Empty>}
      <ul className="transfers">
        {drops.map((d) => (
          <DropView key={d.id} drop={d} />
        ))}
        {transfers.map((t) => (
          <TransferRow key={t.id} transfer={t} />
        ))}
      </ul>
    </Panel>
  );
}

const AS_NAMES: Record<NonNullable<StoreChoice['as']>, string> = { bytes: 'bytes, as they are', json: 'JSON', string: 'text (string)' };

/** How drops are stored in the open layout: `as`, and its own choices with fixed values (the service's strategy). */
function StoreChoiceFields() {
  const capabilities = useApp((s) => (s.capabilities.status === 'ready' ? s.capabilities.data : null));
  const choice = useApp((s) => s.storeChoice);
  const setChoice = useApp((s) => s.setStoreChoice);
  if (!capabilities) return null;
  const choices = Object.entries(capabilities.storeOptions).filter((entry): entry is [string, string[]] => entry[1] !== null);
  if (capabilities.storeAs.length < 2 && choices.length === 0) return null;
  return (
    <div className="store-choice form-grid">
      <label>
        Store as
        <select value={choice.as ?? 'bytes'} onChange={(e) => setChoice({ ...choice, as: e.target.value as StoreChoice['as'] })}>
          {capabilities.storeAs.map((as) => (
            <option key={as} value={as}>
              {AS_NAMES[as]}
            </option>
          ))}
        </select>
      </label>
      {choices.map(([name, values]) => (
        <label key={name}>
          {name.charAt(0).toUpperCase() + name.slice(1).replace(/_/g, ' ')}
          <select
            value={choice.options?.[name] ?? ''}
            onChange={(e) => {
              const { [name]: _previous, ...others } = choice.options ?? {};
              setChoice({ ...choice, options: e.target.value ? { ...others, [name]: e.target.value } : others });
            }}
          >
            <option value="">the layout's default</option>
            {values.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </label>
      ))}
    </div>
  );
}

/** Where a drop goes and how it is stored, fixed when it was dropped. */
function TransferTarget({ target: t }: { target: Pick<Transfer, 'namespace' | 'store' | 'choice'> }) {
  return (
    <div className="transfer-target muted">
      into <code>{t.namespace}</code>
      {t.store && <> on {t.store}</>}
      {t.choice.as && t.choice.as !== 'bytes' && <> · as {t.choice.as}</>}
      {Object.entries(t.choice.options ?? {}).map(([name, value]) => ` · ${name} ${value}`)}
    </div>
  );
}

function TransferRow({ transfer: t }: { transfer: Transfer }) {
  const cancel = useApp((s) => s.cancelTransfer);
  const percent = t.size > 0 ? Math.min(100, Math.round((t.bytesDone / t.size) * 100)) : t.phase === 'done' ? 100 : 0;
  const active = ACTIVE.includes(t.phase);
  // Every byte is read; the store still writes (copies in the service layout) and flushes them.
  const writing = t.phase === 'storing' && t.size > 0 && t.bytesDone >= t.size;
  return (
    <li className={`transfer ${t.phase}`} aria-label={`Transfer ${t.name}`}>
      <div className="transfer-head">
        <span className="name ellipsis" title={shownName(t.name)}>
          {shownName(t.name)}
        </span>
        <span className="muted">{formatBytes(t.size)}</span>
        {active && !t.cancelling && (
          <button type="button" className="link" onClick={() => void cancel(t.id)} aria-label={`Cancel ${t.name}`}>
            Cancel
          </button>
        )}
      </div>
      <TransferTarget target={t} />
      {active && (
        <>
          <div className="progress" role="progressbar" aria-label={`${t.name} progress`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
            <div className={`bar ${t.phase}`} style={{ width: `${percent}%` }} />
          </div>
          <div className="transfer-status muted">
            {t.cancelling ? 'Cancelling' : t.phase === 'queued' ? 'Waiting' : t.phase === 'hashing' ? 'Hashing' : writing ? 'All read, writing it to the store' : 'Storing'} · {formatBytes(t.bytesDone)} of{' '}
            {formatBytes(t.size)} · {percent}%{t.rate > 0 && !writing && ` · ${formatBytes(t.rate)}/s`}
          </div>
        </>
      )}
      {/* No warning: the same content is kept once and gets a version; once done, the result's badge says so. */}
      {t.existing && active && <div className="muted">Same content as v{t.existing.version} in this namespace: storing it as a new version (its bytes are kept once).</div>}
      {t.phase === 'done' && t.result && t.storedBeforeCancel && (
        <div className="note" role="status">
          The cancel came after the version was committed: stored as v{t.result.version}.
        </div>
      )}
      {t.phase === 'done' && t.result && (
        <div className="transfer-result">
          <code>{t.result.hash}</code> <code>{t.result.cache_id}</code>{' '}
          <span className={`badge ${t.result.version > 1 ? '' : 'ok'}`}>{resultBadge(t.result)}</span>
        </div>
      )}
      {t.phase === 'cancelled' && <div className="muted">Cancelled: nothing was stored.</div>}
      {t.phase === 'failed' && t.error && <ErrorLine error={t.error} />}
    </li>
  );
}

/** What the store did; a later version whose content the store did not hold whole (missing, or damaged and replaced) says so. */
function resultBadge(result: StoredEntry): string {
  if (result.version === 1) return 'new content';
  if (result.deduplicated) return `new version v${result.version} of content already stored`;
  return `new version v${result.version}; its content was missing or damaged, and is stored again`;
}

function formatEta(seconds: number): string {
  return seconds < 90 ? `about ${Math.max(1, Math.round(seconds))} s left` : `about ${Math.round(seconds / 60)} min left`;
}

/** Failures listed at once; the count covers them all. */
const FAILURES_SHOWN = 50;

/** One multi-file drop: files and bytes done of the total, rate, time left, Cancel all, and its failures with Retry failed. */
function DropView({ drop: d }: { drop: Drop }) {
  const cancelDrop = useApp((s) => s.cancelDrop);
  const retryFailed = useApp((s) => s.retryFailed);
  const { filesDone, bytesDone, rate, etaSeconds } = dropProgress(d);
  const percent = Math.min(100, Math.round(d.bytes > 0 ? (bytesDone / d.bytes) * 100 : (filesDone / Math.max(1, d.files)) * 100));
  const label = `Drop of ${counted(d.files, 'file', 'files')}`;
  const active = d.status === 'running' || d.status === 'cancelling';
  return (
    <li className={`transfer drop ${d.status}`} aria-label={label}>
      <div className="transfer-head">
        <span className="name">{label}</span>
        <span className="muted">{formatBytes(d.bytes)}</span>
        {d.status === 'running' && (
          <button type="button" className="link" onClick={() => void cancelDrop(d.id)}>
            Cancel all
          </button>
        )}
      </div>
      <TransferTarget target={d} />
      {active && (
        <div className="progress" role="progressbar" aria-label={`${label} progress`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
          <div className="bar storing" style={{ width: `${percent}%` }} />
        </div>
      )}
      <div className="transfer-status muted" role="status">
        {d.status === 'cancelled'
          ? d.storedBeforeCancel === undefined
            ? 'Cancelled: main did not say what was stored; the counts show it.'
            : d.storedBeforeCancel === d.files
              ? `The cancel came after the last file: all ${counted(d.files, 'file was', 'files were')} stored.`
              : `Cancelled: ${formatCount(d.storedBeforeCancel)} of ${counted(d.files, 'file was', 'files were')} stored (they stay); the rest were not.`
          : d.status === 'done'
            ? `Stored ${formatCount(d.stored)} of ${counted(d.files, 'file', 'files')} (${formatBytes(d.storedBytes)})`
            : `${d.status === 'cancelling' ? 'Cancelling · ' : ''}${formatCount(filesDone)} of ${counted(d.files, 'file', 'files')} · ${formatBytes(bytesDone)} of ${formatBytes(d.bytes)}${rate > 0 ? ` · ${formatBytes(rate)}/s` : ''}${etaSeconds !== null && filesDone > 0 ? ` · ${formatEta(etaSeconds)}` : ''}`}
      </div>
      {d.failures.length > 0 && (
        <div className="drop-failures">
          <div className="transfer-head">
            <span className="warn-text">{counted(d.failures.length, 'file failed', 'files failed')}</span>
            {!active && d.failures.some(retryable) && (
              <button type="button" className="link" onClick={() => void retryFailed(d.id)}>
                Retry failed
              </button>
            )}
          </div>
          <ul aria-label="Failed files">
            {d.failures.slice(0, FAILURES_SHOWN).map((f) => (
              <li key={f.name} className="muted ellipsis" title={`${shownName(f.name)}: ${f.error.message}`}>
                <code>{shownName(f.name)}</code>: {f.error.message}
              </li>
            ))}
            {d.failures.length > FAILURES_SHOWN && <li className="muted">and {formatCount(d.failures.length - FAILURES_SHOWN)} more</li>}
          </ul>
        </div>
      )}
    </li>
  );
}
