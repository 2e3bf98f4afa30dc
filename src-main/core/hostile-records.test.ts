// Hostile input: names a record cannot hold, stores that fail half-way, and damaged version records
// must never break verify or delete for the whole store (issue 15, item 3 and item 8's numeric source).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CacheHash, Namespace } from '../../src-shared/domain';
import { cli } from '../test-support/cli-harness';
import { CacheService, QUARANTINE_PREFIX, encodeRecord } from './cache-service';
import { cacheHashOf } from './hashing';
import { LocalFolderStorage } from './storage/local';
import { MemoryStorage } from './storage/memory';
import type { CopyOptions } from './storage/types';
import { verifyStore } from './verify';

const NS = 'ns' as Namespace;
const bytes = (text: string) => ({ kind: 'bytes' as const, bytes: Buffer.from(text) });

async function allKeys(cache: CacheService): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await cache.listKeys('', { cursor });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.cursor;
  } while (cursor !== undefined);
  return keys;
}

/**
 * A store holding one healthy entry, plus content and a version record written as `fields` change
 * a valid record (or as raw bytes) with none of its views: what the lone-surrogate bug left behind.
 */
async function storeWithDamagedRecord(damage: Record<string, unknown> | string, cache = new CacheService(new MemoryStorage())) {
  await cache.store(NS, { source: bytes('healthy'), name: 'healthy.txt' });
  const text = 'damaged entry';
  const hash = cacheHashOf(text);
  const { sha256 } = await cache.hash({ source: bytes(text) });
  const valid = { namespace: NS, hash, cache_id: `${hash}-v1`, version: 1, sha256, size: text.length, content_type: 'text/plain', source: 'x.txt', stored_at: '2026-11-23T23:22:46.123Z' };
  const record = typeof damage === 'string' ? Buffer.from(damage) : Buffer.from(`${JSON.stringify({ ...valid, ...damage })}\n`);
  await cache.storage.put(cache.layout.content(NS, hash), Buffer.from(text));
  await cache.storage.put(cache.layout.record(NS, hash, 1), record);
  return { cache, hash, recordKey: cache.layout.record(NS, hash, 1) };
}

describe('hostile input: source names a record cannot hold are refused before anything is written', () => {
  it.each([
    ['a lone surrogate', 'bad\ud800.txt', /not well-formed Unicode/],
    ['a lone low surrogate', '\udc00', /not well-formed Unicode/],
    ['a NUL', 'a\u0000b.txt', /NUL/],
    ['over 1,024 characters', 'n'.repeat(1025), /^the source name is 1025 characters, over the 1024 an entry can record: nothing was stored$/],
    ['not text', 42 as unknown as string, /expected text/],
  ])('a name with %s: invalid_input, no key written', async (_what, name, message) => {
    const cache = new CacheService(new MemoryStorage());
    await expect(cache.store(NS, { source: bytes('content'), name })).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(message) });
    expect(await allKeys(cache)).toEqual([]);
    expect((await verifyStore(cache)).problems).toEqual([]);
  });

  it('keeps names that are odd but storable: emoji, newlines, 1,024 characters', async () => {
    const cache = new CacheService(new MemoryStorage());
    for (const name of ['😀.txt', 'two\nlines', 'n'.repeat(1024)]) {
      const stored = await cache.store(NS, { source: bytes(name), name });
      expect((await cache.record(NS, { hash: stored.hash })).source).toBe(name);
    }
    expect((await verifyStore(cache)).problems).toEqual([]);
  });
});

describe('hostile input: a store that fails half-way removes what it wrote', () => {
  it('a view that cannot be written leaves no record, no view and no bytes behind', async () => {
    const storage = new MemoryStorage();
    const copy = storage.copy.bind(storage);
    storage.copy = async (from: string, to: string, options?: CopyOptions) => {
      if (to.includes('/temporal/')) throw new Error('disk went away');
      return copy(from, to, options);
    };
    const cache = new CacheService(storage);
    await expect(cache.store(NS, { source: bytes('half a store'), name: 'half.txt' })).rejects.toThrow('disk went away');
    expect(await allKeys(cache)).toEqual([]);
  });

  it('a failed store of known content removes only its own version', async () => {
    const storage = new MemoryStorage();
    const cache = new CacheService(storage);
    const first = await cache.store(NS, { source: bytes('kept'), name: 'first.txt' });
    const before = await allKeys(cache);
    const copy = storage.copy.bind(storage);
    storage.copy = async (from: string, to: string, options?: CopyOptions) => {
      if (to.includes('/temporal/')) throw new Error('disk went away');
      return copy(from, to, options);
    };
    await expect(cache.store(NS, { source: bytes('kept'), name: 'second.txt' })).rejects.toThrow('disk went away');
    expect(await allKeys(cache)).toEqual(before);
    expect((await cache.record(NS, { hash: first.hash })).version).toBe(1);
  });
});

describe('hostile input: a whole record of another entry copied over a key', () => {
  it('is never followed to serve that entry under this hash, by latest or by version', async () => {
    const cache = new CacheService(new MemoryStorage());
    const mine = await cache.store(NS, { source: bytes('mine') });
    const theirs = await cache.store(NS, { source: bytes('theirs') });
    const theirRecord = await cache.storage.get(cache.layout.record(NS, theirs.hash, 1));
    await cache.storage.put(cache.layout.latest(NS, mine.hash), theirRecord!);
    await expect(cache.retrieve(NS, { hash: mine.hash })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringContaining('names another entry') });
    await cache.storage.put(cache.layout.record(NS, mine.hash, 1), theirRecord!);
    await expect(cache.retrieve(NS, { hash: mine.hash, version: 1 })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringContaining('names another entry') });
  });

  it.each([
    ['another hash', (mine: string, theirs: string) => [theirs, 2]],
    ['another version of the same hash', (mine: string) => [mine, 1]],
  ] as const)("deleting the version it lies at removes that version's own views, never those of the entry it names (%s)", async (_what, source) => {
    const cache = new CacheService(new MemoryStorage());
    const mine = (await cache.store(NS, { source: bytes('mine') })).hash;
    await cache.store(NS, { source: bytes('mine') });
    const theirs = (await cache.store(NS, { source: bytes('theirs') })).hash;
    await cache.store(NS, { source: bytes('theirs') });
    const [hash, version] = source(mine, theirs) as [CacheHash, number];
    const before = await allKeys(cache);
    await cache.storage.put(cache.layout.record(NS, mine, 2), (await cache.storage.get(cache.layout.record(NS, hash, version)))!);
    expect((await cache.delete(NS, { hash: mine, version: 2 })).deleted).toEqual([`${mine}-v2`]);
    // Exactly mine-v2's record and views went: every other version still listed, with its views.
    const gone = before.filter((key) => !key.endsWith(`~${mine}-v2`) && !key.includes(`/${mine}~00000002~`) && !key.endsWith(`${mine}.v00000002.json`));
    expect((await allKeys(cache)).filter((key) => !key.endsWith('.latest.json'))).toEqual(gone.filter((key) => !key.endsWith('.latest.json')));
    expect((await cache.versions(NS, theirs)).map((v) => v.version)).toEqual([1, 2]);
    expect((await cache.versions(NS, mine)).map((v) => v.version)).toEqual([1]);
    expect((await verifyStore(cache, { orphanGraceMs: 0 })).problems).toEqual([]);
  });
});

describe('hostile input: a damaged version record is reported, and verify goes on', () => {
  const cases: [string, Record<string, unknown> | string, RegExp][] = [
    ['a source with a lone surrogate', { source: '\ud800' }, /source is not well-formed Unicode/],
    ['"stored_at": null', { stored_at: null }, /stored_at/],
    ['a stored_at that is no time', { stored_at: '2026-13-45T99:00:00.000Z' }, /stored_at is not a UTC time/],
    ['a numeric source', { source: 42 }, /source/],
    ['a string size', { size: '11' }, /size/],
    ['another hash', { hash: '0000000000000000' }, /cache_id does not match|names another entry|hash is not the start/],
    ['another version', { version: 2, cache_id: 'x' }, /cache_id does not match|names another entry/],
    ['bytes that are not JSON', '{"namespace": "ns", ', /is not JSON/],
    ['JSON that is not an object', '[1, 2, 3]', /expected object|Invalid input/],
  ];

  it.each(cases)('%s: reported as corrupt, the rest of the store still checked', async (what, damage, detail) => {
    const { cache, recordKey, hash } = await storeWithDamagedRecord(damage);
    await cache.store('other', { source: bytes('elsewhere') });
    // Damage verify must still find elsewhere, after the bad record.
    await cache.storage.delete(cache.layout.content('other' as Namespace, cacheHashOf('elsewhere')));
    const report = await verifyStore(cache);
    // (The record is put alone: one verify can mend, a size its content gives back, is also missing its views.)
    const mendable = what === 'a string size';
    expect(report.problems.filter((p) => !(mendable && p.kind === 'stale_latest')).map((p) => `${p.kind} ${p.key}`)).toEqual([
      `corrupt ${recordKey}`,
      `missing_content ${cache.layout.record('other' as Namespace, cacheHashOf('elsewhere'), 1)}`,
    ]);
    expect(report.problems[0]).toMatchObject({ hash, detail: expect.stringMatching(detail) });
  });

  it.each(cases)('%s: delete removes the broken version and its bytes', async (_what, damage) => {
    const { cache, hash } = await storeWithDamagedRecord(damage);
    await expect(cache.record(NS, { hash, version: 1 })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(/damaged/) });
    expect(await cache.delete(NS, { hash })).toEqual({ deleted: [`${hash}-v1`], contentRemoved: true, bytesFreed: 'damaged entry'.length });
    expect((await allKeys(cache)).filter((k) => k.includes(hash))).toEqual([]);
    expect((await verifyStore(cache)).problems).toEqual([]);
  });

  it('delete of one broken version by its cache id, and its views found without a readable record', async () => {
    const { cache, hash } = await storeWithDamagedRecord({ stored_at: null });
    const good = await cache.store(NS, { source: bytes('damaged entry'), name: 'good.txt' });
    expect(good.version).toBe(2);
    // A damaged v1 that did get an index entry and a temporal entry before it was damaged.
    const v1 = { ...(await cache.record(NS, { hash, version: 2 })), version: 1, cache_id: `${hash}-v1`, stored_at: '2026-01-02T03:04:05.006Z' } as never;
    await cache.storage.put(cache.layout.versionEntry(v1), encodeRecord(v1));
    await cache.storage.put(cache.layout.temporal(v1), encodeRecord(v1));
    expect(await cache.delete(NS, { hash, version: 1 })).toEqual({ deleted: [`${hash}-v1`], contentRemoved: false, bytesFreed: 0 });
    expect((await verifyStore(cache)).problems).toEqual([]);
    expect((await cache.record(NS, { hash })).version).toBe(2);
  });

  it('verify --repair moves the broken record (and bytes no valid version uses) to the quarantine; a second repair of the same keys keeps the first one\'s copies', async () => {
    const { cache, hash, recordKey } = await storeWithDamagedRecord({ source: 42 });
    const contentKey = cache.layout.content(NS, hash as CacheHash);
    const repaired = await verifyStore(cache, { repair: true });
    expect(repaired.repaired).toEqual([{ kind: 'corrupt', key: recordKey, action: `removed v1 (moved to ${QUARANTINE_PREFIX}${recordKey}, ${QUARANTINE_PREFIX}${contentKey})` }]);
    const first = await cache.storage.get(`${QUARANTINE_PREFIX}${recordKey}`);
    expect(await cache.storage.exists(`${QUARANTINE_PREFIX}${contentKey}`)).toBe(true);
    expect(await cache.storage.exists(contentKey)).toBe(false);
    expect((await verifyStore(cache)).problems).toEqual([]);

    // The same entry stored and damaged again: its copies go beside the first ones, never over them.
    const stored = await cache.store(NS, { source: bytes('damaged entry'), name: 'again.txt' });
    // Its index entry too (in a local folder they are one file): no good copy to restore it from.
    const entryKey = stored.keys.find((key) => key.startsWith(cache.layout.versionsPrefix(NS, stored.hash)))!;
    for (const key of [recordKey, entryKey]) await cache.storage.put(key, new TextEncoder().encode('{"damaged": "round 2'));
    const again = await verifyStore(cache, { repair: true });
    expect(again.repaired).toEqual([{ kind: 'corrupt', key: recordKey, action: `removed v1 (moved to ${QUARANTINE_PREFIX}${recordKey}.2, ${QUARANTINE_PREFIX}${contentKey}.2)` }]);
    expect(await cache.storage.get(`${QUARANTINE_PREFIX}${recordKey}`)).toEqual(first);
    expect(new TextDecoder().decode((await cache.storage.get(`${QUARANTINE_PREFIX}${recordKey}.2`))!)).toBe('{"damaged": "round 2');
    expect(await cache.storage.exists(`${QUARANTINE_PREFIX}${contentKey}.2`)).toBe(true);
  });
});

describe('hostile input: a damaged record through the CLI', () => {
  it('verify exits 1 naming the record (not 3 with "URI malformed"), delete removes it, then verify is clean', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hostile-records-'));
    const { hash, recordKey } = await storeWithDamagedRecord({ source: '\ud800' }, new CacheService(await LocalFolderStorage.open(dir)));
    const report = await cli(['--store', dir, '--json', 'verify']);
    expect(report).toMatchObject({ code: 1, stderr: expect.stringMatching(/^cache-admin: note: a repair would move orphans and damaged records to _quarantine\/[^\n]*\n$/) }); // the note on what a repair does, nothing else
    expect(JSON.parse(report.stdout).problems).toEqual([expect.objectContaining({ kind: 'corrupt', key: recordKey })]);
    expect((await cli(['--store', dir, '--ns', NS, 'delete', hash])).code).toBe(0);
    expect(await cli(['--store', dir, 'verify'])).toMatchObject({ code: 0 });
  });
});

describe('hostile input: stored content damaged on disk', () => {
  it('a pipe planted at the name of empty content (the size it checks, 0) is replaced, never opened: the store does not hang', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hostile-content-'));
    const empty = path.join(dir, '..', `${path.basename(dir)}.empty`);
    writeFileSync(empty, '');
    const { hash } = JSON.parse((await cli(['--store', dir, '--ns', NS, '--json', 'store', empty])).stdout) as { hash: string };
    const content = path.join(dir, new CacheService(new MemoryStorage()).layout.content(NS, hash as CacheHash));
    rmSync(content);
    execFileSync('mkfifo', [content]);
    expect(JSON.parse((await cli(['--store', dir, '--ns', NS, '--json', 'store', empty])).stdout)).toMatchObject({ version: 2, deduplicated: false });
    expect(await cli(['--store', dir, 'verify'])).toMatchObject({ code: 0 });
  }, 20_000);

  it('a folder planted at its name: the store says so and leaves nothing behind, small content or spooled', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hostile-content-'));
    for (const [name, bytes] of [['small.txt', 1_000], ['big.bin', 9 << 20]] as const) {
      const source = path.join(dir, '..', `${path.basename(dir)}-${name}`);
      writeFileSync(source, Buffer.alloc(bytes, name));
      const { hash } = JSON.parse((await cli(['--store', dir, '--ns', NS, '--json', 'store', source])).stdout) as { hash: string };
      const contentKey = new CacheService(new MemoryStorage()).layout.content(NS, hash as CacheHash);
      const content = path.join(dir, contentKey);
      rmSync(content);
      mkdirSync(path.join(content, 'inside'), { recursive: true });
      const before = readdirSync(dir, { recursive: true }).map(String).sort();
      const refused = await cli(['--store', dir, '--ns', NS, 'store', source]);
      expect(refused.code).toBeGreaterThan(0);
      expect(refused.stderr).toContain(`${contentKey}: it is a folder`);
      expect(readdirSync(dir, { recursive: true }).map(String).sort()).toEqual(before); // no temp file, no record
    }
  }, 20_000);

  it.each([
    ['a flipped byte', (file: string) => writeFileSync(file, Buffer.from(readFileSync(file).map((x, i) => (i === 3 ? x ^ 0xff : x))))],
    ['a torn copy', (file: string) => writeFileSync(file, readFileSync(file).subarray(0, -2))],
    // A link is never followed in the store; this one's size (its target's name) is the content's.
    ['a link planted at its name', (file: string) => (rmSync(file), symlinkSync('x'.repeat(29), file))],
  ])('with %s: get refuses it, storing the same bytes again puts them back, and every version reads back', async (_name, damage) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hostile-content-'));
    const source = path.join(dir, '..', `${path.basename(dir)}.txt`);
    writeFileSync(source, 'the bytes the operator stored');
    const first = await cli(['--store', dir, '--ns', NS, '--json', 'store', source]);
    const { hash } = JSON.parse(first.stdout) as { hash: string };
    const content = path.join(dir, new CacheService(new MemoryStorage()).layout.content(NS, hash as CacheHash));
    damage(content);
    const refused = await cli(['--store', dir, '--ns', NS, 'get', hash]);
    expect(refused.code).toBeGreaterThan(0); // 3 corrupt, or 1 for the link: content missing
    expect(refused.stdout).toBe('');

    const again = await cli(['--store', dir, '--ns', NS, '--json', 'store', source]);
    expect(JSON.parse(again.stdout)).toMatchObject({ version: 2, deduplicated: false });
    for (const version of ['1', '2']) {
      expect(await cli(['--store', dir, '--ns', NS, 'get', hash, '--version', version])).toMatchObject({ code: 0, stdout: 'the bytes the operator stored' });
    }
    expect(await cli(['--store', dir, 'verify'])).toMatchObject({ code: 0 });
  });

  it.each([
    ['bytes that arrive in one piece', (_file: string, big: Buffer) => ({ kind: 'bytes' as const, bytes: big })],
    ['a file, spooled as it is hashed', (file: string) => ({ kind: 'file' as const, path: file })],
  ])('over 64 MiB, where a same-size copy is judged by its size: storing the same content again mends a flipped byte (%s)', async (_how, sourceOf) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hostile-content-'));
    const cache = new CacheService(await LocalFolderStorage.open(dir));
    const big = Buffer.alloc(65 << 20, 'big content ');
    const file = `${dir}.bin`;
    writeFileSync(file, big);
    const source = () => sourceOf(file, big);
    const first = await cache.store(NS, { source: source() });
    const content = path.join(dir, cache.layout.content(NS, first.hash));
    writeFileSync(content, Buffer.from(readFileSync(content).map((x, i) => (i === 3 ? x ^ 0xff : x))));
    const read = async (version: number) => Buffer.concat(await (await cache.retrieve(NS, { hash: first.hash, version })).content.toArray());
    await expect(read(1)).rejects.toMatchObject({ code: 'corrupt' });

    expect(await cache.store(NS, { source: source() })).toMatchObject({ version: 2, deduplicated: true });
    for (const version of [1, 2]) expect((await read(version)).equals(big)).toBe(true);
    expect((await verifyStore(cache)).problems).toEqual([]);
    expect(readdirSync(dir, { recursive: true }).map(String).filter((name) => name.includes('.tmp-'))).toEqual([]); // no staged copy or temp link left
    rmSync(file);
  }, 20_000);

  it.each([
    ['bytes that arrive in one piece', (_file: string, big: Buffer) => ({ kind: 'bytes' as const, bytes: big })],
    ['a file, spooled as it is hashed', (file: string) => ({ kind: 'file' as const, path: file })],
  ])('over 64 MiB, a renewal of the copy there that fails (a rename refused) still stores the version, counting on that copy as before (%s)', async (_how, sourceOf) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hostile-content-'));
    const storage = await LocalFolderStorage.open(dir);
    const cache = new CacheService(storage);
    const big = Buffer.alloc(65 << 20, 'renewed ');
    const file = `${dir}.bin`;
    writeFileSync(file, big);
    const first = await cache.store(NS, { source: sourceOf(file, big) });
    const io = (storage as unknown as { io: { rename: (from: string, to: string) => Promise<void> } }).io;
    const rename = io.rename;
    const content = path.join(dir, cache.layout.content(NS, first.hash));
    io.rename = async (from, to) => (to === content ? Promise.reject(Object.assign(new Error('EPERM: operation not permitted'), { code: 'EPERM' })) : rename(from, to));
    try {
      expect(await cache.store(NS, { source: sourceOf(file, big) })).toMatchObject({ version: 2, deduplicated: true });
    } finally {
      io.rename = rename;
    }
    expect(readFileSync(content).equals(big)).toBe(true);
    expect(readdirSync(dir, { recursive: true }).map(String).filter((name) => name.includes('.tmp-'))).toEqual([]);
    rmSync(file);
  }, 20_000);
});
