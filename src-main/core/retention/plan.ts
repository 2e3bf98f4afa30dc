/**
 * What a prune would remove, from listings and refs only: never a content read. Native: the
 * temporal view (sorted by time, so the walk stops at the cutoff) finds the candidates, and the
 * versions-index key names (version, time and size in the name) confirm them and tell whether a
 * hash's last version goes. The service layout: its by-hash refs carry each cache id's timestamp.
 */
import type { CacheHash, Namespace } from '../../../src-shared/domain';
import { mapLimit } from '../keyed-lock';
import { CacheError } from '../../../src-shared/errors';
import { compactTime } from '../layout';
import type { MgraphFormat } from '../formats/mgraph/mgraph-format';
import { classifyKey, isServiceHash } from '../formats/mgraph/keys';
import type { NativeFormat } from '../formats/native/native-format';
import type { StoreFormat } from '../formats/format';
import { forEachPage } from '../storage/list-page';
import type { StorageBackend } from '../storage/types';
import { DEFAULT_ORPHAN_GRACE_MS } from '../verify';

/** Why a version is selected. */
export type PruneReason = 'older_than' | 'expired' | 'keep_versions';

export interface PruneCandidate {
  namespace: string;
  hash: string;
  /** Native `<hash>-v<n>`, the service's GUID. */
  cache_id: string;
  version: number;
  stored_at: string;
  reason: PruneReason;
  /** The hash has no version left after this one goes: its content is removed. */
  content_removed: boolean;
  /** Bytes of content removed with this version (native: the hash's bytes, with its last version). */
  bytes_freed: number;
}

/** One namespace's cut: versions stored before `cutoffMs`, and those past the newest `keep`. */
export interface NamespaceCut {
  namespace: string;
  cutoffMs: number | null;
  cutoffReason: 'older_than' | 'expired';
  keep: number | null;
}

interface ListedVersion {
  version: number;
  cache_id: string;
  storedAtMs: number;
  stored_at: string;
  /** Content bytes this version's removal frees on its own (service layout), else 0. */
  ownBytes: number;
  /**
   * Never pruned, nor counted among the versions kept: its record is missing (native: an index
   * entry with no record beside it) or its by-id ref is missing or unreadable (service layout).
   * Verify reports it, and may restore it.
   */
  unreadable?: boolean;
}

interface ListedHash {
  hash: string;
  versions: ListedVersion[];
  /** Bytes freed when the last version goes (native). */
  contentBytes: number;
}

const CONCURRENCY = 8;
/** Up to this many candidate hashes are confirmed one LIST each; more, by one listing of the namespace. */
const PER_HASH_LISTS_MAX = 64;
const TEMPORAL_NAME_RE = /\/(\d{8}T\d{9}Z)~([0-9a-f]{16})-v(\d+)$/;
const RECORD_NAME_RE = /\.v\d{8}\.json$/;
/** A content key's name: its hash alone (the layout says whether it sits where content goes). */
const HASH_NAME_RE = /\/[0-9a-f]{16}$/;

export function selectVersions(cut: NamespaceCut, hashes: Iterable<ListedHash>): PruneCandidate[] {
  const out: PruneCandidate[] = [];
  for (const h of hashes) {
    const versions = [...h.versions].sort((a, b) => a.version - b.version);
    // The versions kept are the newest readable ones: one without a record is no version to keep.
    let newerReadable = 0;
    const newestFirst = [...versions].reverse().map((v): PruneReason | null => {
      if (v.unreadable) return null;
      const newer = newerReadable++;
      if (cut.cutoffMs !== null && v.storedAtMs < cut.cutoffMs) return cut.cutoffReason;
      if (cut.keep !== null && newer >= cut.keep) return 'keep_versions';
      return null;
    });
    const reasons = newestFirst.reverse();
    const all = reasons.every((r) => r !== null);
    const last = reasons.findLastIndex((r) => r !== null);
    versions.forEach((v, i) => {
      const reason = reasons[i];
      if (!reason) return;
      const contentRemoved = all && i === last;
      out.push({ namespace: cut.namespace, hash: h.hash, cache_id: v.cache_id, version: v.version, stored_at: v.stored_at, reason, content_removed: contentRemoved, bytes_freed: v.ownBytes + (contentRemoved ? h.contentBytes : 0) });
    });
  }
  return out.sort((a, b) => (a.stored_at < b.stored_at ? -1 : a.stored_at > b.stored_at ? 1 : 0));
}

/** A namespace's candidates, and how many refs that may have named more could not be read (those versions are left alone). */
export interface NamespacePlan {
  candidates: PruneCandidate[];
  unreadableRefs: number;
  /** Whether a version (another prune's journaled one) may still be there, by what this plan listed. */
  present: (version: { cache_id: string; stored_at: string }) => boolean;
}

export async function planNamespace(format: StoreFormat, cut: NamespaceCut, signal?: AbortSignal): Promise<NamespacePlan> {
  if (cut.cutoffMs === null && cut.keep === null) return { candidates: [], unreadableRefs: 0, present: () => true };
  const listedIds = (hashes: ListedHash[]) => new Set(hashes.flatMap((h) => h.versions.map((v) => v.cache_id)));
  if (format.name === 'native') {
    const hashes = await listNative(format as NativeFormat, cut, signal);
    const unreadableRefs = hashes.reduce((n, h) => n + h.versions.filter((v) => v.unreadable).length, 0);
    const listed = listedIds(hashes);
    // A cutoff alone lists only the hashes with a version stored before it (by the temporal view): of a version
    // stored after it, the listing says nothing.
    const unlistedAfter = cut.keep === null && cut.cutoffMs !== null ? new Date(cut.cutoffMs).toISOString() : null;
    return { candidates: selectVersions(cut, hashes), unreadableRefs, present: (v) => listed.has(v.cache_id) || (unlistedAfter !== null && v.stored_at >= unlistedAfter) };
  }
  const { hashes, unreadableRefs } = await listService(format as MgraphFormat, cut, signal);
  const listed = listedIds(hashes); // every hash's ref
  return { candidates: selectVersions(cut, hashes), unreadableRefs, present: (v) => listed.has(v.cache_id) };
}

function checkSignal(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CacheError('cancelled', 'the prune was cancelled');
}

/** Names only where the backend can skip sizes (a local folder stats nothing). */
async function forEachKey(storage: StorageBackend, prefix: string, visit: (key: string) => boolean | void, signal?: AbortSignal): Promise<void> {
  let cursor: string | undefined;
  do {
    checkSignal(signal);
    const page = storage.listKeys ? await storage.listKeys(prefix, { cursor }) : { ...(await storage.list(prefix, { cursor })), keys: undefined };
    const keys = page.keys ?? (page as { objects: { key: string }[] }).objects.map((o) => o.key);
    for (const key of keys) if (visit(key) === false) return;
    cursor = page.cursor;
  } while (cursor !== undefined);
}

async function listNative(format: NativeFormat, cut: NamespaceCut, signal?: AbortSignal): Promise<ListedHash[]> {
  const { storage } = format;
  const { layout } = format.cache;
  const ns = cut.namespace as Namespace;
  let wanted: Set<string> | null = null;
  if (cut.keep === null && cut.cutoffMs !== null) {
    // The temporal view is sorted by time: stop at the first version stored at or after the cutoff.
    const cutoff = compactTime(new Date(cut.cutoffMs).toISOString());
    wanted = new Set();
    const found = wanted;
    await forEachKey(storage, `${ns}/temporal/`, (key) => {
      const m = TEMPORAL_NAME_RE.exec(key);
      if (!m) return;
      if (m[1]! >= cutoff) return false;
      found.add(m[2]!);
    }, signal);
    if (wanted.size === 0) return [];
  }
  const byHash = new Map<string, ListedHash>();
  /** `<hash>-v<n>` of each version record listed: an index entry without one is a version lost (or no version at all). */
  const records = new Set<string>();
  /** Hashes whose content is listed: content already missing frees nothing when its last version goes. */
  const contentListed = new Set<string>();
  const addKey = (key: string) => {
    // Index entries have a "~", records end in ".v<8 digits>.json", content is named by its hash alone: latest is skipped unparsed.
    if (HASH_NAME_RE.test(key) && layout.describeKey(key)?.kind === 'content') return void contentListed.add(key.slice(-16));
    if (!key.includes('~') && !RECORD_NAME_RE.test(key)) return;
    const d = layout.describeKey(key);
    if (!d || (wanted && !wanted.has(d.hash))) return;
    if (d.kind === 'record') return void records.add(`${d.hash}-v${d.version}`);
    if (d.kind !== 'version_entry') return;
    const v = layout.parseVersionEntry(d.hash, key);
    if (!v) return;
    const listed = byHash.get(d.hash) ?? { hash: d.hash, versions: [], contentBytes: v.size };
    listed.versions.push({ version: v.version, cache_id: v.cache_id, stored_at: v.stored_at, storedAtMs: Date.parse(v.stored_at), ownBytes: 0 });
    byHash.set(d.hash, listed);
  };
  if (wanted && wanted.size <= PER_HASH_LISTS_MAX) {
    await mapLimit([...wanted], CONCURRENCY, async (hash) => {
      checkSignal(signal);
      // The hash's own keys: its records beside its index entries (and its content and latest).
      await forEachPage(storage, layout.content(ns, hash as CacheHash), (page) => page.objects.forEach((o) => addKey(o.key)));
    });
  } else await forEachKey(storage, layout.objectsPrefix(ns), addKey, signal);
  for (const listed of byHash.values()) {
    for (const v of listed.versions) if (!records.has(v.cache_id)) v.unreadable = true;
    if (!contentListed.has(listed.hash)) listed.contentBytes = 0;
  }
  return [...byHash.values()];
}

/** Its hashes, and the refs it could not read: damaged by-hash refs, and candidates' by-id refs missing or damaged. */
async function listService(format: MgraphFormat, cut: NamespaceCut, signal?: AbortSignal): Promise<{ hashes: ListedHash[]; unreadableRefs: number }> {
  const { storage } = format;
  const ns = cut.namespace;
  const hashes: string[] = [];
  await forEachKey(storage, `${ns}/refs/by-hash/`, (key) => {
    const c = classifyKey(key);
    if (c?.kind === 'ref_by_hash' && isServiceHash(c.id!)) hashes.push(c.id!);
  }, signal);
  let unreadableRefs = 0;
  const listed = await mapLimit(hashes, CONCURRENCY, async (hash): Promise<ListedHash | null> => {
    checkSignal(signal);
    // A damaged ref is verify's to report (and repair's to rebuild), not ours to prune; one gone was deleted meanwhile.
    const ref = await format.readHashRef(ns, hash).catch(() => void unreadableRefs++);
    if (!ref) return null;
    const versions = ref.cache_ids.map((e, i) => ({ version: i + 1, cache_id: e.cache_id, storedAtMs: e.timestamp, stored_at: new Date(e.timestamp).toISOString(), ownBytes: 0 }));
    return { hash, versions, contentBytes: 0 };
  });
  const found = listed.filter((h): h is ListedHash => h !== null);
  // Each cache id has its own content files: their sizes, from the by-id refs (refs, never content) and one listing.
  const selected = selectVersions(cut, found);
  if (selected.length === 0) return { hashes: found, unreadableRefs };
  const sizes = new Map<string, number>();
  await forEachPage(storage, `${ns}/data/`, (page) => page.objects.forEach((o) => sizes.set(o.key, o.size)));
  // A version's age is its by-id ref's time (what a lookup shows), not the by-hash ref's copy of it;
  // one without a readable by-id ref is verify's to report, and is not pruned. So is one whose by-id
  // ref is another hash's entry (a damaged by-hash ref lists it): pruned, that other entry would go.
  // Every version of a hash with a candidate is read: a newer one that is no version to keep leaves
  // its place to the next older (it was kept in place of the hash's last real version).
  const candidateHashes = new Set(selected.map((c) => c.hash));
  const toRead = found.filter((h) => candidateHashes.has(h.hash)).flatMap((h) => h.versions.map((version) => ({ hash: h.hash, version })));
  const listedAt = Date.now();
  const contentFiles = new Map<ListedVersion, string[]>();
  await mapLimit(toRead, CONCURRENCY, async ({ hash, version: v }) => {
    checkSignal(signal);
    const read = await format.readIdRef(ns, v.cache_id).catch(() => undefined); // undefined: damaged
    if (read?.cache_hash !== hash) {
      // Not a version to prune or to keep in place of another; unless it is a store in flight (the service writes the
      // by-hash ref first, listed within the last minute, by a clock near this one's), it is damage for verify to report.
      v.unreadable = true;
      if (read !== null || Math.abs(listedAt - v.storedAtMs) >= DEFAULT_ORPHAN_GRACE_MS) unreadableRefs++;
      return;
    }
    contentFiles.set(v, read.file_paths.content_files);
    [v.storedAtMs, v.stored_at] = [read.timestamp, new Date(read.timestamp).toISOString()];
  });
  // A file two versions name (key_based, a fixed file id) is freed with the last of them, and not at
  // all while one is kept: counted once, for the last version pruned (in the plan's order) that names it.
  const pruned = new Set(selectVersions(cut, found).map((c) => c.cache_id));
  const lastPrunedNaming = new Map<string, ListedVersion>();
  const kept = new Set<string>();
  const byAge = [...contentFiles.keys()].sort((a, b) => a.storedAtMs - b.storedAtMs || a.version - b.version);
  for (const v of byAge) {
    for (const key of contentFiles.get(v)!) {
      if (pruned.has(v.cache_id)) lastPrunedNaming.set(key, v);
      else kept.add(key);
    }
  }
  for (const [key, v] of lastPrunedNaming) if (!kept.has(key)) v.ownBytes += sizes.get(key) ?? 0;
  return { hashes: found, unreadableRefs };
}

