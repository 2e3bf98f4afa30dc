import { execFile } from 'node:child_process';
import * as fsSync from 'node:fs';
import { promisify } from 'node:util';

const open = promisify(fsSync.open);
const datasync = promisify(fsSync.fdatasync);
const close = promisify(fsSync.close);
const execFileAsync = promisify(execFile);

/**
 * Batches this small or smaller are flushed file by file: one filesystem sync also waits for
 * every other dirty file on the disk, which a lone store should not pay for.
 */
export const MIN_SYNCFS_BATCH = 16;

/** Flushes the whole filesystem holding `dir` (waiting for its data and metadata). */
export type SyncFileSystem = (dir: string) => Promise<void>;

/**
 * Linux's syncfs(2), through coreutils `sync --file-system`: Node has no binding for it. The
 * command opens the folder itself; syncfs then reports any write-back error on the filesystem that
 * no other syncfs has reported yet.
 */
export const coreutilsSyncfs: SyncFileSystem = async (dir) => {
  await execFileAsync('sync', ['--file-system', dir], { windowsHide: true });
};

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
 * write-back error still fails exactly the writes it hit.
 */
export class FlushGroup {
  private pending: Waiter[] = [];
  private syncfs: SyncFileSystem | null;

  constructor(
    private readonly dir: string,
    options: { syncfs?: SyncFileSystem | null } = {},
  ) {
    this.syncfs = options.syncfs !== undefined ? options.syncfs : process.platform === 'linux' ? coreutilsSyncfs : null;
  }

  /** Resolves once `file` (written and closed) is on stable storage. */
  flush(file: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.pending.push({ file, resolve, reject }) === 1) setImmediate(() => void this.flushPending());
    });
  }

  private async flushPending(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (this.syncfs && batch.length >= MIN_SYNCFS_BATCH) {
      try {
        await this.syncfs(this.dir);
        for (const w of batch) w.resolve();
        return;
      } catch {
        // No `sync` command, or an I/O error: from now on flush file by file, which reports
        // the error to exactly the writes it concerns.
        this.syncfs = null;
      }
    }
    await Promise.all(batch.map((w) => datasyncFile(w.file).then(w.resolve, w.reject)));
  }
}
