/** The Python cache service's layout as a store format, over any storage backend. */
import { forEachKey, forEachPage, sizeOf } from '../../storage/list-page';
import { assertWritable } from '../../storage/read-only';
import { randomUUID } from 'node:crypto';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { CacheError, isCacheError } from '../../../../src-shared/errors';
import { cacheIdParts } from '../../../../src-shared/domain';
import { cacheHashOfSha256, readAllBounded } from '../../hashing';
import { mapLimit } from '../../keyed-lock';
import type { ListOptions, ListPage, ObjectInfo, StorageBackend } from '../../storage/types';
import type {
  EntryKey,
  EntryRowsOptions,
  FormatCapabilities,
  FormatDeleteResult,
  FormatHashResult,
  FormatKeyInfo,
  FormatLookup,
  FormatNamespace,
  FormatRecord,
  FormatShardCount,
  FormatStats,
  FormatStoreInput,
  FormatStoreResult,
  FormatVerifyOptions,
  FormatVerifyReport,
  FormatVersion,
  RetrieveOptions,
  StoreFormat,
  TransferOptions,
} from '../format';
import { changedSinceSeen, keyOfAnotherNamespace, type VersionsSeen } from '../format';
import { checkedContent, corruptContent } from '../checked-content';
import { markLayout } from '../detect';
import { contentMd5, prepareContent, rehashFile, type DataType } from './content';
import {
  DEFAULT_STRATEGY,
  STRATEGIES,
  childDataStems,
  classifyKey,
  withoutExtension,
  entryPaths,
  insideNamespace,
  isGuid,
  isServiceNamespace,
  isServiceHash,
  parseCacheKey,
  parseFieldPath,
  parseFileId,
  parseServiceNamespace,
  parseStrategy,
  refByHashKey,
  refByIdKey,
  strategyFolders,
  type FileType,
} from './keys';
import { RefWriter, addressedIdRef, configFile, dataFilesOf, dataFoldersOf, distinctVersions, dumps, hashRefProblem, idRefProblem, isHashRef, metadataFile, parseJsonObject, type HashRef, type IdRef, type Metadata } from './refs';
import { serviceEntryRows, serviceSortedEntryRows } from './entry-rows';
import { verifyServiceStore } from './verify';

export interface MgraphFormatOptions {
  now?: () => Date;
  /** Entries are held in memory while stored, as the service does. */
  maxEntryBytes?: number;
}

export const DEFAULT_MGRAPH_MAX_ENTRY_BYTES = 256 * 1024 ** 2;
const LIST_CONCURRENCY = 8;
/** The coarsest clock a store stamps writes with: S3's LastModified keeps whole seconds. */
const REF_TIME_GRAIN_MS = 1000;
/** Content files sized at once (a stat each on a local folder): the thread pool has 4 threads, shared with the entries listing. */
const SIZE_CONCURRENCY = 2;

const CONTENT_TYPES: Record<DataType, string> = { json: 'application/json', string: 'text/plain; charset=utf-8', binary: 'application/octet-stream' };
const iso = (ms: number) => new Date(ms).toISOString();
/** Content files up to this size are checked for another entry's bytes before a delete removes them. */
const OVERWRITE_CHECK_BYTES = 64 << 20;
/** JSON up to this size is checked whole before a look at it (a preview); bigger JSON is previewed unchecked (get and verify check it). */
const CHECKED_LOOK_BYTES = 16 << 20;

/** A ref that is there but cannot be read (`corrupt`) as a value; any other failure (the store unreachable) is thrown. */
function unreadableRef(err: unknown): 'unreadable' {
  if (isCacheError(err) && err.code === 'corrupt') return 'unreadable';
  throw err;
}

/** A content file's path without its extension: its child data folder is `<stem>/data`. */

/**
 * The data files a delete removes: of the entry's data files (dataFilesOf), its content files under
 * its namespace's data/ and their two sidecars. Any other path a ref lists (one outside its
 * namespace: a namespace copied by hand keeps the original's paths; or a damaged ref naming refs or
 * another entry's sidecars) is never deleted from here.
 */
function ownDataFiles(ns: string, idRef: IdRef): string[] {
  const own = new Set(idRef.file_paths.content_files.filter((c) => insideNamespace(ns, c) && classifyKey(c)?.kind === 'data_file').flatMap((c) => [c, `${c}.config`, `${c}.metadata`]));
  return dataFilesOf(idRef).filter((key) => own.has(key));
}

/** An entry's data folders: `<stem>/data` of its own content files, the only ones the service makes (a damaged ref naming others is not followed). */
function ownDataFolders(idRef: IdRef): string[] {
  const stems = new Set(idRef.file_paths.content_files.map(withoutExtension));
  return dataFoldersOf(idRef).filter((f) => f.endsWith('/data') && stems.has(f.slice(0, -'/data'.length)));
}

/**
 * Of the files listed under an entry's data folders, its child data: never another entry's content
 * stored inside one (a key_based cache key can point there), that content's sidecars or its own child
 * data. Content is known by its sidecars: the service writes them beside every content file, never
 * beside child data.
 */
function childDataIn(found: ObjectInfo[]): ObjectInfo[] {
  const present = new Set(found.map((o) => o.key));
  const contents = [...present].filter((key) => present.has(`${key}.config`) || present.has(`${key}.metadata`));
  const theirs = (key: string) => contents.some((content) => key === content || key.startsWith(`${content}.`) || key.startsWith(`${withoutExtension(content)}/data/`));
  return found.filter((o) => !theirs(o.key));
}

/** One version found: its refs, its ordinal and the latest's. */
interface Resolved {
  hashRef: HashRef | null;
  idRef: IdRef;
  cacheId: string;
  version: number;
  latestVersion: number;
}

/** A store's choices, checked: what the service's store endpoints take beside the content. */
interface StoreChoices {
  strategy: ReturnType<typeof parseStrategy>;
  cacheKey: string;
  fileId: string | null;
  jsonFieldPath: string | null;
  gzip: boolean;
  as: DataType;
}

/** A content file an entry being deleted shares: `holder` is the newest other entry naming it (null: a ref that may, unreadable). */
interface HeldContent {
  content: string;
  holder: IdRef | null;
}

export class MgraphFormat implements StoreFormat {
  readonly name = 'mgraph' as const;
  readonly capabilities: FormatCapabilities = {
    // The by-hash ref is a read-modify-write, serialized within one process only (docs/service-layout.md).
    parallelWriters: false,
    storeAs: ['bytes', 'json', 'string'],
    storeOptions: { strategy: STRATEGIES, cache_key: null, file_id: null, json_field_path: null, content_encoding: ['gzip'] },
    // Its keys are GUIDs and hashes: names, sizes and version counts are in the refs, read per entry.
    unlisted: ['name', 'type', 'size', 'versions'],
    // A listing carries each by-hash ref's modified time; the versions' own times are in the refs.
    listedTime: 'ref_written',
  };
  readonly refs: RefWriter;
  /** The store's layout mark, written before this process first changes the store (detect.ts). */
  private marked: Promise<void> | undefined;
  private readonly now: () => Date;
  private readonly maxEntryBytes: number;

  constructor(
    readonly storage: StorageBackend,
    options: MgraphFormatOptions = {},
  ) {
    this.refs = new RefWriter(storage);
    this.now = options.now ?? (() => new Date());
    this.maxEntryBytes = options.maxEntryBytes ?? DEFAULT_MGRAPH_MAX_ENTRY_BYTES;
  }

  parseNamespace(name: string): string {
    return parseServiceNamespace(name);
  }

  async parseLookup(namespace: string, text: string): Promise<FormatLookup> {
    const ns = parseServiceNamespace(namespace);
    const value = text.trim();
    const lower = value.toLowerCase();
    if (isServiceHash(lower)) return { hash: lower };
    if (isGuid(lower)) return { cacheId: lower };
    // `<hash>-v<N>`: the Nth of the hash's versions now, as Versions numbers them (a delete renumbers those after it).
    const numbered = cacheIdParts(lower);
    if (numbered) return numbered;
    // The service keeps no full SHA-256 to check the rest of one against: say what to type instead.
    if (/^[0-9a-f]{64}$/.test(lower)) {
      throw new CacheError('invalid_hash', `a full SHA-256 cannot be checked in the service's layout (its refs keep only the cache hash): look up its first 16 characters, ${lower.slice(0, 16)}, if it is the SHA-256 of what the service hashed (the bytes, or a JSON entry's sorted JSON text)`);
    }
    if (value.includes('/')) {
      const info = await this.describeKey(value);
      if (info.namespace !== undefined && info.namespace !== ns) throw keyOfAnotherNamespace(value, info.namespace, ns);
      if (info.cache_id) return { cacheId: info.cache_id };
      if (info.hash) return { hash: info.hash };
    }
    throw new CacheError('invalid_hash', `${JSON.stringify(value.slice(0, 80))} is not a cache hash (16 hex characters), a cache id (a GUID), <hash>-v<N> or a storage key of an entry`);
  }

  private forEachPage(prefix: string, visit: (page: ListPage) => void, options: ListOptions = {}): Promise<void> {
    return forEachPage(this.storage, prefix, visit, options);
  }

  async namespaceNames(): Promise<string[]> {
    const names: string[] = [];
    await this.forEachPage('', (page) => names.push(...page.prefixes.map((p) => p.slice(0, -1)).filter(isServiceNamespace)), { delimiter: '/' });
    return names;
  }

  async namespaces(): Promise<FormatNamespace[]> {
    return mapLimit(await this.namespaceNames(), LIST_CONCURRENCY, async (name) => {
      const { entries, versions, bytes } = await this.stats(name);
      return { name, entries, versions, bytes };
    });
  }

  /**
   * Exact counts from one listing: entries = by-hash refs, versions = by-id refs, bytes = content
   * files (every copy). Names only where sizes cost a stat each (a local folder): then only the
   * content files are sized, a few at a time so the entries listing is not kept waiting.
   */
  async stats(namespace: string): Promise<FormatStats> {
    const ns = parseServiceNamespace(namespace);
    const stats: FormatStats = { name: ns, entries: 0, versions: 0, bytes: 0, objects: 0, shards: {} };
    const dataFiles = new Map<string, number | undefined>();
    const withSidecar = new Set<string>();
    await forEachKey(this.storage, `${ns}/`, (key, size) => {
      stats.objects++;
      const kind = classifyKey(key)?.kind;
      if (kind === 'ref_by_hash') {
        stats.entries++;
        const shard = key.split('/')[3]!;
        stats.shards[shard] = (stats.shards[shard] ?? 0) + 1;
      } else if (kind === 'ref_by_id') stats.versions++;
      else if (kind === 'data_file') dataFiles.set(key, size);
      else if (kind) withSidecar.add(withoutExtension(key));
    });
    const content = [...dataFiles].filter(([key]) => withSidecar.has(key));
    const sizes = await mapLimit(content, SIZE_CONCURRENCY, async ([key, size]) => size ?? (await sizeOf(this.storage, key)));
    stats.bytes = sizes.reduce((sum, size) => sum + size, 0);
    return stats;
  }

  async shardCount(namespace: string, shard: string): Promise<FormatShardCount> {
    const prefix = `${parseServiceNamespace(namespace)}/refs/by-hash/${shard}/`;
    let entries = 0;
    await forEachKey(this.storage, prefix, (key) => {
      if (classifyKey(key)?.kind === 'ref_by_hash') entries++;
    });
    return { shard, prefix, entries };
  }

  entryRows(namespace: string, options?: EntryRowsOptions) {
    return serviceEntryRows(this.storage, parseServiceNamespace(namespace), options);
  }

  sortedEntryRows(namespace: string) {
    return serviceSortedEntryRows(this.storage, parseServiceNamespace(namespace));
  }

  /** A hash's by-hash ref, its versions each listed once (distinctVersions): a prune or a delete counts versions by it. */
  async readHashRef(ns: string, hash: string): Promise<HashRef | null> {
    const ref = await this.readRef<HashRef>(refByHashKey(ns, hash), hashRefProblem, 'by-hash');
    return ref && { ...ref, cache_ids: distinctVersions(ref) };
  }

  async readIdRef(ns: string, cacheId: string): Promise<IdRef | null> {
    const ref = await this.readRef<IdRef>(refByIdKey(ns, cacheId), idRefProblem, 'by-id');
    return ref && addressedIdRef(ref, this.storage);
  }

  private async readRef<T>(key: string, problemOf: (ref: T | null) => string | null, what: string): Promise<T | null> {
    const bytes = await this.storage.get(key);
    if (!bytes) return null;
    const ref = parseJsonObject<T>(bytes);
    const problem = problemOf(ref);
    // A by-hash ref is derived from the by-id refs, so a repair can rebuild it; a by-id ref is the record itself.
    if (problem) throw new CacheError('corrupt', `${key} is not a readable ${what} ref: ${problem} (${what === 'by-hash' ? 'verify with repair rebuilds it from the by-id refs' : 'run verify'})`);
    return ref as T;
  }

  /** A hash's versions: the cache ids of its by-hash ref, oldest first, numbered 1..n. One read. */
  async versions(namespace: string, hash: string): Promise<FormatVersion[]> {
    const ns = parseServiceNamespace(namespace);
    const ref = await this.readHashRef(ns, hash.toLowerCase());
    return (ref?.cache_ids ?? []).map((e, i) => ({ version: i + 1, cache_id: e.cache_id, stored_at: iso(e.timestamp), size: null, source: '' }));
  }

  private async resolve(ns: string, lookup: FormatLookup): Promise<Resolved> {
    let cacheId: string;
    let hashRef: HashRef | null;
    if ('cacheId' in lookup) {
      cacheId = lookup.cacheId.toLowerCase();
      if (!isGuid(cacheId)) throw new CacheError('invalid_cache_id', `${JSON.stringify(lookup.cacheId.slice(0, 80))} is not a service cache id (a GUID)`);
      const idRef = await this.readIdRef(ns, cacheId);
      if (!idRef) throw new CacheError('not_found', `${cacheId} is not in namespace ${ns}`);
      // The by-id ref is enough to serve, show and delete the entry, as the service's retrieve by id
      // does: a damaged by-hash ref (verify reports it) costs only its version numbers (0, unknown).
      hashRef = await this.readHashRef(ns, idRef.cache_hash).catch((err: unknown) => {
        if (isCacheError(err) && err.code === 'corrupt') return null;
        throw err;
      });
      return { ...ordinals(hashRef, cacheId), hashRef, idRef, cacheId };
    }
    const hash = lookup.hash.toLowerCase();
    if (!isServiceHash(hash)) throw new CacheError('invalid_hash', `${JSON.stringify(lookup.hash.slice(0, 80))} is not a cache hash: expected 16 hex characters`);
    hashRef = await this.readHashRef(ns, hash);
    const what = lookup.version === undefined ? hash : `version ${lookup.version} of ${hash}`;
    const picked = lookup.version === undefined ? hashRef?.latest_id : hashRef?.cache_ids[lookup.version - 1]?.cache_id;
    if (!picked) throw new CacheError('not_found', `${what} is not in namespace ${ns}`);
    const idRef = await this.readIdRef(ns, picked);
    if (!idRef) throw new CacheError('not_found', `${what} names ${picked}, whose by-id ref is missing (run verify)`);
    // Followed, it would serve another entry's content under this hash.
    if (idRef.cache_hash !== hash) throw new CacheError('corrupt', `the by-hash ref of ${hash} is damaged: it names ${picked}, an entry of ${idRef.cache_hash}; nothing was served (run verify)`);
    return { ...ordinals(hashRef, picked), hashRef, idRef, cacheId: picked };
  }

  async record(namespace: string, lookup: FormatLookup): Promise<FormatRecord> {
    const ns = parseServiceNamespace(namespace);
    return (await this.readEntry(ns, await this.resolve(ns, lookup))).record;
  }

  /**
   * The record, and which content copy is served: the first that exists, as the service reads the
   * first listed, passing over a copy another entry has written since (its .metadata names that
   * entry: a fixed file id shared by both, as temporal_latest's `latest/` copy is). With no copy
   * left the record is still read (contentKey null), so the entry can be shown and deleted.
   */
  private async readEntry(ns: string, r: Resolved): Promise<{ record: FormatRecord; contentKey: string | null }> {
    const { idRef } = r;
    const copies = idRef.file_paths.content_files;
    let served: { key: string; first: number | undefined; metadata: Metadata | null } | null = null;
    for (const key of copies) {
      // A JSON file's first character tells a string from other JSON: the file is never read whole here.
      const first = idRef.file_type === 'json' ? await this.firstCharOf(key) : (await this.storage.exists(key)) ? undefined : null;
      if (first === null) continue;
      const copy = { key, first, metadata: parseJsonObject<Metadata>(await this.storage.get(`${key}.metadata`)) };
      const writer = copy.metadata?.data?.cache_id;
      served ??= copy; // every copy another entry's: the first, as the service serves it
      if (writer === undefined || writer === r.cacheId) {
        served = copy;
        break;
      }
    }
    const contentKey = served?.key ?? null;
    const first = served?.first;
    // The served copy's own .metadata, else any copy's, as verify reads them: it says how the service hashed.
    let metadata: Metadata | null = served?.metadata ?? null;
    for (const key of metadata ? [] : copies) {
      metadata = parseJsonObject<Metadata>(await this.storage.get(`${key}.metadata`));
      if (metadata) break;
    }
    const data = metadata?.data;
    const dataType: DataType = idRef.file_type === 'binary' ? 'binary' : first === 0x22 ? 'string' : 'json';
    const childData = childDataIn((await mapLimit(ownDataFolders(idRef), LIST_CONCURRENCY, (folder) => this.listAll(`${folder}/`))).flat());
    const record: FormatRecord = {
      format: 'mgraph',
      namespace: ns,
      hash: idRef.cache_hash,
      cache_id: r.cacheId,
      version: r.version,
      latest_version: r.latestVersion,
      // The file's own size: a .metadata kept from an earlier entry at the same path keeps its size (a service quirk).
      size: (contentKey ? await sizeOf(this.storage, contentKey) : null) ?? metadata?.content__size ?? 0,
      stored_at: iso(idRef.timestamp),
      content_type: CONTENT_TYPES[dataType],
      data_type: dataType,
      content_encoding: data?.content_encoding ?? null,
      sha256: null,
      source: '',
      details: {
        strategy: idRef.strategy,
        file_id: data?.file_id ?? null,
        cache_key: data?.cache_key || null,
        json_field_path: data?.json_field_path ?? null,
        file_type: idRef.file_type,
        served_from: contentKey,
      },
      keys: entryKeys(idRef),
      child_data: childData.map((o) => ({ key: o.key, size: o.size })),
    };
    return { record, contentKey };
  }

  /**
   * A look at big JSON without parsing it whole: the file's first bytes as stored, a string's
   * decoded; more than `previewBytes` of them, so the reader sees them cut (and so unchecked).
   */
  private async firstBytesUnchecked(key: string, dataType: DataType, previewBytes: number, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    const stream = await this.storage.getStream(key, { signal });
    if (!stream) throw new CacheError('not_found', `the content at ${key} vanished while reading it`);
    if (dataType !== 'string') return stream;
    // An escape is at most 6 bytes of file for 1 of text: this many bytes of file give more text than asked for.
    const wanted = 6 * (previewBytes + 1) + 2;
    const parts: Uint8Array[] = [];
    let read = 0;
    const chunks = stream[Symbol.asyncIterator]();
    try {
      while (read < wanted) {
        const next = await chunks.next();
        if (next.done) break;
        parts.push(next.value);
        read += next.value.byteLength;
      }
    } finally {
      await chunks.return?.();
    }
    return Readable.from([new TextEncoder().encode(jsonStringPrefix(Buffer.concat(parts).subarray(0, wanted)))]);
  }

  /** The first character of a file that is not white space (undefined: none), or null when there is no file: one chunk read, the rest left unread. */
  private async firstCharOf(key: string): Promise<number | null | undefined> {
    const stream = await this.storage.getStream(key);
    if (!stream) return null;
    const chunks = stream[Symbol.asyncIterator]();
    try {
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
        const found = firstNonSpace(next.value);
        if (found !== undefined) return found;
      }
      return undefined;
    } finally {
      await chunks.return?.();
    }
  }

  private async listAll(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    await this.forEachPage(prefix, (page) => out.push(...page.objects));
    return out;
  }

  /**
   * What the service's retrieve serves: binary bytes (gzip decoded), a string's text, JSON as
   * stored; checked against the cache hash by verify's rules, so wrong content fails `corrupt`.
   */
  async retrieve(namespace: string, lookup: FormatLookup, options: RetrieveOptions = {}): Promise<{ record: FormatRecord; content: AsyncIterable<Uint8Array> }> {
    const ns = parseServiceNamespace(namespace);
    const { record, contentKey } = await this.readEntry(ns, await this.resolve(ns, lookup));
    if (!contentKey) throw new CacheError('not_found', `the content of ${record.cache_id} is missing from storage (run verify)`);
    const vanished = () => new CacheError('not_found', `the content of ${record.cache_id} vanished while reading it`);
    // Every version has a copy of its own: storing the content again adds a version beside the corrupt one.
    const wrongHash = (hash: string, served: number) => (hash === record.hash ? null : corruptContent(record.cache_id, 'cache hash', record.hash, hash, 'delete this version, and store the content again if it is wanted: each version has a copy of its own', served));
    if (record.details.file_type === 'json') {
      const look = options.previewBytes?.(record);
      if (look !== undefined && ((await sizeOf(this.storage, contentKey)) ?? 0) > Math.max(look, CHECKED_LOOK_BYTES)) {
        return { record, content: await this.firstBytesUnchecked(contentKey, record.data_type, look, options.signal) };
      }
      // JSON hashes from its parsed value: read whole and checked before a byte is served.
      const stored = await this.storage.get(contentKey, { signal: options.signal });
      if (!stored) throw vanished();
      let hash: string;
      try {
        hash = rehashFile(stored, 'json', { contentEncoding: record.content_encoding, jsonFieldPath: fieldPathOf(record) }).hash;
      } catch (err) {
        throw new CacheError('corrupt', `the content of ${record.cache_id} is corrupt: it cannot be read back as JSON (${(err as Error).message.slice(0, 100)}); it was not served (run verify)`);
      }
      const wrong = wrongHash(hash, 0);
      if (wrong) throw new CacheError('corrupt', wrong);
      const bytes = record.data_type === 'string' ? new TextEncoder().encode(JSON.parse(new TextDecoder().decode(stored)) as string) : stored;
      return { record, content: Readable.from([bytes]) };
    }
    const stream = await this.storage.getStream(contentKey, options);
    if (!stream) throw vanished();
    const served = record.content_encoding === 'gzip' ? gunzipped(stream, record.cache_id) : stream;
    return { record, content: checkedContent(served, (sha256, bytesServed) => wrongHash(cacheHashOfSha256(sha256), bytesServed)) };
  }

  checkStoreInput(input: Pick<FormatStoreInput, 'as' | 'options'>): void {
    storeChoices(input);
  }

  /** The service's hash of this content (json_field_path and gzip options apply), nothing stored. */
  async hash(input: FormatStoreInput, options: TransferOptions = {}): Promise<FormatHashResult> {
    const c = storeChoices(input);
    const bytes = await readAllBounded(input.source, this.maxEntryBytes, options);
    return { hash: prepareContent(bytes, c.as, { jsonFieldPath: c.jsonFieldPath ?? undefined, gzip: c.gzip }).hash, size: bytes.byteLength, sha256: null };
  }

  /**
   * Writes what the service writes for the strategy (content, .config and .metadata per copy, the
   * by-id ref, then the by-hash ref), so its own retrieve finds the entry by hash and by id.
   */
  async store(namespace: string, input: FormatStoreInput, options: TransferOptions = {}): Promise<FormatStoreResult> {
    const ns = parseServiceNamespace(namespace);
    const { strategy, cacheKey, jsonFieldPath, gzip, as, fileId: givenFileId } = storeChoices(input);
    const cacheId = randomUUID();
    const fileId = givenFileId ?? cacheId;
    // Progress is the reading: the copies are written from memory after it.
    const prepared = prepareContent(await readAllBounded(input.source, this.maxEntryBytes, options), as, { jsonFieldPath: jsonFieldPath ?? undefined, gzip });
    const byHash = refByHashKey(ns, prepared.hash);
    await this.readHashRef(ns, prepared.hash); // an unreadable ref fails here, before anything is written
    const now = this.now();
    const timestamp = now.getTime();
    const fileType: FileType = prepared.dataType === 'binary' ? 'binary' : 'json';
    const paths = entryPaths(strategyFolders(ns, strategy, fileId, cacheKey, now), fileId, fileType);
    const data = { cache_hash: prepared.hash, cache_key: cacheKey, cache_id: cacheId, content_encoding: gzip ? 'gzip' : null, file_id: fileId, file_type: fileType, json_field_path: jsonFieldPath, namespace: ns, stored_at: timestamp, strategy };
    const config = configFile(fileId, cacheKey, paths.folders, fileType);
    // The last moment a cancel is honoured: once the first file is written the entry is finished
    // (the content is in memory, a few writes remain), so a cancel leaves no copy without its refs.
    if (options.signal?.aborted) throw new CacheError('cancelled', 'the store was cancelled');
    await this.keepLayoutMark();
    // What this store wrote that no other entry can name (paths under its own cache id, its by-id
    // ref): taken back if it fails, so a failed store leaves no entry the service would read by id.
    const written: string[] = [];
    const ownPaths = fileId === cacheId;
    const byId = refByIdKey(ns, cacheId);
    // Memory-FS asks whether a sidecar exists of all the entry's copies at once: with one there (a path
    // reused by key_based or a file id, temporal_latest's latest/), it writes no .config to any copy,
    // and its ref lists neither kind (each .metadata is still written). Paths under a new cache id hold none.
    const previousMetadata = ownPaths ? [] : await Promise.all(paths.contentFiles.map((c) => this.storage.get(`${c}.metadata`)));
    const metadataThere = previousMetadata.some((bytes) => bytes !== null);
    const configThere = !ownPaths && (await Promise.all(paths.contentFiles.map((c) => this.storage.exists(`${c}.config`)))).some(Boolean);
    let ref: HashRef | null;
    try {
      for (const [i, contentKey] of paths.contentFiles.entries()) {
        if (ownPaths) written.push(contentKey, `${contentKey}.config`, `${contentKey}.metadata`);
        await this.storage.put(contentKey, prepared.fileBytes);
        // Memory-FS creates .config and .metadata only when absent, then rewrites the metadata's data section:
        // an overwritten key_based or explicit file id keeps the old content__hash and size (a service quirk we keep).
        if (!configThere) await this.storage.put(`${contentKey}.config`, config, { ifAbsent: true });
        const previous = parseJsonObject<Metadata>(previousMetadata[i] ?? null);
        const metadata: Metadata = previous
          ? { ...previous, data }
          : { content__hash: contentMd5(prepared.fileBytes), chain_hash: null, previous_version_path: null, content__size: prepared.fileBytes.byteLength, tags: [], timestamp, data };
        await this.storage.put(`${contentKey}.metadata`, metadataFile(metadata));
      }
      const idRef: IdRef = {
        all_paths: { data: paths.data.filter((key) => !(configThere && key.endsWith('.config')) && !(metadataThere && key.endsWith('.metadata'))), by_hash: [byHash], by_id: [byId] },
        cache_id: cacheId,
        cache_hash: prepared.hash,
        file_paths: { content_files: paths.contentFiles, data_folders: paths.dataFolders },
        file_type: fileType,
        namespace: ns,
        strategy,
        timestamp,
      };
      written.push(byId);
      // The service writes the by-hash ref first; we write it last, so a crash never leaves it naming a missing by-id ref.
      await this.storage.put(byId, dumps(idRef, 2));
      ref = await this.refs.update(byHash, (current) => {
        const entry = { cache_id: cacheId, timestamp };
        if (!current) return { cache_hash: prepared.hash, cache_ids: [entry], latest_id: cacheId, total_versions: 1 };
        if (!isHashRef(current)) throw new CacheError('conflict', `${byHash} became unreadable while storing; ${byId} is written, run verify with repair`);
        return { cache_hash: current.cache_hash, cache_ids: [...current.cache_ids, entry], latest_id: cacheId, total_versions: current.total_versions + 1 };
      });
    } catch (err) {
      await this.takeBack(ns, prepared.hash, cacheId, written);
      throw err;
    }
    return {
      namespace: ns,
      hash: prepared.hash,
      cache_id: cacheId,
      version: distinctVersions(ref!).length,
      size: prepared.fileBytes.byteLength,
      // Not recorded by this layout, but what a script needs to tell one result of a folder's store from another.
      source: input.name ?? '',
      // The ref as this store updated it: of stores racing with new content, only the first finds no version before its own.
      deduplicated: distinctVersions(ref!).length > 1,
      keys: [...paths.data, byId, byHash],
    };
  }

  /**
   * Removes what a failed store wrote (best effort: what cannot be removed is left for verify, which
   * calls it orphan), unless the by-hash ref names the version after all (a write reported failed
   * after it landed): then every file stays, as that ref needs them.
   */
  private async takeBack(ns: string, hash: string, cacheId: string, written: string[]): Promise<void> {
    const listed = await this.readHashRef(ns, hash).catch(() => null);
    if (listed?.cache_ids.some((e) => e.cache_id === cacheId)) return;
    for (const key of written.reverse()) await this.storage.delete(key).catch(() => undefined);
  }

  /**
   * Deletes as the service's delete_by_id does (data files, by-id ref, by-hash ref updated or
   * removed) and also the entry's child data, which the service leaves behind. Refs go first, so
   * a crash leaves orphan content (verify reports it), never a ref to missing content.
   */
  private keepLayoutMark(options: { freesSpace?: boolean } = {}): Promise<void> {
    this.marked ??= markLayout(this.storage, 'mgraph', options).catch((err: unknown) => {
      this.marked = undefined; // tried again by the next write
      throw err;
    });
    return this.marked;
  }

  /**
   * Refuses a delete of `ref`'s versions unless they are those seen: in the entry panel, their count
   * and newest; in a list, which cannot count them, their by-hash ref as it was written then (read
   * before this looks, so a rewrite since the read is caught too).
   */
  private async assertAsSeen(ns: string, hash: string, ref: HashRef, seen: VersionsSeen): Promise<void> {
    const newest = ref.cache_ids[ref.cache_ids.length - 1];
    if (seen.versions !== null) {
      if (ref.cache_ids.length !== seen.versions || seen.version !== ref.cache_ids.length || !newest || iso(newest.timestamp) !== seen.storedAt) throw changedSinceSeen(hash, seen, ref.cache_ids.length);
      return;
    }
    const key = refByHashKey(ns, hash);
    const written = (await this.storage.list(key, { limit: 1 })).objects.find((o) => o.key === key)?.modified;
    // Two writes in one tick of the store's clock (S3 keeps whole seconds) look alike: a ref written in the second
    // before the listing began may have been written again after it, unseen. A list taken later tells them apart.
    const racy = written !== undefined && seen.listedFrom !== undefined && Date.parse(written) >= seen.listedFrom - REF_TIME_GRAIN_MS;
    if (written !== seen.storedAt || racy) throw changedSinceSeen(hash, seen, null);
  }

  async delete(namespace: string, lookup: FormatLookup): Promise<FormatDeleteResult> {
    const ns = parseServiceNamespace(namespace);
    assertWritable(this.storage, `delete ${'cacheId' in lookup ? lookup.cacheId : lookup.hash}`);
    let targets: string[];
    // The service layout lists no content without a version (its rows are by-hash refs): nothing to delete so.
    if ('hash' in lookup && lookup.unversioned) throw new CacheError('not_found', `${lookup.hash} in ${ns}: the service layout lists no content without a version`);
    if ('hash' in lookup && lookup.seen && lookup.version !== undefined) throw new CacheError('invalid_input', 'a delete of versions as seen names no version');
    if ('hash' in lookup && lookup.version === undefined) {
      const ref = await this.readHashRef(ns, lookup.hash.toLowerCase());
      if (!ref) throw new CacheError('not_found', `${lookup.hash} is not in namespace ${ns}`);
      targets = ref.cache_ids.map((e) => e.cache_id);
      if (lookup.seen) await this.assertAsSeen(ns, lookup.hash.toLowerCase(), ref, lookup.seen);
    } else {
      targets = [(await this.resolve(ns, lookup)).cacheId];
    }
    // Every ref of the versions to delete is read before anything changes: an unreadable one refuses
    // the delete whole (a by-hash ref rewritten and then an error would hide a healthy version).
    const idRefs = new Map<string, IdRef | null>();
    for (const cacheId of targets) idRefs.set(cacheId, await this.readIdRef(ns, cacheId));
    // A damaged by-hash ref may list another hash's entry: deleted as this hash's version, that entry would go.
    const asked = 'hash' in lookup ? lookup.hash.toLowerCase() : null;
    const foreign = [...idRefs].find(([, idRef]) => asked !== null && idRef !== null && idRef.cache_hash !== asked);
    if (foreign) throw new CacheError('corrupt', `the by-hash ref of ${asked} is damaged: it names ${foreign[0]}, an entry of ${foreign[1]!.cache_hash}; nothing was deleted (run verify)`);
    await this.keepLayoutMark({ freesSpace: true }); // the last entry deleted, the store still opens in this layout
    let contentRemoved = false;
    let bytesFreed = 0;
    const typed = (err: unknown) => (isCacheError(err) ? err : new CacheError('internal', err instanceof Error ? err.message : String(err)));
    const deleteVersion = async (cacheId: string) => {
      const idRef = idRefs.get(cacheId)!;
      const hash = idRef?.cache_hash ?? ('hash' in lookup ? lookup.hash.toLowerCase() : null);
      // Decided before this version's refs change: what other entries hold, and its child data.
      const heldByOthers = idRef ? await this.contentHeldByOthers(ns, cacheId, idRef) : [];
      const childData = idRef ? await this.childDataOf(ns, idRef) : [];
      if (hash) {
        const left = await this.refs.update(refByHashKey(ns, hash), (current) => {
          if (!current || !isHashRef(current)) return current;
          const cacheIds = current.cache_ids.filter((e) => e.cache_id !== cacheId);
          if (cacheIds.length === 0) return null;
          const latest = current.latest_id === cacheId ? cacheIds[cacheIds.length - 1]!.cache_id : current.latest_id;
          return { ...current, cache_ids: cacheIds, latest_id: latest, total_versions: cacheIds.length };
        }, { freesSpace: true });
        // The hash has no version left (as in the native layout; the bytes freed say what went, which
        // is nothing where another entry holds its file, or its ref named none of its own).
        contentRemoved = left === null;
      }
      // No ref read: nothing of this version's is there to delete (or something that is no ref, left as found).
      if (!idRef) return;
      // Its files go before its by-id ref, content first: a delete stopped part-way (killed, or a file
      // that cannot be removed) leaves the by-id ref naming what is left, so deleting it again finishes
      // (verify calls it an orphan whose content is gone), rather than files no ref claims.
      const contentFiles = new Set(idRef.file_paths.content_files);
      const files = [...ownDataFiles(ns, idRef), ...childData].sort((a, b) => Number(contentFiles.has(b)) - Number(contentFiles.has(a)));
      for (const key of files) {
        const held = heldByOthers.some(({ content }) => key === content || key.startsWith(`${content}.`) || key.startsWith(`${withoutExtension(content)}/data/`));
        if (held) continue;
        try {
          const size = contentFiles.has(key) ? await sizeOf(this.storage, key) : null;
          await this.storage.delete(key);
          bytesFreed += size ?? 0;
        } catch (err) {
          const why = typed(err);
          throw new CacheError(why.code, `${cacheId} is not deleted whole: ${key} could not be removed (${why.message}); its by-id ref names what is left, delete it again to finish`);
        }
      }
      for (const { content, holder } of heldByOthers) {
        if (!holder) continue;
        await this.metadataToHolder(content, idRef, holder).catch((err: unknown) => {
          const why = typed(err);
          throw new CacheError(why.code, `${cacheId} is not deleted whole: ${content}.metadata, which names it, could not be pointed at ${holder.cache_id}, which keeps the file (${why.message}); delete it again to finish`);
        });
      }
      await this.storage.delete(refByIdKey(ns, cacheId)).catch((err: unknown) => {
        const why = typed(err);
        throw new CacheError(why.code, `${cacheId} is not deleted whole: its files are gone, but its by-id ref ${refByIdKey(ns, cacheId)} could not be removed (${why.message}); delete it again to finish`);
      });
    };
    const deleted: string[] = [];
    for (const cacheId of targets) {
      try {
        await deleteVersion(cacheId);
      } catch (err) {
        // Versions deleted before this one are gone: the error says so, as no listing shows them any more.
        if (deleted.length === 0) throw err;
        const why = typed(err);
        throw new CacheError(why.code, `${why.message}; deleted before it: ${deleted.join(', ')}`, { cause: err });
      }
      deleted.push(cacheId);
    }
    return { deleted: targets, contentRemoved, bytesFreed };
  }

  /**
   * Content files of an entry that another entry names too, which deleting this one must leave (with
   * their sidecars and child data): the service's key_based strategy and explicit file ids reuse a
   * path, so a second store of the same content there, or of other content written over it, names the
   * same file. The file's current hash says which entries to ask: this entry's, and the hash of what
   * was written over it (overwrittenBy). An unreadable ref that may name the file keeps it.
   */
  private async contentHeldByOthers(ns: string, cacheId: string, idRef: IdRef): Promise<HeldContent[]> {
    const held: HeldContent[] = [];
    for (const content of idRef.file_paths.content_files.filter((c) => insideNamespace(ns, c))) {
      const hashes = new Set([idRef.cache_hash, ...(await this.overwrittenBy(content, idRef))]);
      /** The newest other entry of `hash` naming the file; null when one may (its ref unreadable); false when none does. */
      const holderOf = async (hash: string): Promise<IdRef | null | false> => {
        const ref = await this.readHashRef(ns, hash).catch(unreadableRef);
        if (ref === 'unreadable') return null;
        for (const other of [...(ref?.cache_ids ?? [])].reverse()) {
          if (other.cache_id === cacheId) continue;
          // A ref that cannot be read may name the file: it is kept (a leftover verify shows, not a loss).
          const theirs = await this.readIdRef(ns, other.cache_id).catch(unreadableRef);
          if (theirs === 'unreadable') return null;
          if (theirs?.file_paths.content_files.includes(content)) return theirs;
        }
        return false;
      };
      for (const hash of hashes) {
        const holder = await holderOf(hash);
        if (holder === false) continue;
        held.push({ content, holder });
        break;
      }
    }
    return held;
  }

  /**
   * A file another entry keeps names, in its .metadata, the entry that stored it last: with that one
   * deleted it names the newest entry of the same content that holds it, as the service reads it
   * (its retrieve_by_hash gave the deleted cache id, and a lookup by the file's key found nothing).
   */
  private async metadataToHolder(content: string, deleted: IdRef, holder: IdRef): Promise<void> {
    const key = `${content}.metadata`;
    const metadata = parseJsonObject<Metadata>(await this.storage.get(key));
    if (metadata?.data?.cache_id !== deleted.cache_id || holder.cache_hash !== deleted.cache_hash) return;
    await this.storage.put(key, metadataFile({ ...metadata, data: { ...metadata.data, cache_id: holder.cache_id, stored_at: holder.timestamp } }), { freesSpace: true });
  }

  /** An entry's child data to delete with it: none from a data folder another entry shares, none outside its namespace. */
  private async childDataOf(ns: string, idRef: IdRef): Promise<string[]> {
    const folders = ownDataFolders(idRef).filter((f) => insideNamespace(ns, f));
    const found = await mapLimit(folders, LIST_CONCURRENCY, async (f) => ((await this.dataFolderShared(f, idRef)) ? [] : this.listAll(`${f}/`)));
    return childDataIn(found.flat()).map((o) => o.key);
  }

  /**
   * Whether a data folder (`<stem>/data`) is another entry's too: the service names it after a
   * content file without its extension, so a JSON and a binary stored under one key_based path or
   * file id (`<stem>.json`, `<stem>.bin`) share it. Any content file of that stem other than this
   * entry's own keeps the folder, child data and all (one this entry shares with another is kept by
   * contentHeldByOthers).
   */
  private async dataFolderShared(folder: string, idRef: IdRef): Promise<boolean> {
    const stem = folder.slice(0, -'/data'.length);
    const own = new Set(idRef.file_paths.content_files);
    const siblings = await this.listAll(`${stem}.`);
    return siblings.some(({ key }) => !key.slice(stem.length + 1).includes('/') && classifyKey(key)?.kind === 'data_file' && !own.has(key));
  }

  /**
   * The hashes of other content written over this entry's file since (none when it still holds this
   * entry's, or cannot be read): the one its .metadata sidecar names (the service rewrites it with
   * every store), and, up to OVERWRITE_CHECK_BYTES, the file's own, re-hashed.
   */
  private async overwrittenBy(content: string, idRef: IdRef): Promise<string[]> {
    const metadata = parseJsonObject<Metadata>(await this.storage.get(`${content}.metadata`))?.data;
    const hashes = new Set<string>();
    if (typeof metadata?.cache_hash === 'string' && isServiceHash(metadata.cache_hash)) hashes.add(metadata.cache_hash);
    const size = await sizeOf(this.storage, content);
    if (size !== null && size <= OVERWRITE_CHECK_BYTES) {
      const bytes = await this.storage.get(content);
      try {
        hashes.add(rehashFile(bytes ?? new Uint8Array(), idRef.file_type === 'binary' ? 'binary' : 'json', { contentEncoding: metadata?.content_encoding ?? null, jsonFieldPath: metadata?.json_field_path ?? null }).hash);
      } catch {
        // unreadable: corrupt, not another entry's
      }
    }
    hashes.delete(idRef.cache_hash);
    return [...hashes];
  }

  verify(options: FormatVerifyOptions = {}): Promise<FormatVerifyReport> {
    return verifyServiceStore(this, options);
  }

  async describeKey(key: string): Promise<FormatKeyInfo> {
    const found = (await this.storage.list(key, { limit: 1 })).objects.find((o) => o.key === key);
    const base = { key, ...(found ? { size: found.size, modified: found.modified } : {}) };
    const c = classifyKey(key);
    if (!c) return { ...base, kind: 'unknown', explanation: 'not a key of the service layout' };
    const ns = c.namespace;
    if (c.kind === 'ref_by_hash') {
      return { ...base, kind: c.kind, namespace: ns, hash: c.id, explanation: `by-hash ref: the cache ids stored with hash ${c.id}, oldest first, and the latest` };
    }
    if (c.kind === 'ref_by_id') {
      const ref = parseJsonObject<IdRef>(await this.storage.get(key));
      return { ...base, kind: c.kind, namespace: ns, cache_id: c.id, hash: ref?.cache_hash, explanation: `by-id ref of ${c.id}: its hash, strategy and every path it uses` };
    }
    if (c.kind === 'sidecar_config' || c.kind === 'sidecar_metadata') {
      const content = withoutExtension(key);
      const ids = await this.idsOfContent(content);
      const what = c.kind === 'sidecar_config' ? 'config sidecar (file id, paths, type)' : 'metadata sidecar (cache hash, id, strategy, encoding, size)';
      return { ...base, kind: c.kind, namespace: ns, ...ids, explanation: `${what} of ${content}` };
    }
    const own = await this.idsOfContent(key);
    if (own.cache_id) return { ...base, kind: 'content', namespace: ns, ...own, explanation: `content of ${own.cache_id}` };
    for (const stem of childDataStems(key)) {
      for (const ext of ['json', 'bin']) {
        const ids = await this.idsOfContent(`${stem}.${ext}`);
        if (ids.cache_id) return { ...base, kind: 'child_data', namespace: ns, ...ids, explanation: `child data of ${ids.cache_id} (stored beside its content, not hashed)` };
      }
    }
    return { ...base, kind: 'unknown', namespace: ns, explanation: 'under data/ but no content file claims it (no sidecars): an orphan' };
  }

  /** The cache id and hash a content file's .metadata names. */
  private async idsOfContent(contentKey: string): Promise<{ cache_id?: string; hash?: string }> {
    const meta = parseJsonObject<Metadata>(await this.storage.get(`${contentKey}.metadata`).catch(() => null));
    return meta?.data?.cache_id ? { cache_id: meta.data.cache_id, hash: meta.data.cache_hash } : {};
  }

  listKeys(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    return this.storage.list(prefix, options);
  }
}

function storeChoices(input: Pick<FormatStoreInput, 'as' | 'options'>): StoreChoices {
  const { strategy, cache_key, file_id, json_field_path, content_encoding, ...unknown } = input.options ?? {};
  const others = Object.keys(unknown);
  if (others.length) throw new CacheError('invalid_input', `the service layout takes no store option ${others.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}: it takes strategy, cache_key, file_id, json_field_path and content_encoding`);
  const gzip = content_encoding === 'gzip';
  if (content_encoding && !gzip) throw new CacheError('invalid_input', `content encoding ${JSON.stringify(content_encoding.slice(0, 20))} is not supported: only gzip`);
  const as: DataType = input.as === 'json' ? 'json' : input.as === 'string' ? 'string' : 'binary';
  const jsonFieldPath = json_field_path ? parseFieldPath(json_field_path) : null;
  if (jsonFieldPath && as !== 'json') throw new CacheError('invalid_input', 'json_field_path applies to JSON content only');
  if (gzip && as !== 'binary') throw new CacheError('invalid_input', 'gzip applies to binary content only');
  return {
    strategy: parseStrategy(strategy ?? DEFAULT_STRATEGY),
    cacheKey: cache_key ? parseCacheKey(cache_key) : '',
    fileId: file_id ? parseFileId(file_id) : null,
    jsonFieldPath,
    gzip,
    as,
  };
}

/** A binary copy stored gzip-encoded, decoded as the service serves it; bytes that are not gzip are corrupt. */
async function* gunzipped(stream: AsyncIterable<Uint8Array>, cacheId: string): AsyncIterable<Uint8Array> {
  try {
    yield* pipeline(stream, createGunzip(), () => undefined);
  } catch (err) {
    if (!String((err as NodeJS.ErrnoException).code).startsWith('Z_')) throw err;
    throw new CacheError('corrupt', `the content of ${cacheId} is corrupt: it is marked gzip and does not decode (${(err as Error).message}); it was not served in full (run verify)`);
  }
}

function fieldPathOf(record: FormatRecord): string | null {
  const path = record.details.json_field_path;
  return typeof path === 'string' ? path : null;
}

function ordinals(ref: HashRef | null, cacheId: string): { version: number; latestVersion: number } {
  const ids = ref?.cache_ids.map((e) => e.cache_id) ?? [];
  return { version: ids.indexOf(cacheId) + 1, latestVersion: ids.indexOf(ref?.latest_id ?? '') + 1 };
}

/** The text of a JSON string's first bytes (`"…`, cut anywhere): escapes decoded; an escape or a UTF-8 sequence cut short is left out. */
export function jsonStringPrefix(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes, { stream: true }); // holds back a cut UTF-8 sequence
  const start = text.indexOf('"') + 1;
  let end = start;
  while (end < text.length && text[end] !== '"') {
    const length = text[end] !== '\\' ? 1 : text[end + 1] === 'u' ? 6 : 2;
    if (end + length > text.length) break;
    end += length;
  }
  try {
    return JSON.parse(`"${text.slice(start, end)}"`) as string;
  } catch {
    return ''; // not a JSON string: verify and get say what is wrong with it
  }
}

function firstNonSpace(bytes: Uint8Array): number | undefined {
  return bytes.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
}

function entryKeys(idRef: IdRef): EntryKey[] {
  const copyOf = (key: string) => (key.includes('/latest/') ? ' (latest copy)' : key.includes('/versions/') ? ' (versions copy)' : '');
  const data = idRef.all_paths.data.map((key) => ({
    key,
    role: key.endsWith('.config') ? `config sidecar${copyOf(key)}` : key.endsWith('.metadata') ? `metadata sidecar${copyOf(key)}` : `content${copyOf(key)}`,
  }));
  return [...data, ...idRef.all_paths.by_id.map((key) => ({ key, role: 'by-id ref' })), ...idRef.all_paths.by_hash.map((key) => ({ key, role: 'by-hash ref' }))];
}
