import { useState, type FormEvent } from 'react';
import type { PolicyView, PrunePlanView, PruneResult, RetentionRuleView } from '../../src-shared/contract';
import type { ErrorInfo } from '../../src-shared/errors';
import { ageSeconds, formatAge } from '../../src-shared/age';
import { counted, formatBytes, formatCount, formatTime } from '../lib/format';
import { useApp } from '../state/context';
import { AsIs, ConfirmDialog, Empty, ErrorLine, Loading, Panel, READ_ONLY_REASON, TableHead, useReadOnly } from './common';

const REASONS: Record<PrunePlanView['rows'][number]['reason'], string> = {
  expired: 'past its TTL',
  older_than: 'older than asked',
  keep_versions: 'beyond the versions kept',
};

function ttlText(ttl: number | null | undefined): string {
  return ttl === undefined ? 'store-wide' : ttl === null ? 'keep forever' : formatAge(ttl);
}

function keepText(keep: number | null | undefined): string {
  return keep === undefined ? 'store-wide' : keep === null ? 'every version' : String(keep);
}

/** A namespace's retention: the policy (store-wide and its own), what it would prune now, and prune with a confirmation. */
/**
 * What a pruned version's content comes to. In the native layout versions share one content file,
 * freed with the last of them; in the service layout each version has its own, freed with it.
 */
function contentFate(r: { content_removed: boolean; bytes_freed: number }): string {
  if (r.content_removed) return `removed, ${formatBytes(r.bytes_freed)}`;
  return r.bytes_freed > 0 ? `its own copy removed, ${formatBytes(r.bytes_freed)}; the content stays for other versions` : 'kept for other versions';
}

export function RetentionPanel() {
  const namespace = useApp((s) => s.namespace);
  const { policy, plan, prune } = useApp((s) => s.retention);
  const load = useApp((s) => s.loadRetention);
  const runPrune = useApp((s) => s.runPrune);
  const cancelPrune = useApp((s) => s.cancelPrune);
  const readOnly = useReadOnly();
  const [confirming, setConfirming] = useState(false);
  const running = prune.status === 'running';
  const planned = plan.status === 'ready' ? plan.data : null;

  return (
    <Panel
      label="Retention"
      title={
        <>
          Retention of <AsIs>{namespace}</AsIs>
        </>
      }
      actions={
        <button type="button" onClick={() => void load()} disabled={running}>
          Refresh
        </button>
      }
    >
      {policy.status === 'loading' && <Loading what="policy" />}
      {policy.status === 'error' && <ErrorLine error={policy.error} />}
      {policy.status === 'ready' && <PolicySection policy={policy.data} namespace={namespace} />}

      <section aria-label="Expired now" className="retention-section">
        <h3>What the policy would prune now</h3>
        {plan.status === 'loading' && <Loading what="what is expired" />}
        {plan.status === 'error' && <ErrorLine error={plan.error} />}
        {planned && <PlanView plan={planned} />}
        {planned && planned.versions > 0 && (
          <button type="button" className="danger" disabled={running || readOnly} title={readOnly ? READ_ONLY_REASON : undefined} onClick={() => setConfirming(true)}>
            Prune {counted(planned.versions, 'version', 'versions')}…
          </button>
        )}
      </section>

      {running && (
        <div className="row-actions">
          <p role="status">
            Pruning {prune.namespace}
            {prune.note ? `: ${prune.note}` : '…'}
          </p>
          {prune.total ? (
            <span className="muted">
              <progress max={prune.total} value={Math.min(prune.done, prune.total)} aria-label="Versions dealt with" /> {formatCount(prune.done)} of {counted(prune.total, 'version', 'versions')} done
            </span>
          ) : null}
          <button type="button" onClick={() => void cancelPrune()}>
            Cancel prune
          </button>
        </div>
      )}
      {prune.status === 'error' && prune.error && <ErrorLine error={prune.error} />}
      {prune.status === 'done' && prune.result && <PruneSummary result={prune.result} />}

      {confirming && planned && (
        <ConfirmDialog
          label="Confirm prune"
          title={
            <>
              Prune {counted(planned.versions, 'version', 'versions')} from <code>{planned.namespace}</code>?
            </>
          }
          action="Prune"
          keep="Keep them"
          danger
          onConfirm={() => void runPrune()}
          onClose={() => setConfirming(false)}
        >
          {counted(planned.hashes, 'hash', 'hashes')}; {counted(planned.contentRemoved, 'hash goes', 'hashes go')} entirely with {planned.contentRemoved === 1 ? 'its' : 'their'} last version, freeing {formatBytes(planned.bytesFreed)}. Other namespaces are not touched. This cannot be undone.
        </ConfirmDialog>
      )}
    </Panel>
  );
}

function PolicySection({ policy, namespace }: { policy: PolicyView; namespace: string }) {
  const setPolicy = useApp((s) => s.setPolicy);
  const readOnly = useReadOnly();
  const own: Partial<RetentionRuleView> = Object.hasOwn(policy.namespaces, namespace) ? policy.namespaces[namespace]! : {};
  const [scope, setScope] = useState<'namespace' | 'store'>('namespace');
  const [ttl, setTtl] = useState('');
  const [keep, setKeep] = useState('');
  const [error, setError] = useState<ErrorInfo | null>(null);
  const [saving, setSaving] = useState(false);
  /** A TTL takes effect the moment it is saved (what is older stops being served): asked first. */
  const [confirmingTtl, setConfirmingTtl] = useState(false);
  // The TTL the save would set: an age, or a namespace's default when the store-wide rule has one (none keeps everything: no question).
  const inherited = policy.default.ttl_seconds;
  const newTtl = ageSeconds(ttl) !== null ? ttl.trim() : scope === 'namespace' && ttl.trim() === 'default' && inherited !== null ? formatAge(inherited) : null;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (newTtl !== null) setConfirmingTtl(true);
    else void save();
  }

  async function save() {
    setSaving(true);
    const failed = await setPolicy({ scope, ttl: ttl.trim() || undefined, keepVersions: keep.trim() || undefined });
    setSaving(false);
    setError(failed);
    if (!failed) {
      setTtl('');
      setKeep('');
    }
  }

  return (
    <section aria-label="Policy" className="retention-section">
      <h3>Policy</h3>
      <table className="policy">
        <TableHead columns={['Rule', 'TTL', 'Keep versions per hash']} />
        <tbody>
          <tr>
            <th scope="row">Store-wide</th>
            <td data-testid="store-ttl">{ttlText(policy.default.ttl_seconds)}</td>
            <td>{keepText(policy.default.keep_versions)}</td>
          </tr>
          <tr>
            <th scope="row">
              <code>{namespace}</code>
            </th>
            <td data-testid="namespace-ttl">{ttlText(own.ttl_seconds)}</td>
            <td>{keepText(own.keep_versions)}</td>
          </tr>
        </tbody>
      </table>
      <form className="verify-form" onSubmit={submit} aria-label="Change the policy">
        <label className="check">
          <input type="radio" name="policy-scope" checked={scope === 'namespace'} onChange={() => setScope('namespace')} /> Namespace <code>{namespace}</code>
        </label>
        <label className="check">
          <input type="radio" name="policy-scope" checked={scope === 'store'} onChange={() => setScope('store')} /> Store-wide
        </label>
        <label className="check">
          TTL
          <input className="narrow" value={ttl} onChange={(e) => setTtl(e.target.value)} placeholder="30d" aria-describedby="policy-help" />
        </label>
        <label className="check">
          Keep versions
          <input className="narrow" value={keep} onChange={(e) => setKeep(e.target.value)} placeholder="—" inputMode="numeric" aria-describedby="policy-help" />
        </label>
        <button type="submit" className="primary" disabled={saving || (!ttl.trim() && !keep.trim()) || readOnly} title={readOnly ? READ_ONLY_REASON : undefined}>
          Save policy
        </button>
      </form>
      <p className="muted" id="policy-help">
        TTL: a number and s, m, h or d (90s, 12h, 30d), or none to keep forever. Keep versions: a whole number, or none. For a namespace, default follows the store-wide rule.
      </p>
      {error && <ErrorLine error={error} />}
      {confirmingTtl && newTtl && (
        <ConfirmDialog
          label="Confirm TTL"
          title={
            <>
              Set a TTL of {newTtl} {scope === 'store' ? 'store-wide' : <>for <code>{namespace}</code></>}
              {ttl.trim() === 'default' && ', the store-wide one'}?
            </>
          }
          action="Save policy"
          keep="Keep the current policy"
          onConfirm={() => void save()}
          onClose={() => setConfirmingTtl(false)}
        >
          Versions stored more than {newTtl} ago expire as soon as it is saved: they are no longer served (a lookup says expired, Save leaves them out) until the policy changes, and Prune
          can then remove them. Saving deletes nothing.
          {scope === 'store' && ' Store-wide, it applies to every namespace without a TTL of its own, not only this one.'}
        </ConfirmDialog>
      )}
    </section>
  );
}

/** Versions a plan could not judge: said wherever its outcome is. */
function leftAlone(unreadableRefs: number): string {
  return unreadableRefs > 0 ? ` ${counted(unreadableRefs, 'ref', 'refs')} could not be read, so the versions ${unreadableRefs === 1 ? 'it names were' : 'they name were'} left alone (run Verify).` : '';
}

/** Another prune's plan, which the next prune of the namespace finishes before its own. */
function unfinished(plan: PrunePlanView): string {
  if (plan.unfinished === 0) return '';
  const what = `another prune that has not ended (killed, or still running) planned up to ${counted(plan.unfinished, plan.versions > 0 ? 'more version' : 'version', plan.versions > 0 ? 'more versions' : 'versions')}`;
  return plan.versions > 0
    ? ` And ${what}: Prune finishes them first, or waits for that prune.`
    : ` But ${what}: the next prune of ${plan.namespace} finishes them, or waits for that prune (the CLI's prune --ns ${plan.namespace} runs one now).`;
}

function PlanView({ plan }: { plan: PrunePlanView }) {
  if (plan.versions === 0) return <Empty>Nothing to prune: no version in {plan.namespace} is past its TTL or beyond the versions kept.{unfinished(plan)}{leftAlone(plan.unreadableRefs)}</Empty>;
  return (
    <>
      <p role="status" data-testid="plan-summary">
        {counted(plan.versions, 'version', 'versions')} of {counted(plan.hashes, 'hash', 'hashes')} would go ({counted(plan.contentRemoved, 'hash', 'hashes')} gone entirely, {formatBytes(plan.bytesFreed)} freed), as of {formatTime(plan.now)}.{unfinished(plan)}{leftAlone(plan.unreadableRefs)}
      </p>
      <div className="table-scroll">
        <table className="versions" aria-label="Versions to prune">
          <TableHead columns={['Cache id', 'Stored at', 'Why', 'Content']} />
          <tbody>
            {plan.rows.map((r) => (
              <tr key={r.cache_id}>
                <td>
                  <code>{r.cache_id}</code>
                </td>
                <td>{formatTime(r.stored_at)}</td>
                <td>{REASONS[r.reason]}</td>
                <td>{contentFate(r)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {plan.more > 0 && <p className="muted">…and {counted(plan.more, 'more version', 'more versions')} (the CLI lists them all: prune --dry-run).</p>}
    </>
  );
}

function PruneSummary({ result }: { result: PruneResult }) {
  return (
    <p role="status" className="ok-text" data-testid="prune-summary">
      Pruned {counted(result.pruned, 'version', 'versions')} from {result.namespace} ({counted(result.contentRemoved, 'hash', 'hashes')} gone entirely, {formatBytes(result.bytesFreed)} freed)
      {result.skipped > 0 && `; ${counted(result.skipped, 'version', 'versions')} ${result.skipped === 1 ? 'was' : 'were'} already gone (deleted meanwhile)`}
      {result.resumed > 0 && `; ${result.resumed} of them finished an interrupted prune`}
      {result.notConfirmed > 0 && `; ${counted(result.notConfirmed, 'version qualifies', 'versions qualify')} now that the plan you confirmed did not list (stored or aged since), left for the next prune`}.{leftAlone(result.unreadableRefs)}
    </p>
  );
}
