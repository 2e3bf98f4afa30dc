import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { RehashProgress } from '../../src-shared/contract';
import type { CacheHash, Namespace, VersionRecord } from '../../src-shared/domain';
import { parseNamespace } from '../../src-shared/domain';
import { CacheError } from '../../src-shared/errors';
import type { CacheService } from './cache-service';
import { DELETION_MARKER_LIFETIME_MS, QUARANTINE_PREFIX, decodeRecord, encodeRecord, filedIn, movedWithItsFolder, quarantineCopy } from './cache-service';
import { cacheHashOfSha256 } from './hashing';
import { decodeSource, expandTime, type KeyLayout } from './layout';
import { turnTaker } from './event-loop';
import { mapLimit } from './keyed-lock';
import { assertWritable } from './storage/read-only';
import type { Leftover, ObjectInfo, StorageBackend } from './storage/types';

import { PROBLEM_KINDS, type ProblemKind } from '../../src-shared/domain';

export { PROBLEM_KINDS, type ProblemKind };

export interface Problem {
  kind: ProblemKind;
  key: string;
  hash: string | null;
  detail: string;
}

export interface RepairAction {
  kind: ProblemKind;
  key: string;
  action: string;
}

export interface VerifyReport {
  checked: number;
  /** With a sample: entries whose content was re-hashed, of those that have content (the rest had every other check). */
  sampled?: { perNamespace: number; rehashed: number; of: number };
  problems: Problem[];
  repaired?: RepairAction[];
  /** Checks that could not run (e.g. an S3 server that cannot list unfinished uploads). */
  notes: string[];
}

/** How far a verify is: keys listed so far, and of those, keys checked (each key once, with its entry). */
export interface VerifyProgress {
  phase: 'listing' | 'checking';
  listed: number;
  checked: number;
  /** While big content is re-hashed: the one with the most left. */
  rehashing?: RehashProgress;
}

export interface VerifyOptions {
  namespace?: string;
  /** Re-hash only this many entries' content (picked at random); every other check still covers all. */
  sample?: number;
  repair?: boolean;
  concurrency?: number;
  /** Content younger than this with no version yet may be a store in flight: not an orphan. */
  orphanGraceMs?: number;
  signal?: AbortSignal;
  onProgress?: (progress: VerifyProgress) => void;
}

/** Content up to this size is read whole to be re-hashed; bigger content streams through the hash, its progress told. */
export const READ_WHOLE_BYTES = 1 << 20;

/**
 * A verify's progress with the big content it re-hashes now: `told` hears the one with the most left
 * (or none), each time one moves or ends.
 */
export class Rehashes {
  private readonly underWay = new Map<string, RehashProgress>();

  constructor(private readonly told: (mostLeft: RehashProgress | undefined) => void) {}

  /** Runs `hash` on the content at `key`, telling its bytes hashed (`onBytes`) as it goes. */
  async track<T>(key: string, size: number, hash: (onBytes: (done: number) => void) => Promise<T>): Promise<T> {
    try {
      return await hash((done) => {
        this.underWay.set(key, { key, done, size });
        this.told(this.mostLeft());
      });
    } finally {
      this.underWay.delete(key);
    }
  }

  mostLeft(): RehashProgress | undefined {
    const all = [...this.underWay.values()];
    return all.reduce<RehashProgress | undefined>((most, r) => (!most || r.size - r.done > most.size - most.done ? { ...r } : most), undefined);
  }
}

/** Orphans (and damaged versions' records) are moved here by --repair, never deleted. */
export { QUARANTINE_PREFIX };
/** How long a write may look unfinished (a store in flight, in this process or another) before it is judged. */
export const DEFAULT_ORPHAN_GRACE_MS = 60_000;

interface HashKeys {
  content?: ObjectInfo;
  latest?: ObjectInfo;
  records: Map<number, ObjectInfo>;
  /** Each version's index entries as listed: one, or more when a name was changed beside it (an old cut name, a name edited by hand). */
  entries: Map<number, ObjectInfo[]>;
  /** Each version's temporal entries as listed (the version is in the name; so is a time, which may disagree). */
  temporal: Map<number, ObjectInfo[]>;
  /** Its keys as listed. */
  listed: number;
}

function addView(views: Map<number, ObjectInfo[]>, version: number, info: ObjectInfo): void {
  const listed = views.get(version);
  if (listed) listed.push(info);
  else views.set(version, [info]);
}

function dropView(views: Map<number, ObjectInfo[]>, version: number, key: string): void {
  const left = (views.get(version) ?? []).filter((o) => o.key !== key);
  if (left.length > 0) views.set(version, left);
  else views.delete(version);
}

/**
 * What a view's name says that its record does not (listings, stats and prune read the names, never
 * the records): "time …, size …, source …" of the name, and of the record; null when they agree.
 */
function nameDisagreement(layout: CacheService['layout'], kind: 'index' | 'temporal', key: string, record: VersionRecord): { named: string; recorded: string } | null {
  if (kind === 'index' ? layout.isVersionEntryOf(key, record) : layout.temporal(record) === key) return null;
  const name = key.slice(key.lastIndexOf('/') + 1);
  const time = (compact: string) => (/^\d{8}T\d{9}Z$/.test(compact) ? expandTime(compact) : JSON.stringify(compact));
  if (kind === 'temporal') return { named: `time ${time(name.slice(0, name.indexOf('~')))}`, recorded: record.stored_at };
  // <hash>~<version>~<time>~<size>~<source>: the source has its own "~" encoded.
  const [, , named, size, ...source] = name.split('~');
  const fieldsOf = (keepExtension: boolean) => layout.versionEntry(record, keepExtension).slice(layout.versionsPrefix(record.namespace, record.hash).length).split('~');
  const expected = fieldsOf(true);
  const said: string[] = [];
  const says: string[] = [];
  if (named !== expected[1]) {
    said.push(`time ${time(named ?? '')}`);
    says.push(record.stored_at);
  }
  if (size !== expected[2]) {
    said.push(/^\d+$/.test(size ?? '') ? `${size} bytes` : `size ${JSON.stringify(size ?? '')}`);
    says.push(`${record.size} bytes`);
  }
  // A long name cut the way stores wrote it before (no extension kept) is its source too.
  if (said.length === 0 || (source.join('~') !== expected[3] && source.join('~') !== fieldsOf(false)[3])) {
    said.push(`source ${JSON.stringify(decodeSource(source.join('~')))}`);
    says.push(JSON.stringify(record.source));
  }
  return { named: said.join(', '), recorded: says.join(', ') };
}

/**
 * The record a version index entry holds, when it is that version's and agrees with everything the
 * entry's name carries (namespace, hash, version, time, size, source: its key is the one the record
 * gives) and with the content's size.
 */
async function recordCopyIn(storage: StorageBackend, layout: KeyLayout, key: string, fits: (record: VersionRecord) => boolean, expected: { hash: CacheHash; version: number; size: number }): Promise<{ key: string; record: VersionRecord; bytes: Uint8Array } | null> {
  const bytes = await storage.get(key);
  const decoded = bytes && decodeRecord(bytes);
  if (!decoded || 'problem' in decoded) return null;
  const record = filedIn(layout, key, decoded.record);
  const agrees = fits(record) && record.hash === expected.hash && record.version === expected.version && record.size === expected.size;
  if (!agrees) return null;
  // A copy from a folder renamed by hand is restored as filed here.
  return { key, record, bytes: record === decoded.record ? bytes! : encodeRecord(record) };
}

/**
 * Walks a store (or one namespace) and checks that every byte matches its hash and every reference
 * points at something real: see docs/verify.md. With `repair`, fixes only what is safe.
 */
export async function verifyStore(cache: CacheService, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { storage, layout } = cache;
  if (options.repair) assertWritable(storage, 'repair');
  const problems: Problem[] = [];
  const repaired: RepairAction[] = [];
  const notes: string[] = [];
  const concurrency = options.concurrency ?? 8;
  const grace = options.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS;
  let listed = 0;
  let checked = 0;
  const sample = { perNamespace: options.sample ?? 0, rehashed: 0, of: 0 };
  const report = (kind: ProblemKind, key: string, hash: string | null, detail: string) => problems.push({ kind, key, hash, detail });
  const rehashes = new Rehashes((rehashing) => options.onProgress?.({ phase: 'checking', listed, checked, ...(rehashing && { rehashing }) }));
  /** `n` more keys checked (a key outside any entry as it is listed, an entry's keys once it is checked). */
  const tick = (phase: 'listing' | 'checking', n: number) => {
    checked += n;
    const rehashing = rehashes.mostLeft();
    options.onProgress?.({ phase, listed, checked, ...(rehashing && { rehashing }) });
  };
  /** The SHA-256 of stored content (null: gone), its progress told as it streams. */
  const rehash = (content: ObjectInfo) => rehashes.track(content.key, content.size, (onBytes) => sha256Of(cache, content, options.signal, onBytes));
  // Direct calls never let the event loop turn: one now and then lets a Ctrl+C or a worker's cancel be seen.
  const takeTurn = turnTaker();
  const checkpoint = async () => {
    await takeTurn();
    if (options.signal?.aborted) throw new CacheError('cancelled', 'verify was cancelled');
  };
  /** Runs a repair; `action` says what it did (a string, or from its result: null when it found nothing to do). */
  const repair = async <T>(kind: ProblemKind, key: string, action: string | ((result: T) => string | null), run: () => Promise<T>) => {
    if (!options.repair) return;
    const result = await run();
    const said = typeof action === 'string' ? action : action(result);
    if (said !== null) repaired.push({ kind, key, action: said });
  };

  /** Older than the grace: no store or delete in flight wrote it. */
  const settled = (o: ObjectInfo) => Date.now() - Date.parse(o.modified) >= grace;
  /** Moves a key to the quarantine (a repair never deletes what it cannot rebuild); says where. */
  const setAside = async (key: string, after: () => void) => {
    const aside = await quarantineCopy(storage, key);
    await storage.delete(key);
    after();
    return aside ?? 'nowhere: it was gone already';
  };

  try {
    const namespaces = options.namespace !== undefined ? [parseNamespace(options.namespace)] : await cache.namespaceNames();

    for (const ns of namespaces) {
      // Pass 1: one listing of the namespace, every key sorted by the entry it belongs to.
      const byHash = new Map<CacheHash, HashKeys>();
      const keysOf = (hash: CacheHash) => {
        let k = byHash.get(hash);
        if (!k) byHash.set(hash, (k = { records: new Map(), entries: new Map(), temporal: new Map(), listed: 0 }));
        return k;
      };
      const staleMarkers: ObjectInfo[] = [];
      let cursor: string | undefined;
      do {
        await checkpoint();
        const page = await storage.list(`${ns}/`, { cursor });
        listed += page.objects.length;
        let judged = 0;
        for (const o of page.objects) {
          // A deleter holds its marker for a moment; one past its lifetime was left by a crash.
          if (layout.isDeletionMarker(o.key)) {
            if (Date.now() - Date.parse(o.modified) > DELETION_MARKER_LIFETIME_MS) staleMarkers.push(o);
            judged++;
            continue;
          }
          const described = layout.describeKey(o.key);
          if (!described) {
            report('misplaced', o.key, null, 'not a key of the cache layout');
            judged++;
            continue;
          }
          const { hash, kind, version } = described;
          const expectedFolder = kind === 'temporal' ? temporalFolder(ns, o.key) : layout.shardFolder(ns, hash);
          if (!o.key.startsWith(expectedFolder) || o.key.slice(expectedFolder.length).includes('/')) {
            report('misplaced', o.key, hash, `belongs under ${expectedFolder}`);
            judged++;
            continue;
          }
          const k = keysOf(hash);
          k.listed++;
          if (kind === 'content') k.content = o;
          else if (kind === 'latest') k.latest = o;
          else if (kind === 'record') k.records.set(version!, o);
          else if (kind === 'version_entry') addView(k.entries, version!, o);
          else addView(k.temporal, version!, o);
        }
        tick('listing', judged);
        cursor = page.cursor;
      } while (cursor !== undefined);

      const hashes = [...byHash.keys()];
      const withContent = hashes.filter((h) => byHash.get(h)!.content);
      const sampled = options.sample !== undefined ? new Set(shuffle(withContent).slice(0, options.sample)) : null;
      sample.rehashed += sampled?.size ?? 0;
      sample.of += withContent.length;

      // Pass 2: each entry on its own, a few at a time.
      await mapLimit(hashes, concurrency, async (hash) => {
        await checkpoint();
        const k = byHash.get(hash)!;
        const records = new Map<number, VersionRecord>();
        const damaged: number[] = [];
        /** The content's SHA-256, re-hashed once for the hash however many versions ask (null: it vanished). */
        let contentSha: Promise<string | null> | undefined;
        const contentSha256 = (content: ObjectInfo) => (contentSha ??= rehash(content));
        /** The content was found not to be what a record of the wrong size says: reported once, not again below. */
        let contentBlamed = false;
        /** Versions whose index entry a size repair renames (its name carries the size): not reported again for their names. */
        const sizeRewritten = new Set<number>();
        const hashesRight = async (content: ObjectInfo, record: VersionRecord) => {
          const sha256 = await contentSha256(content);
          return sha256 === record.sha256 && cacheHashOfSha256(sha256) === hash;
        };
        /** The content is what its key names (its SHA-256 starts with the hash): a record that disagrees is wrong. */
        const keyedRight = async (content: ObjectInfo) => {
          const sha256 = await contentSha256(content);
          return sha256 !== null && cacheHashOfSha256(sha256) === hash;
        };
        /** A record whose SHA-256 its content (which hashes to its key) disproves, rewritten with the content's, and its views with it. */
        const rewriteSha256 = (key: string, record: VersionRecord, sha256: string) => {
          const fixed = { ...record, sha256 };
          records.set(record.version, fixed); // checked as the version it is to be
          return rewrite(key, fixed, `rewrote v${record.version}'s SHA-256 from its content (which hashes to its key)`);
        };
        /** A record whose content disproves its size, rewritten with the content's size, and its views with it. */
        const rewriteSize = (key: string, record: VersionRecord, size: number) => {
          sizeRewritten.add(record.version);
          return rewrite(key, { ...record, size }, `rewrote v${record.version}'s size as ${size} bytes (its content hashes right)`);
        };
        /** Each record's bytes as read: a rewrite goes ahead only while they are still there (not deleted or rewritten meanwhile). */
        const recordBytes = new Map<number, Uint8Array>();
        /** A record rewritten as `fixed`, and its views with it. */
        const rewrite = (key: string, fixed: VersionRecord, said: string) =>
          repair('corrupt', key, (done) => (done ? said : null), async () => {
            const now = await storage.get(key);
            const read = recordBytes.get(fixed.version);
            // A delete ran since it was read (a rewrite would bring the version back), or a store or repair rewrote it.
            if (!now || !read || !Buffer.from(now).equals(Buffer.from(read))) return false;
            const data = encodeRecord(fixed);
            await storage.put(key, data, { durable: true });
            // Its views are copies of it (hard links in a folder, which the new record no longer is).
            const views = [layout.versionEntry(fixed), layout.temporal(fixed), ...((await readRecord(storage, layout, layout.latest(ns, hash)))?.version === fixed.version ? [layout.latest(ns, hash)] : [])];
            for (const view of views) await storage.copy(key, view, { data });
            // The index entry's name carries the size: those naming another (a wrong size, or anything else) go.
            for (const stale of k.entries.get(fixed.version) ?? []) if (stale.key !== layout.versionEntry(fixed)) await storage.delete(stale.key);
            records.set(fixed.version, fixed);
            return true;
          });
        for (const [version, info] of k.records) {
          const bytes = await storage.get(info.key);
          if (!bytes) continue; // deleted while verifying
          recordBytes.set(version, bytes);
          const decoded = decodeRecord(bytes);
          const read = 'record' in decoded ? decoded.record : decoded.fromContent;
          const otherVersion = read !== undefined && (read.hash !== hash || read.version !== version);
          // Its namespace folder renamed or copied by hand (the index entry came with it): reads take the folder's name, and so does the record once repaired.
          const moved = read !== undefined && !otherVersion && read.namespace !== ns && (await movedWithItsFolder(storage, layout, ns, read, bytes));
          // Another entry's record, or one copied in alone from another namespace.
          const elsewhere = otherVersion || (read !== undefined && read.namespace !== ns && !moved);
          if (moved) {
            const filed = { ...read, namespace: ns };
            if ('record' in decoded) decoded.record = filed;
            else decoded.fromContent = filed;
            report('corrupt', info.key, hash, `v${version}'s record names namespace ${read.namespace}, but it is filed in ${ns} (a folder renamed or copied by hand): reads take ${ns}`);
            if ('record' in decoded) await rewrite(info.key, filed, `rewrote v${version}'s namespace as ${ns}`);
          }
          if ('problem' in decoded || elsewhere) {
            // Where the views are copies, not links of the record (S3, a folder copied file by file), its
            // index entry may still hold it whole: the version is restored from that, not removed.
            let copy: Awaited<ReturnType<typeof recordCopyIn>> = null;
            for (const entry of k.content ? (k.entries.get(version) ?? []) : []) {
              copy = await recordCopyIn(storage, layout, entry.key, (r) => layout.isVersionEntryOf(entry.key, r), { hash, version, size: k.content!.size });
              if (copy) break;
            }
            // A size out of range (-1, past 2^53), or a SHA-256 that is none: content that hashes to its key gives them back, as a wrong size is.
            const flaw = 'problem' in decoded ? decoded : null;
            const fromContent = !copy && !elsewhere ? flaw?.fromContent : undefined;
            if (flaw && fromContent && k.content && (await keyedRight(k.content))) {
              const sha256 = (await contentSha256(k.content))!;
              if (fromContent.sha256 === sha256) {
                report('corrupt', info.key, hash, `the version record ${flaw.problem} (${JSON.stringify(fromContent.size)}), but its content is ${k.content.size} bytes and hashes right: the record is wrong, not the content`);
                records.set(version, { ...fromContent, size: k.content.size }); // checked as the version it is to be
                await rewriteSize(info.key, fromContent, k.content.size);
              } else {
                report('corrupt', info.key, hash, `the version record ${flaw.problem}, but its content (${k.content.size} bytes) hashes to its key: the record is wrong, not the content`);
                await rewriteSha256(info.key, { ...fromContent, size: k.content.size }, sha256);
              }
              continue;
            }
            const said = 'problem' in decoded ? decoded.problem : otherVersion ? 'names another entry' : `names namespace ${read!.namespace} (copied in from there)`;
            report('corrupt', info.key, hash, `the version record ${said}${copy ? '; its index entry holds a good copy, which a repair restores' : ''}`);
            if (!copy) {
              damaged.push(version);
              continue;
            }
            await repair('corrupt', info.key, `restored v${version}'s record from its index entry`, () => storage.put(info.key, copy.bytes, { durable: true }));
            // Checked as the version it is (restored, or to be): a report says no more than a repair would mend.
            records.set(version, copy.record);
            continue;
          }
          const { record } = decoded;
          records.set(version, record);
          if (!k.content) report('missing_content', info.key, hash, `v${version} points at ${layout.content(ns, hash)}, which is missing`);
          else if (k.content.size !== record.size) {
            // Which is wrong, the bytes or the record? Content that hashes to what the record says is right (each version judged: -1 written into every record loses none).
            if (await hashesRight(k.content, record)) {
              report('corrupt', info.key, hash, `v${version} records ${record.size} bytes, but its content is ${k.content.size} bytes and hashes right: the record is wrong, not the content`);
              await rewriteSize(info.key, record, k.content.size);
            } else if (!contentBlamed) {
              contentBlamed = true;
              report('corrupt', k.content.key, hash, `content is ${k.content.size} bytes, v${version} recorded ${record.size}`);
            }
          }
        }

        // Content blamed above is reported once; content re-hashed above is not hashed again.
        if (k.content && !contentBlamed && (sampled === null || sampled.has(hash) || contentSha !== undefined)) {
          const sha256 = await contentSha256(k.content);
          if (sha256 === null) {
            // Deleted while this ran (a delete takes the records first, then the bytes): gone whole, nothing missing.
            const stillThere = await Promise.all([...k.records.values()].map((r) => storage.exists(r.key)));
            if (stillThere.some(Boolean)) report('missing_content', k.content.key, hash, 'content vanished while verifying');
          }
          else if (cacheHashOfSha256(sha256) !== hash) report('corrupt', k.content.key, hash, `content hashes to ${cacheHashOfSha256(sha256)}`);
          // Reported only: a cache hash is 64 bits, so a record and content that share one and not their SHA-256 may be
          // another content's bytes placed over these (a collision), which a rewrite would serve as this version.
          else for (const r of records.values()) if (r.sha256 !== sha256) report('corrupt', layout.record(ns, hash, r.version), hash, `v${r.version} records another SHA-256`);
        }

        // A record gone (by hand) while a view of it is left: its index entry, its temporal entry and
        // latest are each a copy of the record, whose key says which version it is (the index entry's
        // name carries its time and size too), so a copy that agrees with its key and with the bytes
        // brings the version back. A view with no record and no content (a delete finished by hand, say)
        // names nothing: a repair moves it to the quarantine. With the content there, it is left as found.
        const latestKey = layout.latest(ns, hash);
        const latestCopy = k.latest ? await readRecord(storage, layout, latestKey) : null;
        // Latest is a copy to restore from, never the only sign of a version (one naming a version no other view names is pointed at the newest, below).
        const lost = [...new Set([...k.entries.keys(), ...k.temporal.keys()])].filter((v) => !k.records.has(v)).sort((a, b) => a - b);
        for (const version of lost) {
          // A store that landed while this listing passed its record: the record is there now (left as found).
          if (await storage.exists(layout.record(ns, hash, version))) continue;
          // Its views (one at least: it is lost only where one names it), then latest, as copies to restore from.
          const views = [
            ...(k.entries.get(version) ?? []).map((info) => ({ info, what: 'version index entry', fits: (key: string, r: VersionRecord) => layout.isVersionEntryOf(key, r) })),
            ...(k.temporal.get(version) ?? []).map((info) => ({ info, what: 'temporal entry', fits: (key: string, r: VersionRecord) => layout.temporal(r) === key })),
          ];
          const sources = [...views, ...(latestCopy?.version === version ? [{ info: k.latest!, fits: () => true }] : [])];
          let copy: Awaited<ReturnType<typeof recordCopyIn>> = null;
          for (const source of sources) {
            copy = k.content ? await recordCopyIn(storage, layout, source.info.key, (r) => source.fits(source.info.key, r), { hash, version, size: k.content.size }) : null;
            if (copy) break;
          }
          const [first] = views;
          // Latest is reported below, with the version it should name.
          const restorable = copy && `; ${copy.key === first!.info.key ? 'it holds' : `${copy.key} holds`} a copy of the record, which a repair restores`;
          views.forEach((view, i) => report('dangling_ref', view.info.key, hash, `${view.what} for v${version}, which has no record${restorable && i === 0 ? restorable : ''}`));
          if (copy) {
            const restored = copy;
            const recordKey = layout.record(ns, hash, version);
            await repair('dangling_ref', first!.info.key, `restored the record of v${version} from ${restored.key === first!.info.key ? 'it' : restored.key}`, async () => {
              await storage.put(recordKey, restored.bytes, { ifAbsent: true, durable: true });
              records.set(version, restored.record);
              k.records.set(version, { ...first!.info, key: recordKey });
            });
          } else if (!k.content) {
            // Nothing brings it back: its index and temporal entries go aside (latest is pointed at the newest version below,
            // or goes aside too). Not one of the last minute: a store that committed after this listing passed its record
            // shows here as its views alone.
            for (const of of [k.entries, k.temporal]) {
              for (const view of of.get(version) ?? []) {
                if (settled(view)) await repair('dangling_ref', view.key, (aside) => `moved to ${aside}`, () => setAside(view.key, () => dropView(of, version, view.key)));
              }
            }
          }
        }

        const newest = Math.max(0, ...records.keys());
        const latest = latestCopy;
        if (latest && !k.records.has(latest.version)) {
          // A store that landed after the records were listed: latest names its record, which is there now (left as found).
          if (!(await storage.exists(layout.record(ns, hash, latest.version)))) {
            report('dangling_ref', latestKey, hash, `latest names v${latest.version}, which has no record${newest > 0 ? `; the newest is v${newest}` : ''}`);
            const record = records.get(newest);
            if (record) await repair('dangling_ref', latestKey, `pointed latest at v${newest}`, () => storage.copy(layout.record(ns, hash, newest), latestKey, { data: encodeRecord(record) }));
            else if (!k.content && settled(k.latest!)) await repair('dangling_ref', latestKey, (aside) => `moved to ${aside}`, () => setAside(latestKey, () => (k.latest = undefined)));
          }
        } else if (newest > 0 && (!latest || latest.version !== newest) && (await storage.exists(layout.record(ns, hash, newest)))) {
          // (A newest record gone since it was listed is a delete that ran beside this: nothing stale to report.)
          const detail = latest ? `latest names v${latest.version}` : k.latest ? 'latest is not a valid record' : 'no latest pointer';
          report('stale_latest', latestKey, hash, `${detail}; the newest is v${newest}`);
          const record = records.get(newest)!;
          await repair('stale_latest', latestKey, `pointed latest at v${newest}`, () => storage.copy(layout.record(ns, hash, newest), latestKey, { data: encodeRecord(record) }));
        }
        // Views of a record are derived from it: a crash between the record and its views leaves them missing.
        // Their names carry facts listings read without the record (an index entry's time, size and source,
        // a temporal entry's time): a name the record does not give (edited by hand, another tool's) is
        // renamed to the one it gives, the right view written before the wrong one goes, so the version is
        // never without it. The record is the truth here: a damaged one was handled above.
        for (const record of records.values()) {
          for (const [view, listedViews, what, kind] of [
            [layout.versionEntry(record), k.entries.get(record.version) ?? [], 'index entry', 'index'],
            [layout.temporal(record), k.temporal.get(record.version) ?? [], 'temporal entry', 'temporal'],
          ] as const) {
            // False when the record went meanwhile (a delete under way): its view is not put back, nor said to be.
            const write = () =>
              storage.copy(layout.record(ns, hash, record.version), view, { ifAbsent: true, data: encodeRecord(record) }).then(
                () => true,
                (err: unknown) => (err instanceof CacheError && err.code === 'not_found' ? false : Promise.reject(err)),
              );
            if (listedViews.length === 0) {
              report('stale_latest', view, hash, `v${record.version} lacks this view (written after its record)`);
              await repair('stale_latest', view, (written) => (written ? 'rewrote the view from the record' : null), write);
              continue;
            }
            // A size repair above renames the index entry already (its name carries the size).
            if (kind === 'index' && sizeRewritten.has(record.version)) continue;
            const named = listedViews.filter((o) => !nameDisagreement(layout, kind, o.key, record));
            for (const wrong of listedViews) {
              const disagreement = nameDisagreement(layout, kind, wrong.key, record);
              if (!disagreement) continue;
              report('stale_latest', wrong.key, hash, `v${record.version}'s ${what} is named with ${disagreement.named}, but its record says ${disagreement.recorded} (listings read the name): its name should be ${view}`);
              const said = named.length > 0 ? `removed (${named[0]!.key} is v${record.version}'s ${what})` : `renamed to ${view}`;
              await repair('stale_latest', wrong.key, (done) => (done ? said : null), async () => {
                if (!(await write())) return false; // the version is being deleted: its views are that delete's
                named.push({ ...wrong, key: view });
                await storage.delete(wrong.key);
                return true;
              });
            }
          }
        }

        if (k.content && k.records.size === 0 && !k.latest && k.entries.size === 0 && k.temporal.size === 0) {
          if (Date.now() - Date.parse(k.content.modified) >= grace) {
            report('orphan', k.content.key, hash, 'content no version references');
            await repair('orphan', k.content.key, (aside) => aside && `moved to ${aside}`, () => cache.quarantineOrphan(ns, hash));
          }
        }
        // Last, as it may take the bytes with it (to the quarantine) when no valid version is left.
        for (const version of damaged) {
          const key = layout.record(ns, hash, version);
          await repair('corrupt', key, ({ quarantined = [] }) => `removed v${version} (${quarantined.length ? `moved to ${quarantined.join(', ')}` : 'its record was gone already'})`, () => cache.delete(ns, { hash, version }, { quarantine: true }));
        }
        tick('checking', k.listed);
      });

      for (const marker of staleMarkers) {
        report('temp_leftover', marker.key, null, `deletion marker of a deleter that stopped at ${marker.modified}`);
        await repair('temp_leftover', marker.key, 'removed', () => storage.delete(marker.key));
      }
    }

    await checkLeftovers(storage, options.namespace, notes, async (leftover, why) => {
      report('temp_leftover', leftover.id, null, why);
      await repair('temp_leftover', leftover.id, 'removed', () => storage.removeLeftover(leftover));
    }, (key, why) => report('misplaced', key, null, why));
  } catch (err) {
    // A read the cancel cut short fails as an abort, or the next entry sees the signal: either way, say what was done.
    if (options.signal?.aborted) throw verifyCancelled(checked, options.repair ? repaired : null);
    throw err;
  }

  // What a repair would do, said beside the problems it may or may not mend (each repair made says its own action).
  if (problems.length > 0 && !options.repair) {
    notes.push('a repair would move orphans and damaged records to _quarantine/ (never deleting them), rewrite stale views (and rename those named other than their record gives), point latest at the newest record, restore a record lost or damaged beside a good copy in its index entry, rewrite a size its content disproves or a namespace its folder disproves, and remove temp leftovers; bad or missing content is reported only');
  }
  problems.sort((a, b) => PROBLEM_KINDS.indexOf(a.kind) - PROBLEM_KINDS.indexOf(b.kind) || a.key.localeCompare(b.key));
  return { checked, ...(options.sample !== undefined && { sampled: sample }), problems, ...(options.repair ? { repaired } : {}), notes };
}

/**
 * The error of a cancelled verify: how far it got and, when it was repairing, the repairs it had
 * made (they stand), so the operator is never left thinking a stopped repair changed nothing.
 */
export function verifyCancelled(checked: number, repaired: readonly { kind: ProblemKind }[] | null): CacheError {
  const count = (n: number, one: string) => `${n.toLocaleString('en-US')} ${one}${n === 1 ? '' : 's'}`;
  let made = '';
  if (repaired?.length === 0) made = '; nothing had been repaired';
  else if (repaired) {
    const kinds = PROBLEM_KINDS.map((kind) => [kind, repaired.filter((r) => r.kind === kind).length] as const).filter(([, n]) => n > 0);
    made = `; the ${count(repaired.length, 'repair')} made before it stopped (${kinds.map(([kind, n]) => `${n.toLocaleString('en-US')} ${kind}`).join(', ')}) stand: verify again to see what is left`;
  }
  return new CacheError('cancelled', `verify was cancelled after checking ${count(checked, 'key')}${made}`);
}

const UNLISTED = {
  link: 'a link inside the store: reads, stores, deletes and listings never follow it, so nothing behind it is listed or checked (replace it with what it points at, or remove it)',
  special: 'not a regular file (a pipe, socket or device): no listing shows it and nothing reads it, so content meant to be there is missing (move it out of the store)',
  name: 'a name no key can have (characters outside keys, or not UTF-8): no listing shows it, so nothing counts, reads or prunes it (move it out of the store)',
};

/**
 * Each leftover of an interrupted write (not one still being written) a verify of `namespace` (or of
 * the whole store) may remove: that namespace's, or the store's own, never another namespace's. What
 * listings never show (a link, a name no key can have) is reported as misplaced, never removed.
 */
export async function checkLeftovers(
  storage: StorageBackend,
  namespace: string | undefined,
  notes: string[],
  found: (leftover: Leftover, why: string) => Promise<void>,
  misplaced: (key: string, why: string) => void,
): Promise<void> {
  const leftovers = await storage.leftovers();
  if (leftovers === null) notes.push('unfinished uploads could not be listed (this server does not offer it, or these credentials may not); temp leftovers were not checked');
  for (const leftover of leftovers ?? []) {
    if (leftover.inFlight) continue;
    const inNamespace = namespace === undefined || leftover.id.startsWith(`${namespace}/`);
    if (leftover.unlisted) {
      if (inNamespace || leftover.id === namespace) misplaced(leftover.id, UNLISTED[leftover.unlisted]);
    } else if (inNamespace || !leftover.id.includes('/') || leftover.id.startsWith('.')) {
      await found(leftover, `left by an interrupted write at ${leftover.modified}`);
    }
  }
}

/** `<ns>/temporal/YYYY/MM/DD/HH/` from the time in a temporal key's name. */
function temporalFolder(ns: Namespace, key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const t = name.slice(0, 18); // 20261123T232246123Z
  return `${ns}/temporal/${t.slice(0, 4)}/${t.slice(4, 6)}/${t.slice(6, 8)}/${t.slice(9, 11)}/`;
}

/** A valid record, or null when it is missing or damaged. */
async function readRecord(storage: CacheService['storage'], layout: KeyLayout, key: string): Promise<VersionRecord | null> {
  const bytes = await storage.get(key);
  const decoded = bytes && decodeRecord(bytes);
  return decoded && 'record' in decoded ? filedIn(layout, key, decoded.record) : null;
}

/**
 * Small content is read whole (one read, no stream to set up: most of a store's entries); the rest
 * streamed, `onBytes` hearing the bytes hashed so far.
 */
async function sha256Of(cache: CacheService, content: ObjectInfo, signal: AbortSignal | undefined, onBytes: (done: number) => void): Promise<string | null> {
  if (content.size <= READ_WHOLE_BYTES) {
    const bytes = await cache.storage.get(content.key, { signal });
    return bytes && createHash('sha256').update(bytes).digest('hex');
  }
  return streamedSha256(cache.storage, content.key, { signal, onBytes });
}

/**
 * The SHA-256 of stored content read as a stream (null when it is gone), gunzipped first when
 * `gzip`; `onBytes` hears the stored bytes read so far. A gzip error is thrown as zlib's (`Z_…`).
 */
export async function streamedSha256(storage: StorageBackend, key: string, { gzip = false, signal, onBytes }: { gzip?: boolean; signal?: AbortSignal; onBytes: (done: number) => void }): Promise<string | null> {
  const stream = await storage.getStream(key, { signal });
  if (!stream) return null;
  const hash = createHash('sha256');
  let done = 0;
  async function* counted() {
    for await (const chunk of stream!) {
      yield chunk;
      onBytes((done += chunk.byteLength));
    }
  }
  const consume = async (plain: AsyncIterable<Uint8Array>) => {
    for await (const chunk of plain) hash.update(chunk);
  };
  if (gzip) await pipeline(counted(), createGunzip(), consume);
  else await consume(counted());
  return hash.digest('hex');
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
