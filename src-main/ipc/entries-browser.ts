/** The entries browser's calls in main: windows of the entry table, and bulk delete and save of a selection. */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, lstat, mkdir, rm, rmdir } from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { COLUMN_FIELD, LIMITS, type BulkOutcome, type EntriesWindow, type EntryColumn, type EntryFilter, type EntrySelection } from '../../src-shared/contract';
import { bulkSummary } from '../../src-shared/bulk-summary';
import { CacheError, type ErrorInfo } from '../../src-shared/errors';
import { type EntryTableRow, entryTablesOf } from '../core/entry-table';
import { CHECKED_WHOLE_BYTES, collect, type FormatRecord, type StoreFormat } from '../core/formats/format';
import { mapLimit } from '../core/keyed-lock';
import { Retention } from '../core/retention/retention';
import { assertWritable } from '../core/storage/read-only';

/** Entries deleted or saved at once: enough to overlap storage round trips, few enough to leave the store to others. */
const BULK_CONCURRENCY = 4;

export interface EntriesInput {
  namespace: string;
  offset: number;
  limit: number;
  sort: EntryColumn;
  descending: boolean;
  filter: EntryFilter;
  locate?: string;
  refresh: boolean;
}

export async function entriesWindow(format: StoreFormat, input: EntriesInput): Promise<EntriesWindow> {
  const namespace = format.parseNamespace(input.namespace);
  refuseUnlisted(format, input);
  const retention = new Retention(format);
  const [window, { policy }] = await Promise.all([entryTablesOf(format).window(namespace, input), retention.getPolicy()]);
  const rows = window.rows.map((r) => ({
    hash: r.hash,
    versions: r.versions,
    stored_at: r.storedAt,
    size: r.size,
    source: r.source,
    content_type: r.type,
    content_missing: r.contentMissing === true,
    ...(r.storedAt === null ? { expired: false, expires_at: null } : retention.expiryOf(policy, namespace, r.storedAt)),
  }));
  return { namespace, ...window, rows };
}

/** Runs one action per selected hash and says truthfully what came of each: a failure never stops the others. */
/** What one entry of a bulk action came to; `gone`: deleted meanwhile. */
type RowOutcome = 'done' | 'skipped' | 'gone';

/** A bulk action's stop button and progress: `onProgress(settled, total)` counts entries done, gone or failed. */
export interface BulkControl {
  signal?: AbortSignal;
  onProgress?: (settled: number, total: number) => void;
}

/** `done`: what the action does to an entry, as a stopped one's message says it ("deleted 120 entries of the 10,000 picked"). */
async function forEachSelected(format: StoreFormat, namespace: string, selection: EntrySelection, done: string, act: (row: EntryTableRow, listedFrom: number) => Promise<RowOutcome>, control: BulkControl & { asShown?: boolean } = {}): Promise<BulkOutcome> {
  const { rows, listedFrom } = await entryTablesOf(format).selected(namespace, selection, { asShown: control.asShown });
  return forEachRow(rows, done, (row) => act(row, listedFrom), BULK_CONCURRENCY, picksGone(selection, rows), control);
}

/** Hashes picked one by one that the namespace no longer holds (deleted elsewhere since the list showed them). */
function picksGone(selection: EntrySelection, rows: { hash: string }[]): number {
  return 'hashes' in selection ? new Set(selection.hashes.map((h) => h.toLowerCase())).size - rows.length : 0;
}

async function forEachRow<R extends { hash: string }>(rows: R[], done: string, act: (row: R) => Promise<RowOutcome>, concurrency: number, gone: number, { signal, onProgress }: BulkControl = {}): Promise<BulkOutcome> {
  const outcome: BulkOutcome = { done: 0, failed: 0, failures: [], skippedExpired: 0, gone, folder: null };
  const total = rows.length + gone;
  const settled = () => outcome.done + outcome.failed + outcome.skippedExpired + outcome.gone;
  onProgress?.(settled(), total);
  // Stopped: what is under way finishes, nothing more starts, and the error says what was done.
  const stopped = new CacheError('cancelled', 'stopped as asked');
  await mapLimit(rows, concurrency, async (row) => {
    const { hash } = row;
    if (signal?.aborted) throw stopped;
    try {
      const result = await act(row);
      if (result === 'done') outcome.done++;
      else if (result === 'gone') outcome.gone++;
      else outcome.skippedExpired++;
    } catch (err) {
      outcome.failed++;
      const error: ErrorInfo = err instanceof CacheError ? err.toInfo() : { code: 'internal', message: `${hash} failed unexpectedly` };
      if (outcome.failures.length < LIMITS.pageSize) outcome.failures.push({ hash, error });
    }
    onProgress?.(settled(), total);
  }).catch((err: unknown) => {
    if (err !== stopped) throw err;
    // Said once every entry under way has settled.
    const count = (n: number) => n.toLocaleString('en-US');
    throw new CacheError('cancelled', `stopped as asked: ${bulkSummary(done, outcome, `of the ${count(total)} picked`)}; the ${count(total - settled())} not reached are kept`);
  });
  return outcome;
}

/** Every version of each selected entry; the table is listed again afterwards, whatever happened. */
export async function deleteEntries(format: StoreFormat, namespace: string, selection: EntrySelection, control: BulkControl = {}): Promise<BulkOutcome> {
  const ns = format.parseNamespace(namespace);
  assertWritable(format.storage, 'delete entries');
  try {
    return await forEachSelected(format, ns, selection, 'deleted', async ({ hash, versions, version, storedAt }, listedFrom) => {
      try {
        // A row deletes as it was listed, and a row listed with no version deletes content no version uses.
        await format.delete(ns, versions === 0 ? { hash, unversioned: true } : { hash, seen: { versions, version, storedAt, as: 'listed', listedFrom } });
        return 'done';
      } catch (err) {
        // Deleted by someone else since it was listed: what was asked for is done, and said so.
        if (err instanceof CacheError && err.code === 'not_found') return 'gone';
        throw err;
      }
    }, { ...control, asShown: true });
  } finally {
    entryTablesOf(format).changed(ns);
  }
}

/**
 * A file name for content saved into a folder the operator chose: one plain name, never a path.
 * Control and bidirectional-override characters go too (as a browser's download does), so
 * `invoice\u202Egpj.exe` cannot pass for `invoiceexe.jpg` once saved.
 */
export function safeFileName(name: string, fallback: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what a file name must not hold
  const cleaned = name.replace(/[<>:"/\\|?*\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '_');
  // Cut to fit, keeping a short extension: it is what opens the file.
  const ext = Buffer.byteLength(path.extname(cleaned)) <= 16 ? path.extname(cleaned) : '';
  const fitted = Buffer.byteLength(cleaned) <= MAX_NAME_BYTES ? cleaned : cutToBytes(cleaned.slice(0, cleaned.length - ext.length), MAX_NAME_BYTES - Buffer.byteLength(ext)) + ext;
  return fitted === '' || fitted === '.' || fitted === '..' ? fallback : fitted;
}

/** The names an entry's file may take, in order: its own, then with its hash, then numbered; a name already taken is never reused. */
function* namesFor(name: string, hash: string, folder = ''): Generator<string> {
  yield `${folder}${name}`;
  const ext = path.extname(name);
  const stem = name.slice(0, name.length - ext.length);
  yield `${folder}${stem}-${hash}${ext}`;
  for (let n = 2; ; n++) yield `${folder}${stem}-${hash}-${n}${ext}`;
}

/**
 * The folders an entry was stored under (a folder drop's `photos/2024/a.jpg`: `photos/2024/`), each a
 * safe name, none that climbs or roots the path: an archive keeps a dropped tree, and extracts inside
 * its own folder.
 */
function foldersOf(source: string): string {
  const parts = source.split(/[\\/]/).slice(0, -1).filter((part) => part !== '' && part !== '.' && part !== '..');
  return parts.map((part) => `${safeFileName(part, '_')}/`).join('');
}

/**
 * The member names of an archive, each of which extracts beside every member named before it:
 * compared as a case-insensitive disk (macOS, Windows) would see them, no member file is another's
 * folder, and no two members are one file there.
 */
class MemberNames {
  /** Folded names of the member files, and of the folders they are under (`a/`, `a/b/`). */
  private readonly files = new Set<string>();
  private readonly folders = new Set<string>();
  /** Folders an entry was stored under that a member file holds the name of, and where their entries go instead. */
  private readonly moved = new Map<string, string>();

  constructor(reserved: string) {
    this.files.add(foldName(reserved));
  }

  /** The member for an entry's file `name` under the folders `under` (foldersOf): its own path, else the next namesFor gives, for a folder as for the file. */
  take(name: string, hash: string, under: string): string {
    let [folder, asked] = ['', ''];
    for (const part of under.split('/').filter(Boolean)) {
      asked += `${part}/`;
      let dir = this.moved.get(asked);
      if (!dir) {
        for (dir of namesFor(part, hash, folder)) if (!this.files.has(foldName(dir))) break;
        dir = `${dir!}/`;
        if (dir !== `${folder}${part}/`) this.moved.set(asked, dir);
      }
      folder = dir;
      this.folders.add(foldName(folder));
    }
    let member = '';
    for (member of namesFor(name, hash, folder)) if (!this.files.has(foldName(member)) && !this.folders.has(foldName(`${member}/`))) break;
    this.files.add(foldName(member));
    return member;
  }
}

/** A name as a case-insensitive, normalizing file system compares it: `A.txt`, `a.txt` and `a.txt` in NFD are one file there. */
function foldName(name: string): string {
  return name.normalize('NFC').toLowerCase();
}

/** File systems take names of 255 bytes; this leaves room for the hash added to a name already taken. */
const MAX_NAME_BYTES = 200;

/** The longest start of `text` of at most `max` UTF-8 bytes, whole characters only. */
function cutToBytes(text: string, max: number): string {
  let bytes = 0;
  let out = '';
  for (const char of text) {
    bytes += Buffer.byteLength(char);
    if (bytes > max) break;
    out += char;
  }
  return out;
}

/**
 * Saves each selected entry's latest version into `folder`, under the folders it was stored under
 * (foldersOf), through the checked read, so content that is corrupt fails (and leaves no file):
 * written to a temp file, then linked under its name, which never replaces a file already there
 * (the hash is added to the name instead).
 */
export async function saveEntriesToFolder(format: StoreFormat, namespace: string, selection: EntrySelection, includeExpired: boolean, folder: string, suggestedName: (record: FormatRecord) => string): Promise<BulkOutcome> {
  const ns = format.parseNamespace(namespace);
  const retention = new Retention(format);
  const { policy } = await retention.getPolicy();
  // Folders this save made: those left empty go once every entry is done (removed as one entry
  // failed, they could go from under another being saved into them).
  const made: string[] = [];
  try {
    const outcome = await forEachSelected(format, ns, selection, 'saved', async ({ hash }) => {
      const { record, content } = await format.retrieve(ns, { hash });
      let piped = false;
      let into = folder;
      let tmp: string | null = null;
      try {
        if (!includeExpired && retention.expiryOf(policy, ns, record.stored_at).expired) return 'skipped';
        into = await subfolderOf(folder, foldersOf(record.source), made);
        // Its own name: a temp file a killed save left behind blocks nothing.
        tmp = path.join(into, `.${hash}.${randomBytes(4).toString('hex')}.partial`);
        piped = true;
        await pipeline(content, createWriteStream(tmp, { flags: 'wx' }));
        for (const name of namesFor(safeFileName(suggestedName(record), record.cache_id), hash)) {
          const linked = await link(tmp, path.join(into, name)).then(
            () => true,
            (err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? false : Promise.reject(err)),
          );
          if (linked) break;
        }
      } catch (err) {
        if (err instanceof CacheError) throw err;
        const { code, path: where } = err as NodeJS.ErrnoException;
        throw new CacheError(code === 'EEXIST' ? 'conflict' : code === 'ENOSPC' ? 'no_space' : code === 'EACCES' || code === 'EPERM' ? 'access_denied' : 'io_error', `${hash}: could not write into ${where ?? into} (${code ?? (err as Error).message})`);
      } finally {
        if (!piped) await content[Symbol.asyncIterator]().return?.(); // a file handle or a bucket's connection held otherwise
        if (tmp) await rm(tmp, { force: true });
      }
      return 'done';
    });
    return { ...outcome, folder };
  } finally {
    // Deepest first (a folder is made after its parent); one that holds a file stays.
    for (const dir of made.reverse()) await rmdir(dir).catch(() => undefined);
  }
}

/**
 * `folder` joined with `folders` (foldersOf's safe names), each level made when missing and pushed
 * to `made`; a level that is a link or a file is refused, so nothing lands outside the folder chosen.
 */
async function subfolderOf(folder: string, folders: string, made: string[]): Promise<string> {
  let dir = folder;
  for (const part of folders.split('/').filter(Boolean)) {
    dir = path.join(dir, part);
    const created = await mkdir(dir).then(
      () => true,
      (err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? false : Promise.reject(err)),
    );
    if (created) made.push(dir);
    else if (!(await lstat(dir)).isDirectory()) throw new CacheError('conflict', `${dir} is a file or a link, not a folder: the entry stored under it was not saved`);
  }
  return dir;
}

const SUMMARY_MEMBER = 'cache-admin-summary.json';

/**
 * The selected entries' latest versions as one tar stream (the bridge's bulk save: one download),
 * each under the folders it was stored under (foldersOf), or another name where that would not
 * extract beside the members before it (MemberNames).
 * Entries whose content is missing or corrupt, and expired ones unless asked for, are left out and
 * named in a last member, `cache-admin-summary.json` (a name no entry's member takes), which also
 * lists, under `renamed`, each entry whose member is not the name it was stored under. Content up
 * to 16 MiB is read whole and checked before its member starts; bigger content streams, and found
 * corrupt it fails the whole stream, so the browser reports a failed download rather than keeping
 * a file with bad bytes.
 */
export async function archiveEntries(format: StoreFormat, namespace: string, selection: EntrySelection, includeExpired: boolean, suggestedName: (record: FormatRecord) => string, servedSize: (record: FormatRecord) => number | null): Promise<tar.Pack> {
  const ns = format.parseNamespace(namespace);
  // Resolved before the answer starts: a selection the list no longer matches (`conflict`) is an error answer, not a cut download.
  const { rows } = await entryTablesOf(format).selected(ns, selection);
  const archive = tar.pack();
  const retention = new Retention(format);
  const names = new MemberNames(SUMMARY_MEMBER);
  // Entries whose member is not the name they were stored under: the summary says where each went.
  const renamed: { hash: string; name: string; member: string }[] = [];
  /** A member half written leaves the tar unreadable past it: any failure there fails the whole stream. */
  const addFile = async (name: string, size: number, content: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, mtime = new Date()) => {
    try {
      await pipeline(content, archive.entry({ name, size, mtime }));
    } catch (err) {
      archive.destroy(err as Error);
      throw err;
    }
  };
  void (async () => {
    const { policy } = await retention.getPolicy();
    const add = async ({ hash }: { hash: string }): Promise<RowOutcome> => {
      if (archive.destroyed) throw new CacheError('cancelled', 'the download stopped');
      const { record, content } = await format.retrieve(ns, { hash });
      if (!includeExpired && retention.expiryOf(policy, ns, record.stored_at).expired) {
        await content[Symbol.asyncIterator]().return?.();
        return 'skipped';
      }
      const size = servedSize(record);
      // Read whole, a corrupt one fails here, on its own, before its member starts. A decoded size is known only once read (service JSON and gzip, held in memory there anyway).
      const whole = size === null || size <= CHECKED_WHOLE_BYTES ? await collect(content) : null;
      const [fileName, under] = [safeFileName(suggestedName(record), record.cache_id), foldersOf(record.source)];
      const name = names.take(fileName, hash, under);
      // Extracted, each file is dated when it was stored, not when it was downloaded.
      const storedAt = new Date(record.stored_at);
      const mtime = Number.isNaN(storedAt.getTime()) ? undefined : storedAt;
      await (whole ? addFile(name, whole.byteLength, [whole], mtime) : addFile(name, size!, content, mtime));
      if (name !== `${under}${fileName}`) renamed.push({ hash, name: `${under}${fileName}`, member: name });
      return 'done';
    };
    // One member at a time: a tar is written in order.
    const outcome = await forEachRow(rows, 'saved', add, 1, picksGone(selection, rows));
    if (archive.destroyed) return;
    const summary = Buffer.from(`${JSON.stringify({ ...outcome, renamed }, null, 2)}\n`);
    await addFile(SUMMARY_MEMBER, summary.byteLength, [summary]);
    archive.finalize();
  })().catch((err: unknown) => archive.destroy(err as Error));
  return archive;
}

/**
 * A filter on a fact this layout's listing does not carry would match nothing and say "no entry
 * matches", and a sort by it would leave the list as it was: both false, so both are refused,
 * saying what the listing has.
 */
function refuseUnlisted(format: StoreFormat, { filter, sort }: EntriesInput): void {
  const { unlisted } = format.capabilities;
  const sortField = COLUMN_FIELD[sort];
  if (sortField && unlisted.includes(sortField)) {
    throw new CacheError('invalid_input', `this store's layout (${format.name}) lists no ${sortField} of its entries (they are in each entry's refs): sort by hash or store time`);
  }
  const asked = [...(filter.type ? (['type'] as const) : []), ...(filter.minSize !== undefined || filter.maxSize !== undefined ? (['size'] as const) : [])];
  const missing = asked.filter((field) => unlisted.includes(field));
  if (missing.length === 0) return;
  throw new CacheError('invalid_input', `this store's layout (${format.name}) lists no ${missing.join(' or ')} of its entries (they are in each entry's refs): filter by hash or store time, or look an entry up`);
}
