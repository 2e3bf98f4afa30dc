import { useEffect, useState } from 'react';
import { describeOperation } from '../lib/operations';
import { useApp } from '../state/context';
import type { ElsewhereOperation } from '../state/store';

/** Another window's file is listed once it has taken this long: most take less, and would only flicker by. */
export const FILE_SHOWN_AFTER_MS = 1000;

const shownNow = (op: ElsewhereOperation, now: number) => (op.kind !== 'hash' && op.kind !== 'store') || now - op.startedAt >= FILE_SHOWN_AFTER_MS;

/**
 * What main runs that this page did not start: another window's prune, or this page's own bulk
 * delete before the page was reloaded. Each goes on in main whatever the page does, so each is
 * shown here with how far it has got, and a Stop.
 */
export function RunningElsewhere() {
  const elsewhere = useApp((s) => s.elsewhere);
  const stop = useApp((s) => s.stopElsewhere);
  const [now, setNow] = useState(() => Date.now());
  // Shows each file still running when its time comes (one timer, for the next of them).
  const nextShown = Math.min(...elsewhere.filter((op) => !shownNow(op, now)).map((op) => op.startedAt + FILE_SHOWN_AFTER_MS));
  useEffect(() => {
    if (nextShown === Infinity) return;
    // At least its time: a timer may run a millisecond early by the clock, and no other would be set for it.
    const timer = setTimeout(() => setNow(Math.max(Date.now(), nextShown)), Math.max(0, nextShown - Date.now()));
    return () => clearTimeout(timer);
  }, [nextShown]);
  const shown = elsewhere.filter((op) => shownNow(op, now));
  if (shown.length === 0) return null;
  return (
    <section className="elsewhere" aria-labelledby="elsewhere-heading">
      <h2 id="elsewhere-heading">Also running, started in another window or before this page was reloaded</h2>
      <ul>
        {shown.map((op) => {
          const { title, progress } = describeOperation(op);
          const measured = op.total !== null && op.total > 0 && op.kind !== 'verify'; // a verify's total grows as it lists
          return (
            <li key={op.id}>
              <span className="elsewhere-title">{title}</span>
              {measured && <progress max={op.total!} value={Math.min(op.done, op.total!)} aria-label={`${title}: progress`} />}
              <span className="muted">{op.stopping ? 'stopping…' : progress}</span>
              <button type="button" aria-disabled={op.stopping} onClick={() => !op.stopping && void stop(op.id)} aria-label={`Stop ${title.charAt(0).toLowerCase()}${title.slice(1)}`}>
                Stop
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
