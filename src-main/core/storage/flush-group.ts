import { spawn } from 'node:child_process';
import * as fsSync from 'node:fs';
import { promisify } from 'node:util';

const open = promisify(fsSync.open);
const datasync = promisify(fsSync.fdatasync);
const close = promisify(fsSync.close);

/**
 * Batches this small or smaller are flushed file by file: one filesystem sync also waits for
 * every other dirty file on the disk, which a lone store should not pay for.
 */
export const MIN_SYNCFS_BATCH = 16;

/**
 * How long a filesystem sync may run before its batch is flushed file by file instead. The sync
 * also waits for every other program's unwritten data: behind a big copy, or beside other
 * containers on a shared disk, that took minutes, where flushing our own files takes a moment.
 */
export const SYNCFS_PATIENCE_MS = 1000;

/** Flushes the whole filesystem holding `dir` (waiting for its data and metadata). */
export type SyncFileSystem = (dir: string) => Promise<void>;

/**
 * Linux's syncfs(2), through coreutils `sync --file-system`: Node has no binding for it. The
 * command opens the folder itself; syncfs then reports any write-back error on the filesystem that
 * no other syncfs has reported yet.
 */
export const coreutilsSyncfs: SyncFileSystem = (dir) =>
  new Promise((resolve, reject) => {
    const child = spawn('sync', ['--file-system', dir], { stdio: 'ignore', windowsHide: true });
    // One left running past its patience must not keep the process from exiting when all else is done.
    child.unref();
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`sync --file-system ${dir} failed (${signal ?? `exit ${code}`})`))));
  });

interface Waiter {
  file: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Opens a written file again and flushes it: reports a write-back error no one has seen yet. */
async function datasyncFile(file: string): Promise<void> {
  const fd = await open(file, 'r+'); // Windows flushes only handles open for writing

  try {
    await datasync(fd);
  } finally {
    await close(fd);
  }
}

/**
 * Group commit for a local folder. Writers ask for a written, closed file to be made durable; all
 * requests made before the event loop next goes idle are served together: by one filesystem sync
 * when there are many (a bulk store), else by a flush of each file. On a disk where every flush
 * also flushes the device cache, 1,000 small files cost one sync of ~15 ms instead of 1,000 flushes
 * of ~0.2 ms. If the filesystem sync fails or is unavailable, each file is flushed on its own, so a
 * write-back error still fails exactly the writes it hit; so is a batch whose sync outlives its
 * patience, and every batch after it until that sync is done.
 */
export class FlushGroup {
  private pending: Waiter[] = [];
  private syncfs: SyncFileSystem | null;
  private readonly patienceMs: number;
  /** The sync under way, from its start to its end: one at a time, and none while a slow one still runs. */
  private syncing: Promise<unknown> | null = null;
  /** Settles once the sync under way ends or outlives its patience: a big batch made meanwhile waits for it. */
  private deciding: Promise<unknown> | null = null;

  constructor(
    private readonly dir: string,
    options: { syncfs?: SyncFileSystem | null; patienceMs?: number } = {},
  ) {
    this.syncfs = options.syncfs !== undefined ? options.syncfs : process.platform === 'linux' ? coreutilsSyncfs : null;
    this.patienceMs = options.patienceMs ?? SYNCFS_PATIENCE_MS;
  }

  /** Resolves once `file` (written and closed) is on stable storage. */
  flush(file: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.pending.push({ file, resolve, reject }) === 1) setImmediate(() => void this.flushPending());
    });
  }

  private async flushPending(): Promise<void> {
    if (this.deciding && this.pending.length >= MIN_SYNCFS_BATCH) await this.deciding;
    const batch = this.pending;
    this.pending = [];
    if (this.syncfs && !this.syncing && batch.length >= MIN_SYNCFS_BATCH) {
      // No `sync` command, or an I/O error: from now on flush file by file, which reports the
      // error to exactly the writes it concerns.
      const sync = this.syncfs(this.dir).then(
        () => 'synced' as const,
        () => ((this.syncfs = null), 'failed' as const),
      );
      this.syncing = sync.finally(() => (this.syncing = null));
      let patience: NodeJS.Timeout | undefined;
      this.deciding = Promise.race([sync, new Promise<'slow'>((resolve) => (patience = setTimeout(resolve, this.patienceMs, 'slow')))]);
      const outcome = await this.deciding;
      this.deciding = null;
      clearTimeout(patience);
      if (outcome === 'synced') {
        for (const w of batch) w.resolve();
        return;
      }
    }
    await Promise.all(batch.map((w) => datasyncFile(w.file).then(w.resolve, w.reject)));
  }
}
