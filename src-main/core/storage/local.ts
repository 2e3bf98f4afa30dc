import { randomBytes } from 'node:crypto';
import * as fsSync from 'node:fs';
import { createReadStream, type Dirent } from 'node:fs';
import * as fs from 'node:fs/promises';
import { promisify } from 'node:util';
import * as path from 'node:path';
import { CacheError, fileSystemError } from '../../../src-shared/errors';
import { BufferRing, IO_ALIGN, RING_BUFFER_BYTES } from '../buffer-ring';
import { type HashResult, pumpHashed, streamsIn } from '../hashing';
import { isHidden, isStrayName, walkFolder } from './folder-walk';
import { CHECKED_CONTENT_BYTES, heldContent } from './held-content';
import { FlushGroup, type SyncFileSystem } from './flush-group';
import { QUARANTINE_PREFIX } from '../cache-service';
import { ADMIN_PREFIX } from '../retention/policy';
import { assertReadablePrefix, assertValidKey, resolveFoundKey } from '../../../src-shared/keys';
import type { ContentSource, CopyOptions, KeyPage, Leftover, ListOptions, ListPage, ObjectInfo, PutOptions, StageOptions, StagedContent, StorageBackend } from './types';
import { MAX_LIST_PAGE } from './types';

/** Where staged content waits for its hash to be known; same filesystem, so placing it is a link. */
export const STAGING_DIR = '.staging';
/** Temp files start with "." so no valid key can name them; the rest marks them for `verify`. */
export const TEMP_MARK = '.tmp-';
/**
 * Space kept aside in every store folder this app writes to, so that a delete or a prune can write
 * its marker, lease or journal on a full disk and so free space (docs/storage-layout.md).
 */
export const SPACE_RESERVE = '.space-reserve';
const SPACE_RESERVE_BYTES = 4 << 20;
const randomBytesAsync = promisify(randomBytes);

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** The small file operations of a write, on numeric descriptors so both flavours below fit. */
interface SmallIo {
  createExclusive(file: string): Promise<number>;
  writeAll(fd: number, data: Uint8Array): Promise<void>;
  close(fd: number): Promise<void>;
  /** mkdir -p of a folder under `root`, never the root itself or above it; the first folder created. */
  mkdirp(dir: string, root: string): Promise<string | undefined>;
  /** A folder itself, following a link (the root may be one); undefined when nothing is there. */
  stat(file: string): Promise<fsSync.Stats | undefined>;
  link(from: string, to: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(file: string): Promise<void>;
  /** The entry itself, never a link's target; undefined when nothing is there (a miss is the common case: no error object is built). */
  lstat(file: string): Promise<fsSync.Stats | undefined>;
  readFile(file: string): Promise<Buffer>;
  /** A folder's entries with their types (no stat). */
  readdir(dir: string): Promise<Dirent[]>;
  /** Where a folder really is, every link on the way resolved. */
  realpath(dir: string): Promise<string>;
}

const writeCb = promisify(fsSync.write);

/**
 * Reads never follow a link at a key's name (the store makes none, so one is planted), and never wait
 * on a pipe planted there: opening one without O_NONBLOCK blocks until a writer comes, for ever, in a
 * thread no signal reaches. O_NONBLOCK changes nothing for a regular file.
 */
const READ_NO_FOLLOW = fsSync.constants.O_RDONLY | (fsSync.constants.O_NOFOLLOW ?? 0) | (fsSync.constants.O_NONBLOCK ?? 0);

/** A pipe, socket or device at a key's name: no copy of anything, so nothing there (as a link or a folder). */
const notAFile = (file: string) => Object.assign(new Error(`${file} is not a file`), { code: 'EFTYPE' });
/** What a read at a key's name may find instead of a file: each counts as nothing there. */
const NOTHING_THERE = ['ENOENT', 'ENOTDIR', 'EISDIR', 'ELOOP', 'EFTYPE'];
/** Case-insensitive disks (macOS, Windows) give a folder's own spelling back: `Docs` is the folder `docs` there. */
const FOLDED_NAMES = process.platform === 'darwin' || process.platform === 'win32';
export function sameFolderName(a: string, b: string): boolean {
  return FOLDED_NAMES ? a.normalize('NFC').toLowerCase() === b.normalize('NFC').toLowerCase() : a === b;
}
/** What a leftover that listings never show is, in words. */
const UNLISTED_WHAT = { link: 'a link', name: 'named as no key can be', special: 'not a regular file' } as const;

/**
 * mkdir -p below `root` with a bounded number of calls (Node's recursive mkdir retries forever where
 * mkdir keeps answering ENOENT, as under /proc): each missing level is tried once, then once more
 * after its parent. The root is never made here, so a root that is gone ends in ENOENT. Returns the
 * first folder created, undefined if `dir` was there.
 */
async function makeFolders(dir: string, root: string, retries = 3): Promise<string | undefined> {
  if (dir === root) return undefined;
  const made = await fs.mkdir(dir).then(
    () => dir,
    (err: unknown) => folderMissing(err, dir),
  );
  if (made !== null) return made;
  const created = await makeFolders(path.dirname(dir), root);
  try {
    await fs.mkdir(dir);
  } catch (err) {
    // ENOENT again: another process pruned the parent just made (try again), or the root is gone
    if (errno(err) === 'ENOENT' && retries > 0) return makeFolders(dir, root, retries - 1);
    unlessExists(err);
  }
  return created ?? dir;
}

/** The same in one go, without yielding: concurrent stores then find the folders their first sibling made. */
function makeFoldersSync(dir: string, root: string, retries = 3): string | undefined {
  if (dir === root) return undefined;
  let made: string | undefined | null;
  try {
    fsSync.mkdirSync(dir);
    made = dir;
  } catch (err) {
    made = folderMissing(err, dir);
  }
  if (made !== null) return made;
  const created = makeFoldersSync(path.dirname(dir), root);
  try {
    fsSync.mkdirSync(dir);
  } catch (err) {
    // As in makeFolders: the parent just made may have been pruned by another process.
    if (errno(err) === 'ENOENT' && retries > 0) return makeFoldersSync(dir, root, retries - 1);
    unlessExists(err);
  }
  return created ?? dir;
}

function unlessExists(err: unknown): void {
  if (errno(err) !== 'EEXIST') throw err;
}

/** After a failed mkdir: undefined if the folder is there, null if its parent is missing; else the error. */
function folderMissing(err: unknown, dir: string): undefined | null {
  if (errno(err) === 'EEXIST') return undefined;
  if (errno(err) === 'ENOENT' && path.dirname(dir) !== dir) return null;
  throw err;
}

/** Each call a trip to libuv's thread pool: the event loop never waits on the disk (the app). */
const threadPoolIo: SmallIo = {
  createExclusive: (file) => promisify(fsSync.open)(file, 'wx'),
  async writeAll(fd, data) {
    for (let done = 0; done < data.byteLength; ) done += (await writeCb(fd, data, done, data.byteLength - done)).bytesWritten;
  },
  close: (fd) => promisify(fsSync.close)(fd),
  mkdirp: makeFolders,
  link: (from, to) => fs.link(from, to),
  realpath: (dir) => fs.realpath(dir),
  rename: (from, to) => fs.rename(from, to),
  unlink: (file) => fs.unlink(file),
  lstat: (file) =>
    fs.lstat(file).catch((err: unknown) => {
      if (errno(err) === 'ENOENT') return undefined;
      throw err;
    }),
  stat: (file) =>
    fs.stat(file).catch((err: unknown) => {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return undefined;
      throw err;
    }),
  // The callback form: no FileHandle to build and close, 30% less time a file (a verify reads thousands).
  readFile: async (file) => {
    // EAGAIN: a pipe with a writer and nothing written yet (a file never answers so).
    const bytes = await readFileCb(file, { flag: READ_NO_FOLLOW }).catch((err: unknown) => Promise.reject(errno(err) === 'EAGAIN' ? notAFile(file) : err));
    // A pipe opened without waiting reads as empty: only then is one more call needed to tell it from an empty file.
    if (bytes.length === 0 && !(await fs.lstat(file)).isFile()) throw notAFile(file);
    return bytes;
  },
  readdir: (dir) => fs.readdir(dir, { withFileTypes: true }),
};
// Node takes numeric open flags here as in fs.promises; only its types say a string.
const readFileCb = promisify(fsSync.readFile) as unknown as (file: string, options: { flag: number }) => Promise<Buffer>;

/**
 * The same operations as direct system calls. Each takes microseconds on a local disk, far less
 * than a thread-pool round trip, so bulk stores from the CLI run several times faster. Not for the
 * app's main process: a slow network mount would stall it.
 */
const blockingIo: SmallIo = {
  createExclusive: async (file) => fsSync.openSync(file, 'wx'),
  async writeAll(fd, data) {
    for (let done = 0; done < data.byteLength; ) done += fsSync.writeSync(fd, data, done, data.byteLength - done);
  },
  close: async (fd) => fsSync.closeSync(fd),
  mkdirp: async (dir, root) => makeFoldersSync(dir, root),
  link: async (from, to) => fsSync.linkSync(from, to),
  realpath: async (dir) => fsSync.realpathSync.native(dir),
  rename: async (from, to) => fsSync.renameSync(from, to),
  unlink: async (file) => fsSync.unlinkSync(file),
  lstat: async (file) => fsSync.lstatSync(file, { throwIfNoEntry: false }),
  stat: async (file) => {
    try {
      return fsSync.statSync(file, { throwIfNoEntry: false });
    } catch (err) {
      if (errno(err) === 'ENOTDIR') return undefined;
      throw err;
    }
  },
  async readFile(file) {
    const fd = fsSync.openSync(file, READ_NO_FOLLOW);
    try {
      if (!fsSync.fstatSync(fd).isFile()) throw notAFile(file);
      return fsSync.readFileSync(fd);
    } finally {
      fsSync.closeSync(fd);
    }
  },
  // A listing reads one folder per ~4 keys: as a thread-pool trip each, 2.5x the time (and 3.5x the CPU) of the read itself.
  readdir: async (dir) => fsSync.readdirSync(dir, { withFileTypes: true }),
};

/** Early flushes of big content, on the thread pool while the hashing goes on. */
const datasync = promisify(fsSync.fdatasync);

/** Staged content at an offset, on the thread pool (a file opened twice has no shared position). */
async function writeAllAt(fd: number, data: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < data.byteLength; ) done += (await writeCb(fd, data, done, data.byteLength - done, position + done)).bytesWritten;
}

/**
 * Writes queued at once, so the disk never waits for the thread that submits the next one. A file
 * is read faster than the disk writes: two keep it busy. Content streamed in (an upload, a pipe)
 * comes slower, so the disk has time for early flushes, and what arrives while one holds the disk
 * (40-60 ms per 64 MiB on the VMs measured) needs free buffers to land in, or the upload stops.
 */
export const WRITES_IN_FLIGHT = { read: 2, streamed: 6 };

/**
 * Big content is flushed as it is written (direct writes only while the disk would otherwise idle),
 * so the disk persists the start while we receive the rest: an upload's flush at the end, which
 * nothing can overlap, is then ~1 ms instead of 0.6 s a GiB (bench/analysis.md, session 32).
 */
export const FLUSH_EVERY = 64 * 1024 * 1024;

export interface StagingWriterOptions {
  /** Where the content is read into: chunks in these buffers are written without a copy. */
  ring?: BufferRing;
  /** The same file opened for direct I/O, if its filesystem allows. */
  directFd?: number | null;
  /** WRITES_IN_FLIGHT.read unless the content streams in. */
  writesInFlight?: number;
  /** How the file is flushed as it is written (tests count and fail these). */
  flush?: (fd: number) => Promise<void>;
}

/**
 * Opens a file again for direct I/O (Linux only), or null where its filesystem refuses (tmpfs).
 * Direct writes skip the page cache: no copy into it and no flood of dirty pages to write back,
 * which here makes a 2 GiB store 1.5-4x faster and steady, and leaves the operator's cache alone.
 */
async function openDirect(file: string): Promise<number | null> {
  if (process.platform !== 'linux') return null;
  try {
    return await promisify(fsSync.open)(file, fsSync.constants.O_WRONLY | fsSync.constants.O_DIRECT);
  } catch {
    return null;
  }
}

/**
 * Writes staged content one buffer behind the hashing. Chunks read into the ring's buffers are
 * written as they are; any other chunks are first gathered into 4 MiB buffers of its own, so 64 KiB
 * chunks cost 512 writes per 2 GiB, not 32,768. Whole aligned buffers go straight to the disk (direct
 * I/O); the rest (the tail, a filesystem without direct I/O) goes through the page cache, flushed
 * every 64 MiB as it goes. Direct writes are flushed early too where the disk would idle (an upload),
 * so such a store takes about as long as its receiving, not that plus one long flush at the end.
 */
export class StagingWriter {
  /** Writes submitted and not yet awaited, oldest first. */
  private readonly inFlight: Promise<void>[] = [];
  /** Writes started and not yet settled (inFlight keeps only those not yet awaited). */
  private writesPending = 0;
  private flushing: Promise<void> | null = null;
  private flushError: unknown = null;
  private unflushed = 0;
  /** Where the next write goes. */
  private position = 0;
  /** The buffer streamed chunks are being gathered into, and how much of it is used. */
  private gathering: { buffer: Uint8Array; used: number } | null = null;
  private readonly writesInFlight: number;
  private readonly gatherBuffers: BufferRing;
  private readonly readBuffers: BufferRing | null;
  private directFd: number | null;
  /** The filesystem opened `directFd` but refused a direct write (EINVAL). */
  private directRefused = false;
  private readonly flush: (fd: number) => Promise<void>;

  constructor(
    private readonly fd: number,
    options: StagingWriterOptions = {},
  ) {
    this.readBuffers = options.ring ?? null;
    this.directFd = options.directFd ?? null;
    this.flush = options.flush ?? datasync;
    this.writesInFlight = options.writesInFlight ?? WRITES_IN_FLIGHT.read;
    this.gatherBuffers = new BufferRing(this.writesInFlight + 1);
  }

  /** Resolves once `chunk` is written or copied, so the caller may hash the next one meanwhile. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.readBuffers?.starts(chunk)) {
      await this.writeGathered();
      return this.submit(chunk);
    }
    for (let taken = 0; taken < chunk.byteLength; ) {
      this.gathering ??= { buffer: await this.gatherBuffers.next(), used: 0 };
      const { buffer, used } = this.gathering;
      const n = Math.min(chunk.byteLength - taken, buffer.byteLength - used);
      buffer.set(chunk.subarray(taken, taken + n), used);
      this.gathering.used += n;
      taken += n;
      if (this.gathering.used === buffer.byteLength) await this.writeGathered();
    }
  }

  private async writeGathered(): Promise<void> {
    if (!this.gathering) return;
    const { buffer, used } = this.gathering;
    this.gathering = null;
    await this.submit(buffer.subarray(0, used));
  }

  /**
   * Starts writing `data` once fewer than `writesInFlight` writes are pending; its buffer is held
   * until it is written. With the next write already queued, the disk never waits for this thread
   * to wake up and submit it (a wait of 10-50 ms per write on a busy machine).
   */
  private async submit(data: Uint8Array): Promise<void> {
    if (this.inFlight.length >= this.writesInFlight) await this.inFlight.shift();
    // A failed early flush fails the store now, as a failed write does, not once the rest is in.
    if (this.flushError) throw this.flushError;
    const at = this.position;
    this.position += data.byteLength;
    this.writesPending++;
    const writing = this.writeAt(data, at).finally(() => void this.writesPending--);
    this.inFlight.push(writing);
    this.readBuffers?.holdUntil(data, writing);
    this.gatherBuffers.holdUntil(data, writing);
    writing.catch(() => undefined); // reported by the next write, finish() or settle()
  }

  private async writeAt(data: Uint8Array, at: number): Promise<void> {
    const aligned = (this.readBuffers?.starts(data) || this.gatherBuffers.starts(data)) && at % IO_ALIGN === 0 && data.byteLength % IO_ALIGN === 0;
    const direct = await this.writeDirectOrCached(data, at, aligned);
    this.unflushed += data.byteLength;
    // Direct writes only while no other write waits: a flush holds the disk, so it belongs where the
    // disk would idle (an upload arriving slower than the disk takes it), not ahead of queued writes
    // (a file read faster than the disk writes, whose store would grow by each flush). The page
    // cache is flushed regardless, so its dirty pages never pile up.
    if (this.unflushed >= FLUSH_EVERY && !this.flushing && (!direct || this.writesPending === 1)) {
      this.unflushed = 0;
      // Kept for the next write or finish() to throw: Linux reports a writeback error to one flush only.
      this.flushing = this.flush(this.fd).then(
        () => void (this.flushing = null),
        (err: unknown) => void ((this.flushError = err), (this.flushing = null)),
      );
    }
  }

  /** Whether `data` went past the page cache. */
  private async writeDirectOrCached(data: Uint8Array, at: number, aligned: boolean): Promise<boolean> {
    if (this.directFd !== null && !this.directRefused && aligned) {
      try {
        await writeAllAt(this.directFd, data, at);
        return true;
      } catch (err) {
        if (errno(err) !== 'EINVAL') throw err;
        // A filesystem that opens for direct I/O but will not do it: the page cache then (the
        // descriptor is closed once no other write may be using it).
        this.directRefused = true;
      }
    }
    await writeAllAt(this.fd, data, at);
    return false;
  }

  /** Every byte written (not yet flushed: the caller does that once the file is closed). */
  async finish(): Promise<void> {
    await this.writeGathered();
    while (this.inFlight.length > 0) await this.inFlight.shift();
    await this.flushing;
    await this.closeDirect();
    await this.gatherBuffers.release();
    if (this.flushError) throw this.flushError;
  }

  /** Nothing in flight any more (after a failure), so the file can be closed and removed. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.inFlight.splice(0));
    await this.flushing;
    await this.closeDirect();
    await this.gatherBuffers.release();
  }

  private async closeDirect(): Promise<void> {
    const fd = this.directFd;
    if (fd === null) return;
    this.directFd = null;
    await promisify(fsSync.close)(fd);
  }
}

/** A folder's entry as a listing walks it. */
interface FolderEntry {
  name: string;
  isDir: boolean;
  /** Where S3 would sort it: a folder as its name plus "/". */
  sortKey: string;
}

/** Folders read ahead by all of a store's walks at once in the app: its thread pool has 4 threads, shared with every other call. */
const READ_AHEAD_FOLDERS = 4;
/** How far along a folder's entries a walk looks for sibling folders to read ahead. */
const READ_AHEAD_SCAN = 64;
/** Folders this big are kept sorted between pages (a stat to check one costs less than reading it again). */
const KEPT_FOLDER_ENTRIES = 128;
const KEPT_FOLDERS = 16;
/** Change times are stamped with a coarse clock (up to 2 s on some file systems): only a folder settled this long is kept. */
const SETTLED_FOLDER_MS = 2000;

function sortedEntries(dirents: Dirent[], atRoot: boolean): FolderEntry[] {
  const entries: FolderEntry[] = [];
  for (const e of dirents) {
    const isDir = e.isDirectory();
    if (isHidden(e.name, isDir, atRoot) || !(isDir || e.isFile())) continue;
    entries.push({ name: e.name, isDir, sortKey: isDir ? `${e.name}/` : e.name });
  }
  return entries.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
}

/**
 * Where a walk of the folder at `key` starts: the first entry that may start with `filter` and may
 * hold keys after `cursor` (a binary search, so a page deep into a big folder skips the rest at once).
 */
function firstAfter(entries: FolderEntry[], key: string, filter: string, cursor: string | undefined): number {
  // The first entry whose sort key is at least `bound`.
  const lowerBound = (bound: string, after: boolean) => {
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = entries[mid]!.sortKey;
      if (k < bound || (after && k === bound)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let start = filter ? lowerBound(filter, false) : 0;
  if (cursor !== undefined && cursor.startsWith(key)) {
    const rest = cursor.slice(key.length);
    let at = lowerBound(rest, true); // the first entry sorting after the cursor
    const before = entries[at - 1];
    if (before?.isDir && rest.startsWith(before.sortKey)) at--; // the cursor is inside this folder
    start = Math.max(start, at);
  }
  return start;
}

/** Content too long to hold in memory, written to `.staging/` while it is hashed. */
interface Spool {
  temp: string;
  fd: number;
  writer: StagingWriter;
}

/** Which folder a store's root is (its device and inode): another folder at the same path is not the store. */
export interface RootIdentity {
  dev: number;
  ino: number;
}

export interface LocalFolderOptions {
  /** Small file operations as direct system calls (CLI bulk stores); see blockingIo. */
  blockingIo?: boolean;
  /** The root as the thread that opened this store first has seen it (a worker's store): see checkedRoot. */
  knownRoot?: RootIdentity | null;
  /** How to sync the whole filesystem for a group of flushes (tests replace it); null: never. */
  syncfs?: SyncFileSystem | null;
}

const PID = process.pid; // read once: each read of process.pid is a system call
// Unique per process (the random part covers a recycled pid) and per call (the counter), without
// a trip to the random source for every temp file.
const TEMP_PREFIX = `${TEMP_MARK}${PID}-${randomBytes(6).toString('hex')}-`;
let tempCount = 0;

/** How long a staging file of a process that is gone must have been left alone before it is removed. */
export const ABANDONED_STAGING_MS = 60 * 60_000;

function tempName(): string {
  return `${TEMP_PREFIX}${(tempCount++).toString(36)}`;
}

/**
 * A folder on disk. Every write goes to a temp file in the target folder, is flushed, then renamed
 * (or hard-linked, for create-only writes) into place, so a crash never leaves a partial file under
 * a final name. Keys are validated so that no path can leave the root.
 */
export class LocalFolderStorage implements StorageBackend {
  readonly root: string;
  /** The root with a trailing separator: every file of the store starts with it. */
  private readonly rootPrefix: string;
  readonly description: string;
  readonly capabilities = { conditionalWrites: true, readOnly: false };
  private readonly io: SmallIo;
  private readonly flushes: FlushGroup;
  /**
   * The root folder as this store first saw it. Once seen, a root that is gone or is another folder
   * (deleted, moved, unmounted) fails every call with storage_unreachable and is never made again.
   */
  private rootSeen: RootIdentity | null;
  /** The root with every link in its own path resolved (the root may be a link): where reads must lead. */
  private rootReal: string | undefined;
  /** Big folders' sorted entries from earlier listings, oldest first, with the change time they were read at. */
  /** Folder reads started ahead of their walks and not finished yet, across all listings. */
  private foldersReadAhead = 0;
  private readonly sortedFolders = new Map<string, { ino: number; ctimeMs: number; entries: FolderEntry[] }>();
  /** This process's making (or finding) of the space reserve since it last released it. */
  private spaceReserve: Promise<void> | null = null;
  /** When abandoned staging files were last looked for (removeAbandonedStaging). */
  private stagingSweptAt = -Infinity;

  constructor(root: string, options: LocalFolderOptions = {}) {
    this.root = path.resolve(root);
    this.rootPrefix = this.root.endsWith(path.sep) ? this.root : this.root + path.sep;
    this.description = `local folder ${this.root}`;
    this.io = options.blockingIo ? blockingIo : threadPoolIo;
    this.rootSeen = options.knownRoot ?? null;
    this.flushes = new FlushGroup(this.root, { syncfs: options.syncfs });
  }

  /**
   * Opening creates nothing: folders appear with the first write, so reads and bad input leave no
   * trace. A root that could never hold a store fails here, with invalid_input.
   */
  static async open(root: string, options: LocalFolderOptions = {}): Promise<LocalFolderStorage> {
    const storage = new LocalFolderStorage(root, options);
    await checkStoreRoot(storage.root, storage.io);
    await storage.checkRoot();
    return storage;
  }

  /**
   * Fails with storage_unreachable when the root this store has seen is gone or is another folder
   * now, so a vanished store never reads as an empty one. A root not made yet (a new store) is
   * fine, and is taken as the store's once it exists.
   */
  private async checkRoot(): Promise<void> {
    // What was known before the stat: a concurrent first write may make the root while it runs,
    // and a root missing then is a new store, not a vanished one.
    const seenBefore = this.rootSeen;
    let found: fsSync.Stats | undefined;
    try {
      found = await this.io.stat(this.root);
    } catch (err) {
      throw this.rootUnreachable(err);
    }
    if (!found && !seenBefore) return;
    if (!found?.isDirectory()) throw this.rootUnreachable();
    const seen = (this.rootSeen ??= { dev: found.dev, ino: found.ino });
    if (found.dev !== seen.dev || found.ino !== seen.ino) throw this.rootUnreachable();
  }

  /**
   * The root's identity, checked now (storage_unreachable if it vanished or is another folder), for a
   * worker thread that opens the same store: it then refuses a vanished root as this store does.
   */
  async checkedRoot(): Promise<RootIdentity | null> {
    await this.checkRoot();
    return this.rootSeen;
  }

  private rootUnreachable(cause?: unknown): CacheError {
    const why = cause ? `cannot be read (${errno(cause) ?? (cause as Error).message})` : 'is gone or is not the folder that was opened (deleted, moved or unmounted)';
    return new CacheError('storage_unreachable', `the store folder ${this.root} ${why}; nothing is read from it or written to it until it is back`, { cause });
  }

  /**
   * Creates a folder under the root and its missing parents. The root itself only for a new store
   * (never one that was seen and is gone), and only inside a folder that exists.
   */
  private async makeFolders(dir: string): Promise<string | undefined> {
    await this.checkRoot();
    if (!this.rootSeen) {
      await fs.mkdir(this.root).catch(async (err: unknown) => {
        if (errno(err) === 'EEXIST') return;
        const parent = path.dirname(this.root);
        if (errno(err) === 'ENOENT' && !(await this.io.stat(parent).catch(() => undefined))) {
          throw new CacheError('storage_unreachable', `cannot create the store folder ${this.root}: the folder it goes in, ${parent}, does not exist`);
        }
        throw err;
      });
      await this.checkRoot();
    }
    return this.io.mkdirp(dir, this.root);
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    // A valid key has no empty, "." or ".." segment, so joining needs no normalising.
    const full = this.rootPrefix + (path.sep === '/' ? key : key.split('/').join(path.sep));
    if (!full.startsWith(this.rootPrefix)) throw new CacheError('invalid_key', 'storage key leaves the storage root');
    return full;
  }

  /** Resolved as the service's own local store resolves a path (resolveFoundKey): `x/../y` is `y` on disk. */
  addressOf(key: string): string {
    const resolved = resolveFoundKey(key);
    if (path.sep !== '/' && resolved.includes('\\')) throw new CacheError('invalid_key', `${JSON.stringify(key.slice(0, 100))} holds a backslash, a folder separator here`);
    return resolved;
  }

  /** The file a key names when it is read, listed or deleted, another writer's spelling included (addressOf). */
  private foundPathOf(key: string): string {
    const resolved = this.addressOf(key);
    return this.rootPrefix + (path.sep === '/' ? resolved : resolved.split('/').join(path.sep));
  }

  /** The folder a listing's folder key (`a/b/`, '' for the root) names: a dot folder below the root is a key's folder (isHidden). */
  private folderPathOf(dirKey: string): string {
    if (!dirKey) return this.root;
    const resolved = resolveFoundKey(dirKey, { prefix: true });
    return this.rootPrefix + (path.sep === '/' ? resolved : resolved.split('/').join(path.sep));
  }

  /** Creates a file for writing, and its folder on first use (folders are not pre-created per write). */
  private async createFile(file: string): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.io.createExclusive(file);
      } catch (err) {
        // A concurrent delete may prune the folder between mkdir and open: retry a few times.
        if (errno(err) === 'ENOENT' && attempt < 5) {
          await this.makeFolders(path.dirname(file));
          continue;
        }
        throw err;
      }
    }
  }

  private async writeNew(file: string, data: Uint8Array, durable: boolean): Promise<void> {
    const fd = await this.createFile(file);
    try {
      try {
        await this.io.writeAll(fd, data);
      } finally {
        await this.io.close(fd);
      }
      if (durable) await this.flushes.flush(file);
    } catch (err) {
      await fs.rm(file, { force: true });
      throw err;
    }
  }

  /** A link or rename into `to`'s folder, creating the folder on first use. */
  private async withFolder(from: string, to: string, move: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await move();
      } catch (err) {
        // ENOENT means a missing target folder, unless the folder exists: then the source is gone.
        if (errno(err) === 'ENOENT' && attempt < 5) {
          const created = await this.makeFolders(path.dirname(to));
          if (created !== undefined || attempt > 0) continue;
          if (await this.io.lstat(from)) continue;
        }
        throw err;
      }
    }
  }

  private async linkNew(from: string, to: string): Promise<boolean> {
    try {
      await this.withFolder(from, to, () => this.io.link(from, to));
      return true;
    } catch (err) {
      if (errno(err) === 'EEXIST') return false;
      throw err;
    }
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<boolean> {
    if (!options.freesSpace) {
      const placed = await this.putOnce(key, data, options);
      await this.keepSpaceReserve();
      return placed;
    }
    try {
      return await this.putOnce(key, data, options);
    } catch (err) {
      if (!(err instanceof CacheError && err.code === 'no_space')) throw err;
      // Released here or by another process just now: either way there may be room.
      await this.releaseSpaceReserve();
      return this.putOnce(key, data, options);
    }
  }

  /**
   * After a write that needed no help: makes the space reserve when it is missing, once per
   * process and again after this process released it. Where it does not fit, it waits for a
   * later release (a full disk is not made fuller by trying on every write). Written through the
   * thread pool, so a big store that starts it beside its content does not wait for it.
   */
  private keepSpaceReserve(): Promise<void> {
    return (this.spaceReserve ??= this.makeSpaceReserve());
  }

  private async makeSpaceReserve(): Promise<void> {
    const file = path.join(this.root, SPACE_RESERVE);
    if (await this.io.lstat(file).catch(() => undefined)) return;
    const temp = path.join(path.dirname(file), tempName());
    try {
      // Random bytes: a compressing file system would store zeros in no space at all.
      await fs.writeFile(temp, await randomBytesAsync(SPACE_RESERVE_BYTES), { flag: 'wx' });
      await this.linkNew(temp, file);
    } catch {
      // No room (or no write access) for it now.
    } finally {
      await fs.rm(temp, { force: true }).catch(() => undefined);
    }
  }

  private async releaseSpaceReserve(): Promise<void> {
    await this.spaceReserve; // one being made now would otherwise appear just after the release
    await fs.rm(path.join(this.root, SPACE_RESERVE), { force: true }).catch(() => undefined); // not a file (planted): nothing to release
    this.spaceReserve = null;
  }

  private async putOnce(key: string, data: Uint8Array, options: PutOptions): Promise<boolean> {
    const file = this.pathOf(key);
    const temp = path.join(path.dirname(file), tempName());
    await this.writing(file, () => this.writeNew(temp, data, options.durable ?? false));
    try {
      await options.after;
    } catch (err) {
      await this.io.unlink(temp).catch(() => undefined);
      await this.pruneEmptyFolders(path.dirname(file));
      throw err;
    }
    return this.writing(file, () => this.place(temp, file, options.ifAbsent ?? false));
  }

  /** A write's file system failures as typed errors naming the file (ENOSPC: no_space, EACCES: access_denied…). */
  private async writing<T>(file: string, write: () => Promise<T>): Promise<T> {
    this.refuseLinkedFolders(path.dirname(file));
    try {
      return await write();
    } catch (err) {
      // A failed first write into a new namespace must not leave it listed, empty.
      if (path.dirname(file) !== path.join(this.root, STAGING_DIR)) await this.pruneEmptyFolders(path.dirname(file));
      throw fileSystemError(err, `cannot write ${file}`);
    }
  }

  /** Removes `dir` and the folders above it while they are empty, up to the root (kept), so the tree shows only what holds keys. */
  private async pruneEmptyFolders(dir: string): Promise<void> {
    for (; dir.startsWith(this.rootPrefix); dir = path.dirname(dir)) {
      try {
        await fs.rmdir(dir);
      } catch {
        return;
      }
    }
  }

  /**
   * Refuses to write or delete under a folder that is a link (`dir` or any folder between it and the
   * root): the write would land wherever the link points, outside the store maybe. The root itself
   * may be a link; nothing under it is followed. A few lstat calls, from the file's folder up.
   */
  private refuseLinkedFolders(dir: string, what = 'nothing was written or deleted'): void {
    for (let at = dir; at.startsWith(this.rootPrefix); at = path.dirname(at)) {
      let found: fsSync.Stats | undefined;
      try {
        found = fsSync.lstatSync(at, { throwIfNoEntry: false });
      } catch (err) {
        if (errno(err) === 'ENOTDIR') continue; // a file where a folder goes, further up: the write or delete itself says so
        throw fileSystemError(err, `cannot lstat ${at}`);
      }
      if (found?.isSymbolicLink()) {
        throw new CacheError('io_error', `${at} is a link inside the store; links are never followed there, so ${what}`);
      }
    }
  }

  /**
   * Refuses to read under a folder that is a link, as writes refuse to: what it leads to is not the
   * store's (another folder, outside the root maybe). One realpath while all is well; the link is
   * looked for (and named) only when the folder is not where the store's own folders lead.
   */
  private async refuseLinkedReads(dir: string): Promise<void> {
    const real = await this.ledAwayTo(dir);
    if (real === null) return;
    this.refuseLinkedFolders(dir, 'nothing was read');
    throw new CacheError('io_error', `${dir} leads to ${real}, outside the store's own folders: nothing was read`);
  }

  /** Where `dir` really is when a link on the way leads elsewhere than the store's own folders; null when it is where it says (or not there). */
  private async ledAwayTo(dir: string): Promise<string | null> {
    const real = await this.io.realpath(dir).catch((err: unknown) => {
      if (NOTHING_THERE.includes(errno(err)!)) return null; // not there: the read says so
      throw fileSystemError(err, `cannot read ${dir}`);
    });
    if (real === null) return null;
    this.rootReal ??= await this.io.realpath(this.root);
    return sameFolderName(real, this.rootReal + dir.slice(this.root.length)) ? null : real;
  }

  /** Moves a finished temp file to its final name: a link for create-only, else a rename. */
  private async place(temp: string, file: string, ifAbsent: boolean): Promise<boolean> {
    if (!ifAbsent) {
      try {
        await this.io.rename(temp, file);
      } catch (err) {
        await this.io.unlink(temp).catch(() => undefined); // nothing placed (a folder at the key): no temp file left behind either
        throw err;
      }
      return true;
    }
    try {
      return await this.linkNew(temp, file);
    } finally {
      await this.io.unlink(temp);
    }
  }

  async copy(from: string, to: string, options: CopyOptions = {}): Promise<boolean> {
    const source = this.foundPathOf(from);
    const target = this.pathOf(to);
    this.refuseLinkedFolders(path.dirname(target));
    // Stored objects are never modified in place, so a hard link is a safe, cheap copy. A target
    // that does not exist yet is linked directly; an existing one is replaced through a temp link.
    try {
      if (await this.linkNew(source, target)) return true;
      if (options.ifAbsent) return false;
      const link = path.join(path.dirname(target), tempName());
      await this.linkNew(source, link);
      try {
        await this.io.rename(link, target);
      } finally {
        // Left when the target already was this very file (rename does nothing) or could not be replaced (a folder).
        await this.io.unlink(link).catch(() => undefined);
      }
      return true;
    } catch (err) {
      if (errno(err) === 'ENOENT') throw new CacheError('not_found', `cannot copy ${from}: it does not exist`);
      throw fileSystemError(err, `cannot write ${target}`);
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    const file = this.foundPathOf(key);
    try {
      await this.refuseLinkedReads(path.dirname(file));
      return await this.io.readFile(file);
    } catch (err) {
      if (!NOTHING_THERE.includes(errno(err)!)) throw fileSystemError(err, `cannot read ${file}`);
      await this.checkRoot(); // nothing there: a missing key, unless the whole store is gone
      return null;
    }
  }

  async getStream(key: string, options: { signal?: AbortSignal } = {}): Promise<AsyncIterable<Uint8Array> | null> {
    const file = this.foundPathOf(key);
    let handle: fs.FileHandle;
    try {
      await this.refuseLinkedReads(path.dirname(file));
      handle = await fs.open(file, READ_NO_FOLLOW);
      if (!(await handle.stat()).isFile()) {
        await handle.close();
        throw notAFile(file);
      }
    } catch (err) {
      if (!NOTHING_THERE.includes(errno(err)!)) throw fileSystemError(err, `cannot read ${file}`);
      await this.checkRoot();
      return null;
    }
    return createReadStream('', { fd: handle, highWaterMark: 1 << 20, signal: options.signal });
  }

  async exists(key: string): Promise<boolean> {
    return (await this.ownFile(key)) !== null;
  }

  /**
   * The key's regular file, when the store's own folders lead to it. A file behind a linked folder
   * is not the store's: absent, as a link at the key itself is (a missing key costs no more).
   */
  private async ownFile(key: string): Promise<fsSync.Stats | null> {
    const file = this.foundPathOf(key);
    let found: fsSync.Stats | undefined;
    try {
      found = await this.io.lstat(file);
    } catch (err) {
      if (errno(err) !== 'ENOTDIR') throw err;
    }
    if (found?.isFile()) return (await this.ledAwayTo(path.dirname(file))) === null ? found : null;
    await this.checkRoot();
    return null;
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const { keys, prefixes, cursor } = await this.listKeys(prefix, options);
    const objects = await Promise.all(keys.map((key) => this.info(key)));
    return { objects: objects.filter((o): o is ObjectInfo => o !== null), prefixes, cursor };
  }

  /** Names from the folders alone (their entries' types come with them): no stat per key. */
  async listKeys(prefix: string, options: ListOptions = {}): Promise<KeyPage> {
    assertReadablePrefix(prefix);
    const limit = Math.max(1, Math.min(options.limit ?? MAX_LIST_PAGE, MAX_LIST_PAGE));
    const dirKey = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const namePrefix = prefix.slice(dirKey.length);
    const cursor = options.cursor;
    const found: { key: string; isPrefix: boolean }[] = [];
    // Only the app's thread pool gains from reading ahead: a blocking read has already finished.
    const readAhead = this.io === threadPoolIo && !options.delimiter ? READ_AHEAD_FOLDERS : 0;
    // The walk itself never enters a link (a linked folder is no folder to it): only the way to its start is looked at.
    await this.refuseLinkedReads(this.folderPathOf(dirKey));

    const walk = async (key: string, entries: FolderEntry[], filter: string): Promise<boolean> => {
      const ahead = new Map<number, Promise<FolderEntry[]>>();
      const read = (at: number): Promise<FolderEntry[]> => {
        const reading = this.readSortedDir(`${key}${entries[at]!.name}/`);
        reading.catch(() => undefined); // awaited when its turn comes; a page that fills first drops it
        ahead.set(at, reading);
        return reading;
      };
      for (let i = firstAfter(entries, key, filter, cursor); i < entries.length; i++) {
        const { name, isDir } = entries[i]!;
        if (!name.startsWith(filter)) break; // sorted: past the names that start with the filter
        const childKey = key + name;
        if (isDir) {
          const folder = `${childKey}/`;
          if (options.delimiter) {
            if (cursor !== undefined && folder <= cursor) continue;
            found.push({ key: folder, isPrefix: true });
          } else {
            // Skip a whole folder when every key in it sorts before the cursor.
            if (cursor !== undefined && folder < cursor && !cursor.startsWith(folder)) continue;
            const children = ahead.get(i) ?? read(i);
            ahead.delete(i);
            for (let j = i + 1; j < Math.min(entries.length, i + READ_AHEAD_SCAN) && this.foldersReadAhead < readAhead; j++) {
              if (!entries[j]!.isDir || ahead.has(j)) continue;
              this.foldersReadAhead++;
              const done = () => void this.foldersReadAhead--;
              read(j).then(done, done);
            }
            if (await walk(folder, await children, '')) return true;
          }
        } else {
          if (cursor !== undefined && childKey <= cursor) continue;
          found.push({ key: childKey, isPrefix: false });
        }
        if (found.length > limit) return true;
      }
      return false;
    };
    await walk(dirKey, await this.readSortedDir(dirKey), namePrefix);
    if (found.length === 0) await this.checkRoot(); // an empty listing: an empty store, or one that is gone

    const more = found.length > limit;
    const page = found.slice(0, limit);
    return {
      keys: page.filter((f) => !f.isPrefix).map((f) => f.key),
      prefixes: page.filter((f) => f.isPrefix).map((f) => f.key),
      cursor: more ? page[page.length - 1]!.key : undefined,
    };
  }

  /** One walk in a walking thread (direct system calls): the main thread gets the keys in batches, between its other work. */
  async walkKeys(prefix: string, visit: (keys: string[]) => void): Promise<void> {
    assertReadablePrefix(prefix);
    const dirKey = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    let found = false;
    await this.refuseLinkedReads(this.folderPathOf(dirKey));
    await walkFolder(this.folderPathOf(dirKey), dirKey, prefix.slice(dirKey.length), (keys) => {
      found ||= keys.length > 0;
      visit(keys);
    });
    if (!found) await this.checkRoot(); // nothing: an empty store, or one that is gone
  }

  async sizeOf(key: string): Promise<number | null> {
    return (await this.ownFile(key))?.size ?? null;
  }

  /**
   * A content key's size before a commit; a store whose folder is gone fails here, as `exists`
   * does. Anything but a regular file there (a pipe, a link, a folder) is no copy: size -1, never
   * opened (a pipe would block the store).
   */
  private async contentSize(key: string): Promise<number | null> {
    const found = await fs.lstat(this.foundPathOf(key)).catch((err: unknown) => {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return null;
      throw err;
    });
    if (!found) await this.checkRoot();
    return found && (found.isFile() ? found.size : -1);
  }

  private async info(key: string): Promise<ObjectInfo | null> {
    try {
      const st = await fs.lstat(this.foundPathOf(key));
      return { key, size: st.size, modified: st.mtime.toISOString() };
    } catch (err) {
      if (errno(err) === 'ENOENT') return null; // deleted while listing
      throw err;
    }
  }

  /**
   * Folder entries in S3 key order (a folder sorts as its name plus "/"), temp and dot files hidden.
   * A big folder is kept between pages, and used again only while its change time says nothing was
   * added or removed since: listing page after page re-reads only what changed.
   */
  private async readSortedDir(key: string): Promise<FolderEntry[]> {
    const dir = this.folderPathOf(key);
    const kept = this.sortedFolders.get(dir);
    try {
      if (kept) {
        const now = await this.io.stat(dir);
        if (now && now.ino === kept.ino && now.ctimeMs === kept.ctimeMs) return kept.entries;
        this.sortedFolders.delete(dir);
      }
      const readAt = Date.now();
      const entries = sortedEntries(await this.io.readdir(dir), key === '');
      if (entries.length >= KEPT_FOLDER_ENTRIES) await this.keepSorted(dir, entries, readAt);
      return entries;
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return [];
      throw err;
    }
  }

  /**
   * Keeps a folder's sorted entries when its last change is older than the read by more than any
   * file system's timestamp grain: any change after the read then moves its change time.
   */
  private async keepSorted(dir: string, entries: FolderEntry[], readAt: number): Promise<void> {
    const st = await this.io.stat(dir);
    if (!st || st.ctimeMs >= readAt - SETTLED_FOLDER_MS) return;
    this.sortedFolders.set(dir, { ino: st.ino, ctimeMs: st.ctimeMs, entries });
    if (this.sortedFolders.size > KEPT_FOLDERS) this.sortedFolders.delete(this.sortedFolders.keys().next().value!);
  }

  async delete(key: string): Promise<void> {
    const file = this.foundPathOf(key);
    this.refuseLinkedFolders(path.dirname(file));
    await this.checkRoot(); // a delete in a store that is gone would "succeed" on nothing
    // unlink, not rm: rm answers a refused unlink (EPERM, EACCES) with its rmdir's ENOTDIR, which read as "not there".
    await fs.unlink(file).catch((err: unknown) => {
      const code = errno(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return; // gone already, or a file where one of its folders goes: the key cannot be there
      throw fileSystemError(err, `cannot delete ${file}`);
    });
    await this.pruneEmptyFolders(path.dirname(file));
    await this.remakeSpaceReserve();
  }

  /**
   * After a delete: makes the space reserve again when it is missing and there is room for it now.
   * Otherwise a delete that frees no content (a version whose content others keep), run on a full
   * disk, would spend the reserve for its marker and leave none for the next delete.
   */
  private async remakeSpaceReserve(): Promise<void> {
    if (this.spaceReserve) return;
    const { bavail, bsize } = await fs.statfs(this.root).catch(() => ({ bavail: 0, bsize: 0 }));
    if (bavail * bsize >= SPACE_RESERVE_BYTES) await this.keepSpaceReserve();
  }

  /**
   * Content that arrives in one chunk (small files, bytes) stays in memory until its key is known,
   * then is written straight into its shard folder: no write at all when the key is already there,
   * and a rename within one folder. Longer content streams into `.staging/` as it is hashed.
   */
  async stage(source: ContentSource, options: StageOptions = {}): Promise<StagedContent> {
    let first: Uint8Array | null = null;
    let spool: Promise<Spool> | null = null;
    const writesInFlight = streamsIn(source) ? WRITES_IN_FLIGHT.streamed : WRITES_IN_FLIGHT.read;
    // One buffer read into, one hashed, the rest being written.
    const buffers = new BufferRing(writesInFlight + 2);
    const staging = path.join(this.root, STAGING_DIR);
    const openSpool = () =>
      (spool ??= this.writing(staging, async () => {
        const opened = await this.openSpool({ ring: buffers, writesInFlight });
        // The store's folder exists now: the reserve is made while the content streams in.
        void this.keepSpaceReserve();
        void this.removeAbandonedStaging(staging);
        return opened;
      }));
    // A file whose size says it fills more than one buffer is spooled from its first chunk on: its
    // writes start as soon as that chunk is read, not after the second is.
    const onFileSize = (size: number) => void (size > RING_BUFFER_BYTES && openSpool().catch(() => undefined));
    try {
      const result = await pumpHashed(source, { ...options, blockingReads: this.io === blockingIo, buffers, onFileSize }, async (chunk) => {
        if (!spool && !first) {
          first = chunk;
          return;
        }
        const { writer } = await openSpool();
        await this.writing(staging, async () => {
          if (first) await writer.write(first);
          first = null;
          await writer.write(chunk);
        });
      });
      // Kept until the commit: copied out of the ring, which goes to the next store.
      const only = first as Uint8Array | null; // set in the callback above
      if (!spool) return this.stagedInMemory(result, only === null ? new Uint8Array(0) : buffers.starts(only) ? new Uint8Array(only) : only);
      const written: Spool = await spool;
      spool = null; // from here on finishSpool cleans up after itself
      const finished = await this.writing(staging, () => this.finishSpool(written, result));
      await this.keepSpaceReserve(); // long made, beside the content
      return { ...result, ...finished };
    } catch (err) {
      try {
        const opened = await (spool as Promise<Spool> | null)?.catch(() => null);
        if (opened) await this.dropSpool(opened);
      } finally {
        // The reserve this store started is finished before its failure is reported: nothing is written after it.
        await this.spaceReserve;
      }
      throw err;
    } finally {
      await buffers.release();
    }
  }

  private stagedInMemory(result: HashResult, bytes: Uint8Array): StagedContent {
    return {
      ...result,
      commit: async (key) => {
        const file = this.pathOf(key);
        const held = await heldContent(this, key, result, (k) => this.contentSize(k));
        const place = () =>
          this.writing(file, async () => {
            // Most new hashes open a new shard folder: creating it first is cheaper than failing.
            await this.makeFolders(path.dirname(file));
            const temp = path.join(path.dirname(file), tempName());
            await this.writeNew(temp, bytes, true);
            return this.placeContent(temp, file, held !== 'absent');
          });
        if (held !== 'intact') return place();
        // A copy over the checked size was judged by its size alone: these bytes, known good, take its place (as in
        // finishSpool), best effort: it was counted on before, and still is when this fails.
        if (result.size > CHECKED_CONTENT_BYTES) await place().catch(() => undefined);
        return 'exists';
      },
      discard: async () => {},
    };
  }

  /**
   * Removes (at most every ABANDONED_STAGING_MS) the staging files of processes killed while storing (a
   * crash, SIGKILL): big content nobody will finish, which only a repairing verify removed before.
   * A file counts as abandoned when its writer's process is gone and nothing wrote it for a while,
   * so a store written from another machine into a shared folder (whose pid means nothing here) is
   * left alone while it is written.
   */
  private async removeAbandonedStaging(staging: string): Promise<void> {
    if (Date.now() - this.stagingSweptAt < ABANDONED_STAGING_MS) return;
    this.stagingSweptAt = Date.now();
    for (const name of await fs.readdir(staging).catch(() => [] as string[])) {
      if (!name.startsWith(TEMP_MARK) || isAlive(Number(name.slice(TEMP_MARK.length).split('-')[0]))) continue;
      const file = path.join(staging, name);
      const st = await fs.lstat(file).catch(() => null);
      if (st?.isFile() && Date.now() - st.mtimeMs >= ABANDONED_STAGING_MS) await fs.rm(file, { force: true }).catch(() => undefined);
    }
  }

  private async openSpool(options: StagingWriterOptions): Promise<Spool> {
    const temp = path.join(this.root, STAGING_DIR, tempName());
    this.refuseLinkedFolders(path.dirname(temp));
    const fd = await this.createFile(temp);
    const directFd = await openDirect(temp);
    return { temp, fd, writer: new StagingWriter(fd, { ...options, directFd }) };
  }

  private async dropSpool({ temp, fd, writer }: Spool): Promise<void> {
    await writer.settle();
    await this.io.close(fd);
    await fs.rm(temp, { force: true });
  }

  /** Waits for the last writes, closes and flushes the spooled file; then it can be renamed to its key. */
  private async finishSpool(spool: Spool, content: HashResult): Promise<Pick<StagedContent, 'commit' | 'discard'>> {
    const { temp, fd, writer } = spool;
    try {
      await writer.finish();
    } catch (err) {
      await this.dropSpool(spool);
      throw err;
    }
    await this.io.close(fd);
    try {
      await this.flushes.flush(temp);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
    let discarded = false;
    const discard = async () => {
      if (discarded) return;
      discarded = true;
      await this.io.unlink(temp).catch(() => undefined);
    };
    return {
      commit: async (key) => {
        const file = this.pathOf(key);
        const held = await heldContent(this, key, content, (k) => this.contentSize(k));
        // Already there: the staged copy is kept until the store ends (it discards it), so this store can still place
        // the bytes again if the store that placed them takes them back (a failed or cancelled store does).
        if (held === 'intact' && content.size > CHECKED_CONTENT_BYTES) {
          // A copy this big was judged by its size alone (reading it back would double every repeated store): the
          // staged copy, hashed as it was written and flushed, takes its place, so storing again mends a damaged one.
          await this.renewContent(temp, file);
          return 'exists';
        }
        if (held === 'intact') return 'exists';
        const placed = await this.writing(file, () => this.placeContent(temp, file, held === 'corrupt'));
        discarded = true;
        return placed;
      },
      discard,
    };
  }

  /**
   * Renames a second link of the staged file over the content at `file`, keeping the staged file for a later
   * placing. Best effort: the copy there was counted on before, and still is when this fails (its folder gone
   * with a delete, a rename refused); gone meanwhile, the store's handshake places it again.
   */
  private async renewContent(temp: string, file: string): Promise<void> {
    const link = path.join(path.dirname(temp), tempName());
    try {
      await this.io.link(temp, link);
      if ((await this.io.lstat(file))?.isFile()) await this.io.rename(link, file);
    } catch {
      // as before this renewal: the copy there is counted on
    } finally {
      await this.io.unlink(link).catch(() => undefined); // gone after the rename
    }
  }

  /**
   * Moves a finished temp file to its content key, create-only: of writers racing with the same
   * bytes, exactly one reports new content. `replace`: corrupt bytes are there; they, or anything at
   * the key that is not a file (a planted link), are renamed over.
   */
  private async placeContent(temp: string, file: string, replace = false): Promise<'created' | 'exists'> {
    try {
      if (!replace) {
        if (await this.linkNew(temp, file)) return 'created';
        if ((await this.io.lstat(file))?.isFile()) return 'exists';
      }
      await this.io.rename(temp, file);
      return 'created';
    } finally {
      // Left after a link, or when nothing could be placed (a folder at the key); gone after a rename.
      await this.io.unlink(temp).catch(() => undefined);
    }
  }

  /**
   * Temp files anywhere under the root (those of a live process are still being written), and what
   * listings never show: links, pipes, sockets and devices, and files or folders named as no key can
   * be (not their insides).
   */
  async leftovers(): Promise<Leftover[]> {
    await this.checkRoot();
    const found: Leftover[] = [];
    const unlisted = async (full: string, why: NonNullable<Leftover['unlisted']>) => {
      const st = await fs.lstat(full).catch(() => null);
      // A name that is not UTF-8 reaches us with U+FFFD in it, which names no file: reported all the same.
      found.push({ id: path.relative(this.root, full).split(path.sep).join('/'), modified: (st?.mtime ?? new Date(0)).toISOString(), inFlight: false, unlisted: why });
    };
    const walk = async (dir: string): Promise<void> => {
      const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => [] as Dirent[]);
      for (const e of entries) {
        const full = path.join(dir, e.name);
        if (e.isSymbolicLink()) await unlisted(full, 'link');
        else if (isStrayName(e.name)) await unlisted(full, 'name');
        else if (e.isDirectory()) await walk(full);
        else if (!e.isFile()) await unlisted(full, 'special');
        else if (e.name.startsWith(TEMP_MARK)) {
          const st = await fs.stat(full).catch(() => null);
          if (!st) continue;
          const pid = Number(e.name.slice(TEMP_MARK.length).split('-')[0]);
          found.push({ id: path.relative(this.root, full).split(path.sep).join('/'), modified: st.mtime.toISOString(), inFlight: pid !== PID && isAlive(pid) });
        }
      }
    };
    await walk(this.root);
    return found;
  }

  async removeLeftover(leftover: Leftover): Promise<void> {
    if (leftover.unlisted) throw new CacheError('invalid_key', `${leftover.id} is ${UNLISTED_WHAT[leftover.unlisted]}, not a temp file: it is never removed`);
    const name = path.basename(leftover.id);
    const full = path.resolve(this.root, leftover.id);
    // Only temp files, only under the root.
    if (!name.startsWith(TEMP_MARK) || !full.startsWith(this.root + path.sep)) throw new CacheError('invalid_key', `${leftover.id} is not a temp file of this store`);
    await fs.rm(full, { force: true });
  }

  async close(): Promise<void> {}
}

/** Linux pseudo file systems (statfs magic numbers) that list folders but never let one be made. */
const PSEUDO_FILE_SYSTEMS = new Map([
  [0x9fa0, 'procfs'],
  [0x62656572, 'sysfs'],
]);

/** The root, or the nearest folder above it that exists, must be a folder on a file system that holds files. */
async function checkStoreRoot(asked: string, io: SmallIo): Promise<void> {
  let existing = asked;
  for (;;) {
    const st = await fs.stat(existing).catch((err: unknown) => {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return null;
      throw fileSystemError(err, `cannot open the store folder ${asked}`);
    });
    if (st && !st.isDirectory()) throw new CacheError('invalid_input', `cannot use ${asked} as a store folder: ${existing} is not a folder`);
    if (st || path.dirname(existing) === existing) break;
    existing = path.dirname(existing);
  }
  // A new store (a folder not made yet, or empty) anywhere in a store's folder would be listed there as a namespace
  // (or sit in the folders it keeps for itself), its keys misplaced.
  const isNew = existing !== asked || (await fs.readdir(asked).catch(() => ['unreadable'])).length === 0;
  // Judged as given and where it really is: a link inside a store, or one to a folder inside a store, is no new store either.
  const real = path.join(await fs.realpath(existing).catch(() => existing), path.relative(existing, asked));
  await refuseInNamespace(asked, real, io);
  for (const root of real === asked ? [asked] : [asked, real]) if (isNew || STORE_OWN_FOLDERS.has(path.basename(root))) await refuseInStore(asked, root, io);
  if (process.platform !== 'linux') return;
  const fileSystem = PSEUDO_FILE_SYSTEMS.get((await fs.statfs(existing)).type);
  if (fileSystem) throw new CacheError('invalid_input', `cannot use ${asked} as a store folder: ${existing} is on ${fileSystem}, which cannot hold files`);
}

/** Refuses the store folder `asked` for, really at `root`, in a namespace's folder (where the keys it files would land). */
async function refuseInNamespace(asked: string, root: string, io: SmallIo): Promise<void> {
  // From the folder asked for, made or not: a new folder beside a namespace's layout folders is no part of them.
  const namespace = await namespaceFolderAtOrAbove(io, root);
  if (namespace === root) {
    throw new CacheError('invalid_input', `cannot use ${asked} as a store folder: it is the folder of namespace "${path.basename(root)}" in the store at ${path.dirname(root)}; open that store instead (a store here would file its keys inside that namespace)`);
  }
  if (namespace) {
    throw new CacheError('invalid_input', `cannot use ${asked} as a store folder: it is ${path.relative(path.dirname(namespace), root)} in the store at ${path.dirname(namespace)}, a folder of its namespace "${path.basename(namespace)}"; open that store instead (a store here would file its keys inside that namespace)`);
  }
}

/** Refuses a new store folder (`asked` for, at `root` as given or where it really is) anywhere inside a store's folder. */
async function refuseInStore(asked: string, root: string, io: SmallIo): Promise<void> {
  const above: string[] = [];
  for (let at = path.dirname(root); !above.includes(at); at = path.dirname(at)) above.push(at);
  // Every folder above and their children at once, through the store's own I/O (direct calls in the CLI): one
  // thread-pool trip after another, a new store under a /tmp of 140 folders took 30-37 ms to open (now 6 ms).
  const stores = await Promise.all(above.map((dir) => isStoreFolder(io, dir)));
  const at = above.find((_, i) => stores[i]);
  if (at === undefined) return;
  const first = path.relative(at, root).split(path.sep)[0]!;
  const where = STORE_OWN_FOLDERS.has(first) ? `in ${first}, the folder the store at ${at} keeps for itself` : `inside the store at ${at}, which would list it as namespace "${first}"`;
  throw new CacheError('invalid_input', `cannot use ${asked} as a store folder: it is ${where}; open that store instead, or choose a folder outside it`);
}

/** The folders a namespace's folder holds in either layout. */
const LAYOUT_FOLDERS = new Set(['objects', 'temporal', 'refs', 'data']);

/** A folder's entries, none if it is missing or unreadable: how checkStoreRoot looks around (any folder may be unreadable). */
const entriesOf = (io: SmallIo, dir: string): Promise<Dirent[]> => io.readdir(dir).catch(() => []);
const statOf = (io: SmallIo, file: string) => io.stat(file).catch(() => undefined);

/**
 * `dir`, or a folder above it whose layout folder `dir` lies in, that is a namespace's folder in a
 * store; null if none is. Only a folder above one named as a layout folder is looked into, so a
 * store beside a look-alike's `objects/` (a bare git repository) is no part of it, and a path of
 * ordinary folders costs no call.
 */
async function namespaceFolderAtOrAbove(io: SmallIo, dir: string): Promise<string | null> {
  if (await isNamespaceFolder(io, dir)) return dir;
  for (let below = dir, at = path.dirname(dir); at !== below; below = at, at = path.dirname(at)) {
    // Beside its layout folders, only a folder that is surely a namespace's counts (a new folder there is listed as keys of it).
    if (LAYOUT_FOLDERS.has(path.basename(below)) ? await isNamespaceFolder(io, at) : await isSurelyNamespaceFolder(io, at)) return at;
  }
  return null;
}

/**
 * A namespace's folder by what no look-alike holds: the service's `refs/by-hash/` or `refs/by-id/`,
 * or native shards two levels deep (`objects/b9/4d/`; a git repository's `objects/ab/` holds files).
 */
async function isSurelyNamespaceFolder(io: SmallIo, dir: string): Promise<boolean> {
  const [refs, objects] = await Promise.all([hasRefsFolder(io, dir), entriesOf(io, path.join(dir, 'objects'))]);
  if (refs) return true;
  const shards = objects.filter((e) => /^[0-9a-f]{2}$/.test(e.name)).slice(0, 3);
  const insides = await Promise.all(shards.map((shard) => entriesOf(io, path.join(dir, 'objects', shard.name))));
  return insides.some((inside) => inside.some((e) => e.isDirectory() && /^[0-9a-f]{2}$/.test(e.name)));
}

/** The service layout's `refs/by-hash/` or `refs/by-id/` in `dir`. */
async function hasRefsFolder(io: SmallIo, dir: string): Promise<boolean> {
  const found = await Promise.all(['by-hash', 'by-id'].map(async (refs) => (await statOf(io, path.join(dir, 'refs', refs)))?.isDirectory()));
  return found.includes(true);
}

/** Folders looked into at once when a folder's children are checked (a home folder may hold thousands). */
const CHILDREN_AT_ONCE = 64;

/** What a store keeps for itself beside its namespaces. */
const STORE_OWN_FOLDERS = new Set([ADMIN_PREFIX, QUARANTINE_PREFIX].map((prefix) => prefix.slice(0, -1)));

/** A store's own folder: its admin folder or its space reserve, or a namespace's folder in it. */
async function isStoreFolder(io: SmallIo, dir: string): Promise<boolean> {
  const markers = [...STORE_OWN_FOLDERS, SPACE_RESERVE].map(async (marker) => (await statOf(io, path.join(dir, marker))) !== undefined);
  const [children, ...marked] = await Promise.all([entriesOf(io, dir), ...markers]);
  if (marked.includes(true)) return true;
  const folders = children.filter((child) => child.isDirectory());
  for (let i = 0; i < folders.length; i += CHILDREN_AT_ONCE) {
    const batch = folders.slice(i, i + CHILDREN_AT_ONCE).map((child) => isSurelyNamespaceFolder(io, path.join(dir, child.name)));
    if ((await Promise.all(batch)).includes(true)) return true;
  }
  return false;
}

/**
 * A namespace's own folder inside a store: `objects/` holding shards or content (native), or
 * `refs/by-hash/` or `refs/by-id/` (the service's layout). A store root holds namespaces, never these:
 * a namespace named `objects` or `refs` has its own folders inside, not shards.
 */
async function isNamespaceFolder(io: SmallIo, dir: string): Promise<boolean> {
  const objects = await entriesOf(io, path.join(dir, 'objects'));
  if (objects.some((e) => /^[0-9a-f]{2}$|^[0-9a-f]{16}/.test(e.name))) return true;
  return hasRefsFolder(io, dir);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errno(err) === 'EPERM';
  }
}
