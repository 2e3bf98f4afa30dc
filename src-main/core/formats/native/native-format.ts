/** The native layout as a store format: CacheService and verifyStore, wrapped, their behaviour unchanged. */
import type { VersionRecord } from '../../../../src-shared/domain';
import { parseCacheHash, parseCacheId, parseEntryRef, parseNamespace } from '../../../../src-shared/domain';
import { CacheError, isCacheError } from '../../../../src-shared/errors';
import type { CacheService, EntryLookup } from '../../cache-service';
import { chunksOf } from '../../hashing';
import { forEachKey } from '../../storage/list-page';
import type { ContentSource, ListOptions, ListPage } from '../../storage/types';
import { verifyStore } from '../../verify';
import { nativeEntryRows, nativeSortedEntryRows } from './entry-rows';
import type {
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
  StoreFormat,
  TransferOptions,
  RetrieveOptions,
} from '../format';
import { keyOfAnotherNamespace } from '../format';

const EXPLANATIONS: Record<string, string> = {
  content: 'content: the bytes, once per namespace and hash',
  latest: 'latest view: a copy of the newest version record',
  record: 'version record',
  version_entry: 'versions index entry: the key name is the listing',
  temporal: 'temporal view of a version (UTC)',
};

const HASH_OR_SHA256 = /^([0-9a-f]{16}|[0-9a-f]{64})$/i;

export class NativeFormat implements StoreFormat {
  readonly name = 'native' as const;
  readonly capabilities: FormatCapabilities = { parallelWriters: true, storeAs: ['bytes', 'json'], storeOptions: {}, unlisted: [], listedTime: 'stored' };

  constructor(readonly cache: CacheService) {}

  get storage() {
    return this.cache.storage;
  }

  parseNamespace(name: string): string {
    return parseNamespace(name);
  }

  async parseLookup(namespace: string, text: string): Promise<FormatLookup> {
    const ns = parseNamespace(namespace);
    const value = text.trim();
    if (value.includes('/')) {
      const described = this.cache.layout.describeKey(value);
      if (described && described.namespace !== ns) throw keyOfAnotherNamespace(value, described.namespace, ns);
      // An object key under another hash's shard folders is no key any entry has.
      if (described && (described.kind === 'temporal' || value.startsWith(this.cache.layout.content(ns, described.hash)))) {
        // The latest view is one version's record: a delete by it takes that version, not every version of the hash.
        if (described.kind === 'latest') return { hash: described.hash, version: (await this.cache.record(ns, { hash: described.hash })).version };
        // A key that names its version's store time (an index entry, a temporal key): a delete by it takes that version only while it is the one stored then.
        const { hash, version, storedAt } = described;
        return { hash, version, ...(storedAt !== undefined && { storedAt }) };
      }
      throw new CacheError('invalid_key', `${JSON.stringify(value.slice(0, 80))} is not the storage key of an entry (a folder, or a key no entry has): look up a key under it, or a cache hash`);
    }
    // A cache id's own problem (`-v0`) says itself; anything else is told every form the box takes.
    if (!/-v/i.test(value) && !HASH_OR_SHA256.test(value)) {
      throw new CacheError('invalid_hash', `${JSON.stringify(value.slice(0, 80))} is not a cache hash (16 hex characters), a cache id (<hash>-v<n>), a SHA-256 (64 hex characters) or the storage key of an entry (<namespace>/…)`);
    }
    const ref = parseEntryRef(value);
    if (ref.kind === 'cache_id') return { hash: ref.hash, version: ref.version };
    if (ref.kind === 'sha256') return { hash: ref.hash, sha256: ref.sha256 };
    return { hash: ref.hash };
  }

  private toLookup(lookup: FormatLookup): EntryLookup {
    if ('cacheId' in lookup) return parseCacheId(lookup.cacheId);
    return { hash: parseCacheHash(lookup.hash), version: lookup.version, sha256: lookup.sha256 };
  }

  namespaces(): Promise<FormatNamespace[]> {
    return this.cache.namespaces();
  }

  async stats(namespace: string): Promise<FormatStats> {
    const { namespace: name, ...counts } = await this.cache.stats(namespace);
    return { name, ...counts };
  }

  async shardCount(namespace: string, shard: string): Promise<FormatShardCount> {
    const prefix = `${this.cache.layout.objectsPrefix(parseNamespace(namespace))}${shard}/`;
    // Entries as the stats and the entries list count them: hashes with content or an index entry (content lost is still an entry).
    const hashes = new Set<string>();
    await forEachKey(this.storage, prefix, (key) => {
      const described = this.cache.layout.describeKey(key);
      if (described?.kind === 'content' || described?.kind === 'version_entry') hashes.add(described.hash);
    });
    return { shard, prefix, entries: hashes.size };
  }

  entryRows(namespace: string, options?: EntryRowsOptions) {
    return nativeEntryRows(this.cache, namespace, options);
  }

  sortedEntryRows(namespace: string) {
    return nativeSortedEntryRows(this.cache, namespace);
  }

  versions(namespace: string, hash: string): Promise<FormatVersion[]> {
    return this.cache.versions(namespace, parseCacheHash(hash));
  }

  async record(namespace: string, lookup: FormatLookup): Promise<FormatRecord> {
    return this.toRecord(await this.cache.record(namespace, this.toLookup(lookup)));
  }

  /** Checked as it streams, so a preview costs what it reads. */
  async retrieve(namespace: string, lookup: FormatLookup, options: RetrieveOptions = {}) {
    const { record, content } = await this.cache.retrieve(namespace, this.toLookup(lookup), { signal: options.signal });
    return { record: await this.toRecord(record), content };
  }

  /** A version's keys; a long name cut before cuts kept its extension has its index entry under the older name. */
  private async keysOf(r: VersionRecord): Promise<string[]> {
    const keys = this.cache.keysOf(r);
    const older = this.cache.layout.versionEntry(r, false);
    if (keys[2] !== older && !(await this.cache.storage.exists(keys[2]!)) && (await this.cache.storage.exists(older))) keys[2] = older;
    return keys;
  }

  private async toRecord(r: VersionRecord): Promise<FormatRecord> {
    const latestVersion = await this.cache.record(r.namespace, { hash: r.hash }).then(
      (latest) => latest.version,
      async (err: unknown) => {
        // The newest record damaged: this version still opens, and the versions index names the newest.
        if (!isCacheError(err) || err.code !== 'corrupt') throw err;
        return (await this.cache.versions(r.namespace, r.hash)).at(-1)?.version ?? r.version;
      },
    );
    return {
      format: 'native',
      namespace: r.namespace,
      hash: r.hash,
      cache_id: r.cache_id,
      version: r.version,
      latest_version: latestVersion,
      size: r.size,
      stored_at: r.stored_at,
      content_type: r.content_type,
      // Its bytes as they were given (JSON stored as JSON is its sorted text): the record keeps no other way, so JSON
      // stored as bytes and as JSON were both said to be "stored as JSON", whose hash only the second has.
      data_type: 'binary',
      content_encoding: null,
      sha256: r.sha256,
      source: r.source,
      details: {},
      keys: (await this.keysOf(r)).map((key, i) => ({ key, role: ['content', 'version record', 'versions index entry', 'latest view', 'temporal view'][i]! })),
      child_data: [],
    };
  }

  checkStoreInput(input: Pick<FormatStoreInput, 'as' | 'options'>): void {
    const options = Object.keys(input.options ?? {});
    if (options.length) throw new CacheError('invalid_input', `the native layout takes no store options (${options.join(', ')}): they apply to stores in the Python service's layout`);
    if (input.as && !this.capabilities.storeAs.includes(input.as)) throw new CacheError('invalid_input', `the native layout stores ${this.capabilities.storeAs.join(' or ')}, not ${input.as}`);
  }

  /** A string hashes its UTF-8 bytes, so it must be valid UTF-8 text (checked as it streams). */
  hash(input: FormatStoreInput, options?: TransferOptions): Promise<FormatHashResult> {
    const source: ContentSource = input.as === 'string' ? { kind: 'stream', stream: utf8Checked(input.source) } : input.source;
    return this.cache.hash({ source, name: input.name, as: input.as === 'json' ? 'json' : 'bytes' }, options);
  }

  async store(namespace: string, input: FormatStoreInput, options?: TransferOptions): Promise<FormatStoreResult> {
    this.checkStoreInput(input);
    const r = await this.cache.store(namespace, { source: input.source, name: input.name, as: input.as === 'json' ? 'json' : 'bytes' }, options);
    return { namespace: r.namespace, hash: r.hash, cache_id: r.cache_id, version: r.version, size: r.size, source: r.source, deduplicated: r.deduplicated, keys: r.keys };
  }

  async delete(namespace: string, lookup: FormatLookup): Promise<FormatDeleteResult> {
    const { hash, version, sha256 } = this.toLookup(lookup);
    // A SHA-256 names its content whole: its first 16 characters matching an entry is not enough.
    if (sha256 !== undefined) await this.cache.record(namespace, { hash, version, sha256 });
    return this.cache.delete(namespace, { hash, version, ...('hash' in lookup && { storedAt: lookup.storedAt, unversioned: lookup.unversioned, seen: lookup.seen }) });
  }

  verify(options?: FormatVerifyOptions): Promise<FormatVerifyReport> {
    return verifyStore(this.cache, options);
  }

  async describeKey(key: string): Promise<FormatKeyInfo> {
    const found = (await this.cache.listKeys(key, { limit: 1 })).objects.find((o) => o.key === key);
    const base = { key, ...(found ? { size: found.size, modified: found.modified } : {}) };
    const d = this.cache.layout.describeKey(key);
    if (!d) return { ...base, kind: 'unknown', explanation: 'not a key of the native layout' };
    return { ...base, kind: d.kind, namespace: d.namespace, hash: d.hash, version: d.version, explanation: EXPLANATIONS[d.kind]! };
  }

  listKeys(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.cache.listKeys(prefix, options);
  }
}

async function* utf8Checked(source: ContentSource): AsyncIterable<Uint8Array> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    for await (const chunk of chunksOf(source)) {
      decoder.decode(chunk, { stream: true });
      yield chunk;
    }
    decoder.decode();
  } catch (err) {
    if (err instanceof TypeError) throw new CacheError('invalid_input', 'the input is not valid UTF-8 text');
    throw err;
  }
}
