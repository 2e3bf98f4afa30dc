import * as fsSync from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Namespace, StoreResult } from '../../src-shared/domain';
import { CacheError, ERROR_CODES, type ErrorInfo, isCacheError } from '../../src-shared/errors';
import type { CacheService, StoreAs } from '../core/cache-service';
import { READ_CHUNK } from '../core/hashing';
import { mapLimit } from '../core/keyed-lock';

export interface FileToStore {
  /** Position in the input: results are reported in this order. */
  index: number;
  path: string;
  /** Source name recorded with the version: the path relative to the folder given. */
  name: string;
}

export type StoreOutcome = { result: StoreResult } | { error: unknown };

/**
 * Into a local folder, files read in one call are stored many at a time, so their flushes share one
 * filesystem sync (see FlushGroup); each holds its bytes until then, hence the byte budget too.
 */
export const LOCAL_SMALL_FILES = { count: 512, bytes: 64 * 1024 * 1024 };
/** Elsewhere (S3, memory) each store waits on its own requests: a few at a time is enough. */
export const REMOTE_SMALL_FILES = { count: 16, bytes: 64 * 1024 * 1024 };
/** Bigger files stream through a few buffers each: a few at a time. */
const BIG_FILE_CONCURRENCY = 4;
/** Files handed to a worker at a time. */
const WORKER_BATCH = 512;
/** Below this many files, starting workers costs more than they save. */
export const WORKER_MIN_FILES = 2 * WORKER_BATCH;
/** More workers than this only queue on the disk. */
const MAX_WORKERS = 4;

/** A path given to `store`: a file, or a folder to walk. */
export interface StoreRoot {
  arg: string;
  isFolder: boolean;
}

/** Each argument, which must exist (checked before anything is started or stored). */
export async function statRoots(args: string[]): Promise<StoreRoot[]> {
  return Promise.all(
    args.map(async (arg) => {
      const st = await fs.stat(arg).catch(() => null);
      if (!st) throw new CacheError('not_found', `no such file or folder: ${arg}`);
      return { arg, isFolder: st.isDirectory() };
    }),
  );
}

/** Files to store: each root, folders walked recursively in a stable order. */
export async function expandPaths(roots: StoreRoot[]): Promise<FileToStore[]> {
  const out: FileToStore[] = [];
  const add = (file: string, name: string) => out.push({ index: out.length, path: file, name });
  for (const { arg, isFolder } of roots) {
    if (!isFolder) {
      add(arg, path.basename(arg));
      continue;
    }
    // Names are relative to the folder's parent, so `store photos` records `photos/a.jpg`.
    const base = path.dirname(path.resolve(arg));
    const namePrefixes = new Map<string, string>(); // per folder: computed once, not per file
    const namePrefix = (dir: string) => {
      let prefix = namePrefixes.get(dir);
      if (prefix === undefined) namePrefixes.set(dir, (prefix = `${path.relative(base, path.resolve(dir)).split(path.sep).join('/')}/`));
      return prefix;
    };
    const files = (await fs.readdir(arg, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => {
        const dir = e.parentPath ?? (e as unknown as { path: string }).path;
        return { path: path.join(dir, e.name), name: namePrefix(dir) + e.name };
      })
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const file of files) add(file.path, file.name);
  }
  return out;
}

/**
 * Stores files in this thread. Every file gets an outcome, except that no new store starts after
 * one has failed (stores already running finish).
 */
export async function storeFiles(
  cache: CacheService,
  ns: Namespace,
  as: StoreAs,
  files: FileToStore[],
  onOutcome: (file: FileToStore, outcome: StoreOutcome) => void,
  options: { small: { count: number; bytes: number }; onBytes?: (done: number) => void },
): Promise<void> {
  let failed = false;
  const store = async (file: FileToStore) => {
    if (failed) return;
    try {
      const result = await cache.store(ns, { source: { kind: 'file', path: file.path }, name: file.name, as }, { onProgress: options.onBytes });
      onOutcome(file, { result });
    } catch (error) {
      failed = true;
      onOutcome(file, { error });
    }
  };
  // A file that cannot be read counts as small and fails its own store.
  const sized = files.map((file) => ({ file, size: fsSync.statSync(file.path, { throwIfNoEntry: false })?.size ?? 0 }));
  const smallOnes = async () => {
    // Groups of at most `count` files and `bytes` bytes, each stored at once.
    let group: FileToStore[] = [];
    let groupBytes = 0;
    const storeGroup = async () => {
      await Promise.all(group.map(store));
      group = [];
      groupBytes = 0;
    };
    for (const { file, size } of sized.filter((s) => s.size < READ_CHUNK)) {
      if (group.length > 0 && (group.length >= options.small.count || groupBytes + size > options.small.bytes)) await storeGroup();
      group.push(file);
      groupBytes += size;
    }
    await storeGroup();
  };
  const bigOnes = sized.filter((s) => s.size >= READ_CHUNK).map((s) => s.file);
  await Promise.all([smallOnes(), mapLimit(bigOnes, BIG_FILE_CONCURRENCY, store)]);
}

/** What a store worker needs to open the same local folder the CLI was given. */
export interface StoreWorkerConfig {
  dir: string;
  ns: Namespace;
  as: StoreAs;
  maxEntryBytes: number;
}

export type WireOutcome = { index: number; result: StoreResult } | { index: number; error: ErrorInfo };

export function toWire(file: FileToStore, outcome: StoreOutcome): WireOutcome {
  if ('result' in outcome) return { index: file.index, result: outcome.result };
  const { error } = outcome;
  return { index: file.index, error: isCacheError(error) ? error.toInfo() : { code: 'internal', message: (error as Error)?.message ?? String(error) } };
}

function fromWire(info: ErrorInfo): CacheError {
  return new CacheError(ERROR_CODES.includes(info.code) ? info.code : 'internal', info.message);
}

/**
 * Worker threads that store files into one local folder, one batch at a time each. A bulk store of
 * small files is mostly system calls on one thread, so this uses every core; versions are still
 * allocated in storage, so workers never collide. Started before the file list is ready, so
 * their start-up overlaps the folder walk.
 */
export class StorePool {
  private readonly workers: { worker: Worker; stopped: Promise<never> }[];

  constructor(workerUrl: URL, config: StoreWorkerConfig) {
    const count = Math.max(1, Math.min(os.availableParallelism(), MAX_WORKERS));
    this.workers = Array.from({ length: count }, () => {
      const worker = new Worker(workerUrl, { workerData: config });
      // Listening from the start: a worker that fails before its first batch fails the run, not the process.
      const stopped = new Promise<never>((_, reject) => {
        worker.on('error', reject);
        worker.on('exit', (code) => reject(new CacheError('internal', `a store worker stopped unexpectedly (exit code ${code})`)));
      });
      stopped.catch(() => undefined);
      return { worker, stopped };
    });
  }

  async run(files: FileToStore[], onOutcome: (file: FileToStore, outcome: StoreOutcome) => void): Promise<void> {
    let next = 0;
    let failed = false;
    const feed = async ({ worker, stopped }: { worker: Worker; stopped: Promise<never> }) => {
      while (next < files.length && !failed) {
        const batch = files.slice(next, (next += WORKER_BATCH));
        const reply = once(worker, 'message') as Promise<[WireOutcome[]]>;
        worker.postMessage(batch);
        const [outcomes] = await Promise.race([reply, stopped]);
        for (const outcome of outcomes) {
          const file = files[outcome.index]!;
          if ('error' in outcome) failed = true;
          onOutcome(file, 'error' in outcome ? { error: fromWire(outcome.error) } : { result: outcome.result });
        }
      }
    };
    await Promise.all(this.workers.map(feed));
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
  }
}
