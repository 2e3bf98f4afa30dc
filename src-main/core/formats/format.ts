/**
 * What every store layout offers, over the same storage backends (memory, local folder, S3).
 * `core/storage/` says where bytes live; a format says what the keys mean. The CLI, IPC, bridge
 * and UI talk to this interface only, so a third layout is one more folder beside `native/` and
 * `mgraph/`.
 *
 * A cache id is an opaque string (native `<hash>-v<n>`, the Python service's GUIDs); `version` is
 * its ordinal among the hash's versions, oldest first, numbered from 1.
 */
import type { ContentProblem, EntryRecord, ListedTime, StoredEntry, UnlistedField } from '../../../src-shared/contract';
import type { ProblemKind } from '../../../src-shared/domain';
import { CacheError } from '../../../src-shared/errors';
import type { TransferOptions } from '../cache-service';
import { mapLimit } from '../keyed-lock';
import type { VerifyOptions } from '../verify';
import type { ContentSource, ListOptions, ListPage, StorageBackend } from '../storage/types';

export type FormatName = 'native' | 'mgraph';
export const FORMAT_NAMES: readonly FormatName[] = ['native', 'mgraph'];

/** Which version of an entry: by hash (latest, or the n-th), or by a cache id. */
export type FormatLookup =
  | {
      hash: string;
      version?: number;
      /** When given, the entry must have exactly this SHA-256 (native). */
      sha256?: string;
      /** Delete only: the version must still be the one stored at this time (native numbers are taken again after a delete; GUIDs never are). */
      storedAt?: string;
      /** Delete only: content no version uses, and only that: a version of it stored since refuses the delete (`conflict`). */
      unversioned?: boolean;
      /** Delete only, of a whole hash: its versions as the operator saw them; finding others refuses the delete whole (`conflict`). */
      seen?: VersionsSeen;
    }
  | { cacheId: string };

/**
 * An entry's versions as the operator saw them: how many, and the newest one's number and store
 * time. The service's listing cannot count them: its rows say only when their by-hash ref was
 * written (`storedAt`), and `versions` and `version` are null.
 */
export interface VersionsSeen {
  versions: number | null;
  version: number | null;
  storedAt: string | null;
  /** Where: in a list, or shown in the entry panel (the refusal says so, and what to do). */
  as: 'listed' | 'shown';
  /** When the list's listing began (ms): a by-hash ref written in the second before may have been written again unseen. */
  listedFrom?: number;
}

/**
 * The refusal of a delete that found other versions than those seen, checked where no other
 * deleter runs: a version stored since by another program (the CLI, the service) is not the
 * operator's to lose, nor is a number deleted and taken again since.
 */
export function changedSinceSeen(hash: string, seen: VersionsSeen, versionsNow: number | null): CacheError {
  const what =
    versionsNow === null || seen.versions === null
      ? `its by-hash ref was written since, or as it was ${seen.as}`
      : versionsNow === seen.versions
        ? `its newest version is not the v${seen.version} ${seen.as}: one was deleted and another stored since`
        : `${versionsNow} versions now, ${seen.versions} ${seen.as}`;
  return new CacheError('conflict', `${hash} changed since it was ${seen.as} (${what}): nothing of it was deleted; ${seen.as === 'listed' ? 'refresh and pick it again' : 'look at its versions again'}`);
}

export interface FormatNamespace {
  name: string;
  /** Hashes with content (native) or with a by-hash ref (service). */
  entries: number;
  /** Cache ids. */
  versions: number;
  /** Bytes of content files, from listings. */
  bytes: number;
}

export interface FormatStats extends FormatNamespace {
  /** Every storage object under the namespace. */
  objects: number;
  /** Entries per first-level shard folder ("00"…"ff"), for the layout heatmap. */
  shards: Record<string, number>;
}

/** One first-level shard folder's entries, and the storage prefix it lives under (the layout tree opens it). */
export interface FormatShardCount {
  shard: string;
  prefix: string;
  entries: number;
}

/** One hash of a namespace, from names-only listings: no record or ref is read. */
export interface FormatEntryRow {
  hash: string;
  /** How many versions, and the latest's number; null where the listing cannot tell (the service keeps them in its by-hash ref). */
  versions: number | null;
  version: number | null;
  /** The latest version's store time (the service: when its by-hash ref was last written); null when no version is listed. */
  storedAt: string | null;
  /** Bytes of the content; null where the listing cannot tell (the service keys content by cache id). */
  size: number | null;
  /** The latest version's source name; '' where none is recorded (the service). */
  source: string;
  /** Versions are listed but the content is not in the store (lost or deleted by hand): verify reports it. */
  contentMissing?: true;
}

export interface FormatVersion {
  version: number;
  cache_id: string;
  stored_at: string;
  size: number | null;
  source: string;
}

/** A key an entry uses, with what it is for (content, ref, sidecar, copy). */
export interface EntryKey {
  key: string;
  role: string;
}

/** One version's facts: the same fields for every layout, plus the layout's own in `details` (the contract's shape, sent as is). */
export type FormatRecord = EntryRecord;

export interface FormatStoreInput {
  source: ContentSource;
  name?: string;
  /** How the bytes are read: as they are, as JSON (hashed canonically), or as text (service). */
  as?: 'bytes' | 'json' | 'string';
  /** Layout-specific choices, e.g. `{ strategy: 'key_based', cache_key: 'a/b', file_id: 'x' }`. */
  options?: Record<string, string>;
}

/** What a store did (the contract's shape): `source` is '' where the layout records none (the service). */
export type FormatStoreResult = StoredEntry;

export interface FormatDeleteResult {
  deleted: string[];
  /** The hash has no version left. */
  contentRemoved: boolean;
  /** Content bytes the delete removed (native: the content, with the last version; the service's: each cache id's own files, but those another entry shares). */
  bytesFreed: number;
}

export interface FormatKeyInfo {
  key: string;
  /** Layout-specific kind, e.g. `content`, `record`, `ref_by_hash`, `sidecar_config`, `child_data`; `unknown` otherwise. */
  kind: string;
  /** One line for the layout inspector. */
  explanation: string;
  namespace?: string;
  hash?: string;
  cache_id?: string;
  version?: number;
  size?: number;
  modified?: string;
}

export interface FormatProblem {
  kind: ProblemKind;
  key: string;
  hash: string | null;
  detail: string;
}

export interface FormatVerifyReport {
  checked: number;
  /** With a sample: entries whose content was re-hashed, of those that have content. */
  sampled?: { perNamespace: number; rehashed: number; of: number };
  problems: FormatProblem[];
  repaired?: { kind: ProblemKind; key: string; action: string }[];
  notes: string[];
}

/** The same options as the native verify. */
export type FormatVerifyOptions = VerifyOptions;

/** What a layout can do beyond the common methods, so callers offer or skip features without naming the layout. */
export interface FormatCapabilities {
  /**
   * Stores from several threads or processes into one store never lose an update (native: versions
   * are allocated in storage). Bulk folder stores use worker threads only where this holds.
   */
  parallelWriters: boolean;
  /** How store can read its input (FormatStoreInput.as). */
  storeAs: readonly NonNullable<FormatStoreInput['as']>[];
  /** The layout options store takes (FormatStoreInput.options): their allowed values, or null for free text. */
  storeOptions: Readonly<Record<string, readonly string[] | null>>;
  /** Entry facts its entry rows never carry (null or '' in every row): not to be shown or filtered by. */
  unlisted: readonly UnlistedField[];
  /** What its entry rows' time (stored_at) is: see Capabilities.listedTime. */
  listedTime: ListedTime;
}

export interface FormatHashResult {
  hash: string;
  /** Bytes read. */
  size: number;
  /** The full SHA-256 where the layout keeps one (native). */
  sha256: string | null;
}

export interface RetrieveOptions {
  signal?: AbortSignal;
  /**
   * A look: the caller reads at most this many bytes of the record's content (0: none, only whether
   * it can be served). Content a layout checks only whole (the service's JSON) and too big to read
   * whole for a look is then served unchecked, as its first bytes: more of them than this, so the
   * caller sees it cut.
   */
  previewBytes?: (record: FormatRecord) => number;
}

/** What a store or a hash is told and asks as it goes: one set for every layout. */
export type { TransferOptions };

export interface EntryRowsOptions {
  onListed?: (hashes: number) => void;
  signal?: AbortSignal;
}

export interface StoreFormat {
  readonly name: FormatName;
  readonly storage: StorageBackend;
  readonly capabilities: FormatCapabilities;
  /** Validates a namespace name by this layout's rules (typed `invalid_namespace` error otherwise). */
  parseNamespace(name: string): string;
  /** What an operator typed: a hash, a cache id, or a storage key of an entry. */
  parseLookup(namespace: string, text: string): Promise<FormatLookup>;
  namespaces(): Promise<FormatNamespace[]>;
  stats(namespace: string): Promise<FormatStats>;
  /** The entries of one first-level shard ("00"…"ff"), from one listing of its folder: the heatmap counts shard by shard. */
  shardCount(namespace: string, shard: string): Promise<FormatShardCount>;
  /**
   * Every hash of a namespace with what its key names carry, from one names-only listing pass (see
   * entry-table.ts); `onListed` hears how many so far; `signal` stops the listing (no more pages read).
   */
  entryRows(namespace: string, options?: EntryRowsOptions): Promise<FormatEntryRow[]>;
  /** The same rows in hash order, a listing page at a time (each row complete): the first windows while entryRows runs. */
  sortedEntryRows(namespace: string): AsyncIterable<FormatEntryRow[]>;
  versions(namespace: string, hash: string): Promise<FormatVersion[]>;
  record(namespace: string, lookup: FormatLookup): Promise<FormatRecord>;
  /** What the layout's own reader serves, streamed. */
  retrieve(namespace: string, lookup: FormatLookup, options?: RetrieveOptions): Promise<{ record: FormatRecord; content: AsyncIterable<Uint8Array> }>;
  /**
   * Refuses what this layout cannot store (an `as` or a layout option it does not take, a bad value)
   * with a typed error, before anything is read or written. `store` checks the same.
   */
  checkStoreInput(input: Pick<FormatStoreInput, 'as' | 'options'>): void;
  /** The hash store would key this content by, without storing anything. */
  hash(input: FormatStoreInput, options?: TransferOptions): Promise<FormatHashResult>;
  store(namespace: string, input: FormatStoreInput, options?: TransferOptions): Promise<FormatStoreResult>;
  /** One version (a cache id or hash + version) or, for a bare hash, all of them. */
  delete(namespace: string, lookup: FormatLookup): Promise<FormatDeleteResult>;
  verify(options?: FormatVerifyOptions): Promise<FormatVerifyReport>;
  describeKey(key: string): Promise<FormatKeyInfo>;
  listKeys(prefix: string, options?: ListOptions): Promise<ListPage>;
}

/**
 * Content up to this size is read whole, and so checked against its hash, before any of it is
 * handed on (a download, standard output): a corrupt one fails with nothing written.
 */
export const CHECKED_WHOLE_BYTES = 16 << 20;

/** Reads a whole small stream (tests, previews). */
export async function collect(content: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of content) parts.push(chunk);
  return Buffer.concat(parts);
}

/**
 * Whether a version's content can be served, without reading it (JSON in the service layout is
 * read whole, so checked, unless too big for a look): 'missing' when its file is gone, 'corrupt'
 * when found so, else null.
 */
export async function contentProblemOf(format: StoreFormat, record: FormatRecord): Promise<ContentProblem | null> {
  try {
    const { content } = await format.retrieve(record.namespace, { cacheId: record.cache_id }, { previewBytes: () => 0 });
    await content[Symbol.asyncIterator]().return?.(); // closes the stored file unread
    return null;
  } catch (err) {
    if (err instanceof CacheError && (err.code === 'not_found' || err.code === 'corrupt')) return err.code === 'corrupt' ? 'corrupt' : 'missing';
    throw err;
  }
}

/** Namespaces a missed lookup looks through for a hint, at most. */
const HINT_NAMESPACES = 200;

/**
 * The other namespaces that hold what a lookup missed in `except` (a hint: "it is in namespace
 * big"): the store's top-level names, each asked for the record with `lookupIn` its lookup there.
 */
export async function namespacesHolding(format: StoreFormat, except: string, lookupIn: (ns: string) => Promise<FormatLookup>): Promise<string[]> {
  const names = (await namespacesAtTop(format, HINT_NAMESPACES + 1)).filter((name) => name !== except);
  const holding = await mapLimit(names, 8, async (name) => {
    try {
      await format.record(name, await lookupIn(name));
      return name;
    } catch (err) {
      // A damaged record is still that namespace's entry (it opens there, to be verified or deleted).
      return err instanceof CacheError && err.code === 'corrupt' ? name : null;
    }
  });
  return holding.filter((name) => name !== null);
}

/**
 * A missed lookup's error with the namespaces that hold it named: "it is in namespace big" where
 * the namespace asked holds nothing of it, "also in" where it holds the entry damaged (records lost,
 * content without a version), which read as if the entry were elsewhere.
 */
export function withNamespacesHolding(missed: CacheError, found: string[], then = ''): CacheError {
  if (found.length === 0) return missed;
  const also = / is not in namespace [^;]*$/.test(missed.message) ? '' : 'also ';
  return new CacheError('not_found', `${missed.message}; it is ${also}in namespace${found.length > 1 ? 's' : ''} ${found.join(', ')}${then}`);
}

/** Up to `limit` namespaces from one listing of the store's top folders (no counting): none where it cannot be listed. */
export async function namespacesAtTop(format: StoreFormat, limit: number): Promise<string[]> {
  const names: string[] = [];
  // Paged until `limit` namespaces: the store's own folders (_cache-admin.d, _quarantine) are listed too, and took their places.
  let cursor: string | undefined;
  do {
    const page = await format.listKeys('', { delimiter: '/', limit, cursor }).catch(() => null);
    if (!page) break;
    names.push(...page.prefixes.map((p) => p.slice(0, -1)).filter((name) => isNamespaceOf(format, name)));
    cursor = page.cursor;
  } while (cursor !== undefined && names.length < limit);
  return names.slice(0, limit);
}

function isNamespaceOf(format: StoreFormat, name: string): boolean {
  try {
    format.parseNamespace(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * A storage key looked up in a namespace other than its own. Never taken as its hash or id in the
 * namespace asked about: a delete by another namespace's key would remove this namespace's entry.
 */
export function keyOfAnotherNamespace(key: string, keyNamespace: string, namespace: string): CacheError {
  return new CacheError('not_found', `${JSON.stringify(key.slice(0, 120))} is a key of namespace "${keyNamespace}", not of "${namespace}"`);
}
