import type { CacheHash, Namespace, VersionRecord, VersionSummary } from '../../src-shared/domain';
import { makeCacheId } from '../../src-shared/domain';

/**
 * The one key layout every backend uses (see docs/storage-layout.md). Everything about one hash
 * sits in its shard folder, so a new entry costs one new folder on a local disk:
 *
 *   <ns>/objects/ab/cd/<hash>                               the bytes, once per namespace and hash
 *   <ns>/objects/ab/cd/<hash>.latest.json                   latest view: the newest version's record
 *   <ns>/objects/ab/cd/<hash>.v00000001.json                version record, created create-only
 *   <ns>/objects/ab/cd/<hash>~00000001~<t>~<size>~<source>  versions index: the name is the listing
 *   <ns>/temporal/YYYY/MM/DD/HH/<t>~<hash>-v1               temporal view (UTC)
 *
 * The index, latest and temporal keys hold a copy of the record (a hard link on a local disk).
 */
export interface ShardSpec {
  /** How many folder levels. */
  depth: number;
  /** Hex characters per level. */
  width: number;
}

export const DEFAULT_SHARDS: ShardSpec = { depth: 2, width: 2 };
export const VERSION_DIGITS = 8;
const SOURCE_IN_KEY_MAX = 150;
const TRUNCATED_MARK = '%E2%80%A6'; // "…"
const DELETION_MARKER_SUFFIX = '.deleting.json';

export type KeyKind = 'content' | 'latest' | 'record' | 'version_entry' | 'temporal';

export interface KeyDescription {
  namespace: string;
  kind: KeyKind;
  hash: CacheHash;
  version?: number;
  /** The version's store time, where the key's name carries it (an index entry, a temporal key). */
  storedAt?: string;
}

const OBJECT_NAME_RE = /^([0-9a-f]{16})(?:(\.latest\.json)|\.v(\d{8})\.json|~(\d{8})~.*)?$/;
const TEMPORAL_NAME_RE = /^(\d{8}T\d{9}Z)~([0-9a-f]{16})-v(\d+)$/;

export class KeyLayout {
  constructor(readonly shards: ShardSpec = DEFAULT_SHARDS) {
    if (!Number.isInteger(shards.depth) || !Number.isInteger(shards.width) || shards.depth < 0 || shards.width < 1 || shards.depth * shards.width > 12) {
      throw new Error(`invalid shard spec ${JSON.stringify(shards)}`);
    }
  }

  shardPath(hash: CacheHash): string {
    const parts: string[] = [];
    for (let i = 0; i < this.shards.depth; i++) parts.push(hash.slice(i * this.shards.width, (i + 1) * this.shards.width));
    return parts.join('/');
  }

  /** The shard folder of a hash, with a trailing "/". */
  shardFolder(ns: Namespace, hash: CacheHash): string {
    const shard = this.shardPath(hash);
    return shard ? `${ns}/objects/${shard}/` : `${ns}/objects/`;
  }

  content(ns: Namespace, hash: CacheHash): string {
    return `${this.shardFolder(ns, hash)}${hash}`;
  }

  latest(ns: Namespace, hash: CacheHash): string {
    return `${this.content(ns, hash)}.latest.json`;
  }

  record(ns: Namespace, hash: CacheHash, version: number): string {
    return `${this.content(ns, hash)}.v${padVersion(version)}.json`;
  }

  /** Held by a deleter while it removes a hash's last bytes (docs/storage-layout.md); not an entry key. */
  deletionMarker(ns: Namespace, hash: CacheHash): string {
    return `${this.content(ns, hash)}${DELETION_MARKER_SUFFIX}`;
  }

  isDeletionMarker(key: string): boolean {
    const name = key.slice(key.lastIndexOf('/') + 1);
    return name.endsWith(DELETION_MARKER_SUFFIX) && /^[0-9a-f]{16}$/.test(name.slice(0, -DELETION_MARKER_SUFFIX.length));
  }

  /** Lists exactly the records of one hash, in version order. */
  recordsPrefix(ns: Namespace, hash: CacheHash): string {
    return `${this.content(ns, hash)}.v`;
  }

  /** Lists exactly the versions-index keys of one hash. */
  versionsPrefix(ns: Namespace, hash: CacheHash): string {
    return `${this.content(ns, hash)}~`;
  }

  versionEntry(record: VersionRecord, keepExtension = true): string {
    const fields = [padVersion(record.version), compactTime(record.stored_at), String(record.size), encodeSource(record.source, keepExtension)];
    return `${this.versionsPrefix(record.namespace, record.hash)}${fields.join('~')}`;
  }

  /** Whether `key` is the index entry of `record`, as written now or before a cut name kept its extension. */
  isVersionEntryOf(key: string, record: VersionRecord): boolean {
    return key === this.versionEntry(record) || key === this.versionEntry(record, false);
  }

  temporal(record: VersionRecord): string {
    const t = record.stored_at; // 2026-11-23T23:22:46.123Z
    const folder = `${t.slice(0, 4)}/${t.slice(5, 7)}/${t.slice(8, 10)}/${t.slice(11, 13)}`;
    return `${record.namespace}/temporal/${folder}/${compactTime(t)}~${record.cache_id}`;
  }

  /** The namespace a key is filed in: its top folder. */
  namespaceOf(key: string): Namespace {
    return key.slice(0, key.indexOf('/')) as Namespace;
  }

  objectsPrefix(ns: Namespace): string {
    return `${ns}/objects/`;
  }

  /** Every key one version uses: content first, then its record and views. */
  keysOf(record: VersionRecord): string[] {
    return [
      this.content(record.namespace, record.hash),
      this.record(record.namespace, record.hash, record.version),
      this.versionEntry(record),
      this.latest(record.namespace, record.hash),
      this.temporal(record),
    ];
  }

  /** Reads one versions-index key back into a summary; null for a key of another shape. */
  parseVersionEntry(hash: CacheHash, key: string): VersionSummary | null {
    const name = key.slice(key.lastIndexOf('/') + 1);
    const m = /^[0-9a-f]{16}~(\d{8})~(\d{8}T\d{9}Z)~(\d+)~(.*)$/.exec(name);
    if (!m) return null;
    const version = Number(m[1]);
    if (version < 1) return null;
    return {
      version,
      cache_id: makeCacheId(hash, version),
      stored_at: expandTime(m[2]!),
      size: Number(m[3]),
      source: decodeSource(m[4]!),
    };
  }

  /** What a key is (for stats, verify and the layout inspector); null for a key outside the layout. */
  describeKey(key: string): KeyDescription | null {
    const parts = key.split('/');
    const [namespace, tree] = parts;
    const name = parts[parts.length - 1]!;
    if (!namespace) return null;
    if (tree === 'objects' && parts.length === 3 + this.shards.depth) {
      const m = OBJECT_NAME_RE.exec(name);
      if (!m) return null;
      const hash = m[1] as CacheHash;
      if (m[2]) return { namespace, kind: 'latest', hash };
      if (m[3]) return { namespace, kind: 'record', hash, version: Number(m[3]) };
      if (m[4]) return { namespace, kind: 'version_entry', hash, version: Number(m[4]), storedAt: this.parseVersionEntry(hash, key)?.stored_at };
      return { namespace, kind: 'content', hash };
    }
    if (tree === 'temporal' && parts.length === 7) {
      const m = TEMPORAL_NAME_RE.exec(name);
      if (m) return { namespace, kind: 'temporal', hash: m[2] as CacheHash, version: Number(m[3]), storedAt: expandTime(m[1]!) };
    }
    return null;
  }
}

export function padVersion(version: number): string {
  return String(version).padStart(VERSION_DIGITS, '0');
}

/** 2026-11-23T23:22:46.123Z -> 20261123T232246123Z (sorts by time, safe in any key). */
export function compactTime(iso: string): string {
  return iso.replace(/[-:.]/g, '');
}

export function expandTime(compact: string): string {
  const c = compact;
  return `${c.slice(0, 4)}-${c.slice(4, 6)}-${c.slice(6, 8)}T${c.slice(9, 11)}:${c.slice(11, 13)}:${c.slice(13, 15)}.${c.slice(15, 18)}Z`;
}

/**
 * Percent-encodes a source name for a key ("~" too: it separates fields), cut to fit a file name.
 * A cut keeps the name's extension (`Годовой отчё….pdf`): listings read the type and filter names from it
 * (stores written before that end the cut with `…`).
 */
function encodeSource(source: string, keepExtension: boolean): string {
  const encoded = encodeURIComponent(source).replace(/~/g, '%7E');
  if (encoded.length <= SOURCE_IN_KEY_MAX) return encoded;
  const extension = keepExtension ? (/\.[A-Za-z0-9]{1,10}$/.exec(source)?.[0] ?? '') : '';
  let cut = encoded.slice(0, SOURCE_IN_KEY_MAX - TRUNCATED_MARK.length - extension.length);
  cut = cut.replace(/%[0-9A-F]?$/, ''); // never split an escape
  while (!decodes(cut)) cut = cut.slice(0, -3); // nor a multi-byte character
  return cut + TRUNCATED_MARK + extension;
}

function decodes(encoded: string): boolean {
  try {
    decodeURIComponent(encoded);
    return true;
  } catch {
    return false;
  }
}

export function decodeSource(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}
