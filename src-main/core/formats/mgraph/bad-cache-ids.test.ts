import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveFoundKey } from '../../../../src-shared/keys';
import { Retention } from '../../retention/retention';
import { LocalFolderStorage } from '../../storage/local';
import { MemoryStorage } from '../../storage/memory';
import type { StorageBackend } from '../../storage/types';
import { editJson, loadFixture } from './fixture';
import { refByHashKey, refByIdKey } from './keys';
import { hashRefProblem, idRefProblem, type HashRef, type IdRef } from './refs';
import { MgraphFormat } from './mgraph-format';

// A by-hash ref (or a by-id ref) of the service's fixture, edited so that an id in it is no id the
// service makes but a path: it is damage in that ref, never a storage key to read, write or delete.
const NS = 'TeamA';
const HASH = 'c8c69f7dec1641f2';
const GOOD = 'ca6b4776-dd48-4740-903c-914a78e90da3';
const REF = `${NS}/refs/by-hash/c8/c6/${HASH}.json`;
const GOOD_BY_ID = `${NS}/refs/by-id/ca/6b/${GOOD}.json`;
/** Climbs above the store's root: reading it fails `invalid_key`. */
const ESCAPE = '../../../../../../tmp/esc/pwn';
// Another namespace's refs, and ids that climb to them from TeamA's refs (checked below).
const OTHER_ID = '59e56740-d55a-4365-8c4c-072ad8a41514';
const OTHER_BY_ID = `dups/refs/by-id/59/e5/${OTHER_ID}.json`;
const CLIMB_TO_OTHER_BY_ID = `../../dups/refs/by-id/59/e5/${OTHER_ID}`;
const OTHER_HASH = '1f59c04c6c23d303';
const OTHER_BY_HASH = `dups/refs/by-hash/1f/59/${OTHER_HASH}.json`;
const CLIMB_TO_OTHER_BY_HASH = `../../dups/refs/by-hash/1f/59/${OTHER_HASH}`;

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-bad-ids-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

let folders = 0;
const backends: [string, () => Promise<StorageBackend>][] = [
  ['memory', async () => new MemoryStorage()],
  ['local folder', async () => LocalFolderStorage.open(path.join(tmp, `store-${folders++}`))],
];

const utf8 = (b: Uint8Array | null) => Buffer.from(b!).toString('utf8');

describe.each(backends)('ids in the service refs that are not ids but paths (%s)', (_name, open) => {
  let storage: StorageBackend;
  let format: MgraphFormat;
  beforeEach(async () => {
    storage = await open();
    await loadFixture(storage);
    format = new MgraphFormat(storage);
  });

  const edit = (key: string, change: (ref: Record<string, unknown>) => void) => editJson(storage, key, change);
  /** The tester's edit: the id listed last, with a time, and made the latest. */
  const listLatest = (id: string) =>
    edit(REF, (ref) => {
      (ref.cache_ids as unknown[]).push({ cache_id: id, timestamp: 1796208425999 });
      ref.latest_id = id;
    });
  const everyKey = async () => (await storage.list('', { limit: 10_000 })).objects.map((o) => o.key).sort();

  it('the ids below climb where they are meant to (the other namespace, above the root)', () => {
    expect(resolveFoundKey(refByIdKey(NS, CLIMB_TO_OTHER_BY_ID))).toBe(OTHER_BY_ID);
    expect(resolveFoundKey(refByHashKey(NS, CLIMB_TO_OTHER_BY_HASH))).toBe(OTHER_BY_HASH);
    expect(() => resolveFoundKey(refByIdKey(NS, ESCAPE))).toThrow(/leaves the storage root/);
  });

  it('a by-hash ref listing a path as its latest cache id: verify reports it corrupt, naming the ref and the id; the repair rebuilds the ref from its valid ids and goes on with the rest', async () => {
    await listLatest(ESCAPE);
    // Another namespace's damage, repaired after TeamA's in the same run.
    await edit(OTHER_BY_HASH, (ref) => (ref.total_versions = 99));
    expect((await format.verify({ namespace: NS })).problems).toEqual([{ kind: 'corrupt', key: REF, hash: HASH, detail: expect.stringContaining(JSON.stringify(ESCAPE)) }]);
    const before = await everyKey();
    const repair = await format.verify({ repair: true });
    expect(repair.repaired).toEqual(
      expect.arrayContaining([
        { kind: 'corrupt', key: REF, action: expect.stringContaining('rebuilt from the by-id refs') },
        { kind: 'stale_latest', key: OTHER_BY_HASH, action: expect.stringContaining('rebuilt from the by-id refs') },
      ]),
    );
    const ref = JSON.parse(utf8(await storage.get(REF))) as { cache_ids: { cache_id: string }[]; latest_id: string; total_versions: number };
    expect(ref).toMatchObject({ cache_ids: [{ cache_id: GOOD }], latest_id: GOOD, total_versions: 1 });
    expect(await everyKey()).toEqual(before); // rewritten in place: nothing added, nothing removed
    expect((await format.verify()).problems).toEqual([]);
    expect((await format.versions(NS, HASH)).map((v) => v.cache_id)).toEqual([GOOD]);
    expect((await format.record(NS, { hash: HASH })).cache_id).toBe(GOOD);
  });

  it('until repaired, lookups by hash are refused with a typed error naming the ref; the good version is still read and deleted by its cache id', async () => {
    await listLatest(ESCAPE);
    const refused = { code: 'corrupt', message: expect.stringMatching(new RegExp(`^${REF} is not a readable by-hash ref: it lists "\\.\\./.* as a cache id, not a GUID \\(verify with repair rebuilds it from the by-id refs\\)$`)) };
    await expect(format.record(NS, { hash: HASH })).rejects.toMatchObject(refused);
    await expect(format.retrieve(NS, { hash: HASH })).rejects.toMatchObject(refused);
    await expect(format.versions(NS, HASH)).rejects.toMatchObject(refused);
    await expect(format.record(NS, { hash: HASH, version: 1 })).rejects.toMatchObject(refused);
    const before = await everyKey();
    await expect(format.delete(NS, { hash: HASH })).rejects.toMatchObject(refused);
    expect(await everyKey()).toEqual(before);
    // Prune leaves the hash's versions alone, and says so.
    const plan = await new Retention(format, { now: () => new Date(Date.parse('2100-01-01T00:00:00Z')) }).planPrune({ namespace: NS, olderThanSeconds: 60 });
    expect(plan.versions.some((v) => v.hash === HASH)).toBe(false);
    expect(plan.unreadableRefs).toBe(1);
    // By its cache id, as the service reads it: shown (version unknown) and deleted.
    expect(await format.record(NS, { cacheId: GOOD })).toMatchObject({ cache_id: GOOD, hash: HASH, version: 0 });
    expect(await format.delete(NS, { cacheId: GOOD })).toMatchObject({ deleted: [GOOD] });
    expect(await storage.exists(GOOD_BY_ID)).toBe(false);
    await expect(format.record(NS, { cacheId: GOOD })).rejects.toMatchObject({ code: 'not_found' });
    // The ref, naming nothing left, is moved aside by a repair. (Its content stays, as with any damaged
    // by-hash ref: the ref may have named another version sharing the file; verify calls it an orphan.)
    await format.verify({ namespace: NS, repair: true, orphanGraceMs: 0 });
    expect(await storage.exists(REF)).toBe(false);
    expect(await storage.exists(`_cache-admin.d/quarantine/${REF}`)).toBe(true);
    expect((await format.verify({ namespace: NS, orphanGraceMs: 0 })).problems.filter((p) => p.kind !== 'orphan')).toEqual([]);
  });

  it("a cache id that climbs to another namespace's by-id ref: a delete or prune of the hash never reads or removes that ref", async () => {
    await listLatest(CLIMB_TO_OTHER_BY_ID);
    const other = utf8(await storage.get(OTHER_BY_ID));
    await expect(format.delete(NS, { hash: HASH })).rejects.toMatchObject({ code: 'corrupt' });
    const retention = new Retention(format, { now: () => new Date(Date.parse('2100-01-01T00:00:00Z')) });
    await retention.prune(await retention.planPrune({ namespace: NS, olderThanSeconds: 60 }));
    expect(utf8(await storage.get(OTHER_BY_ID))).toBe(other);
    expect((await format.verify({ namespace: 'dups' })).problems).toEqual([]);
    expect((await format.verify({ namespace: NS })).problems).toEqual([{ kind: 'corrupt', key: REF, hash: HASH, detail: expect.stringContaining(JSON.stringify(CLIMB_TO_OTHER_BY_ID)) }]);
  });

  it('a latest_id alone that is a path (every listed cache id a GUID) is damage too: never followed', async () => {
    await edit(REF, (ref) => (ref.latest_id = ESCAPE));
    await expect(format.record(NS, { hash: HASH })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringContaining(REF) });
    expect((await format.verify({ namespace: NS })).problems).toEqual([{ kind: 'corrupt', key: REF, hash: HASH, detail: expect.stringContaining(JSON.stringify(ESCAPE)) }]);
    await format.verify({ namespace: NS, repair: true });
    expect((await format.record(NS, { hash: HASH })).cache_id).toBe(GOOD);
  });

  it("a by-id ref whose cache_hash is a path: verify reports the by-id ref, and a repair rebuilds it from its file's .metadata, writing no by-hash ref where that path leads (another namespace's)", async () => {
    await edit(GOOD_BY_ID, (ref) => (ref.cache_hash = CLIMB_TO_OTHER_BY_HASH));
    const other = utf8(await storage.get(OTHER_BY_HASH));
    const report = await format.verify({ namespace: NS, orphanGraceMs: 0 });
    expect(report.problems).toContainEqual({ kind: 'corrupt', key: GOOD_BY_ID, hash: expect.any(String), detail: expect.stringContaining(JSON.stringify(CLIMB_TO_OTHER_BY_HASH)) });
    await expect(format.record(NS, { cacheId: GOOD })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringContaining(`${GOOD_BY_ID} is not a readable by-id ref`) });
    await format.verify({ namespace: NS, repair: true, orphanGraceMs: 0 });
    expect(utf8(await storage.get(OTHER_BY_HASH))).toBe(other);
    // Its file's .metadata names its own hash: read and deleted as any entry, and the other namespace's ref untouched.
    expect((await format.record(NS, { cacheId: GOOD })).hash).not.toContain('/');
    expect(await format.delete(NS, { cacheId: GOOD })).toMatchObject({ deleted: [GOOD] });
    expect(utf8(await storage.get(OTHER_BY_HASH))).toBe(other);
    expect((await format.verify({ namespace: 'dups' })).problems).toEqual([]);
  });
});

describe('what counts as an id in a ref: what the service reads back as one', () => {
  const hashRef = (ids: string[], latest = ids[ids.length - 1]!): HashRef => ({ cache_hash: HASH, cache_ids: ids.map((cache_id) => ({ cache_id, timestamp: 1796208425665 })), latest_id: latest, total_versions: ids.length });
  it('a GUID in either case (a cache id the service was given keeps its case) is one; a path, a GUID with more around it, or "" is not', () => {
    expect(hashRefProblem(hashRef([GOOD, GOOD.toUpperCase()]))).toBeNull();
    expect(hashRefProblem(hashRef([GOOD], ''))).toBeNull(); // the service's "no latest": found by hash, nothing
    expect(hashRefProblem(hashRef([GOOD, `${GOOD}/..`, '', ESCAPE]))).toBe(`it lists "${GOOD}/.." and 2 more as a cache id, not a GUID`);
    expect(hashRefProblem(hashRef([GOOD], `../${GOOD}`))).toBe(`its latest_id is "../${GOOD}", not a cache id (a GUID)`);
  });
  it("a by-id ref's cache_hash: 10-96 lowercase hex characters, the service's Safe_Str__Cache_Hash", () => {
    const idRef = (cache_hash: string) => ({ cache_hash, file_paths: { content_files: ['TeamA/data/x.json'], data_folders: [] }, all_paths: { data: [], by_hash: [], by_id: [] }, file_type: 'json', timestamp: 1796208425665 }) as unknown as IdRef;
    expect(idRefProblem(idRef(HASH))).toBeNull();
    expect(idRefProblem(idRef('0123456789abcdef0123'))).toBeNull();
    expect(idRefProblem(idRef(CLIMB_TO_OTHER_BY_HASH))).toBe(`its cache_hash is ${JSON.stringify(CLIMB_TO_OTHER_BY_HASH)}, not a cache hash (10-96 hex characters)`);
    expect(idRefProblem(idRef(HASH.toUpperCase()))).toMatch(/not a cache hash/);
  });
});
