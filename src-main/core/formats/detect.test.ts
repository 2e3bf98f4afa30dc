/** Layout detection in a shared bucket: other tools' folders beside a store never decide its layout, nor stop it opening. */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { useProxiedS3 } from '../../test-support/s3-proxied';
import { CacheService } from '../cache-service';
import { formatOf } from '../open-store';
import { MemoryStorage } from '../storage/memory';
import { S3Storage } from '../storage/s3';
import { detectFormat } from './detect';
import { loadFixture } from './mgraph/fixture';
import { MgraphFormat } from './mgraph/mgraph-format';
import { NativeFormat } from './native/native-format';

const text = (t: string) => ({ kind: 'bytes' as const, bytes: new TextEncoder().encode(t) });
const put = (storage: MemoryStorage, key: string) => storage.put(key, new TextEncoder().encode('not the cache'));

describe('layout detection beside other folders', () => {
  it("a native store stays native beside folders that hold a data/ folder of their own (analytics/data/…), and stores native keys", async () => {
    const storage = new MemoryStorage();
    const stored = await new NativeFormat(new CacheService(storage)).store('votes', { source: text('mine') });
    for (const folder of ['analytics', 'logs', 'ml']) await put(storage, `${folder}/data/2024.csv`);
    const { format, detection } = await formatOf(storage);
    expect(detection).toMatchObject({ format: 'native', found: { native: ['votes/objects/', 'votes/temporal/'] } });
    expect((await format.record('votes', { hash: stored.hash })).cache_id).toBe(stored.cache_id);
  });

  it("the service's store is found past a thousand other folders that sort first (a root listed page by page), so nothing opens it as an empty native store", async () => {
    const storage = new MemoryStorage();
    await loadFixture(storage);
    for (let i = 0; i < 1100; i++) await put(storage, `Backup${String(i).padStart(4, '0')}/readme.txt`);
    const { format, detection } = await formatOf(storage);
    expect(format.name).toBe('mgraph');
    expect(detection.found.native).toBeUndefined();
  });

  it('a native store past 70 other folders that sort first is no empty store: opening it in the service layout is refused, and no layout mark is written', async () => {
    const storage = new MemoryStorage();
    await new NativeFormat(new CacheService(storage)).store('default', { source: text('mine') });
    for (let i = 0; i < 70; i++) await put(storage, `Backup${String(i).padStart(2, '0')}/readme.txt`);
    expect((await detectFormat(storage)).found).toEqual({ native: ['default/objects/', 'default/temporal/'] });
    await expect(formatOf(storage, { format: 'mgraph' })).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining('this store holds the native layout (found default/objects/') });
    expect(await storage.exists('_cache-admin.d/layout.json')).toBe(false);
  });

  it('the folder above a store is refused past other folders that sort first (Docs/, Music/, … before store/)', async () => {
    const storage = new MemoryStorage();
    for (const folder of ['Docs', 'Music', 'Photos', 'Projects', 'Videos', 'archive', 'notes']) await put(storage, `${folder}/readme.txt`);
    await put(storage, 'store/default/objects/b9/4d/b94d27b9934d3e08');
    await expect(formatOf(storage)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining('no store is here, but store/ holds one (the native layout: found store/default/objects/)') });
  });

  it('a chosen layout is looked for past the folders of the other (eight service namespaces before a native one)', async () => {
    const storage = new MemoryStorage();
    for (const ns of 'abcdefgh') await new MgraphFormat(storage).store(`${ns}_svc`, { source: text(ns) });
    const mine = await new NativeFormat(new CacheService(storage)).store('zz', { source: text('native') });
    const { format } = await formatOf(storage, { format: 'native' });
    expect((await format.record('zz', { hash: mine.hash })).cache_id).toBe(mine.cache_id);
  });

  it('a store holding both layouts opens only with the layout chosen: detection cannot tell which is meant', async () => {
    const storage = new MemoryStorage();
    await new NativeFormat(new CacheService(storage)).store('mine', { source: text('native') });
    await new MgraphFormat(storage).store('theirs', { source: text('service') });
    await expect(formatOf(storage)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/^this store holds both layouts .*mine\/objects\/.*theirs\/data\/.*: choose the one to open \(--format native or --format mgraph/) });
    expect((await formatOf(storage, { format: 'mgraph' })).format.name).toBe('mgraph');
    expect((await formatOf(storage, { format: 'native' })).format.name).toBe('native');
  });
});

describe('a service store with no entries left', () => {
  it('still opens in the service layout once its last entry is deleted (it opened as native and took native keys the service never reads)', async () => {
    const storage = new MemoryStorage();
    const stored = await new MgraphFormat(storage).store('default', { source: text('hello') });
    expect((await formatOf(storage)).format.name).toBe('mgraph');
    await (await formatOf(storage)).format.delete('default', { hash: stored.hash });
    const reopened = await formatOf(storage);
    expect(reopened.detection).toMatchObject({ format: 'mgraph', reason: expect.stringContaining('no entries, and _cache-admin.d/layout.json says so') });
    const again = await reopened.format.store('default', { source: text('hello') });
    expect(again.cache_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/); // a service cache id, filed where the service reads it
    expect((await detectFormat(storage)).found).toEqual({ mgraph: ['default/data/', 'default/refs/'] });
  });

  it("a store the service wrote, emptied here by a delete, stays the service's too; opening it as native is refused as for its keys", async () => {
    const storage = new MemoryStorage();
    await loadFixture(storage);
    const { format } = await formatOf(storage);
    for (const { name } of await format.namespaces()) {
      for (const row of await format.entryRows(name)) await format.delete(name, { hash: row.hash });
    }
    expect((await formatOf(storage)).detection).toMatchObject({ format: 'mgraph', found: { mgraph: ['_cache-admin.d/layout.json'] } });
    await expect(formatOf(storage, { format: 'native' })).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining("holds the Python cache service's layout (found _cache-admin.d/layout.json)") });
  });

  it.each([
    ['a layout this version does not know', '{"layout":"mgraph2"}'],
    ['damaged', '{"layout":"mgr'],
  ])('with its layout mark %s, it is not opened as native (it was, and took native keys): the operator chooses', async (_what, mark) => {
    const storage = new MemoryStorage();
    const stored = await new MgraphFormat(storage).store('default', { source: text('hello') });
    await (await formatOf(storage)).format.delete('default', { hash: stored.hash });
    await storage.put('_cache-admin.d/layout.json', new TextEncoder().encode(mark));
    await expect(formatOf(storage)).rejects.toMatchObject({ code: 'corrupt', message: expect.stringContaining('its layout mark _cache-admin.d/layout.json is damaged or names a layout this version does not know: nothing was opened') });
    expect((await storage.list('')).objects.map((o) => o.key)).toEqual(['_cache-admin.d/layout.json']);
    const chosen = await formatOf(storage, { format: 'mgraph' });
    const again = await chosen.format.store('default', { source: text('hello') });
    expect(again.cache_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    // Its mark is written anew: emptied again, the store still opens in the service's layout (the damaged mark stayed).
    await chosen.format.delete('default', { hash: again.hash });
    expect((await formatOf(storage)).detection).toMatchObject({ format: 'mgraph', reason: expect.stringContaining('_cache-admin.d/layout.json says so') });
  });
});

describe('layout detection in a bucket other tools write to', () => {
  const s3 = useProxiedS3();

  it('top-level folders no key can name (.git/, é/, a#b/) are passed over: the store opens, detected, and lists its namespaces', async () => {
    const config = s3.config();
    const storage = await S3Storage.open(config);
    await new NativeFormat(new CacheService(storage)).store('docs', { source: text('mine') });
    const raw = new S3Client({ endpoint: config.endpoint, region: config.region, forcePathStyle: true, credentials: config.credentials });
    for (const key of ['.git/HEAD', 'a#b/x', 'é/x']) await raw.send(new PutObjectCommand({ Bucket: config.bucket, Key: `${config.prefix}${key}`, Body: 'not the cache' }));
    expect((await detectFormat(storage)).format).toBe('native');
    const { format } = await formatOf(storage);
    expect((await format.namespaces()).map((n) => n.name)).toEqual(['docs']);
  });
});
