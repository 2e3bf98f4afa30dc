/** The entries browser's calls through the dispatcher (IPC) and the bridge's tar download (issue #17, #19). */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BulkOutcome, EntriesWindow, Result } from '../../src-shared/contract';
import type { CacheHash } from '../../src-shared/domain';
import { startBridge, type Bridge } from '../bridge/server';
import { CacheService } from '../core/cache-service';
import { MgraphFormat } from '../core/formats/mgraph/mgraph-format';
import { NativeFormat } from '../core/formats/native/native-format';
import { KeyLayout } from '../core/layout';
import { MemoryStorage } from '../core/storage/memory';
import { populateNamespace } from '../test-support/fixture-store';
import { memorySession } from '../test-support/memory-session';
import { tarEntries, tarMembers } from '../test-support/tar-members';

const dir = mkdtempSync(path.join(tmpdir(), 'entries-browser-'));
const bridges: Bridge[] = [];
afterEach(async () => {
  for (const b of bridges.splice(0)) await b.close();
});

/** A memory store with `alpha` (stored from 2026-01-01, a second apart, entry-<i>.txt) and `beta`; saves go to a fresh folder. */
async function setup(options: { folder?: boolean } = {}) {
  const [storage, saveDir] = [new MemoryStorage(), mkdtempSync(path.join(dir, 'save-'))];
  const chooseSaveFolder = options.folder === false ? undefined : async () => saveDir;
  const { session, dispatch } = await memorySession(dir, storage, () => ({ chooseSaveFolder }));
  const alpha = await populateNamespace(storage, 'alpha', 30);
  await populateNamespace(storage, 'beta', 3);
  const call = async <T,>(method: string, payload: unknown) => (await dispatch(method, payload)) as Result<T>;
  let transfers = 0;
  const deleteEntries = (payload: Record<string, unknown>, transferId = `delete-${++transfers}`) => call<BulkOutcome>('deleteEntries', { transferId, ...payload });
  const window = async (payload: Record<string, unknown>) => {
    const r = await call<EntriesWindow>('entries', payload);
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  };
  /** Stores each [name, text] in `namespace` as the app stores bytes; their hashes, in order. */
  const storeTexts = async (namespace: string, entries: [string, string][]) => {
    const hashes: CacheHash[] = [];
    for (const [name, text] of entries) {
      const stored = await call<{ hash: CacheHash }>('storeBytes', { namespace, name, base64: Buffer.from(text).toString('base64') });
      if (!stored.ok) throw new Error(stored.error.message);
      hashes.push(stored.value.hash);
    }
    return hashes;
  };
  return { storage, session, dispatch, call, deleteEntries, window, alpha, saveDir, storeTexts };
}

describe('entries (a window of the sorted, filtered table)', () => {
  it('is sized to the whole namespace and answers any window: sort, filter, locate', async () => {
    const { window, alpha } = await setup();
    const first = await window({ namespace: 'alpha', limit: 5, sort: 'storedAt', descending: true });
    expect([first.total, first.knownTotal, first.rows.length]).toEqual([30, 30, 5]);
    expect(first.rows[0]).toEqual({ hash: alpha[29]!.hash, versions: 1, stored_at: alpha[29]!.stored_at, size: alpha[29]!.size, source: 'entry-29.txt', content_type: 'text/plain', expired: false, expires_at: null, content_missing: false });
    const filtered = await window({ namespace: 'alpha', filter: { name: 'entry-2' }, sort: 'source' });
    expect(filtered.rows.map((r) => r.source)).toEqual(['entry-2.txt', ...Array.from({ length: 10 }, (_, i) => `entry-2${i}.txt`)]);
    expect([filtered.total, filtered.knownTotal]).toEqual([11, 30]);
    const located = await window({ namespace: 'alpha', limit: 4, sort: 'storedAt', locate: alpha[20]!.hash });
    expect(located.located).toBe(20);
    expect(located.rows.map((r) => r.hash)).toContain(alpha[20]!.hash);
  });

  it('shows a change the app made at once: a store through the dispatcher is in the next window without a refresh', async () => {
    const { window, call } = await setup();
    expect((await window({ namespace: 'beta' })).knownTotal).toBe(3);
    await call('storeBytes', { namespace: 'beta', name: 'new.json', base64: Buffer.from('{"new":1}').toString('base64') });
    // A filter waits for main's whole listing (no rows while `listing` says it goes on): on a loaded machine, ask again.
    let after = await window({ namespace: 'beta', filter: { type: 'application/json' } });
    while (after.listing) after = await new Promise<EntriesWindow>((resolve) => setTimeout(() => void window({ namespace: 'beta', filter: { type: 'application/json' } }).then(resolve), 20));
    expect(after.rows.map((r) => r.source)).toEqual(['new.json']);
    expect(after.knownTotal).toBe(4);
  });

  it('marks rows expired once their namespace has a TTL they are past (#19); another namespace is not', async () => {
    const { window, call } = await setup();
    expect((await window({ namespace: 'alpha' })).rows.every((r) => !r.expired)).toBe(true);
    await call('setPolicy', { namespace: 'alpha', ttl: '30d' });
    const rows = (await window({ namespace: 'alpha' })).rows;
    expect(rows.every((r) => r.expired && r.expires_at!.startsWith('2026-01-31'))).toBe(true);
    expect((await window({ namespace: 'beta' })).rows.some((r) => r.expired)).toBe(false);
  });

  it('bad input is a typed error: an unknown column, a negative size, a bad time, a namespace the layout refuses', async () => {
    const { call } = await setup();
    for (const bad of [{ sort: 'secret' }, { filter: { minSize: -1 } }, { filter: { storedFrom: 'yesterday' } }, { filter: { extra: 1 } }, { limit: 100_000 }]) {
      expect(await call('entries', { namespace: 'alpha', ...bad })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    }
    expect(await call('entries', { namespace: '../etc' })).toMatchObject({ ok: false, error: { code: 'invalid_namespace' } });
  });
});

describe('delete of all an entry\'s versions, as the entry panel showed them', () => {
  it.each(['native', 'mgraph'] as const)('%s layout: a version another program stored since refuses it, whole; as shown, they all go', async (layout) => {
    const store = mkdtempSync(path.join(dir, `shown-${layout}-`));
    const { session, dispatch } = await memorySession(dir, null, () => ({ commandLine: { kind: 'local', dir: store }, commandLineFormat: layout }));
    const bytes = Buffer.from('quarterly numbers\n');
    const store1 = (name: string) => dispatch('storeBytes', { namespace: 'reports', name, base64: bytes.toString('base64') });
    await store1('a.txt');
    await store1('b.txt');
    const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    const versions = await session.format.versions('reports', hash);
    const shown = { versions: 2, version: versions[1]!.version, storedAt: versions[1]!.stored_at };
    // Another program (the CLI, the service) stores a third version after the panel showed two.
    await new Promise((resolve) => setTimeout(resolve, 5)); // a time of its own
    await session.format.store('reports', { source: { kind: 'bytes', bytes }, name: 'c.txt' });
    expect(await dispatch('delete', { namespace: 'reports', ref: hash, shown })).toEqual({
      ok: false,
      error: { code: 'conflict', message: `${hash} changed since it was shown (3 versions now, 2 shown): nothing of it was deleted; look at its versions again` },
    });
    expect(await session.format.versions('reports', hash)).toHaveLength(3);
    // Shown anew: all three go.
    const now = await session.format.versions('reports', hash);
    const deleted = await dispatch('delete', { namespace: 'reports', ref: hash, shown: { versions: 3, version: now[2]!.version, storedAt: now[2]!.stored_at } });
    expect(deleted).toMatchObject({ ok: true, value: { contentRemoved: true } });
    expect((deleted as { value: { deleted: string[] } }).value.deleted).toHaveLength(3);
    expect(await session.format.versions('reports', hash)).toEqual([]);
    // Only a whole hash is deleted as shown.
    await store1('d.txt');
    const [only] = await session.format.versions('reports', hash);
    expect(await dispatch('delete', { namespace: 'reports', ref: only!.cache_id, shown })).toEqual({ ok: false, error: { code: 'invalid_input', message: 'delete: an entry as shown is named by its hash alone' } });
    expect(await session.format.versions('reports', hash)).toHaveLength(1);
  });
});

describe('delete as seen, of a version no list shows', () => {
  it('a readable version without its index entry (no list shows it) refuses the delete, naming it and the fix: it went unseen', async () => {
    const { session, storage, alpha, deleteEntries, window } = await setup();
    const hash = alpha[7]!.hash as CacheHash;
    const cache = new CacheService(storage);
    await cache.store('alpha', { source: { kind: 'bytes', bytes: Buffer.from('fixture entry 7 of alpha\n') }, name: 'second.txt' });
    const v2 = (await cache.versions('alpha', hash))[1]!;
    await storage.delete(cache.layout.versionEntry({ ...(await cache.record('alpha', { hash, version: 2 })), namespace: 'alpha' as never })); // lost by hand
    await window({ namespace: 'alpha', refresh: true }); // lists v1 only
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 120_000); // a record without its index entry this old is no store in flight
      const refused = `${hash}-v2 in alpha has no index entry, so no list shows it: nothing of ${hash} was deleted; verify --repair writes its index entry back, or delete it by its cache id`;
      expect(await deleteEntries({ namespace: 'alpha', selection: { hashes: [hash] } })).toMatchObject({ ok: true, value: { done: 0, failures: [{ hash, error: { code: 'conflict', message: refused } }] } });
      expect(await cache.record('alpha', { hash, version: 2 })).toMatchObject({ stored_at: v2.stored_at });
      expect((await session.format.versions('alpha', hash)).map((v) => v.version)).toEqual([1]);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('deleteEntries', () => {
  it('deletes every selected entry (all the filter shows but those excepted), says how many, and the counts follow', async () => {
    const { call, deleteEntries, window, alpha } = await setup();
    const result = await deleteEntries({ namespace: 'alpha', selection: { filter: { name: 'entry-1' }, except: [alpha[1]!.hash], count: 10 } });
    expect(result).toMatchObject({ ok: true, value: { done: 10, failed: 0, failures: [] } }); // entry-10..19
    expect((await window({ namespace: 'alpha', refresh: true })).knownTotal).toBe(20); // listed again at once when asked (else paced)
    const counts = await call<{ namespaces: { name: string; entries: number }[] }>('namespaces', {});
    expect(counts.ok && counts.value.namespaces.find((n) => n.name === 'alpha')?.entries).toBe(20);
  });

  it('a row another program stored a version of since it was listed is refused, whole (its new version was deleted unseen); the rows as listed go', async () => {
    const { deleteEntries, window, session, alpha, storage } = await setup();
    await window({ namespace: 'alpha', refresh: true });
    const elsewhere = await session.format.store('alpha', { source: { kind: 'bytes', bytes: Buffer.from('fixture entry 3 of alpha\n') }, name: 'payroll.txt' }); // the list has not seen it
    expect([elsewhere.hash, elsewhere.version]).toEqual([alpha[3]!.hash, 2]);
    const result = await deleteEntries({ namespace: 'alpha', selection: { hashes: [alpha[3]!.hash, alpha[4]!.hash] } });
    expect(result).toMatchObject({ ok: true, value: { done: 1, failed: 1, failures: [{ hash: alpha[3]!.hash, error: { code: 'conflict', message: expect.stringContaining('changed since it was listed (2 versions now, 1 listed): nothing of it was deleted') } }] } });
    expect((await session.format.versions('alpha', alpha[3]!.hash)).map((v) => v.version)).toEqual([1, 2]);
    expect(await session.format.versions('alpha', alpha[4]!.hash)).toEqual([]);
    // A version number deleted and taken again since (another process): the same count and number, another version.
    await window({ namespace: 'alpha', refresh: true });
    const other = new NativeFormat(new CacheService(storage));
    await other.delete('alpha', { hash: alpha[5]!.hash });
    expect((await other.store('alpha', { source: { kind: 'bytes', bytes: Buffer.from('fixture entry 5 of alpha\n') }, name: 'new.txt' })).version).toBe(1);
    expect(await deleteEntries({ namespace: 'alpha', selection: { hashes: [alpha[5]!.hash] } })).toMatchObject({ ok: true, value: { done: 0, failed: 1 } });
    expect(await other.versions('alpha', alpha[5]!.hash)).toHaveLength(1);
  });

  it('after a change made the listing stale, rows are judged by the table the list showed, not one listed afresh at the delete (it took a version stored since for one seen)', async () => {
    const { deleteEntries, window, alpha, storage } = await setup();
    await window({ namespace: 'alpha', refresh: true });
    expect(await deleteEntries({ namespace: 'alpha', selection: { hashes: [alpha[8]!.hash] } })).toMatchObject({ ok: true, value: { done: 1 } }); // the listing is stale now
    const other = new NativeFormat(new CacheService(storage));
    expect((await other.store('alpha', { source: { kind: 'bytes', bytes: Buffer.from('fixture entry 9 of alpha\n') }, name: 'late.txt' })).version).toBe(2);
    expect(await deleteEntries({ namespace: 'alpha', selection: { hashes: [alpha[9]!.hash] } })).toMatchObject({
      ok: true,
      value: { done: 0, failures: [{ hash: alpha[9]!.hash, error: { code: 'conflict', message: expect.stringContaining('changed since it was listed (2 versions now, 1 listed)') } }] },
    });
    expect((await other.versions('alpha', alpha[9]!.hash)).map((v) => v.version)).toEqual([1, 2]);
    await window({ namespace: 'alpha', refresh: true }); // shown again: now it goes
    expect(await deleteEntries({ namespace: 'alpha', selection: { hashes: [alpha[9]!.hash] } })).toMatchObject({ ok: true, value: { done: 1 } });
  });

  it('a version another process finishes storing as the delete begins (after any check outside the delete) is not deleted: the row is refused', async () => {
    const { deleteEntries, window, alpha, storage } = await setup();
    await window({ namespace: 'alpha', refresh: true });
    const other = new NativeFormat(new CacheService(storage)); // another process on the same store
    const put = storage.put.bind(storage);
    let raced = false;
    // The other store lands just before this delete takes the hash's deletion marker.
    vi.spyOn(storage, 'put').mockImplementation(async (key, data, options) => {
      if (key.endsWith(`${alpha[6]!.hash}.deleting.json`) && !raced) {
        raced = true;
        expect((await other.store('alpha', { source: { kind: 'bytes', bytes: Buffer.from('fixture entry 6 of alpha\n') }, name: 'late.txt' })).version).toBe(2);
      }
      return put(key, data, options);
    });
    const result = await deleteEntries({ namespace: 'alpha', selection: { hashes: [alpha[6]!.hash] } });
    expect(raced).toBe(true);
    expect(result).toMatchObject({ ok: true, value: { done: 0, failed: 1, failures: [{ hash: alpha[6]!.hash, error: { code: 'conflict', message: expect.stringContaining('changed since it was listed (2 versions now, 1 listed): nothing of it was deleted') } }] } });
    expect((await other.versions('alpha', alpha[6]!.hash)).map((v) => v.version)).toEqual([1, 2]);
  });

  it("service layout: a row whose by-hash ref another process wrote since it was listed (a version stored) is refused whole; rows as listed go", async () => {
    const storage = new MemoryStorage();
    const { dispatch } = await memorySession(dir, storage, () => ({ commandLineFormat: 'mgraph' }));
    const other = new MgraphFormat(storage); // the service, or the CLI, in another process
    const text = (t: string) => ({ source: { kind: 'bytes' as const, bytes: Buffer.from(t) }, name: `${t}.txt` });
    const [kept, gone] = [await other.store('reports', text('q1')), await other.store('reports', text('q2'))];
    const second = () => new Promise((resolve) => setTimeout(resolve, 1100)); // past the tick of the store's clock (S3: a second)
    await second();
    const list = async () => ((await dispatch('entries', { namespace: 'reports', refresh: true })) as Result<EntriesWindow> & { ok: true }).value;
    expect((await list()).rows.map((r) => r.versions)).toEqual([null, null]);
    await other.store('reports', text('q1')); // a second version of the first, unseen by the list
    const remove = async (hashes: string[]) => (await dispatch('deleteEntries', { namespace: 'reports', selection: { hashes }, transferId: `svc-${hashes.join('-')}` })) as Result<BulkOutcome>;
    const refused = (hash: string) => ({ hash, error: { code: 'conflict', message: `${hash} changed since it was listed (its by-hash ref was written since, or as it was listed): nothing of it was deleted; refresh and pick it again` } });
    expect(await remove([kept.hash, gone.hash])).toMatchObject({ ok: true, value: { done: 1, failed: 1, failures: [refused(kept.hash)] } });
    expect(await other.versions('reports', kept.hash)).toHaveLength(2);
    expect(await other.versions('reports', gone.hash)).toEqual([]);
    // Listed in the second its ref was written: a write after the listing in that second would look the same, so it is refused too.
    await list();
    expect(await remove([kept.hash])).toMatchObject({ ok: true, value: { done: 0, failures: [refused(kept.hash)] } });
    await second();
    await list();
    expect(await remove([kept.hash])).toMatchObject({ ok: true, value: { done: 1, failed: 0 } });
    expect(await other.versions('reports', kept.hash)).toEqual([]);
  });

  it('picks deleted elsewhere since the list showed them are counted as already gone, not as nothing said', async () => {
    const { deleteEntries, session, alpha } = await setup();
    await session.format.delete('alpha', { hash: alpha[0]!.hash }); // another window, before the list knows
    const result = await deleteEntries({ namespace: 'alpha', selection: { hashes: [alpha[0]!.hash, alpha[1]!.hash] } });
    expect(result).toMatchObject({ ok: true, value: { done: 1, failed: 0, gone: 1 } });
    // Gone between the listing and its own delete (another deleter got there first): gone too, not a failure.
    const format = session.format;
    const realDelete = format.delete.bind(format);
    format.delete = async (ns, lookup) => {
      await realDelete(ns, lookup);
      return realDelete(ns, lookup);
    };
    expect(await deleteEntries({ namespace: 'alpha', selection: { hashes: [alpha[2]!.hash] } })).toMatchObject({ ok: true, value: { done: 0, failed: 0, gone: 1 } });
  });

  it('content no version uses (a store killed before its record) is listed, and deleting its row deletes it: not "already gone"', async () => {
    const { deleteEntries, window, storage, call } = await setup();
    const bytes = Buffer.from('placed, never recorded\n');
    const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16) as CacheHash;
    await storage.put(new KeyLayout().content('alpha' as never, hash), bytes);
    // Listed as what it is: no version (the list marks it so), with its size and write time, not a row of unknowns.
    expect((await window({ namespace: 'alpha', refresh: true, filter: { name: hash } })).rows).toEqual([expect.objectContaining({ hash, versions: 0, source: '', size: bytes.byteLength, stored_at: expect.stringMatching(/^\d{4}-/) })]);
    // Opened, it says what it is rather than that nothing is there.
    expect(await call('entry', { namespace: 'alpha', ref: hash })).toMatchObject({ ok: false, error: { code: 'not_found', message: expect.stringContaining(`${hash} in alpha is content no version uses`) } });
    // A minute later (younger, it may be a store in flight, which keeps it).
    expect(await deleteEntries({ namespace: 'alpha', selection: { hashes: [hash] } })).toMatchObject({ ok: true, value: { done: 0, failed: 1 } });
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 120_000 });
    try {
      expect(await deleteEntries({ namespace: 'alpha', selection: { hashes: [hash] } })).toMatchObject({ ok: true, value: { done: 1, failed: 0, gone: 0 } });
    } finally {
      vi.useRealTimers();
    }
    expect(await storage.exists(new KeyLayout().content('alpha' as never, hash))).toBe(false);
    expect((await window({ namespace: 'alpha', refresh: true, filter: { name: hash } })).rows).toEqual([]);
  });

  it("the entry panel's delete of content no version uses deletes only that: a version stored since it was shown refuses it, whole", async () => {
    const { storage, call, storeTexts } = await setup();
    const text = 'placed, then stored';
    const hash = createHash('sha256').update(text).digest('hex').slice(0, 16) as CacheHash;
    await storage.put(new KeyLayout().content('alpha' as never, hash), Buffer.from(text));
    const later = () => vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 120_000 });
    try {
      later();
      expect(await call('delete', { namespace: 'alpha', ref: hash, unversioned: true })).toEqual({ ok: true, value: { deleted: [], contentRemoved: true, bytesFreed: Buffer.byteLength(text) } });
      vi.useRealTimers();
      await storage.put(new KeyLayout().content('alpha' as never, hash), Buffer.from(text));
      expect(await storeTexts('alpha', [['stored.txt', text]])).toEqual([hash]); // a store lands meanwhile, on the same bytes
      later();
      expect(await call('delete', { namespace: 'alpha', ref: hash, unversioned: true })).toMatchObject({ ok: false, error: { code: 'conflict', message: expect.stringContaining('has a version now') } });
    } finally {
      vi.useRealTimers();
    }
    expect(await call('entry', { namespace: 'alpha', ref: hash })).toMatchObject({ ok: true, value: { record: { hash, version: 1 } } });
    expect(await call('delete', { namespace: 'alpha', ref: `${hash}-v1`, unversioned: true })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
  });

  it('a picked row of content no version uses deletes as it was shown: a version another program stored since is kept, and the failure says why', async () => {
    const { deleteEntries, window, storage } = await setup();
    const text = 'placed, then stored by another program';
    const hash = createHash('sha256').update(text).digest('hex').slice(0, 16) as CacheHash;
    await storage.put(new KeyLayout().content('alpha' as never, hash), Buffer.from(text));
    expect((await window({ namespace: 'alpha', refresh: true, filter: { name: hash } })).rows).toEqual([expect.objectContaining({ hash, versions: 0 })]);
    // Another process (the CLI, another app) stores the same bytes: no change event reaches this list.
    await new CacheService(storage).store('alpha', { source: { kind: 'bytes', bytes: Buffer.from(text) } });
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 120_000 });
    try {
      expect(await deleteEntries({ namespace: 'alpha', selection: { hashes: [hash] } })).toMatchObject({ ok: true, value: { done: 0, failed: 1, failures: [{ hash, error: { code: 'conflict', message: expect.stringContaining('has a version now') } }] } });
    } finally {
      vi.useRealTimers();
    }
    expect((await new CacheService(storage).record('alpha', { hash })).version).toBe(1);
  });

  it('a failure does not stop the others and is reported with its reason', async () => {
    const { deleteEntries, session, alpha } = await setup();
    const format = session.format;
    const realDelete = format.delete.bind(format);
    format.delete = async (ns, lookup) => {
      if ('hash' in lookup && lookup.hash === alpha[0]!.hash) throw new (await import('../../src-shared/errors')).CacheError('conflict', 'held by another deleter');
      return realDelete(ns, lookup);
    };
    const result = await deleteEntries({ namespace: 'alpha', selection: { hashes: [alpha[0]!.hash, alpha[1]!.hash] } });
    expect(result).toMatchObject({ ok: true, value: { done: 1, failed: 1, failures: [{ hash: alpha[0]!.hash, error: { code: 'conflict', message: 'held by another deleter' } }] } });
  });
  it('stops when asked: what is under way finishes, the rest are kept, and the answer says how many went; progress counts them', async () => {
    const { call, deleteEntries, session } = await setup();
    const progress: number[] = [];
    session.onEvent((e) => e.type === 'progress' && e.phase === 'delete' && e.totalBytes === 30 && progress.push(e.bytesDone));
    const format = session.format;
    const realDelete = format.delete.bind(format);
    let started = 0;
    format.delete = async (ns, lookup) => {
      // The operator presses Stop while the sixth is under way.
      if (++started === 6) void call('cancel', { transferId: 'stoppable' });
      await new Promise((resolve) => setTimeout(resolve, 20));
      return realDelete(ns, lookup);
    };
    const result = await deleteEntries({ namespace: 'alpha', selection: { filter: {}, except: [], count: 30 } }, 'stoppable');
    const left = await call<{ namespaces: { name: string; entries: number }[] }>('namespaces', {});
    const kept = left.ok ? left.value.namespaces.find((n) => n.name === 'alpha')!.entries : -1;
    expect(kept).toBeGreaterThan(20);
    expect(result).toEqual({ ok: false, error: { code: 'cancelled', message: `stopped as asked: deleted ${30 - kept} entries of the 30 picked; the ${kept} not reached are kept` } });
    expect(started).toBe(30 - kept); // none started after the stop
    // Told at once how many it is working through (then at most every 100 ms).
    expect(progress[0]).toBe(0);
  });

  it('stopped, it names what failed and what was already gone beside what it deleted; stopped before it began, it says nothing was', async () => {
    const { call, deleteEntries, session, alpha } = await setup();
    await session.format.delete('alpha', { hash: alpha[0]!.hash }); // by another window, after the list showed it
    const format = session.format;
    const realDelete = format.delete.bind(format);
    format.delete = async (ns, lookup) => {
      if ('hash' in lookup && lookup.hash === alpha[1]!.hash) {
        void call('cancel', { transferId: 'mixed' });
        throw new (await import('../../src-shared/errors')).CacheError('conflict', 'held by another deleter');
      }
      return realDelete(ns, lookup);
    };
    const picks = alpha.slice(0, 12).map((r) => r.hash);
    const result = await deleteEntries({ namespace: 'alpha', selection: { hashes: picks } }, 'mixed');
    expect(result.ok).toBe(false);
    const said = (!result.ok && /^stopped as asked: deleted (\d+) entries of the 12 picked, 1 already gone \(deleted elsewhere\), 1 failed \((\w+): held by another deleter\); the (\d+) not reached are kept$/.exec(result.error.message)) || null;
    expect(said, !result.ok ? result.error.message : '').not.toBeNull();
    const [deleted, failedHash, notReached] = [Number(said![1]), said![2], Number(said![3])];
    expect(failedHash).toBe(alpha[1]!.hash);
    expect(deleted + 2 + notReached).toBe(12);
    const left = await Promise.all(picks.map((hash) => format.record('alpha', { hash }).then(() => true, () => false)));
    expect(left.filter(Boolean)).toHaveLength(notReached + 1); // and the one that failed

    await call('cancel', { transferId: 'early' });
    expect(await deleteEntries({ namespace: 'alpha', selection: { hashes: picks } }, 'early')).toEqual({ ok: false, error: { code: 'cancelled', message: 'stopped as asked before it began: nothing was deleted' } });
  });
});

describe('saveEntries (desktop: into a chosen folder)', () => {
  it('writes each selected entry under its source name; expired ones only when asked; never a file outside the folder', async () => {
    const { call, saveDir, alpha } = await setup();
    await call('setPolicy', { namespace: 'alpha', ttl: '30d' });
    const selection = { hashes: [alpha[0]!.hash, alpha[1]!.hash] };
    expect(await call('saveEntries', { namespace: 'alpha', selection })).toMatchObject({ ok: true, value: { done: 0, skippedExpired: 2, folder: saveDir } });
    expect(readdirSync(saveDir)).toEqual([]);
    expect(await call('saveEntries', { namespace: 'alpha', selection, includeExpired: true })).toMatchObject({ ok: true, value: { done: 2, failed: 0 } });
    expect(readdirSync(saveDir).sort()).toEqual(['entry-0.txt', 'entry-1.txt']);
    expect(readFileSync(path.join(saveDir, 'entry-0.txt'), 'utf8')).toBe('fixture entry 0 of alpha\n');
    // Saved again: the files there are kept, the new ones carry the hash.
    await call('saveEntries', { namespace: 'alpha', selection: { hashes: [alpha[0]!.hash] }, includeExpired: true });
    expect(readdirSync(saveDir).sort()).toEqual(['entry-0.txt', `entry-0-${alpha[0]!.hash}.txt`, 'entry-1.txt'].sort());
  });

  it('content that is corrupt fails loudly and leaves no file (not even a partial one)', async () => {
    const { call, storage, saveDir, alpha } = await setup();
    await storage.put(new KeyLayout().content(alpha[3]!.namespace, alpha[3]!.hash), Buffer.from('not what was stored\n'));
    const result = await call<BulkOutcome>('saveEntries', { namespace: 'alpha', selection: { hashes: [alpha[3]!.hash, alpha[4]!.hash] } });
    expect(result).toMatchObject({ ok: true, value: { done: 1, failed: 1, failures: [{ hash: alpha[3]!.hash, error: { code: 'corrupt' } }] } });
    expect(readdirSync(saveDir)).toEqual(['entry-4.txt']);
  });

  it('a source name that is not a plain file name is saved under the cache id, inside the folder', async () => {
    const { call, saveDir } = await setup();
    const stored = await call<{ hash: string; cache_id: string }>('storeBytes', { namespace: 'beta', name: '..', base64: Buffer.from('dots').toString('base64') });
    if (!stored.ok) throw new Error(stored.error.message);
    expect(await call('saveEntries', { namespace: 'beta', selection: { hashes: [stored.value.hash] } })).toMatchObject({ ok: true, value: { done: 1 } });
    expect(readdirSync(saveDir)).toEqual([stored.value.cache_id]);
    expect(existsSync(path.join(saveDir, '..', 'dots'))).toBe(false);
  });

  it('a long non-ASCII source name is cut to whole characters that fit a file name, twice over with the hash added', async () => {
    const { call, saveDir } = await setup();
    for (const name of ['日'.repeat(120), '😀'.repeat(150)]) {
      const stored = await call<{ hash: string }>('storeBytes', { namespace: 'beta', name, base64: Buffer.from(name).toString('base64') });
      if (!stored.ok) throw new Error(stored.error.message);
      for (let i = 0; i < 2; i++) expect(await call('saveEntries', { namespace: 'beta', selection: { hashes: [stored.value.hash] } })).toMatchObject({ ok: true, value: { done: 1, failed: 0 } });
    }
    const saved = readdirSync(saveDir);
    expect(saved).toHaveLength(4);
    for (const file of saved) {
      expect(Buffer.byteLength(file)).toBeLessThanOrEqual(255);
      expect(file).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/); // no half of a character
    }
  });

  it('a long name keeps its extension when cut; control and bidi-override characters are replaced, so a name cannot pass for another', async () => {
    const { call, saveDir } = await setup();
    for (const name of [`${'L'.repeat(300)}.txt`, 'invoice\u202Egpj.exe', 'line\nbreak.txt']) {
      const stored = await call<{ hash: string }>('storeBytes', { namespace: 'beta', name, base64: Buffer.from(name).toString('base64') });
      if (!stored.ok) throw new Error(stored.error.message);
      expect(await call('saveEntries', { namespace: 'beta', selection: { hashes: [stored.value.hash] } })).toMatchObject({ ok: true, value: { done: 1 } });
    }
    expect(readdirSync(saveDir).sort()).toEqual([`${'L'.repeat(196)}.txt`, 'invoice_gpj.exe', 'line_break.txt']);
  });

  it('keeps the folders an entry was stored under (a folder drop), as the download does, and nothing climbs out of the folder', async () => {
    const { call, saveDir, storeTexts } = await setup();
    const hashes = await storeTexts('beta', [['photos/2024/a.txt', 'a of 2024'], ['photos/2023/a.txt', 'a of 2023'], ['../../up/b.txt', 'climbing'], ['/etc/c.txt', 'rooted']]);
    expect(await call('saveEntries', { namespace: 'beta', selection: { hashes } })).toMatchObject({ ok: true, value: { done: 4, failed: 0 } });
    expect(readFileSync(path.join(saveDir, 'photos/2024/a.txt'), 'utf8')).toBe('a of 2024');
    expect(readFileSync(path.join(saveDir, 'photos/2023/a.txt'), 'utf8')).toBe('a of 2023');
    expect(readFileSync(path.join(saveDir, 'up/b.txt'), 'utf8')).toBe('climbing');
    expect(readFileSync(path.join(saveDir, 'etc/c.txt'), 'utf8')).toBe('rooted');
    expect(readdirSync(saveDir).sort()).toEqual(['etc', 'photos', 'up']);
  });

  it('a stored folder that is a link or a file in the chosen folder fails that entry, writes nothing through it and leaves no folder of its own', async () => {
    const { call, storage, saveDir, storeTexts, session } = await setup();
    const outside = mkdtempSync(path.join(dir, 'outside-'));
    symlinkSync(outside, path.join(saveDir, 'linked'));
    writeFileSync(path.join(saveDir, 'plain'), 'a file of the operator');
    const hashes = await storeTexts('beta', ['linked/a.txt', 'new/deeper/b.txt', 'kept/c.txt', 'plain/d.txt', 'shared/bad.txt', 'shared/good.txt'].map((name) => [name, name]));
    // Every content opened is closed again, read or not (a refused folder must not hold a file or a bucket's connection).
    const open = new Set<string>();
    const realRetrieve = session.format.retrieve.bind(session.format);
    session.format.retrieve = async (ns, lookup, options) => {
      const found = await realRetrieve(ns, lookup, options);
      const hash = found.record.hash;
      open.add(hash);
      const content = found.content;
      const settled = () => open.delete(hash); // read to its end or its error, or closed unread
      return {
        ...found,
        content: {
          [Symbol.asyncIterator]: () => {
            const it = content[Symbol.asyncIterator]();
            return {
              next: () => it.next().then((r) => (r.done && settled(), r), (err: unknown) => (settled(), Promise.reject(err))),
              return: async () => (settled(), (await it.return?.()) ?? { done: true as const, value: undefined }),
            };
          },
        },
      };
    };
    mkdirSync(path.join(saveDir, 'kept'));
    // Corrupt: each fails after its folders were made; the one beside a good entry leaves that one saved.
    for (const bad of [hashes[1]!, hashes[4]!]) await storage.put(new KeyLayout().content('beta' as never, bad), Buffer.from('not what was stored\n'));
    const result = await call<BulkOutcome>('saveEntries', { namespace: 'beta', selection: { hashes } });
    expect(result).toMatchObject({ ok: true, value: { done: 2, failed: 4 } });
    expect(open).toEqual(new Set());
    const failures = (result as { value: BulkOutcome }).value.failures;
    expect(failures).toEqual(expect.arrayContaining([hashes[0]!, hashes[3]!].map((hash) => ({ hash, error: { code: 'conflict', message: expect.stringContaining('not a folder') } }))));
    expect(failures).toEqual(expect.arrayContaining([expect.objectContaining({ hash: hashes[1]!, error: expect.objectContaining({ code: 'corrupt' }) })]));
    expect(readdirSync(outside)).toEqual([]);
    expect(readdirSync(saveDir).sort()).toEqual(['kept', 'linked', 'plain', 'shared']);
    expect(readdirSync(path.join(saveDir, 'shared'))).toEqual(['good.txt']);
    expect(readFileSync(path.join(saveDir, 'plain'), 'utf8')).toBe('a file of the operator');
    expect(readFileSync(path.join(saveDir, 'kept/c.txt'), 'utf8')).toBe('kept/c.txt');
  });

  it('where main has no folder dialog (the bridge), it says to download instead and writes nothing', async () => {
    const { call, alpha } = await setup({ folder: false });
    expect(await call('saveEntries', { namespace: 'alpha', selection: { hashes: [alpha[0]!.hash] } })).toMatchObject({ ok: false, error: { code: 'invalid_input', message: expect.stringContaining('download') } });
  });
});

describe('the bridge: GET /api/entries-archive', () => {
  async function bridged() {
    const s = await setup({ folder: false });
    const staticDir = mkdtempSync(path.join(dir, 'static-'));
    const bridge = await startBridge({ session: s.session, dispatch: s.dispatch, staticDir });
    bridges.push(bridge);
    const get = (query: Record<string, string>) => fetch(`http://127.0.0.1:${bridge.port}/api/entries-archive?${new URLSearchParams(query)}`, { headers: { 'x-cache-admin-token': bridge.token } });
    return { ...s, get, bridge };
  }

  const members = async (res: Response) => tarMembers(Buffer.from(await res.arrayBuffer())); // rejects when the connection is cut

  it('streams the selection as one tar, expired entries left out and named in its summary', async () => {
    const { get, call, alpha } = await bridged();
    await call('setPolicy', { namespace: 'beta', ttl: '30d' });
    const res = await get({ namespace: 'alpha', selection: JSON.stringify({ hashes: [alpha[5]!.hash, alpha[6]!.hash] }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-tar');
    const bytes = Buffer.from(await res.arrayBuffer());
    const files = await tarMembers(bytes);
    expect(Object.keys(files).sort()).toEqual(['cache-admin-summary.json', 'entry-5.txt', 'entry-6.txt']);
    expect(files['entry-5.txt']).toBe('fixture entry 5 of alpha\n');
    // Extracted, each file is dated when its entry was stored (tar keeps whole seconds).
    const dated = (await tarEntries(bytes)).filter((e) => e.header.name.startsWith('entry-'));
    expect(dated.map((e) => e.header.mtime?.toISOString())).toEqual([alpha[5]!.stored_at, alpha[6]!.stored_at].map((t) => new Date(Math.floor(Date.parse(t) / 1000) * 1000).toISOString()));
    // An entry named like the summary keeps its own member: the summary's name is never taken.
    const named = await call<{ hash: string }>('storeBytes', { namespace: 'alpha', name: 'cache-admin-summary.json', base64: Buffer.from('{"mine":1}').toString('base64') });
    if (!named.ok) throw new Error(named.error.message);
    const both = await members(await get({ namespace: 'alpha', selection: JSON.stringify({ hashes: [named.value.hash] }) }));
    expect(both[`cache-admin-summary-${named.value.hash}.json`]).toBe('{"mine":1}');
    expect(JSON.parse(both['cache-admin-summary.json']!)).toMatchObject({ done: 1 });
    const expired = await members(await get({ namespace: 'beta', selection: JSON.stringify({ filter: {}, except: [], count: 3 }) }));
    expect(Object.keys(expired)).toEqual(['cache-admin-summary.json']);
    // A Ctrl+A selection the list no longer matches is refused before the download starts, with the reason.
    const stale = await get({ namespace: 'beta', selection: JSON.stringify({ filter: {}, except: [], count: 2 }) });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'conflict', message: expect.stringContaining('the list changed since the selection was made') });
    expect(JSON.parse(expired['cache-admin-summary.json']!)).toMatchObject({ done: 0, skippedExpired: 3 });
  });

  it('entries whose names clash, even with the name a clash gives, each keep a member of their own: nothing is overwritten when it is extracted', async () => {
    const { get, call } = await bridged();
    const store = async (name: string, text: string) => {
      const stored = await call<{ hash: string }>('storeBytes', { namespace: 'clash', name, base64: Buffer.from(text).toString('base64') });
      if (!stored.ok) throw new Error(stored.error.message);
      return stored.value.hash;
    };
    const hashes = [await store('report.txt', 'first\n'), await store('report.txt', 'second\n')];
    // Members go in hash order: the later of the two clashes, and the names its clash could take are already taken by then.
    const later = hashes.sort()[1]!;
    const sooner = (text: string) => [...Array(64).keys()].map((n) => `${text} ${n}\n`).find((t) => createHash('sha256').update(t).digest('hex').slice(0, 16) < later)!;
    for (const name of [`${later}-report.txt`, `report-${later}.txt`]) hashes.push(await store(name, sooner(name)));
    const files = await members(await get({ namespace: 'clash', selection: JSON.stringify({ hashes }) }));
    expect(Object.keys(files)).toHaveLength(5);
    expect(Object.values(files).filter((text) => !text.startsWith('{')).sort()).toEqual([sooner(`${later}-report.txt`), sooner(`report-${later}.txt`), 'first\n', 'second\n'].sort());
    expect(JSON.parse(files['cache-admin-summary.json']!)).toMatchObject({ done: 4 });
  });

  it('an entry stored under folders (a folder drop) keeps them in the archive, with nothing that climbs out of it', async () => {
    const { get, storeTexts } = await bridged();
    const hashes = await storeTexts('tree', [['photos/2024/a.txt', 'deep\n'], ['photos/b.txt', 'shallow\n'], ['../../etc/x.txt', 'climber\n'], ['/abs/./y.txt', 'rooted\n']]);
    const files = await members(await get({ namespace: 'tree', selection: JSON.stringify({ hashes }) }));
    expect(files).toMatchObject({ 'photos/2024/a.txt': 'deep\n', 'photos/b.txt': 'shallow\n', 'etc/x.txt': 'climber\n', 'abs/y.txt': 'rooted\n' });
  });

  it('names that differ only in case or Unicode form get members of their own names: a case-insensitive disk keeps every file when it is extracted', async () => {
    const { get, call } = await bridged();
    const hashes: string[] = [];
    for (const [name, text] of [['Report.txt', 'upper\n'], ['report.txt', 'lower\n'], ['caf\u00e9.txt', 'composed\n'], ['cafe\u0301.txt', 'decomposed\n']]) {
      const stored = await call<{ hash: string }>('storeBytes', { namespace: 'cases', name, base64: Buffer.from(text!).toString('base64') });
      if (!stored.ok) throw new Error(stored.error.message);
      hashes.push(stored.value.hash);
    }
    const files = await members(await get({ namespace: 'cases', selection: JSON.stringify({ hashes }) }));
    const folded = Object.keys(files).map((name) => name.normalize('NFC').toLowerCase());
    expect(new Set(folded).size).toBe(5);
    expect(Object.values(files).filter((text) => !text.startsWith('{')).sort()).toEqual(['composed\n', 'decomposed\n', 'lower\n', 'upper\n']);
  });

  it('a file never shares its name with a folder of another member, in either order or case: every file extracts, under the name the summary gives', async () => {
    const { get, storeTexts } = await bridged();
    const cacheHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);
    // Members go in hash order: `text`, numbered if need be, so that it comes after the entry of `hash`.
    const after = (text: string, hash: string) => [...Array(256).keys()].map((n) => `${text} ${n}\n`).find((t) => cacheHash(t) > hash)!;
    const texts: [string, string][] = [['a', 'file named a\n']];
    // The file first, then members under a folder of its name; a folder first, then a file of its name (in another case).
    texts.push(['a/b', after('file b in folder a', cacheHash(texts[0]![1]))], ['a/c', after('file c in folder a', cacheHash(texts[0]![1]))]);
    texts.push(['c/d', 'file d in folder c\n']);
    texts.push(['C', after('file named C', cacheHash(texts[3]![1]))]);
    const hashes = await storeTexts('arch', texts);
    const res = await get({ namespace: 'arch', selection: JSON.stringify({ hashes }) });
    const members = await tarEntries(Buffer.from(await res.arrayBuffer()));
    // Extracted as a case-insensitive disk would: a member whose path a file or a folder already holds fails.
    const out = mkdtempSync(path.join(dir, 'extracted-'));
    const onDisk = (name: string) => path.join(out, name.toLowerCase());
    for (const { header, text } of members) {
      mkdirSync(path.dirname(onDisk(header.name)), { recursive: true });
      writeFileSync(onDisk(header.name), text, { flag: 'wx' });
    }
    const summary = JSON.parse(readFileSync(onDisk('cache-admin-summary.json'), 'utf8')) as BulkOutcome & { renamed: { hash: string; name: string; member: string }[] };
    expect(summary).toMatchObject({ done: 5, failed: 0 });
    // The entries of folder a/ stay together, in a folder named as a clashing file would be.
    const moved = summary.renamed.find((r) => r.name === 'a/b')!.member.split('/')[0];
    expect([`a-${hashes[1]}`, `a-${hashes[2]}`]).toContain(moved);
    expect(summary.renamed).toHaveLength(3);
    expect(summary.renamed).toEqual(expect.arrayContaining([
      { hash: hashes[1], name: 'a/b', member: `${moved}/b` },
      { hash: hashes[2], name: 'a/c', member: `${moved}/c` },
      { hash: hashes[4], name: 'C', member: `C-${hashes[4]}` },
    ]));
    texts.forEach(([name, text], i) => {
      const member = summary.renamed.find((r) => r.hash === hashes[i])?.member ?? name;
      expect(readFileSync(onDisk(member), 'utf8')).toBe(text);
    });
  });

  it('a file uploaded through the bridge is in the next window: the upload, not only the dispatcher, says the namespace changed', async () => {
    const { window, bridge } = await bridged();
    expect((await window({ namespace: 'beta' })).knownTotal).toBe(3);
    const query = new URLSearchParams({ op: 'store', namespace: 'beta', name: 'up.json', transferId: 'up1' });
    const res = await fetch(`http://127.0.0.1:${bridge.port}/api/upload?${query}`, { method: 'POST', headers: { 'x-cache-admin-token': bridge.token }, body: '{"up":1}' });
    expect(((await res.json()) as { ok: boolean }).ok).toBe(true);
    expect((await window({ namespace: 'beta', filter: { name: 'up.json' } })).rows.map((r) => r.source)).toEqual(['up.json']);
  });

  it('corrupt content is left out and named in the summary, the rest downloads; corrupt content over 16 MiB cuts the download; a bad selection is a 400', async () => {
    const { get, storage, alpha, bridge } = await bridged();
    await storage.put(new KeyLayout().content(alpha[7]!.namespace, alpha[7]!.hash), Buffer.from('tampered bytes that do not match\n'));
    const files = await members(await get({ namespace: 'alpha', selection: JSON.stringify({ hashes: [alpha[6]!.hash, alpha[7]!.hash, alpha[8]!.hash] }) }));
    expect(Object.keys(files).sort()).toEqual(['cache-admin-summary.json', 'entry-6.txt', 'entry-8.txt']);
    expect(JSON.parse(files['cache-admin-summary.json']!)).toMatchObject({ done: 2, failed: 1, failures: [{ hash: alpha[7]!.hash, error: { code: 'corrupt' } }] });

    const big = Buffer.alloc((16 << 20) + 1, 1);
    // Uploaded through the bridge, so the namespace's table knows it.
    const upload = new URLSearchParams({ op: 'store', namespace: 'alpha', name: 'big.bin', transferId: 'big' });
    const uploaded = await fetch(`http://127.0.0.1:${bridge.port}/api/upload?${upload}`, { method: 'POST', headers: { 'x-cache-admin-token': bridge.token }, body: big });
    const { hash } = ((await uploaded.json()) as { value: { hash: CacheHash } }).value;
    big[0] = 2;
    await storage.put(new KeyLayout().content('alpha' as never, hash), big);
    const res = await get({ namespace: 'alpha', selection: JSON.stringify({ hashes: [hash] }) });
    await expect(members(res)).rejects.toThrow();
    expect((await get({ namespace: 'alpha', selection: '{"hashes":"nope"}' })).status).toBe(400);
    expect((await get({ namespace: 'alpha', selection: 'not json' })).status).toBe(400);
  });
});
