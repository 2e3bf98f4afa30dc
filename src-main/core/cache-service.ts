import { canonicalJsonFromText } from '../../src-shared/canonical-json';
import type { CacheHash, CacheId, EntrySummary, Namespace, NamespaceStats, NamespaceSummary, StoreResult, VersionRecord, VersionSummary } from '../../src-shared/domain';
import { MAX_VERSION, makeCacheId, parseNamespace } from '../../src-shared/domain';
import { CacheError } from '../../src-shared/errors';
import { detectContentType } from './content-type';
import { cacheHashOfSha256, pumpHashed, readAllBounded } from './hashing';
import { KeyedLock, mapLimit } from './keyed-lock';
import { KeyLayout } from './layout';
import type { ContentSource, ListOptions, ListPage, StagedContent, StorageBackend } from './storage/types';

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
const MAX_SOURCE_LENGTH = 1024;
const LIST_CONCURRENCY = 8;

export interface DeleteResult {
  deleted: CacheId[];
  contentRemoved: boolean;
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
    const bytes = await readAllBounded(input.source, this.maxJsonBytes, signal);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new CacheError('invalid_json', 'JSON input is not valid UTF-8');
    }
    return { kind: 'bytes', bytes: new TextEncoder().encode(canonicalJsonFromText(text)) };
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
    const latest = await this.readRecord(this.layout.latest(ns, hashed.hash));
    return { ...hashed, latest };
  }

  async store(namespace: string, input: StoreInput, options: TransferOptions = {}): Promise<StoreResult> {
    const ns = parseNamespace(namespace);
    const sourceName = (input.name ?? '').slice(0, MAX_SOURCE_LENGTH);
    const source = await this.prepare(input, options.signal);
    const staged = await this.storage.stage(source, { ...options, maxBytes: this.maxEntryBytes });
    let placing: Promise<'created' | 'exists'> | undefined;
    try {
      const hash = cacheHashOfSha256(staged.sha256);
      const contentKey = this.layout.content(ns, hash);
      // The record is written while the content is placed (one flush can serve both); it appears
      // under its key only once the content is durable under its own.
      placing = staged.commit(contentKey, options);
      placing.catch(() => undefined); // awaited below; until then a failure must not count as unhandled
      const contentType = input.as === 'json' ? 'application/json' : detectContentType(sourceName || undefined, staged.head);
      const record = await this.addVersion(ns, hash, staged, contentType, sourceName, placing);
      const placed = await placing;
      const keys = this.layout.keysOf(record);
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
    } finally {
      await placing?.catch(() => undefined); // settled before its staged bytes are dropped
      await staged.discard();
    }
  }

  /** `placing`: the content being placed; the record appears only once that has succeeded. */
  private async addVersion(ns: Namespace, hash: CacheHash, staged: StagedContent, contentType: string, source: string, placing: Promise<unknown>): Promise<VersionRecord> {
    const lockKey = `${ns}/${hash}`;
    const { record, data } = await this.allocation.run(lockKey, async () => {
      const latest = await this.readRecord(this.layout.latest(ns, hash));
      let taken = Math.max(latest?.version ?? 0, this.allocated.get(lockKey) ?? 0);
      // Content with no version yet almost always gets version 1: try it first, the create-only write decides.
      let probe = taken > 0;
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
      }
    });
    const recordKey = this.layout.record(ns, hash, record.version);
    await Promise.all([
      this.storage.copy(recordKey, this.layout.versionEntry(record), { ifAbsent: true, data }),
      this.storage.copy(recordKey, this.layout.temporal(record), { ifAbsent: true, data }),
    ]);
    await this.publishLatest(record, data);
    return record;
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
      await this.storage.copy(this.layout.record(current.namespace, current.hash, current.version), latestKey, { data: currentData });
      const top = await this.highestVersionFrom(current.namespace, current.hash, current.version);
      if (top === current.version) return;
      const newer = await this.readRecord(this.layout.record(current.namespace, current.hash, top));
      if (!newer) return; // deleted meanwhile: its deleter fixes latest
      current = newer;
    }
  }

  private async readRecord(key: string): Promise<VersionRecord | null> {
    const bytes = await this.storage.get(key);
    if (!bytes) return null;
    const record = decodeRecord(bytes);
    if (!record) throw new CacheError('internal', `version record ${key} is not readable JSON`);
    return record;
  }

  /** Metadata of one version: one read. */
  async record(namespace: string, lookup: EntryLookup): Promise<VersionRecord> {
    const ns = parseNamespace(namespace);
    const key = lookup.version === undefined ? this.layout.latest(ns, lookup.hash) : this.layout.record(ns, lookup.hash, lookup.version);
    const record = await this.readRecord(key);
    const what = lookup.version === undefined ? lookup.hash : makeCacheId(lookup.hash, lookup.version);
    if (!record || (lookup.sha256 !== undefined && record.sha256 !== lookup.sha256)) {
      throw new CacheError('not_found', `${what} is not in namespace ${ns}`);
    }
    return record;
  }

  /** Metadata and streamed bytes: two reads. */
  async retrieve(namespace: string, lookup: EntryLookup, options: { signal?: AbortSignal } = {}) {
    const record = await this.record(namespace, lookup);
    const content = await this.storage.getStream(this.layout.content(record.namespace, record.hash), options);
    if (!content) throw new CacheError('not_found', `the content of ${record.cache_id} is missing from storage`);
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

  private async forEachPage(prefix: string, visit: (page: ListPage) => void, options: ListOptions = {}): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await this.storage.list(prefix, { ...options, cursor });
      visit(page);
      cursor = page.cursor;
    } while (cursor !== undefined);
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

  /** One page of a namespace's entries in hash order: one list call, no record read. */
  async entriesPage(namespace: string, options: { cursor?: string; limit?: number } = {}): Promise<{ entries: EntrySummary[]; cursor?: string }> {
    const ns = parseNamespace(namespace);
    const page = await this.storage.list(this.layout.objectsPrefix(ns), options);
    const entries: EntrySummary[] = [];
    for (const o of page.objects) {
      const described = this.layout.describeKey(o.key);
      if (described?.kind === 'content') entries.push({ hash: described.hash, size: o.size, modified: o.modified });
    }
    return { entries, cursor: page.cursor };
  }

  /** Exact counts from one listing of the namespace: nothing multiplied, nothing downloaded. */
  async stats(namespace: string): Promise<NamespaceStats> {
    const ns = parseNamespace(namespace);
    return { namespace: ns, ...(await this.count(`${ns}/`)) };
  }

  private async count(prefix: string): Promise<Omit<NamespaceStats, 'namespace'>> {
    const counts = { entries: 0, versions: 0, bytes: 0, objects: 0, shards: {} as Record<string, number> };
    await this.forEachPage(prefix, (page) => {
      for (const o of page.objects) {
        counts.objects++;
        const kind = this.layout.describeKey(o.key)?.kind;
        if (kind === 'content') {
          counts.entries++;
          counts.bytes += o.size;
          const shard = o.key.split('/')[2] ?? '';
          counts.shards[shard] = (counts.shards[shard] ?? 0) + 1;
        } else if (kind === 'record') {
          counts.versions++;
        }
      }
    });
    return counts;
  }

  /** Deletes one version, or every version of a hash; the bytes go with the last version. */
  async delete(namespace: string, lookup: { hash: CacheHash; version?: number }): Promise<DeleteResult> {
    const ns = parseNamespace(namespace);
    const { hash } = lookup;
    return this.allocation.run(`${ns}/${hash}`, async () => {
      let targets: VersionSummary[];
      const all = await this.versions(ns, hash);
      if (lookup.version === undefined) {
        targets = all;
        if (targets.length === 0 && !(await this.storage.exists(this.layout.latest(ns, hash)))) {
          throw new CacheError('not_found', `${hash} is not in namespace ${ns}`);
        }
      } else {
        const record = await this.record(ns, { hash, version: lookup.version });
        targets = [{ version: record.version, cache_id: record.cache_id, stored_at: record.stored_at, size: record.size, source: record.source }];
      }
      // References go first and the bytes last, so no reference ever points at missing bytes.
      for (const v of targets) {
        const record = (await this.readRecord(this.layout.record(ns, hash, v.version))) ?? { ...v, namespace: ns, hash, sha256: '', content_type: '' };
        await this.storage.delete(this.layout.versionEntry(record));
        await this.storage.delete(this.layout.temporal(record));
        await this.storage.delete(this.layout.record(ns, hash, v.version));
      }
      const deleted = new Set(targets.map((t) => t.version));
      const remaining = all.filter((v) => !deleted.has(v.version));
      const newest = remaining[remaining.length - 1];
      const newestRecord = newest ? await this.readRecord(this.layout.record(ns, hash, newest.version)) : null;
      if (newestRecord) {
        await this.storage.copy(this.layout.record(ns, hash, newestRecord.version), this.layout.latest(ns, hash), { data: encodeRecord(newestRecord) });
        return { deleted: targets.map((t) => t.cache_id), contentRemoved: false };
      }
      await this.storage.delete(this.layout.latest(ns, hash));
      await this.storage.delete(this.layout.content(ns, hash));
      return { deleted: targets.map((t) => t.cache_id), contentRemoved: true };
    });
  }

  listKeys(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    return this.storage.list(prefix, options);
  }

  keysOf(record: VersionRecord): string[] {
    return this.layout.keysOf(record);
  }
}

export function encodeRecord(record: VersionRecord): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(record)}\n`);
}

/** A stored record, or null when the bytes are not JSON (verify reports those as corrupt). */
export function decodeRecord(bytes: Uint8Array): VersionRecord | null {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as VersionRecord;
  } catch {
    return null;
  }
}

/** The file name to save a version under: its source name, else its cache id. */
export function suggestedFileName(record: VersionRecord): string {
  return record.source.split(/[\\/]/).pop() || record.cache_id;
}
