import * as fsSync from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { isUtf8 } from 'node:buffer';
import { Worker } from 'node:worker_threads';
import { CacheError, ERROR_CODES, type ErrorInfo, fileSystemError, isCacheError } from '../../src-shared/errors';
import type { FormatName, FormatStoreInput, FormatStoreResult, FormatVerifyOptions, FormatVerifyReport, StoreFormat } from '../core/formats/format';
import type { VerifyProgress } from '../core/verify';
import { READ_CHUNK } from '../core/hashing';
import type { LocalFolderStorage, RootIdentity } from '../core/storage/local';
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
  /** /dev/null itself, or /dev/stdin with standard input closed (Node puts /dev/null there). */
  isNullDevice: boolean;
}

/** Whether `st` is /dev/null's: what a closed standard input reads as (Node puts /dev/null there). */
export function isNullDevice(st: fsSync.Stats): boolean {
  try {
    return st.isCharacterDevice() && st.rdev === fsSync.statSync('/dev/null').rdev;
  } catch {
    return false; // no /dev/null (Windows)
  }
}

/** Each argument, which must exist (checked before anything is started or stored). */
export async function statRoots(args: string[]): Promise<StoreRoot[]> {
  return Promise.all(
    args.map(async (arg) => {
      const st = await fs.stat(arg).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
        if (err.code === 'ELOOP') throw new CacheError('invalid_input', `cannot open ${arg}: its symbolic links lead round in a loop`);
        throw fileSystemError(err, `cannot open ${arg}`);
      });
      if (!st) throw new CacheError('not_found', `no such file or folder: ${arg}`);
      return { arg, isFolder: st.isDirectory(), isPipe: st.isFIFO(), isNullDevice: isNullDevice(st) };
    }),
  );
}

type Found = { path: string; name: string } | { path: string; outcome: PassedOver['outcome'] };

/**
 * Every entry under `dir`, recursively. Names are read as bytes: one that is not UTF-8 text
 * cannot be recorded as a source name, so it fails alone instead of turning into another path.
 */
function walkFolder(dir: string, namePrefix: string, found: Found[], isStoreFolder: (dir: string) => boolean): void {
  if (isStoreFolder(dir)) {
    found.push({ path: dir, outcome: { skipped: STORE_FOLDER_SKIPPED } });
    return;
  }
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
    else if (entry.isDirectory()) walkFolder(full, `${namePrefix}${name}/`, found, isStoreFolder);
    else if (entry.isFile()) found.push({ path: full, name: namePrefix + name });
    else found.push({ path: full, outcome: { skipped: entry.isSymbolicLink() ? 'a symbolic link (links in folders are not followed)' : 'not a regular file' } });
  }
}

/**
 * Files to store, each root in turn, folders walked recursively in path order; and what in those
 * folders is not stored. Both share one sequence of indexes: the order results are reported in.
 */
export function expandPaths(roots: StoreRoot[], storeFolder?: string): { files: FileToStore[]; passedOver: PassedOver[] } {
  const store = storeFolder === undefined ? null : identityOf(storeFolder);
  // Each folder walked, by device and inode (another path to the store folder is seen too): one stat a folder.
  const isStoreFolder = (dir: string) => store !== null && sameIdentity(identityOf(dir), store);
  // A folder given inside the store, by its real path: once per argument.
  const storeReal = store && fsSync.realpathSync.native(storeFolder!);
  const insideStore = (dir: string) => storeReal !== null && fsSync.realpathSync.native(dir).startsWith(storeReal + path.sep);
  const files: FileToStore[] = [];
  const passedOver: PassedOver[] = [];
  let index = 0;
  for (const { arg, isFolder } of roots) {
    const found: Found[] = [];
    if (isFolder) {
      // Names are relative to the folder's parent, so `store photos` records `photos/a.jpg`.
      const folder = path.resolve(arg);
      if (insideStore(arg)) found.push({ path: arg, outcome: { skipped: STORE_FOLDER_SKIPPED } });
      else walkFolder(arg, `${path.relative(path.dirname(folder), folder).split(path.sep).join('/')}/`, found, isStoreFolder);
      found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    } else found.push({ path: arg, name: path.basename(arg) });
    for (const item of found) {
      if ('outcome' in item) passedOver.push({ index: index++, ...item });
      else files.push({ index: index++, ...item });
    }
  }
  return { files, passedOver };
}

const STORE_FOLDER_SKIPPED = 'the store folder itself (its files are the store, not content to store)';

/** Null when it cannot be looked at (gone, no permission): its own walk then says so, for it alone. */
function identityOf(dir: string): { dev: number; ino: number } | null {
  try {
    const st = fsSync.statSync(dir, { throwIfNoEntry: false });
    return st ? { dev: st.dev, ino: st.ino } : null;
  } catch {
    return null;
  }
}

function sameIdentity(a: { dev: number; ino: number } | null, b: { dev: number; ino: number }): boolean {
  return a !== null && a.dev === b.dev && a.ino === b.ino;
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
  /** Hears why a store waits (another process's delete of the same content holds it). */
  onWaiting?: (why: string) => void;
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
      const result = await format.store(ns, { ...choice, source, name }, { onProgress: options.onBytes, signal, onWaiting: options.onWaiting });
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

/** A file to store as storeContents takes it: one that cannot be read counts as small and fails its own store. */
export function contentOfFile<T>(item: T, file: string, name: string): ContentToStore<T> {
  let size = 0;
  try {
    size = fsSync.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  } catch {
    // Unreadable (no permission): its store says why.
  }
  return { item, source: { kind: 'file', path: file }, name, size };
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
  await storeContents(format, ns, choice, files.map((file) => contentOfFile(file, file.path, file.name)), onOutcome, options);
}

/** What a store worker needs to open the same local folder, in the same layout, as the thread that starts it. */
export interface StoreWorkerConfig {
  dir: string;
  /** The root as the starting thread knows it (see LocalFolderStorage.checkedRoot): a vanished store stays vanished. */
  knownRoot?: RootIdentity | null;
  format: FormatName;
  maxEntryBytes?: number;
}

/** What a worker needs to open `storage` as `format` does, the root checked now (storage_unreachable if it vanished). */
export async function workerConfigOf(format: StoreFormat, storage: LocalFolderStorage, maxEntryBytes?: number): Promise<StoreWorkerConfig> {
  return { dir: storage.root, knownRoot: await storage.checkedRoot(), format: format.name, maxEntryBytes };
}

/** The store worker bundled beside an entry (out/cli, out/bridge, out/main); none when running from sources. */
export function storeWorkerBeside(entryUrl: string): URL | undefined {
  return entryUrl.endsWith('.js') ? new URL('./store-worker.js', entryUrl) : undefined;
}

/** One content of a job as a worker gets it: a file it reads itself, or bytes handed over. */
export type WireContent = { index: number; name: string } & ({ path: string } | { bytes: Uint8Array });
export type WireOutcome = { index: number; result: FormatStoreResult } | { index: number; error: ErrorInfo };
/** A verify's options that cross to a worker (its cancel is a shared flag in the request, see verifyInWorker). */
export type WireVerifyOptions = Pick<FormatVerifyOptions, 'namespace' | 'sample' | 'repair'>;
/** What the pool tells a worker: store a job's contents, or stop one under way; or verify the store. */
export type PoolRequest =
  | { type: 'store'; job: number; ns: string; choice: StoreChoice; contents: WireContent[] }
  | { type: 'abort'; job: number }
  | { type: 'verify'; options: WireVerifyOptions; cancel: Int32Array };
/** What a worker tells the pool: its store is open; some outcomes of a job (all of them sent once `done`); a verify's progress and end. */
export type PoolReply =
  | { type: 'ready' }
  | { type: 'outcomes'; job: number; outcomes: WireOutcome[]; done: boolean }
  | { type: 'verify-progress'; checked: number; listed: number; rehashing?: VerifyProgress['rehashing'] }
  | { type: 'verified'; report: FormatVerifyReport }
  | { type: 'verify-failed'; error: ErrorInfo };

/** Any failure as a typed error (file system failures by their errno, the rest as internal). */
export function asCacheError(err: unknown): CacheError {
  const e = err as NodeJS.ErrnoException | undefined;
  const typed = fileSystemError(err, e?.path ? `cannot ${e.syscall ?? 'use'} ${e.path}` : `${e?.syscall ?? 'a file system call'} failed`);
  return isCacheError(typed) ? typed : new CacheError('internal', e?.message ?? String(err));
}

export function toWire(index: number, outcome: FileOutcome): WireOutcome {
  if ('result' in outcome) return { index, result: outcome.result };
  return { index, error: asCacheError(outcome.error).toInfo() };
}

export function fromWire(info: ErrorInfo): CacheError {
  return new CacheError(ERROR_CODES.includes(info.code) ? info.code : 'internal', info.message);
}

/**
 * Verifies a local folder in a worker thread making direct system calls, as the CLI does. The app's
 * own reads go through Node's thread pool, so its window never waits on the disk, and on a small VM
 * each trip there costs more than the read itself: 1.55x the CLI's time on 20,000 entries (bench
 * row 12). The worker's direct calls never yield to messages, so a cancel is a shared flag it reads
 * between entries.
 */
export function verifyInWorker(
  url: URL,
  config: StoreWorkerConfig,
  options: WireVerifyOptions,
  control: { signal?: AbortSignal; onProgress?: (progress: Omit<VerifyProgress, 'phase'>) => void } = {},
): Promise<FormatVerifyReport> {
  const { signal, onProgress } = control;
  const cancel = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(url, { workerData: config });
  const abort = () => Atomics.store(cancel, 0, 1);
  signal?.addEventListener('abort', abort, { once: true });
  return new Promise<FormatVerifyReport>((resolve, reject) => {
    worker.on('message', (reply: PoolReply) => {
      if (reply.type === 'ready') {
        if (signal?.aborted) reject(new CacheError('cancelled', 'verify was cancelled'));
        else worker.postMessage({ type: 'verify', options, cancel } satisfies PoolRequest);
      } else if (reply.type === 'verify-progress') onProgress?.(reply);
      else if (reply.type === 'verified') resolve(reply.report);
      else if (reply.type === 'verify-failed') reject(fromWire(reply.error));
    });
    worker.on('error', (err) => reject(new CacheError('internal', `the verifying thread stopped: ${err.message}`)));
    worker.on('exit', (code) => reject(new CacheError('internal', `the verifying thread stopped (exit code ${code})`)));
  }).finally(() => {
    signal?.removeEventListener('abort', abort);
    void worker.terminate();
  });
}

interface PoolJob {
  id: number;
  request: Extract<PoolRequest, { type: 'store' }>;
  /** Buffers moved to the worker with the request (not copied). */
  transfer: ArrayBuffer[];
  /** Contents with no outcome yet, by index: they fail with the worker's error if it stops. */
  pending: Map<number, string>;
  onOutcome: (index: number, outcome: FileOutcome) => void;
  finish: () => void;
}

interface PoolWorker {
  worker: Worker;
  /** Its store opened: a worker that stops later is replaced, one that never got this far is not. */
  ready: boolean;
  job: PoolJob | null;
  failure: Error | null;
}

/** A job in a StorePool: settles once every content in it has its outcome. */
interface QueuedJob {
  done: Promise<void>;
  /** A queued job fails as cancelled; one under way is told to stop. */
  abort(): void;
}

/**
 * Waits for `jobs`, aborting them all once `signal` aborts: one listener on the caller's signal
 * however many batches (eleven set off Node's warning of a listener leak on a big folder).
 */
async function untilDone(jobs: QueuedJob[], signal?: AbortSignal): Promise<void> {
  const abort = () => jobs.forEach((job) => job.abort());
  if (signal?.aborted) abort();
  else signal?.addEventListener('abort', abort, { once: true });
  try {
    await Promise.all(jobs.map((job) => job.done));
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}

/**
 * Worker threads that store into one local folder, one job at a time each, taken from one queue
 * (the CLI's folder, the app's drops). A bulk store of small files is mostly system calls on one
 * thread, so this uses every core; versions are still allocated in storage, so workers never
 * collide. A worker that stops fails only its own job's contents not reported yet.
 */
export class StorePool {
  private readonly workers = new Set<PoolWorker>();
  private readonly queue: PoolJob[] = [];
  private nextJob = 0;
  private closed = false;
  /** Why the last worker stopped: what queued jobs fail with once none is left. */
  private lastFailure = new CacheError('internal', 'no store worker is running');

  /** Workers start at once, so their start-up overlaps whatever comes before the first job (the CLI's folder walk). */
  constructor(
    private readonly workerUrl: URL,
    private readonly config: StoreWorkerConfig,
  ) {
    const count = Math.max(1, Math.min(os.availableParallelism(), MAX_WORKERS));
    for (let i = 0; i < count; i++) this.startWorker();
  }

  /** Every worker stopped before its store opened: nothing can be stored through this pool. */
  get broken(): boolean {
    return this.workers.size === 0;
  }

  private startWorker(): void {
    const slot: PoolWorker = { worker: new Worker(this.workerUrl, { workerData: this.config }), ready: false, job: null, failure: null };
    this.workers.add(slot);
    slot.worker.on('message', (reply: PoolReply) => this.received(slot, reply));
    // Listening from the start: a worker that fails fails its job, never the process.
    slot.worker.on('error', (err) => (slot.failure = err));
    slot.worker.on('exit', (code) => this.stopped(slot, code));
  }

  private received(slot: PoolWorker, reply: PoolReply): void {
    if (reply.type === 'ready') {
      slot.ready = true;
      return;
    }
    if (reply.type !== 'outcomes') return; // a pool's workers are never asked to verify
    const job = slot.job!;
    for (const { index, ...outcome } of reply.outcomes) {
      job.pending.delete(index);
      job.onOutcome(index, 'error' in outcome ? { error: fromWire(outcome.error) } : outcome);
    }
    if (!reply.done) return;
    slot.job = null;
    job.finish();
    this.dispatch();
  }

  private stopped(slot: PoolWorker, code: number): void {
    this.workers.delete(slot);
    const why = this.closed
      ? new CacheError('cancelled', 'the store was closed')
      : new CacheError('internal', `a store worker stopped unexpectedly (${slot.failure?.message ?? `exit code ${code}`})`);
    this.lastFailure = why;
    if (slot.job) this.fail(slot.job, (name) => `${name}: ${why.message}, before it reported this file`, why.code);
    if (slot.ready && !this.closed) this.startWorker();
    this.dispatch();
  }

  /** Gives every content of the job not reported yet the same failure, and ends the job. */
  private fail(job: PoolJob, message: (name: string) => string, code: CacheError['code']): void {
    for (const [index, name] of job.pending) job.onOutcome(index, { error: new CacheError(code, message(name)) });
    job.pending.clear();
    job.finish();
  }

  /** Hands queued jobs to idle workers; with no worker left, they fail. */
  private dispatch(): void {
    for (const slot of this.workers) {
      if (slot.job) continue;
      const job = this.queue.shift();
      if (!job) return;
      try {
        slot.worker.postMessage(job.request, job.transfer);
        slot.job = job;
      } catch (err) {
        // A buffer that cannot be moved (already moved elsewhere): this job fails, the worker stays free.
        this.fail(job, (name) => `${name}: not stored: ${(err as Error).message}`, 'internal');
      }
    }
    if (this.workers.size > 0) return;
    for (const job of this.queue.splice(0)) this.fail(job, (name) => `${name}: not stored: ${this.lastFailure.message}`, this.lastFailure.code);
  }

  /**
   * Stores contents in the next free worker; every one gets an outcome. A worker reads files
   * itself; bytes are moved to it (their buffers are unusable here afterwards), never copied.
   * Once `signal` aborts, a queued job fails as cancelled and one under way is told to stop.
   */
  store<T>(ns: string, choice: StoreChoice, contents: Omit<ContentToStore<T>, 'size'>[], onOutcome: (item: T, outcome: FileOutcome) => void, signal?: AbortSignal): Promise<void> {
    return this.run([this.enqueue(ns, choice, contents, onOutcome)], signal);
  }

  /** The CLI's folder: its files spread over the workers, WORKER_BATCH at a time. */
  storeFiles(ns: string, choice: StoreChoice, files: FileToStore[], onOutcome: (file: FileToStore, outcome: FileOutcome) => void, signal?: AbortSignal): Promise<void> {
    const jobs: QueuedJob[] = [];
    for (let at = 0; at < files.length; at += WORKER_BATCH) {
      jobs.push(this.enqueue(ns, choice, files.slice(at, at + WORKER_BATCH).map((file) => ({ item: file, source: { kind: 'file' as const, path: file.path }, name: file.name })), onOutcome));
    }
    return this.run(jobs, signal);
  }

  /** Sends queued jobs to the workers, unless `signal` has already cancelled them. */
  private run(jobs: QueuedJob[], signal?: AbortSignal): Promise<void> {
    const done = untilDone(jobs, signal);
    this.dispatch();
    return done;
  }

  /** Queues `contents` as one job; run() sends it. */
  private enqueue<T>(ns: string, choice: StoreChoice, contents: Omit<ContentToStore<T>, 'size'>[], onOutcome: (item: T, outcome: FileOutcome) => void): QueuedJob {
    const transfer = new Set<ArrayBuffer>();
    const wire = contents.map(({ source, name }, index): WireContent => {
      if (source.kind === 'file') return { index, name, path: source.path };
      if (source.kind !== 'bytes') throw new CacheError('internal', `${name}: streamed content is stored in the thread that reads it`);
      if (source.bytes.buffer instanceof ArrayBuffer) transfer.add(source.bytes.buffer);
      return { index, name, bytes: source.bytes };
    });
    const id = this.nextJob++;
    let job!: PoolJob;
    const done = new Promise<void>((resolve) => {
      job = {
        id,
        request: { type: 'store', job: id, ns, choice, contents: wire },
        transfer: [...transfer],
        pending: new Map(wire.map((c) => [c.index, c.name])),
        onOutcome: (index, outcome) => onOutcome(contents[index]!.item, outcome),
        finish: resolve,
      };
    });
    this.queue.push(job);
    const abort = () => {
      if (this.queue.includes(job)) {
        this.queue.splice(this.queue.indexOf(job), 1);
        this.fail(job, (name) => `${name}: cancelled before it was stored`, 'cancelled');
      } else if (job.pending.size > 0) [...this.workers].find((w) => w.job === job)?.worker.postMessage({ type: 'abort', job: job.id } satisfies PoolRequest);
    };
    return { done, abort };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.workers].map(({ worker }) => worker.terminate()));
  }
}
