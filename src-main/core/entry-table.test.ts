/** The entries browser's table, on both layouts, in memory and on a local folder. */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CacheService } from './cache-service';
import { EntryTables, type EntryQuery } from './entry-table';
import type { StoreFormat } from './formats/format';
import { MgraphFormat } from './formats/mgraph/mgraph-format';
import { NativeFormat } from './formats/native/native-format';
import { LocalFolderStorage } from './storage/local';
import { MemoryStorage } from './storage/memory';
import { populateNamespace } from '../test-support/fixture-store';
import { populateServiceNamespace } from '../test-support/service-fixture-store';
import { MAX_LIST_PAGE, type StorageBackend } from './storage/types';

const text = (t: string) => ({ kind: 'bytes' as const, bytes: new TextEncoder().encode(t) });
const query: EntryQuery & { offset: number; limit: number } = { sort: 'hash', descending: false, filter: {}, offset: 0, limit: 100 };

const backends: [string, () => Promise<StorageBackend>][] = [
  ['memory', async () => new MemoryStorage()],
  ['a local folder', async () => LocalFolderStorage.open(await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-table-')))],
];

/** A clock the test moves: each store is a day after the one before. */
function days() {
  let t = Date.parse('2026-01-01T00:00:00Z');
  return { now: () => new Date((t += 86_400_000)) };
}

describe.each(backends)('on %s', (_where, open) => {
  describe('the native layout', () => {
    async function stocked() {
      const format = new NativeFormat(new CacheService(await open(), days()));
      const photo = await format.store('docs', { source: text('a picture, say'), name: 'holiday.PNG' });
      await format.store('docs', { source: text('a picture, say'), name: 'holiday-again.png' }); // v2 of the same bytes
      const notes = await format.store('docs', { source: text('some notes that are longer'), name: 'notes.txt' });
      const blob = await format.store('docs', { source: text('x'), name: 'noextension' });
      return { format, tables: new EntryTables(format), photo, notes, blob };
    }

    it('has one row per hash with its versions, and the latest version’s time, size, source and type, from key names only', async () => {
      const { format, tables, photo, notes, blob } = await stocked();
      let reads = 0;
      const get = format.storage.get.bind(format.storage);
      format.storage.get = (key) => (reads++, get(key));
      const { rows, total, knownTotal, types } = await tables.window('docs', { ...query, sort: 'storedAt' });
      expect(reads).toBe(0);
      expect([total, knownTotal]).toEqual([3, 3]);
      expect(rows).toEqual([
        { hash: photo.hash, versions: 2, version: 2, storedAt: '2026-01-03T00:00:00.000Z', size: 14, source: 'holiday-again.png', type: 'image/png' },
        { hash: notes.hash, versions: 1, version: 1, storedAt: '2026-01-04T00:00:00.000Z', size: 26, source: 'notes.txt', type: 'text/plain' },
        { hash: blob.hash, versions: 1, version: 1, storedAt: '2026-01-05T00:00:00.000Z', size: 1, source: 'noextension', type: null },
      ]);
      expect(types).toEqual(['image/png', 'text/plain']);
    });

    it('sorts by any column either way, unknown values last, and filters by name, type, size and store time', async () => {
      const { tables, photo, notes, blob } = await stocked();
      const hashes = async (q: Partial<typeof query> & Record<string, unknown>) => (await tables.window('docs', { ...query, ...q })).rows.map((r) => r.hash);
      expect(await hashes({ sort: 'size', descending: true })).toEqual([notes.hash, photo.hash, blob.hash]);
      expect(await hashes({ sort: 'source' })).toEqual([photo.hash, blob.hash, notes.hash]);
      expect(await hashes({ sort: 'type', descending: true })).toEqual([notes.hash, photo.hash, blob.hash]); // no type: last either way
      expect(await hashes({ sort: 'type' })).toEqual([photo.hash, notes.hash, blob.hash]);
      expect(await hashes({ filter: { name: 'HOLIDAY' } })).toEqual([photo.hash]);
      expect(await hashes({ filter: { name: notes.hash.slice(0, 6) } })).toEqual([notes.hash]);
      expect(await hashes({ filter: { type: 'image' } })).toEqual([photo.hash]);
      expect(await hashes({ filter: { type: 'text/plain' } })).toEqual([notes.hash]);
      // Any part of it, in any case: "json" finds application/json as "image" finds image/png.
      expect(await hashes({ filter: { type: 'PNG' } })).toEqual([photo.hash]);
      expect(await hashes({ filter: { type: 'plain' } })).toEqual([notes.hash]);
      expect(await hashes({ sort: 'size', filter: { minSize: 2, maxSize: 20 } })).toEqual([photo.hash]);
      expect(await hashes({ sort: 'storedAt', filter: { storedFrom: '2026-01-04T00:00:00Z', storedTo: '2026-01-05T00:00:00Z' } })).toEqual([notes.hash, blob.hash]);
    });

    it('a name too long for its key keeps its extension where it is cut: the row has its type, and a filter by it finds it', async () => {
      const { format, tables } = await stocked();
      const name = `отчёты/квартал/${'Годовой отчёт о работе '.repeat(4)}.pdf`;
      const report = await format.store('docs', { source: text('a long report'), name });
      const [row] = (await tables.window('docs', { ...query, filter: { name: 'pdf' } })).rows;
      expect(row).toMatchObject({ hash: report.hash, type: 'application/pdf', source: expect.stringMatching(/^отчёты\/квартал\/Годов.*….pdf$/) });
      expect((await format.record('docs', { hash: report.hash })).source).toBe(name); // the record has it whole
    });

    it('keeps the table until the app says the namespace changed, then lists it again', async () => {
      const { format, tables } = await stocked();
      expect((await tables.window('docs', query)).knownTotal).toBe(3);
      const added = await format.store('docs', { source: text('new'), name: 'new.json' });
      expect((await tables.window('docs', query)).knownTotal).toBe(3); // cached: one listing serves every window
      tables.changed('docs');
      // Listed again once the pacing allows (3 times the last listing's length: moments here).
      const json = async () => tables.window('docs', { ...query, filter: { type: 'application/json' } });
      await expect.poll(async () => (await json()).rows.map((r) => r.hash)).toEqual([added.hash]);
      expect((await json()).knownTotal).toBe(4);
      await format.delete('docs', { hash: added.hash });
      tables.changed();
      await expect.poll(async () => (await tables.window('docs', query)).knownTotal).toBe(3);
    });

    it('the sorted listing gives the same rows in hash order a page at a time, a hash split across pages included', async () => {
      const { format } = await stocked();
      const { storage } = format;
      const [list, listKeys] = [storage.list.bind(storage), storage.listKeys?.bind(storage)];
      storage.list = (prefix, options) => list(prefix, { ...options, limit: 3 });
      if (listKeys) storage.listKeys = (prefix, options) => listKeys(prefix, { ...options, limit: 3 });
      const pages = [];
      for await (const page of format.sortedEntryRows('docs')) pages.push(page);
      expect(pages.length).toBeGreaterThan(2);
      expect(pages.flat()).toEqual((await format.entryRows('docs')).sort((a, b) => (a.hash < b.hash ? -1 : 1)));
    });

    it('an entry whose content was lost stays a row, marked, in both listings and in the counts', async () => {
      const { format, notes } = await stocked();
      await format.storage.delete(notes.keys[0]!); // the content key, as if removed by hand
      const rows = await format.entryRows('docs');
      expect(rows.find((r) => r.hash === notes.hash)).toMatchObject({ versions: 1, size: 26, source: 'notes.txt', contentMissing: true });
      expect(rows.filter((r) => r.contentMissing)).toHaveLength(1);
      const { storage } = format;
      const [list, listKeys] = [storage.list.bind(storage), storage.listKeys?.bind(storage)];
      storage.list = (prefix, options) => list(prefix, { ...options, limit: 2 });
      if (listKeys) storage.listKeys = (prefix, options) => listKeys(prefix, { ...options, limit: 2 });
      const sorted = [];
      for await (const page of format.sortedEntryRows('docs')) sorted.push(...page);
      expect(sorted).toEqual(rows.sort((a, b) => (a.hash < b.hash ? -1 : 1)));
      expect(await format.namespaces()).toMatchObject([{ name: 'docs', entries: 3, versions: 4 }]);
    });

    it('a selection resolves to the rows still there: some hashes, or all the filter shows but those excepted', async () => {
      const { tables, photo, notes, blob } = await stocked();
      expect((await tables.selected('docs', { hashes: [photo.hash.toUpperCase(), 'ffffffffffffffff'] })).rows.map((r) => r.hash)).toEqual([photo.hash]);
      const all = await tables.selected('docs', { filter: { name: '' }, except: [notes.hash], count: 2 });
      expect(all.rows.map((r) => r.hash).sort()).toEqual([photo.hash, blob.hash].sort());
      // The operator saw 1 selected; the filter picks 2 now (stored meanwhile): nothing is acted on.
      await expect(tables.selected('docs', { filter: { name: '' }, except: [notes.hash], count: 1 })).rejects.toMatchObject({
        code: 'conflict',
        message: 'the list changed since the selection was made: 2 entries match it now, 1 was selected; nothing was done (select again)',
      });
    });
  });

  it('the service layout: a row per by-hash ref, with its time and nothing read (versions, size and source unknown)', async () => {
    const format: StoreFormat = new MgraphFormat(await open());
    const a = await format.store('Docs', { source: text('{"a":1}'), as: 'json' });
    const b = await format.store('Docs', { source: text('plain'), as: 'string' });
    const tables = new EntryTables(format);
    let reads = 0;
    const get = format.storage.get.bind(format.storage);
    format.storage.get = (key) => (reads++, get(key));
    const { rows, knownTotal } = await tables.window('Docs', query);
    expect(reads).toBe(0);
    expect(knownTotal).toBe(2);
    expect(rows.map((r) => r.hash)).toEqual([a.hash, b.hash].sort());
    for (const row of rows) expect(row).toMatchObject({ versions: null, size: null, source: '', type: null, storedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
  });
});

it('locating a hash moves the window to its row, anywhere in a long list', async () => {
  const format = new NativeFormat(new CacheService(new MemoryStorage()));
  const stored = [];
  for (let i = 0; i < 300; i++) stored.push(await format.store('big', { source: text(`entry ${i}`), name: `e${i}.txt` }));
  const tables = new EntryTables(format);
  await expect.poll(async () => (await tables.window('big', query)).listing).toBeUndefined(); // a row not listed yet is not located
  const last = [...stored].sort((x, y) => (x.hash < y.hash ? -1 : 1))[299]!;
  const found = await tables.window('big', { ...query, limit: 50, locate: last.hash });
  expect(found.located).toBe(299);
  expect(found.rows.map((r) => r.hash)).toContain(last.hash);
  expect(found.offset + found.rows.length).toBe(300);
  const missing = await tables.window('big', { ...query, limit: 50, locate: 'ffffffffffffffff' });
  expect([missing.located, missing.offset]).toEqual([null, 0]);
  expect((await tables.window('big', { ...query, offset: 10_000 })).offset).toBe(299); // past the end: the last row
});

describe('while a big namespace is still being listed', () => {
  /** 1,500 entries on a store that walks like a local folder, its walk held open until `open()` (a gate). */
  async function gated() {
    const storage: StorageBackend = new MemoryStorage();
    const stored = await populateNamespace(storage, 'big', 1500);
    const walks: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    storage.walkKeys = async (prefix, visit) => {
      walks.push(prefix);
      await gate;
      for (let cursor: string | undefined, page; ; cursor = page.cursor) {
        page = await storage.list(prefix, { cursor });
        visit(page.objects.map((o) => o.key));
        if (page.cursor === undefined) return;
      }
    };
    const format = new NativeFormat(new CacheService(storage));
    const sorted = stored.map((r) => r.hash).sort();
    return { format, tables: new EntryTables(format), walks, open, sorted };
  }
  /** Fails rather than waiting for the gate: the answer must not need the whole listing. */
  const soon = <T,>(answer: Promise<T>) => Promise.race([answer, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer before the listing ended')), 2000))]);

  it('answers the first windows in hash order at once, says the listing is under way, and shares one listing', async () => {
    const { tables, walks, open, sorted } = await gated();
    const first = await soon(tables.window('big', { ...query, limit: 200 }));
    expect(first.rows.map((r) => r.hash)).toEqual(sorted.slice(0, 200));
    expect(first.rows[0]).toMatchObject({ versions: 1, source: expect.stringMatching(/^entry-\d+\.txt$/), type: 'text/plain' });
    expect(first.listing).toEqual({ listed: first.total, waitsForAll: false });
    const second = await soon(tables.window('big', { ...query, offset: 200, limit: 200 })); // scrolling on reads the next page
    expect(second.rows.map((r) => r.hash)).toEqual(sorted.slice(200, 400));
    // Another order or a filter needs every row: progress, never a wrong order.
    const bySize = await soon(tables.window('big', { ...query, sort: 'size' }));
    expect([bySize.rows, bySize.listing?.waitsForAll]).toEqual([[], true]);
    expect((await soon(tables.window('big', { ...query, descending: true }))).rows).toEqual([]);
    expect(walks).toHaveLength(1);
    open();
    await expect.poll(async () => (await tables.window('big', query)).listing).toBeUndefined();
    const whole = await tables.window('big', { ...query, offset: 1400, limit: 200 });
    expect([whole.total, whole.knownTotal, whole.rows.map((r) => r.hash)]).toEqual([1500, 1500, sorted.slice(1400)]);
    expect(walks).toHaveLength(1);
  });

  it('a change during the listing is not lost: the namespace is listed again', async () => {
    const { format, tables, walks, open } = await gated();
    await soon(tables.window('big', query));
    const added = await format.store('big', { source: text('stored while listing'), name: 'late.txt' });
    tables.changed('big');
    open();
    await expect.poll(async () => (await tables.window('big', { ...query, filter: { name: 'late.txt' } })).rows.map((r) => r.hash)).toEqual([added.hash]);
    expect((await tables.window('big', query)).knownTotal).toBe(1501);
    // Stale, so listed again: once 3 times the first listing's length has passed since it ended.
    await expect.poll(async () => (await tables.window('big', query), walks.length), { timeout: 10_000 }).toBe(2);
  });
});

/** 1,500 entries on a store whose LIST pages take a moment each, as S3 answers; counts the pages. */
async function slowBucket() {
  const storage: StorageBackend = new MemoryStorage();
  await populateNamespace(storage, 'big', 1500);
  const counter = { pages: 0 };
  const list = storage.list.bind(storage);
  storage.list = async (prefix, options) => {
    counter.pages++;
    await new Promise((resolve) => setTimeout(resolve, 10));
    return list(prefix, options);
  };
  const format = new NativeFormat(new CacheService(storage));
  return { format, tables: new EntryTables(format), counter };
}

it('a change during a listing lets it end (its table shown as the previous listing), then lists once more', async () => {
  const { format, tables, counter } = await slowBucket();
  expect((await tables.window('big', query)).listing).toMatchObject({ waitsForAll: false }); // the full listing has started
  const bySize = tables.window('big', { ...query, sort: 'size' }); // waits for the whole table
  const added = await format.store('big', { source: text('stored while listing'), name: 'late.txt' });
  tables.changed('big');
  const atChange = counter.pages;
  const answered = await bySize;
  expect(answered.rows.length).toBeGreaterThan(0);
  expect(answered.listing).toEqual({ listed: answered.knownTotal, waitsForAll: false, previous: true }); // ask again
  let fresh = answered;
  await expect.poll(async () => (fresh = await tables.window('big', { ...query, sort: 'size' })).listing, { timeout: 10_000 }).toBeUndefined();
  expect(fresh.total).toBe(1501);
  expect(fresh.rows.map((r) => r.hash)).toContain(added.hash);
  // The first listing's rest and one more listing: no page read by a listing that was thrown away.
  const afterChange = counter.pages - atChange;
  const before = counter.pages;
  await format.entryRows('big');
  const onePass = counter.pages - before;
  expect(afterChange).toBeGreaterThanOrEqual(onePass);
  expect(afterChange).toBeLessThanOrEqual(2 * onePass);
});

it('a namespace a change made stale is listed again no sooner than 3 times its last listing took (the last listing is shown meanwhile)', async () => {
  const { format, tables, counter } = await slowBucket();
  const bySize = { ...query, sort: 'size' as const };
  const began = Date.now();
  await tables.window('big', bySize); // the whole table
  const took = Date.now() - began;
  const listedAt = Date.now();
  await format.store('big', { source: text('stored after the listing'), name: 'late.txt' });
  tables.changed('big');
  const pagesBefore = counter.pages;
  const relisted = async () => (await tables.window('big', bySize)).listing === undefined;
  expect(await relisted()).toBe(false); // the last listing, said to be stale
  expect(counter.pages).toBe(pagesBefore); // and no listing started yet
  await expect.poll(relisted, { timeout: 20_000, interval: 20 }).toBe(true);
  // A new listing began no sooner than 3 times the first one's length after it ended.
  expect(Date.now() - listedAt).toBeGreaterThanOrEqual(3 * took * 0.9);
  expect((await tables.window('big', bySize)).total).toBe(1501);
}, 30_000);

it('under a steady stream of changes a sorted view still fills, and catches up once they stop', async () => {
  const { format, tables } = await slowBucket();
  let stored = 0;
  let streaming = true;
  const stream = (async () => {
    while (streaming) {
      await format.store('big', { source: text(`change ${stored}`), name: `change-${stored}.txt` });
      stored++;
      tables.changed('big');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const shown: number[] = [];
  const deadline = Date.now() + 3_000;
  while (Date.now() < deadline) {
    shown.push((await tables.window('big', { ...query, sort: 'size' })).rows.length);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  streaming = false;
  await stream;
  expect(shown.some((n) => n > 0)).toBe(true); // rows on show while the changes went on
  let last = await tables.window('big', { ...query, sort: 'size' });
  await expect.poll(async () => (last = await tables.window('big', { ...query, sort: 'size' })).listing, { timeout: 10_000 }).toBeUndefined();
  expect(last.total).toBe(1500 + stored);
});

it('the service layout too: the first window in hash order while its refs are still listed', async () => {
  const storage: StorageBackend = new MemoryStorage();
  const hashes = (await populateServiceNamespace(storage, 'Big', 500)).sort();
  // The table's listing takes full pages; hold those until the gate opens.
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const list = storage.list.bind(storage);
  storage.list = async (prefix, options) => ((options?.limit ?? MAX_LIST_PAGE) === MAX_LIST_PAGE && prefix.includes('/refs/by-hash/') ? (await gate, list(prefix, options)) : list(prefix, options));
  const tables = new EntryTables(new MgraphFormat(storage));
  const first = await Promise.race([tables.window('Big', { ...query, limit: 100 }), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer before the listing ended')), 2000))]);
  expect(first.rows.map((r) => r.hash)).toEqual(hashes.slice(0, 100));
  expect(first.listing?.waitsForAll).toBe(false);
  open();
  await expect.poll(async () => (await tables.window('Big', query)).knownTotal).toBe(500);
});

it("a namespace's counts are one listing for every caller until the app changes it, or a few seconds pass", async () => {
  const format = new NativeFormat(new CacheService(new MemoryStorage()));
  await format.store('docs', { source: text('one'), name: 'a.txt' });
  const tables = new EntryTables(format);
  let walks = 0;
  const stats = format.stats.bind(format);
  format.stats = (namespace) => (walks++, stats(namespace));
  // Two windows following the same change, and a window's store with main's announcement of it.
  const [first, second] = await Promise.all([tables.stats('docs'), tables.stats('docs')]);
  expect(await tables.stats('docs')).toEqual(first);
  expect(second).toEqual(first);
  expect(walks).toBe(1);
  await format.store('docs', { source: text('two'), name: 'b.txt' });
  tables.changed('docs');
  expect(await tables.stats('docs')).toMatchObject({ entries: 2, versions: 2 });
  expect(walks).toBe(2);
  tables.changed(); // any namespace
  await tables.stats('docs');
  expect(walks).toBe(3);
  tables.changed('other');
  await tables.stats('docs'); // another namespace's change: still shared
  expect(walks).toBe(3);
  const later = Date.now() + 3_001; // another process's changes show after a few seconds
  const now = Date.now;
  Date.now = () => later;
  try {
    await tables.stats('docs');
  } finally {
    Date.now = now;
  }
  expect(walks).toBe(4);
});
