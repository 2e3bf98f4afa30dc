import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
/**
 * One behavioural suite for every StorageBackend and for the cache service on top of it.
 * Each backend's test file calls these with a factory; nothing here knows which backend it runs on.
 */
import { describe, expect, it } from 'vitest';
import { IO_ALIGN, RING_BUFFER_BYTES } from '../buffer-ring';
import { CacheService } from '../cache-service';
import { CacheError } from '../../../src-shared/errors';
import { READ_CHUNK, cacheHashOf } from '../hashing';
import { CountingStorage } from './counting';
import type { StorageBackend } from './types';

export interface BackendFactory {
  /** A fresh, empty backend. */
  create(): Promise<StorageBackend>;
  /** A second handle on the same storage, as another process would open it (restarts). */
  reopen?(backend: StorageBackend): Promise<StorageBackend>;
}

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array | null) => (data === null ? null : new TextDecoder().decode(data));
const code = (c: string) => expect.objectContaining({ code: c });

async function collect(stream: AsyncIterable<Uint8Array> | null): Promise<Buffer | null> {
  if (!stream) return null;
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts);
}

async function allKeys(storage: StorageBackend, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await storage.list(prefix, { cursor });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.cursor;
  } while (cursor);
  return keys;
}

/** `data` in chunks of varying, mostly unaligned sizes. */
async function* unevenChunks(data: Uint8Array): AsyncIterable<Uint8Array> {
  const sizes = [1, 65_536 + 13, 4095, 1 << 20, 300_000];
  for (let at = 0, i = 0; at < data.byteLength; i++) {
    const n = sizes[i % sizes.length]!;
    yield data.subarray(at, at + n);
    at += n;
  }
}

export function storageConformance(name: string, factory: BackendFactory): void {
  describe(`${name}: storage interface`, () => {
    it('puts, gets, streams, checks existence and deletes', async () => {
      const s = await factory.create();
      expect(await s.put('a/b/c.txt', bytes('hello'))).toBe(true);
      expect(text(await s.get('a/b/c.txt'))).toBe('hello');
      expect((await collect(await s.getStream('a/b/c.txt')))?.toString()).toBe('hello');
      expect(await s.exists('a/b/c.txt')).toBe(true);
      expect(await s.exists('a/b')).toBe(false);
      await s.put('a/b/c.txt', bytes('replaced'));
      expect(text(await s.get('a/b/c.txt'))).toBe('replaced');
      await s.delete('a/b/c.txt');
      expect(await s.get('a/b/c.txt')).toBeNull();
      expect(await s.getStream('a/b/c.txt')).toBeNull();
      expect(await s.exists('a/b/c.txt')).toBe(false);
      await s.delete('a/b/c.txt'); // deleting what is gone is not an error
    });

    it('create-only put refuses to overwrite', async () => {
      const s = await factory.create();
      expect(await s.put('k/one', bytes('first'), { ifAbsent: true, durable: true })).toBe(true);
      expect(await s.put('k/one', bytes('second'), { ifAbsent: true })).toBe(false);
      expect(text(await s.get('k/one'))).toBe('first');
    });

    it('a put waiting on another write appears only after it, and not at all if it fails', async () => {
      const s = await factory.create();
      let release!: () => void;
      const placed = new Promise<void>((resolve) => (release = resolve));
      const writing = s.put('after/ok', bytes('record'), { ifAbsent: true, durable: true, after: placed });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await s.exists('after/ok')).toBe(false);
      release();
      expect(await writing).toBe(true);
      expect(text(await s.get('after/ok'))).toBe('record');

      const failed = Promise.reject(new CacheError('internal', 'the content could not be placed'));
      failed.catch(() => undefined);
      await expect(s.put('after/failed', bytes('record'), { ifAbsent: true, durable: true, after: failed })).rejects.toThrow('could not be placed');
      expect(await s.exists('after/failed')).toBe(false);
      expect((await s.list('after/')).objects.map((o) => o.key)).toEqual(['after/ok']);
      expect((await s.leftovers()) ?? []).toEqual([]); // no temp file left behind
    });

    it('create-only put lets exactly one of many concurrent writers win', async () => {
      const s = await factory.create();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.put('race/key', bytes(`w${i}`), { ifAbsent: true })));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(text(await s.get('race/key'))).toBe(`w${results.indexOf(true)}`);
    });

    it('create-only copy lets exactly one of many concurrent copies win, and a missing source is not_found', async () => {
      const s = await factory.create();
      for (let i = 0; i < 12; i++) await s.put(`from/${i}`, bytes(`source ${i}`));
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => s.copy(`from/${i}`, 'race/copy', { ifAbsent: true })));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(text(await s.get('race/copy'))).toBe(`source ${results.indexOf(true)}`);
      await expect(s.copy('from/missing', 'race/other', { ifAbsent: true })).rejects.toThrow(code('not_found'));
      expect(await s.exists('race/other')).toBe(false);
    });

    it('lists in key order with sizes, folds folders with a delimiter, and pages with a cursor', async () => {
      const s = await factory.create();
      for (const k of ['p/a', 'p/b/1', 'p/b/2', 'p/c', 'p.x', 'q/1']) await s.put(k, bytes(k));
      const flat = await s.list('p/');
      expect(flat.objects.map((o) => o.key)).toEqual(['p/a', 'p/b/1', 'p/b/2', 'p/c']);
      expect(flat.objects[0]!.size).toBe(3);
      expect(flat.cursor).toBeUndefined();
      const folded = await s.list('p/', { delimiter: '/' });
      expect(folded.objects.map((o) => o.key)).toEqual(['p/a', 'p/c']);
      expect(folded.prefixes).toEqual(['p/b/']);
      const top = await s.list('', { delimiter: '/' });
      expect(top.prefixes).toEqual(['p/', 'q/']);
      expect(top.objects.map((o) => o.key)).toEqual(['p.x']);
      const partial = await s.list('p/b');
      expect(partial.objects.map((o) => o.key)).toEqual(['p/b/1', 'p/b/2']);
      const first = await s.list('p/', { limit: 2 });
      expect(first.objects.map((o) => o.key)).toEqual(['p/a', 'p/b/1']);
      const second = await s.list('p/', { limit: 2, cursor: first.cursor });
      expect(second.objects.map((o) => o.key)).toEqual(['p/b/2', 'p/c']);
      expect(await s.list('nothing/')).toEqual({ objects: [], prefixes: [] });
    });

    it('pages past 1,000 keys without losing or repeating any', async () => {
      const s = await factory.create();
      const keys = Array.from({ length: 2345 }, (_, i) => `many/${String(i).padStart(5, '0')}`);
      for (let i = 0; i < keys.length; i += 100) await Promise.all(keys.slice(i, i + 100).map((k) => s.put(k, new Uint8Array(0))));
      const pages: number[] = [];
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await s.list('many/', { cursor });
        pages.push(page.objects.length);
        seen.push(...page.objects.map((o) => o.key));
        cursor = page.cursor;
      } while (cursor);
      expect(seen).toEqual(keys);
      expect(pages.length).toBeLessThanOrEqual(4);
      expect(pages[0]).toBe(1000);
    });

    it.each(['../escape', 'a/../../b', '.hidden', 'a/.tmp-1', 'nul\u0000', '', 'x'.repeat(1025), 'a/b c\u0007'])(
      'rejects the key %j with invalid_key, to write, read or delete',
      async (key) => {
        const s = await factory.create();
        await expect(s.put(key, bytes('x'))).rejects.toThrow(code('invalid_key'));
        await expect(s.get(key)).rejects.toThrow(code('invalid_key'));
        await expect(s.delete(key)).rejects.toThrow(code('invalid_key'));
        expect(await allKeys(s)).toEqual([]);
      },
    );

    // The service's cache keys may hold these; what it wrote must be readable and deletable.
    it.each(['/abs', 'a//b', 'a/./b', 'a\\b', 'a/my page', 'a/.well-known/b', 'a/x/../b'])('never writes the key %j, and reads or deletes it as nothing there', async (key) => {
      const s = await factory.create();
      await expect(s.put(key, bytes('x'))).rejects.toThrow(code('invalid_key'));
      expect(await s.get(key)).toBeNull();
      await s.delete(key);
      expect(await allKeys(s)).toEqual([]);
    });

    it('stages streamed content with its SHA-256, then commits it create-only', async () => {
      const s = await factory.create();
      const chunks = [bytes('hello '), bytes('world')];
      const staged = await s.stage({ kind: 'stream', stream: (async function* () { yield* chunks; })() });
      expect(staged.size).toBe(11);
      expect(staged.sha256.slice(0, 16)).toBe('b94d27b9934d3e08');
      expect(await staged.commit('c/hw')).toBe('created');
      await staged.discard();
      const again = await s.stage({ kind: 'bytes', bytes: bytes('hello world') });
      expect(await again.commit('c/hw')).toBe('exists');
      await again.discard();
      expect(text(await s.get('c/hw'))).toBe('hello world');
      expect(await allKeys(s)).toEqual(['c/hw']);
    });

    it('a commit over other bytes at its key (a torn copy, a flipped byte) replaces them, small or streamed', async () => {
      const s = await factory.create();
      const big = Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 7) % 251); // streamed in 1 MiB chunks: a local folder spools it
      for (const [name, content] of [['small', bytes('hello world')], ['big', big]] as const) {
        const flipped = Uint8Array.from(content);
        flipped[5]! ^= 0xff;
        for (const [how, bad] of [['torn', content.subarray(0, content.length - 1)], ['flipped', flipped]] as const) {
          const key = `c/${name}-${how}`;
          await s.put(key, bad);
          const stream = (async function* () {
            for (let at = 0; at < content.length; at += 1 << 20) yield content.subarray(at, at + (1 << 20));
          })();
          const staged = await s.stage({ kind: 'stream', stream });
          expect(await staged.commit(key), key).toBe('created');
          await staged.discard();
          expect(Buffer.compare(Buffer.from((await s.get(key))!), Buffer.from(content)), key).toBe(0);
          const again = await s.stage({ kind: 'bytes', bytes: content });
          expect(await again.commit(key), key).toBe('exists');
          await again.discard();
        }
      }
    });

    it('stages files of every size around the read and write chunk boundaries byte-exact', async () => {
      const s = await factory.create();
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-sizes-'));
      try {
        const ring = RING_BUFFER_BYTES;
        for (const size of [0, 1, READ_CHUNK - 1, READ_CHUNK, ring, ring + 1, 2 * ring + IO_ALIGN, 6 * ring - 1]) {
          const data = randomBytes(size);
          const file = path.join(dir, `f${size}`);
          await fs.writeFile(file, data);
          const staged = await s.stage({ kind: 'file', path: file });
          const sha256 = createHash('sha256').update(data).digest('hex');
          expect({ size: staged.size, sha256: staged.sha256 }).toEqual({ size, sha256 });
          expect(await staged.commit(`c/${size}`)).toBe('created');
          await staged.discard();
          const back = await s.get(`c/${size}`);
          expect(back && createHash('sha256').update(back).digest('hex')).toBe(sha256);
          // The same bytes streamed in uneven chunks (as uploads arrive) land byte-exact too.
          const streamed = await s.stage({ kind: 'stream', stream: unevenChunks(data) });
          expect({ size: streamed.size, sha256: streamed.sha256 }).toEqual({ size, sha256 });
          expect(await streamed.commit(`s/${size}`)).toBe('created');
          await streamed.discard(); // S3 drops its spool file here
          const backStreamed = await s.get(`s/${size}`);
          expect(backStreamed && createHash('sha256').update(backStreamed).digest('hex')).toBe(sha256);
        }
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it('stops staging past the size limit and leaves nothing behind', async () => {
      const s = await factory.create();
      await expect(s.stage({ kind: 'bytes', bytes: new Uint8Array(100) }, { maxBytes: 99 })).rejects.toThrow(code('too_large'));
      expect(await allKeys(s)).toEqual([]);
    });
  });

  describe(`${name}: cache service`, () => {
    const open = async () => {
      const counting = new CountingStorage(await factory.create());
      return { counting, cache: new CacheService(counting) };
    };
    const src = (t: string) => ({ source: { kind: 'bytes' as const, bytes: bytes(t) } });

    it('stores the same content twice as versions 1 and 2 with the bytes stored once', async () => {
      const { cache, counting } = await open();
      const a = await cache.store('default', { ...src('hello world'), name: 'a.txt' });
      const b = await cache.store('default', { ...src('hello world'), name: 'b.txt' });
      expect([a.cache_id, a.deduplicated, b.cache_id, b.deduplicated]).toEqual(['b94d27b9934d3e08-v1', false, 'b94d27b9934d3e08-v2', true]);
      const keys = await allKeys(counting, 'default/');
      expect(keys.filter((k) => k.endsWith('/b94d27b9934d3e08'))).toEqual(['default/objects/b9/4d/b94d27b9934d3e08']);
      expect(b.keys).not.toContain('default/objects/b9/4d/b94d27b9934d3e08');
      expect(a.keys).toContain('default/objects/b9/4d/b94d27b9934d3e08');
    });

    it('retrieves by hash (latest), by cache id and by version in at most 2 reads each', async () => {
      const { cache, counting } = await open();
      await cache.store('default', { ...src('x'), name: 'first' });
      await cache.store('default', { ...src('x'), name: 'second' });
      const hash = cacheHashOf('x');
      for (const [lookup, expected] of [
        [{ hash }, 'second'],
        [{ hash, version: 1 }, 'first'],
        [{ hash, version: 2 }, 'second'],
      ] as const) {
        counting.reset();
        const { record, content } = await cache.retrieve('default', lookup);
        expect((await collect(content))?.toString()).toBe('x');
        expect(record.source).toBe(expected);
        expect(counting.reads).toBeLessThanOrEqual(2);
        expect(counting.counts.exists).toBe(0);
      }
    });

    it('lists versions ascending in one list call per 1,000 versions', async () => {
      const { cache, counting } = await open();
      // 8 stores at a time: a remote store takes ~10 requests each, and only allocation is serialized.
      for (let i = 1; i <= 1005; i += 8) {
        await Promise.all(Array.from({ length: Math.min(8, 1006 - i) }, (_, j) => cache.store('ns1', { ...src('same'), name: `f${i + j}.txt` })));
      }
      counting.reset();
      const versions = await cache.versions('ns1', cacheHashOf('same'));
      expect(versions.map((v) => v.version)).toEqual(Array.from({ length: 1005 }, (_, i) => i + 1));
      expect(versions[1004]).toMatchObject({ cache_id: `${cacheHashOf('same')}-v1005`, size: 4, source: expect.stringMatching(/^f\d+\.txt$/) });
      expect(new Set(versions.map((v) => v.source)).size).toBe(1005); // each store's own name, from the listing alone
      expect(counting.counts.list).toBe(2);
      expect(counting.counts.get + counting.counts.getStream).toBe(0);
    }, 300_000); // ~10,000 requests on S3: minutes on a busy 2-core machine

    it('writes a constant number of objects per store however many versions exist', async () => {
      const { cache, counting } = await open();
      const writesOf = async () => {
        counting.reset();
        await cache.store('default', src('grow'));
        return counting.writes;
      };
      const first = await writesOf();
      const second = await writesOf();
      for (let i = 0; i < 40; i++) await cache.store('default', src('grow'));
      expect(await writesOf()).toBe(second);
      expect(first).toBe(5);
      expect(second).toBe(5);
    });

    it('keeps versions across a restart', async () => {
      const backend = await factory.create();
      await new CacheService(backend).store('default', src('persist'));
      const reopened = factory.reopen ? await factory.reopen(backend) : backend;
      const again = await new CacheService(reopened).store('default', src('persist'));
      expect(again.version).toBe(2);
      expect((await new CacheService(reopened).versions('default', again.hash)).length).toBe(2);
    });

    it('isolates namespaces', async () => {
      const { cache } = await open();
      const a = await cache.store('team-a', src('shared'));
      const b = await cache.store('team-b', src('shared'));
      expect([a.version, b.version, b.deduplicated]).toEqual([1, 1, false]);
      await cache.delete('team-a', { hash: a.hash });
      await expect(cache.record('team-a', { hash: a.hash })).rejects.toThrow(code('not_found'));
      expect((await cache.record('team-b', { hash: a.hash })).cache_id).toBe(b.cache_id);
    });

    it('reports namespaces and exact stats from storage', async () => {
      const { cache } = await open();
      await cache.store('alpha', src('one'));
      await cache.store('alpha', src('one'));
      await cache.store('alpha', src('three'));
      await cache.store('beta', src('22'));
      expect(await cache.namespaces()).toEqual([
        { name: 'alpha', entries: 2, versions: 3, bytes: 8 },
        { name: 'beta', entries: 1, versions: 1, bytes: 2 },
      ]);
      // 2 content + 3 records + 3 version entries + 2 latest + 3 temporal
      const stats = await cache.stats('alpha');
      expect(stats).toEqual({ namespace: 'alpha', entries: 2, versions: 3, bytes: 8, objects: 13, shards: expect.any(Object) });
      const shardOf = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 2);
      const expected: Record<string, number> = {};
      for (const text of ['one', 'three']) expected[shardOf(text)] = (expected[shardOf(text)] ?? 0) + 1;
      expect(stats.shards).toEqual(expected);
    });

    it('deletes one version and then the last one, taking the bytes with it', async () => {
      const { cache, counting } = await open();
      await cache.store('default', { ...src('del'), name: 'v1' });
      await cache.store('default', { ...src('del'), name: 'v2' });
      const hash = cacheHashOf('del');
      expect(await cache.delete('default', { hash, version: 2 })).toEqual({ deleted: [`${hash}-v2`], contentRemoved: false, bytesFreed: 0 });
      expect((await cache.record('default', { hash })).source).toBe('v1');
      expect((await cache.versions('default', hash)).map((v) => v.version)).toEqual([1]);
      expect(await cache.delete('default', { hash, version: 1 })).toEqual({ deleted: [`${hash}-v1`], contentRemoved: true, bytesFreed: 'del'.length });
      expect(await allKeys(counting)).toEqual([]);
      await expect(cache.delete('default', { hash })).rejects.toThrow(code('not_found'));
    });

    it('stores empty content as a real, retrievable entry', async () => {
      const { cache } = await open();
      const r = await cache.store('default', src(''));
      expect(r.hash).toBe('e3b0c44298fc1c14');
      const { content, record } = await cache.retrieve('default', { hash: r.hash });
      expect((await collect(content))?.length).toBe(0);
      expect(record.size).toBe(0);
    });

    it('hashes JSON stored "as JSON" over the Python canonical text', async () => {
      const { cache } = await open();
      const r = await cache.store('default', { source: { kind: 'bytes', bytes: bytes('{"b": 2,\n "a": 1}') }, as: 'json' });
      expect(r.hash).toBe('d8497d9d82770a70');
      const { content, record } = await cache.retrieve('default', { hash: r.hash });
      expect((await collect(content))?.toString()).toBe('{"a": 1, "b": 2}');
      expect(record.content_type).toBe('application/json');
    });

    it('rejects bad input with a typed error and writes nothing', async () => {
      const { cache, counting } = await open();
      await expect(cache.store('../evil', src('x'))).rejects.toThrow(code('invalid_namespace'));
      await expect(cache.store('default', { source: { kind: 'bytes', bytes: bytes('{nope') }, as: 'json' })).rejects.toThrow(code('invalid_json'));
      const limited = new CacheService(counting, { maxEntryBytes: 4 });
      await expect(limited.store('default', src('12345'))).rejects.toThrow(code('too_large'));
      expect(await allKeys(counting)).toEqual([]);
    });

    it('rejects a lookup whose SHA-256 does not match the entry', async () => {
      const { cache } = await open();
      const r = await cache.store('default', src('sha'));
      await expect(cache.record('default', { hash: r.hash, sha256: '0'.repeat(64) })).rejects.toThrow(code('not_found'));
    });

    it('gives concurrent stores of one content distinct consecutive versions', async () => {
      const { cache } = await open();
      const results = await Promise.all(Array.from({ length: 50 }, () => cache.store('default', src('concurrent'))));
      expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect((await cache.record('default', { hash: results[0]!.hash })).version).toBe(50);
    });
  });
}
