import { planBatches } from '../../src-shared/batch-frame';
import type { BatchStoreResult, CacheAdminEvent, DropCancelOutcome, Result } from '../../src-shared/contract';
import type { ErrorInfo } from '../../src-shared/errors';
import type { CacheAdminClient, StoreChoice } from '../api/client';
import { sourceName } from '../lib/drop';

/** A drop of this many files, or any folder, is stored by main in batches and shown as one progress view. */
export const BULK_MIN_FILES = 16;
/** Batch requests in flight per drop: one being stored while the next is sent. */
const BATCHES_IN_FLIGHT = 2;

export function isBulkDrop(files: File[]): boolean {
  return files.length >= BULK_MIN_FILES || files.some((f) => f.webkitRelativePath);
}

export interface DropFailure {
  name: string;
  error: ErrorInfo;
}

/** One multi-file drop: where it goes (fixed when dropped), its totals, and what main has stored so far. */
export interface Drop {
  id: string;
  namespace: string;
  store: string;
  choice: StoreChoice;
  files: number;
  bytes: number;
  /** Files and bytes main answered as stored. */
  stored: number;
  storedBytes: number;
  /** Files main stored or failed, and bytes stored, by its progress events (ahead of the answers while a batch runs). */
  liveFiles: number;
  liveBytes: number;
  failures: DropFailure[];
  startedAt: number;
  status: 'running' | 'cancelling' | 'done' | 'cancelled';
  /** Main's answer to Cancel all: how many files of the drop it stored (they stay). */
  storedBeforeCancel?: number;
}

export function dropProgress(d: Drop): { filesDone: number; bytesDone: number; rate: number; etaSeconds: number | null } {
  const filesDone = Math.max(d.stored + d.failures.length, d.liveFiles);
  const bytesDone = Math.max(d.storedBytes, d.liveBytes);
  const seconds = (Date.now() - d.startedAt) / 1000;
  const rate = seconds > 0.2 ? bytesDone / seconds : 0;
  return { filesDone, bytesDone, rate, etaSeconds: rate > 0 && d.status === 'running' ? (d.bytes - bytesDone) / rate : null };
}

interface DropRunnerDeps {
  client: CacheAdminClient;
  drops: () => Drop[];
  setDrops: (update: (drops: Drop[]) => Drop[]) => void;
  /** Main stored something into `namespace`: counts and lists should follow (paced by the caller). */
  stored: (namespace: string) => void;
}

function newId(): string {
  return crypto.randomUUID().replace(/-/g, '');
}

/** Failures a retry would meet again, the file itself refused (over the size limit, a name the layout refuses): not sent again. */
const REFUSED_FILE = new Set(['too_large', 'invalid_input']);
export const retryable = (failure: { error: { code: string } }) => !REFUSED_FILE.has(failure.error.code);

/**
 * Runs multi-file drops: the files go to main in batches (src-shared/batch-frame.ts), a few in
 * flight, all under one drop id main knows; Cancel all stops them and shows main's count of what
 * was stored; Retry failed sends the failed files again as a new run of the same drop.
 */
export function createDropRunner({ client, drops, setDrops, stored }: DropRunnerDeps) {
  /** Per drop: its files by name (for retries), and the id main knows the run under way by. */
  const runs = new Map<string, { files: Map<string, File>; mainId: string; base: { stored: number; files: number; bytes: number } }>();
  const update = (id: string, change: (d: Drop) => Partial<Drop>) => setDrops((all) => all.map((d) => (d.id === id ? { ...d, ...change(d) } : d)));
  const find = (id: string) => drops().find((d) => d.id === id);

  function record(id: string, batch: File[], result: Result<BatchStoreResult>): void {
    if (!result.ok) {
      // Refused whole (a cancelled drop's batch stores nothing and is not a failure to retry).
      if (result.error.code !== 'cancelled') update(id, (d) => ({ failures: [...d.failures, ...batch.map((f) => ({ name: sourceName(f), error: result.error }))] }));
      return;
    }
    const outcomes = result.value.outcomes;
    const done = outcomes.filter((o) => 'stored' in o);
    const failed = outcomes.flatMap((o) => ('error' in o && o.error.code !== 'cancelled' ? [{ name: o.name, error: o.error }] : []));
    update(id, (d) => ({ stored: d.stored + done.length, storedBytes: d.storedBytes + done.reduce((n, o) => n + ('stored' in o ? o.stored.size : 0), 0), failures: [...d.failures, ...failed] }));
    const drop = find(id);
    if (drop && done.length) stored(drop.namespace);
  }

  async function run(id: string, files: File[]): Promise<void> {
    const drop = find(id)!;
    const mainId = newId();
    runs.set(id, { files: runs.get(id)?.files ?? new Map(files.map((f) => [sourceName(f), f])), mainId, base: { stored: drop.stored, files: drop.stored + drop.failures.length, bytes: drop.storedBytes } });
    const plan = planBatches(files.map((f) => f.size));
    let next = 0;
    const sender = async () => {
      while (next < plan.length && find(id)?.status === 'running') {
        const batch = plan[next++]!.map((i) => files[i]!);
        record(id, batch, await client.storeBatch(batch.map((file) => ({ file, name: sourceName(file) })), drop.namespace, mainId, drop.choice));
      }
    };
    await Promise.all(Array.from({ length: BATCHES_IN_FLIGHT }, sender));
    if (find(id)?.status === 'running') update(id, () => ({ status: 'done' }));
    stored(drop.namespace);
  }

  return {
    /** Starts storing `files` as one drop into `target`, fixed now. */
    start(files: File[], target: Pick<Drop, 'namespace' | 'store' | 'choice'>): void {
      const id = newId();
      const drop: Drop = { id, ...target, files: files.length, bytes: files.reduce((n, f) => n + f.size, 0), stored: 0, storedBytes: 0, liveFiles: 0, liveBytes: 0, failures: [], startedAt: Date.now(), status: 'running' };
      setDrops((all) => [drop, ...all]);
      void run(id, files);
    },

    /** Stops every batch; the view then says how many files main stored first (its answer, once they have all ended). */
    async cancel(id: string): Promise<void> {
      const current = runs.get(id);
      if (find(id)?.status !== 'running' || !current) return;
      update(id, () => ({ status: 'cancelling' }));
      const answer: Result<DropCancelOutcome> = await client.api.cancelDrop({ dropId: current.mainId });
      update(id, () => ({ status: 'cancelled', storedBeforeCancel: answer.ok ? current.base.stored + answer.value.stored : undefined }));
      const drop = find(id);
      if (drop) stored(drop.namespace);
    },

    /** Sends the failed files again, into the same namespace and store with the same choices. */
    retryFailed(id: string): Promise<void> {
      const drop = find(id);
      const files = runs.get(id)?.files;
      if (!drop || !files || drop.status === 'running' || drop.status === 'cancelling' || drop.failures.length === 0) return Promise.resolve();
      const again = drop.failures.filter(retryable).map((f) => files.get(f.name)).filter((f): f is File => f !== undefined);
      if (again.length === 0) return Promise.resolve();
      update(id, (d) => ({ failures: d.failures.filter((f) => !retryable(f)), status: 'running', storedBeforeCancel: undefined, liveFiles: 0, liveBytes: 0 }));
      return run(id, again);
    },

    /** Main's progress for a drop run; false when the event is not about one. */
    onProgress(event: Extract<CacheAdminEvent, { type: 'progress' }>): boolean {
      for (const [id, current] of runs) {
        if (current.mainId !== event.transferId) continue;
        update(id, (d) => ({ liveFiles: Math.max(d.liveFiles, current.base.files + (event.filesDone ?? 0)), liveBytes: Math.max(d.liveBytes, current.base.bytes + event.bytesDone) }));
        return true;
      }
      return false;
    },

    forget(ids: Set<string>): void {
      for (const id of ids) runs.delete(id);
    },
  };
}
