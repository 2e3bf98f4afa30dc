import { useState } from 'react';
import type { VerifyResult } from '../../src-shared/contract';
import { MAX_VERIFY_SAMPLE, PROBLEM_KINDS, type ProblemKind } from '../../src-shared/domain';
import { counted, formatBytes, formatCount } from '../lib/format';
import { shownName } from '../../src-shared/printable';
import { useApp } from '../state/context';
import { ConfirmDialog, Empty, ErrorLine, Panel, READ_ONLY_REASON, useReadOnly } from './common';

/** What each kind means in any layout; what a repair does with it is in the report (its notes, each repair's action). */
const KIND_TITLES: Record<ProblemKind, string> = {
  corrupt: 'Corrupt: bytes that do not match their hash or record, or a record or ref that cannot be read',
  missing_content: 'Missing content: a version points at bytes that are not there',
  dangling_ref: 'Dangling references: views or refs naming a version that has no record',
  orphan: 'Orphans: content or records nothing else points at',
  misplaced: 'Misplaced: keys in the wrong place or outside the layout, and links inside the store',
  stale_latest: 'Stale views: latest pointers or indexes behind the records',
  temp_leftover: 'Temp leftovers of interrupted writes',
};

export function VerifyPanel() {
  const run = useApp((s) => s.verify);
  const namespace = useApp((s) => s.namespace);
  const start = useApp((s) => s.runVerify);
  const cancel = useApp((s) => s.cancelVerify);
  const readOnly = useReadOnly();
  const [wholeStore, setWholeStore] = useState(false);
  const [sample, setSample] = useState('');
  /** Repair moves things out of the store's listing (orphans, damaged records): asked first. */
  const [confirmingRepair, setConfirmingRepair] = useState(false);
  const running = run.status === 'running';
  const sampleNumber = sample.trim() === '' ? undefined : /^\s*[0-9]{1,10}\s*$/.test(sample) ? Number(sample) : NaN;
  const sampleValid = sampleNumber === undefined || (sampleNumber >= 1 && sampleNumber <= MAX_VERIFY_SAMPLE);

  return (
    <Panel label="Verify" title="Verify integrity">
      <form
        className="verify-form"
        onSubmit={(e) => {
          e.preventDefault();
          void start({ wholeStore, sample: sampleNumber, repair: false });
        }}
      >
        <label className="check">
          <input type="radio" name="scope" checked={!wholeStore} onChange={() => setWholeStore(false)} /> Namespace <code>{namespace}</code>
        </label>
        <label className="check">
          <input type="radio" name="scope" checked={wholeStore} onChange={() => setWholeStore(true)} /> Whole store
        </label>
        <label className="check">
          Re-hash a sample of
          <input aria-label="Sample size" className="narrow" value={sample} onChange={(e) => setSample(e.target.value)} placeholder="all" inputMode="numeric" /> entries
        </label>
        <button type="submit" className="primary" disabled={running || !sampleValid}>
          Verify
        </button>
        <button type="button" disabled={running || !sampleValid || readOnly} title={readOnly ? READ_ONLY_REASON : undefined} onClick={() => setConfirmingRepair(true)}>
          Verify and repair…
        </button>
        {running && (
          <button type="button" onClick={() => void cancel()}>
            Cancel
          </button>
        )}
      </form>
      {!sampleValid && (
        <p className="error" role="alert">
          The sample is a whole number of entries, from 1 to {formatCount(MAX_VERIFY_SAMPLE)}.
        </p>
      )}
      {run.status === 'idle' && <Empty>Verify re-hashes content and checks every reference. Nothing is changed unless you choose repair.</Empty>}
      {running && (
        <p role="status">
          Verifying {run.scope}: {formatCount(run.checked)} keys checked of {formatCount(run.listed)} listed so far
          {run.rehashing ? (
            <>
              ; re-hashing <code>{shownName(run.rehashing.key)}</code>: {formatBytes(run.rehashing.done)} of {formatBytes(run.rehashing.size)}
            </>
          ) : (
            '…'
          )}
        </p>
      )}
      {run.status === 'error' && run.error && <ErrorLine error={run.error} />}
      {run.status === 'done' && run.report && <VerifyReport report={run.report} scope={run.scope ?? ''} />}
      {confirmingRepair && (
        <ConfirmDialog
          label="Confirm repair"
          title={<>Verify and repair {wholeStore ? 'the whole store' : <code>{namespace}</code>}?</>}
          action="Verify and repair"
          keep="Keep it as it is"
          onConfirm={() => void start({ wholeStore, sample: sampleNumber, repair: true })}
          onClose={() => setConfirmingRepair(false)}
        >
          Repair makes only the changes verify can make safely: stale views and refs are rewritten, temp leftovers removed, and orphans and damaged records moved to the store&apos;s
          quarantine folder, where they stay (nothing is deleted). An entry whose only record is damaged leaves the list with it. Corrupt or missing content is only reported.
        </ConfirmDialog>
      )}
    </Panel>
  );
}

function VerifyReport({ report, scope }: { report: VerifyResult; scope: string }) {
  const groups = PROBLEM_KINDS.map((kind) => ({ kind, problems: report.problems.filter((p) => p.kind === kind) })).filter((g) => g.problems.length);
  // Each problem a repair acted on is marked so; the rest are what is left, unless a repair elsewhere settled them.
  const repairedKeys = new Set(report.repaired?.map((r) => r.key));
  return (
    <div aria-label="Verify report">
      <p className={report.problems.length ? 'error' : 'ok-text'} role="status">
        {report.problems.length ? counted(report.problems.length, 'problem', 'problems') : 'No problems'} in {scope} ({formatCount(report.checked)} keys checked
        {report.sampled && `; content re-hashed for a sample of ${formatCount(report.sampled.perNamespace)} per namespace: ${formatCount(report.sampled.rehashed)} of ${formatCount(report.sampled.of)}, the rest not re-hashed`}).
      </p>
      {report.notes.map((n) => (
        <p key={n} className="muted">
          {n}
        </p>
      ))}
      {groups.map((g) => (
        <section key={g.kind} aria-label={g.kind} className="problem-group">
          <h3>
            {KIND_TITLES[g.kind]} <span className="badge">{g.problems.length}</span>
          </h3>
          <ul className="problems">
            {g.problems.slice(0, 500).map((p) => (
              <li key={`${p.kind}${p.key}`}>
                {repairedKeys.has(p.key) && <span className="badge ok">repaired</span>} <code className="wrap">{p.key}</code> <span className="muted">{p.detail}</span>
              </li>
            ))}
            {g.problems.length > 500 && <li className="muted">…and {g.problems.length - 500} more (the CLI prints them all: verify --json)</li>}
          </ul>
        </section>
      ))}
      {report.repaired && (
        <section aria-label="Repairs" className="problem-group">
          <h3>
            Repaired <span className="badge ok">{report.repaired.length}</span>
          </h3>
          {report.problems.length > 0 && (
            <p className="muted" data-testid="unrepaired">
              Repair makes only safe changes and never rewrites content or deletes anything: what it takes out goes to the quarantine folder (one repair may
              settle several problems). Verify again to see what is left. What repair leaves is yours to mend: delete a damaged version from its entry, or store its file again.
            </p>
          )}
          <ul className="problems">
            {report.repaired.map((r) => (
              <li key={`${r.kind}${r.key}`}>
                <code className="wrap">{r.key}</code> <span className="muted">{r.action}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
