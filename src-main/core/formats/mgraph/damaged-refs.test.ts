import { beforeEach, describe, expect, it } from 'vitest';
import { Retention } from '../../retention/retention';
import { collect } from '../format';
import { MemoryStorage } from '../../storage/memory';
import { editJson, fixtureKeys, loadFixture } from './fixture';
import { MgraphFormat } from './mgraph-format';

// Refs of the service's fixture, changed by hand (or by a tool) so that their times or types are
// wrong: nothing is read as fact that the rest of the tool reads otherwise, and verify says so.
const NS = 'dups';
const HASH = '1f59c04c6c23d303';
const FIRST = '59e56740-d55a-4365-8c4c-072ad8a41514';
const BY_HASH = `${NS}/refs/by-hash/1f/59/${HASH}.json`;
const BY_ID = `${NS}/refs/by-id/59/e5/${FIRST}.json`;
const DAY = 86_400_000;

let storage: MemoryStorage;
let format: MgraphFormat;
beforeEach(async () => {
  storage = new MemoryStorage();
  await loadFixture(storage);
  format = new MgraphFormat(storage);
});

const edit = (key: string, change: (ref: Record<string, unknown>) => void) => editJson(storage, key, change);
const firstListed = (ref: Record<string, unknown>) => (ref.cache_ids as { cache_id: string; timestamp: unknown }[]).find((e) => e.cache_id === FIRST)!;

describe('the service layout with refs that disagree or are damaged', () => {
  it('a by-hash ref that dates a version years earlier than its by-id ref: prune goes by the by-id time (what info shows), verify reports it and repair makes them agree', async () => {
    const storedAt = (await format.record(NS, { cacheId: FIRST })).stored_at;
    await edit(BY_HASH, (ref) => (firstListed(ref).timestamp = Date.parse('2020-01-01T00:00:00Z')));
    const retention = new Retention(format, { now: () => new Date(Date.parse(storedAt) + DAY) });
    await retention.setPolicy({ namespace: NS, ttl_seconds: 30 * 86_400 });
    expect((await retention.planPrune({ namespace: NS, expired: true })).versions).toEqual([]);
    expect((await retention.planPrune({ namespace: NS, olderThanSeconds: 3600 })).versions.map((v) => [v.cache_id, v.stored_at])).toContainEqual([FIRST, storedAt]);
    const report = await format.verify({ namespace: NS });
    expect(report.problems).toEqual([{ kind: 'corrupt', key: BY_HASH, hash: HASH, detail: `lists ${FIRST} as stored at 2020-01-01T00:00:00.000Z, its by-id ref at ${storedAt}: the by-id ref's time is the entry's` }]);
    const repaired = await format.verify({ namespace: NS, repair: true });
    expect(repaired.repaired).toEqual([{ kind: 'corrupt', key: BY_HASH, action: expect.stringContaining("1 given their by-id ref's time") }]);
    expect((await format.verify({ namespace: NS })).problems).toEqual([]);
    expect((await format.versions(NS, HASH)).find((v) => v.cache_id === FIRST)!.stored_at).toBe(storedAt);
  });

  it.each([
    ['null', null],
    ['text', 'abc'],
    ['past what a date holds', 1e20],
  ])('a by-hash ref listing a version with a time that is %s: a typed error naming the ref, verify reports it, the rest of the namespace prunes, repair rebuilds it', async (_what, value) => {
    await edit(BY_HASH, (ref) => (firstListed(ref).timestamp = value));
    await expect(format.versions(NS, HASH)).rejects.toMatchObject({ code: 'corrupt', message: expect.stringContaining(`${BY_HASH} is not a readable by-hash ref: a cache id is listed without a time`) });
    expect((await format.verify({ namespace: NS })).problems).toEqual([{ kind: 'corrupt', key: BY_HASH, hash: HASH, detail: expect.stringContaining('a cache id is listed without a time') }]);
    // Its versions are left alone; the namespace's other entries still prune.
    const plan = await new Retention(format, { now: () => new Date(Date.parse('2100-01-01T00:00:00Z')) }).planPrune({ namespace: NS, olderThanSeconds: 60 });
    expect(plan.versions.length).toBeGreaterThan(0);
    expect(plan.versions.some((v) => v.hash === HASH)).toBe(false);
    expect(plan.unreadableRefs).toBe(1); // said, not silently passed over
    await format.verify({ namespace: NS, repair: true });
    expect((await format.verify({ namespace: NS })).problems).toEqual([]);
    expect((await format.versions(NS, HASH)).map((v) => v.cache_id)).toContain(FIRST);
  });

  it.each([
    ['no timestamp', (ref: Record<string, unknown>) => delete ref.timestamp, 'its timestamp is missing, not a time'],
    ['a timestamp that is text', (ref: Record<string, unknown>) => (ref.timestamp = '1796208425343'), 'its timestamp is "1796208425343", not a time'],
    ['no file_type', (ref: Record<string, unknown>) => delete ref.file_type, 'its file_type is missing, not json or binary'],
    ['an unknown file_type', (ref: Record<string, unknown>) => (ref.file_type = 'xml'), 'its file_type is "xml", not json or binary'],
    ['no content file', (ref: Record<string, unknown>) => ((ref.file_paths as { content_files: string[] }).content_files = []), 'it lists no content file'],
  ])('a by-id ref with %s: reading it names the ref and what is wrong (never "corrupt content, delete it"), verify reports it, prune leaves it', async (_what, change, problem) => {
    await edit(BY_ID, change);
    await expect(format.retrieve(NS, { cacheId: FIRST })).rejects.toMatchObject({ code: 'corrupt', message: `${BY_ID} is not a readable by-id ref: ${problem} (run verify)` });
    expect((await format.verify({ namespace: NS })).problems).toContainEqual({ kind: 'corrupt', key: BY_ID, hash: null, detail: `the by-id ref is unreadable: ${problem}` }); // just written: a store's, maybe, not rebuilt
    expect((await format.verify({ namespace: NS, orphanGraceMs: 0 })).problems).toContainEqual({ kind: 'corrupt', key: BY_ID, hash: HASH, detail: expect.stringContaining(`the by-id ref is unreadable: ${problem}; its entry's files are there`) });
    const plan = await new Retention(format, { now: () => new Date(Date.parse('2100-01-01T00:00:00Z')) }).planPrune({ namespace: NS, olderThanSeconds: 60 });
    expect(plan.versions.map((v) => v.cache_id)).not.toContain(FIRST);
    expect(plan.versions.some((v) => v.hash === HASH)).toBe(true); // its hash's other versions still prune
    expect(plan.unreadableRefs).toBe(1);
  });
});

describe("a by-hash ref that lists another hash's entry (edited by hand or by a tool)", () => {
  const MINE = '5fb4d69c74831135';
  const MY_ID = '46cd84b5-6103-4cbe-9ad8-d7d1d63f5825';
  const OTHER = 'c8c69f7dec1641f2';
  const OTHER_ID = 'ca6b4776-dd48-4740-903c-914a78e90da3';
  const MY_REF = `TeamA/refs/by-hash/5f/b4/${MINE}.json`;
  const listForeign = (where: 'first' | 'last') =>
    edit(MY_REF, (ref) => {
      const ids = ref.cache_ids as { cache_id: string; timestamp: number }[];
      if (where === 'last') ids.push({ cache_id: OTHER_ID, timestamp: ids[0]!.timestamp + 1 });
      else ids.unshift({ cache_id: OTHER_ID, timestamp: ids[0]!.timestamp - 1 });
      ref.latest_id = ids[ids.length - 1]!.cache_id;
      ref.total_versions = ids.length;
    });
  const bothWhole = async () => {
    expect((await format.record('TeamA', { hash: OTHER })).cache_id).toBe(OTHER_ID);
    expect((await format.record('TeamA', { cacheId: MY_ID })).hash).toBe(MINE);
  };

  it('a delete of the hash refuses whole (it deleted the other entry, and said the hash had no version left)', async () => {
    await listForeign('last');
    const before = await storage.list('TeamA/');
    await expect(format.delete('TeamA', { hash: MINE })).rejects.toMatchObject({ code: 'corrupt', message: `the by-hash ref of ${MINE} is damaged: it names ${OTHER_ID}, an entry of ${OTHER}; nothing was deleted (run verify)` });
    expect(await storage.list('TeamA/')).toEqual(before);
    await bothWhole();
  });

  it.each(['first', 'last'] as const)('listed %s: a prune keeping 1 version prunes neither entry, and says a ref needs verify (it pruned one of them)', async (where) => {
    await listForeign(where);
    const retention = new Retention(format);
    const plan = await retention.planPrune({ namespace: 'TeamA', keepVersions: 1 });
    expect(plan.versions).toEqual([]);
    expect(plan.unreadableRefs).toBe(1);
    await retention.prune(plan);
    await bothWhole();
  });

  it('a newer cache id with no by-id ref yet (a service store in flight) is no damage to report, and takes no real version\'s place among those kept; one listed long ago, or at a time far ahead, is damage', async () => {
    const listNewer = (timestamp: number) =>
      edit(MY_REF, (ref) => {
        const ids = ref.cache_ids as { cache_id: string; timestamp: number }[];
        ids.push({ cache_id: '00000000-0000-4000-8000-000000000001', timestamp });
        ref.latest_id = ids[ids.length - 1]!.cache_id;
        ref.total_versions = ids.length;
      });
    await listNewer(Date.now());
    const inFlight = await new Retention(format).planPrune({ namespace: 'TeamA', keepVersions: 1 });
    expect([inFlight.versions, inFlight.unreadableRefs]).toEqual([[], 0]);
    for (const skewed of [Date.now() - 3_600_000, Date.now() + 10 * 365 * 86_400_000]) {
      await edit(MY_REF, (ref) => ((ref.cache_ids as { timestamp: number }[])[1]!.timestamp = skewed));
      const lost = await new Retention(format).planPrune({ namespace: 'TeamA', keepVersions: 1 });
      expect([lost.versions, lost.unreadableRefs]).toEqual([[], 1]);
    }
    // Verify says so too: a time far ahead is no store in flight.
    expect((await format.verify({ namespace: 'TeamA' })).problems).toContainEqual(expect.objectContaining({ kind: 'dangling_ref', key: MY_REF }));
  });

  it("verify reports it, and a repair drops it from the ref, leaving the other entry its own hash's", async () => {
    await listForeign('last');
    expect((await format.verify({ namespace: 'TeamA' })).problems).toEqual([{ kind: 'corrupt', key: MY_REF, hash: MINE, detail: `lists ${OTHER_ID}, an entry of ${OTHER}: a repair drops it from this ref (the entry stays its own hash's)` }]);
    const repaired = await format.verify({ namespace: 'TeamA', repair: true });
    expect(repaired.repaired).toEqual([{ kind: 'corrupt', key: MY_REF, action: expect.stringContaining('1 of other hashes dropped') }]);
    expect((await format.verify({ namespace: 'TeamA' })).problems).toEqual([]);
    expect((await format.versions('TeamA', MINE)).map((v) => v.cache_id)).toEqual([MY_ID]);
    await bothWhole();
  });
});

describe('a by-hash ref that lists a cache id again (the service retrying a store under the id it was given)', () => {
  /** The ref as the service leaves it: the first version listed a second time, last, and latest. */
  async function listedAgain(): Promise<string[]> {
    let ids: string[] = [];
    await edit(BY_HASH, (ref) => {
      const listed = ref.cache_ids as { cache_id: string; timestamp: number }[];
      ids = listed.map((e) => e.cache_id);
      listed.push({ ...firstListed(ref), timestamp: firstListed(ref).timestamp as number });
      ref.latest_id = FIRST;
      ref.total_versions = listed.length;
    });
    expect(ids[0]).toBe(FIRST);
    return ids;
  }
  const content = async (ref: { cacheId: string } | { hash: string }) => Buffer.from(await collect((await format.retrieve(NS, ref)).content)).toString('utf8');

  it('counts it as one version, the newest: a prune keeping 1 version keeps it and its content (it took every version before)', async () => {
    const before = await content({ cacheId: FIRST });
    const ids = await listedAgain();
    expect((await format.versions(NS, HASH)).map((v) => [v.version, v.cache_id])).toEqual([...ids.slice(1), FIRST].map((id, i) => [i + 1, id]));
    const retention = new Retention(format);
    const plan = await retention.planPrune({ namespace: NS, keepVersions: 1 });
    expect(plan.versions.filter((v) => v.hash === HASH).map((v) => v.cache_id).sort()).toEqual(ids.slice(1).sort());
    await retention.prune(plan);
    expect((await format.versions(NS, HASH)).map((v) => v.cache_id)).toEqual([FIRST]);
    expect(await content({ hash: HASH })).toBe(before);
  });

  it('verify reports it, a repair lists it once, and a delete of that version takes every listing and all its files', async () => {
    await listedAgain();
    expect((await format.verify({ namespace: NS })).problems).toEqual([{ kind: 'corrupt', key: BY_HASH, hash: HASH, detail: expect.stringMatching(new RegExp(`^lists ${FIRST} more than once`)) }]);
    const repaired = await format.verify({ namespace: NS, repair: true });
    expect(repaired.repaired).toEqual([{ kind: 'corrupt', key: BY_HASH, action: expect.stringContaining('1 listed again merged') }]);
    const ref = JSON.parse(Buffer.from((await storage.get(BY_HASH))!).toString('utf8')) as { cache_ids: { cache_id: string }[]; total_versions: number };
    expect(ref.cache_ids.filter((e) => e.cache_id === FIRST)).toHaveLength(1);
    expect(ref.total_versions).toBe(ref.cache_ids.length);
    expect((await format.verify({ namespace: NS })).problems).toEqual([]);
    // Listed again, then deleted by its version number: no listing of it, and none of its files, are left.
    await listedAgain();
    const versions = await format.versions(NS, HASH);
    expect(await format.delete(NS, { hash: HASH, version: versions.length })).toMatchObject({ deleted: [FIRST] });
    expect((await format.versions(NS, HASH)).map((v) => v.cache_id)).not.toContain(FIRST);
    expect((await format.verify({ namespace: NS, orphanGraceMs: 0 })).problems).toEqual([]);
  });
});

describe('a service-layout delete stopped part-way', () => {
  it('leaves the by-id ref naming what is left, so deleting again (or a resumed prune) finishes, not files no ref claims', async () => {
    const failing = new Set<string>();
    class FailingStorage extends MemoryStorage {
      override async delete(key: string): Promise<void> {
        if (failing.has(key)) throw new Error(`EIO: ${key}`);
        return super.delete(key);
      }
    }
    const store = new FailingStorage();
    await loadFixture(store);
    const service = new MgraphFormat(store);
    const { keys } = await service.record(NS, { cacheId: FIRST });
    const sidecar = keys.map((k) => k.key).find((k) => k.endsWith('.metadata'))!;
    failing.add(sidecar);
    await expect(service.delete(NS, { cacheId: FIRST })).rejects.toMatchObject({ message: expect.stringContaining(`${FIRST} is not deleted whole: ${sidecar} could not be removed`) });
    expect(await store.exists(BY_ID)).toBe(true);
    expect((await service.versions(NS, HASH)).map((v) => v.cache_id)).not.toContain(FIRST);
    failing.clear();
    expect(await service.delete(NS, { cacheId: FIRST })).toMatchObject({ deleted: [FIRST] });
    expect(await store.exists(sidecar)).toBe(false);
    expect(await store.exists(BY_ID)).toBe(false);
    expect((await service.verify({ namespace: NS, orphanGraceMs: 0 })).problems).toEqual([]);
  });
});

describe('an unreadable by-id ref', () => {
  it.each([
    ['torn', async (key: string, original: Buffer) => storage.put(key, original.subarray(0, 50)), 'corrupt', /^the by-id ref is unreadable: .*; its entry's files are there \(.*\): a repair rebuilds the ref from them$/, /^rebuilt from the \.metadata of its (content file|\d content files) \(the unreadable one moved to _cache-admin\.d\/quarantine\//],
    // It hid the entry: the by-hash ref went to the quarantine, as naming nothing left.
    ['deleted', async (key: string) => storage.delete(key), 'dangling_ref', /^names [-0-9a-f]+, whose by-id ref is missing; its entry's files are there \(.*\): a repair rebuilds the by-id ref from them$/, /^rebuilt from the \.metadata of its (content file|\d content files): .*refs\/by-hash\/.* names [-0-9a-f]+ again$/],
  ] as const)("%s, of each of the service's entries: verify says its files are there, not orphans; a repair rebuilds the ref byte for byte as the service wrote it, and the entry deletes", async (_how, damage, kind, said, done) => {
    const refs = fixtureKeys().filter((key) => key.includes('/refs/by-id/'));
    expect(refs.length).toBeGreaterThan(20);
    for (const key of refs) {
      storage = new MemoryStorage();
      await loadFixture(storage);
      format = new MgraphFormat(storage);
      const original = Buffer.from((await storage.get(key))!);
      await damage(key, original);
      const found = await format.verify({ orphanGraceMs: 0 });
      expect(found.problems, key).toEqual([{ kind, key: kind === 'corrupt' ? key : expect.stringContaining('/refs/by-hash/'), hash: expect.any(String), detail: expect.stringMatching(said) }]);
      const repaired = await format.verify({ orphanGraceMs: 0, repair: true });
      expect(repaired.repaired, key).toEqual([{ kind, key, action: expect.stringMatching(done) }]);
      expect(repaired.notes, key).toContainEqual(expect.stringMatching(/^repair made 1 change: /));
      expect(Buffer.from((await storage.get(key))!).equals(original), key).toBe(true);
      expect((await format.verify({ orphanGraceMs: 0 })).problems, key).toEqual([]);
      const cacheId = key.slice(key.lastIndexOf('/') + 1, -'.json'.length);
      expect(await format.delete(key.split('/')[0]!, { cacheId }), key).toMatchObject({ deleted: [cacheId] });
    }
  }, 60_000);

  it("whose file's .metadata names another hash (planted or damaged): not rebuilt there, as no by-hash ref of that hash lists it; the entry stays its hash's", async () => {
    const byId = 'dups/refs/by-id/5e/c7/5ec74ec7-9f7c-41e1-bd38-3b94a8a6ff65.json';
    await storage.put(byId, Buffer.from((await storage.get(byId))!).subarray(0, 50));
    await edit('dups/data/direct/5e/c7/5ec74ec7-9f7c-41e1-bd38-3b94a8a6ff65.json.metadata', (m) => ((m.data as Record<string, unknown>).cache_hash = '559c25c42410b1bc'));
    for (let run = 0; run < 2; run++) {
      const repaired = await format.verify({ namespace: NS, orphanGraceMs: 0, repair: true });
      expect(repaired.problems).toContainEqual(expect.objectContaining({ kind: 'corrupt', key: byId, detail: expect.stringContaining('so nothing rebuilds it') }));
      expect(repaired.repaired?.filter((r) => r.key === byId)).toEqual([]);
    }
    const other = await storage.get(`${NS}/refs/by-hash/55/9c/559c25c42410b1bc.json`);
    expect(other && Buffer.from(other).toString()).not.toContain('5ec74ec7');
    expect(JSON.parse(Buffer.from((await storage.get(BY_HASH))!).toString()).cache_ids.map((e: { cache_id: string }) => e.cache_id)).toContain('5ec74ec7-9f7c-41e1-bd38-3b94a8a6ff65');
  });

  it('beside an unreadable by-hash ref of its own hash: one repair rebuilds both, and the entry is found by hash (the by-hash ref went to the quarantine)', async () => {
    const byId = 'TeamA/refs/by-id/46/cd/46cd84b5-6103-4cbe-9ad8-d7d1d63f5825.json';
    const byHash = 'TeamA/refs/by-hash/5f/b4/5fb4d69c74831135.json';
    await storage.put(byId, Buffer.from((await storage.get(byId))!).subarray(0, 50));
    await storage.put(byHash, new TextEncoder().encode('{"cache_hash": '));
    const repaired = await format.verify({ namespace: 'TeamA', orphanGraceMs: 0, repair: true });
    expect(repaired.repaired?.map((r) => r.key).sort()).toEqual([byHash, byId].sort());
    expect((await format.record('TeamA', { hash: '5fb4d69c74831135' })).cache_id).toBe('46cd84b5-6103-4cbe-9ad8-d7d1d63f5825');
    expect((await format.verify({ namespace: 'TeamA', orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it('whose files another entry wrote over since (one key_based path): reported as beyond rebuilding, and a repair says it changed nothing', async () => {
    format = new MgraphFormat(new MemoryStorage());
    const store = () => format.store('Team_D', { source: { kind: 'bytes', bytes: new TextEncoder().encode('{"a": 1}') }, as: 'json', options: { strategy: 'key_based', cache_key: 'k', file_id: 'f' } });
    const first = await store();
    await store();
    const key = `Team_D/refs/by-id/${first.cache_id.slice(0, 2)}/${first.cache_id.slice(2, 4)}/${first.cache_id}.json`;
    await format.storage.put(key, new TextEncoder().encode('{"cache_id": '));
    const repaired = await format.verify({ orphanGraceMs: 0, repair: true });
    expect(repaired.problems).toEqual([{ kind: 'corrupt', key, hash: null, detail: `the by-id ref is unreadable: not JSON of the expected shape; no files whose .metadata names ${first.cache_id} give a by-id ref a by-hash ref lists, so nothing rebuilds it` }]);
    expect(repaired.repaired).toEqual([]);
    expect(repaired.notes).toContainEqual(expect.stringMatching(/^repair changed nothing: /)); // it said it rebuilt refs
  });
});
