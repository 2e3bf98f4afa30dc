/** The same format-level checks, passed by every layout: what the CLI, IPC and UI will rely on. */
import { describe, expect, it } from 'vitest';
import { CacheService } from '../cache-service';
import { MemoryStorage } from '../storage/memory';
import { detectFormat } from './detect';
import { collect, type StoreFormat } from './format';
import { MgraphFormat } from './mgraph/mgraph-format';
import { NativeFormat } from './native/native-format';

const layouts: [string, () => StoreFormat][] = [
  ['native', () => new NativeFormat(new CacheService(new MemoryStorage()))],
  ['mgraph', () => new MgraphFormat(new MemoryStorage())],
];
const text = (t: string) => ({ kind: 'bytes' as const, bytes: new TextEncoder().encode(t) });

it('native: a delete that names a store time never takes a later store that took the same version number (a prune racing a delete and a store)', async () => {
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const storage = new MemoryStorage();
  const format = new NativeFormat(new CacheService(storage, { now: () => new Date(clock) }));
  const old = await format.store('docs', { source: text('reused') });
  const oldAt = (await format.record('docs', { cacheId: old.cache_id })).stored_at;
  await format.delete('docs', { hash: old.hash });
  clock += 86_400_000;
  // Another process, which finds no version left, takes the number again.
  const again = await new NativeFormat(new CacheService(storage, { now: () => new Date(clock) })).store('docs', { source: text('reused') });
  expect(again.cache_id).toBe(old.cache_id);
  await expect(format.delete('docs', { hash: old.hash, version: 1, storedAt: oldAt })).rejects.toMatchObject({ code: 'not_found' });
  expect((await format.versions('docs', old.hash)).map((v) => v.stored_at)).toEqual([new Date(clock).toISOString()]);
  expect(await format.delete('docs', { hash: old.hash, version: 1, storedAt: new Date(clock).toISOString() })).toMatchObject({ contentRemoved: true });
});

describe.each(layouts)('the %s format', (name, make) => {
  it('verify counts each key once (it counted each entry once more), and its progress ends at that number', async () => {
    const format = make();
    for (let i = 0; i < 7; i++) await format.store('docs', { source: text(`k${i % 3}`) });
    await format.storage.put('docs/stray.txt', new TextEncoder().encode('not of the layout'));
    const keys = (await format.storage.list('docs/')).objects.length;
    const seen: { listed: number; checked: number }[] = [];
    const report = await format.verify({ orphanGraceMs: 0, onProgress: ({ listed, checked }) => seen.push({ listed, checked }) });
    expect(report.problems.map((p) => [p.kind, p.key])).toEqual([['misplaced', 'docs/stray.txt']]);
    expect(report.checked).toBe(keys);
    expect(seen[seen.length - 1]).toEqual({ listed: keys, checked: keys });
    expect(seen.filter((p) => p.checked > p.listed)).toEqual([]);
    expect((await format.verify({ orphanGraceMs: 0, sample: 1 })).checked).toBe(keys);
  });

  it('stores, finds by hash and by cache id, versions oldest first, deletes back, verifies clean, and is detected', async () => {
    const format = make();
    expect(await detectFormat(format.storage)).toMatchObject({ format: 'native' }); // empty: native unless told
    const first = await format.store('docs', { source: text('same bytes') });
    const second = await format.store('docs', { source: text('same bytes') });
    expect([second.hash, second.version, second.deduplicated]).toEqual([first.hash, 2, true]);
    expect((await detectFormat(format.storage)).format).toBe(name);

    expect((await format.versions('docs', first.hash)).map((v) => [v.version, v.cache_id])).toEqual([
      [1, first.cache_id],
      [2, second.cache_id],
    ]);
    for (const typed of [first.hash, first.cache_id, first.keys[0]!]) {
      const lookup = await format.parseLookup('docs', typed);
      const { record, content } = await format.retrieve('docs', lookup);
      expect(record.hash).toBe(first.hash);
      expect((await collect(content)).toString()).toBe('same bytes');
    }
    expect(await format.record('docs', { cacheId: first.cache_id })).toMatchObject({ version: 1, latest_version: 2, format: name });
    expect(await format.namespaces()).toEqual([{ name: 'docs', entries: 1, versions: 2, bytes: expect.any(Number) }]);
    expect((await format.entryRows('docs')).map((e) => e.hash)).toEqual([first.hash]);
    expect((await format.describeKey(first.keys[0]!)).kind).toBe('content');
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);

    expect(await format.delete('docs', { cacheId: second.cache_id })).toMatchObject({ deleted: [second.cache_id], contentRemoved: false });
    expect((await format.record('docs', { hash: first.hash })).cache_id).toBe(first.cache_id);
    expect(await format.delete('docs', { hash: first.hash })).toMatchObject({ deleted: [first.cache_id], contentRemoved: true });
    await expect(format.record('docs', { hash: first.hash })).rejects.toMatchObject({ code: 'not_found' });
    await expect(format.parseLookup('docs', 'not a hash')).rejects.toMatchObject({ code: 'invalid_hash' });
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it("a storage key is looked up only in its own namespace, never as the same hash in another (a delete by it removed that namespace's entry)", async () => {
    const format = make();
    const mine = await format.store('docs', { source: text('same bytes') });
    const theirs = await format.store('archive', { source: text('same bytes') });
    for (const key of theirs.keys) {
      await expect(format.parseLookup('docs', key)).rejects.toMatchObject({ code: 'not_found', message: expect.stringContaining('is a key of namespace "archive", not of "docs"') });
      expect((await format.record('archive', await format.parseLookup('archive', key))).hash).toBe(theirs.hash);
    }
    expect((await format.record('docs', await format.parseLookup('docs', mine.keys[0]!))).cache_id).toBe(mine.cache_id);
  });
});

it('native: a delete by the latest view takes the version it is, and by a temporal key only the version stored at its time (it took every version, or a version stored at another time)', async () => {
  const native = layouts[0]![1]();
  const stored = [];
  for (let i = 0; i < 3; i++) stored.push(await native.store('docs', { source: text('three times') }));
  const { hash } = stored[0]!;
  const latestKey = stored[2]!.keys.find((k) => k.endsWith('.latest.json'))!;
  expect(await native.delete('docs', await native.parseLookup('docs', latestKey))).toMatchObject({ deleted: [`${hash}-v3`], contentRemoved: false });
  const temporal = stored[0]!.keys.find((k) => k.includes('/temporal/'))!;
  const madeUp = temporal.replace(/\/\d{8}T\d{9}Z~/, '/19990101T000000000Z~');
  await expect(native.delete('docs', await native.parseLookup('docs', madeUp))).rejects.toMatchObject({ code: 'not_found' });
  expect((await native.versions('docs', hash)).map((v) => v.version)).toEqual([1, 2]);
  expect(await native.delete('docs', await native.parseLookup('docs', temporal))).toMatchObject({ deleted: [`${hash}-v1`] });
  expect((await native.versions('docs', hash)).map((v) => v.version)).toEqual([2]);
  // An index entry names its time as well: one of a version deleted since takes no later version of that number.
  const entryKey = stored[1]!.keys.find((k) => k.includes('~00000002~'))!;
  await native.delete('docs', { hash, version: 2 });
  const another = new NativeFormat(new CacheService(native.storage)); // another process: the numbers are free again
  expect((await another.store('docs', { source: text('three times') })).version).toBe(1);
  expect((await another.store('docs', { source: text('three times') })).version).toBe(2);
  await expect(native.delete('docs', await native.parseLookup('docs', entryKey))).rejects.toMatchObject({ code: 'not_found' });
  expect((await native.versions('docs', hash)).map((v) => v.version)).toEqual([1, 2]);
});

it('native: JSON stored as bytes is not said to be stored as JSON: the record keeps its bytes either way (both said "stored as JSON", whose hash only one has)', async () => {
  const native = layouts[0]![1]();
  const raw = await native.store('docs', { source: text('{"b": 1, "a": 2}'), name: 'report.json' });
  const sorted = await native.store('docs', { source: text('{"b": 1, "a": 2}'), name: 'report.json', as: 'json' });
  expect(raw.hash).not.toBe(sorted.hash);
  for (const stored of [raw, sorted]) expect(await native.record('docs', { hash: stored.hash })).toMatchObject({ content_type: 'application/json', data_type: 'binary' });
});

it("native: an object key in another hash's shard folders is no entry's key (it was taken as the hash's)", async () => {
  const native = layouts[0]![1]();
  const stored = await native.store('docs', { source: text('same bytes') });
  const misfiled = stored.keys[0]!.replace(/\/objects\/[0-9a-f]{2}\/[0-9a-f]{2}\//, '/objects/00/00/');
  expect(misfiled).not.toBe(stored.keys[0]);
  await expect(native.parseLookup('docs', misfiled)).rejects.toMatchObject({ code: 'invalid_key' });
});

it('native: an entry whose latest pointer is gone (a crash before it was written) or damaged is still found by hash and by cache id, as its newest record', async () => {
  const cache = new CacheService(new MemoryStorage());
  const format = new NativeFormat(cache);
  const first = await format.store('docs', { source: text('pointer lost') });
  const second = await format.store('docs', { source: text('pointer lost') });
  const latest = cache.layout.latest('docs' as never, first.hash as never);
  await cache.storage.put(latest, new TextEncoder().encode('{"damaged": '));
  expect(await format.record('docs', { cacheId: first.cache_id })).toMatchObject({ version: 1, latest_version: 2 }); // a damaged pointer, passed over
  await cache.storage.delete(latest);
  expect(await format.record('docs', { hash: first.hash })).toMatchObject({ cache_id: second.cache_id, version: 2, latest_version: 2 });
  expect(await format.record('docs', { cacheId: first.cache_id })).toMatchObject({ version: 1, latest_version: 2 });
  expect(new TextDecoder().decode(await collect((await format.retrieve('docs', { hash: first.hash })).content))).toBe('pointer lost');
  await expect(format.record('docs', { hash: '0123456789abcdef' })).rejects.toMatchObject({ code: 'not_found' });
});

it('native: with the latest pointer and the newest record both lost, a new store takes the next number the index has not used (it reused the lost one)', async () => {
  const cache = new CacheService(new MemoryStorage());
  const format = new NativeFormat(cache);
  for (let i = 0; i < 3; i++) await format.store('docs', { source: text('numbers') });
  const { hash } = await format.store('docs', { source: text('numbers') });
  await cache.storage.delete(cache.layout.latest('docs' as never, hash as never));
  await cache.storage.delete(cache.layout.record('docs' as never, hash as never, 4));
  const another = new NativeFormat(new CacheService(cache.storage)); // another process: it knows no number it took
  expect((await another.store('docs', { source: text('numbers') })).version).toBe(5);
  expect((await format.versions('docs', hash)).map((v) => v.version)).toEqual([1, 2, 3, 4, 5]);
});

it('native: an older version still opens when the newest record is damaged (on disk the latest view is the same file, so both are); the hash lookup says which record is', async () => {
  const cache = new CacheService(new MemoryStorage());
  const format = new NativeFormat(cache);
  const first = await format.store('docs', { source: text('kept twice') });
  await format.store('docs', { source: text('kept twice') });
  for (const key of [cache.layout.latest('docs' as never, first.hash as never), cache.layout.record('docs' as never, first.hash as never, 2)]) await cache.storage.put(key, new TextEncoder().encode('{bad'));
  expect(await format.record('docs', { cacheId: first.cache_id })).toMatchObject({ version: 1, latest_version: 2 });
  expect(new TextDecoder().decode(await collect((await format.retrieve('docs', { cacheId: first.cache_id })).content))).toBe('kept twice');
  await expect(format.record('docs', { hash: first.hash })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringContaining('.v00000002.json is damaged') });
  expect((await format.versions('docs', first.hash)).map((v) => v.version)).toEqual([1, 2]);
});

it('a lookup it cannot take says every form it takes, and what to type instead: a folder key, a full SHA-256 where only the cache hash is kept', async () => {
  const native = new NativeFormat(new CacheService(new MemoryStorage()));
  await expect(native.parseLookup('docs', 'xyz')).rejects.toMatchObject({ code: 'invalid_hash', message: expect.stringContaining('or the storage key of an entry (<namespace>/…)') });
  await expect(native.parseLookup('docs', 'docs/objects/')).rejects.toMatchObject({ code: 'invalid_key', message: expect.stringContaining('is not the storage key of an entry') });
  await expect(native.parseLookup('docs', 'ab12cd34ef567890-v0')).rejects.toMatchObject({ code: 'invalid_cache_id' });
  const sha256 = 'ab12cd34ef567890'.padEnd(64, '0');
  expect(await native.parseLookup('docs', sha256)).toEqual({ hash: 'ab12cd34ef567890', sha256 });
  const service = new MgraphFormat(new MemoryStorage());
  await expect(service.parseLookup('docs', sha256.toUpperCase())).rejects.toMatchObject({ code: 'invalid_hash', message: expect.stringContaining('look up its first 16 characters, ab12cd34ef567890') });
});

it('native: a full SHA-256 whose first 16 characters are an entry there with other bytes says so (it said only "not in namespace")', async () => {
  const cache = new CacheService(new MemoryStorage());
  const native = new NativeFormat(cache);
  const stored = await native.store('docs', { source: text('the real bytes') });
  const { sha256 } = await cache.record('docs', { hash: stored.hash as never });
  const other = `${stored.hash}${'0'.repeat(48)}`;
  expect(other).not.toBe(sha256);
  await expect(native.record('docs', await native.parseLookup('docs', other))).rejects.toMatchObject({
    code: 'not_found',
    message: `${other} is not in namespace docs (${stored.hash} is there, with another SHA-256: ${sha256})`,
  });
});
