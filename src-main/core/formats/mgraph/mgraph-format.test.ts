import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheError } from '../../../../src-shared/errors';
import { FaultProxy } from '../../../test-support/fault-proxy';
import { EMULATOR_NAME, s3ServerName, startS3, type S3Endpoint } from '../../../test-support/s3-emulator';
import { LocalFolderStorage } from '../../storage/local';
import { MemoryStorage } from '../../storage/memory';
import { CountingStorage } from '../../storage/counting';
import { S3Storage } from '../../storage/s3';
import type { StorageBackend } from '../../storage/types';
import { detectFormat } from '../detect';
import { collect } from '../format';
import { expectedContent, fixtureKeys, loadFixture, readJsonl, storedByCacheId } from './fixture';
import { MgraphFormat } from './mgraph-format';
import { refByHashKey, refByIdKey } from './keys';

let s3: S3Endpoint;
let proxy: FaultProxy;
let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-mgraph-'));
  s3 = await startS3('mgraph-ai-cache');
  proxy = await new FaultProxy(s3.endpoint, { conditionalWrites: true }).start();
});
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

let stores = 0;
/** Each backend fresh; S3 with an empty prefix (the service keeps its keys at the bucket root), in a bucket of its own. */
const backends: [string, () => Promise<StorageBackend>][] = [
  ['memory', async () => new MemoryStorage()],
  ['local folder', async () => LocalFolderStorage.open(path.join(tmp, `store-${stores++}`))],
  [
    's3 (bucket root)',
    async () => {
      const storage = await S3Storage.open({ bucket: s3.bucket, prefix: '', region: s3.region, endpoint: proxy.endpoint, forcePathStyle: true, credentials: s3.credentials, maxAttempts: 2 });
      for (let page = await storage.list(''); page.objects.length > 0; page = await storage.list('')) for (const o of page.objects) await storage.delete(o.key);
      return storage;
    },
  ],
];

const utf8 = (b: Uint8Array) => Buffer.from(b).toString('utf8');
describe.each(backends)('service layout on %s', (_name, open) => {
  let format: MgraphFormat;
  beforeAll(async () => {
    const storage = await open();
    expect(await loadFixture(storage)).toBe(163);
    format = new MgraphFormat(storage);
  });

  it('is detected as the service layout and understands every fixture key (163/163)', async () => {
    expect((await detectFormat(format.storage)).format).toBe('mgraph');
    const kinds = await Promise.all(fixtureKeys().map((k) => format.describeKey(k)));
    expect(kinds.filter((k) => k.kind === 'unknown').map((k) => k.key)).toEqual([]);
    expect(new Set(kinds.map((k) => k.kind))).toEqual(new Set(['ref_by_hash', 'ref_by_id', 'content', 'sidecar_config', 'sidecar_metadata', 'child_data']));
  });

  it('counts namespaces exactly as the service names them: entries = by-hash refs, versions = cache ids', async () => {
    const namespaces = (await format.namespaces()).sort((a, b) => (a.name < b.name ? -1 : 1));
    expect(namespaces).toEqual([
      { name: 'TeamA', entries: 2, versions: 2, bytes: 174 },
      { name: 'dups', entries: 2, versions: 5, bytes: 168 },
      { name: 'reports', entries: 14, versions: 14, bytes: 303564 },
      { name: 'site-cache', entries: 4, versions: 4, bytes: 176 },
    ]);
    expect((await format.stats('reports')).objects).toBe(99); // find store/reports -type f | wc -l
  });

  it('reads back every stored entry of every strategy and type as the service serves it (strings as text)', async () => {
    const stored = storedByCacheId();
    const results = readJsonl<{ op: string; found?: boolean; cache_id?: string; cache_hash?: string; error?: string }>('retrieve-results.jsonl');
    const asked = readJsonl<{ op: string; cache_id?: string; hash?: string; namespace: string }>('fixture-ops-3.jsonl');
    let compared = 0;
    for (const [i, q] of asked.entries()) {
      if (q.op === 'refs_hash') continue;
      const lookup = q.cache_id ? { cacheId: q.cache_id } : { hash: q.hash! };
      const answer = results[i]!;
      if (answer.found === false) {
        await expect(format.retrieve(q.namespace, lookup)).rejects.toMatchObject({ code: 'not_found' });
        continue;
      }
      const { record, content } = await format.retrieve(q.namespace, lookup);
      if (answer.found) expect([record.cache_id, record.hash]).toEqual([answer.cache_id, answer.cache_hash]);
      const op = stored.get(record.cache_id)!;
      const want = expectedContent(op);
      const got = await collect(content);
      if (want.bytes) expect(got.equals(want.bytes)).toBe(true);
      else expect(JSON.parse(utf8(got))).toEqual(want.json);
      expect(record.data_type).toBe(op.type);
      expect(record.content_encoding).toBe(op.content_encoding ?? null);
      compared++;
    }
    expect(compared).toBe(47); // every id and hash the service was asked for, its LOCAL_DISK failures (strings) included
  });

  it('lists versions oldest first from the by-hash ref; latest is its latest_id; a deleted version is gone', async () => {
    const versions = await format.versions('dups', '1f59c04c6c23d303');
    expect(versions.map((v) => [v.version, v.cache_id])).toEqual([
      [1, '59e56740-d55a-4365-8c4c-072ad8a41514'],
      [2, 'f950f89e-78ea-431f-9fd5-7cd214c17eab'],
      [3, '5ec74ec7-9f7c-41e1-bd38-3b94a8a6ff65'],
    ]);
    const latest = await format.record('dups', { hash: '1f59c04c6c23d303' });
    expect([latest.version, latest.latest_version, latest.details.strategy]).toEqual([3, 3, 'direct']);
    expect((await format.record('dups', { hash: '1f59c04c6c23d303', version: 1 })).details.strategy).toBe('temporal');
    // <hash>-v<N>, as the Versions table numbers them, is looked up too.
    expect((await format.record('dups', await format.parseLookup('dups', '1f59c04c6c23d303-V1'))).details.strategy).toBe('temporal');
    expect((await format.record('dups', await format.parseLookup('dups', '1f59c04c6c23d303-v3'))).cache_id).toBe(latest.cache_id);
    await expect(format.record('dups', await format.parseLookup('dups', '1f59c04c6c23d303-v9'))).rejects.toMatchObject({ code: 'not_found' });
    await expect(format.record('dups', { cacheId: 'e89cc78d-2c0b-4503-92ec-9d293d2f9f9c' })).rejects.toMatchObject({ code: 'not_found' });
  });

  it('gives operators the layout facts: strategy, file id, cache key, json_field_path, every path, child data', async () => {
    const about = await format.record('site-cache', await format.parseLookup('site-cache', 'cea0fc4b-e33e-426b-a913-034d27eb94a4'));
    expect(about.details).toMatchObject({ strategy: 'key_based', file_id: 'page', cache_key: 'example.com/about', json_field_path: 'url' });
    expect(about.keys.map((k) => k.key)).toContain('site-cache/data/key-based/example.com/about/page.json.metadata');
    const versioned = await format.record('reports', { hash: '20468753006bc152' });
    expect(versioned.keys.filter((k) => k.role.startsWith('content')).map((k) => k.role)).toEqual(['content', 'content (latest copy)', 'content (versions copy)']);
    expect(versioned.keys).toHaveLength(11);
    const parent = await format.record('reports', await format.parseLookup('reports', 'reports/data/direct/67/3b/673ba2a8-1dd7-4ecc-b702-9cc49e44f642/data/note.txt'));
    expect(parent.child_data.map((c) => c.key.split('/').slice(-2).join('/'))).toEqual(['analysis/summary.json', 'data/note.txt']);
    expect(parent.stored_at).toBe('2026-12-02T10:47:05.143Z');
  });

  it('verifies the untouched store clean, reading each file once (a sidecar is not read again for the re-hash)', async () => {
    const reads: string[] = [];
    const recording = new (class extends CountingStorage {
      override get(key: string, options?: Parameters<StorageBackend['get']>[1]) {
        reads.push(key);
        return super.get(key, options);
      }
    })(format.storage);
    const report = await new MgraphFormat(recording).verify({ orphanGraceMs: 0 });
    expect(report.problems).toEqual([]);
    expect(report.checked).toBeGreaterThanOrEqual(163);
    expect(reads.filter((key) => key.endsWith('.metadata')).length).toBeGreaterThan(10);
    expect(reads.filter((key, i) => reads.indexOf(key) !== i)).toEqual([]);
  });
});

describe('paths the service spelled with ".." (its cache keys take them)', () => {
  const json = (text: string, cacheKey: string, fileId: string) => ({ source: { kind: 'bytes' as const, bytes: new TextEncoder().encode(text) }, as: 'json' as const, options: { strategy: 'key_based', cache_key: cacheKey, file_id: fileId } });
  /** Rewrites an entry's by-id ref (and, with `move`, its objects) as the service writes cache key `spelled` where we stored `written`. */
  async function respell(format: MgraphFormat, cacheId: string, written: string, spelled: string, move?: (from: string, to: string) => Promise<void>) {
    const refKey = `dots/refs/by-id/${cacheId.slice(0, 2)}/${cacheId.slice(2, 4)}/${cacheId}.json`;
    const ref = new TextDecoder().decode((await format.storage.get(refKey))!);
    const keys = (JSON.parse(ref) as { all_paths: { data: string[] } }).all_paths.data;
    if (move) for (const key of keys) await move(key, key.replace(written, spelled));
    await format.storage.put(refKey, new TextEncoder().encode(ref.split(written).join(spelled)));
  }

  // The s3rver emulator takes "x/../y/v.json" for y/v.json, so only a real S3 server can hold the service's spelling.
  it.skipIf(s3ServerName() === EMULATOR_NAME)('on S3 a path is its object\'s name: "x/../y/v.json" is read and deleted as itself, never as y/v.json, another entry\'s (needs a real S3 server, not the s3rver emulator)', async () => {
    const storage = await backends[2]![1]();
    const format = new MgraphFormat(storage);
    const raw = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: s3.credentials });
    const victim = await format.store('dots', json('{"victim": true}', 'y', 'v'));
    const mine = await format.store('dots', json('{"a": 1}', 'x', 'v'));
    // As the service's S3 store writes cache key "x/../y": the path's text is the object's name.
    await respell(format, mine.cache_id, 'key-based/x/', 'key-based/x/../y/', async (from, to) => {
      await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: to, Body: (await storage.get(from))! }));
      await storage.delete(from);
    });
    expect(JSON.parse(new TextDecoder().decode(await collect((await format.retrieve('dots', { hash: mine.hash })).content)))).toEqual({ a: 1 });
    expect((await format.verify({ namespace: 'dots', orphanGraceMs: 0 })).problems).toEqual([]);
    await format.delete('dots', { hash: mine.hash });
    expect(JSON.parse(new TextDecoder().decode(await collect((await format.retrieve('dots', { hash: victim.hash })).content)))).toEqual({ victim: true });
    const left = (await storage.list('dots/data/')).objects.map((o) => o.key);
    expect(left.some((key) => key.includes('/x/'))).toBe(false); // its own objects went
    raw.destroy();
  });

  it.each([0, 1])('in a folder one file is one file however spelled: a delete keeps what another entry names, and never deletes a ref through a data path (%#)', async (backend) => {
    const format = new MgraphFormat(await backends[backend]![1]());
    const victim = await format.store('dots', json('{"victim": true}', 'y', 'v'));
    // Two stores at one key_based path share its file (the service's quirk); one names it "x/../y".
    const mine = await format.store('dots', json('{"victim": true}', 'y', 'v'));
    await respell(format, mine.cache_id, 'key-based/y/', 'key-based/x/../y/');
    // A cache key that climbs into refs/: in a folder its content path is another hash's by-hash ref.
    const other = await format.store('dots', json('{"b": 2}', 'z', 'w'));
    const victimRef = `dots/refs/by-hash/${victim.hash.slice(0, 2)}/${victim.hash.slice(2, 4)}/${victim.hash}.json`;
    await respell(format, other.cache_id, 'dots/data/key-based/z/w.json', `dots/data/key-based/../../${victimRef.slice('dots/'.length)}`);
    await format.delete('dots', { cacheId: mine.cache_id });
    await format.delete('dots', { cacheId: other.cache_id });
    expect(await format.storage.exists(victimRef)).toBe(true);
    expect(JSON.parse(new TextDecoder().decode(await collect((await format.retrieve('dots', { cacheId: victim.cache_id })).content)))).toEqual({ victim: true });
  });
});

describe('verify --repair while stores run (the service layout has no lock across processes)', () => {
  const text = (t: string) => ({ source: { kind: 'bytes' as const, bytes: new TextEncoder().encode(t) } });
  const hashRefKey = (hash: string) => `race/refs/by-hash/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}.json`;
  async function addToHashRef(storage: StorageBackend, hash: string, entry: { cache_id: string; timestamp: number }) {
    const ref = JSON.parse(utf8((await storage.get(hashRefKey(hash)))!)) as { cache_ids: unknown[]; latest_id: string; total_versions: number };
    ref.cache_ids.push(entry);
    Object.assign(ref, { latest_id: entry.cache_id, total_versions: ref.cache_ids.length });
    await storage.put(hashRefKey(hash), new TextEncoder().encode(JSON.stringify(ref)));
  }

  it('a store that ends after verify listed the namespace keeps its version when the repair rebuilds that by-hash ref', async () => {
    const inner = new MemoryStorage();
    const first = await new MgraphFormat(inner).store('race', text('same bytes'));
    // A cache id an interrupted delete left behind, long ago: the repair has this ref to rebuild.
    await addToHashRef(inner, first.hash, { cache_id: '00000000-0000-4000-8000-000000000000', timestamp: Date.now() - 3_600_000 });
    let later: string | undefined;
    const racing = new (class extends CountingStorage {
      override async list(prefix: string, options?: Parameters<StorageBackend['list']>[1]) {
        const page = await super.list(prefix, options);
        // Another process's store of the same bytes ends just after the listing.
        if (prefix === 'race/' && page.cursor === undefined && !later) later = (await new MgraphFormat(inner).store('race', text('same bytes'))).cache_id;
        return page;
      }
    })(inner);
    const report = await new MgraphFormat(racing).verify({ namespace: 'race', repair: true });
    expect(report.problems.map((p) => p.kind)).toEqual(['dangling_ref']);
    expect((await new MgraphFormat(inner).versions('race', first.hash)).map((v) => v.cache_id)).toEqual([first.cache_id, later]);
  });

  it('a store whose files land after verify listed data/ but whose by-id ref is listed is no missing_content', async () => {
    const inner = new MemoryStorage();
    const stored = await new MgraphFormat(inner).store('race', text('landing late'));
    const files = stored.keys.filter((key) => key.includes('/data/'));
    const held = new Map<string, Uint8Array>();
    for (const key of files) held.set(key, (await inner.get(key))!);
    for (const key of files) await inner.delete(key);
    const late = new (class extends CountingStorage {
      override async list(prefix: string, options?: Parameters<StorageBackend['list']>[1]) {
        const page = await super.list(prefix, options);
        for (const [key, bytes] of held) await inner.put(key, bytes); // written just after the listing passed them
        held.clear();
        return page;
      }
    })(inner);
    expect((await new MgraphFormat(late).verify({ namespace: 'race' })).problems).toEqual([]);
    expect((await new MgraphFormat(inner).verify({ namespace: 'race', orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it('a cache id stored just now, its by-id ref not written yet (the service writes the by-hash ref first), or its by-hash ref not yet (we write the by-id ref first), is no problem and is kept', async () => {
    const storage = new MemoryStorage();
    const format = new MgraphFormat(storage);
    const stored = await format.store('race', text('bytes'));
    await addToHashRef(storage, stored.hash, { cache_id: '11111111-1111-4111-8111-111111111111', timestamp: Date.now() });
    const other = await format.store('race', text('other bytes'));
    await storage.delete(hashRefKey(other.hash));
    expect((await format.verify({ namespace: 'race' })).problems).toEqual([]);
    expect((await format.verify({ namespace: 'race', repair: true })).repaired).toEqual([]);
    expect((await format.versions('race', stored.hash)).map((v) => v.cache_id)).toEqual([stored.cache_id, '11111111-1111-4111-8111-111111111111']);
  });
});

describe('verify --repair of a service store on a local folder', () => {
  it("removes a killed write's temp files, in the namespace verified only", async () => {
    const dir = path.join(tmp, `store-${stores++}`);
    const format = new MgraphFormat(await LocalFolderStorage.open(dir));
    await loadFixture(format.storage);
    // Left by a writer that is gone (no process has this pid), in two namespaces' data folders.
    const inReports = path.join(dir, 'reports/data/.tmp-999999999-abcdef-0');
    const inDups = path.join(dir, 'dups/data/.tmp-999999999-abcdef-1');
    for (const file of [inReports, inDups]) await fs.writeFile(file, 'half a write');
    const leftovers = (report: { problems: { kind: string; key: string }[] }) => report.problems.filter((p) => p.kind === 'temp_leftover').map((p) => p.key);
    expect(leftovers(await format.verify({ namespace: 'reports' }))).toEqual(['reports/data/.tmp-999999999-abcdef-0']);
    const repaired = await format.verify({ namespace: 'reports', repair: true });
    expect(repaired.repaired).toEqual([{ kind: 'temp_leftover', key: 'reports/data/.tmp-999999999-abcdef-0', action: 'removed' }]);
    await expect(fs.access(inReports)).rejects.toThrow();
    await fs.access(inDups); // another namespace's: left for its own verify
    expect(leftovers(await format.verify())).toEqual(['dups/data/.tmp-999999999-abcdef-1']);
  });

  it('a data folder replaced by a link: the delete that cannot go through it says so, and verify reports the link and the files it hides (repair leaves them)', async () => {
    const dir = path.join(tmp, `store-${stores++}`);
    const format = new MgraphFormat(await LocalFolderStorage.open(dir));
    const stored = await format.store('Team_S', { source: { kind: 'bytes', bytes: new TextEncoder().encode('behind a link') }, options: { strategy: 'temporal' } });
    const content = stored.keys.find((k) => k.endsWith('.bin'))!;
    const folder = path.dirname(path.join(dir, content));
    const outside = path.join(tmp, `outside-${stores++}`);
    await fs.rename(folder, outside);
    await fs.symlink(outside, folder);
    await expect(format.delete('Team_S', { cacheId: stored.cache_id })).rejects.toThrow(/is a link inside the store; links are never followed there, so nothing was (read|written or deleted)/);
    const link = path.relative(dir, folder);
    // What is behind the link is not the store's: its files are missing from the store, and the link is named.
    const missing = stored.keys.filter((k) => k.startsWith(`${link}/`)).sort().map((key) => ['missing_content', key, `${stored.cache_id} (temporal) lists it, and it is missing`]);
    expect(missing).toHaveLength(3);
    const misplaced = [...missing, ['misplaced', link, expect.stringMatching(/^a link inside the store: reads, .* nothing behind it is listed or checked/)]];
    expect((await format.verify({ namespace: 'Team_S' })).problems.map((p) => [p.kind, p.key, p.detail])).toEqual(misplaced);
    expect((await format.verify({ namespace: 'Team_S', repair: true })).repaired).toEqual([]);
    expect((await format.verify({ namespace: 'other' })).problems).toEqual([]);
    expect(await fs.readdir(outside)).toHaveLength(3); // the content and its two sidecars, untouched
    expect((await fs.lstat(folder)).isSymbolicLink()).toBe(true);
  });
});

describe('service layout on a local folder, big files', () => {
  it('deleting an entry whose key_based file (over 64 MiB, not re-hashed) a later store wrote over leaves that file to the later entry', async () => {
    const format = new MgraphFormat(await LocalFolderStorage.open(path.join(tmp, `store-${stores++}`)));
    const big = (fill: number) => ({ source: { kind: 'bytes' as const, bytes: new Uint8Array(65 << 20).fill(fill) }, options: { strategy: 'key_based', cache_key: 'big/k', file_id: 'f' } });
    const first = await format.store('kb', big(1));
    const second = await format.store('kb', big(2));
    await format.delete('kb', { cacheId: first.cache_id });
    const kept = await collect((await format.retrieve('kb', { hash: second.hash })).content);
    expect([kept.length, kept[0], kept[kept.length - 1]]).toEqual([65 << 20, 2, 2]);
  });
});

describe('service layout stats on a local folder', () => {
  it('list names only and stat just the content files, never a ref or a sidecar, with the same numbers', async () => {
    const format = new MgraphFormat(await LocalFolderStorage.open(path.join(tmp, `store-${stores++}`)));
    await loadFixture(format.storage);
    const contentFiles = (await Promise.all(fixtureKeys().filter((k) => k.startsWith('reports/')).map((k) => format.describeKey(k)))).filter((k) => k.kind === 'content');
    const fsPromises = createRequire(import.meta.url)('node:fs/promises') as typeof fs;
    const lstat = fsPromises.lstat;
    const statted: string[] = [];
    fsPromises.lstat = ((...args: Parameters<typeof lstat>) => (statted.push(String(args[0])), lstat(...args))) as typeof lstat;
    syncBuiltinESMExports();
    try {
      expect(await format.stats('reports')).toMatchObject({ entries: 14, versions: 14, bytes: 303564, objects: 99 });
    } finally {
      fsPromises.lstat = lstat;
      syncBuiltinESMExports();
    }
    expect(statted.length).toBe(contentFiles.length);
    expect(statted.filter((file) => file.includes('/refs/') || /\.(config|metadata)$/.test(file))).toEqual([]);
  });
});

describe('service cache keys Cache Admin never writes, on a local folder', () => {
  it('opens a store whose cache keys hold a space, a backslash, a dot folder, ".." or "//": listed, served, deleted whole', async () => {
    const root = path.join(tmp, `store-${stores++}`);
    const format = new MgraphFormat(await LocalFolderStorage.open(root));
    // As the service's local store leaves them: the ref keeps the cache key as given, the files sit at its abspath.
    const keys: [string, string][] = [['pages/my page', 'pages/my page'], ['a\\b', 'a\\b'], ['example.com/.well-known/sec', 'example.com/.well-known/sec'], ['x/../y', 'y'], ['/lead//trail/', 'lead/trail']];
    const ids: string[] = [];
    for (const [i, [given, onDisk]] of keys.entries()) {
      const source = { kind: 'bytes' as const, bytes: new TextEncoder().encode(`{"n": ${i}}`) };
      const stored = await format.store('site', { source, as: 'json', options: { strategy: 'key_based', cache_key: `k${i}`, file_id: `f${i}` } });
      await fs.mkdir(path.join(root, 'site/data/key-based', onDisk), { recursive: true });
      for (const ext of ['json', 'json.config', 'json.metadata']) await fs.rename(path.join(root, `site/data/key-based/k${i}/f${i}.${ext}`), path.join(root, 'site/data/key-based', onDisk, `f${i}.${ext}`));
      await fs.rmdir(path.join(root, `site/data/key-based/k${i}`));
      const refFile = path.join(root, `site/refs/by-id/${stored.cache_id.slice(0, 2)}/${stored.cache_id.slice(2, 4)}/${stored.cache_id}.json`);
      const ref = JSON.parse(await fs.readFile(refFile, 'utf8')) as { all_paths: { data: string[] }; file_paths: { content_files: string[]; data_folders: string[] } };
      const given_ = (key: string) => key.replace(`key-based/k${i}/`, `key-based/${given}/`);
      ref.all_paths.data = ref.all_paths.data.map(given_);
      ref.file_paths = { content_files: ref.file_paths.content_files.map(given_), data_folders: [given === onDisk ? given_(ref.file_paths.data_folders[0]!) : ''] };
      await fs.writeFile(refFile, JSON.stringify(ref));
      ids.push(stored.cache_id);
    }
    expect(await format.namespaces()).toMatchObject([{ name: 'site', entries: 5, versions: 5 }]);
    for (const [i, id] of ids.entries()) expect(JSON.parse(utf8(await collect((await format.retrieve('site', { cacheId: id })).content)))).toEqual({ n: i });
    // Verify, and a listing folder by folder, go into the dot folder (they refused the whole store).
    expect((await format.verify()).problems).toEqual([]);
    expect((await format.listKeys('site/data/key-based/example.com/', { delimiter: '/' })).prefixes).toEqual(['site/data/key-based/example.com/.well-known/']);
    expect((await format.listKeys('site/data/key-based/example.com/.well-known/', { delimiter: '/' })).prefixes).toEqual(['site/data/key-based/example.com/.well-known/sec/']);
    for (const id of ids) await format.delete('site', { cacheId: id });
    expect((await format.storage.list('site/')).objects).toEqual([]);
    // A ref naming a file outside the root, or a top-level dot folder, is refused, and nothing is read.
    await expect(format.storage.get('site/../../etc/passwd')).rejects.toMatchObject({ code: 'invalid_key' });
    await expect(format.storage.get('.staging/x')).rejects.toMatchObject({ code: 'invalid_key' });
  });
});

describe.each(backends)('verify on the service layout finds injected faults (%s)', (_name, open) => {
  it('a flipped byte in a second copy, a missing content file, a dangling ref, an orphan; repair rebuilds the missing by-id ref from its files only', async () => {
    const storage = await open();
    await loadFixture(storage);
    const format = new MgraphFormat(storage);
    const latestCopy = 'reports/data/temporal-versioned/latest/a9d6605a-8122-4554-ad3f-d8c495e53bf6.bin';
    const bytes = Buffer.from((await storage.get(latestCopy))!);
    bytes[5]! ^= 0xff;
    await storage.put(latestCopy, bytes);
    const missing = 'reports/data/temporal/2026/12/02/10/797a926d-cc60-4aee-b745-edf95f190b5c.json';
    await storage.delete(missing);
    const byId = 'dups/refs/by-id/f9/50/f950f89e-78ea-431f-9fd5-7cd214c17eab.json';
    const lost = Buffer.from((await storage.get(byId))!);
    await storage.delete(byId);
    const orphan = 'site-cache/data/direct/zz/zz/stray.json';
    await storage.put(orphan, new TextEncoder().encode('{}'));

    const report = await format.verify({ orphanGraceMs: 0 });
    const found = report.problems.map((p) => `${p.kind} ${p.key}`);
    expect(found).toContain(`corrupt ${latestCopy}`);
    expect(found).toContain(`missing_content ${missing}`);
    expect(found).toContain('dangling_ref dups/refs/by-hash/1f/59/1f59c04c6c23d303.json');
    expect(found).toContain(`orphan ${orphan}`);
    expect(found).not.toContain('orphan dups/data/temporal/2026/12/02/10/f950f89e-78ea-431f-9fd5-7cd214c17eab.json'); // its ref is gone, its .metadata names it

    const before = (await storage.list('dups/data/')).objects.length;
    const repaired = await format.verify({ orphanGraceMs: 0, repair: true });
    expect(repaired.repaired).toEqual([expect.objectContaining({ kind: 'dangling_ref', key: byId })]);
    expect(Buffer.from((await storage.get(byId))!).equals(lost)).toBe(true);
    expect((await storage.list('dups/data/')).objects).toHaveLength(before);
    expect((await format.versions('dups', '1f59c04c6c23d303')).map((v) => v.cache_id)).toEqual(['59e56740-d55a-4365-8c4c-072ad8a41514', 'f950f89e-78ea-431f-9fd5-7cd214c17eab', '5ec74ec7-9f7c-41e1-bd38-3b94a8a6ff65']);
    expect((await format.verify({ orphanGraceMs: 0 })).problems.filter((p) => p.kind === 'dangling_ref')).toEqual([]);
  });
});

describe.each(backends)('verify on the service layout, what the service itself would fail on (%s)', (_name, open) => {
  it('a .metadata sidecar without its "data" object is corrupt (the service cannot retrieve the entry), a .config that is not JSON too', async () => {
    const storage = await open();
    await loadFixture(storage);
    const format = new MgraphFormat(storage);
    const metadata = 'TeamA/data/direct/ca/6b/ca6b4776-dd48-4740-903c-914a78e90da3.json.metadata';
    for (const damage of ['garbage{', '{}', '{"data": [1]}']) {
      await storage.put(metadata, new TextEncoder().encode(damage));
      expect((await format.verify({ namespace: 'TeamA' })).problems.map((p) => [p.kind, p.key, p.detail])).toEqual([
        ['corrupt', metadata, 'the sidecar is not JSON with a "data" object: the service cannot retrieve ca6b4776-dd48-4740-903c-914a78e90da3'],
      ]);
    }
    await loadFixture(storage);
    const config = metadata.replace(/metadata$/, 'config');
    await storage.put(config, new TextEncoder().encode('not json'));
    expect((await format.verify({ namespace: 'TeamA' })).problems.map((p) => [p.kind, p.key, p.detail])).toEqual([['corrupt', config, 'the sidecar is not readable JSON']]);
  });

  it('a delete stopped part-way (its files gone and the by-hash ref updated, its by-id ref left) is not listed again by a repair', async () => {
    const storage = await open();
    await loadFixture(storage);
    const format = new MgraphFormat(storage);
    const gone = '5ec74ec7-9f7c-41e1-bd38-3b94a8a6ff65';
    for (const ext of ['', '.config', '.metadata']) await storage.delete(`dups/data/direct/5e/c7/${gone}.json${ext}`);
    const refKey = 'dups/refs/by-hash/1f/59/1f59c04c6c23d303.json';
    const ref = JSON.parse(utf8((await storage.get(refKey))!));
    const left = ref.cache_ids.filter((e: { cache_id: string }) => e.cache_id !== gone);
    await storage.put(refKey, new TextEncoder().encode(JSON.stringify({ ...ref, cache_ids: left, latest_id: left.at(-1).cache_id, total_versions: 2 })));
    const report = await format.verify({ namespace: 'dups', repair: true });
    expect(report.problems.map((p) => p.kind)).toEqual(['missing_content', 'missing_content', 'missing_content', 'orphan']); // its three files, and its ref
    expect(report.problems[3]).toMatchObject({ key: `dups/refs/by-id/5e/c7/${gone}.json`, detail: expect.stringContaining('its content is gone') });
    expect(report.repaired).toEqual([]);
    expect((await format.record('dups', { hash: '1f59c04c6c23d303' })).cache_id).toBe('f950f89e-78ea-431f-9fd5-7cd214c17eab');
  });
});

describe.each(backends)('verify on the service layout, big binary content (%s)', (_name, open) => {
  it('streams it through the hash, plain or gzip, its progress told, never reading it whole; a flipped byte and bytes that are not gzip are found', async () => {
    const storage = await open();
    const format = new MgraphFormat(storage);
    const data = randomBytes(3 << 20);
    const plain = await format.store('Big', { source: { kind: 'bytes', bytes: data } });
    const zipped = await format.store('Big', { source: { kind: 'bytes', bytes: gzipSync(randomBytes(3 << 20)) }, options: { content_encoding: 'gzip' } });
    // 64 KiB stored that inflate to 64 MiB: streamed too, never inflated whole.
    const bomb = await format.store('Big', { source: { kind: 'bytes', bytes: gzipSync(Buffer.alloc(64 << 20)) }, options: { content_encoding: 'gzip' } });
    const contentOf = (stored: { keys: string[] }) => stored.keys.find((k) => k.endsWith('.bin'))!;
    const readWhole: string[] = [];
    const streamed: string[] = [];
    const [get, getStream] = [storage.get.bind(storage), storage.getStream.bind(storage)];
    storage.get = (key, options) => (readWhole.push(key), get(key, options));
    storage.getStream = (key, options) => (streamed.push(key), getStream(key, options));
    const told = new Map<string, number>();
    // One at a time: the progress names the one with the most left of those under way.
    const report = await format.verify({ concurrency: 1, onProgress: ({ rehashing }) => rehashing && told.set(rehashing.key, Math.max(told.get(rehashing.key) ?? 0, rehashing.done)) });
    expect(report.problems).toEqual([]);
    const big = [contentOf(plain), contentOf(zipped), contentOf(bomb)];
    expect(streamed.filter((k) => big.includes(k)).sort()).toEqual([...big].sort());
    if (!(storage instanceof MemoryStorage)) expect(readWhole.filter((k) => big.includes(k))).toEqual([]); // (a memory store's stream is its get)
    expect(told.get(contentOf(plain))).toBe(3 << 20);
    expect(told.get(contentOf(zipped))).toBe((await storage.list(contentOf(zipped))).objects[0]!.size);
    Object.assign(storage, { get, getStream });

    const flipped = Buffer.from(data);
    flipped[12345]! ^= 1;
    await storage.put(contentOf(plain), flipped);
    await storage.put(contentOf(zipped), randomBytes(2 << 20));
    const found = (await format.verify()).problems.map((p) => [p.kind, p.key, p.detail.replace(/re-hashes to [0-9a-f]{16}/, 're-hashes to H').replace(/: .*/, '')]);
    expect(found).toEqual(
      expect.arrayContaining([
        ['corrupt', contentOf(plain), `binary content re-hashes to H, not ${plain.hash}`],
        ['corrupt', contentOf(zipped), 'cannot be read back as binary (gzip)'],
      ]),
    );
  });
});

describe('verify on the service layout, cancelled', () => {
  it('stops while it reads the refs, and says how far it got', async () => {
    const storage = new MemoryStorage();
    await loadFixture(storage);
    const format = new MgraphFormat(storage);
    const controller = new AbortController();
    let readsAfterCancel = 0;
    const get = storage.get.bind(storage);
    storage.get = (key: string) => {
      if (controller.signal.aborted) readsAfterCancel++;
      return get(key);
    };
    // The first namespace's listing is one page: the cancel comes before any of its refs is read.
    const run = format.verify({ signal: controller.signal, onProgress: ({ phase }) => phase === 'listing' && controller.abort() });
    await expect(run).rejects.toMatchObject({ code: 'cancelled', message: expect.stringMatching(/^verify was cancelled after checking \d+ keys$/) });
    expect(readsAfterCancel).toBe(0);
  });
});

describe.each(backends)('storing into the service layout (%s)', (_name, open) => {
  it('content under a cache key with a data/ folder in it is never taken for child data a repair moves aside, its refs lost or not', async () => {
    const format = new MgraphFormat(await open());
    const keyed = (cacheKey: string) => ({ source: { kind: 'bytes' as const, bytes: new TextEncoder().encode(`{"at": "${cacheKey}"}`) }, as: 'json' as const, options: { strategy: 'key_based', cache_key: cacheKey, file_id: 'f' } });
    const idLost = await format.store('r', keyed('reports/data/2024'));
    const bothLost = await format.store('r', keyed('archive/data/2023'));
    await format.storage.delete(refByIdKey('r', idLost.cache_id));
    await format.storage.delete(refByIdKey('r', bothLost.cache_id));
    await format.storage.delete(refByHashKey('r', bothLost.hash));
    const report = await format.verify({ orphanGraceMs: 0, repair: true });
    expect(report.problems.filter((p) => /^child data of a deleted entry/.test(p.detail))).toEqual([]);
    expect(report.repaired?.filter((r) => r.key.includes('/data/'))).toEqual([]); // the refs may be rebuilt, no content moved
    for (const entry of [idLost, bothLost]) for (const key of entry.keys.filter((k) => k.includes('/data/'))) expect(await format.storage.exists(key)).toBe(true);
  });

  it('the same content stored twice at one path (a fixed file id): the second ref lists only the content, as the service writes it, and deleting the hash leaves no file (its sidecars stayed behind)', async () => {
    const format = new MgraphFormat(await open());
    const fixed = { source: { kind: 'bytes' as const, bytes: new Uint8Array([0, 1, 2]) }, options: { strategy: 'direct', file_id: 'D' } };
    const first = await format.store('r', fixed);
    const second = await format.store('r', fixed);
    const listed = async (cacheId: string) => (JSON.parse(utf8((await format.storage.get(refByIdKey('r', cacheId)))!)) as { all_paths: { data: string[] } }).all_paths.data;
    expect(await listed(first.cache_id)).toEqual(['r/data/direct/D/D.bin', 'r/data/direct/D/D.bin.config', 'r/data/direct/D/D.bin.metadata']);
    expect(await listed(second.cache_id)).toEqual(['r/data/direct/D/D.bin']);
    await format.delete('r', { hash: first.hash });
    expect((await format.storage.list('r/')).objects.map((o) => o.key)).toEqual([]);
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it("temporal_latest with a fixed file id, stored again hours later: as the service, the new hour copy gets no .config and the ref lists no sidecar (latest/'s are there); verify is clean, and deleting both leaves no file", async () => {
    let now = Date.parse('2026-01-05T00:10:00Z');
    const format = new MgraphFormat(await open(), { now: () => new Date(now) });
    const daily = (report: string) => ({ source: { kind: 'bytes' as const, bytes: new TextEncoder().encode(JSON.stringify({ report })) }, as: 'json' as const, options: { strategy: 'temporal_latest', file_id: 'L' } });
    const first = await format.store('r', daily('one'));
    now += 3 * 3_600_000;
    const second = await format.store('r', daily('two'));
    const listed = async (cacheId: string) => (JSON.parse(utf8((await format.storage.get(refByIdKey('r', cacheId)))!)) as { all_paths: { data: string[] } }).all_paths.data;
    expect(await listed(second.cache_id)).toEqual(['r/data/temporal-latest/2026/01/05/03/L.json', 'r/data/temporal-latest/latest/L.json']);
    expect(await format.storage.exists('r/data/temporal-latest/2026/01/05/03/L.json.config')).toBe(false);
    expect(await format.storage.exists('r/data/temporal-latest/2026/01/05/03/L.json.metadata')).toBe(true);
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
    for (const entry of [first, second]) await format.delete('r', { hash: entry.hash });
    expect((await format.storage.list('r/')).objects.map((o) => o.key)).toEqual([]);
  });

  it('temporal_latest with a fixed file id: the earlier entry reads from its own hour copy (the later one wrote latest/ over it), and verify is clean', async () => {
    let now = Date.parse('2026-01-05T00:00:00Z');
    const format = new MgraphFormat(await open(), { now: () => new Date(now) });
    const daily = (report: string) => ({ source: { kind: 'bytes' as const, bytes: new TextEncoder().encode(JSON.stringify({ report })) }, as: 'json' as const, options: { strategy: 'temporal_latest', file_id: 'daily' } });
    const jan = await format.store('r', daily('jan'));
    now += 2 * 3_600_000;
    const feb = await format.store('r', daily('february'));
    for (const [entry, report] of [[jan, 'jan'], [feb, 'february']] as const) {
      expect(JSON.parse(utf8(await collect((await format.retrieve('r', { cacheId: entry.cache_id })).content)))).toEqual({ report });
    }
    expect((await format.record('r', { cacheId: jan.cache_id })).size).toBeLessThan((await format.record('r', { cacheId: feb.cache_id })).size); // its own copy's size, not february's
    const report = await format.verify({ orphanGraceMs: 0 });
    expect(report.problems).toEqual([]);
    // (The s3rver emulator cannot list unfinished uploads, which verify notes too.)
    expect(report.notes.filter((note) => !note.startsWith('unfinished uploads could not be listed'))).toEqual([expect.stringMatching(/^1 content copy was written over by a later entry with the same file id/)]);
  });

  it('stores every type and strategy, reads it back, dedups by appending a cache id, deletes back to the previous version', async () => {
    const format = new MgraphFormat(await open());
    const bytes = (t: string) => ({ kind: 'bytes' as const, bytes: new TextEncoder().encode(t) });
    const json = await format.store('Team_B', { source: bytes('{"b": 1.0, "a": "Zoë"}'), as: 'json' });
    expect(json.hash).toBe('2a433209f2f0a3fd'); // Python: sha256(json.dumps({'b': 1.0, 'a': 'Zoë'}, sort_keys=True))[:16]
    const text = await format.store('Team_B', { source: bytes('hello ✓'), as: 'string', options: { strategy: 'temporal_versioned' } });
    const keyed = await format.store('Team_B', { source: bytes('{"url": "https://x/"}'), as: 'json', options: { strategy: 'key_based', cache_key: 'x/home', file_id: 'page', json_field_path: 'url' } });
    expect(keyed.keys).toContain('Team_B/data/key-based/x/home/page.json');
    expect(keyed.hash).toBe('4b7efacc825af67f'); // the url field's hash
    expect(text.hash).toBe('58e78311a18a99e2');
    const again = await format.store('Team_B', { source: bytes('hello ✓'), as: 'string', options: { strategy: 'direct' } });
    expect([again.hash, again.version, again.deduplicated]).toEqual([text.hash, 2, true]);
    expect(utf8(await collect((await format.retrieve('Team_B', { hash: text.hash })).content))).toBe('hello ✓');
    expect(JSON.parse(utf8(await collect((await format.retrieve('Team_B', { cacheId: json.cache_id })).content)))).toEqual({ b: 1, a: 'Zoë' });
    expect(utf8((await format.storage.get(json.keys.find((k) => k.endsWith('.json'))!))!)).toBe('{\n  "b": 1.0,\n  "a": "Zo\\u00eb"\n}');
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);

    const removed = await format.delete('Team_B', { cacheId: again.cache_id });
    expect(removed).toEqual({ deleted: [again.cache_id], contentRemoved: false, bytesFreed: expect.any(Number) });
    expect((await format.record('Team_B', { hash: text.hash })).cache_id).toBe(text.cache_id);
    expect(await format.storage.exists(again.keys[0]!)).toBe(false);
    expect(await format.delete('Team_B', { hash: text.hash })).toMatchObject({ deleted: [text.cache_id], contentRemoved: true });
    await expect(format.record('Team_B', { hash: text.hash })).rejects.toMatchObject({ code: 'not_found' });
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it('a cancel before anything is written stores nothing; one after the first copy is written finishes the entry (no copy without its refs)', async () => {
    const storage = await open();
    const format = new MgraphFormat(storage);
    const source = () => ({ kind: 'bytes' as const, bytes: new TextEncoder().encode('three copies') });
    const input = { as: 'string' as const, options: { strategy: 'temporal_versioned' } };
    await expect(format.store('Team_C', { ...input, source: source() }, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'cancelled' });
    expect((await storage.list('Team_C/')).objects).toEqual([]);

    const cancel = new AbortController();
    const put = storage.put.bind(storage);
    storage.put = async (...args) => {
      const written = await put(...args);
      cancel.abort(); // the operator presses Cancel while the first copy is being written
      return written;
    };
    const stored = await format.store('Team_C', { ...input, source: source() }, { signal: cancel.signal });
    expect(stored.keys.filter((k) => k.includes('/data/'))).toHaveLength(9); // three copies, each with .config and .metadata
    expect(utf8(await collect((await format.retrieve('Team_C', { cacheId: stored.cache_id })).content))).toBe('three copies');
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it("a big store's progress follows its reading, up to its size (not once per copy past it)", async () => {
    const format = new MgraphFormat(await open());
    const chunks = [1, 2, 3].map((n) => new Uint8Array(256 << 10).fill(n));
    const progress: number[] = [];
    const stored = await format.store('Team_C', { source: { kind: 'stream', stream: Readable.from(chunks) }, as: 'bytes', options: { strategy: 'temporal_versioned' } }, { onProgress: (done) => progress.push(done) });
    expect(stored.size).toBe(768 << 10);
    expect(progress).toEqual([256 << 10, 512 << 10, 768 << 10]);
    const small: number[] = []; // content given whole (a small file through the bridge): one step, to its size
    await format.store('Team_C', { source: { kind: 'bytes', bytes: new Uint8Array(1000) }, as: 'bytes' }, { onProgress: (done) => small.push(done) });
    expect(small).toEqual([1000]);
  });

  it('a string keeps a leading byte order mark: the same hash as the service and the same text back', async () => {
    const format = new MgraphFormat(await open());
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('bom text')]);
    const stored = await format.store('Team_B', { source: { kind: 'bytes', bytes }, as: 'string' });
    expect(stored.hash).toBe('d3da2c78b011eb3a'); // Python: sha256('\ufeffbom text'.encode())[:16], as store_string hashes it
    expect(Buffer.from(await collect((await format.retrieve('Team_B', { hash: stored.hash })).content))).toEqual(Buffer.from(bytes));
  });

  it('hashes a json_field_path field as the service does, reads it back and verifies it clean (big integers, floats, NaN, nested)', async () => {
    const format = new MgraphFormat(await open());
    const bytes = (t: string) => ({ kind: 'bytes' as const, bytes: new TextEncoder().encode(t) });
    // Python: sha256(str(field)) for numbers and booleans, of json.dumps(field, sort_keys=True) for objects and arrays.
    const cases: [string, string, string][] = [
      ['{"id": 9007199254740993, "v": 1}', 'id', 'a1c367c29158357e'],
      ['{"meta": {"ver": 2.0, "a": [1e16]}, "v": 2}', 'meta', '6de80d6e352e566d'],
      ['{"tags": ["a", 3.0, -0.0], "v": 3}', 'tags', '5366a02457f6f225'],
      ['{"f": 1e16}', 'f', 'a144838520595009'],
      ['{"f": -0.0}', 'f', 'c26617c7ccbcaa66'],
      ['{"f": NaN}', 'f', '9b2d5b4678781e53'],
      ['{"f": 1e400}', 'f', 'e99270c4fa9f6ea7'],
      ['{"x": {"b": true}}', 'x.b', '3cbc87c7681f34db'],
    ];
    for (const [json, field, hash] of cases) {
      const stored = await format.store('Fields', { source: bytes(json), as: 'json', options: { strategy: 'direct', json_field_path: field } });
      expect(stored.hash, json).toBe(hash);
      await collect((await format.retrieve('Fields', { hash })).content); // served, not refused as corrupt
    }
    // NaN and Infinity outside a field path: stored, served and verified like any JSON.
    const special = await format.store('Fields', { source: bytes('{"a": NaN, "b": 1e400}'), as: 'json' });
    expect(special.hash).toBe('d273502f273fbed8'); // Python: json.dumps({'a': nan, 'b': inf}, sort_keys=True)
    expect(utf8(await collect((await format.retrieve('Fields', { hash: special.hash })).content))).toBe('{\n  "a": NaN,\n  "b": Infinity\n}');
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it("never serves another entry's content through a by-hash ref that names its cache id", async () => {
    const format = new MgraphFormat(await open());
    const bytes = (t: string) => ({ kind: 'bytes' as const, bytes: new TextEncoder().encode(t) });
    const mine = await format.store('Team_D', { source: bytes('mine') });
    const theirs = await format.store('Team_D', { source: bytes('theirs') });
    const refKey = `Team_D/refs/by-hash/${mine.hash.slice(0, 2)}/${mine.hash.slice(2, 4)}/${mine.hash}.json`;
    const ref = utf8((await format.storage.get(refKey))!).replaceAll(mine.cache_id, theirs.cache_id);
    await format.storage.put(refKey, new TextEncoder().encode(ref));
    await expect(format.retrieve('Team_D', { hash: mine.hash })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringContaining('damaged') });
  });

  it('deleting an entry whose key_based file a later store wrote over leaves that file to the later entry', async () => {
    const format = new MgraphFormat(await open());
    const json = (t: string) => ({ source: { kind: 'bytes' as const, bytes: new TextEncoder().encode(t) }, as: 'json' as const, options: { strategy: 'key_based', cache_key: 'site/a', file_id: 'page' } });
    const first = await format.store('Team_E', json('{"v": 1}'));
    const second = await format.store('Team_E', json('{"v": 2}')); // the same path: the service overwrites, and so do we
    // The advice fits the layout: storing again would add a version beside this one, not mend it.
    const corrupt = await format.retrieve('Team_E', { cacheId: first.cache_id }).catch((err: Error) => err);
    expect(corrupt).toMatchObject({ code: 'corrupt' });
    expect((corrupt as Error).message).toMatch(/\(run verify; delete this version, and store the content again if it is wanted: each version has a copy of its own\)$/);
    await format.delete('Team_E', { cacheId: first.cache_id });
    expect(JSON.parse(utf8(await collect((await format.retrieve('Team_E', { cacheId: second.cache_id })).content)))).toEqual({ v: 2 });
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
    await format.delete('Team_E', { cacheId: second.cache_id }); // its own file: removed with it
    expect((await format.storage.list('Team_E/data/')).objects).toEqual([]);
  });

  it('deleting the older of two versions stored at one key_based path keeps the file the newer one names', async () => {
    const format = new MgraphFormat(await open());
    const page = { source: { kind: 'bytes' as const, bytes: new TextEncoder().encode('{"v": "two"}') }, as: 'json' as const, options: { strategy: 'key_based', cache_key: 'site/about', file_id: 'page' } };
    const older = await format.store('Team_F', page);
    const newer = await format.store('Team_F', page); // the same content at the same path: a second version naming one file
    expect([newer.hash, newer.version]).toEqual([older.hash, 2]);
    expect(await format.delete('Team_F', { cacheId: older.cache_id })).toEqual({ deleted: [older.cache_id], contentRemoved: false, bytesFreed: 0 }); // the file stays, named by the newer
    expect(JSON.parse(utf8(await collect((await format.retrieve('Team_F', { hash: newer.hash })).content)))).toEqual({ v: 'two' });
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
    expect(await format.delete('Team_F', { hash: newer.hash })).toMatchObject({ deleted: [newer.cache_id], contentRemoved: true, bytesFreed: expect.any(Number) });
    expect((await format.storage.list('Team_F/')).objects).toEqual([]);
  });

  it("a JSON and a binary stored at one key_based path share a data folder: deleting one keeps the other's child data", async () => {
    const format = new MgraphFormat(await open());
    const at = { strategy: 'key_based', cache_key: 'p/q', file_id: 'f' };
    const json = await format.store('k', { source: { kind: 'bytes', bytes: new TextEncoder().encode('{"v": 1}') }, as: 'json', options: at });
    const binary = await format.store('k', { source: { kind: 'bytes', bytes: new Uint8Array([0, 1, 2]) }, as: 'bytes', options: at });
    // Child data the service stored under the binary entry (its store_data): the folder is named after the file's stem.
    const child = 'k/data/key-based/p/q/f/data/child1.txt';
    await format.storage.put(child, new TextEncoder().encode('"child"'));
    expect((await format.record('k', { cacheId: binary.cache_id })).child_data.map((c) => c.key)).toEqual([child]);
    await format.delete('k', { cacheId: json.cache_id });
    expect(await format.storage.exists(child)).toBe(true);
    expect(Array.from(Buffer.from((await collect((await format.retrieve('k', { cacheId: binary.cache_id })).content))))).toEqual([0, 1, 2]);
    await format.delete('k', { cacheId: binary.cache_id }); // the last entry naming the folder: its child data goes with it
    expect((await format.storage.list('k/data/')).objects).toEqual([]);
  });

  it("an entry stored inside another's child data folder (a key_based cache key can point there) is neither its child data nor deleted with it", async () => {
    const format = new MgraphFormat(await open());
    const json = (text: string, cache_key: string, file_id: string) => ({ source: { kind: 'bytes' as const, bytes: new TextEncoder().encode(text) }, as: 'json' as const, options: { strategy: 'key_based', cache_key, file_id } });
    const outer = await format.store('kb', json('{"a": 1}', 'site', 'page'));
    const inner = await format.store('kb', json('{"b": 2}', 'site/page/data', 'x')); // lands in kb/data/key-based/site/page/data/
    const child = 'kb/data/key-based/site/page/data/note.txt';
    await format.storage.put(child, new TextEncoder().encode('outer child'));
    expect((await format.record('kb', { cacheId: outer.cache_id })).child_data.map((c) => c.key)).toEqual([child]);
    await format.delete('kb', { cacheId: outer.cache_id });
    expect(await format.storage.exists(child)).toBe(false);
    expect(JSON.parse(utf8(await collect((await format.retrieve('kb', { hash: inner.hash })).content)))).toEqual({ b: 2 });
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it('a by-id ref naming a data folder or data paths that are not its own (damaged) is not followed: a delete removes only its own files', async () => {
    const format = new MgraphFormat(await open());
    await loadFixture(format.storage);
    const refKey = 'reports/refs/by-id/67/3b/673ba2a8-1dd7-4ecc-b702-9cc49e44f642.json';
    const ref = JSON.parse(utf8((await format.storage.get(refKey))!));
    ref.file_paths.data_folders = ['reports/refs'];
    const others = (await format.storage.list('reports/')).objects.map((o) => o.key).filter((k) => !k.includes('673ba2a8') && !k.includes('a2a0c3b8c3a32ed2'));
    ref.all_paths.data.push(...others.filter((k) => k.includes('/refs/')).slice(0, 5), ...others.filter((k) => k.includes('/data/')).slice(0, 15));
    await format.storage.put(refKey, new TextEncoder().encode(JSON.stringify(ref)));
    const before = (await format.storage.list('reports/refs/')).objects.length;
    await format.delete('reports', { cacheId: '673ba2a8-1dd7-4ecc-b702-9cc49e44f642' });
    expect((await format.storage.list('reports/refs/')).objects).toHaveLength(before - 2); // its own by-id and by-hash refs
    for (const key of others) expect(await format.storage.exists(key)).toBe(true);
    expect((await format.namespaces()).find((n) => n.name === 'reports')).toMatchObject({ entries: 13 });
  });

  it('a store that stops answering while a delete checks the other versions fails the delete with nothing changed (not taken for an unreadable ref)', async () => {
    const format = new MgraphFormat(await open());
    const source = { kind: 'bytes' as const, bytes: new TextEncoder().encode('asked of a store gone quiet') };
    const first = await format.store('Team_N', { source });
    const second = await format.store('Team_N', { source });
    const secondRef = second.keys.find((k) => k.includes('/refs/by-id/'))!;
    const before = (await format.storage.list('Team_N/')).objects.map((o) => o.key);
    const get = format.storage.get.bind(format.storage);
    format.storage.get = async (key, options) => (key === secondRef ? Promise.reject(new CacheError('storage_unreachable', 'the store did not answer')) : get(key, options));
    await expect(format.delete('Team_N', { cacheId: first.cache_id })).rejects.toMatchObject({ code: 'storage_unreachable' });
    format.storage.get = get;
    expect((await format.storage.list('Team_N/')).objects.map((o) => o.key)).toEqual(before);
  });

  it('a delete by hash with one version whose by-id ref is unreadable changes nothing: the by-hash ref still lists every version', async () => {
    const format = new MgraphFormat(await open());
    const source = { kind: 'bytes' as const, bytes: new TextEncoder().encode('two versions') };
    const first = await format.store('Team_M', { source });
    const second = await format.store('Team_M', { source });
    const hashRef = first.keys.find((k) => k.includes('/refs/by-hash/'))!;
    const before = utf8((await format.storage.get(hashRef))!);
    await format.storage.put(second.keys.find((k) => k.includes('/refs/by-id/'))!, new TextEncoder().encode('{"cache_id": "trunc'));
    await expect(format.delete('Team_M', { hash: first.hash })).rejects.toThrow(/is not a readable by-id ref/);
    expect(utf8((await format.storage.get(hashRef))!)).toBe(before);
    expect(utf8(await collect((await format.retrieve('Team_M', { cacheId: first.cache_id })).content))).toBe('two versions');
  });

  it('a damaged by-hash ref leaves its entries readable and deletable by cache id, as the service reads them by id', async () => {
    const format = new MgraphFormat(await open());
    const stored = await format.store('Team_D', { source: { kind: 'bytes', bytes: new TextEncoder().encode('same') } });
    const hashRefKey = stored.keys.find((k) => k.includes('/refs/by-hash/'))!;
    await format.storage.put(hashRefKey, new TextEncoder().encode('{"cache_hash": "truncat'));
    await expect(format.record('Team_D', { hash: stored.hash })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringContaining('verify with repair rebuilds it') });
    expect(await format.record('Team_D', { cacheId: stored.cache_id })).toMatchObject({ cache_id: stored.cache_id, hash: stored.hash, version: 0 });
    expect(utf8(await collect((await format.retrieve('Team_D', { cacheId: stored.cache_id })).content))).toBe('same');
    expect(await format.delete('Team_D', { cacheId: stored.cache_id })).toMatchObject({ deleted: [stored.cache_id] });
    await expect(format.record('Team_D', { cacheId: stored.cache_id })).rejects.toMatchObject({ code: 'not_found' });
  });

  it("a namespace copied by hand (its refs name the original's files): deleting there never touches the original", async () => {
    const format = new MgraphFormat(await open());
    const stored = await format.store('Team_G', { source: { kind: 'bytes', bytes: new TextEncoder().encode('the original') } });
    for (const { key } of (await format.storage.list('Team_G/')).objects) await format.storage.put(key.replace(/^Team_G\//, 'Team_G_copy/'), (await format.storage.get(key))!);
    const report = await format.verify({ namespace: 'Team_G_copy', orphanGraceMs: 0 });
    expect(report.problems.map((p) => [p.kind, p.key])).toEqual(expect.arrayContaining([['misplaced', expect.stringMatching(/^Team_G_copy\/refs\/by-id\//)]]));
    expect(report.problems.map((p) => p.kind)).not.toContain('missing_content');
    await format.delete('Team_G_copy', { hash: stored.hash });
    expect(utf8(await collect((await format.retrieve('Team_G', { hash: stored.hash })).content))).toBe('the original');
    expect((await format.verify({ namespace: 'Team_G', orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it('a by-id ref naming a path that leaves the store: the delete removes the entry and touches nothing outside it', async () => {
    const format = new MgraphFormat(await open());
    const stored = await format.store('Team_H', { source: { kind: 'bytes', bytes: new TextEncoder().encode('entry') } });
    const idKey = stored.keys.find((k) => k.includes('/refs/by-id/'))!;
    const idRef = JSON.parse(utf8((await format.storage.get(idKey))!)) as { all_paths: { data: string[] }; file_paths: { content_files: string[] } };
    idRef.all_paths.data.push('../victim.txt', 'Team_H/../victim.txt');
    idRef.file_paths.content_files.push('../victim.txt');
    await format.storage.put(idKey, new TextEncoder().encode(JSON.stringify(idRef)));
    await format.storage.put('victim.txt', new TextEncoder().encode('not an entry'));
    expect(await format.delete('Team_H', { hash: stored.hash })).toMatchObject({ deleted: [stored.cache_id], contentRemoved: true });
    expect(utf8((await format.storage.get('victim.txt'))!)).toBe('not an entry');
    expect((await format.storage.list('Team_H/')).objects).toEqual([]);
  });

  it('a by-id ref naming only paths outside the namespace: the delete leaves no version, and frees no bytes it did not remove', async () => {
    const format = new MgraphFormat(await open());
    const stored = await format.store('Team_H2', { source: { kind: 'bytes', bytes: new TextEncoder().encode('entry') } });
    const idKey = stored.keys.find((k) => k.includes('/refs/by-id/'))!;
    const idRef = JSON.parse(utf8((await format.storage.get(idKey))!)) as { all_paths: { data: string[] }; file_paths: { content_files: string[] } };
    const content = idRef.file_paths.content_files[0]!;
    idRef.all_paths.data = ['../victim.txt'];
    idRef.file_paths.content_files = ['../victim.txt'];
    await format.storage.put(idKey, new TextEncoder().encode(JSON.stringify(idRef)));
    await format.storage.put('victim.txt', new TextEncoder().encode('not an entry'));
    expect(await format.delete('Team_H2', { hash: stored.hash })).toEqual({ deleted: [stored.cache_id], contentRemoved: true, bytesFreed: 0 });
    expect(utf8((await format.storage.get('victim.txt'))!)).toBe('not an entry');
    // The entry's own content stays, no ref names it: verify calls it an orphan.
    expect(await format.storage.exists(content)).toBe(true);
    expect((await format.verify({ namespace: 'Team_H2', orphanGraceMs: 0 })).problems.map((p) => [p.kind, p.key])).toContainEqual(['orphan', content]);
  });

  it('a store that fails part-way takes back what it wrote: no copy, sidecar or by-id ref is left for the service to read', async () => {
    const format = new MgraphFormat(await open());
    const { storage } = format;
    const full = (key: string) => new CacheError('no_space', `no space left writing ${key}`);
    // The by-hash ref, written last, cannot be written.
    const update = format.refs.update.bind(format.refs);
    format.refs.update = async (key) => Promise.reject(full(key));
    const source = { kind: 'bytes' as const, bytes: new TextEncoder().encode('never whole') };
    await expect(format.store('Team_I', { source })).rejects.toMatchObject({ code: 'no_space' });
    expect((await storage.list('Team_I/')).objects).toEqual([]);
    format.refs.update = update;
    // The second of temporal_versioned's copies fails: the first and its sidecars go too.
    const put = storage.put.bind(storage);
    let copies = 0;
    let failOn = (key: string) => /\.bin$/.test(key) && ++copies === 2;
    storage.put = async (key, data, options) => {
      if (failOn(key)) throw full(key);
      return put(key, data, options);
    };
    await expect(format.store('Team_I', { source, options: { strategy: 'temporal_versioned' } })).rejects.toMatchObject({ code: 'no_space' });
    expect((await storage.list('Team_I/')).objects).toEqual([]);
    failOn = () => false;
    const stored = await format.store('Team_I', { source });
    expect(stored.version).toBe(1);
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it('verify calls a latest_id that is not the last cache id stale, and repair points it at the last one', async () => {
    const format = new MgraphFormat(await open());
    const source = { kind: 'bytes' as const, bytes: new TextEncoder().encode('twice') };
    const first = await format.store('Team_J', { source });
    const second = await format.store('Team_J', { source });
    const refKey = second.keys.find((k) => k.includes('/refs/by-hash/'))!;
    const ref = JSON.parse(utf8((await format.storage.get(refKey))!)) as { latest_id: string };
    await format.storage.put(refKey, new TextEncoder().encode(JSON.stringify({ ...ref, latest_id: first.cache_id })));
    expect((await format.verify({ namespace: 'Team_J' })).problems.map((p) => [p.kind, p.key])).toEqual([['stale_latest', refKey]]);
    await format.verify({ namespace: 'Team_J', repair: true });
    expect((await format.record('Team_J', { hash: second.hash })).cache_id).toBe(second.cache_id);
    expect((await format.verify({ namespace: 'Team_J' })).problems).toEqual([]);
  });

  it('an unreadable by-hash ref blocks its hash until verify --repair rebuilds it from the by-id refs (one with no by-id ref is removed); then lookups and stores work', async () => {
    const format = new MgraphFormat(await open());
    const source = { kind: 'bytes' as const, bytes: new TextEncoder().encode('ref damaged') };
    const first = await format.store('Team_L', { source });
    await new Promise((resolve) => setTimeout(resolve, 5)); // a rebuild orders cache ids by their times: not the same millisecond
    const second = await format.store('Team_L', { source });
    const refKey = second.keys.find((k) => k.includes('/refs/by-hash/'))!;
    await format.storage.put(refKey, new TextEncoder().encode('{"cache_ids": 7'));
    const stray = 'Team_L/refs/by-hash/ab/cd/abcdabcdabcdabcd.json';
    await format.storage.put(stray, new TextEncoder().encode('not json'));
    await expect(format.record('Team_L', { hash: first.hash })).rejects.toThrow(/is not a readable by-hash ref: not JSON of the expected shape \(verify with repair rebuilds it from the by-id refs\)$/);
    await expect(format.store('Team_L', { source })).rejects.toThrow(/is not a readable by-hash ref/);
    expect((await format.verify({ namespace: 'Team_L' })).problems.map((p) => [p.kind, p.key]).sort()).toEqual([
      ['corrupt', refKey],
      ['corrupt', stray],
    ].sort());

    const repair = await format.verify({ namespace: 'Team_L', repair: true });
    expect(repair.repaired).toHaveLength(2);
    expect(repair.repaired).toEqual(
      expect.arrayContaining([
        { kind: 'corrupt', key: refKey, action: 'rebuilt from the by-id refs in place of the unreadable one: 2 cache id(s)' },
        { kind: 'corrupt', key: stray, action: `moved to _cache-admin.d/quarantine/${stray}: it was unreadable, and no by-id ref whose content is there names this hash` },
      ]),
    );
    expect((await format.versions('Team_L', first.hash)).map((v) => v.cache_id)).toEqual([first.cache_id, second.cache_id]);
    expect((await format.record('Team_L', { hash: first.hash })).cache_id).toBe(second.cache_id);
    expect((await format.store('Team_L', { source })).version).toBe(3);
    expect(await format.storage.exists(stray)).toBe(false);
    // Moved, never deleted (it was deleted outright), and where no namespace is listed.
    expect(new TextDecoder().decode((await format.storage.get(`_cache-admin.d/quarantine/${stray}`))!)).toBe('not json');
    expect((await format.namespaces()).map((n) => n.name)).toEqual(['Team_L']);
    expect((await format.verify({ namespace: 'Team_L' })).problems).toEqual([]);
    expect((await format.verify()).problems).toEqual([]);
  });

  it('a delete whose data file cannot be removed says what is left and keeps the by-id ref naming it, so deleting again finishes', async () => {
    const format = new MgraphFormat(await open());
    const stored = await format.store('Team_K', { source: { kind: 'bytes', bytes: new TextEncoder().encode('stuck') } });
    const { storage } = format;
    const remove = storage.delete.bind(storage);
    storage.delete = async (key) => (key.endsWith('.bin') ? Promise.reject(new CacheError('access_denied', `cannot delete ${key}`)) : remove(key));
    await expect(format.delete('Team_K', { cacheId: stored.cache_id })).rejects.toMatchObject({
      code: 'access_denied',
      message: expect.stringMatching(new RegExp(`^${stored.cache_id} is not deleted whole: Team_K/data/.*\\.bin could not be removed \\(cannot delete .*\\); its by-id ref names what is left, delete it again to finish$`)),
    });
    expect(await format.versions('Team_K', stored.hash)).toEqual([]);
    storage.delete = remove;
    expect(await format.delete('Team_K', { cacheId: stored.cache_id })).toMatchObject({ deleted: [stored.cache_id] });
    await expect(format.record('Team_K', { cacheId: stored.cache_id })).rejects.toMatchObject({ code: 'not_found' });
    expect((await storage.list('Team_K/')).objects).toEqual([]);
  });

  it('deleting the newer of two key_based stores sharing a file points its .metadata at the older, which keeps the file', async () => {
    const format = new MgraphFormat(await open());
    const store = () => format.store('Team_M', { source: { kind: 'bytes', bytes: new TextEncoder().encode('{"a": 1}') }, as: 'json', options: { strategy: 'key_based', cache_key: 'site/page', file_id: 'f1' } });
    const first = await store();
    const second = await store();
    await format.delete('Team_M', { cacheId: second.cache_id });
    const file = 'Team_M/data/key-based/site/page/f1.json';
    const metadata = JSON.parse(new TextDecoder().decode((await format.storage.get(`${file}.metadata`))!)) as { data: { cache_id: string; stored_at: number } };
    expect(metadata.data.cache_id).toBe(first.cache_id);
    expect(await format.describeKey(file)).toMatchObject({ kind: 'content', cache_id: first.cache_id });
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it('a delete of every version stopped at the second by its by-id ref says the first went, and what is left; deleting again finishes', async () => {
    const format = new MgraphFormat(await open());
    const source = { kind: 'bytes' as const, bytes: new TextEncoder().encode('twice') };
    const first = await format.store('Team_R', { source });
    const second = await format.store('Team_R', { source });
    const { storage } = format;
    const remove = storage.delete.bind(storage);
    const stuck = refByIdKey('Team_R', second.cache_id);
    storage.delete = async (key) => (key === stuck ? Promise.reject(new CacheError('access_denied', `cannot delete ${key}`)) : remove(key));
    await expect(format.delete('Team_R', { hash: first.hash })).rejects.toMatchObject({
      code: 'access_denied',
      message: `${second.cache_id} is not deleted whole: its files are gone, but its by-id ref ${stuck} could not be removed (cannot delete ${stuck}); delete it again to finish; deleted before it: ${first.cache_id}`,
    });
    expect(await format.versions('Team_R', first.hash)).toEqual([]);
    storage.delete = remove;
    expect(await format.delete('Team_R', { cacheId: second.cache_id })).toMatchObject({ deleted: [second.cache_id] });
    expect((await storage.list('Team_R/')).objects).toEqual([]);
  });

  it('concurrent stores of the same new content: one reports new content, the others a new version of it', async () => {
    const format = new MgraphFormat(await open());
    const source = { kind: 'bytes' as const, bytes: new TextEncoder().encode('the same bytes, four times at once') };
    const results = await Promise.all(Array.from({ length: 4 }, () => format.store('Team_C', { source })));
    expect(results.map((r) => r.version).sort()).toEqual([1, 2, 3, 4]);
    expect(results.filter((r) => !r.deduplicated).map((r) => r.version)).toEqual([1]);
  });

  it('refuses bad input with a typed error and writes nothing', async () => {
    const format = new MgraphFormat(await open());
    const src = { kind: 'bytes' as const, bytes: new TextEncoder().encode('{"a": 1}') };
    await expect(format.store('a/b', { source: src })).rejects.toMatchObject({ code: 'invalid_namespace' });
    await expect(format.store('ns', { source: src, options: { strategy: 'key_based', cache_key: '../../etc' } })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(format.store('ns', { source: src, options: { strategy: 'sideways' } })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(format.store('ns', { source: { kind: 'bytes', bytes: new TextEncoder().encode('[1]') }, as: 'json' })).rejects.toMatchObject({ code: 'invalid_json' });
    await expect(format.store('ns', { source: src, as: 'json', options: { json_field_path: 'missing' } })).rejects.toMatchObject({ code: 'invalid_input' });
    expect((await format.storage.list('')).objects).toEqual([]);
  });
});

describe('by-hash ref updates on a local folder', () => {
  it('a writer paused past its lease (taken over meanwhile) reads the ref again before writing: no cache id is lost', async () => {
    const root = path.join(tmp, `paused-${stores++}`);
    const other = new MgraphFormat(await LocalFolderStorage.open(root));
    const source = { kind: 'bytes' as const, bytes: new TextEncoder().encode('written by two processes') };
    const first = await other.store('race', { source });
    // The paused process: its read of the ref inside the update (its second: the first checks it is readable) waits until released.
    let paused!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((r) => (paused = r));
    const resume = new Promise<void>((r) => (release = r));
    const local = await LocalFolderStorage.open(root);
    let reads = 0;
    const slow = new Proxy(local, {
      get(target, name, receiver) {
        if (name !== 'get') return Reflect.get(target, name, receiver) as unknown;
        return async (key: string) => {
          if (key.includes('/refs/by-hash/') && reads++ === 1) {
            const bytes = await target.get(key);
            paused();
            await resume;
            return bytes;
          }
          return target.get(key);
        };
      },
    });
    const storing = new MgraphFormat(slow).store('race', { source });
    await reached;
    // Its lease is taken over (as one left unrefreshed past the stale time is), and another store lands.
    for (const lease of (await local.list('_cache-admin.d/leases/refs/')).objects) await local.delete(lease.key);
    const meanwhile = await other.store('race', { source });
    release();
    const paused_ = await storing;
    const kept = (await other.versions('race', first.hash)).map((v) => v.cache_id);
    expect(kept.sort()).toEqual([first.cache_id, meanwhile.cache_id, paused_.cache_id].sort());
  });
});

describe('by-hash ref updates on S3', () => {
  it('concurrent writers of the same content (separate processes, no shared lock) never lose a cache id: ETag-conditional, retried', async () => {
    const storage = await backends[2]![1]();
    const writers = Array.from({ length: 6 }, () => new MgraphFormat(storage));
    const results = await Promise.all(writers.map((w) => w.store('race', { source: { kind: 'bytes', bytes: new TextEncoder().encode('same bytes') } })));
    const ids = (await writers[0]!.versions('race', results[0]!.hash)).map((v) => v.cache_id);
    expect(ids.sort()).toEqual(results.map((r) => r.cache_id).sort());
    expect(proxy.count((r) => r.status === 412)).toBeGreaterThan(0);
  });

  it('a 404 to the If-Match write (Ceph RGW, when the ref was deleted since it was read) is a conflict: read again, and the store lands', async () => {
    const format = new MgraphFormat(await backends[2]![1]());
    const source = { kind: 'bytes' as const, bytes: new TextEncoder().encode('stored twice') };
    const first = await format.store('race', { source });
    proxy.inject({ match: ({ method, url }) => method === 'PUT' && url.includes('/refs/by-hash/'), action: { kind: 'status', status: 404 }, times: 1 });
    const second = await format.store('race', { source });
    expect(proxy.count((r) => r.status === 404 && r.method === 'PUT')).toBeGreaterThan(0);
    expect((await format.versions('race', first.hash)).map((v) => v.cache_id)).toEqual([first.cache_id, second.cache_id]);
  });

  it("a store landing while a delete removes the hash's last version (S3 deletes are unconditional) is kept: it waits for the delete's tombstone to go", async () => {
    const storage = await backends[2]![1]();
    const deleter = new MgraphFormat(storage);
    const writer = new MgraphFormat(storage); // another process: no shared lock
    const source = { kind: 'bytes' as const, bytes: new TextEncoder().encode('deleted and stored at once') };
    const old = await deleter.store('race', { source });
    // The delete's removal of the ref is held 300 ms: the store reads, writes and returns meanwhile unless it waits.
    proxy.inject({ match: ({ method, url }) => method === 'DELETE' && url.includes('/refs/by-hash/'), action: { kind: 'delay', ms: 300 }, times: 1 });
    const deleting = deleter.delete('race', { cacheId: old.cache_id });
    await new Promise((r) => setTimeout(r, 100));
    const [stored] = await Promise.all([writer.store('race', { source }), deleting]);
    expect((await writer.versions('race', old.hash)).map((v) => v.cache_id)).toEqual([stored.cache_id]);
    expect((await writer.retrieve('race', { hash: old.hash })).record.cache_id).toBe(stored.cache_id);
  });
});
