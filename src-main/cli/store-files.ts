import * as fsSync from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { isUtf8 } from 'node:buffer';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { CacheError, ERROR_CODES, type ErrorInfo, fileSystemError, isCacheError } from '../../src-shared/errors';
import type { FormatName, FormatStoreInput, FormatStoreResult, StoreFormat } from '../core/formats/format';
import { READ_CHUNK } from '../core/hashing';
import type { ContentSource } from '../core/storage/types';
import { mapLimit } from '../core/keyed-lock';

export interface FileToStore {
  /** Position in the input: results are reported in this order. */
  index: number;
  path: string;
  /** Source name recorded with the version: the path relative to the folder given. */
  name: string;
}

/** What became of one file given to a store. */
export type FileOutcome = { result: FormatStoreResult } | { error: unknown };
/** How every file of one store is read, and the layout's options (e.g. strategy). */
export type StoreChoice = Pick<FormatStoreInput, 'as' | 'options'>;
/** What became of one entry of the input, in the order the input lists them. */
export type StoreOutcome = FileOutcome | { skipped: string };

/** Something in a folder that is not stored: a link or special file, an unreadable folder, a name that is not text. */
export interface PassedOver {
  index: number;
  path: string;
  outcome: { error: CacheError } | { skipped: string };
}

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

/** A path given to `store`: a file, a pipe (read as it is written) or a folder to walk. */
export interface StoreRoot {
  arg: string;
  isFolder: boolean;
  isPipe: boolean;
}

/** Each argument, which must exist (checked before anything is started or stored). */
export async function statRoots(args: string[]): Promise<StoreRoot[]> {
  return Promise.all(
    args.map(async (arg) => {
      const st = await fs.stat(arg).catch(() => null);
      if (!st) throw new CacheError('not_found', `no such file or folder: ${arg}`);
      return { arg, isFolder: st.isDirectory(), isPipe: st.isFIFO() };
    }),
  );
}

type Found = { path: string; name: string } | { path: string; outcome: PassedOver['outcome'] };

/**
 * Every entry under `dir`, recursively. Names are read as bytes: one that is not UTF-8 text
 * cannot be recorded as a source name, so it fails alone instead of turning into another path.
 */
function walkFolder(dir: string, namePrefix: string, found: Found[]): void {
  let entries: fsSync.Dirent<Buffer>[];
  try {
    entries = fsSync.readdirSync(dir, { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    found.push({ path: dir, outcome: { error: fileSystemError(err, `cannot read the folder ${dir}`) as CacheError } });
    return;
  }
  for (const entry of entries) {
    const name = entry.name.toString();
    const full = path.join(dir, name);
    if (!isUtf8(entry.name)) found.push({ path: full, outcome: { error: new CacheError('invalid_input', `${full}: the name is not valid UTF-8 text (rename it to store it)`) } });
    else if (entry.isDirectory()) walkFolder(full, `${namePrefix}${name}/`, found);
    else if (entry.isFile()) found.push({ path: full, name: namePrefix + name });
    else found.push({ path: full, outcome: { skipped: entry.isSymbolicLink() ? 'a symbolic link (links in folders are not followed)' : 'not a regular file' } });
  }
}

/**
 * Files to store, each root in turn, folders walked recursively in path order; and what in those
 * folders is not stored. Both share one sequence of indexes: the order results are reported in.
 */
export function expandPaths(roots: StoreRoot[]): { files: FileToStore[]; passedOver: PassedOver[] } {
  const files: FileToStore[] = [];
  const passedOver: PassedOver[] = [];
  let index = 0;
  for (const { arg, isFolder } of roots) {
    const found: Found[] = [];
    if (isFolder) {
      // Names are relative to the folder's parent, so `store photos` records `photos/a.jpg`.
      const folder = path.resolve(arg);
      walkFolder(arg, `${path.relative(path.dirname(folder), folder).split(path.sep).join('/')}/`, found);
      found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    } else found.push({ path: arg, name: path.basename(arg) });
    for (const item of found) {
      if ('outcome' in item) passedOver.push({ index: index++, ...item });
      else files.push({ index: index++, ...item });
    }
  }
  return { files, passedOver };
}

/** One piece of content for a bulk store: where its bytes come from, its source name and its size. */
export interface ContentToStore<T> {
  item: T;
  source: ContentSource;
  name: string;
  size: number;
}

export interface BulkStoreOptions {
  small: { count: number; bytes: number };
  /** Bytes of one item read so far (the layout's progress). */
  onBytes?: (done: number) => void;
  /** Once aborted, stores not started yet fail with `cancelled`; those under way are told to stop. */
  signal?: AbortSignal;
}

/**
 * The bulk store fast path: small contents in groups stored at once (in a local folder their
 * flushes share one filesystem sync, see FlushGroup), big ones a few at a time. Every item gets an
 * outcome: a failure stops nothing else.
 */
export async function storeContents<T>(
  format: StoreFormat,
  ns: string,
  choice: StoreChoice,
  contents: ContentToStore<T>[],
  onOutcome: (item: T, outcome: FileOutcome) => void,
  options: BulkStoreOptions,
): Promise<void> {
  const { signal } = options;
  const store = async ({ item, source, name }: ContentToStore<T>) => {
    try {
      if (signal?.aborted) throw new CacheError('cancelled', `${name}: cancelled before it was stored`);
      const result = await format.store(ns, { ...choice, source, name }, { onProgress: options.onBytes, signal });
      onOutcome(item, { result });
    } catch (error) {
      onOutcome(item, { error });
    }
  };
  const smallOnes = async () => {
    // Groups of at most `count` items and `bytes` bytes, each stored at once.
    let group: ContentToStore<T>[] = [];
    let groupBytes = 0;
    const storeGroup = async () => {
      await Promise.all(group.map(store));
      group = [];
      groupBytes = 0;
    };
    for (const content of contents.filter((c) => c.size < READ_CHUNK)) {
      if (group.length > 0 && (group.length >= options.small.count || groupBytes + content.size > options.small.bytes)) await storeGroup();
      group.push(content);
      groupBytes += content.size;
    }
    await storeGroup();
  };
  await Promise.all([smallOnes(), mapLimit(contents.filter((c) => c.size >= READ_CHUNK), BIG_FILE_CONCURRENCY, store)]);
}

/** Stores files in this thread, on the bulk fast path (storeContents). */
export async function storeFiles(
  format: StoreFormat,
  ns: string,
  choice: StoreChoice,
  files: FileToStore[],
  onOutcome: (file: FileToStore, outcome: FileOutcome) => void,
  options: BulkStoreOptions,
): Promise<void> {
  // A file that cannot be read counts as small and fails its own store.
  const contents = files.map((file) => ({ item: file, source: { kind: 'file' as const, path: file.path }, name: file.name, size: fsSync.statSync(file.path, { throwIfNoEntry: false })?.size ?? 0 }));
  await storeContents(format, ns, choice, contents, onOutcome, options);
}

/** What a store worker needs to open the same local folder, in the same layout, the CLI was given. */
export interface StoreWorkerConfig extends StoreChoice {
  dir: string;
  format: FormatName;
  ns: string;
  maxEntryBytes?: number;
}

export type WireOutcome = { index: number; result: FormatStoreResult } | { index: number; error: ErrorInfo };

/** Any failure as a typed error (file system failures by their errno, the rest as internal). */
export function asCacheError(err: unknown): CacheError {
  const e = err as NodeJS.ErrnoException | undefined;
  const typed = fileSystemError(err, e?.path ? `cannot ${e.syscall ?? 'use'} ${e.path}` : `${e?.syscall ?? 'a file system call'} failed`);
  return isCacheError(typed) ? typed : new CacheError('internal', e?.message ?? String(err));
}

export function toWire(file: FileToStore, outcome: FileOutcome): WireOutcome {
  if ('result' in outcome) return { index: file.index, result: outcome.result };
  return { index: file.index, error: asCacheError(outcome.error).toInfo() };
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

  async run(files: FileToStore[], onOutcome: (file: FileToStore, outcome: FileOutcome) => void): Promise<void> {
    const byIndex = new Map(files.map((file) => [file.index, file]));
    let next = 0;
    const feed = async ({ worker, stopped }: { worker: Worker; stopped: Promise<never> }) => {
      while (next < files.length) {
        const batch = files.slice(next, (next += WORKER_BATCH));
        const reply = once(worker, 'message') as Promise<[WireOutcome[]]>;
        worker.postMessage(batch);
        const [outcomes] = await Promise.race([reply, stopped]);
        for (const outcome of outcomes) onOutcome(byIndex.get(outcome.index)!, 'error' in outcome ? { error: fromWire(outcome.error) } : { result: outcome.result });
      }
    };
    await Promise.all(this.workers.map(feed));
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
  }
}
