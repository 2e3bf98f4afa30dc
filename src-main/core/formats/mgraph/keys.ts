/**
 * The Python cache service's keys (mgraph_ai_service_cache v0.14.1, Memory-FS v0.40.1), computed
 * exactly as its path handlers do. See docs/service-layout.md.
 *
 *   <ns>/refs/by-hash/<h0:2>/<h2:4>/<cache_hash>.json
 *   <ns>/refs/by-id/<i0:2>/<i2:4>/<cache_id>.json
 *   <ns>/data/<strategy folder>/…/<file_id>.<json|bin>   + .config and .metadata beside it
 *   <content path without extension>/data/[<data_key>/]<data_file_id>.<json|txt|bin>   child data
 */
import { CacheError } from '../../../../src-shared/errors';
import { resolveFoundKey } from '../../../../src-shared/keys';

export const STRATEGIES = ['direct', 'temporal', 'temporal_latest', 'temporal_versioned', 'key_based'] as const;
export type Strategy = (typeof STRATEGIES)[number];
export const DEFAULT_STRATEGY: Strategy = 'temporal';

const STRATEGY_FOLDER: Record<Strategy, string> = {
  direct: 'direct',
  temporal: 'temporal',
  temporal_latest: 'temporal-latest',
  temporal_versioned: 'temporal-versioned',
  key_based: 'key-based',
};

export type FileType = 'json' | 'binary';
export const EXTENSION: Record<FileType, string> = { json: 'json', binary: 'bin' };

// Its Safe_Str__Id (namespace, file id) replaces other characters with "_"; we refuse them instead.
const ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HASH_RE = /^[0-9a-f]{16}$/;
// What the service takes as a cache id when it reads one back (Random_Guid's is_guid: a UUID as
// str(uuid) spells it, either case), and as a cache hash (Safe_Str__Cache_Hash: any length it is
// configured to); read from a ref, nothing else is a key to build, however it would resolve.
const SERVICE_CACHE_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SERVICE_CACHE_HASH_RE = /^[0-9a-f]{10,96}$/;
// Its Safe_Str__File__Path also allows spaces, backslashes and ".." segments; a key may hold none of those.
const CACHE_KEY_SEGMENT_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
const FIELD_PATH_RE = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

export function parseServiceNamespace(value: string): string {
  if (typeof value === 'string' && ID_RE.test(value)) return value;
  throw new CacheError('invalid_namespace', `${JSON.stringify(String(value).slice(0, 80))} is not a service namespace: 1-128 characters of A-Z, a-z, 0-9, "_" and "-"`);
}

export function isServiceNamespace(value: string): boolean {
  return ID_RE.test(value);
}

export function parseFileId(value: string): string {
  if (ID_RE.test(value)) return value;
  throw new CacheError('invalid_input', `${JSON.stringify(value.slice(0, 80))} is not a file id: 1-128 characters of A-Z, a-z, 0-9, "_" and "-"`);
}

export function parseCacheKey(value: string): string {
  const segments = value.split('/');
  if (value.length <= 1024 && segments.every((s) => CACHE_KEY_SEGMENT_RE.test(s))) return value;
  throw new CacheError('invalid_input', `${JSON.stringify(value.slice(0, 80))} is not a cache key: "/"-separated segments of A-Z, a-z, 0-9, "_", "-" and "." (not starting with "."), at most 1024 characters`);
}

export function parseFieldPath(value: string): string {
  if (value.length <= 256 && FIELD_PATH_RE.test(value)) return value;
  throw new CacheError('invalid_input', `${JSON.stringify(value.slice(0, 80))} is not a JSON field path: dot-separated names of A-Z, a-z, 0-9, "_" and "-"`);
}

export function parseStrategy(value: string): Strategy {
  if ((STRATEGIES as readonly string[]).includes(value)) return value as Strategy;
  throw new CacheError('invalid_input', `${JSON.stringify(value.slice(0, 40))} is not a strategy: one of ${STRATEGIES.join(', ')}`);
}

export function isGuid(value: string): boolean {
  return GUID_RE.test(value);
}

export function isServiceHash(value: string): boolean {
  return HASH_RE.test(value);
}

/** A cache id as a ref may list one: a GUID the service made or was given (see SERVICE_CACHE_ID_RE). */
export function isServiceCacheId(value: unknown): boolean {
  return typeof value === 'string' && SERVICE_CACHE_ID_RE.test(value);
}

/** A cache hash as a by-id ref may name one (see SERVICE_CACHE_HASH_RE). */
export function isServiceCacheHash(value: unknown): boolean {
  return typeof value === 'string' && SERVICE_CACHE_HASH_RE.test(value);
}

/** Path__Handler__Hash_Sharded: two levels of two characters (fewer for a short id). */
function sharded(id: string): string {
  return [id.slice(0, 2), id.slice(2, 4)].filter(Boolean).join('/');
}

export function refByHashKey(ns: string, hash: string): string {
  return `${ns}/refs/by-hash/${sharded(hash)}/${hash}.json`;
}

export function refByIdKey(ns: string, cacheId: string): string {
  return `${ns}/refs/by-id/${sharded(cacheId)}/${cacheId}.json`;
}

/** Path__Handler__Temporal: YYYY/MM/DD/HH in the host's local time, as the service uses. */
export function temporalFolder(now: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}/${pad(now.getMonth() + 1)}/${pad(now.getDate())}/${pad(now.getHours())}`;
}

/** The folders a strategy writes one file into, in the order its handlers run (content_files order). */
export function strategyFolders(ns: string, strategy: Strategy, fileId: string, cacheKey: string, now: Date): string[] {
  const base = `${ns}/data/${STRATEGY_FOLDER[strategy]}`;
  switch (strategy) {
    case 'direct':
      return [`${base}/${sharded(fileId)}`];
    case 'temporal':
      return [`${base}/${temporalFolder(now)}`];
    case 'temporal_latest':
      return [`${base}/latest`, `${base}/${temporalFolder(now)}`];
    case 'temporal_versioned':
      // Its versioned handler never increments: every version lands in versions/v1.
      return [`${base}/${temporalFolder(now)}`, `${base}/latest`, `${base}/versions/v1`];
    case 'key_based':
      return [cacheKey ? `${base}/${cacheKey}` : base];
  }
}

/** What the service writes for one stored file: content, sidecars, and where child data goes. */
export interface EntryPaths {
  folders: string[];
  contentFiles: string[];
  dataFolders: string[];
  /** Content, .config and .metadata of every copy, sorted as the service sorts them. */
  data: string[];
}

export function entryPaths(folders: string[], fileId: string, fileType: FileType): EntryPaths {
  const contentFiles = folders.map((f) => `${f}/${fileId}.${EXTENSION[fileType]}`);
  return {
    folders,
    contentFiles,
    dataFolders: folders.map((f) => `${f}/${fileId}/data`),
    data: contentFiles.flatMap((c) => [c, `${c}.config`, `${c}.metadata`]).sort(),
  };
}

export type ServiceKeyKind = 'ref_by_hash' | 'ref_by_id' | 'content' | 'sidecar_config' | 'sidecar_metadata' | 'data_file';

/**
 * Whether a path a ref names is a key of namespace `ns` (resolved as the service resolves it). A
 * namespace copied by hand keeps the original's paths in its refs, and a hand-made ref can name
 * anything: such paths are another entry's files or none.
 */
export function insideNamespace(ns: string, path: string): boolean {
  try {
    // As written too: on S3 a path is its object's name, and `other/../ns/x` is an object under other/.
    return path.startsWith(`${ns}/`) && resolveFoundKey(path).startsWith(`${ns}/`);
  } catch {
    return false;
  }
}

/** What a key is from its name alone; `data_file` (content or child data) needs a look at its sidecars. */
export function classifyKey(key: string): { namespace: string; kind: ServiceKeyKind; id?: string } | null {
  const parts = key.split('/');
  const [namespace, tree, sub] = parts;
  const name = parts[parts.length - 1]!;
  if (!namespace || !ID_RE.test(namespace)) return null;
  if (tree === 'refs' && (sub === 'by-hash' || sub === 'by-id') && name.endsWith('.json')) {
    const id = name.slice(0, -'.json'.length);
    if (key !== (sub === 'by-hash' ? refByHashKey(namespace, id) : refByIdKey(namespace, id))) return null;
    return { namespace, kind: sub === 'by-hash' ? 'ref_by_hash' : 'ref_by_id', id };
  }
  if (tree !== 'data' || parts.length < 4) return null;
  if (name.endsWith('.json.config') || name.endsWith('.bin.config')) return { namespace, kind: 'sidecar_config' };
  if (name.endsWith('.json.metadata') || name.endsWith('.bin.metadata')) return { namespace, kind: 'sidecar_metadata' };
  return { namespace, kind: 'data_file' };
}

/** A key without its last extension: the content file a sidecar belongs to, or a content file's stem (its child data is under `<stem>/data/`). */
export function withoutExtension(key: string): string {
  return key.slice(0, key.lastIndexOf('.'));
}

/** For a key under `<content stem>/data/`, the content stems it may belong to, nearest first. */
export function childDataStems(key: string): string[] {
  const stems: string[] = [];
  let at = key.lastIndexOf('/data/');
  while (at > 0) {
    stems.push(key.slice(0, at));
    at = key.lastIndexOf('/data/', at - 1);
  }
  return stems;
}
