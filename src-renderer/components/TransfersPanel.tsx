import { useRef } from 'react';
import type { StoreChoice } from '../api/client';
import { formatBytes } from '../lib/format';
import { useApp } from '../state/context';
import { ACTIVE_PHASES as ACTIVE, type Transfer } from '../state/store';
import { Empty, ErrorLine, Panel } from './common';

export function TransfersPanel() {
  const transfers = useApp((s) => s.transfers);
  const namespace = useApp((s) => s.namespace);
  const storeFiles = useApp((s) => s.storeFiles);
  const cancelAll = useApp((s) => s.cancelAll);
  const clearFinished = useApp((s) => s.clearFinished);
  const storeProblem = useApp((s) => s.storeProblem);
  const picker = useRef<HTMLInputElement>(null);
  const running = transfers.some((t) => ACTIVE.includes(t.phase));
  const choose = () => !storeProblem && picker.current?.click();

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
          {transfers.some((t) => !ACTIVE.includes(t.phase)) && (
            <button type="button" className="link" onClick={clearFinished}>
              Clear finished
            </button>
          )}
        </>
      }
    >
      <StoreChoiceFields />
      <div
        className={`dropzone ${storeProblem ? 'refused' : ''}`}
        role="button"
        tabIndex={0}
        aria-label="Drop files to store"
        aria-disabled={storeProblem !== null}
        onClick={choose}
        onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && choose()}
      >
        {storeProblem ? (
          <span className="warn-text">Storing is off: the store is missing or unreachable. Reconnect, or pick another store.</span>
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
      {transfers.length === 0 && <Empty>No transfers yet.</Empty>}
      <ul className="transfers">
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

function TransferRow({ transfer: t }: { transfer: Transfer }) {
  const cancel = useApp((s) => s.cancelTransfer);
  const percent = t.size > 0 ? Math.min(100, Math.round((t.bytesDone / t.size) * 100)) : t.phase === 'done' ? 100 : 0;
  const active = ACTIVE.includes(t.phase);
  return (
    <li className={`transfer ${t.phase}`} aria-label={`Transfer ${t.name}`}>
      <div className="transfer-head">
        <span className="name ellipsis" title={t.name}>
          {t.name}
        </span>
        <span className="muted">{formatBytes(t.size)}</span>
        {active && !t.cancelling && (
          <button type="button" className="link" onClick={() => void cancel(t.id)} aria-label={`Cancel ${t.name}`}>
            Cancel
          </button>
        )}
      </div>
      <div className="transfer-target muted">
        into <code>{t.namespace}</code>
        {t.store && <> on {t.store}</>}
        {t.choice.as && t.choice.as !== 'bytes' && <> · as {t.choice.as}</>}
        {Object.entries(t.choice.options ?? {}).map(([name, value]) => ` · ${name} ${value}`)}
      </div>
      {active && (
        <>
          <div className="progress" role="progressbar" aria-label={`${t.name} progress`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
            <div className={`bar ${t.phase}`} style={{ width: `${percent}%` }} />
          </div>
          <div className="transfer-status muted">
            {t.cancelling ? 'Cancelling' : t.phase === 'queued' ? 'Waiting' : t.phase === 'hashing' ? 'Hashing' : 'Storing'} · {formatBytes(t.bytesDone)} of {formatBytes(t.size)} · {percent}%
            {t.rate > 0 && ` · ${formatBytes(t.rate)}/s`}
          </div>
        </>
      )}
      {t.existing && (
        <div className="note">
          Already stored in this namespace as v{t.existing.version}
          {t.phase === 'done' ? '.' : ': storing a new version.'}
        </div>
      )}
      {t.phase === 'done' && t.result && t.storedBeforeCancel && (
        <div className="note" role="status">
          The cancel came after the version was committed: stored as v{t.result.version}.
        </div>
      )}
      {t.phase === 'done' && t.result && (
        <div className="transfer-result">
          <code>{t.result.hash}</code> <code>{t.result.cache_id}</code>{' '}
          <span className={`badge ${t.result.version > 1 ? '' : 'ok'}`}>
            {t.result.version > 1 ? `new version v${t.result.version} of content already stored` : 'new content'}
          </span>
        </div>
      )}
      {t.phase === 'cancelled' && <div className="muted">Cancelled: nothing was stored.</div>}
      {t.phase === 'failed' && t.error && <ErrorLine error={t.error} />}
    </li>
  );
}
