/**
 * Retention over any store format: the policy (a TTL and a cap on versions per hash, store-wide
 * and per namespace), whether a version has expired, and prune (plan, then delete through the
 * format's own delete, resumable after a kill). The one module the CLI and the app use.
 */
import { randomUUID } from 'node:crypto';
import type { CacheHash, Namespace } from '../../../src-shared/domain';
import { CacheError } from '../../../src-shared/errors';
import type { MgraphFormat } from '../formats/mgraph/mgraph-format';
import type { NativeFormat } from '../formats/native/native-format';
import type { StoreFormat } from '../formats/format';
import { forEachPage } from '../storage/list-page';
import { assertWritable } from '../storage/read-only';
import { holdingLease } from '../lease';
import { planNamespace, type NamespaceCut, type PruneCandidate } from './plan';
import { formatAge } from '../../../src-shared/age';
import { ADMIN_PREFIX, readPolicy, ruleFor, writePolicy, type PolicyChange, type RetentionPolicy, type StoredPolicy } from './policy';

export type { PruneCandidate, PruneReason } from './plan';
export type { PolicyChange, RetentionPolicy, RetentionRule, StoredPolicy } from './policy';
export { ADMIN_PREFIX, POLICY_PREFIX, parseKeepVersions, ruleFor } from './policy';

export interface Expiry {
  expired: boolean;
  /** When the version expires (or expired); null when its namespace keeps versions forever. */
  expires_at: string | null;
}

/** What to prune. With none of olderThanSeconds, expired, keepVersions: the policy (its TTL and its cap). */
export interface PruneSelection {
  /** Absent: every namespace. */
  namespace?: string;
  olderThanSeconds?: number;
  /** Versions past their namespace's TTL. */
  expired?: boolean;
  /** Keep at most this many versions per hash (the newest). */
  keepVersions?: number;
}

export interface PrunePlan {
  /** The moment ages were measured from. */
  now: string;
  namespaces: string[];
  /** Oldest first: the order the real run deletes in. */
  versions: PruneCandidate[];
  hashes: number;
  contentRemoved: number;
  bytesFreed: number;
  /** Refs that could not be read (service layout: damaged, or a by-id ref gone): the versions they name are left alone. */
  unreadableRefs: number;
  /**
   * Versions in the journals of prunes of these namespaces that have not finished (killed, or still
   * running), beyond those this plan holds: a real prune finishes those first, or waits for the prune
   * still running (some may be gone already), so a dry run says so.
   */
  unfinished: number;
}

export interface PruneProgress {
  done: number;
  total: number;
}

export interface PruneRunOptions {
  signal?: AbortSignal;
  onProgress?: (progress: PruneProgress) => void;
  /** Each version as it goes, with what its delete removed (the plan's figures were what it would). */
  onPruned?: (version: PruneCandidate) => void;
  /** Another prune of a namespace holds it (or a killed one did): this one waits, at most until `until`. */
  onWaiting?: (namespace: string, until: Date) => void;
}

export interface PruneSummary {
  pruned: number;
  /**
   * Planned, but already gone when this run came to it: deleted by someone else (a newer store that
   * took its number is left alone). Not those a killed run's journal had done, nor those this run did.
   */
  skipped: number;
  contentRemoved: number;
  bytesFreed: number;
  /** Of those pruned, versions an earlier, interrupted prune had journaled. */
  resumed: number;
}

const JOURNAL_PREFIX = `${ADMIN_PREFIX}prune/`;
const LEASE_PREFIX = `${ADMIN_PREFIX}leases/prune/`;

/** How a prune run hears of each version's outcome. */
interface PruneRun {
  signal?: AbortSignal;
  counted: (c: PruneCandidate, outcome: DeleteOutcome, resuming: boolean) => void;
  progressed: () => void;
}
/** Deleted, or null: the version planned is not there any more. */
type DeleteOutcome = { contentRemoved: boolean; bytesFreed: number } | null;
const DELETE_CONCURRENCY = 8;

export class Retention {
  private readonly now: () => Date;

  constructor(
    readonly format: StoreFormat,
    options: { now?: () => Date } = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  private readonly validNamespace = (name: string): boolean => {
    try {
      this.format.parseNamespace(name);
      return true;
    } catch {
      return false;
    }
  };

  /** The store's policy (none written: keep everything). One LIST and one GET. */
  getPolicy(): Promise<StoredPolicy> {
    return readPolicy(this.format.storage, this.validNamespace);
  }

  /** Applies one change; concurrent changes by other processes are kept (docs/retention.md). */
  async setPolicy(change: PolicyChange): Promise<StoredPolicy> {
    const namespace = change.namespace === undefined ? undefined : this.format.parseNamespace(change.namespace);
    assertWritable(this.format.storage, 'change the retention policy');
    return writePolicy(this.format.storage, { ...change, namespace }, this.validNamespace, this.now());
  }

  /** Whether a version stored at `storedAt` in `namespace` has expired under `policy`. */
  expiryOf(policy: RetentionPolicy, namespace: string, storedAt: string): Expiry {
    const ttl = ruleFor(policy, namespace).ttl_seconds;
    if (ttl === null) return { expired: false, expires_at: null };
    const expiresAt = Date.parse(storedAt) + ttl * 1000;
    return { expired: expiresAt < this.now().getTime(), expires_at: new Date(expiresAt).toISOString() };
  }

  /** Fails with `expired` (the service's 410) unless the version is still live. */
  async assertLive(namespace: string, record: { cache_id: string; stored_at: string }): Promise<void> {
    const { policy } = await this.getPolicy();
    const expiry = this.expiryOf(policy, namespace, record.stored_at);
    if (expiry.expired) throw new CacheError('expired', `${record.cache_id} expired at ${expiry.expires_at} (TTL ${formatAge(ruleFor(policy, namespace).ttl_seconds!)} in namespace ${namespace})`);
  }

  private async namespacesOf(selection: PruneSelection): Promise<string[]> {
    if (selection.namespace !== undefined) return [this.format.parseNamespace(selection.namespace)];
    const f = this.format;
    return f.name === 'native' ? (f as NativeFormat).cache.namespaceNames() : (f as MgraphFormat).namespaceNames();
  }

  /** What prune would remove, from listings and refs only (never content). */
  async planPrune(selection: PruneSelection, options: { signal?: AbortSignal } = {}): Promise<PrunePlan> {
    if (selection.olderThanSeconds !== undefined && selection.expired) throw new CacheError('invalid_input', 'give an age (older than) or expired, not both');
    const now = this.now();
    const namespaces = await this.namespacesOf(selection);
    const byPolicy = selection.olderThanSeconds === undefined && !selection.expired && selection.keepVersions === undefined;
    const policy = selection.expired || byPolicy ? (await this.getPolicy()).policy : null;
    const versions: PruneCandidate[] = [];
    let unreadableRefs = 0;
    let unfinished = 0;
    for (const namespace of namespaces) {
      const journaled: PruneCandidate[] = [];
      for (const journal of await this.journals(namespace)) journaled.push(...(await this.readJournal(journal, namespace)));
      const rule = policy ? ruleFor(policy, namespace) : null;
      const cut: NamespaceCut = {
        namespace,
        cutoffMs: selection.olderThanSeconds !== undefined ? now.getTime() - selection.olderThanSeconds * 1000 : rule?.ttl_seconds != null ? now.getTime() - rule.ttl_seconds * 1000 : null,
        cutoffReason: selection.olderThanSeconds !== undefined ? 'older_than' : 'expired',
        keep: selection.keepVersions ?? (byPolicy ? rule!.keep_versions : null),
      };
      const planned = await planNamespace(this.format, cut, options.signal);
      versions.push(...planned.candidates);
      unreadableRefs += planned.unreadableRefs;
      // Those this plan holds too are counted once, in the plan; those it did not find are gone (pruned by a prune still running).
      const inPlan = new Set(planned.candidates.map((v) => `${v.cache_id} ${v.stored_at}`));
      unfinished += journaled.filter((v) => !inPlan.has(`${v.cache_id} ${v.stored_at}`) && planned.present(v)).length;
    }
    const hashes = new Set(versions.map((v) => `${v.namespace}/${v.hash}`)).size;
    const contentRemoved = versions.filter((v) => v.content_removed).length;
    return { now: now.toISOString(), namespaces, versions, hashes, contentRemoved, bytesFreed: versions.reduce((sum, v) => sum + v.bytes_freed, 0), unreadableRefs, unfinished };
  }

  /**
   * Deletes a plan's versions, oldest first, each through the format's delete (records before
   * bytes, the deletion handshake), only while it is still the version planned. A journal per
   * namespace names what is left to do, so a run killed part-way is finished by the next prune
   * of that namespace. Cancelling lets the deletes under way finish, then stops.
   */
  async prune(plan: PrunePlan, options: PruneRunOptions = {}): Promise<PruneSummary> {
    assertWritable(this.format.storage, 'prune');
    const summary: PruneSummary = { pruned: 0, skipped: 0, contentRemoved: 0, bytesFreed: 0, resumed: 0 };
    let done = 0;
    // Versions this run deleted while finishing a killed run's journal: found gone in its own plan after, they are not news.
    const deletedResuming = new Set<string>();
    const versionKey = (c: PruneCandidate) => `${c.namespace}/${c.hash}/${c.version}/${c.stored_at}`;
    const run: PruneRun = {
      signal: options.signal,
      counted: (c, outcome, resuming) => {
        // Gone from a journal: the killed run had deleted it before it stopped.
        if (!outcome) return void (resuming || deletedResuming.has(versionKey(c)) || summary.skipped++);
        if (resuming) {
          summary.resumed++;
          deletedResuming.add(versionKey(c));
        }
        summary.pruned++;
        if (outcome.contentRemoved) summary.contentRemoved++;
        summary.bytesFreed += outcome.bytesFreed;
        options.onPruned?.({ ...c, content_removed: outcome.contentRemoved, bytes_freed: outcome.bytesFreed });
      },
      progressed: () => options.onProgress?.({ done: ++done, total: plan.versions.length }),
    };
    const count = (n: number) => n.toLocaleString('en-US');
    // The plan's versions dealt with; those an interrupted prune had left are said apart (never more than the plan's total).
    const sofar = () => `${count(done)} of ${count(plan.versions.length)} versions${summary.resumed ? ` (and finished ${count(summary.resumed)} an interrupted prune had left)` : ''}`;
    try {
      for (const namespace of plan.namespaces) {
        const mine = plan.versions.filter((v) => v.namespace === namespace);
        // Cancelled with none of the plan's versions left here: the cancel stops nothing of this run.
        if (options.signal?.aborted && mine.length === 0) continue;
        // Nothing planned here and no journal to finish: nothing to hold the namespace for (a store that takes no
        // writes said "the prune stopped after 0 of 0 versions: prune again to finish", exit 3).
        if (mine.length === 0 && (await this.journals(namespace)).length === 0) continue;
        const finished = await holdingLease(this.format.storage, `${LEASE_PREFIX}${namespace}.json`, () => this.pruneNamespace(namespace, plan.now, mine, run), {
          signal: options.signal,
          cancelled: 'the prune was cancelled while another prune of the namespace ran',
          onWaiting: (until) => options.onWaiting?.(namespace, until),
        });
        if (!finished) throw new CacheError('cancelled', `the prune was cancelled after ${sofar()}`);
      }
    } catch (err) {
      // A failure part-way (a store gone unreachable) says how far it got: what it pruned stands, and its journal lets the next prune finish.
      if (!(err instanceof CacheError) || err.code === 'cancelled') throw err;
      throw new CacheError(err.code, `${err.message}; the prune stopped after ${sofar()}: prune again to finish`);
    }
    return summary;
  }

  /** One namespace's part of a plan, holding its lease: journals of killed runs first, then its own. False when cancelled. */
  private async pruneNamespace(namespace: string, planned: string, versions: PruneCandidate[], run: PruneRun): Promise<boolean> {
    for (const journal of await this.journals(namespace)) {
      const finished = await this.deleteAll(namespace, await this.readJournal(journal, namespace), { signal: run.signal, resuming: true }, (c, outcome) => run.counted(c, outcome, true));
      if (!finished) return false;
      await this.format.storage.delete(journal);
    }
    if (versions.length === 0) return true;
    const journal = `${JOURNAL_PREFIX}${namespace}/${planned.replace(/[-:.]/g, '')}-${randomUUID()}.json`;
    await this.format.storage.put(journal, new TextEncoder().encode(`${JSON.stringify({ namespace, versions })}\n`), { durable: true, freesSpace: true });
    const finished = await this.deleteAll(namespace, versions, { signal: run.signal, resuming: false }, (c, outcome) => {
      run.counted(c, outcome, false);
      run.progressed();
    });
    // Cancelled too: every delete under way has finished, so nothing is half done and the rest stays as it is.
    await this.format.storage.delete(journal);
    return finished;
  }

  private async journals(namespace: string): Promise<string[]> {
    const keys: string[] = [];
    await forEachPage(this.format.storage, `${JOURNAL_PREFIX}${namespace}/`, (page) => keys.push(...page.objects.map((o) => o.key).filter((k) => k.endsWith('.json'))));
    return keys;
  }

  /** A journal's versions; one cut short by a crash is empty: it is written before the first delete, so none was done. */
  private async readJournal(key: string, namespace: string): Promise<PruneCandidate[]> {
    try {
      const value = JSON.parse(new TextDecoder().decode((await this.format.storage.get(key)) ?? new Uint8Array())) as { versions?: unknown };
      const versions = Array.isArray(value.versions) ? (value.versions as Partial<PruneCandidate>[]) : [];
      return versions
        .filter((e) => typeof e?.hash === 'string' && typeof e.cache_id === 'string' && Number.isInteger(e.version) && typeof e.stored_at === 'string')
        .map((e) => ({ reason: 'expired', content_removed: false, bytes_freed: 0, ...e, namespace }) as PruneCandidate);
    } catch {
      return [];
    }
  }

  /**
   * Deletes versions, hash by hash, up to 8 hashes at a time; `each` hears every version's
   * outcome. False when cancelled with hashes left.
   */
  private async deleteAll(
    namespace: string,
    versions: PruneCandidate[],
    { signal, resuming }: { signal?: AbortSignal; resuming: boolean },
    each: (c: PruneCandidate, outcome: DeleteOutcome) => void,
  ): Promise<boolean> {
    const groups = new Map<string, PruneCandidate[]>();
    for (const v of versions) groups.set(v.hash, [...(groups.get(v.hash) ?? []), v]);
    const queue = [...groups.values()];
    /** Once one fails, the other workers take no further hash, and finish the one they hold. */
    const failures: unknown[] = [];
    const worker = async () => {
      try {
        for (let group = queue.shift(); group && !signal?.aborted && failures.length === 0; group = queue.shift()) {
          const current = await this.currentVersions(namespace, group[0]!.hash);
          for (const c of group) each(c, await this.deleteIfUnchanged(namespace, c, current));
          if (resuming && current?.size === 0) await this.finishBytes(namespace, group[0]!.hash);
        }
      } catch (err) {
        failures.push(err);
      }
    };
    await Promise.all(Array.from({ length: DELETE_CONCURRENCY }, worker));
    if (failures.length > 0) throw failures[0];
    // A cancel after the last hash was taken stopped nothing: every version was dealt with.
    return queue.length === 0;
  }

  /** Native version numbers can be taken again once deleted: what each number holds now (one LIST). */
  private async currentVersions(namespace: string, hash: string): Promise<Map<number, string> | null> {
    if (this.format.name !== 'native') return null; // the service's cache ids are GUIDs, never reused
    return new Map((await this.format.versions(namespace, hash)).map((v) => [v.version, v.stored_at]));
  }

  /**
   * A native delete killed after a hash's last record went, before its bytes did, leaves latest
   * naming a missing record, or the bytes alone. Finished as verify --repair does, under the
   * deletion handshake and only while no record exists: the bytes move to the quarantine.
   */
  private async finishBytes(namespace: string, hash: string): Promise<void> {
    const { cache } = this.format as NativeFormat;
    const layout = cache.layout;
    if (await cache.storage.exists(layout.latest(namespace as Namespace, hash as CacheHash)) || (await cache.storage.exists(layout.content(namespace as Namespace, hash as CacheHash)))) {
      await cache.quarantineOrphan(namespace as Namespace, hash as CacheHash);
    }
  }

  private async deleteIfUnchanged(namespace: string, c: PruneCandidate, current: Map<number, string> | null): Promise<DeleteOutcome> {
    try {
      if (current) {
        // Not in the index: gone, or half deleted by a killed run (its record left): then the record says.
        const storedAt = current.get(c.version) ?? (await this.format.record(namespace, { hash: c.hash, version: c.version })).stored_at;
        if (storedAt !== c.stored_at) return null;
      }
      const result = await this.format.delete(namespace, current ? { hash: c.hash, version: c.version, storedAt: c.stored_at } : { cacheId: c.cache_id });
      return { contentRemoved: result.contentRemoved, bytesFreed: result.bytesFreed };
    } catch (err) {
      if (err instanceof CacheError && err.code === 'not_found') return null;
      throw err;
    }
  }
}
