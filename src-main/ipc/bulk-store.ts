import { setMaxListeners } from 'node:events';
import * as fs from 'node:fs/promises';
import type { BatchOutcome, BatchStoreResult, CacheAdminEvent, DropCancelOutcome } from '../../src-shared/contract';
import type { ErrorInfo } from '../../src-shared/errors';
import { CacheError } from '../../src-shared/errors';
import { LOCAL_SMALL_FILES, REMOTE_SMALL_FILES, type ContentToStore, type FileOutcome, type StoreChoice, StorePool, asCacheError, storeContents, workerConfigOf } from '../cli/store-files';
import type { StoreFormat } from '../core/formats/format';
import { LocalFolderStorage } from '../core/storage/local';

/** A file of a batch: its content to store, or why it cannot be (found before anything was stored). */
export type BatchItem = Omit<ContentToStore<number>, 'item'> | { name: string; error: ErrorInfo };

/** Drops remembered for cancels that arrive late (or before their first batch). */
const REMEMBERED_DROPS = 1000;
/** Progress events per drop: at most one every this many ms. */
const PROGRESS_EVERY_MS = 100;
/** Store workers idle this long stop (the next drop starts them again): an idle app holds no threads for drops. */
const WORKERS_IDLE_MS = 60_000;

interface DropState {
  controller: AbortController;
  /** Batches under way: a cancel answers once they have all ended. */
  running: Set<Promise<unknown>>;
  stored: number;
  failed: number;
  bytesDone: number;
  lastEvent: number;
  /** The file_id store options of the drop's batches under way or stored: a file_id names one file, so a drop uses each once. */
  fileIds: Set<string>;
}

export interface DropsOptions {
  /** The bundled store worker (storeWorkerBeside); absent (sources run with tsx, unit tests), batches are stored in this thread. */
  storeWorker?: URL;
  /** The session's size limit for one entry, which the workers' stores must apply too. */
  maxEntryBytes?: number;
  /** Default WORKERS_IDLE_MS (tests). */
  workersIdleMs?: number;
}

/**
 * Multi-file drops, stored by main in batches on the CLI's fast path (storeContents: grouped
 * flushes into a local folder), in the CLI's worker threads where the store is a local folder
 * whose layout takes parallel writers. The batches of one drop share its id: one progress stream
 * (files and bytes done), one cancel that stops them all and says how many files were stored first.
 */
export class Drops {
  private readonly drops = new Map<string, DropState>();
  /** Workers of the store drops went to last, shared by every drop into it. */
  private workers: { store: string; pool: StorePool } | null = null;
  /** Batches in the workers now, and what stops the workers once there have been none for a while. */
  private batchesInWorkers = 0;
  private idleStop: NodeJS.Timeout | undefined;

  constructor(
    private readonly emit: (event: CacheAdminEvent) => void,
    private readonly options: DropsOptions = {},
  ) {}

  private state(dropId: string): DropState {
    let drop = this.drops.get(dropId);
    if (!drop) {
      drop = { controller: new AbortController(), running: new Set(), stored: 0, failed: 0, bytesDone: 0, lastEvent: 0, fileIds: new Set() };
      // Every store of the drop listens to its cancel (into S3: dozens of requests at once); that is no leak.
      setMaxListeners(0, drop.controller.signal);
      this.drops.set(dropId, drop);
      if (this.drops.size > REMEMBERED_DROPS) this.drops.delete(this.drops.keys().next().value!);
    }
    return drop;
  }

  /** Drops with a batch being stored now. */
  get running(): number {
    let n = 0;
    for (const drop of this.drops.values()) if (drop.running.size > 0) n++;
    return n;
  }

  /** Refuses a batch of a cancelled drop, before any of its bytes is read. */
  assertOpen(dropId: string): void {
    if (this.drops.get(dropId)?.controller.signal.aborted) throw new CacheError('cancelled', `drop ${dropId} was cancelled: this batch was not stored`);
  }

  /** Aborted when the drop is cancelled: for reads that must not outlast a cancel. */
  signalOf(dropId: string): AbortSignal {
    return this.state(dropId).controller.signal;
  }

  /** Stores one batch; every file gets an outcome, in the order given. */
  async store(dropId: string, format: StoreFormat, ns: string, choice: StoreChoice, items: BatchItem[]): Promise<BatchStoreResult> {
    this.assertOpen(dropId);
    const drop = this.state(dropId);
    const fileId = choice.options?.file_id;
    if (fileId) {
      if (items.length > 1) throw new CacheError('invalid_input', `file_id names one file: ${items.length} files cannot share it; store them one at a time or leave file_id out (none of them was stored)`);
      // A batch of one sent after another of the same drop (big files travel alone) would go to the same path.
      if (drop.fileIds.has(fileId)) throw new CacheError('invalid_input', `file_id names one file: this drop already has one under ${JSON.stringify(fileId)}, so ${items[0]!.name} was not stored; store it on its own or leave file_id out`);
      drop.fileIds.add(fileId);
    }
    const outcomes: BatchOutcome[] = new Array(items.length);
    const progress = (force: boolean, partialBytes = 0) => {
      const now = Date.now();
      if (!force && now - drop.lastEvent < PROGRESS_EVERY_MS) return;
      drop.lastEvent = now;
      this.emit({ type: 'progress', transferId: dropId, phase: 'store', bytesDone: drop.bytesDone + partialBytes, totalBytes: null, filesDone: drop.stored + drop.failed });
    };
    const contents: ContentToStore<number>[] = [];
    items.forEach((item, index) => {
      if ('error' in item) {
        outcomes[index] = item;
        drop.failed++;
      } else contents.push({ ...item, item: index });
    });
    const onOutcome = (index: number, outcome: FileOutcome) => {
      const { name } = items[index]!;
      if ('result' in outcome) {
        outcomes[index] = { name, stored: outcome.result };
        drop.stored++;
        drop.bytesDone += outcome.result.size;
      } else {
        const error = asCacheError(outcome.error).toInfo();
        outcomes[index] = { name, error };
        // Stopped by the drop's cancel: not stored, but not a failure to retry either.
        if (error.code !== 'cancelled') drop.failed++;
      }
      progress(false);
    };
    const run = (async () => {
      // A big file travels alone and streams here (its bytes show as they arrive); several files go to a worker.
      const pool = contents.length > 1 && contents.every((c) => c.source.kind !== 'stream') ? await this.poolFor(format) : null;
      if (pool) return this.inWorkers(() => pool.store(ns, choice, contents, onOutcome, drop.controller.signal));
      await storeContents(format, ns, choice, contents, onOutcome, {
        small: format.storage instanceof LocalFolderStorage ? LOCAL_SMALL_FILES : REMOTE_SMALL_FILES,
        signal: drop.controller.signal,
        onBytes: contents.length === 1 ? (done) => progress(false, done) : undefined,
      });
    })();
    drop.running.add(run);
    try {
      await run;
    } finally {
      drop.running.delete(run);
      // A file_id nothing was stored under is free again: a retry of the failed file may take it.
      if (fileId && !outcomes.some((o) => 'stored' in o)) drop.fileIds.delete(fileId);
    }
    progress(true);
    return { outcomes };
  }

  /** Stops the drop's batches (later ones are refused) and answers once those under way have ended. */
  async cancel(dropId: string): Promise<DropCancelOutcome> {
    const drop = this.state(dropId);
    drop.controller.abort();
    await Promise.allSettled([...drop.running]);
    return { stored: drop.stored, failed: drop.failed };
  }

  /**
   * The workers for a local folder store whose layout takes parallel writers, or null where batches
   * stay in this thread. A store folder not made yet is made by this thread's store, which refuses
   * to remake one it has seen vanish.
   */
  private async poolFor(format: StoreFormat): Promise<StorePool | null> {
    const { storage } = format;
    const { storeWorker, maxEntryBytes } = this.options;
    if (!storeWorker || !(storage instanceof LocalFolderStorage) || !format.capabilities.parallelWriters) return null;
    if (!(await fs.stat(storage.root).catch(() => null))) return null;
    // Awaited before the check below, which must run in one turn: concurrent batches share one pool.
    const config = await workerConfigOf(format, storage, maxEntryBytes);
    const store = `${format.name}:${storage.root}`;
    if (this.workers?.store !== store || this.workers.pool.broken) {
      void this.workers?.pool.close();
      this.workers = { store, pool: new StorePool(storeWorker, config) };
    }
    return this.workers.pool;
  }

  private async inWorkers(store: () => Promise<void>): Promise<void> {
    this.batchesInWorkers++;
    clearTimeout(this.idleStop);
    try {
      await store();
    } finally {
      if (--this.batchesInWorkers === 0) {
        this.idleStop = setTimeout(() => {
          void this.workers?.pool.close();
          this.workers = null;
        }, this.options.workersIdleMs ?? WORKERS_IDLE_MS);
        this.idleStop.unref();
      }
    }
  }

  /** Stops every drop and the workers. */
  async close(): Promise<void> {
    clearTimeout(this.idleStop);
    for (const drop of this.drops.values()) drop.controller.abort();
    await this.workers?.pool.close();
    this.workers = null;
  }
}
