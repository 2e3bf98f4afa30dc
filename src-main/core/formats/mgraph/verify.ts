/**
 * Verify for the service layout: every ref points at something real, every content copy re-hashes
 * to its cache hash the way the service hashed it, nothing under data/ is unclaimed. Repair only
 * rebuilds refs from what they are derived from (by-hash refs from the by-id refs, an unreadable or
 * missing by-id ref from its files' .metadata) and moves left child data aside; it never deletes content.
 */
import { HASH_LENGTH, PROBLEM_KINDS, type ProblemKind } from '../../../../src-shared/domain';
import { CacheError } from '../../../../src-shared/errors';
import { quarantineCopy } from '../../cache-service';
import { ADMIN_PREFIX } from '../../retention/policy';

const SERVICE_QUARANTINE_PREFIX = `${ADMIN_PREFIX}quarantine/`;
import { turnTaker } from '../../event-loop';
import { mapLimit } from '../../keyed-lock';
import { assertWritable } from '../../storage/read-only';
import type { ObjectInfo } from '../../storage/types';
import { DEFAULT_ORPHAN_GRACE_MS, READ_WHOLE_BYTES, Rehashes, checkLeftovers, streamedSha256, verifyCancelled } from '../../verify';
import type { FormatProblem, FormatVerifyOptions, FormatVerifyReport } from '../format';
import { rehashFile } from './content';
import { childDataStems, classifyKey, insideNamespace, parseServiceNamespace, refByHashKey, refByIdKey } from './keys';
import type { MgraphFormat } from './mgraph-format';
import { addressedIdRef, dataFilesOf, dataFoldersOf, distinctVersions, dumps, hashRefProblem, idRefFromSidecars, idRefProblem, isHashRef, parseJsonObject, type HashRef, type IdRef, type Metadata, type MetadataData } from './refs';


export async function verifyServiceStore(format: MgraphFormat, options: FormatVerifyOptions = {}): Promise<FormatVerifyReport> {
  const { storage } = format;
  if (options.repair) assertWritable(storage, 'repair');
  const problems: FormatProblem[] = [];
  const repaired: { kind: ProblemKind; key: string; action: string }[] = [];
  const notes: string[] = [];
  const concurrency = options.concurrency ?? 8;
  const grace = options.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS;
  let listed = 0;
  let checked = 0;
  /** Copies a later entry with the same file id wrote over, passed over for an entry that has its own. */
  let sharedCopies = 0;
  const sample = { perNamespace: options.sample ?? 0, rehashed: 0, of: 0 };
  const report = (kind: ProblemKind, key: string, hash: string | null, detail: string) => problems.push({ kind, key, hash, detail });
  const rehashes = new Rehashes((rehashing) => options.onProgress?.({ phase: 'checking', listed, checked, ...(rehashing && { rehashing }) }));
  /** `n` more keys checked: each once, a key outside the layout as it is listed, the others once what they belong to is checked. */
  const tick = (phase: 'listing' | 'checking', n: number) => {
    checked += n;
    const rehashing = rehashes.mostLeft();
    options.onProgress?.({ phase, listed, checked, ...(rehashing && { rehashing }) });
  };
  const { signal } = options;
  // Direct calls never let the event loop turn: one now and then lets a Ctrl+C or a worker's cancel be seen.
  const takeTurn = turnTaker();
  const checkpoint = async () => {
    await takeTurn();
    if (signal?.aborted) throw new CacheError('cancelled', 'verify was cancelled');
  };

  try {
    const namespaces = options.namespace !== undefined ? [parseServiceNamespace(options.namespace)] : await format.namespaceNames();
    for (const ns of namespaces) {
      // Pass 1: one listing of the namespace.
      const hashRefKeys = new Map<string, ObjectInfo>();
      const idRefKeys = new Map<string, ObjectInfo>();
      const dataKeys = new Map<string, ObjectInfo>();
      let cursor: string | undefined;
      do {
        await checkpoint();
        const page = await storage.list(`${ns}/`, { cursor });
        listed += page.objects.length;
        let misplaced = 0;
        for (const o of page.objects) {
          const c = classifyKey(o.key);
          if (!c) {
            report('misplaced', o.key, null, 'not a key of the service layout');
            misplaced++;
          } else if (c.kind === 'ref_by_hash') hashRefKeys.set(c.id!, o);
          else if (c.kind === 'ref_by_id') idRefKeys.set(c.id!, o);
          else dataKeys.set(o.key, o);
        }
        tick('listing', misplaced);
        cursor = page.cursor;
      } while (cursor !== undefined);

      // Pass 2: read every ref (small JSON files). A by-hash ref is derived from the by-id refs, so
      // any that is wrong, unreadable included, can be rebuilt from them.
      const toRebuild = new Map<string, ProblemKind>();
      /** By-id refs that cannot be read, or that a by-hash ref names and are missing: what they name is unknown, so nothing unclaimed is moved aside. */
      let unknownIdRefs = 0;
      const hashRefs = new Map<string, HashRef>();
      const idRefs = new Map<string, IdRef>();
      const damagedIdRefs = new Map<string, { info: ObjectInfo; problem: string }>();
      /** Cache ids a by-hash ref lists whose by-id ref is missing (and not a store in flight), with that by-hash ref. */
      const missingIdRefs = new Map<string, { hash: string; key: string }>();
      await mapLimit([...hashRefKeys], concurrency, async ([hash, info]) => {
        await checkpoint();
        const ref = parseJsonObject<HashRef>(await storage.get(info.key, { signal }));
        const problem = hashRefProblem(ref);
        if (!problem) hashRefs.set(hash, ref!);
        else {
          report('corrupt', info.key, hash, `the by-hash ref is unreadable: ${problem}`);
          toRebuild.set(hash, 'corrupt');
          tick('checking', 1);
        }
      });
      await mapLimit([...idRefKeys], concurrency, async ([cacheId, info]) => {
        await checkpoint();
        const ref = parseJsonObject<IdRef>(await storage.get(info.key, { signal }));
        const problem = idRefProblem(ref);
        if (!problem) idRefs.set(cacheId, addressedIdRef(ref!, storage));
        else {
          damagedIdRefs.set(cacheId, { info, problem }); // reported once its entry's files are looked for
          unknownIdRefs++;
          tick('checking', 1);
        }
      });

      /** Whether `id` is listed by the by-hash ref of `hash` though its by-id ref is another hash's entry. */
      const isForeign = (hash: string, id: string) => {
        const idRef = idRefs.get(id);
        return idRef !== undefined && idRef.cache_hash !== hash;
      };

      // A store in flight: the service writes the by-hash ref first, we write the by-id ref first.
      const startedAt = Date.now();
      // Within the grace either way: a time far ahead (a clock wrong, a ref edited) is no store in flight, forever.
      const fresh = (timestamp: unknown) => typeof timestamp === 'number' && Math.abs(startedAt - timestamp) < grace;

      // By-hash refs: every cache id listed has a by-id ref; latest is one of them.
      for (const [hash, ref] of hashRefs) {
        const key = refByHashKey(ns, hash);
        const listed = ref.cache_ids.map((e) => e.cache_id);
        for (const { cache_id: id, timestamp } of ref.cache_ids) {
          if (!idRefKeys.has(id)) unknownIdRefs++;
          // Reported once its entry's files are looked for (below): they may rebuild it.
          if (!idRefKeys.has(id) && !fresh(timestamp)) missingIdRefs.set(id, { hash, key });
        }
        // Another hash's entry listed here: a delete or prune of this hash would take it (they refuse now).
        const foreign = [...new Set(listed.filter((id) => isForeign(hash, id)))];
        if (foreign.length > 0) {
          report('corrupt', key, hash, `lists ${foreign.map((id) => `${id}, an entry of ${idRefs.get(id)!.cache_hash}`).join('; ')}: a repair drops it from this ref (the entry stays its own hash's)`);
          if (!toRebuild.has(hash)) toRebuild.set(hash, 'corrupt');
        }
        const twice = [...new Set(listed.filter((id, i) => listed.indexOf(id) !== i))];
        if (twice.length > 0) {
          report('corrupt', key, hash, `lists ${twice.join(', ')} more than once (a store the service retried under the same cache id?): each cache id is one version, one by-id ref and one set of files, whose latest listing counts`);
          if (!toRebuild.has(hash)) toRebuild.set(hash, 'corrupt');
        }
        // The service sets latest_id to the cache id it appends, and after a delete to the last one left.
        if (ref.latest_id !== listed[listed.length - 1] || ref.total_versions !== listed.length) {
          report('stale_latest', key, hash, `latest_id ${ref.latest_id} / total_versions ${ref.total_versions} do not match the ${listed.length} cache ids listed (the last: ${listed[listed.length - 1] ?? 'none'})`);
          if (!toRebuild.has(hash)) toRebuild.set(hash, 'stale_latest');
        }
        tick('checking', 1);
      }

      // By-id refs: listed by their hash, every path present, every content copy re-hashes.
      const claimed = new Set<string>();
      /** By-id refs none of whose content files exist: a delete stopped part-way (files gone, ref left). */
      const contentless = new Set<string>();
      const dataFolders: string[] = [];
      const entries = [...idRefs];
      const sampled = options.sample !== undefined ? new Set(shuffle(entries.map(([id]) => id)).slice(0, options.sample)) : null;
      sample.rehashed += sampled?.size ?? 0;
      sample.of += entries.length;
      /** Data keys counted as checked: a copy two entries share (a fixed file id) counts once. */
      const countedData = new Set<string>();
      /** The by-id ref and its files not counted yet, checked. */
      const entryChecked = (ref: IdRef) => {
        const mine = dataFilesOf(ref).filter((key) => dataKeys.has(key) && !countedData.has(key));
        for (const key of mine) countedData.add(key);
        tick('checking', 1 + mine.length);
      };
      await mapLimit(entries, concurrency, async ([cacheId, ref]) => {
        await checkpoint();
        const hash = ref.cache_hash;
        const idKey = idRefKeys.get(cacheId)!.key;
        const files = dataFilesOf(ref);
        for (const key of files) claimed.add(key);
        dataFolders.push(...dataFoldersOf(ref).map((f) => `${f}/`));
        const byHash = hashRefs.get(hash);
        const unreadable = hashRefKeys.has(hash) && !byHash; // reported above
        // Its age is the by-id ref's (what a lookup shows); a by-hash ref that says otherwise would have prune judge it by another.
        const listedAt = byHash?.cache_ids.find((e) => e.cache_id === cacheId)?.timestamp;
        if (listedAt !== undefined && listedAt !== ref.timestamp) {
          report('corrupt', refByHashKey(ns, hash), hash, `lists ${cacheId} as stored at ${new Date(listedAt).toISOString()}, its by-id ref at ${new Date(ref.timestamp).toISOString()}: the by-id ref's time is the entry's`);
          if (!toRebuild.has(hash)) toRebuild.set(hash, 'corrupt');
        }
        const ownContent = ref.file_paths.content_files.filter((key) => insideNamespace(ns, key));
        const contentGone = ownContent.length > 0 && ownContent.every((key) => !dataKeys.has(key));
        if (contentGone) contentless.add(cacheId);
        if (!unreadable && !byHash?.cache_ids.some((e) => e.cache_id === cacheId) && !fresh(ref.timestamp)) {
          if (contentGone) {
            // A delete stopped part-way (files gone, this ref left): listing it again would make it the latest, and every read by hash would fail.
            report('orphan', idKey, hash, `no by-hash ref lists ${cacheId}, and its content is gone (a delete stopped part-way?): a repair leaves it out; delete ${cacheId} to finish it`);
          } else {
            report('orphan', idKey, hash, `no by-hash ref lists ${cacheId}: the service finds it by id only`);
            toRebuild.set(hash, 'orphan');
          }
        }
        const elsewhere = files.filter((key) => !insideNamespace(ns, key));
        if (elsewhere.length > 0) {
          // Not this namespace's files (a namespace copied by hand keeps the original's paths): a delete here leaves them alone.
          report('misplaced', idKey, hash, `${cacheId} names ${elsewhere.length} path(s) outside namespace ${ns}, such as ${elsewhere[0]}: it reads another namespace's files (copied by hand?); deleting it here leaves them alone`);
        }
        // Only what the ref lists is missing when absent: a sidecar it does not list may never have been written.
        for (const key of ref.all_paths.data) {
          if (dataKeys.has(key) || elsewhere.includes(key)) continue;
          // A store in flight may write its files after the listing passed data/ and its by-id ref before it reached refs/.
          if (fresh(ref.timestamp) && (await storage.exists(key))) continue;
          report('missing_content', key, hash, `${cacheId} (${ref.strategy}) lists it, and it is missing`);
        }
        if (sampled && !sampled.has(cacheId)) return entryChecked(ref);
        /** The sidecars read here, parsed (null: not JSON): the re-hash reads how the service hashed from them. */
        const sidecars = new Map<string, Metadata | null>();
        for (const key of files.filter((k) => /\.(config|metadata)$/.test(k) && dataKeys.has(k))) {
          const bytes = await storage.get(key, { signal });
          const sidecar = bytes && parseJsonObject<Metadata>(bytes);
          if (!bytes) continue; // deleted while verifying
          sidecars.set(key, sidecar);
          // The service's retrieve reads .metadata's `data` (a broken .config it does without).
          if (key.endsWith('.metadata') && !(sidecar && typeof sidecar.data === 'object' && sidecar.data !== null && !Array.isArray(sidecar.data))) {
            report('corrupt', key, hash, `the sidecar is not JSON with a "data" object: the service cannot retrieve ${cacheId}`);
          } else if (!sidecar) report('corrupt', key, hash, 'the sidecar is not readable JSON');
        }
        const present = ref.file_paths.content_files.filter((key) => dataKeys.has(key));
        // A copy a later entry wrote over (a fixed file id both share, as temporal_latest's `latest/`
        // copy is) holds that entry's content, and is checked as that entry's.
        const writerOf = (key: string) => sidecars.get(`${key}.metadata`)?.data?.cache_id;
        const overwritten = present.filter((key) => {
          const writer = writerOf(key);
          return writer !== undefined && writer !== cacheId && idRefs.get(writer)?.file_paths.content_files.includes(key) === true;
        });
        for (const contentKey of present) {
          if (overwritten.includes(contentKey) && overwritten.length < present.length) continue;
          const problem = await rehashProblem(format, contentKey, ref, dataKeys, sidecars, rehashes, signal);
          if (problem) report('corrupt', contentKey, hash, overwritten.includes(contentKey) ? `${problem}: ${writerOf(contentKey)} (the same file id) wrote it since, and ${cacheId} has no copy of its own left` : problem);
        }
        if (overwritten.length > 0 && overwritten.length < present.length) sharedCopies += overwritten.length;
        entryChecked(ref);
      });

      // An unreadable or missing by-id ref: its entry's files are known by their .metadata, which every store
      // rewrites with its cache id (the service cannot read the entry either, and without the ref nothing could delete it).
      const writtenFor = new Map<string, { content: string; data: MetadataData }[]>();
      if (damagedIdRefs.size + missingIdRefs.size > 0) {
        const unclaimed = [...dataKeys.keys()].filter((key) => !claimed.has(key) && !/\.(config|metadata)$/.test(key) && dataKeys.has(`${key}.metadata`));
        await mapLimit(unclaimed, concurrency, async (content) => {
          const data = parseJsonObject<Metadata>(await storage.get(`${content}.metadata`, { signal }))?.data;
          if (typeof data?.cache_id !== 'string' || !(damagedIdRefs.has(data.cache_id) || missingIdRefs.has(data.cache_id))) return;
          writtenFor.set(data.cache_id, [...(writtenFor.get(data.cache_id) ?? []), { content, data }]);
        });
      }
      /**
       * The by-id ref the files of `cacheId` give, when it is a valid one and the by-hash ref of its hash lists the cache id,
       * or is there unreadable (rebuilt from the by-id refs below): a .metadata alone, planted or damaged, would move an
       * entry to another hash.
       */
      const rebuildFromFiles = (cacheId: string) => {
        const rebuilt = idRefFromSidecars(ns, cacheId, writtenFor.get(cacheId) ?? [], (key) => dataKeys.has(key));
        if (!rebuilt || idRefProblem(rebuilt) !== null) return null;
        const hashRef = hashRefs.get(rebuilt.cache_hash);
        return (hashRef ? hashRef.cache_ids.some((e) => e.cache_id === cacheId) : hashRefKeys.has(rebuilt.cache_hash)) ? rebuilt : null;
      };
      /** A rebuilt ref's files and child data are its entry's, not orphans. */
      const claim = (ref: IdRef) => {
        for (const key of dataFilesOf(ref)) claimed.add(key);
        dataFolders.push(...dataFoldersOf(ref).map((f) => `${f}/`));
      };
      const filesSaid = (ref: IdRef) => `its entry's files are there (${ref.file_paths.content_files.join(', ')}, whose .metadata names ${ref.cache_id})`;
      const rebuiltFrom = (ref: IdRef) => `rebuilt from the .metadata of ${ref.file_paths.content_files.length === 1 ? 'its content file' : `its ${ref.file_paths.content_files.length} content files`}`;
      for (const [cacheId, { hash, key }] of missingIdRefs) {
        await checkpoint();
        const rebuilt = rebuildFromFiles(cacheId);
        if (!rebuilt || rebuilt.cache_hash !== hash) {
          report('dangling_ref', key, hash, `names ${cacheId}, whose by-id ref is missing`);
          toRebuild.set(hash, 'dangling_ref');
          continue;
        }
        claim(rebuilt);
        const idKey = refByIdKey(ns, cacheId);
        report('dangling_ref', key, hash, `names ${cacheId}, whose by-id ref is missing; ${filesSaid(rebuilt)}: a repair rebuilds the by-id ref from them`);
        if (!options.repair) continue;
        // Create-only: a store or repair that wrote it meanwhile is not overwritten.
        if (await storage.put(idKey, dumps(rebuilt, 2), { ifAbsent: true })) repaired.push({ kind: 'dangling_ref', key: idKey, action: `${rebuiltFrom(rebuilt)}: ${key} names ${cacheId} again` });
        idRefs.set(cacheId, rebuilt);
      }
      for (const [cacheId, { info, problem }] of damagedIdRefs) {
        await checkpoint();
        // One written just now may be a store's still being written (the service writes in place): reported, not rebuilt.
        const writing = Date.now() - Date.parse(info.modified) < grace;
        const rebuilt = writing ? null : rebuildFromFiles(cacheId);
        if (!rebuilt) {
          report('corrupt', info.key, null, `the by-id ref is unreadable: ${problem}${writing ? '' : `; no files whose .metadata names ${cacheId} give a by-id ref a by-hash ref lists, so nothing rebuilds it`}`);
          continue;
        }
        claim(rebuilt);
        report('corrupt', info.key, rebuilt.cache_hash, `the by-id ref is unreadable: ${problem}; ${filesSaid(rebuilt)}: a repair rebuilds the ref from them`);
        if (!options.repair) continue;
        const aside = await quarantineCopy(storage, info.key, SERVICE_QUARANTINE_PREFIX);
        if (!aside) continue; // deleted meanwhile
        await storage.put(info.key, dumps(rebuilt, 2));
        idRefs.set(cacheId, rebuilt); // its by-hash ref, rebuilt below, keeps it
        repaired.push({ kind: 'corrupt', key: info.key, action: `${rebuiltFrom(rebuilt)} (the unreadable one moved to ${aside})` });
      }

      // Anything under data/ that no by-id ref claims, as content, sidecar or child data.
      const now = Date.now();
      tick('checking', [...dataKeys.keys()].filter((key) => !countedData.has(key)).length); // child data and files no ref names
      for (const [key, info] of dataKeys) {
        if (claimed.has(key) || dataFolders.some((f) => key.startsWith(f))) continue;
        if (now - Date.parse(info.modified) < grace) continue; // may be a store in flight
        // Child data left by the service's own delete (it removes the entry's files, not its `<file id>/data/`):
        // no content file any of its folders could belong to is left, so nothing can name it again. Content
        // has sidecars (child data has none) and is never taken for it. Moved aside by a repair, never deleted.
        const stems = childDataStems(key).filter((stem) => stem.startsWith(`${ns}/data/`));
        const isContent = /\.(config|metadata)$/.test(key) || dataKeys.has(`${key}.metadata`) || dataKeys.has(`${key}.config`);
        const leftChild = stems.length > 0 && !isContent && unknownIdRefs === 0 && !stems.some((stem) => ['json', 'bin'].some((ext) => dataKeys.has(`${stem}.${ext}`)));
        if (!leftChild) {
          report('orphan', key, null, 'no by-id ref claims it (content, sidecar or child data of a deleted or unfinished entry)');
          continue;
        }
        report('orphan', key, null, `child data of a deleted entry (${stems[0]} is gone: the service's delete leaves its child data): a repair moves it to ${SERVICE_QUARANTINE_PREFIX}`);
        const aside = options.repair ? await quarantineCopy(storage, key, SERVICE_QUARANTINE_PREFIX) : null;
        if (aside) {
          await storage.delete(key);
          repaired.push({ kind: 'orphan', key, action: `moved to ${aside}` });
        }
      }

      if (options.repair) {
        for (const [hash, kind] of toRebuild) {
          await checkpoint();
          const key = refByHashKey(ns, hash);
          // A by-id ref whose content is gone is not added back: it would become the latest, and every read by hash would fail.
          const mine = [...idRefs].filter(([id, r]) => r.cache_hash === hash && !contentless.has(id));
          // Only a cache id found without its by-id ref now, and not stored just now, is dropped: a store
          // that ended after the listing, or is still writing, keeps its version.
          const gone = new Set<string>();
          for (const { cache_id: id, timestamp } of hashRefs.get(hash)?.cache_ids ?? []) {
            if (!idRefs.has(id) && !fresh(timestamp) && !(await storage.exists(refByIdKey(ns, id)))) gone.add(id);
          }
          // A ref the rebuild may remove goes to the quarantine first: a repair never deletes what it cannot rebuild.
          // (Under the tool's own folder: `_quarantine` would be a valid service namespace.)
          const aside = mine.length === 0 ? await quarantineCopy(storage, key, SERVICE_QUARANTINE_PREFIX) : null;
          let removed = false;
          let action = '';
          await format.refs.update(key, (found) => {
            // An unreadable ref names nothing that can be trusted: every cache id comes from the by-id refs.
            const current = isHashRef(found) ? found : null;
            const replaced = kind === 'corrupt' && !current;
            // Each version's time is its by-id ref's, as a lookup shows it.
            let retimed = 0;
            const distinct = current ? distinctVersions(current) : [];
            const merged = (current?.cache_ids.length ?? 0) - distinct.length;
            const kept = distinct
              .filter((e) => !gone.has(e.cache_id) && !isForeign(hash, e.cache_id))
              .map((e) => {
                const timestamp = idRefs.get(e.cache_id)?.timestamp ?? e.timestamp;
                if (timestamp !== e.timestamp) retimed++;
                return { ...e, timestamp };
              });
            const added = mine.filter(([id]) => !kept.some((e) => e.cache_id === id)).map(([id, r]) => ({ cache_id: id, timestamp: r.timestamp }));
            const cacheIds = [...kept, ...added].sort((a, b) => a.timestamp - b.timestamp);
            const dropped = distinct.length - kept.length;
            const foreign = distinct.filter((e) => isForeign(hash, e.cache_id)).length;
            action = replaced
              ? `rebuilt from the by-id refs in place of the unreadable one: ${cacheIds.length} cache id(s)`
              : `rebuilt from the by-id refs: ${cacheIds.length} cache id(s), ${dropped - foreign} without a by-id ref dropped, ${added.length} added${foreign ? `, ${foreign} of other hashes dropped` : ''}${merged ? `, ${merged} listed again merged` : ''}${retimed ? `, ${retimed} given their by-id ref's time` : ''}`;
            if (cacheIds.length === 0) {
              removed = true;
              action = `moved to ${aside}${replaced ? ': it was unreadable, and' : ':'} no by-id ref whose content is there names this hash`;
              return null;
            }
            return { cache_hash: hash, cache_ids: cacheIds, latest_id: cacheIds[cacheIds.length - 1]!.cache_id, total_versions: cacheIds.length };
          });
          if (aside && !removed) await storage.delete(aside); // rebuilt after all (a store landed meanwhile)
          repaired.push({ kind, key, action });
        }
      }
    }
  } catch (err) {
    if (signal?.aborted) throw verifyCancelled(checked, options.repair ? repaired : null);
    throw err;
  }

  await checkLeftovers(storage, options.namespace, notes, async (leftover, why) => {
    report('temp_leftover', leftover.id, null, why);
    if (options.repair) {
      await storage.removeLeftover(leftover);
      repaired.push({ kind: 'temp_leftover', key: leftover.id, action: 'removed' });
    }
  }, (key, why) => report('misplaced', key, null, why));
  if (sharedCopies > 0) {
    notes.push(`${sharedCopies === 1 ? '1 content copy was' : `${sharedCopies} content copies were`} written over by a later entry with the same file id (temporal_latest's latest/ copy, as the service does): checked as that entry's; the earlier entry is read from its own copy`);
  }
  // What a repair does here, said beside problems it may or may not mend (a clean store verifies quietly).
  if (problems.length > 0) {
    notes.push(
      options.repair
        ? `${repaired.length === 0 ? 'repair changed nothing' : `repair made ${repaired.length === 1 ? '1 change' : `${repaired.length} changes`}`}: a repair rebuilds by-hash refs (moving one it cannot rebuild to _cache-admin.d/quarantine/) and unreadable or missing by-id refs from their files' .metadata, moves child data of deleted entries there and removes temp leftovers only; it never deletes or rewrites content`
        : "a repair would rebuild by-hash refs (moving one it cannot rebuild to _cache-admin.d/quarantine/) and unreadable or missing by-id refs from their files' .metadata, move child data of deleted entries there and remove temp leftovers only; it never deletes or rewrites content",
    );
  }
  problems.sort((a, b) => PROBLEM_KINDS.indexOf(a.kind) - PROBLEM_KINDS.indexOf(b.kind) || a.key.localeCompare(b.key));
  return { checked, ...(options.sample !== undefined && { sampled: sample }), problems, ...(options.repair ? { repaired } : {}), notes };
}

/**
 * Why one content copy does not re-hash to its cache hash, or null when it does. Big or gzip binary
 * content streams through the hash (its progress told); JSON is read whole, as the service must parse it.
 */
async function rehashProblem(
  format: MgraphFormat,
  contentKey: string,
  ref: IdRef,
  dataKeys: Map<string, ObjectInfo>,
  sidecars: Map<string, Metadata | null>,
  rehashes: Rehashes,
  signal?: AbortSignal,
): Promise<string | null> {
  // The copy's own .metadata, else any copy's: it says how the service hashed (encoding, field path).
  const metaKey = [contentKey, ...ref.file_paths.content_files].map((k) => `${k}.metadata`).find((k) => dataKeys.has(k));
  const sidecar = !metaKey ? null : sidecars.has(metaKey) ? sidecars.get(metaKey)! : parseJsonObject<Metadata>(await format.storage.get(metaKey, { signal }));
  const meta = sidecar?.data;
  const size = dataKeys.get(contentKey)?.size ?? 0;
  const gzip = meta?.content_encoding === 'gzip';
  // Gzip always streams: a small file may inflate to GiBs.
  if (ref.file_type === 'binary' && (gzip || size > READ_WHOLE_BYTES)) {
    try {
      const sha256 = await rehashes.track(contentKey, size, (onBytes) => streamedSha256(format.storage, contentKey, { gzip, signal, onBytes }));
      if (sha256 === null) return 'vanished while verifying';
      const hash = sha256.slice(0, HASH_LENGTH);
      return hash === ref.cache_hash ? null : `binary content re-hashes to ${hash}, not ${ref.cache_hash}`;
    } catch (err) {
      if (!isZlibError(err)) throw err;
      return `cannot be read back as binary (gzip): ${(err as Error).message.slice(0, 100)}`;
    }
  }
  const bytes = await format.storage.get(contentKey, { signal });
  if (!bytes) return 'vanished while verifying';
  try {
    const { hash, dataType } = rehashFile(bytes, ref.file_type, { contentEncoding: meta?.content_encoding ?? null, jsonFieldPath: meta?.json_field_path ?? null });
    return hash === ref.cache_hash ? null : `${dataType} content re-hashes to ${hash}, not ${ref.cache_hash}`;
  } catch (err) {
    return `cannot be read back as ${ref.file_type}${meta?.content_encoding ? ` (${meta.content_encoding})` : ''}: ${(err as Error).message.slice(0, 100)}`;
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** A failure of zlib reading the bytes (not gzip, cut short): the content's problem, not the store's. */
function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}
