import type { CacheHash, Namespace, VersionRecord, VersionSummary } from '../../src-shared/domain';
import { makeCacheId } from '../../src-shared/domain';

/**
 * The one key layout every backend uses (see docs/storage-layout.md):
 *
 *   <ns>/content/ab/cd/<hash>                          the bytes, once per namespace and hash
 *   <ns>/records/ab/cd/<hash>/00000001.json            one version's metadata, created create-only
 *   <ns>/versions/ab/cd/<hash>/00000001~<t>~<size>~<source>   empty; the name is the listing
 *   <ns>/latest/ab/cd/<hash>.json                      copy of the newest version's record
 *   <ns>/temporal/YYYY/MM/DD/HH/<t>~<hash>-v1          empty; time-ordered view (UTC)
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

export type ViewName = 'content' | 'records' | 'versions' | 'latest' | 'temporal';

export class KeyLayout {
  constructor(readonly shards: ShardSpec = DEFAULT_SHARDS) {
    if (shards.depth < 0 || shards.width < 1 || shards.depth * shards.width > 12) {
      throw new Error(`invalid shard spec ${JSON.stringify(shards)}`);
    }
  }

  shardPath(hash: CacheHash): string {
    const parts: string[] = [];
    for (let i = 0; i < this.shards.depth; i++) parts.push(hash.slice(i * this.shards.width, (i + 1) * this.shards.width));
    return parts.join('/');
  }

  private sharded(ns: Namespace, view: ViewName, hash: CacheHash): string {
    const shard = this.shardPath(hash);
    return shard ? `${ns}/${view}/${shard}/${hash}` : `${ns}/${view}/${hash}`;
  }

  content(ns: Namespace, hash: CacheHash): string {
    return this.sharded(ns, 'content', hash);
  }

  recordsPrefix(ns: Namespace, hash: CacheHash): string {
    return `${this.sharded(ns, 'records', hash)}/`;
  }

  record(ns: Namespace, hash: CacheHash, version: number): string {
    return `${this.recordsPrefix(ns, hash)}${padVersion(version)}.json`;
  }

  versionsPrefix(ns: Namespace, hash: CacheHash): string {
    return `${this.sharded(ns, 'versions', hash)}/`;
  }

  versionEntry(record: VersionRecord): string {
    const fields = [padVersion(record.version), compactTime(record.stored_at), String(record.size), encodeSource(record.source)];
    return `${this.versionsPrefix(record.namespace, record.hash)}${fields.join('~')}`;
  }

  latest(ns: Namespace, hash: CacheHash): string {
    return `${this.sharded(ns, 'latest', hash)}.json`;
  }

  temporal(record: VersionRecord): string {
    const t = record.stored_at; // 2026-11-23T23:22:46.123Z
    const folder = `${t.slice(0, 4)}/${t.slice(5, 7)}/${t.slice(8, 10)}/${t.slice(11, 13)}`;
    return `${record.namespace}/temporal/${folder}/${compactTime(t)}~${record.cache_id}`;
  }

  viewPrefix(ns: Namespace, view: ViewName): string {
    return `${ns}/${view}/`;
  }

  /** Every key one version uses: content first, then its references. */
  keysOf(record: VersionRecord): string[] {
    return [
      this.content(record.namespace, record.hash),
      this.record(record.namespace, record.hash, record.version),
      this.versionEntry(record),
      this.latest(record.namespace, record.hash),
      this.temporal(record),
    ];
  }

  /** Reads one versions-listing key back into a summary; null for a key of another shape. */
  parseVersionEntry(hash: CacheHash, key: string): VersionSummary | null {
    const name = key.slice(key.lastIndexOf('/') + 1);
    const m = /^(\d{8})~(\d{8}T\d{9}Z)~(\d+)~(.*)$/.exec(name);
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

  /** What a key is, for the layout inspector: view, hash and version where the key names them. */
  describeKey(key: string): { namespace: string; view: string; hash?: string; version?: number } | null {
    const parts = key.split('/');
    if (parts.length < 3) return null;
    const [namespace, view] = parts as [string, string];
    const last = parts[parts.length - 1]!;
    const hashMatch = /([0-9a-f]{16})/.exec(view === 'records' || view === 'versions' ? parts[parts.length - 2]! : last);
    const versionMatch = view === 'records' ? /^(\d{8})\.json$/.exec(last) : view === 'versions' ? /^(\d{8})~/.exec(last) : /-v(\d+)$/.exec(last);
    return {
      namespace,
      view,
      ...(hashMatch ? { hash: hashMatch[1] } : {}),
      ...(versionMatch ? { version: Number(versionMatch[1]) } : {}),
    };
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

/** Percent-encodes a source name for a key ("~" too: it separates fields), cut to fit a file name. */
export function encodeSource(source: string): string {
  const encoded = encodeURIComponent(source).replace(/~/g, '%7E');
  if (encoded.length <= SOURCE_IN_KEY_MAX) return encoded;
  let cut = encoded.slice(0, SOURCE_IN_KEY_MAX - TRUNCATED_MARK.length);
  cut = cut.replace(/%[0-9A-F]?$/, ''); // never split an escape
  while (!decodes(cut)) cut = cut.slice(0, -3); // nor a multi-byte character
  return cut + TRUNCATED_MARK;
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
