import { forEachKey, forEachPage, sizeOf } from './storage/list-page';
import { assertWritable } from './storage/read-only';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { canonicalJsonBytes } from '../../src-shared/canonical-json';
import type { CacheHash, CacheId, Namespace, NamespaceStats, NamespaceSummary, StoreResult, VersionRecord, VersionSummary } from '../../src-shared/domain';
import { MAX_VERSION, makeCacheId, parseNamespace, parseSourceName, versionRecordProblem } from '../../src-shared/domain';
import { CacheError, isCacheError } from '../../src-shared/errors';
import { detectContentType } from './content-type';
import { checkedContent, corruptContent } from './formats/checked-content';
import { changedSinceSeen, type VersionsSeen } from './formats/format';
import { cacheHashOfSha256, pumpHashed, readAllBounded } from './hashing';
import { KeyedLock, mapLimit } from './keyed-lock';
import { KeyLayout, padVersion } from './layout';
import type { ContentSource, ListOptions, ListPage, ObjectInfo, StagedContent, StorageBackend } from './storage/types';
import { readTokenFile } from './token-file';
import { CHECKED_CONTENT_BYTES } from './storage/held-content';

export type StoreAs = 'bytes' | 'json';

export interface StoreInput {
  source: ContentSource;
  /** Source file name recorded with the version (and used to guess the content type). */
  name?: string;
  as?: StoreAs;
}

export interface TransferOptions {
  signal?: AbortSignal;
  onProgress?: (bytesDone: number) => void;
  /** Hears why the store waits (a delete of the same content holds it), once, if it waits long enough to notice. */
  onWaiting?: (why: string) => void;
}

export interface EntryLookup {
  hash: CacheHash;
  /** Absent: the latest version. */
  version?: number;
  /** When given, the entry must have exactly this SHA-256. */
  sha256?: string;
}

export interface CacheServiceOptions {
  layout?: KeyLayout;
  /** Largest entry accepted, checked before bytes are written. */
  maxEntryBytes?: number;
  /** JSON is parsed whole to canonicalise it, so it has its own, smaller limit. */
  maxJsonBytes?: number;
  now?: () => Date;
}

export const DEFAULT_MAX_ENTRY_BYTES = 64 * 1024 ** 3;
export const DEFAULT_MAX_JSON_BYTES = 256 * 1024 ** 2;
const LIST_CONCURRENCY = 8;
/** What mends corrupt content here: one copy per hash, replaced by the next store (S3 judges a big copy by its size, so only after a delete). */
const NATIVE_MEND = `storing the same content again replaces these bytes; on S3, over ${CHECKED_CONTENT_BYTES >> 20} MiB, delete every version of it first`;
/** Quarantined objects go under this prefix (not a namespace, so never listed as entries); never deleted by the app. */
export const QUARANTINE_PREFIX = '_quarantine/';
/**
 * A deletion marker older than this belongs to a deleter that crashed: stores stop waiting for it
 * and deleters replace it. A live deleter gives up removing bytes after half of it.
 */
export const DELETION_MARKER_LIFETIME_MS = 30_000;
/** A store waiting for a deleter this long says why (onWaiting). */
const WAIT_SAID_AFTER_MS = 1_000;
/** A record without its index entry younger than this is a store in flight, not yet a version a delete may take. */
const IN_FLIGHT_RECORD_MS = 60_000;

interface DeletionMarker {
  token: string;
  since: number;
}

/** A hash's keys from one listing: whether latest exists, and each version's record and index entries. */
interface HashListing {
  latest: boolean;
  /** The content object, when listed. */
  content?: ObjectInfo;
  versions: Map<number, { record?: ObjectInfo; entries: string[] }>;
}

export interface DeleteResult {
  deleted: CacheId[];
  contentRemoved: boolean;
  /** Content bytes removed: the content's size when it went with the last version, else 0. */
  bytesFreed: number;
  /** Where a quarantining delete (verify --repair) put the records and bytes it took. */
  quarantined?: string[];
}

/** The cache: content-addressed entries with versions, over any storage backend. Pure Node. */
export class CacheService {
  readonly layout: KeyLayout;
  readonly maxEntryBytes: number;
  readonly maxJsonBytes: number;
  private readonly now: () => Date;
  private readonly allocation = new KeyedLock();
  /** Highest version this process allocated per hash: saves probing numbers it knows are taken. */
  private readonly allocated = new Map<string, number>();

  constructor(
    readonly storage: StorageBackend,
    options: CacheServiceOptions = {},
  ) {
    this.layout = options.layout ?? new KeyLayout();
    this.maxEntryBytes = options.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES;
    this.maxJsonBytes = Math.min(options.maxJsonBytes ?? DEFAULT_MAX_JSON_BYTES, this.maxEntryBytes);
    this.now = options.now ?? (() => new Date());
  }

  /** For `--as json`: the canonical text replaces the input bytes. */
  private async prepare(input: StoreInput, signal?: AbortSignal): Promise<ContentSource> {
    if (input.as !== 'json') return input.source;
    const bytes = await readAllBounded(input.source, this.maxJsonBytes, { signal }, 'JSON, which is parsed whole');
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new CacheError('invalid_json', 'JSON input is not valid UTF-8');
    }
    return { kind: 'bytes', bytes: canonicalJsonBytes(text) };
  }

  /** Hash without storing. */
  async hash(input: StoreInput, options: TransferOptions = {}): Promise<{ hash: CacheHash; sha256: string; size: number }> {
    const source = await this.prepare(input, options.signal);
    const { sha256, size } = await pumpHashed(source, { ...options, maxBytes: this.maxEntryBytes });
    return { hash: cacheHashOfSha256(sha256), sha256, size };
  }

  /** Hash without storing, and say whether (and as which version) the namespace holds it. */
  async peek(namespace: string, input: StoreInput, options: TransferOptions = {}) {
    const ns = parseNamespace(namespace);
    const hashed = await this.hash(input, options);
    const latest = (await this.tryReadRecord(this.layout.latest(ns, hashed.hash)))?.record ?? null;
    return { ...hashed, latest };
  }

  async store(namespace: string, input: StoreInput, options: TransferOptions = {}): Promise<StoreResult> {
    const ns = parseNamespace(namespace);
    const sourceName = parseSourceName(input.name ?? '');
    const source = await this.prepare(input, options.signal);
    const staged = await this.storage.stage(source, { ...options, maxBytes: this.maxEntryBytes });
    let placing: Promise<'created' | 'exists'> | undefined;
    const hash = cacheHashOfSha256(staged.sha256);
    try {
      const contentKey = this.layout.content(ns, hash);
      // The record is written while the content is placed (one flush can serve both); it appears
      // under its key only once the content is durable under its own.
      placing = staged.commit(contentKey, options);
      placing.catch(() => undefined); // awaited below; until then a failure must not count as unhandled
      const contentType = input.as === 'json' ? 'application/json' : detectContentType(sourceName || undefined, staged.head);
      const record = await this.addVersion(ns, hash, staged, contentType, sourceName, placing, options);
      const placed = await placing;
      const { layout } = this;
      const keys = [contentKey, layout.record(ns, hash, record.version), layout.temporal(record), layout.latest(ns, hash), layout.versionEntry(record)]; // in the order written
      return {
        cache_id: record.cache_id,
        hash,
        version: record.version,
        namespace: ns,
        size: record.size,
        source: record.source,
        deduplicated: placed === 'exists',
        keys: placed === 'exists' ? keys.slice(1) : keys,
      };
    } catch (err) {
      // Its record could not be written (a full disk): bytes this store placed that no version uses go again, so a failed store leaves nothing.
      // A placing that failed may have placed them all the same (S3 kept an upload whose answer a cancel cut off), and
      // one that found them there may have put them back (a local folder renews a big copy as a delete takes it).
      if (placing) await this.removeUnreferenced(ns, hash, false).catch(() => undefined);
      throw err;
    } finally {
      await placing?.catch(() => undefined); // settled before its staged bytes are dropped
      await staged.discard();
    }
  }

  /**
   * `placing`: the content being placed; the record appears only once that has succeeded. A store
   * that fails after its record was linked removes the version again, so no record outlives it
   * without its views or its bytes.
   */
  private async addVersion(ns: Namespace, hash: CacheHash, staged: StagedContent, contentType: string, source: string, placing: Promise<unknown>, { signal, onWaiting }: TransferOptions): Promise<VersionRecord> {
    const lockKey = `${ns}/${hash}`;
    const { record, data } = await this.allocation.run(lockKey, async () => {
      const latest = await this.tryReadRecord(this.layout.latest(ns, hash));
      // With no latest the hash has no version left (deleted, here or by another process): the numbers
      // this process took are free again, so it counts from 0 as a fresh process would (a stale count
      // gave v2, "content missing or damaged", after every version was deleted).
      let taken = latest ? Math.max(latest.record.version, this.allocated.get(lockKey) ?? 0) : 0;
      // Content with no version yet almost always gets version 1: try it first, the create-only write decides.
      let probe = taken > 0;
      let indexRead = false;
      for (;;) {
        // Latest may lag behind other writers: skip past the versions they already took.
        if (probe) taken = await this.highestVersionFrom(ns, hash, taken);
        probe = true;
        const version = taken + 1;
        if (version > MAX_VERSION) throw new CacheError('conflict', `entry ${hash} has reached the maximum of ${MAX_VERSION} versions`);
        const candidate: VersionRecord = {
          namespace: ns,
          hash,
          cache_id: makeCacheId(hash, version),
          version,
          sha256: staged.sha256,
          size: staged.size,
          content_type: contentType,
          source,
          stored_at: this.now().toISOString(),
        };
        // Create-only: when another process took this number, try the next one.
        const bytes = encodeRecord(candidate);
        if (await this.storage.put(this.layout.record(ns, hash, version), bytes, { ifAbsent: true, durable: true, after: placing })) {
          this.allocated.set(lockKey, version);
          return { record: candidate, data: bytes };
        }
        taken = version;
        if (!latest && !indexRead) {
          // Versions exist but no latest pointer (lost): the index may name newer versions whose records
          // went too; a number it names is never given to other content's record.
          indexRead = true;
          taken = Math.max(taken, ...(await this.versions(ns, hash)).map((v) => v.version));
        }
      }
    });
    const recordKey = this.layout.record(ns, hash, record.version);
    const writeViews = async () => {
      await Promise.all([this.storage.copy(recordKey, this.layout.temporal(record), { ifAbsent: true, data }), this.publishLatest(record, data)]);
      // The index entry goes last: a delete takes a version once it is listed, and then finds every other key written.
      await this.storage.copy(recordKey, this.layout.versionEntry(record), { ifAbsent: true, data });
    };
    try {
      // The handshake needs only the record written first, so it runs beside the views.
      const failed = (await Promise.allSettled([writeViews(), this.keepContent(record, data, staged, { signal, onWaiting })])).find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    } catch (err) {
      const takenBack = await this.allocation
        .run(lockKey, () => this.holdingDeletionMarker(ns, hash, async (inTime) => this.removeVersions(ns, hash, [record.version], await this.listHash(ns, hash), inTime, { takingBack: true })))
        .then(() => true, () => false);
      if (takenBack) throw err;
      const said = isCacheError(err) ? err : new CacheError('internal', (err as Error).message);
      throw new CacheError(said.code, `${said.message}; its version ${record.cache_id} was written and could not be taken back (run verify)`, { cause: err });
    }
    return record;
  }

  /**
   * The store's half of the deletion handshake (docs/storage-layout.md, "Deleting the last
   * version"), run once the record is written: wait out a deleter holding the marker, then make
   * sure the bytes are there, placing them again if a deleter removed them.
   */
  private async keepContent(record: VersionRecord, data: Uint8Array, staged: StagedContent, { signal, onWaiting }: TransferOptions): Promise<void> {
    await this.waitForDeleter(record.namespace, record.hash, onWaiting);
    const contentKey = this.layout.content(record.namespace, record.hash);
    if (await this.storage.exists(contentKey)) return;
    try {
      await staged.commit(contentKey, { signal });
    } catch (err) {
      if (signal?.aborted) throw err;
      // A local folder moves big staged content into place, so it cannot be placed twice.
      throw new CacheError('conflict', `the content of ${record.hash} was deleted while it was being stored; store it again`, { cause: err });
    }
    await this.publishLatest(record, data); // the deleter removed latest with the bytes
  }

  /** Returns once the deleter holding the hash's marker (if any) has finished or is taken for crashed. */
  private async waitForDeleter(ns: Namespace, hash: CacheHash, onWaiting?: (why: string) => void): Promise<void> {
    const key = this.layout.deletionMarker(ns, hash);
    const firstSeen = Date.now();
    const first = await this.readDeletionMarker(key);
    if (!first) return;
    // Only the deleter seen first may have listed the versions before this one was linked.
    for (let current: DeletionMarker | null = first, attempt = 0, said = false; current?.token === first.token && !isStale(current, firstSeen); attempt++) {
      // A live delete takes milliseconds; one killed holds its marker until it runs out (up to 30 s), which is said.
      if (!said && Date.now() - firstSeen >= WAIT_SAID_AFTER_MS) {
        said = true;
        const until = new Date(Math.min(first.since, firstSeen) + DELETION_MARKER_LIFETIME_MS);
        onWaiting?.(`a delete of ${hash} in ${ns} holds it; waiting for it to finish (if it was killed, its hold runs out by ${until.toISOString()})`);
      }
      await sleep(pollDelay(attempt));
      current = await this.readDeletionMarker(key);
    }
  }

  private async readDeletionMarker(key: string): Promise<DeletionMarker | null> {
    const found = await readTokenFile(this.storage, key, 'since');
    return found && { token: found.token, since: found.at };
  }

  /**
   * Runs `task` holding the hash's deletion marker (created create-only, so one deleter at a time
   * across processes). `inTime` turns false half-way through the marker's lifetime: past it, a
   * waiting store may already take the marker for crashed, so bytes must no longer be removed.
   */
  private async holdingDeletionMarker<T>(ns: Namespace, hash: CacheHash, task: (inTime: () => boolean) => Promise<T>): Promise<T> {
    const key = this.layout.deletionMarker(ns, hash);
    const token = randomUUID();
    const waitingSince = Date.now();
    for (let attempt = 0; ; attempt++) {
      const body = new TextEncoder().encode(`${JSON.stringify({ token, since: new Date().toISOString() })}\n`);
      if (await this.storage.put(key, body, { ifAbsent: true, freesSpace: true })) break;
      const other = await this.readDeletionMarker(key);
      if (other && isStale(other, waitingSince)) await this.storage.delete(key);
      else if (other) await sleep(pollDelay(attempt));
    }
    const taken = performance.now();
    try {
      return await task(() => performance.now() - taken < DELETION_MARKER_LIFETIME_MS / 2);
    } finally {
      // Another deleter replaces the marker only once it is stale: then it is no longer ours to remove.
      if ((await this.readDeletionMarker(key))?.token === token) await this.storage.delete(key);
    }
  }

  /**
   * The highest version at or above `known` whose successor does not exist yet. Versions are dense
   * above the latest one, so a galloping search finds it in O(log n) reads however far behind we are.
   */
  private async highestVersionFrom(ns: Namespace, hash: CacheHash, known: number): Promise<number> {
    const exists = (v: number) => this.storage.exists(this.layout.record(ns, hash, v));
    let low = known;
    let step = 1;
    while (known + step <= MAX_VERSION && (await exists(known + step))) {
      low = known + step;
      step *= 2;
    }
    let high = Math.min(known + step, MAX_VERSION + 1); // does not exist
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (await exists(mid)) low = mid;
      else high = mid;
    }
    return low;
  }

  /**
   * Points "latest" at `record`, then looks for a newer version; a writer that finds one points
   * latest at the newest instead, so the last write always names the newest version.
   */
  private async publishLatest(record: VersionRecord, data: Uint8Array): Promise<void> {
    const latestKey = this.layout.latest(record.namespace, record.hash);
    let current = record;
    for (let currentData = data; ; currentData = encodeRecord(current)) {
      if (!(await copyIfPresent(this.storage, this.layout.record(current.namespace, current.hash, current.version), latestKey, currentData))) return; // deleted meanwhile: its deleter fixes latest
      const top = await this.highestVersionFrom(current.namespace, current.hash, current.version);
      if (top === current.version) return;
      const newer = await this.tryReadRecord(this.layout.record(current.namespace, current.hash, top));
      if (!newer) return; // deleted meanwhile (its deleter fixes latest) or damaged (verify reports it)
      current = newer.record;
    }
  }

  private async readRecord(key: string): Promise<VersionRecord | null> {
    const bytes = await this.storage.get(key);
    if (!bytes) return null;
    const decoded = decodeRecord(bytes);
    if ('problem' in decoded) throw new CacheError('corrupt', `version record ${key} is damaged (${decoded.problem}); delete the version, or run verify with repair`);
    const filed = await this.filed(key, decoded.record, bytes);
    if (!filed) throw new CacheError('corrupt', `version record ${key} names namespace ${decoded.record.namespace}, not ${this.layout.namespaceOf(key)}: it was copied in from there, and nothing was served (run verify with repair)`);
    return filed;
  }

  /** A record and its bytes; null when it is missing or damaged. */
  private async tryReadRecord(key: string): Promise<{ record: VersionRecord; data: Uint8Array } | null> {
    const data = await this.storage.get(key);
    const decoded = data && decodeRecord(data);
    const filed = decoded && 'record' in decoded ? await this.filed(key, decoded.record, data) : null;
    return filed && { record: filed, data: data! };
  }

  /** A record as filed at `key` (see filedIn); null for one copied in alone from another namespace, which is damage. */
  private async filed(key: string, record: VersionRecord, bytes: Uint8Array): Promise<VersionRecord | null> {
    if (record.namespace === this.layout.namespaceOf(key)) return record;
    return (await movedWithItsFolder(this.storage, this.layout, this.layout.namespaceOf(key), record, bytes)) ? filedIn(this.layout, key, record) : null;
  }

  /** Metadata of one version: one read. */
  async record(namespace: string, lookup: EntryLookup): Promise<VersionRecord> {
    const ns = parseNamespace(namespace);
    let key = lookup.version === undefined ? this.layout.latest(ns, lookup.hash) : this.layout.record(ns, lookup.hash, lookup.version);
    // The latest pointer is a view of a record: a damaged one is passed over like a missing one.
    let record = lookup.version === undefined ? (await this.tryReadRecord(key))?.record : await this.readRecord(key);
    let listed: number | null = null; // versions the index names, when they were read
    if (!record && lookup.version === undefined) {
      // No latest pointer (a crash before it was written, or removed by hand; verify --repair rewrites
      // it): the versions index still names the newest version whose record is there.
      const versions = await this.versions(ns, lookup.hash);
      listed = versions.length;
      for (const { version } of versions.reverse()) {
        key = this.layout.record(ns, lookup.hash, version);
        record = await this.readRecord(key);
        if (record) break;
      }
    }
    const what = lookup.sha256 ?? (lookup.version === undefined ? lookup.hash : makeCacheId(lookup.hash, lookup.version));
    if (!record && lookup.version !== undefined && (await this.storage.list(`${this.layout.versionsPrefix(ns, lookup.hash)}${padVersion(lookup.version)}~`, { limit: 1 })).objects.length > 0) {
      // Listed among the versions (a record is written before its index entry and deleted after it): its record was lost.
      throw new CacheError('not_found', `${what}'s record is missing, though its versions index lists it (lost, or removed by hand); verify with repair restores it from the index entry when that holds a good copy, or delete the version`);
    }
    if (!record && listed && lookup.sha256 === undefined) {
      throw new CacheError('not_found', `${what}'s version records are missing, though its versions index lists ${listed === 1 ? '1 version' : `${listed} versions`} (lost, or removed by hand); verify with repair restores them from the index entries that hold good copies, or delete ${what}`);
    }
    if (!record && listed === 0 && lookup.sha256 === undefined && (await this.storage.exists(this.layout.content(ns, lookup.hash)))) {
      // Listed as an entry by its content (the entries browser's "no version" row): say why it does not open.
      throw new CacheError('not_found', `${what} in ${ns} is content no version uses (a store stopped before its record, or one writing it now): it has no entry to open; once it is a minute old (until then a store may still be writing it), verify with repair moves it to the quarantine, or delete ${what} removes it`);
    }
    if (!record || (lookup.sha256 !== undefined && record.sha256 !== lookup.sha256)) {
      // A version that is not there of an entry that is: say which versions it has.
      const latest = !record && lookup.version !== undefined ? (await this.tryReadRecord(this.layout.latest(ns, lookup.hash)))?.record : null;
      // A SHA-256 whose cache hash is there with other bytes: the first 16 characters match, the rest do not (a mistyped or other file's hash).
      const other = record && lookup.sha256 !== undefined ? ` (${lookup.hash} is there, with another SHA-256: ${record.sha256})` : '';
      throw new CacheError('not_found', `${what} is not in namespace ${ns}${latest ? ` (${lookup.hash} is there: its newest version is v${latest.version})` : other}`);
    }
    // A record copied over another's key would serve that entry's bytes under this hash.
    if (record.hash !== lookup.hash || (lookup.version !== undefined && record.version !== lookup.version)) {
      throw new CacheError('corrupt', `version record ${key} is damaged (it names another entry, ${record.cache_id}); nothing was served (run verify with repair)`);
    }
    return record;
  }

  /**
   * Metadata and streamed bytes: two reads. The bytes are checked against the record's SHA-256 and
   * cache hash as they stream; content that does not match ends in a `corrupt` error.
   */
  async retrieve(namespace: string, lookup: EntryLookup, options: { signal?: AbortSignal } = {}) {
    const record = await this.record(namespace, lookup);
    const stored = await this.storage.getStream(this.layout.content(record.namespace, record.hash), options);
    if (!stored) throw new CacheError('not_found', `the content of ${record.cache_id} is missing from storage`);
    const content = checkedContent(stored, (sha256, served) => {
      if (sha256 !== record.sha256) return corruptContent(record.cache_id, 'SHA-256', record.sha256, sha256, NATIVE_MEND, served);
      const hash = cacheHashOfSha256(sha256);
      return hash === record.hash ? null : corruptContent(record.cache_id, 'cache hash', record.hash, hash, NATIVE_MEND, served);
    });
    return { record, content };
  }

  /** Every version, ascending: one list call per 1,000 versions. */
  async versions(namespace: string, hash: CacheHash): Promise<VersionSummary[]> {
    const ns = parseNamespace(namespace);
    const out: VersionSummary[] = [];
    await this.forEachPage(this.layout.versionsPrefix(ns, hash), (page) => {
      for (const o of page.objects) {
        const summary = this.layout.parseVersionEntry(hash, o.key);
        if (summary) out.push(summary);
      }
    });
    return out;
  }

  private forEachPage(prefix: string, visit: (page: ListPage) => void, options: ListOptions = {}): Promise<void> {
    return forEachPage(this.storage, prefix, visit, options);
  }

  async namespaceNames(): Promise<Namespace[]> {
    const names: Namespace[] = [];
    await this.forEachPage(
      '',
      (page) => {
        for (const p of page.prefixes) {
          const name = p.slice(0, -1);
          try {
            names.push(parseNamespace(name));
          } catch {
            // not a namespace (e.g. a quarantine folder)
          }
        }
      },
      { delimiter: '/' },
    );
    return names;
  }

  /** Namespaces with counts, from listings only (content is never read). */
  async namespaces(): Promise<NamespaceSummary[]> {
    const names = await this.namespaceNames();
    return mapLimit(names, LIST_CONCURRENCY, async (name) => {
      const { entries, versions, bytes } = await this.count(this.layout.objectsPrefix(name));
      return { name, entries, versions, bytes };
    });
  }

  /** Exact counts from one listing of the namespace: nothing multiplied, nothing downloaded. */
  async stats(namespace: string): Promise<NamespaceStats> {
    const ns = parseNamespace(namespace);
    return { namespace: ns, ...(await this.count(`${ns}/`)) };
  }

  /**
   * Sizes come with the listing where it has them (S3, memory), else from an index-entry name
   * (`~<size>~`), so a local folder lists names only and stats nothing; content no index entry
   * names (a store in flight, an orphan) is sized on its own. Entries are hashes with content or an
   * index entry, as the entries list has them.
   */
  private async count(prefix: string): Promise<Omit<NamespaceStats, 'namespace'>> {
    const counts = { entries: 0, versions: 0, bytes: 0, objects: 0, shards: {} as Record<string, number> };
    const contentSizes = new Map<string, number | undefined>(); // content key -> size, if listed with one
    const namedSizes = new Map<string, number>(); // content key -> size its first index entry names
    await forEachKey(this.storage, prefix, (key, size) => {
      counts.objects++;
      const described = this.layout.describeKey(key);
      if (described?.kind === 'content') {
        counts.entries++;
        contentSizes.set(key, size);
        const shard = key.split('/')[2] ?? '';
        counts.shards[shard] = (counts.shards[shard] ?? 0) + 1;
      } else if (described?.kind === 'record') {
        counts.versions++;
      } else if (described?.kind === 'version_entry') {
        const contentKey = key.slice(0, key.indexOf('~', key.lastIndexOf('/'))); // the source in the name has its "~" encoded
        const named = namedSizes.has(contentKey) ? undefined : this.layout.parseVersionEntry(described.hash, key)?.size;
        if (named !== undefined) namedSizes.set(contentKey, named);
      }
    });
    for (const [key, size] of contentSizes) counts.bytes += size ?? namedSizes.get(key) ?? (await sizeOf(this.storage, key));
    // An entry whose content is lost is still an entry (the entries list shows it, marked), in its shard too.
    for (const key of namedSizes.keys()) {
      if (contentSizes.has(key)) continue;
      counts.entries++;
      const shard = key.split('/')[2] ?? '';
      counts.shards[shard] = (counts.shards[shard] ?? 0) + 1;
    }
    return counts;
  }

  /**
   * Deletes one version, or every version of a hash; the bytes go with the last version. Damaged
   * versions (a record that is not valid, or views without a record) are found by listing, so they
   * can be deleted too. With `quarantine` (verify --repair), records and bytes are moved to
   * QUARANTINE_PREFIX instead of deleted. Runs holding the hash's deletion marker, so deleters in
   * other processes never interleave.
   */
  async delete(namespace: string, lookup: { hash: CacheHash; version?: number; storedAt?: string; unversioned?: boolean; seen?: VersionsSeen }, options: { quarantine?: boolean } = {}): Promise<DeleteResult> {
    const ns = parseNamespace(namespace);
    const { hash, version, storedAt, unversioned, seen } = lookup;
    if (storedAt !== undefined && version === undefined) throw new CacheError('invalid_input', 'a delete that names a store time must name its version');
    if ((unversioned || seen) && version !== undefined) throw new CacheError('invalid_input', `a delete of ${unversioned ? 'content no version uses' : 'versions as seen'} names no version`);
    assertWritable(this.storage, `delete ${hash}${version === undefined ? '' : ` v${version}`}`);
    return this.allocation.run(`${ns}/${hash}`, () =>
      this.holdingDeletionMarker(ns, hash, async (inTime) => {
        // Under the marker no other deleter runs, and a store cannot take this number while its record exists: the check holds until the delete.
        if (storedAt !== undefined && (await this.tryReadRecord(this.layout.record(ns, hash, version!)))?.record.stored_at !== storedAt) {
          throw new CacheError('not_found', `${makeCacheId(hash, version!)} in ${ns} is no longer the version stored at ${storedAt}`);
        }
        const listed = await this.listHash(ns, hash);
        const versions: number[] = [];
        /** Versions a store is still writing (a young record without its index entry): left to it. */
        const storing: number[] = [];
        for (const [n, v] of listed.versions) {
          if (version !== undefined && n !== version) continue;
          // A version is listed by its index entry, written last. A record without one is a store in
          // flight, unless it is damaged or old (a failed store's), or the caller names its store time
          // (checked above): a prune's journal, written once the version was listed, whose killed run
          // deleted the views first.
          const settled = storedAt !== undefined || v.entries.length > 0 || Date.now() - Date.parse(v.record!.modified) >= IN_FLIGHT_RECORD_MS;
          const damaged = async () => {
            const data = await this.storage.get(v.record!.key);
            return data !== null && 'problem' in decodeRecord(data);
          };
          if (settled || (await damaged())) versions.push(n);
          else storing.push(n);
        }
        // Compared with what the operator saw under the marker, where no version can be listed or taken
        // away by another deleter (a store finishing meanwhile writes its index entry last: not taken).
        if (seen && versions.length > 0) {
          // Lists show versions by their index entries: one without (a store killed before it, or lost by hand) was never seen.
          const unlisted = versions.filter((n) => listed.versions.get(n)!.entries.length === 0);
          if (unlisted.length > 0) {
            const ids = unlisted.map((n) => makeCacheId(hash, n)).join(', ');
            throw new CacheError('conflict', `${ids} in ${ns} has no index entry, so no list shows it: nothing of ${hash} was deleted; verify --repair writes its index entry back, or delete it by its cache id`);
          }
          const indexed = versions.flatMap((n) => listed.versions.get(n)!.entries.flatMap((key) => this.layout.parseVersionEntry(hash, key) ?? []));
          const newest = indexed.reduce<VersionSummary | undefined>((a, b) => (a && a.version > b.version ? a : b), undefined);
          if (indexed.length !== seen.versions || newest?.version !== seen.version || newest?.stored_at !== seen.storedAt) throw changedSinceSeen(hash, seen, indexed.length);
        }
        // Asked to delete content no version uses (as it was shown): a version stored since is not the operator's to lose.
        if (unversioned && (versions.length > 0 || storing.length > 0 || listed.latest)) {
          throw new CacheError('conflict', `${hash} in ${ns} has a version now (stored since it was shown with none): nothing was deleted; look it up again`);
        }
        if (versions.length === 0 && storing.length > 0) {
          const ids = storing.map((n) => makeCacheId(hash, n)).join(', ');
          throw new CacheError('conflict', `${ids} in ${ns} is being stored right now (its record is under a minute old and its index entry not written yet): nothing was deleted; try again in a minute`);
        }
        if (versions.length === 0 && version === undefined && !listed.latest && listed.content) {
          // Content no version uses, listed as an entry: a store killed before its record (verify's orphan), or one writing it now.
          if (Date.now() - Date.parse(listed.content.modified) < IN_FLIGHT_RECORD_MS) {
            throw new CacheError('conflict', `${hash} in ${ns} has content and no version yet (a store may be writing it): nothing was deleted; try again in a minute`);
          }
          const { removed, aside } = await this.removeBytes(ns, hash, inTime, options.quarantine ?? false);
          if (removed) return { deleted: [], contentRemoved: true, bytesFreed: listed.content.size, ...(options.quarantine && { quarantined: aside ? [aside] : [] }) };
        }
        if (versions.length === 0 && (version !== undefined || !listed.latest)) {
          throw new CacheError('not_found', `${version === undefined ? hash : makeCacheId(hash, version)} is not in namespace ${ns}`);
        }
        return this.removeVersions(ns, hash, versions, listed, inTime, { quarantine: options.quarantine });
      }),
    );
  }

  /** Every key of one hash, from one listing (one LIST per 1,000 keys). */
  private async listHash(ns: Namespace, hash: CacheHash): Promise<HashListing> {
    const listed: HashListing = { latest: false, versions: new Map() };
    await this.forEachPage(this.layout.content(ns, hash), (page) => {
      for (const o of page.objects) {
        const described = this.layout.describeKey(o.key);
        if (described?.hash !== hash) continue;
        if (described.kind === 'latest') listed.latest = true;
        if (described.kind === 'content') listed.content = o;
        if (described.version === undefined || described.kind === 'temporal') continue;
        const v = listed.versions.get(described.version) ?? { entries: [] };
        if (described.kind === 'record') v.record = o;
        else v.entries.push(o.key);
        listed.versions.set(described.version, v);
      }
    });
    return listed;
  }

  /**
   * Removes versions, holding the hash's deletion marker: each one's views, then its record. Then
   * latest names the newest version left; with none left, latest and the bytes go too.
   * `takingBack`: a failed store's own version. Its views are removed where they can be: one that
   * cannot (behind a link, under a file) was never written, and must not keep the record served.
   */
  private async removeVersions(ns: Namespace, hash: CacheHash, versions: number[], listed: HashListing, inTime: () => boolean, { quarantine = false, takingBack = false } = {}): Promise<DeleteResult> {
    this.allocated.delete(`${ns}/${hash}`); // numbers freed: the next store finds the highest left
    const deleted: CacheId[] = [];
    const quarantined: string[] = [];
    for (const version of versions) {
      const recordKey = this.layout.record(ns, hash, version);
      const entries = listed.versions.get(version)?.entries ?? [];
      // A damaged record still has its views found: the index entry by listing, the temporal one from the entry's time.
      const summary = entries.map((key) => this.layout.parseVersionEntry(hash, key)).find((s) => s !== null);
      const read = (await this.tryReadRecord(recordKey))?.record;
      // A record naming another entry (a copy of another's) is as damaged: its fields would name that entry's views.
      const stored = read?.hash === hash && read.version === version ? { ...read, namespace: ns } : null;
      const known = stored ?? (summary ? { ...summary, namespace: ns, hash, sha256: '', content_type: '' } : null);
      const views = new Set([...entries, ...(known ? [this.layout.versionEntry(known), this.layout.temporal(known)] : [])]);
      // References go first and the record last, so no reference ever points at a missing record.
      for (const key of views) await this.storage.delete(key).catch((err: unknown) => (takingBack ? undefined : Promise.reject(err)));
      const aside = quarantine ? await quarantineCopy(this.storage, recordKey) : null;
      if (aside) quarantined.push(aside);
      await this.storage.delete(recordKey);
      deleted.push(makeCacheId(hash, version));
    }
    // Listed afresh after the marker was taken: the deleter's half of the handshake in docs/storage-layout.md.
    const left = await this.recordVersions(ns, hash);
    const result = (contentRemoved: boolean) => ({ deleted, contentRemoved, bytesFreed: contentRemoved ? (listed.content?.size ?? 0) : 0, ...(quarantine && { quarantined }) });
    // From the listing taken under the marker: a store adding a version meanwhile writes its record first, which `left` sees.
    const entriesLeft = [...listed.versions].some(([n, v]) => !versions.includes(n) && v.entries.some((key) => this.layout.parseVersionEntry(hash, key) !== null));
    if (left.length === 0 && entriesLeft) {
      // Another version's record is lost and its index entry left (a copy of the record, which verify
      // --repair restores): its bytes stay for it. Latest can name no record now.
      await this.storage.delete(this.layout.latest(ns, hash));
      return result(false);
    }
    if (left.length === 0) {
      const bytes = await this.removeBytes(ns, hash, inTime, quarantine);
      if (bytes.aside) quarantined.push(bytes.aside);
      return result(bytes.removed);
    }
    for (const version of left.reverse()) {
      const newest = await this.tryReadRecord(this.layout.record(ns, hash, version));
      if (newest) {
        await this.publishLatest(newest.record, newest.data);
        return result(false);
      }
    }
    await this.storage.delete(this.layout.latest(ns, hash)); // only damaged records are left: verify reports them
    return result(false);
  }

  /** Version numbers that have a record, ascending: one LIST per 1,000 versions. */
  private async recordVersions(ns: Namespace, hash: CacheHash): Promise<number[]> {
    const versions: number[] = [];
    await this.forEachPage(this.layout.recordsPrefix(ns, hash), (page) => {
      for (const o of page.objects) {
        const described = this.layout.describeKey(o.key);
        if (described?.kind === 'record' && described.hash === hash) versions.push(described.version!);
      }
    });
    return versions;
  }

  /**
   * Removes latest and the bytes of a hash whose records were just listed as none, holding its
   * deletion marker; false (the bytes stay) when the marker is held too long to do it safely.
   */
  private async removeBytes(ns: Namespace, hash: CacheHash, inTime: () => boolean, quarantine: boolean): Promise<{ removed: boolean; aside: string | null }> {
    const contentKey = this.layout.content(ns, hash);
    const aside = quarantine ? await quarantineCopy(this.storage, contentKey) : null;
    if (!inTime()) {
      if (aside) await this.storage.delete(aside);
      return { removed: false, aside: null };
    }
    await this.storage.delete(this.layout.latest(ns, hash));
    await this.storage.delete(contentKey);
    return { removed: true, aside };
  }

  /**
   * verify --repair: moves content no version references to the quarantine, by the same handshake
   * as delete; where it went, or null when it stays (a store took it meanwhile).
   */
  async quarantineOrphan(ns: Namespace, hash: CacheHash): Promise<string | null> {
    const { removed, aside } = await this.removeUnreferenced(ns, hash, true);
    return removed ? aside : null;
  }

  /** Removes (or quarantines) content while no version references it, by the same handshake as delete. */
  private removeUnreferenced(ns: Namespace, hash: CacheHash, quarantine: boolean): Promise<{ removed: boolean; aside: string | null }> {
    return this.allocation.run(`${ns}/${hash}`, () =>
      this.holdingDeletionMarker(ns, hash, async (inTime) => ((await this.recordVersions(ns, hash)).length === 0 ? this.removeBytes(ns, hash, inTime, quarantine) : { removed: false, aside: null })),
    );
  }

  listKeys(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    return this.storage.list(prefix, options);
  }

  keysOf(record: VersionRecord): string[] {
    return this.layout.keysOf(record);
  }
}

/**
 * Copies a key into the quarantine under the first name there not taken (`_quarantine/<key>`, then
 * `<…>.2`, `<…>.3`), so a later repair never replaces what an earlier one kept; null when the key is gone.
 */
export async function quarantineCopy(storage: StorageBackend, key: string, quarantine = QUARANTINE_PREFIX): Promise<string | null> {
  for (let n = 1; ; n++) {
    const aside = `${quarantine}${key}${n === 1 ? '' : `.${n}`}`;
    if (!(await storage.exists(aside))) return (await copyIfPresent(storage, key, aside)) ? aside : null;
  }
}

async function copyIfPresent(storage: StorageBackend, from: string, to: string, data?: Uint8Array): Promise<boolean> {
  try {
    await storage.copy(from, to, { data });
    return true;
  } catch (err) {
    if (err instanceof CacheError && err.code === 'not_found') return false;
    throw err;
  }
}

export function encodeRecord(record: VersionRecord): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(record)}\n`);
}

/**
 * A record as filed: in the namespace its key is in. A namespace folder renamed or copied by hand
 * keeps records that name the namespace they were stored in; its keys (and content) are here, and
 * every key derived from the record must be too (verify --repair rewrites the field).
 */
export function filedIn(layout: KeyLayout, key: string, record: VersionRecord): VersionRecord {
  const ns = layout.namespaceOf(key);
  return record.namespace === ns ? record : { ...record, namespace: ns };
}

/**
 * Whether a record naming another namespace than `ns`, where it is filed, came with its folder
 * (renamed or copied by hand): its version's index entry here holds the same bytes (a link of it, or
 * a copy made with it). A record copied in alone from another namespace does not: it would pass that
 * namespace's time, name and size off as this one's.
 */
export async function movedWithItsFolder(storage: StorageBackend, layout: KeyLayout, ns: Namespace, record: VersionRecord, bytes: Uint8Array): Promise<boolean> {
  const entries = await storage.list(`${layout.versionsPrefix(ns, record.hash)}${padVersion(record.version)}~`, { limit: 4 });
  for (const { key } of entries.objects) {
    const entry = await storage.get(key);
    if (entry && Buffer.from(entry).equals(bytes)) return true;
  }
  return false;
}

/**
 * A stored record, or what is wrong with it (verify reports those as corrupt). `fromContent`: a record
 * whose only flaws are in what its content gives back, its size (-1, past 2^53) and its SHA-256 (not
 * 64 hex characters, or not starting with its hash).
 */
export function decodeRecord(bytes: Uint8Array): { record: VersionRecord } | { problem: string; fromContent?: VersionRecord } {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { problem: 'is not JSON' };
  }
  const problem = versionRecordProblem(value);
  if (problem === null) return { record: value as VersionRecord };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem };
  const hash = (value as { hash?: unknown }).hash;
  const fromContent = typeof hash === 'string' && versionRecordProblem({ ...value, size: 0, sha256: hash.padEnd(64, '0') }) === null;
  return fromContent ? { problem, fromContent: value as VersionRecord } : { problem };
}

function isStale(marker: DeletionMarker, waitingSince: number): boolean {
  const now = Date.now();
  return now - marker.since > DELETION_MARKER_LIFETIME_MS || now - waitingSince > DELETION_MARKER_LIFETIME_MS;
}

/** 1, 2, 4 … 32 ms between looks at a deletion marker. */
function pollDelay(attempt: number): number {
  return 2 ** Math.min(attempt, 5);
}

/** The file name to save a version under: its source name, else its cache id. */
export function suggestedFileName(record: VersionRecord): string {
  return record.source.split(/[\\/]/).pop() || record.cache_id;
}
