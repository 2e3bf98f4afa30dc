/**
 * The service's JSON files: its two refs and the .config/.metadata sidecars, byte for byte as it
 * writes them, and the read-modify-write of a by-hash ref.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pythonJsonDumpsValue } from '../../../../src-shared/canonical-json';
import { CacheError } from '../../../../src-shared/errors';
import { cacheHashOf } from '../../hashing';
import { KeyedLock } from '../../keyed-lock';
import { holdingLease } from '../../lease';
import { ADMIN_PREFIX } from '../../retention/policy';
import type { S3Storage } from '../../storage/s3';
import { isNotFound, s3Status } from '../../storage/s3-errors';
import type { StorageBackend } from '../../storage/types';
import { EXTENSION, STRATEGIES, entryPaths, isServiceCacheHash, isServiceCacheId, refByHashKey, refByIdKey, strategyFolders, withoutExtension, type FileType, type Strategy } from './keys';

export interface HashRef {
  cache_hash: string;
  cache_ids: { cache_id: string; timestamp: number }[];
  latest_id: string;
  total_versions: number;
}

/**
 * A by-hash ref's versions: each cache id once, where it was listed last. The service appends a
 * store again under a cache id it is given (a retry), so a ref can list one id twice; it is still one
 * version (one by-id ref, one set of files), and the service's latest_id is the last one listed.
 */
export function distinctVersions(ref: HashRef): HashRef['cache_ids'] {
  const last = new Map(ref.cache_ids.map((e, i) => [e.cache_id, i]));
  return ref.cache_ids.filter((e, i) => last.get(e.cache_id) === i);
}

export interface IdRef {
  all_paths: { data: string[]; by_hash: string[]; by_id: string[] };
  cache_id: string;
  cache_hash: string;
  file_paths: { content_files: string[]; data_folders: string[] };
  file_type: FileType;
  namespace: string;
  strategy: Strategy;
  timestamp: number;
}

export interface MetadataData {
  cache_hash: string;
  cache_key: string;
  cache_id: string;
  content_encoding: string | null;
  file_id: string;
  file_type: FileType;
  json_field_path: string | null;
  namespace: string;
  stored_at: number;
  strategy: Strategy;
}

export interface Metadata {
  content__hash: string;
  chain_hash: null;
  previous_version_path: null;
  content__size: number;
  tags: string[];
  timestamp: number;
  data: MetadataData;
}

const FILE_TYPES = {
  json: { name: 'json', content_type: 'application/json; charset=utf-8', file_extension: 'json', encoding: 'utf-8', serialization: 'json' },
  binary: { name: 'binary', content_type: 'application/octet-stream', file_extension: 'bin', encoding: null, serialization: 'binary' },
} as const;

const encoder = new TextEncoder();
/** Refs are written with indent=2 (Memory-FS's json serializer), sidecars with indent=4 (osbot's json_dumps). */
export const dumps = (value: unknown, indent: 2 | 4) => encoder.encode(pythonJsonDumpsValue(value, { indent, sortKeys: false }));

export function configFile(fileId: string, cacheKey: string, folders: string[], fileType: FileType): Uint8Array {
  return dumps({ exists_strategy: 'first', file_id: fileId, file_key: cacheKey, file_paths: folders, file_type: FILE_TYPES[fileType] }, 4);
}

export function metadataFile(metadata: Metadata): Uint8Array {
  return dumps(metadata, 4);
}

/** Parses a ref or sidecar; null when the bytes are not a JSON object. */
export function parseJsonObject<T>(bytes: Uint8Array | null): T | null {
  if (!bytes) return null;
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as T) : null;
  } catch {
    return null;
  }
}

/**
 * A by-id ref rebuilt from the files of its entry (content files whose .metadata names its cache id,
 * as every store rewrites it): what the service wrote for the strategy, when those files are where it
 * puts them, else the files found. Null when their sidecars do not say what the ref needs.
 */
export function idRefFromSidecars(ns: string, cacheId: string, found: { content: string; data: MetadataData }[], exists: (key: string) => boolean): IdRef | null {
  const [first] = found;
  if (!first) return null;
  const { cache_hash: hash, strategy, file_type: fileType, stored_at: timestamp, file_id: fileId, cache_key: cacheKey } = first.data;
  const agree = found.every(({ data }) => data.cache_hash === hash && data.strategy === strategy && data.file_type === fileType);
  if (!agree || !isServiceCacheHash(hash) || !(STRATEGIES as readonly string[]).includes(strategy) || !(fileType in EXTENSION) || typeof timestamp !== 'number') return null;
  const contents = found.map((f) => f.content);
  const expected = typeof fileId === 'string' && typeof cacheKey === 'string' ? entryPaths(strategyFolders(ns, strategy, fileId, cacheKey, new Date(timestamp)), fileId, fileType) : null;
  // The copies found are the strategy's (a temporal folder is the host's local time, which may have moved since).
  const whole = expected !== null && contents.length === expected.contentFiles.length && contents.every((c) => expected.contentFiles.includes(c));
  const contentFiles = whole ? expected.contentFiles : [...contents].sort();
  return {
    all_paths: { data: contentFiles.flatMap((c) => [c, `${c}.config`, `${c}.metadata`]).filter(exists).sort(), by_hash: [refByHashKey(ns, hash)], by_id: [refByIdKey(ns, cacheId)] },
    cache_id: cacheId,
    cache_hash: hash,
    file_paths: { content_files: contentFiles, data_folders: contentFiles.map((c) => `${withoutExtension(c)}/data`) },
    file_type: fileType,
    namespace: ns,
    strategy,
    timestamp,
  };
}

/**
 * An entry's data files: what its ref lists, and the two sidecars of each content file it lists,
 * listed or not (the service lists a sidecar only in the ref of the store that created it, not in
 * those of later stores at the same path: a key_based cache key or a file id stored again; and it
 * may not have written one, so these may be absent).
 */
export function dataFilesOf(ref: IdRef): string[] {
  const files = new Set(ref.all_paths.data);
  for (const content of ref.file_paths.content_files.filter((c) => files.has(c))) files.add(`${content}.config`).add(`${content}.metadata`);
  return [...files];
}

/** Where an entry's child data may be; the service writes "" when it has no folder for it (a cache key with ".." or "//"). */
export function dataFoldersOf(idRef: IdRef): string[] {
  return idRef.file_paths.data_folders.filter((folder) => folder !== '');
}

/** A time as the service writes one: milliseconds since 1970, a number a date can hold. */
function isServiceTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 8.64e15;
}

/** What is wrong with a by-hash ref, in a few words, or null when it has the shape the service writes. */
export function hashRefProblem(value: HashRef | null): string | null {
  if (!value || typeof value.latest_id !== 'string' || !Array.isArray(value.cache_ids)) return 'not JSON of the expected shape';
  const bad = value.cache_ids.find((e) => !e || typeof e.cache_id !== 'string' || !isServiceTime(e.timestamp));
  if (bad) return `a cache id is listed without a time (${JSON.stringify(bad).slice(0, 80)})`;
  // Each names a by-id ref to read and delete: one that is no cache id (a path, say) is damage, never a key.
  const notIds = value.cache_ids.filter((e) => !isServiceCacheId(e.cache_id));
  if (notIds.length > 0) return `it lists ${JSON.stringify(notIds[0]!.cache_id.slice(0, 80))}${notIds.length > 1 ? ` and ${notIds.length - 1} more` : ''} as a cache id, not a GUID`;
  // "": none (the service's retrieve by hash finds nothing); a by-hash ref it writes always has one.
  if (value.latest_id !== '' && !isServiceCacheId(value.latest_id)) return `its latest_id is ${JSON.stringify(value.latest_id.slice(0, 80))}, not a cache id (a GUID)`;
  return null;
}

/** What is wrong with a by-id ref, in a few words, or null when it has the shape the service writes. */
export function idRefProblem(value: IdRef | null): string | null {
  if (!value || typeof value.cache_hash !== 'string' || !Array.isArray(value.file_paths?.content_files) || !Array.isArray(value.all_paths?.data)) return 'not JSON of the expected shape';
  // It names the entry's by-hash ref, which a delete and a repair rewrite: one that is no cache hash (a path, say) is never followed.
  if (!isServiceCacheHash(value.cache_hash)) return `its cache_hash is ${JSON.stringify(value.cache_hash.slice(0, 80))}, not a cache hash (10-96 hex characters)`;
  // Without these, its content cannot be told apart from corrupt content, nor its age from any other.
  if (value.file_paths.content_files.length === 0) return 'it lists no content file';
  if (!Object.hasOwn(EXTENSION, String(value.file_type))) return `its file_type is ${JSON.stringify(value.file_type) ?? 'missing'}, not json or binary`;
  if (!isServiceTime(value.timestamp)) return `its timestamp is ${JSON.stringify(value.timestamp) ?? 'missing'}, not a time`;
  return null;
}

export const isHashRef = (value: HashRef | null): value is HashRef => hashRefProblem(value) === null;
export const isIdRef = (value: IdRef | null): value is IdRef => idRefProblem(value) === null;

/**
 * A by-id ref read from `storage`, every data path as that backend addresses it (addressOf): one file
 * is one key however the service spelled it (`x/../y` is `y` in a folder, an object of its own on S3),
 * so no check compares two spellings of one file, or reads one file for another. A path that names
 * nothing the backend may touch is kept as written: it is inside no namespace (insideNamespace).
 * Only for reading: refs are written from what a store computes, never from this.
 */
export function addressedIdRef(ref: IdRef, storage: Pick<StorageBackend, 'addressOf'>): IdRef {
  const at = (key: string) => {
    if (typeof key !== 'string' || key === '') return key; // "": the service's "no folder" (dataFoldersOf)
    try {
      return storage.addressOf(key);
    } catch {
      return key;
    }
  };
  const dataFolders = Array.isArray(ref.file_paths.data_folders) ? ref.file_paths.data_folders.map(at) : [];
  return { ...ref, file_paths: { ...ref.file_paths, content_files: ref.file_paths.content_files.map(at), data_folders: dataFolders }, all_paths: { ...ref.all_paths, data: ref.all_paths.data.map(at) } };
}

const CONFLICT_RETRIES = 8;
const TOMBSTONE_STALE_MS = 10_000;
const TOMBSTONE_POLL_MS = 50;
/** A ref update takes milliseconds: a lease left unrefreshed this long is a killed process's (the longest a store waits for one). */
const REF_LEASE_STALE_MS = 10_000;

/**
 * Read-modify-write of one by-hash ref. On S3 with conditional writes it is an ETag-conditional
 * PUT (If-Match, or If-None-Match for a new ref), retried on conflict. Elsewhere (a local folder)
 * it holds a lease on the ref (core/lease.ts) for the read and the write. Either way concurrent
 * writers in any process never lose an update (see docs/service-layout.md). `change` returns
 * null to delete.
 */
export class RefWriter {
  private readonly lock = new KeyedLock();

  constructor(private readonly storage: StorageBackend) {}

  async update(key: string, change: (current: HashRef | null) => HashRef | null, options: { freesSpace?: boolean } = {}): Promise<HashRef | null> {
    if (isS3(this.storage) && this.storage.capabilities.conditionalWrites) return this.updateS3(this.storage, key, change);
    return this.lock.run(key, async () => {
      for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
        const done = await holdingLease(
          this.storage,
          refLeaseKey(key),
          async (stillHeld) => {
            const next = change(parseJsonObject<HashRef>(await this.storage.get(key)));
            // Taken over while this process was paused: the ref may have changed since it was read.
            if (!(await stillHeld())) return null;
            if (next) await this.storage.put(key, dumps(next, 2), options);
            else await this.storage.delete(key);
            return { next };
          },
          { staleMs: REF_LEASE_STALE_MS },
        );
        if (done) return done.next;
      }
      throw new CacheError('conflict', `${key} kept changing under concurrent writers; nothing was changed, try again`);
    });
  }

  /**
   * S3 deletes are unconditional, so removing a ref's last cache id takes two steps: a tombstone
   * (the ref with no cache ids, latest_id kept, which the service reads as the entry being gone)
   * written If-Match, which fails if a store changed the ref since it was read, then the delete.
   * Writers wait for a tombstone to go instead of writing over it; one that stays TOMBSTONE_STALE_MS
   * belongs to a killed deleter and counts as no ref.
   */
  private async updateS3(s3: S3Storage, key: string, change: (current: HashRef | null) => HashRef | null): Promise<HashRef | null> {
    // Loaded on demand, as open-store does: the SDK is slow to load and local folders never need it.
    const { GetObjectCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
    const { bucket, prefix = '' } = s3.config;
    const Key = `${prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`}${key}`;
    /** Writes `ref` if the object is still as read (`etag`, or absent when null); false when it changed meanwhile. */
    const putIfUnchanged = async (ref: HashRef, etag: string | null): Promise<boolean> => {
      try {
        await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: dumps(ref, 2), ContentType: 'application/json', ...(etag ? { IfMatch: etag } : { IfNoneMatch: '*' }) }));
        return true;
      } catch (err) {
        const status = s3Status(err);
        // 404 to an If-Match: the ref was deleted since it was read (Ceph RGW says NoSuchKey), a conflict like 412.
        if (status === 412 || status === 409 || (status === 404 && etag !== null)) return false;
        throw s3Failure(err, key);
      }
    };
    const readRef = async (): Promise<{ ref: HashRef | null; etag: string } | null> => {
      try {
        const out = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key }));
        return { ref: parseJsonObject<HashRef>(await out.Body!.transformToByteArray()), etag: out.ETag! };
      } catch (err) {
        if (!isNotFound(err)) throw s3Failure(err, key);
        return null;
      }
    };
    let tombstoneSeen = null as { etag: string; since: number } | null;
    for (let conflicts = 0; conflicts < CONFLICT_RETRIES; ) {
      const read = await readRef();
      let current = read?.ref ?? null;
      if (read && isTombstone(current)) {
        if (tombstoneSeen?.etag !== read.etag) tombstoneSeen = { etag: read.etag, since: Date.now() };
        if (Date.now() - tombstoneSeen.since < TOMBSTONE_STALE_MS) {
          await sleep(TOMBSTONE_POLL_MS);
          continue;
        }
        current = null;
      }
      const next = change(current);
      if (next) {
        if (await putIfUnchanged(next, read?.etag ?? null)) return next;
      } else if (!read) {
        return null;
      } else if (await putIfUnchanged({ ...(current ?? read.ref!), cache_ids: [], total_versions: 0 }, read.etag)) {
        await s3.delete(key);
        return null;
      }
      conflicts++;
    }
    throw new CacheError('conflict', `${key} kept changing under concurrent writers; nothing was changed, try again`);
  }
}

/** A ref whose last cache id a deleter is removing (see RefWriter.updateS3). */
function isTombstone(ref: HashRef | null): boolean {
  return isHashRef(ref) && ref.cache_ids.length === 0;
}

/** Flat, so taking and dropping a lease makes and prunes one folder at most. */
function refLeaseKey(key: string): string {
  return `${ADMIN_PREFIX}leases/refs/${cacheHashOf(key)}.json`;
}

function isS3(storage: StorageBackend): storage is S3Storage {
  const s = storage as Partial<S3Storage>;
  return typeof s.client?.send === 'function' && typeof s.config?.bucket === 'string';
}

function s3Failure(err: unknown, key: string): CacheError {
  const name = (err as { name?: string }).name ?? 'error';
  return new CacheError('storage_unreachable', `could not update ${key} (${name})`, { cause: err });
}
