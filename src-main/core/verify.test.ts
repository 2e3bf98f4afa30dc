import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { cli } from '../test-support/cli-harness';
import { CacheError } from '../../src-shared/errors';
import { CacheService, encodeRecord } from './cache-service';
import { LocalFolderStorage } from './storage/local';
import { MemoryStorage } from './storage/memory';
import { verifyStore, type Problem, type VerifyProgress } from './verify';
import { NativeFormat } from './formats/native/native-format';

const bytes = (text: string) => ({ source: { kind: 'bytes' as const, bytes: Buffer.from(text) } });
const hashOf = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

async function damagedStore() {
  const dir = mkdtempSync(path.join(tmpdir(), 'verify-'));
  const cache = new CacheService(await LocalFolderStorage.open(dir));
  const file = (key: string) => path.join(dir, ...key.split('/'));
  const names = ['flip', 'truncate', 'lose', 'move', 'unrecord', 'stale', 'healthy'];
  const stored = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await cache.store('ns', { ...bytes(`content ${n}`), name: `${n}.txt` })])));
  await cache.store('ns', bytes('content stale'));
  const key = (n: string) => cache.layout.content('ns' as never, hashOf(`content ${n}`) as never);

  const flipped = readFileSync(file(key('flip')));
  flipped[0]! ^= 0xff;
  writeFileSync(file(key('flip')), flipped);
  truncateSync(file(key('truncate')), 3);
  rmSync(file(key('lose')));
  const wrongShard = `ns/objects/00/00/${hashOf('content move')}`;
  mkdirSync(path.dirname(file(wrongShard)), { recursive: true });
  renameSync(file(key('move')), file(wrongShard));
  rmSync(file(cache.layout.record('ns' as never, hashOf('content unrecord') as never, 1)));
  const staleRecord = await cache.record('ns', { hash: hashOf('content stale') as never, version: 1 });
  // Views are hard links of the record: replace the file, do not write through it.
  rmSync(file(cache.layout.latest('ns' as never, staleRecord.hash)));
  writeFileSync(file(cache.layout.latest('ns' as never, staleRecord.hash)), encodeRecord(staleRecord));
  const temp = `${path.dirname(file(key('healthy')))}/.tmp-999999999-abcdef`;
  writeFileSync(temp, 'half a write');
  const orphanKey = cache.layout.content('ns' as never, hashOf('nobody') as never);
  mkdirSync(path.dirname(file(orphanKey)), { recursive: true });
  writeFileSync(file(orphanKey), 'nobody');
  utimesSync(file(orphanKey), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
  return { dir, cache, stored, key, wrongShard, orphanKey, file, temp };
}

const summary = (problems: Problem[]) => problems.map((p) => `${p.kind} ${p.key}`).sort();

describe('verify', () => {
  it('is clean on a healthy store, in every namespace', async () => {
    const cache = new CacheService(new MemoryStorage());
    for (let i = 0; i < 20; i++) await cache.store(i % 2 ? 'a' : 'b', bytes(`x${i % 7}`));
    const report = await verifyStore(cache);
    expect(report.problems).toEqual([]);
    expect(report.checked).toBeGreaterThan(20 * 4);
  });

  it('a version its index lists whose record is lost is said to be so when opened (it said "not in namespace"), and can be deleted', async () => {
    const cache = new CacheService(new MemoryStorage());
    const stored = await cache.store('ns', bytes('twice'));
    await cache.store('ns', bytes('twice'));
    await cache.storage.delete(cache.layout.record('ns' as never, stored.hash, 2));
    expect((await cache.versions('ns', stored.hash)).map((v) => v.version)).toEqual([1, 2]);
    await expect(cache.record('ns', { hash: stored.hash, version: 2 })).rejects.toMatchObject({
      code: 'not_found',
      message: `${stored.hash}-v2's record is missing, though its versions index lists it (lost, or removed by hand); verify with repair restores it from the index entry when that holds a good copy, or delete the version`,
    });
    await expect(cache.record('ns', { hash: stored.hash, version: 3 })).rejects.toMatchObject({ code: 'not_found' });
    await cache.delete('ns', { hash: stored.hash, version: 2 });
    expect((await cache.versions('ns', stored.hash)).map((v) => v.version)).toEqual([1]);
  });

  it('a hash whose every record is lost, its index entries left, says so when looked up (not that it is not there, nor that no version uses its content)', async () => {
    const cache = new CacheService(new MemoryStorage());
    const stored = await cache.store('ns', bytes('records lost'));
    await cache.storage.delete(cache.layout.record('ns' as never, stored.hash, 1));
    await cache.storage.delete(cache.layout.latest('ns' as never, stored.hash));
    await expect(cache.record('ns', { hash: stored.hash })).rejects.toMatchObject({
      code: 'not_found',
      message: `${stored.hash}'s version records are missing, though its versions index lists 1 version (lost, or removed by hand); verify with repair restores them from the index entries that hold good copies, or delete ${stored.hash}`,
    });
    // As said: a repair brings it back from its index entry.
    expect((await verifyStore(cache, { repair: true })).repaired).toContainEqual(expect.objectContaining({ action: 'restored the record of v1 from it' }));
    expect((await cache.record('ns', { hash: stored.hash })).version).toBe(1);
  });

  it('counts a second index entry of one version (an old cut name beside the new one) among the keys checked', async () => {
    const cache = new CacheService(new MemoryStorage());
    const stored = await cache.store('ns', bytes('named twice'));
    const record = await cache.record('ns', { hash: stored.hash, version: 1 });
    const entry = cache.layout.versionEntry(record);
    await cache.storage.put(`${entry}.old`, (await cache.storage.get(entry))!);
    const keys = (await cache.storage.list('ns/')).objects.length;
    const seen: number[] = [];
    expect((await verifyStore(cache, { onProgress: ({ checked }) => seen.push(checked) })).checked).toBe(keys);
    expect(seen[seen.length - 1]).toBe(keys);
  });

  it('while big content is re-hashed, its progress says how many of its bytes are done (the keys checked stand still meanwhile)', async () => {
    const cache = new CacheService(await LocalFolderStorage.open(mkdtempSync(path.join(tmpdir(), 'verify-big-'))));
    const big = Buffer.alloc(6 << 20, 7);
    const stored = await cache.store('ns', { source: { kind: 'bytes', bytes: big } });
    await cache.store('ns', bytes('small'));
    const seen: VerifyProgress[] = [];
    await verifyStore(cache, { onProgress: (p) => seen.push(p) });
    const rehashing = seen.flatMap((p) => (p.rehashing ? [p.rehashing] : []));
    const key = cache.layout.content('ns' as never, stored.hash);
    expect(new Set(rehashing.map((r) => `${r.key} ${r.size}`))).toEqual(new Set([`${key} ${big.byteLength}`])); // the small one reads whole, unannounced
    expect(rehashing.length).toBeGreaterThan(2);
    expect(rehashing.map((r) => r.done)).toEqual([...rehashing.map((r) => r.done)].sort((a, b) => a - b));
    expect(rehashing.at(-1)!.done).toBe(big.byteLength);
    expect(seen.at(-1)!.rehashing).toBeUndefined(); // done: the last progress names none
  });

  it('reports a link inside the store (nothing behind it is listed or checked) and never removes it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'verify-link-'));
    const cache = new CacheService(await LocalFolderStorage.open(dir));
    await cache.store('ns', bytes('beside a link'));
    const outside = mkdtempSync(path.join(tmpdir(), 'verify-outside-'));
    writeFileSync(path.join(outside, 'theirs'), 'not the cache');
    symlinkSync(outside, path.join(dir, 'ns', 'linked'));
    symlinkSync(outside, path.join(dir, 'elsewhere'));
    const report = await verifyStore(cache, { namespace: 'ns', repair: true });
    expect(report.problems.map((p) => [p.kind, p.key])).toEqual([['misplaced', 'ns/linked']]);
    expect(report.repaired).toEqual([]);
    const plain = await verifyStore(cache);
    expect(plain.problems.map((p) => p.key)).toEqual(['elsewhere', 'ns/linked']);
    expect(plain.notes).toEqual([expect.stringMatching(/^a repair would move orphans and damaged records to _quarantine\/ \(never deleting them\)/)]);
    expect(readFileSync(path.join(dir, 'ns', 'linked', 'theirs'), 'utf8')).toBe('not the cache');
  });

  it('reports files and folders with names no key can have (no listing shows them), in their namespace, and never removes them', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'verify-stray-'));
    const cache = new CacheService(await LocalFolderStorage.open(dir));
    const stored = await cache.store('ns', bytes('beside strays'));
    writeFileSync(path.join(dir, 'ns', 'notes for café.txt'), 'dropped here by hand');
    mkdirSync(path.join(dir, 'ns', 'données'));
    writeFileSync(path.join(dir, 'ns', 'données', 'a.txt'), 'inside a stray folder');
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/ns/`), Buffer.from([0x66, 0xff, 0x2e, 0x62, 0x69, 0x6e])]), 'a name that is not UTF-8');
    writeFileSync(path.join(dir, 'ünicode-at-root'), 'no namespace');
    const report = await verifyStore(cache, { namespace: 'ns', repair: true });
    expect(report.problems.map((p) => [p.kind, p.key])).toEqual([
      ['misplaced', 'ns/données'],
      ['misplaced', 'ns/f\ufffd.bin'],
      ['misplaced', 'ns/notes for café.txt'],
    ]);
    expect(report.problems[0]!.detail).toMatch(/^a name no key can have .*: no listing shows it/);
    expect(report.repaired).toEqual([]);
    expect(readFileSync(path.join(dir, 'ns', 'données', 'a.txt'), 'utf8')).toBe('inside a stray folder');
    expect((await verifyStore(cache)).problems.map((p) => p.key)).toEqual(['ns/données', 'ns/f\ufffd.bin', 'ns/notes for café.txt', 'ünicode-at-root']);
    expect((await cache.retrieve('ns', { hash: stored.hash })).record.hash).toBe(stored.hash);
  });

  it('a size that disagrees is blamed on the record when the content hashes right (an operator told "bad content" would throw good bytes away)', async () => {
    const cache = new CacheService(new MemoryStorage());
    const stored = await cache.store('ns', bytes('six b.'));
    const recordKey = cache.layout.record('ns' as never, stored.hash, 1);
    const record = await cache.record('ns', { hash: stored.hash, version: 1 });
    await cache.storage.put(recordKey, encodeRecord({ ...record, size: 5 }));
    expect((await verifyStore(cache)).problems.filter((p) => p.kind === 'corrupt').map((p) => [p.key, p.detail])).toEqual([
      [recordKey, 'v1 records 5 bytes, but its content is 6 bytes and hashes right: the record is wrong, not the content'],
    ]);
  });

  it('a size out of range (-1, past 2^53) is rewritten from content that hashes right, as a wrong size is: the version is kept, not quarantined', async () => {
    for (const size of ['-1', '100000000000000000000']) {
      const dir = mkdtempSync(path.join(tmpdir(), 'verify-size-'));
      try {
        const cache = new CacheService(await LocalFolderStorage.open(dir));
        const stored = await cache.store('ns', bytes('six b.'));
        const recordKey = cache.layout.record('ns' as never, stored.hash, 1);
        const file = path.join(dir, ...recordKey.split('/'));
        // Edited in place, as by hand: the hard-linked views (index entry, temporal, latest) change with it.
        writeFileSync(file, readFileSync(file, 'utf8').replace('"size":6', `"size":${size}`));
        expect((await verifyStore(cache)).problems.map((p) => [p.kind, p.key, p.detail]), size).toEqual([
          ['corrupt', recordKey, `the version record size is not a whole number of bytes (${JSON.stringify(JSON.parse(size))}), but its content is 6 bytes and hashes right: the record is wrong, not the content`],
          ['stale_latest', cache.layout.latest('ns' as never, stored.hash), 'latest is not a valid record; the newest is v1'],
        ]);
        const repaired = await verifyStore(cache, { repair: true });
        expect(repaired.repaired).toEqual([
          { kind: 'corrupt', key: recordKey, action: "rewrote v1's size as 6 bytes (its content hashes right)" },
          { kind: 'stale_latest', key: cache.layout.latest('ns' as never, stored.hash), action: 'pointed latest at v1' },
        ]);
        expect((await verifyStore(cache)).problems).toEqual([]);
        expect((await cache.retrieve('ns', { hash: stored.hash })).record.size).toBe(6);
        expect(existsSync(path.join(dir, '_quarantine'))).toBe(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it("a record's SHA-256 that is none (not 64 hex characters) is rewritten from content that hashes to its key: the version is kept, not quarantined (it was, with its good bytes); another well-formed one is reported only", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'verify-sha-'));
    try {
      const cache = new CacheService(await LocalFolderStorage.open(dir));
      const stored = await cache.store('ns', bytes('six b.'));
      const { sha256 } = await cache.record('ns', { hash: stored.hash, version: 1 });
      const recordKey = cache.layout.record('ns' as never, stored.hash, 1);
      const file = path.join(dir, ...recordKey.split('/'));
      // Edited in place, as by hand: the hard-linked views change with it.
      const damage = (to: string) => writeFileSync(file, readFileSync(file, 'utf8').replace(/"sha256":"[^"]*"/, `"sha256":"${to}"`));
      damage('not a digest');
      expect((await verifyStore(cache)).problems.filter((p) => p.kind === 'corrupt').map((p) => [p.key, p.detail])).toEqual([[recordKey, 'the version record sha256 is not a SHA-256, but its content (6 bytes) hashes to its key: the record is wrong, not the content']]);
      const repaired = await verifyStore(cache, { repair: true });
      expect(repaired.repaired).toContainEqual({ kind: 'corrupt', key: recordKey, action: "rewrote v1's SHA-256 from its content (which hashes to its key)" });
      expect((await verifyStore(cache)).problems).toEqual([]);
      expect((await cache.retrieve('ns', { hash: stored.hash })).record.sha256).toBe(sha256);
      expect(existsSync(path.join(dir, '_quarantine'))).toBe(false);
      // A cache hash is 64 bits: content with the same one and another SHA-256 may be a collision's, never taken as the record's.
      damage(`${sha256.slice(0, 16)}${'0'.repeat(48)}`);
      const found = await verifyStore(cache, { repair: true });
      expect(found.problems.filter((p) => p.kind === 'corrupt').map((p) => [p.key, p.detail])).toEqual([[recordKey, 'v1 records another SHA-256']]);
      expect(found.repaired?.filter((r) => r.kind === 'corrupt')).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a repair does not rewrite a record deleted while verify read its content: the version stays deleted', async () => {
    const cache = new CacheService(new MemoryStorage());
    const stored = await cache.store('ns', bytes('six b.'));
    const recordKey = cache.layout.record('ns' as never, stored.hash, 1);
    const record = await cache.record('ns', { hash: stored.hash, version: 1 });
    await cache.storage.put(recordKey, encodeRecord({ ...record, size: 5 })); // a wrong size, which a repair rewrites
    // The delete's turn comes while verify re-hashes the content (read whole: it is small).
    const get = cache.storage.get.bind(cache.storage);
    let deleted = false;
    cache.storage.get = async (key, options) => {
      const got = await get(key, options);
      if (key === cache.layout.content('ns' as never, stored.hash) && !deleted) {
        deleted = true;
        await cache.delete('ns', { hash: stored.hash });
      }
      return got;
    };
    await verifyStore(cache, { repair: true });
    cache.storage.get = get;
    expect(deleted).toBe(true);
    expect(await cache.storage.exists(recordKey)).toBe(false);
    expect(await cache.versions('ns', stored.hash)).toEqual([]);
  });

  it('every version of a hash whose size is wrong or out of range is rewritten: none is lost to the quarantine', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'verify-sizes-'));
    try {
      const cache = new CacheService(await LocalFolderStorage.open(dir));
      const stored = await cache.store('ns', bytes('six b.'));
      await cache.store('ns', bytes('six b.'));
      await cache.store('ns', bytes('six b.'));
      const recordKey = (v: number) => cache.layout.record('ns' as never, stored.hash, v);
      for (const [v, size] of [[1, '-1'], [2, '-1'], [3, '5']] as const) {
        const file = path.join(dir, ...recordKey(v).split('/'));
        writeFileSync(file, readFileSync(file, 'utf8').replace('"size":6', `"size":${size}`));
      }
      const repaired = await verifyStore(cache, { repair: true });
      expect(repaired.repaired?.filter((r) => r.kind === 'corrupt').map((r) => r.action)).toEqual([1, 2, 3].map((v) => `rewrote v${v}'s size as 6 bytes (its content hashes right)`));
      expect((await verifyStore(cache)).problems).toEqual([]);
      expect((await cache.versions('ns', stored.hash)).map((v) => [v.version, v.size])).toEqual([[1, 6], [2, 6], [3, 6]]);
      expect(existsSync(path.join(dir, '_quarantine'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a wrong size in the record and in its index entry\'s name: the repair leaves one index entry, named with the right size', async () => {
    const cache = new CacheService(new MemoryStorage());
    const stored = await cache.store('ns', bytes('six b.'));
    const record = await cache.record('ns', { hash: stored.hash, version: 1 });
    const wrong = { ...record, size: 5 };
    await cache.storage.put(cache.layout.record('ns' as never, stored.hash, 1), encodeRecord(wrong));
    await cache.storage.delete(cache.layout.versionEntry(record));
    await cache.storage.put(cache.layout.versionEntry(wrong), encodeRecord(wrong));
    await verifyStore(cache, { repair: true });
    const entries = (await cache.storage.list(cache.layout.versionsPrefix('ns' as never, stored.hash))).objects.map((o) => o.key);
    expect(entries).toEqual([cache.layout.versionEntry(record)]);
    expect((await verifyStore(cache)).problems).toEqual([]);
  });

  it('an index entry whose name says another time, size or source than its record (listings read the name): reported, and a repair renames it, keeping the version (local folder: entries are links of the record)', async () => {
    const variants: Record<string, (name: { time: string; size: string; source: string }) => { time: string; size: string; source: string }> = {
      'all three': () => ({ time: '20200101T000000000Z', size: '5000000000', source: 'evil.exe' }),
      time: (n) => ({ ...n, time: '20200101T000000000Z' }),
      size: (n) => ({ ...n, size: '5000000000' }),
      source: (n) => ({ ...n, source: 'evil.exe' }),
      'a size past any number': (n) => ({ ...n, size: '99999999999999999999' }),
    };
    for (const [what, rename] of Object.entries(variants)) {
      const dir = mkdtempSync(path.join(tmpdir(), 'verify-renamed-'));
      try {
        const cache = new CacheService(await LocalFolderStorage.open(dir));
        const stored = await cache.store('ns', { ...bytes('content 1\n'), name: 'c1.txt' });
        const record = await cache.record('ns', { hash: stored.hash, version: 1 });
        const right = cache.layout.versionEntry(record);
        const [head, version, time, size, source] = right.split('~'); // <folder>/<hash>~<version>~<time>~<size>~<source>
        const to = rename({ time: time!, size: size!, source: source! });
        const wrong = [head, version, to.time, to.size, to.source].join('~');
        const file = (key: string) => path.join(dir, ...key.split('/'));
        renameSync(file(right), file(wrong)); // as `mv` by hand: still a link of the record
        expect((await cache.versions('ns', stored.hash)).map((v) => [v.version, v.size, v.source, v.stored_at]), what).not.toEqual([[1, 10, 'c1.txt', record.stored_at]]);

        const looked = await verifyStore(cache);
        expect(looked.problems.map((p) => [p.kind, p.key]), what).toEqual([['stale_latest', wrong]]);
        expect(looked.problems[0]!.detail, what).toMatch(/^v1's index entry is named with .*, but its record says .* \(listings read the name\): its name should be /);
        const repaired = await verifyStore(cache, { repair: true });
        expect(repaired.problems, what).toEqual(looked.problems); // the report before said what the repair found, no more
        expect(repaired.repaired, what).toEqual([{ kind: 'stale_latest', key: wrong, action: `renamed to ${right}` }]);
        expect((await cache.storage.list(cache.layout.versionsPrefix('ns' as never, stored.hash))).objects.map((o) => o.key), what).toEqual([right]);
        expect(await cache.versions('ns', stored.hash), what).toEqual([{ version: 1, cache_id: record.cache_id, stored_at: record.stored_at, size: 10, source: 'c1.txt' }]);
        expect((await cache.stats('ns')).bytes, what).toBe(10);
        expect((await cache.retrieve('ns', { hash: stored.hash })).record, what).toEqual(record);
        expect((await verifyStore(cache)).problems, what).toEqual([]);
        expect(existsSync(path.join(dir, '_quarantine')), what).toBe(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('a view a repair would write for a version deleted meanwhile is not put back, nor said to be, and the run goes on', async () => {
    const cache = new CacheService(new MemoryStorage());
    const gone = await cache.store('ns', bytes('deleted meanwhile'));
    const kept = await cache.store('ns', bytes('kept'));
    const record = await cache.record('ns', { hash: gone.hash, version: 1 });
    await cache.storage.delete(cache.layout.versionEntry(record));
    // The delete's turn comes between verify's read of the record and its write of the view.
    const copy = cache.storage.copy.bind(cache.storage);
    cache.storage.copy = async (from, to, options) => {
      if (to === cache.layout.versionEntry(record)) throw new CacheError('not_found', `cannot copy ${from}: it does not exist`);
      return copy(from, to, options);
    };
    const report = await verifyStore(cache, { repair: true });
    expect(report.problems.map((p) => [p.kind, p.key])).toEqual([['stale_latest', cache.layout.versionEntry(record)]]);
    expect(report.repaired).toEqual([]);
    expect((await cache.retrieve('ns', { hash: kept.hash })).record.hash).toBe(kept.hash);
  });

  it('a wrong-named index entry beside the right one, and a temporal entry named with another time: reported and removed or renamed, each version kept (memory store: views are copies)', async () => {
    const cache = new CacheService(new MemoryStorage());
    const { layout, storage } = cache;
    const stored = await cache.store('ns', { ...bytes('kept'), name: 'kept.txt' });
    await cache.store('ns', { ...bytes('kept'), name: 'again.txt' });
    const [v1, v2] = [await cache.record('ns', { hash: stored.hash, version: 1 }), await cache.record('ns', { hash: stored.hash, version: 2 })];
    // v1: a copy named with another source beside its right entry, sorted before and after it.
    const before = `${layout.versionsPrefix('ns' as never, stored.hash)}00000001~00000000T000000000Z~4~kept.txt`;
    const after = `${layout.versionEntry(v1)}.exe`;
    for (const key of [before, after]) await storage.put(key, (await storage.get(layout.versionEntry(v1)))!);
    // v2: its temporal entry moved to another time of the same hour.
    const temporal = layout.temporal(v2);
    const movedTemporal = temporal.replace(/(\d{8}T\d{2})\d{7}Z~/, '$10000000Z~');
    expect(movedTemporal).not.toBe(temporal);
    await storage.put(movedTemporal, (await storage.get(temporal))!);
    await storage.delete(temporal);

    const looked = await verifyStore(cache);
    expect(looked.problems.map((p) => [p.kind, p.key])).toEqual([['stale_latest', before], ['stale_latest', after], ['stale_latest', movedTemporal]].sort((a, b) => a[1]!.localeCompare(b[1]!)));
    expect(looked.problems.find((p) => p.key === movedTemporal)!.detail).toMatch(new RegExp(`^v2's temporal entry is named with time .*, but its record says ${v2.stored_at.replace(/\./g, '\\.')} `));
    const repaired = await verifyStore(cache, { repair: true });
    expect(repaired.repaired?.map((r) => [r.key, r.action]).sort()).toEqual([
      [before, `removed (${layout.versionEntry(v1)} is v1's index entry)`],
      [after, `removed (${layout.versionEntry(v1)} is v1's index entry)`],
      [movedTemporal, `renamed to ${temporal}`],
    ].sort());
    expect((await cache.versions('ns', stored.hash)).map((v) => [v.version, v.source])).toEqual([[1, 'kept.txt'], [2, 'again.txt']]);
    expect(await storage.exists(temporal)).toBe(true);
    expect(await storage.exists(movedTemporal)).toBe(false);
    expect((await verifyStore(cache)).problems).toEqual([]);
  });

  it('a lost record whose index entry was renamed: restored from its temporal entry, and the entry renamed to the name the record gives', async () => {
    const cache = new CacheService(new MemoryStorage());
    const { layout, storage } = cache;
    const stored = await cache.store('ns', { ...bytes('six b.'), name: 'six.txt' });
    const record = await cache.record('ns', { hash: stored.hash, version: 1 });
    const right = layout.versionEntry(record);
    const wrong = right.replace(/~6~six\.txt$/, '~99999999999999999999~evil.exe');
    await storage.put(wrong, (await storage.get(right))!);
    await storage.delete(right);
    await storage.delete(layout.record('ns' as never, stored.hash, 1));
    const repaired = await verifyStore(cache, { repair: true });
    expect(repaired.repaired).toEqual([
      { kind: 'dangling_ref', key: wrong, action: `restored the record of v1 from ${layout.temporal(record)}` },
      { kind: 'stale_latest', key: wrong, action: `renamed to ${right}` },
    ]);
    expect(await cache.record('ns', { hash: stored.hash, version: 1 })).toEqual(record);
    expect((await storage.list(layout.versionsPrefix('ns' as never, stored.hash))).objects.map((o) => o.key)).toEqual([right]);
    expect((await verifyStore(cache)).problems).toEqual([]);
  });

  it('finds every kind of damage, and repairs only the safe ones', async () => {
    const { cache, key, wrongShard, orphanKey, dir, temp } = await damagedStore();
    const L = cache.layout;
    const h = (n: string) => hashOf(`content ${n}`) as never;
    const report = await verifyStore(cache, { namespace: 'ns' });
    const expected = [
      `corrupt ${key('flip')}`,
      `corrupt ${key('truncate')}`,
      `missing_content ${L.record('ns' as never, h('lose'), 1)}`,
      `missing_content ${L.record('ns' as never, h('move'), 1)}`,
      `misplaced ${wrongShard}`,
      `dangling_ref ${L.latest('ns' as never, h('unrecord'))}`,
    ];
    const kinds = summary(report.problems);
    for (const line of expected) expect(kinds).toContain(line);
    // Each damaged content once: the truncated file is one problem (its size), not also its hash.
    expect(kinds.filter((k) => k === `corrupt ${key('truncate')}`)).toHaveLength(1);
    expect(kinds.filter((k) => k.startsWith('dangling_ref'))).toHaveLength(3); // latest, index entry, temporal entry
    expect(kinds).toContain(`stale_latest ${L.latest('ns' as never, h('stale'))}`);
    expect(kinds).toContain(`orphan ${orphanKey}`);
    expect(kinds).toContain(`temp_leftover ${path.relative(dir, temp)}`);
    expect(new Set(report.problems.map((p) => p.kind))).toEqual(new Set(['corrupt', 'missing_content', 'dangling_ref', 'orphan', 'misplaced', 'stale_latest', 'temp_leftover']));

    const repaired = await verifyStore(cache, { namespace: 'ns', repair: true });
    expect(repaired.repaired?.map((r) => r.kind).sort()).toEqual(['dangling_ref', 'orphan', 'stale_latest', 'temp_leftover']);
    expect(existsSync(temp)).toBe(false);
    expect(await cache.storage.exists(`_quarantine/${orphanKey}`)).toBe(true); // moved, never deleted
    expect((await cache.record('ns', { hash: h('stale') })).version).toBe(2);
    // The record removed by hand is back, from its index entry (a copy of it): its views are whole again.
    expect(await cache.record('ns', { hash: h('unrecord'), version: 1 })).toMatchObject({ version: 1, source: 'unrecord.txt' });

    const after = await verifyStore(cache, { namespace: 'ns' });
    expect(new Set(after.problems.map((p) => p.kind))).toEqual(new Set(['corrupt', 'missing_content', 'misplaced']));
    expect(summary(after.problems)).toEqual(summary(report.problems.filter((p) => ['corrupt', 'missing_content', 'misplaced'].includes(p.kind))));
    expect(await cache.namespaceNames()).toEqual(['ns']); // the quarantine is not a namespace
  });

  it('a store that lands while verify lists (its views listed, its record passed by): nothing is reported or repaired (was dangling_ref, and a repair "restored" it)', async () => {
    const cache = new CacheService(new MemoryStorage());
    const stored = await cache.store('ns', bytes('landing'));
    await cache.store('ns', bytes('landing'));
    const recordKey = cache.layout.record('ns' as never, stored.hash, 2);
    // The listing passed the record's place before the store wrote it, and its views after.
    const list = cache.storage.list.bind(cache.storage);
    vi.spyOn(cache.storage, 'list').mockImplementation(async (prefix, options) => {
      const page = await list(prefix, options);
      return { ...page, objects: page.objects.filter((o) => o.key !== recordKey) };
    });
    const report = await verifyStore(cache, { repair: true });
    expect(report.problems).toEqual([]);
    expect(report.repaired).toEqual([]);
  });

  it('an entry deleted while verify reads its content is no missing_content (a bulk delete beside verify reported hundreds); content gone under its records still is', async () => {
    const cache = new CacheService(new MemoryStorage());
    const [deleted, lost] = [await cache.store('ns', bytes('deleted meanwhile')), await cache.store('ns', bytes('lost by hand'))];
    const get = cache.storage.get.bind(cache.storage);
    vi.spyOn(cache.storage, 'get').mockImplementation(async (key, options) => {
      if (key === cache.layout.content('ns' as never, deleted.hash)) await cache.delete('ns', { hash: deleted.hash }); // a delete lands as verify reads
      if (key === cache.layout.content('ns' as never, lost.hash)) await cache.storage.delete(key); // bytes gone, records left
      return get(key, options);
    });
    const report = await verifyStore(cache);
    expect(report.problems.map((p) => [p.kind, p.key, p.detail])).toEqual([['missing_content', cache.layout.content('ns' as never, lost.hash), 'content vanished while verifying']]);
  });

  it('a latest pointer naming a version that has no record: repair points it at the newest there is (the app showed the missing one)', async () => {
    const cache = new CacheService(new MemoryStorage());
    const stored = await cache.store('ns', bytes('pointed'));
    const latestKey = cache.layout.latest('ns' as never, stored.hash);
    const record = await cache.record('ns', { hash: stored.hash, version: 1 });
    await cache.storage.put(latestKey, encodeRecord({ ...record, version: 7, cache_id: `${stored.hash}-v7` as never }));
    const report = await verifyStore(cache, { repair: true });
    expect(report.problems.map((p) => [p.kind, p.key, p.detail])).toEqual([['dangling_ref', latestKey, 'latest names v7, which has no record; the newest is v1']]);
    expect(report.repaired).toEqual([{ kind: 'dangling_ref', key: latestKey, action: 'pointed latest at v1' }]);
    expect((await cache.record('ns', { hash: stored.hash })).version).toBe(1);
    expect((await verifyStore(cache)).problems).toEqual([]);
  });

  it('a long name cut the way stores wrote it before (no extension kept) is still its version\'s index entry: clean, and a lost record comes back from it', async () => {
    const cache = new CacheService(new MemoryStorage());
    const name = `${'Годовой отчёт '.repeat(8)}.pdf`;
    const stored = await cache.store('ns', { ...bytes('an old long name'), name });
    const record = await cache.record('ns', { hash: stored.hash, version: 1 });
    const written = cache.layout.versionEntry(record);
    expect(decodeURIComponent(written.split('~').at(-1)!)).toMatch(/….pdf$/);
    // The entry as a store written before this change has it.
    const before = cache.layout.versionEntry(record, false);
    expect(decodeURIComponent(before.split('~').at(-1)!)).toMatch(/[^f]…$/);
    await cache.storage.put(before, (await cache.storage.get(written))!);
    await cache.storage.delete(written);
    expect((await verifyStore(cache)).problems).toEqual([]);
    // The entry panel and `info` name the index entry that is there.
    expect((await new NativeFormat(cache).record('ns', { hash: stored.hash })).keys).toContainEqual({ key: before, role: 'versions index entry' });
    await cache.storage.delete(cache.layout.record('ns' as never, stored.hash, 1));
    const report = await verifyStore(cache, { repair: true });
    expect(report.repaired?.map((r) => r.kind)).toContain('dangling_ref');
    expect((await cache.record('ns', { hash: stored.hash, version: 1 })).source).toBe(name);
  });

  it('a damaged record whose index entry holds a good copy (views are copies, as on S3) is restored from it, not removed with its content', async () => {
    const cache = new CacheService(new MemoryStorage());
    await cache.store('ns', bytes('kept whole'));
    const stored = await cache.store('ns', bytes('kept whole')); // v2, the newest, is the damaged one
    const recordKey = cache.layout.record('ns' as never, stored.hash, 2);
    await cache.storage.put(recordKey, Buffer.from('{"not": "a record"'));
    const looked = await verifyStore(cache);
    expect(looked.problems).toEqual([{ kind: 'corrupt', key: recordKey, hash: stored.hash, detail: 'the version record is not JSON; its index entry holds a good copy, which a repair restores' }]);
    const report = await verifyStore(cache, { repair: true });
    expect(report.problems).toEqual(looked.problems); // the report before said what the repair found, no more
    expect(report.repaired).toEqual([{ kind: 'corrupt', key: recordKey, action: "restored v2's record from its index entry" }]);
    expect((await cache.retrieve('ns', { hash: stored.hash })).record.version).toBe(2);
    expect((await cache.storage.list('_quarantine/')).objects).toEqual([]);
    expect((await verifyStore(cache)).problems).toEqual([]);
  });

  it('an index entry that does not agree with its own name or the bytes is not taken for the lost record; a temporal entry or latest that does is', async () => {
    const cache = new CacheService(new MemoryStorage());
    const stored = await cache.store('ns', bytes('six b.'));
    const entry = (await cache.storage.list('ns/')).objects.map((o) => o.key).find((k) => k.includes('~') && !k.includes('/temporal/'))!;
    const record = await cache.record('ns', { hash: stored.hash, version: 1 });
    const recordKey = cache.layout.record('ns' as never, stored.hash, 1);
    const temporal = cache.layout.temporal(record);
    const latest = cache.layout.latest('ns' as never, stored.hash);
    await cache.storage.delete(recordKey);
    await cache.storage.put(entry, encodeRecord({ ...record, source: 'evil.txt' })); // its name says the source it was stored from
    const views = { temporal: await cache.storage.get(temporal), latest: await cache.storage.get(latest) };
    await cache.storage.delete(temporal);
    await cache.storage.delete(latest);
    const report = await verifyStore(cache, { repair: true });
    expect(report.problems).toEqual([{ kind: 'dangling_ref', key: entry, hash: stored.hash, detail: 'version index entry for v1, which has no record' }]);
    expect(report.repaired).toEqual([]); // the content is there: left as found
    expect(await cache.storage.exists(recordKey)).toBe(false);
    // Its temporal entry, or latest, holding a good copy brings it back (a file system's views are links of one file).
    for (const [view, key] of [['temporal', temporal], ['latest', latest]] as const) {
      await cache.storage.put(key, views[view]!);
      const mended = await verifyStore(cache, { repair: true });
      expect(mended.repaired).toContainEqual({ kind: 'dangling_ref', key: entry, action: `restored the record of v1 from ${key}` });
      expect(await cache.record('ns', { hash: stored.hash, version: 1 })).toMatchObject({ source: record.source, stored_at: record.stored_at });
      await cache.storage.delete(recordKey);
      await cache.storage.delete(key);
    }
  });

  it("views of a version whose record and content are both gone (a delete finished by hand) are moved aside by a repair: it could never clear them", async () => {
    const cache = new CacheService(new MemoryStorage());
    const stored = await cache.store('ns', bytes('gone by hand'));
    const record = await cache.record('ns', { hash: stored.hash, version: 1 });
    const { layout } = cache;
    const entry = layout.versionEntry(record);
    await cache.storage.delete(layout.record('ns' as never, stored.hash, 1));
    await cache.storage.delete(layout.content('ns' as never, stored.hash));
    const temporal = layout.temporal(record);
    const latest = layout.latest('ns' as never, stored.hash);
    // Views of the last minute are a store's in flight (committed after the listing passed its record): left as found.
    const fresh = await verifyStore(cache, { repair: true });
    expect(fresh.problems).toHaveLength(3);
    expect(fresh.repaired).toEqual([]);
    const report = await verifyStore(cache, { repair: true, orphanGraceMs: 0 });
    expect(report.problems.map((p) => [p.kind, p.key]).sort()).toEqual([['dangling_ref', entry], ['dangling_ref', latest], ['dangling_ref', temporal]].sort());
    expect(report.repaired).toEqual([entry, temporal, latest].map((key) => ({ kind: 'dangling_ref', key, action: `moved to _quarantine/${key}` })));
    expect((await verifyStore(cache)).problems).toEqual([]);
    expect(await cache.storage.exists(`_quarantine/${temporal}`)).toBe(true);
  });

  it('finds a flipped last byte in content read whole (small) and streamed (over 1 MiB)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'verify-'));
    const cache = new CacheService(await LocalFolderStorage.open(dir));
    const contents = { small: Buffer.from('small content'), big: Buffer.alloc((1 << 20) + 1, 7) };
    const keys: string[] = [];
    for (const bytes of Object.values(contents)) {
      const { hash } = await cache.store('ns', { source: { kind: 'bytes', bytes } });
      const file = path.join(dir, ...cache.layout.content('ns' as never, hash).split('/'));
      const damaged = readFileSync(file);
      damaged[damaged.length - 1]! ^= 1;
      writeFileSync(file, damaged);
      keys.push(`corrupt ${cache.layout.content('ns' as never, hash)}`);
    }
    expect(summary((await verifyStore(cache)).problems)).toEqual(keys.sort());
  });

  it('goes by file times where it must: a fresh orphan or deletion marker is a write in flight, an old one is reported', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'verify-'));
    const cache = new CacheService(await LocalFolderStorage.open(dir));
    const file = (key: string) => path.join(dir, ...key.split('/'));
    const hour = new Date(Date.now() - 3_600_000);
    const keys: Record<string, string> = {};
    for (const age of ['fresh', 'old']) {
      const hash = hashOf(`${age} orphan`) as never;
      keys[`${age} orphan`] = cache.layout.content('ns' as never, hash);
      keys[`${age} marker`] = cache.layout.deletionMarker('ns' as never, hashOf(`${age} deleted`) as never);
      for (const [key, text] of [[keys[`${age} orphan`]!, `${age} orphan`], [keys[`${age} marker`]!, '']] as const) {
        mkdirSync(path.dirname(file(key)), { recursive: true });
        writeFileSync(file(key), text);
        if (age === 'old') utimesSync(file(key), hour, hour);
      }
    }
    expect(summary((await verifyStore(cache)).problems)).toEqual([`orphan ${keys['old orphan']}`, `temp_leftover ${keys['old marker']}`]);
  });

  it('re-hashes only a sample when asked, but still checks every reference', async () => {
    const { cache, key } = await damagedStore();
    const report = await verifyStore(cache, { namespace: 'ns', sample: 1 });
    expect(summary(report.problems)).toContain(`corrupt ${key('truncate')}`); // size disagrees with the record: no hashing needed
    expect(report.problems.some((p) => p.kind === 'missing_content')).toBe(true);
  });

  it('a sample says how much content it re-hashed, so its "no problems" is not read as the whole store\'s (CLI and report)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cache-admin-sample-'));
    try {
      const cache = new CacheService(new LocalFolderStorage(dir));
      for (let i = 0; i < 5; i++) await cache.store('ns', bytes(`entry ${i}`));
      const victim = await cache.store('ns', bytes('the one that rots'));
      writeFileSync(path.join(dir, cache.layout.content('ns' as never, victim.hash)), 'the one that ROTS');
      expect((await verifyStore(cache, { sample: 2 })).sampled).toEqual({ perNamespace: 2, rehashed: 2, of: 6 });
      expect((await verifyStore(cache)).sampled).toBeUndefined();
      const run = await cli(['--store', dir, 'verify', '--sample', '1']);
      expect(run.stdout).toMatch(/(^|\n)checked 30 keys \(content re-hashed for a sample of 1 per namespace: 1 of 6\): (no problems|1 problem)\n$/);
      expect(JSON.parse((await cli(['--store', dir, '--json', 'verify', '--sample', '1'])).stdout)).toMatchObject({ checked: 30, sampled: { perNamespace: 1, rehashed: 1, of: 6 } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('can be cancelled', async () => {
    const cache = new CacheService(new MemoryStorage());
    for (let i = 0; i < 50; i++) await cache.store('ns', bytes(`x${i}`));
    const controller = new AbortController();
    const run = verifyStore(cache, { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(run).rejects.toMatchObject({ code: 'cancelled' });
  });

  it('a cancel ends a content read that hangs (a stalled S3 server), not only the reads after it', async () => {
    const storage = new MemoryStorage();
    const cache = new CacheService(storage);
    const { hash } = await cache.store('ns', bytes('stuck'));
    const content = cache.layout.content('ns' as never, hash);
    const get = storage.get.bind(storage);
    // The content read never answers unless it is given a signal that aborts.
    const stalled = (key: string, options?: { signal?: AbortSignal }): Promise<Uint8Array | null> =>
      key === content ? new Promise((_, reject) => options?.signal?.addEventListener('abort', () => reject(new Error('aborted')))) : get(key);
    vi.spyOn(storage, 'get').mockImplementation(stalled);
    const controller = new AbortController();
    const run = verifyStore(cache, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(run).rejects.toMatchObject({ code: 'cancelled', message: expect.stringMatching(/^verify was cancelled after checking \d+ keys$/) });
  });

  it('a cancel while repairing says how many repairs it made, and exactly those are in the store', async () => {
    const storage = new MemoryStorage();
    const cache = new CacheService(storage);
    const latestKeys = [];
    for (let i = 0; i < 60; i++) latestKeys.push(cache.layout.latest('ns' as never, (await cache.store('ns', bytes(`entry ${i}`))).hash));
    for (const key of latestKeys) await storage.delete(key);
    // Each repair's write takes a while, as on a disk: several are under way when the cancel comes.
    const copy = storage.copy.bind(storage);
    vi.spyOn(storage, 'copy').mockImplementation(async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return copy(...args);
    });
    const controller = new AbortController();
    let entries = 0;
    const run = verifyStore(cache, {
      repair: true,
      concurrency: 4,
      signal: controller.signal,
      onProgress: ({ phase }) => phase === 'checking' && ++entries === 10 && controller.abort(),
    });
    const error = await run.then(
      () => null,
      (err: Error & { code: string }) => err,
    );
    expect(error?.code).toBe('cancelled');
    const made = Number(/the (\d+) repairs made before it stopped \((\d+) stale_latest\) stand/.exec(error!.message)?.[1]);
    await new Promise((resolve) => setTimeout(resolve, 20)); // nothing it started may land after its answer
    const restored = (await Promise.all(latestKeys.map((key) => storage.get(key)))).filter(Boolean).length;
    expect(made).toBeGreaterThanOrEqual(10);
    expect(made).toBeLessThan(60);
    expect(restored).toBe(made);
  });

  it('CLI: --json report, exit 1 on problems, 0 when clean, 2 on bad input', async () => {
    const { dir } = await damagedStore();
    const dirty = await cli(['--store', dir, '--json', 'verify']);
    expect(dirty.code).toBe(1);
    const parsed = JSON.parse(dirty.stdout) as { checked: number; problems: Problem[] };
    expect(Object.keys(parsed)).toEqual(['checked', 'problems', 'notes']);
    expect(Object.keys(parsed.problems[0]!)).toEqual(['kind', 'key', 'hash', 'detail']);
    expect((await cli(['--store', dir, 'verify', '--sample', '0'])).code).toBe(2);
    expect((await cli(['--store', dir, '--ns', '../x', 'verify'])).code).toBe(2);
    const clean = mkdtempSync(path.join(tmpdir(), 'verify-clean-'));
    await cli(['--store', clean, 'store', '-'], { stdin: Buffer.from('fine') });
    const ok = await cli(['--store', clean, 'verify']);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.stdout).toMatch(/no problems/);
    const repaired = await cli(['--store', dir, '--json', 'verify', '--repair']);
    expect(JSON.parse(repaired.stdout).repaired).toHaveLength(4); // a stale latest, an orphan, a temp leftover, a record restored from its index entry
  });
});

it('a store that lands while verify --repair runs is no dangling latest: latest was pointed back at the older version, after a false report', async () => {
  /** The store's next version lands just as verify reads latest, after it listed the records. */
  class LandingStorage extends MemoryStorage {
    landing: (() => Promise<unknown>) | null = null;
    override async get(key: string) {
      const land = key.endsWith('.latest.json') ? this.landing : null;
      if (land) {
        this.landing = null;
        await land();
      }
      return super.get(key);
    }
  }
  const storage = new LandingStorage();
  const cache = new CacheService(storage);
  const first = await cache.store('ns', bytes('landing'));
  storage.landing = () => new CacheService(storage).store('ns', bytes('landing'));
  const report = await verifyStore(cache, { repair: true, orphanGraceMs: 0 });
  expect(report.problems).toEqual([]);
  expect(report.repaired).toEqual([]);
  expect((await cache.record('ns', { hash: first.hash })).version).toBe(2);
});
