/** What changed is followed at most this often (counts, the list on show) while changes keep coming. */
export const FOLLOW_EVERY_MS = 500;
/** ...and never sooner after a run than this many times what that run took. */
export const FOLLOW_COST_FACTOR = 3;

/**
 * Calls `run` at once, one run at a time, and once more after a run while calls came during it (the
 * last call is never lost). The next run waits until `ms` after the last one began and `factor`
 * times its length after it ended, so however long one run takes (a count of a big namespace),
 * following a stream of changes keeps to a share of the time: 1 in factor + 1.
 */
export function paced(run: () => Promise<unknown>, ms: number, factor: number): () => void {
  let due = false;
  let running = false;
  let notBefore = 0;
  const drain = async () => {
    running = true;
    while (due) {
      const wait = notBefore - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      due = false;
      const began = Date.now();
      await run().catch(() => undefined); // a failed run is shown by what it ran; the next one still comes
      const ended = Date.now();
      notBefore = Math.max(began + ms, ended + factor * (ended - began));
    }
    running = false;
  };
  return () => {
    due = true;
    if (!running) void drain();
  };
}
