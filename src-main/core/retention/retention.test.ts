/** Retention on every backend and both layouts: policy, expiry, the prune plan (no content read) and the prune itself. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CacheError } from '../../../src-shared/errors';
import { CacheService } from '../cache-service';
import { detectFormat } from '../formats/detect';
import { collect, type StoreFormat } from '../formats/format';
import { loadFixture } from '../formats/mgraph/fixture';
import { MgraphFormat } from '../formats/mgraph/mgraph-format';
import { NativeFormat } from '../formats/native/native-format';
import { CountingStorage } from '../storage/counting';
import { LocalFolderStorage } from '../storage/local';
import { MemoryStorage } from '../storage/memory';
import { S3Storage } from '../storage/s3';
import type { PutOptions, StorageBackend } from '../storage/types';
import { s3ServerName } from '../../test-support/s3-emulator';
import { useProxiedS3 } from '../../test-support/s3-proxied';
import { parseAge } from '../../../src-shared/age';
import { ADMIN_PREFIX, POLICY_PREFIX, Retention } from './retention';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-06-01T00:00:00.000Z');
const s3 = useProxiedS3();

const backends: [string, () => Promise<StorageBackend>][] = [
  ['memory', async () => new MemoryStorage()],
  ['local folder', () => LocalFolderStorage.open(mkdtempSync(path.join(tmpdir(), 'retention-')))],
  [`S3 (${s3ServerName()})`, () => S3Storage.open(s3.config())],
];

/** Records which keys are read whole or streamed: content reads are what a dry run must not make. */
class ReadLog extends CountingStorage {
  readonly read: string[] = [];
  override get(key: string) {
    this.read.push(key);
    return super.get(key);
  }
  override getStream(key: string, options?: { signal?: AbortSignal }) {
    this.read.push(key);
    return super.getStream(key, options);
  }
}

/** A clock the test moves: stores are stamped with it, and ages are measured from it. */
function clock() {
  let now = T0;
  return { now: () => new Date(now), set: (ms: number) => void (now = ms) };
}

type Layout = 'native' | 'mgraph';
function formatOf(layout: Layout, storage: StorageBackend, now: () => Date): StoreFormat {
  return layout === 'native' ? new NativeFormat(new CacheService(storage, { now })) : new MgraphFormat(storage, { now });
}

const bytes = (t: string) => ({ kind: 'bytes' as const, bytes: new TextEncoder().encode(t) });

async function allKeys(storage: StorageBackend, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await storage.list(prefix, { cursor });
    keys.push(...page.objects.map((o) => `${o.key} ${o.size}`));
    cursor = page.cursor;
  } while (cursor);
  return keys;
}

describe.each(backends)('retention on %s', (_backend, open) => {
  describe.each(['native', 'mgraph'] as Layout[])('%s layout', (layout) => {
    /** docs: "old" stored at T0 and again at T0+2h, "single" at T0+1h, "fresh" at T0+5h; "other" namespace at T0. */
    async function seeded() {
      const time = clock();
      const storage = new ReadLog(await open());
      const format = formatOf(layout, storage, time.now);
      const store = async (ns: string, text: string, at: number) => {
        time.set(at);
        return format.store(ns, { source: bytes(text), name: `${text}.txt` });
      };
      const old1 = await store('docs', 'old', T0);
      const single = await store('docs', 'single', T0 + HOUR);
      const old2 = await store('docs', 'old', T0 + 2 * HOUR);
      const fresh = await store('docs', 'fresh', T0 + 5 * HOUR);
      const other = await store('other', 'old', T0);
      return { time, storage, format, old1, single, old2, fresh, other, retention: new Retention(format, { now: time.now }) };
    }

    it('a prune with nothing to do writes nothing: a store that takes no writes says it pruned nothing (it failed, "prune again to finish")', async () => {
      const { storage, retention } = await seeded();
      const plan = await retention.planPrune({ olderThanSeconds: 365 * 86_400 });
      expect(plan.versions).toEqual([]);
      const refuse = async () => {
        throw new CacheError('access_denied', 'this store takes no writes');
      };
      Object.assign(storage, { put: refuse, delete: refuse, copy: refuse });
      expect(await retention.prune(plan)).toMatchObject({ pruned: 0, skipped: 0 });
    });

    it('keeps the policy in the store under a key that is no namespace, and every process reads the same one', async () => {
      const { format, storage, retention } = await seeded();
      expect((await retention.getPolicy()).policy).toEqual({ default: { ttl_seconds: null, keep_versions: null }, namespaces: {} });
      await retention.setPolicy({ ttl_seconds: parseAge('30d') });
      await retention.setPolicy({ namespace: 'docs', ttl_seconds: parseAge('3h'), keep_versions: 2 });
      const other = new Retention(formatOf(layout, storage, () => new Date()));
      expect(await other.getPolicy()).toMatchObject({
        policy: { default: { ttl_seconds: 30 * 86_400, keep_versions: null }, namespaces: { docs: { ttl_seconds: 3 * 3600, keep_versions: 2 } } },
        generation: 2,
        key: `${POLICY_PREFIX}policy.00000002.json`,
      });
      // Dropping the namespace's TTL makes it follow the store-wide one again.
      await other.setPolicy({ namespace: 'docs', ttl_seconds: 'default' });
      expect((await retention.getPolicy()).policy.namespaces).toEqual({ docs: { keep_versions: 2 } });

      expect(() => format.parseNamespace(ADMIN_PREFIX.slice(0, -1))).toThrow(expect.objectContaining({ code: 'invalid_namespace' }));
      expect((await format.namespaces()).map((n) => n.name)).toEqual(['docs', 'other']);
      expect((await detectFormat(storage)).format).toBe(layout);
      expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
    });

    it('refuses bad policy input with a typed error and writes nothing', async () => {
      const { storage, retention } = await seeded();
      const before = await allKeys(storage);
      expect(() => parseAge('abc')).toThrow(expect.objectContaining({ code: 'invalid_input' }));
      for (const age of ['12', '1w', '-1d', '0s', '1.5h', '']) expect(() => parseAge(age), age).toThrow(expect.objectContaining({ code: 'invalid_input' }));
      await expect(retention.setPolicy({ namespace: '../x', ttl_seconds: 60 })).rejects.toMatchObject({ code: 'invalid_namespace' });
      await expect(retention.setPolicy({ ttl_seconds: 'default' })).rejects.toMatchObject({ code: 'invalid_input' });
      await expect(retention.setPolicy({})).rejects.toMatchObject({ code: 'invalid_input' });
      expect(await allKeys(storage)).toEqual(before);
    });

    it('keeps a rule for a namespace named like an object property (__proto__, constructor)', async () => {
      const { retention } = await seeded();
      const names = layout === 'mgraph' ? ['__proto__', 'constructor'] : ['constructor'];
      for (const namespace of names) await retention.setPolicy({ namespace, ttl_seconds: 60 });
      const { policy } = await retention.getPolicy();
      expect(Object.keys(policy.namespaces).sort()).toEqual(names.sort());
      expect(retention.expiryOf(policy, names[0]!, new Date(T0 - 120_000).toISOString()).expired).toBe(true);
      expect(retention.expiryOf(policy, 'docs', new Date(T0 - 120_000).toISOString()).expired).toBe(false);
    });

    it('names a damaged policy in a typed error, and policy set replaces it', async () => {
      const { storage, format, retention, old1 } = await seeded();
      await retention.setPolicy({ ttl_seconds: 60 });
      await storage.put(`${POLICY_PREFIX}policy.00000002.json`, new TextEncoder().encode('{"format":"cache-admin.retention/1","default":{"ttl_seconds":"soon"}}'));
      await expect(retention.getPolicy()).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining('policy.00000002.json') });
      await expect(retention.assertLive('docs', await format.record('docs', { cacheId: old1.cache_id }))).rejects.toMatchObject({ code: 'internal' });
      expect(await retention.setPolicy({ namespace: 'docs', ttl_seconds: 120 })).toMatchObject({ generation: 3, policy: { default: { ttl_seconds: null }, namespaces: { docs: { ttl_seconds: 120 } } } });
    });

    it('goes on past generation 99,999,999 (nine digits): a change made there is the one read back, never said done and lost', async () => {
      const { storage, retention } = await seeded();
      await retention.setPolicy({ ttl_seconds: 60 });
      await storage.put(`${POLICY_PREFIX}policy.99999999.json`, (await storage.get(`${POLICY_PREFIX}policy.00000001.json`))!);
      expect(await retention.setPolicy({ ttl_seconds: null })).toMatchObject({ generation: 100_000_000 });
      expect(await retention.getPolicy()).toMatchObject({ generation: 100_000_000, policy: { default: { ttl_seconds: null } } });
      expect(await retention.setPolicy({ ttl_seconds: 5 * 86_400 })).toMatchObject({ generation: 100_000_001 });
      expect((await retention.getPolicy()).policy.default.ttl_seconds).toBe(5 * 86_400);
    });

    it('at the last generation a file name holds (renamed by hand), a change is refused saying so, not as a race lost to other writers, and the rename it advises keeps that policy', async () => {
      const { storage, retention } = await seeded();
      for (const days of [10, 20, 30]) await retention.setPolicy({ ttl_seconds: days * 86_400 });
      const newest = `${POLICY_PREFIX}policy.00000003.json`;
      const last = `${POLICY_PREFIX}policy.999999999999999.json`;
      await storage.put(last, (await storage.get(newest))!);
      await storage.delete(newest);
      const before = await allKeys(storage, POLICY_PREFIX);
      const refused = retention.setPolicy({ ttl_seconds: null });
      await expect(refused).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining('policy.999999999999999.json is the last generation a policy file can be numbered (renamed by hand?): rename it to policy.00000003.json') });
      expect(await allKeys(storage, POLICY_PREFIX)).toEqual(before);
      await storage.put(newest, (await storage.get(last))!);
      await storage.delete(last);
      expect((await retention.getPolicy()).policy.default.ttl_seconds).toBe(30 * 86_400);
    });

    it('keeps every concurrent policy change (create-only generations)', async () => {
      const { storage, retention } = await seeded();
      const writers = Array.from({ length: 6 }, (_, i) => new Retention(formatOf(layout, storage, () => new Date())).setPolicy({ namespace: `ns${i}`, ttl_seconds: 60 * (i + 1) }));
      await Promise.all(writers);
      const { policy, generation } = await retention.getPolicy();
      expect(Object.keys(policy.namespaces).sort()).toEqual(['ns0', 'ns1', 'ns2', 'ns3', 'ns4', 'ns5']);
      expect(generation).toBe(6);
      // Old generations are cleaned up: at most the newest two are kept.
      expect((await allKeys(storage, POLICY_PREFIX)).length).toBeLessThanOrEqual(2);
    });

    it('says which versions have expired and when, and refuses them with `expired`', async () => {
      const { time, format, retention, old1, old2 } = await seeded();
      await retention.setPolicy({ namespace: 'docs', ttl_seconds: 3 * 3600 });
      time.set(T0 + 4.5 * HOUR);
      const { policy } = await retention.getPolicy();
      const [v1, v2] = await format.versions('docs', old1.hash);
      expect(retention.expiryOf(policy, 'docs', v1!.stored_at)).toEqual({ expired: true, expires_at: new Date(T0 + 3 * HOUR).toISOString() });
      expect(retention.expiryOf(policy, 'docs', v2!.stored_at)).toEqual({ expired: false, expires_at: new Date(T0 + 5 * HOUR).toISOString() });
      expect(retention.expiryOf(policy, 'other', v1!.stored_at)).toEqual({ expired: false, expires_at: null });
      const record = await format.record('docs', { cacheId: old1.cache_id });
      await expect(retention.assertLive('docs', record)).rejects.toMatchObject({ code: 'expired', message: expect.stringContaining(new Date(T0 + 3 * HOUR).toISOString()) });
      await expect(retention.assertLive('docs', await format.record('docs', { cacheId: old2.cache_id }))).resolves.toBeUndefined();
    });

    it('plans a prune from listings and refs only (no content read), then prunes exactly that, oldest first', async () => {
      const { time, storage, format, retention, old1, single, old2, fresh, other } = await seeded();
      await retention.setPolicy({ namespace: 'docs', ttl_seconds: 3 * 3600 });
      time.set(T0 + 4.5 * HOUR);
      const otherKeys = await allKeys(storage, 'other/');
      storage.read.length = 0;
      const plan = await retention.planPrune({ namespace: 'docs', expired: true });
      const contentRead = storage.read.filter((k) => !k.startsWith(ADMIN_PREFIX) && !k.includes('/refs/'));
      expect(contentRead).toEqual([]);
      expect(plan.versions.map((v) => [v.cache_id, v.reason, v.content_removed])).toEqual([
        [old1.cache_id, 'expired', false],
        [single.cache_id, 'expired', true],
      ]);
      expect(plan).toMatchObject({ hashes: 2, contentRemoved: 1, namespaces: ['docs'] });
      // Native frees a hash's bytes with its last version; the service's cache ids each have their own copy.
      expect(plan.bytesFreed).toBe(layout === 'native' ? 'single'.length : plan.versions.reduce((s, v) => s + v.bytes_freed, 0));
      expect(plan.bytesFreed).toBeGreaterThan(0);

      const seen: string[] = [];
      const progress: number[] = [];
      const summary = await retention.prune(plan, { onPruned: (v) => seen.push(v.cache_id), onProgress: (p) => progress.push(p.done) });
      expect(summary).toMatchObject({ pruned: 2, skipped: 0, contentRemoved: 1, bytesFreed: plan.bytesFreed });
      expect(seen.sort()).toEqual([old1.cache_id, single.cache_id].sort());
      expect(progress).toEqual([1, 2]);
      await expect(format.record('docs', { cacheId: old1.cache_id })).rejects.toMatchObject({ code: 'not_found' });
      await expect(format.record('docs', { hash: single.hash })).rejects.toMatchObject({ code: 'not_found' });
      for (const kept of [old2, fresh]) expect((await collect((await format.retrieve('docs', { cacheId: kept.cache_id })).content)).length).toBeGreaterThan(0);
      expect((await format.versions('docs', old1.hash)).map((v) => v.cache_id)).toEqual([old2.cache_id]);
      expect(await allKeys(storage, 'other/')).toEqual(otherKeys);
      expect((await format.record('other', { cacheId: other.cache_id })).hash).toBe(other.hash);
      expect(await allKeys(storage, `${ADMIN_PREFIX}prune/`)).toEqual([]); // the journal is gone with the job
      expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
    });

    it('prunes by age and by a cap on versions per hash, across every namespace when none is named', async () => {
      const { time, format, retention, old1, old2, single, other } = await seeded();
      time.set(T0 + 4.5 * HOUR);
      const byAge = await retention.planPrune({ olderThanSeconds: 3 * 3600 });
      expect(byAge.versions.map((v) => v.cache_id).sort()).toEqual([old1.cache_id, single.cache_id, other.cache_id].sort());
      const capped = await retention.planPrune({ namespace: 'docs', keepVersions: 1 });
      expect(capped.versions.map((v) => [v.cache_id, v.reason])).toEqual([[old1.cache_id, 'keep_versions']]);
      // With no criterion, the policy: its TTL and its cap.
      await retention.setPolicy({ keep_versions: 1 });
      expect((await retention.planPrune({ namespace: 'docs' })).versions.map((v) => v.cache_id)).toEqual([old1.cache_id]);
      await expect(retention.planPrune({ olderThanSeconds: 60, expired: true })).rejects.toMatchObject({ code: 'invalid_input' });
      await retention.prune(capped);
      expect((await format.versions('docs', old2.hash)).map((v) => v.cache_id)).toEqual([old2.cache_id]);
      expect((await format.record('docs', { hash: old2.hash })).cache_id).toBe(old2.cache_id);
    });

    it('stops when cancelled, leaving no journal and nothing half done; the next run finishes', async () => {
      const { time, format, retention } = await seeded();
      for (let i = 0; i < 30; i++) await format.store('docs', { source: bytes(`more ${i}`) });
      time.set(T0 + 10 * HOUR);
      const plan = await retention.planPrune({ namespace: 'docs', olderThanSeconds: 60 });
      expect(plan.versions).toHaveLength(34);
      const controller = new AbortController();
      const run = retention.prune(plan, { signal: controller.signal, onProgress: () => controller.abort() });
      await expect(run).rejects.toMatchObject({ code: 'cancelled' });
      const left = await retention.planPrune({ namespace: 'docs', olderThanSeconds: 60 });
      expect(left.versions.length).toBeLessThan(34);
      expect(left.versions.length).toBeGreaterThan(0);
      expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
      await retention.prune(left);
      expect((await retention.planPrune({ namespace: 'docs', olderThanSeconds: 60 })).versions).toEqual([]);
      expect(await format.namespaces()).toEqual([expect.objectContaining({ name: 'other' })]);
    });

    it('a cancel that comes after the last version went is no cancel: the prune says it finished', async () => {
      const { time, format, retention } = await seeded();
      time.set(T0 + 10 * HOUR);
      await format.store('zz', { source: bytes('stored just now') });
      // Every namespace, the last with nothing to prune: nothing is left when the cancel comes.
      const plan = await retention.planPrune({ olderThanSeconds: 60 });
      expect(plan.namespaces.length).toBeGreaterThan(new Set(plan.versions.map((v) => v.namespace)).size);
      const controller = new AbortController();
      const summary = await retention.prune(plan, { signal: controller.signal, onProgress: ({ done, total }) => done === total && controller.abort() });
      expect(summary).toMatchObject({ pruned: plan.versions.length });
      expect((await retention.planPrune({ namespace: 'docs', olderThanSeconds: 60 })).versions).toEqual([]);
    });

    it('after a run killed part-way, the next one says what it did: no version of the killed run counted as left, one deleted meanwhile counted once', async () => {
      const { time, format, retention } = await seeded();
      for (let i = 0; i < 12; i++) await format.store('docs', { source: bytes(`more ${i}`) });
      time.set(T0 + 10 * HOUR);
      const killed = await retention.planPrune({ namespace: 'docs', olderThanSeconds: 60 });
      expect(killed.versions).toHaveLength(16);
      // The killed run: journal written, 5 versions deleted, then it died (its journal left, as a kill leaves it).
      const journalKey = `${ADMIN_PREFIX}prune/docs/killed.json`;
      await format.storage.put(journalKey, new TextEncoder().encode(JSON.stringify({ namespace: 'docs', versions: killed.versions })));
      for (const v of killed.versions.slice(0, 5)) await format.delete('docs', { cacheId: v.cache_id });
      const next = await retention.planPrune({ namespace: 'docs', olderThanSeconds: 60 });
      expect(next.versions).toHaveLength(11);
      // Of the killed run's 16, this plan holds the 11 left; the 5 it deleted are gone, not more to do (a plan made while
      // another prune ran counted every version that prune had pruned as more to come).
      expect(next.unfinished).toBe(0);
      // Someone else deletes one of what is left, after this plan: it is the one version said to be gone already.
      await format.delete('docs', { cacheId: next.versions.at(-1)!.cache_id });
      expect(await retention.prune(next)).toMatchObject({ pruned: 10, resumed: 10, skipped: 1 });
      expect((await retention.planPrune({ namespace: 'docs', olderThanSeconds: 60 })).versions).toEqual([]);
    });

    it('finishes the versions an interrupted prune had journaled, and only in the namespace it prunes', async () => {
      const { time, storage, format, retention, old1, single, other } = await seeded();
      time.set(T0 + 10 * HOUR);
      // A run killed right after writing its journals: nothing deleted yet.
      const journal = (ns: string, v: { hash: string; cache_id: string; version: number }, storedAt: string) =>
        storage.put(`${ADMIN_PREFIX}prune/${ns}/killed.json`, new TextEncoder().encode(JSON.stringify({ namespace: ns, versions: [{ ...v, stored_at: storedAt }] })));
      await journal('docs', old1, (await format.record('docs', { cacheId: old1.cache_id })).stored_at);
      await journal('other', other, (await format.record('other', { cacheId: other.cache_id })).stored_at);
      // Any prune of docs finishes its journal first, even one that selects nothing else.
      const plan = await retention.planPrune({ namespace: 'docs', keepVersions: 5 });
      expect(plan).toMatchObject({ versions: [], unfinished: 1 }); // a dry run says so
      expect(await retention.prune(plan)).toMatchObject({ pruned: 1, resumed: 1 });
      expect(await retention.planPrune({ namespace: 'docs', keepVersions: 5 })).toMatchObject({ versions: [], unfinished: 0 });
      expect((await format.record('docs', { cacheId: single.cache_id })).hash).toBe(single.hash);
      await expect(format.record('docs', { cacheId: old1.cache_id })).rejects.toMatchObject({ code: 'not_found' });
      expect((await format.record('other', { cacheId: other.cache_id })).hash).toBe(other.hash);
      expect(await allKeys(storage, `${ADMIN_PREFIX}prune/docs/`)).toEqual([]);
      expect(await allKeys(storage, `${ADMIN_PREFIX}prune/other/`)).toHaveLength(1);
    });
  });

  it("prunes the Python service's own store: expired cache ids go with their refs and data, other namespaces untouched", async () => {
    const storage = new ReadLog(await open());
    await loadFixture(storage);
    const format = new MgraphFormat(storage);
    const retention = new Retention(format, { now: () => new Date('2030-01-01T00:00:00Z') });
    const outside = (await allKeys(storage)).filter((k) => !k.startsWith('reports/'));
    await retention.setPolicy({ namespace: 'reports', ttl_seconds: 86_400 });
    storage.read.length = 0;
    const plan = await retention.planPrune({ namespace: 'reports', expired: true });
    expect(storage.read.filter((k) => !k.startsWith(ADMIN_PREFIX) && !k.includes('/refs/'))).toEqual([]);
    expect(plan.versions.length).toBe((await format.stats('reports')).versions);
    await retention.prune(plan);
    expect(await format.stats('reports')).toMatchObject({ entries: 0, versions: 0, bytes: 0 });
    expect((await allKeys(storage)).filter((k) => !k.startsWith('reports/') && !k.startsWith(ADMIN_PREFIX))).toEqual(outside);
    const problems = (await format.verify({ orphanGraceMs: 0 })).problems;
    expect(problems.filter((p) => p.kind === 'dangling_ref' || p.kind === 'missing_content')).toEqual([]);

    const dups = await retention.planPrune({ namespace: 'dups', keepVersions: 1 });
    expect(dups.versions.filter((v) => v.hash === '1f59c04c6c23d303')).toHaveLength(2);
    await retention.prune(dups);
    expect(await format.versions('dups', '1f59c04c6c23d303')).toHaveLength(1);
  });
});

describe('the policy folder and layout detection', () => {
  it('takes no probe from detection: a service store whose first 8 folders include it is still detected', async () => {
    const storage = new MemoryStorage();
    const put = (key: string) => storage.put(key, new TextEncoder().encode('{}'));
    for (let i = 0; i < 7; i++) await put(`a${i}/notes/readme.txt`);
    await put('a7/refs/by-hash/12/34/1234567890abcdef.json');
    await new Retention(new MgraphFormat(storage)).setPolicy({ ttl_seconds: 60 });
    expect((await storage.list('', { delimiter: '/' })).prefixes[0]).toBe(ADMIN_PREFIX);
    expect((await detectFormat(storage)).format).toBe('mgraph');
  });
});

it('a prune resumed right after a killed one finishes the versions it half deleted (views gone, record left), though their records are under a minute old', async () => {
  const time = clock();
  const storage = new MemoryStorage();
  const cache = new CacheService(storage, { now: time.now });
  const format = new NativeFormat(cache);
  const retention = new Retention(format);
  const v1 = await format.store('docs', { source: bytes('kept twice') });
  time.set(T0 + HOUR);
  const v2 = await format.store('docs', { source: bytes('kept twice') });
  const plan = await retention.planPrune({ namespace: 'docs', keepVersions: 1 });
  expect(plan.versions.map((v) => v.cache_id)).toEqual([v1.cache_id]);
  // The killed run: its journal written, v1's views deleted, then it died before the record went.
  await storage.put(`${ADMIN_PREFIX}prune/docs/killed.json`, new TextEncoder().encode(JSON.stringify({ namespace: 'docs', versions: plan.versions })));
  const record = await cache.record('docs', { hash: v1.hash as never, version: 1 });
  for (const view of [cache.layout.versionEntry(record), cache.layout.temporal(record)]) await storage.delete(view);
  expect(await retention.prune(await retention.planPrune({ namespace: 'docs', keepVersions: 1 }))).toMatchObject({ pruned: 1, resumed: 1 });
  expect((await format.versions('docs', v1.hash)).map((v) => v.cache_id)).toEqual([v2.cache_id]);
  expect(await storage.exists(cache.layout.record('docs' as never, v1.hash as never, 1))).toBe(false);
  expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
});

/** Where a test holds a writer: `hold()` says it is there (`reached`) and waits until the test calls `open()`. */
function gate() {
  let open!: () => void;
  let reach!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (reach = resolve));
  return { reached, open, hold: () => (reach(), opened) };
}

it('a policy writer slow between reading and writing never loses its change, though cleanup had freed the generation it writes', async () => {
  const storage = new MemoryStorage();
  const beforePut = gate();
  class SlowPut extends CountingStorage {
    override async put(key: string, data: Uint8Array, options?: PutOptions) {
      if (this.counts.put === 0) await beforePut.hold();
      return super.put(key, data, options);
    }
  }
  const slow = new Retention(new NativeFormat(new CacheService(new SlowPut(storage)))).setPolicy({ namespace: 'slow', ttl_seconds: 60 });
  await beforePut.reached; // it read generation 0 and will write generation 1
  const others = new Retention(new NativeFormat(new CacheService(storage)));
  for (const namespace of ['a', 'b', 'c']) await others.setPolicy({ namespace, ttl_seconds: 120 }); // generations 1-3; 1 is cleaned up
  beforePut.open();
  await slow;
  expect(Object.keys((await others.getPolicy()).policy.namespaces).sort()).toEqual(['a', 'b', 'c', 'slow']);
});

it('a prune cut short by a store gone unreachable says how far it got, and the next prune finishes it', async () => {
  const time = clock();
  const storage = new MemoryStorage();
  let deletesLeft = Infinity;
  class GoesAway extends CountingStorage {
    override async delete(key: string) {
      if (!key.startsWith(ADMIN_PREFIX) && deletesLeft-- <= 0) throw new CacheError('storage_unreachable', 'cannot delete: bucket b is unreachable (ECONNRESET)');
      return super.delete(key);
    }
  }
  const flaky = new GoesAway(storage);
  const format = new NativeFormat(new CacheService(flaky, { now: time.now }));
  for (let i = 0; i < 30; i++) await format.store('docs', { source: bytes(`version ${i}`) });
  time.set(T0 + HOUR);
  const retention = new Retention(format, { now: time.now });
  const plan = await retention.planPrune({ namespace: 'docs', olderThanSeconds: 60 });
  deletesLeft = 40;
  const pruned: string[] = [];
  const failed = await retention.prune(plan, { onPruned: (c) => pruned.push(c.cache_id) }).catch((err: unknown) => err);
  expect(failed).toMatchObject({ code: 'storage_unreachable', message: `cannot delete: bucket b is unreachable (ECONNRESET); the prune stopped after ${pruned.length} of 30 versions: prune again to finish` });
  expect(pruned.length).toBeLessThan(30);
  deletesLeft = Infinity;
  await retention.prune(await retention.planPrune({ namespace: 'docs', olderThanSeconds: 60 }));
  // Every version gone; what is left are the markers of deletes the failure cut short, which expire (verify then removes them).
  expect(await format.namespaces()).toEqual([{ name: 'docs', entries: 0, versions: 0, bytes: 0 }]);
  expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
});

it('a policy writer slow after its write keeps the change another writer made on top of it (it took its generation back and undid that change)', async () => {
  const storage = new MemoryStorage();
  const afterPut = gate();
  class SlowAfterPut extends CountingStorage {
    override async put(key: string, data: Uint8Array, options?: PutOptions) {
      const done = await super.put(key, data, options);
      if (this.counts.put === 1) await afterPut.hold();
      return done;
    }
  }
  const first = new Retention(new NativeFormat(new CacheService(new SlowAfterPut(storage)))).setPolicy({ namespace: 'x', ttl_seconds: 60 });
  await afterPut.reached; // generation 1 is written; its writer has not looked again yet
  const other = new Retention(new NativeFormat(new CacheService(storage)));
  await other.setPolicy({ namespace: 'x', ttl_seconds: 120 }); // read generation 1, wrote generation 2
  afterPut.open();
  await first;
  expect((await other.getPolicy()).policy.namespaces.x).toEqual({ ttl_seconds: 120 });
});

it("a prune that stops part-way counts the plan's versions apart from those an interrupted prune had left (it said 5 of 1)", async () => {
  const time = clock();
  const storage = new MemoryStorage();
  let failing = '';
  class FailsOneHash extends CountingStorage {
    override async delete(key: string) {
      if (failing && key.includes(failing)) throw new CacheError('storage_unreachable', 'cannot delete: bucket b is unreachable (ECONNRESET)');
      return super.delete(key);
    }
  }
  const format = new NativeFormat(new CacheService(new FailsOneHash(storage), { now: time.now }));
  const retention = new Retention(format, { now: time.now });
  for (let i = 0; i < 5; i++) await format.store('docs', { source: bytes(`left ${i}`) });
  time.set(T0 + HOUR);
  const killed = await retention.planPrune({ namespace: 'docs', olderThanSeconds: 60 });
  await storage.put(`${ADMIN_PREFIX}prune/docs/killed.json`, new TextEncoder().encode(JSON.stringify({ namespace: 'docs', versions: killed.versions })));
  const twice = await format.store('docs', { source: bytes('twice') });
  await format.store('docs', { source: bytes('twice') });
  const plan = await retention.planPrune({ namespace: 'docs', keepVersions: 1 });
  expect(plan.versions.map((v) => v.cache_id)).toEqual([twice.cache_id]);
  failing = twice.hash;
  await expect(retention.prune(plan)).rejects.toMatchObject({
    code: 'storage_unreachable',
    message: 'cannot delete: bucket b is unreachable (ECONNRESET); the prune stopped after 0 of 1 versions (and finished 5 an interrupted prune had left): prune again to finish',
  });
});

describe('native: a version whose record is lost (an index entry with no record beside it)', () => {
  async function twoVersionsNewestLost() {
    const time = clock();
    const storage = new MemoryStorage();
    const cache = new CacheService(storage, { now: time.now });
    const format = new NativeFormat(cache);
    const v1 = await format.store('docs', { source: bytes('twice') });
    time.set(T0 + HOUR);
    await format.store('docs', { source: bytes('twice') });
    await storage.delete(cache.layout.record('docs' as never, v1.hash as never, 2));
    time.set(T0 + 3 * HOUR);
    return { storage, cache, format, v1, retention: new Retention(format, { now: time.now }) };
  }

  it('is neither pruned nor counted among the versions kept: keep 1 keeps the only readable version and its bytes', async () => {
    const { format, v1, retention } = await twoVersionsNewestLost();
    const plan = await retention.planPrune({ namespace: 'docs', keepVersions: 1 });
    expect(plan.versions).toEqual([]);
    expect(plan.unreadableRefs).toBe(1); // said: "1 ref could not be read, so the versions it names were left alone (run verify)"
    await retention.prune(plan);
    expect(Buffer.from(await collect((await format.retrieve('docs', { hash: v1.hash })).content)).toString()).toBe('twice');
  });

  it('an age cut takes the readable old version, never the content the lost one still names', async () => {
    const { format, v1, retention } = await twoVersionsNewestLost();
    const plan = await retention.planPrune({ namespace: 'docs', olderThanSeconds: 2 * 3600 });
    expect(plan.versions.map((v) => [v.cache_id, v.content_removed])).toEqual([[v1.cache_id, false]]);
    expect(plan.unreadableRefs).toBe(1);
    await retention.prune(plan);
    // Verify can still bring the lost version back from its index entry: its bytes are there.
    const report = await format.verify({ repair: true, orphanGraceMs: 0 });
    expect(report.repaired?.map((r) => r.action)).toContain('restored the record of v2 from it');
    expect(Buffer.from(await collect((await format.retrieve('docs', { hash: v1.hash })).content)).toString()).toBe('twice');
  });

  it('an index entry put there by someone else (no record, no version) does not count as the newest version', async () => {
    const time = clock();
    const storage = new MemoryStorage();
    const cache = new CacheService(storage, { now: time.now });
    const format = new NativeFormat(cache);
    const only = await format.store('docs', { source: bytes('once') });
    await storage.put(`${cache.layout.versionsPrefix('docs' as never, only.hash as never)}00000007~20261206T000000000Z~18~other`, new TextEncoder().encode('not a record'));
    const plan = await new Retention(format).planPrune({ namespace: 'docs', keepVersions: 1 });
    expect(plan.versions).toEqual([]);
    expect(plan.unreadableRefs).toBe(1);
  });
});

it('native: content already missing counts 0 bytes freed, in the plan (dry run) and the run alike, and the lines add up to the summary', async () => {
  for (const hashesAtOnce of ['few', 'many'] as const) {
    const time = clock();
    const storage = new MemoryStorage();
    const cache = new CacheService(storage, { now: time.now });
    const format = new NativeFormat(cache);
    const lost = await format.store('docs', { source: bytes('x'.repeat(5000)) });
    const kept = await format.store('docs', { source: bytes('y'.repeat(19)) });
    // Past the per-hash listings: the plan lists the whole namespace instead.
    if (hashesAtOnce === 'many') for (let i = 0; i < 70; i++) await format.store('docs', { source: bytes(`filler ${i}`) });
    await storage.delete(cache.layout.content('docs' as never, lost.hash as never));
    time.set(T0 + 3 * HOUR);
    const retention = new Retention(format, { now: time.now });
    const plan = await retention.planPrune({ namespace: 'docs', olderThanSeconds: 3600 });
    const freed = (hash: string) => plan.versions.find((v) => v.hash === hash)?.bytes_freed;
    expect([freed(lost.hash), freed(kept.hash)], hashesAtOnce).toEqual([0, 19]);
    const summary = await retention.prune(plan);
    expect(summary.bytesFreed, hashesAtOnce).toBe(plan.bytesFreed);
    expect(plan.bytesFreed).toBe(plan.versions.reduce((sum, v) => sum + v.bytes_freed, 0));
  }
});

it("the service layout: a prune says the bytes it freed, not a file another version still names (one key_based path stored twice)", async () => {
  const time = clock();
  const format = new MgraphFormat(new MemoryStorage(), { now: time.now });
  const retention = new Retention(format, { now: time.now });
  const page = { source: bytes('{"v": 1}'), as: 'json' as const, options: { strategy: 'key_based', cache_key: 'p/q', file_id: 'f' } };
  await format.store('k', page);
  time.set(T0 + HOUR);
  const newer = await format.store('k', page); // the same file, named by both cache ids
  // The plan (a dry run) and each version as it goes say so too: they said the file's size.
  const keepOne = await retention.planPrune({ namespace: 'k', keepVersions: 1 });
  expect([keepOne.bytesFreed, keepOne.versions.map((v) => v.bytes_freed)]).toEqual([0, [0]]);
  const told: number[] = [];
  expect(await retention.prune(keepOne, { onPruned: (v) => told.push(v.bytes_freed) })).toMatchObject({ pruned: 1, contentRemoved: 0, bytesFreed: 0 });
  expect(told).toEqual([0]);
  expect(JSON.parse(new TextDecoder().decode(await collect((await format.retrieve('k', { cacheId: newer.cache_id })).content)))).toEqual({ v: 1 });
  // Its last version takes the file: those bytes are freed.
  time.set(T0 + 2 * HOUR);
  const other = await format.store('k', { source: bytes('{"other": true}') });
  const fileSize = (await format.storage.get(newer.keys.find((k) => k.endsWith('f.json'))!))!.length;
  expect(await retention.prune(await retention.planPrune({ namespace: 'k', olderThanSeconds: 1800 }))).toMatchObject({ pruned: 1, contentRemoved: 1, bytesFreed: fileSize });
  expect((await format.record('k', { cacheId: other.cache_id })).hash).toBe(other.hash);
});

it('the service layout: two versions pruned together that name one file free it once, as the plan says', async () => {
  const time = clock();
  const format = new MgraphFormat(new MemoryStorage(), { now: time.now });
  const retention = new Retention(format, { now: time.now });
  const page = { source: bytes('{"v": 2}'), as: 'json' as const, options: { strategy: 'key_based', cache_key: 'p/q', file_id: 'f' } };
  const first = await format.store('k', page);
  await format.store('k', page);
  const fileSize = (await format.storage.get(first.keys.find((k) => k.endsWith('f.json'))!))!.length;
  time.set(T0 + 2 * HOUR);
  const plan = await retention.planPrune({ namespace: 'k', olderThanSeconds: 1800 });
  expect([plan.bytesFreed, plan.versions.map((v) => v.bytes_freed)]).toEqual([fileSize, [0, fileSize]]);
  const told: number[] = [];
  expect(await retention.prune(plan, { onPruned: (v) => told.push(v.bytes_freed) })).toMatchObject({ pruned: 2, contentRemoved: 1, bytesFreed: fileSize });
  expect(told).toEqual([0, fileSize]);
});

it('a cancelled prune of thousands of versions gives its counts as the progress line does (1,200, not 1200)', async () => {
  const time = clock();
  const format = formatOf('native', new MemoryStorage(), time.now);
  const retention = new Retention(format, { now: time.now });
  for (let i = 0; i < 1200; i++) await format.store('docs', { source: bytes(`entry ${i}`) });
  time.set(T0 + HOUR);
  const plan = await retention.planPrune({ namespace: 'docs', olderThanSeconds: 60 });
  const controller = new AbortController();
  const run = retention.prune(plan, { signal: controller.signal, onProgress: ({ done }) => done === 1001 && controller.abort() });
  await expect(run).rejects.toMatchObject({ code: 'cancelled', message: expect.stringMatching(/^the prune was cancelled after 1,\d{3} of 1,200 versions$/) });
});
