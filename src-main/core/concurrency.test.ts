import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../test-support/cli-harness';
import { CacheService } from './cache-service';
import { MemoryStorage } from './storage/memory';
import { MgraphFormat } from './formats/mgraph/mgraph-format';
import { cacheHashOf } from './hashing';
import { LocalFolderStorage } from './storage/local';

const run = promisify(execFile);

it('8 processes x 200 concurrent stores of one content get versions exactly 1..1600', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-procs-'));
  try {
    const worker = path.join(REPO_ROOT, 'src-main/test-support/store-worker.ts');
    const outputs = await Promise.all(
      Array.from({ length: 8 }, () => run(process.execPath, ['--import', 'tsx', worker, dir, '200', 'contended'], { cwd: REPO_ROOT })),
    );
    const versions = outputs.flatMap((o) => JSON.parse(o.stdout) as number[]).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 1600 }, (_, i) => i + 1));

    const cache = new CacheService(await LocalFolderStorage.open(dir));
    const hash = cacheHashOf('contended');
    expect((await cache.versions('default', hash)).map((v) => v.version)).toEqual(versions);
    expect((await cache.record('default', { hash })).version).toBe(1600);
    expect(await cache.stats('default')).toMatchObject({ entries: 1, versions: 1600, bytes: 9 });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}, 180_000);

it('service layout on a local folder: 6 processes x 30 concurrent stores of one content keep all 180 cache ids in its by-hash ref', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-mgraph-procs-'));
  try {
    await fs.mkdir(path.join(dir, 'default', 'refs', 'by-hash'), { recursive: true }); // a service store: no detection in the workers
    const worker = path.join(REPO_ROOT, 'src-main/test-support/store-worker.ts');
    const outputs = await Promise.all(
      Array.from({ length: 6 }, () => run(process.execPath, ['--import', 'tsx', worker, 'mgraph', dir, '30', 'contended'], { cwd: REPO_ROOT })),
    );
    const stored = outputs.flatMap((o) => JSON.parse(o.stdout) as string[]);
    const format = new MgraphFormat(await LocalFolderStorage.open(dir));
    const kept = (await format.versions('default', cacheHashOf('contended'))).map((v) => v.cache_id);
    expect(kept.sort()).toEqual(stored.sort());
    expect(kept).toHaveLength(180);
    // The leases that serialized the ref's updates are gone with them; the layout's mark stays.
    expect((await format.storage.list('_cache-admin.d/')).objects.map((o) => o.key)).toEqual(['_cache-admin.d/layout.json']);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}, 180_000);

it('concurrent stores of the same new content: one reports new content, the others a new version of it', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-same-'));
  try {
    const cache = new CacheService(await LocalFolderStorage.open(dir));
    const big = path.join(dir, '..', `${path.basename(dir)}-big.bin`);
    await fs.writeFile(big, randomBytes(3 << 20));
    // Small content is placed from memory, a big file through .staging: both ways race here.
    for (const [ns, source] of [['small', { kind: 'bytes', bytes: randomBytes(1000) }], ['big', { kind: 'file', path: big }]] as const) {
      const results = await Promise.all(Array.from({ length: 4 }, () => cache.store(ns, { source, name: 'same.bin' })));
      expect(results.map((r) => r.version).sort()).toEqual([1, 2, 3, 4]);
      expect(results.filter((r) => !r.deduplicated)).toHaveLength(1);
      expect(await cache.stats(ns)).toMatchObject({ entries: 1, versions: 4 });
    }
    await fs.rm(big);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

it("a store held up by a killed delete's marker says why, once, and ends when the marker goes (it sat silent up to 30 s)", async () => {
  const cache = new CacheService(new MemoryStorage());
  const bytes = Buffer.from('held up\n');
  const first = await cache.store('ns', { source: { kind: 'bytes', bytes } });
  const marker = cache.layout.deletionMarker('ns' as never, first.hash);
  const since = new Date();
  await cache.storage.put(marker, Buffer.from(`${JSON.stringify({ token: 'killed-deleter', since: since.toISOString() })}\n`)); // what a killed delete leaves
  const heard: string[] = [];
  const storing = cache.store('ns', { source: { kind: 'bytes', bytes } }, { onWaiting: (why) => heard.push(why) });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  expect(heard).toEqual([`a delete of ${first.hash} in ns holds it; waiting for it to finish (if it was killed, its hold runs out by ${new Date(since.getTime() + 30_000).toISOString()})`]);
  await cache.storage.delete(marker); // the deleter ends
  expect((await storing).version).toBe(2);
  expect(heard).toHaveLength(1);
});

it('a store after every version was deleted in the same process is v1, new content, as in a fresh process (it was v2, taken for damaged content restored)', async () => {
  const cache = new CacheService(new MemoryStorage());
  const source = () => ({ kind: 'bytes' as const, bytes: new TextEncoder().encode('stored, deleted, stored again') });
  const first = await cache.store('default', { source: source() });
  await cache.store('default', { source: source() });
  await cache.delete('default', { hash: first.hash, version: 2 });
  expect(await cache.store('default', { source: source() })).toMatchObject({ version: 2, deduplicated: true });
  await cache.delete('default', { hash: first.hash });
  expect(await cache.store('default', { source: source() })).toMatchObject({ version: 1, deduplicated: false });
});
