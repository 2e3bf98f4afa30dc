/** Issue #17 through the contract: whole-image previews (bounded, hash-checked) and the heatmap's shard-by-shard counts. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LIMITS, type EntryView, type MethodResults, type Result } from '../../src-shared/contract';
import { loadFixture } from '../core/formats/mgraph/fixture';
import { CacheService } from '../core/cache-service';
import { NativeFormat } from '../core/formats/native/native-format';
import { LocalFolderStorage } from '../core/storage/local';
import { MemoryStorage } from '../core/storage/memory';
import type { StorageBackend } from '../core/storage/types';
import { NO_KEYRING } from '../profiles/secret-box';
import { ProfileStore } from '../profiles/profiles';
import { createDispatcher } from './dispatch';
import { AppSession } from './session';

const dir = mkdtempSync(path.join(tmpdir(), 'preview-layout-'));

async function setup(storage: StorageBackend = new MemoryStorage()) {
  const profilesDir = mkdtempSync(path.join(dir, 'profiles-'));
  const session = new AppSession({ profiles: new ProfileStore(path.join(profilesDir, 'profiles.json'), NO_KEYRING, path.join(profilesDir, 'store')), commandLine: { kind: 'memory' }, openBackend: async () => storage });
  await session.start();
  return { storage, dispatch: createDispatcher(session) };
}

/** A PNG signature followed by `size - 8` bytes: the content type comes from the name, the size is what counts here. */
function png(size: number): Buffer {
  const bytes = Buffer.alloc(size, 0x41);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bytes);
  for (let i = 8; i < size; i++) bytes[i] = i % 251;
  return bytes;
}

function value<T>(result: Result<unknown>): T {
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.value as T;
}

describe('image previews (issue #17)', () => {
  it('an image over 64 KiB comes whole and verified; text of the same size is still cut at 64 KiB', async () => {
    const { dispatch } = await setup();
    const image = png(200 * 1024);
    const stored = value<MethodResults['storeBytes']>(await dispatch('storeBytes', { namespace: 'default', name: 'big.png', base64: image.toString('base64') }));
    const view = value<EntryView>(await dispatch('entry', { namespace: 'default', ref: stored.cache_id }));
    expect(view.record.content_type).toBe('image/png');
    expect(view).toMatchObject({ previewTruncated: false, previewVerified: true });
    expect(Buffer.from(view.preview, 'base64').equals(image)).toBe(true);

    const text = value<MethodResults['storeBytes']>(await dispatch('storeBytes', { namespace: 'default', name: 'big.txt', base64: Buffer.alloc(200 * 1024, 0x61).toString('base64') }));
    const textView = value<EntryView>(await dispatch('entry', { namespace: 'default', ref: text.cache_id }));
    expect(Buffer.from(textView.preview, 'base64').length).toBe(LIMITS.previewBytes);
    expect(textView.previewTruncated).toBe(true);
  });

  it('a corrupt image is marked corrupt with no bytes to show, never a picture of them', async () => {
    // A local folder reads 1 MiB at a time: a preview cut at 64 KiB of a 3 MiB image never reaches its end, where the check is.
    const { dispatch, storage } = await setup(await LocalFolderStorage.open(mkdtempSync(path.join(dir, 'store-'))));
    const stored = await new NativeFormat(new CacheService(storage)).store('default', { source: { kind: 'bytes', bytes: png(3 * 1024 * 1024) }, name: 'big.png', as: 'bytes' });
    const bad = png(3 * 1024 * 1024);
    bad[2_500_000] = bad[2_500_000]! ^ 0xff;
    await storage.put(stored.keys.find((k) => k.endsWith(stored.hash))!, bad);
    const view = value<EntryView>(await dispatch('entry', { namespace: 'default', ref: stored.cache_id }));
    expect(view).toMatchObject({ contentProblem: 'corrupt', preview: '', previewVerified: false });
  });

  it('an image over LIMITS.imagePreviewBytes is not read whole: its first bytes only, marked truncated', async () => {
    const { dispatch, storage } = await setup();
    // Stored through the format itself: storeBytes takes at most 1 MiB.
    const native = new NativeFormat(new CacheService(storage));
    const huge = png(LIMITS.imagePreviewBytes + 1);
    const stored = await native.store('default', { source: { kind: 'bytes', bytes: huge }, name: 'huge.png', as: 'bytes' });
    const view = value<EntryView>(await dispatch('entry', { namespace: 'default', ref: stored.cache_id }));
    expect(Buffer.from(view.preview, 'base64').length).toBe(LIMITS.previewBytes);
    expect(view).toMatchObject({ previewTruncated: true, previewVerified: false, record: { content_type: 'image/png', size: LIMITS.imagePreviewBytes + 1 } });
  });
});

describe('shardCounts (issue #17 heatmap)', () => {
  it('counts a range of shards with each shard folder, the same numbers as stats, an entry whose content is lost included', async () => {
    const { dispatch, storage } = await setup();
    for (const text of ['hello world', 'a', 'b', 'c', 'd', 'e', 'f', 'g']) await dispatch('storeBytes', { namespace: 'default', name: `${text}.txt`, base64: Buffer.from(text).toString('base64') });
    await storage.delete('default/objects/b9/4d/b94d27b9934d3e08'); // content lost: still an entry, in its shard too
    const stats = value<MethodResults['stats']>(await dispatch('stats', { namespace: 'default' }));
    expect([stats.entries, Object.values(stats.shards).reduce((a, b) => a + b, 0)]).toEqual([8, 8]);
    const shards = Object.keys(stats.shards);
    const counted = value<MethodResults['shardCounts']>(await dispatch('shardCounts', { namespace: 'default', shards: [...shards, 'ff'] }));
    expect(counted.shards).toEqual([...shards.map((shard) => ({ shard, prefix: `default/objects/${shard}/`, entries: stats.shards[shard] })), { shard: 'ff', prefix: 'default/objects/ff/', entries: 0 }]);
  });

  it("a service store counts by-hash refs and names their folder", async () => {
    const storage = new MemoryStorage();
    await loadFixture(storage);
    const { dispatch } = await setup(storage);
    const names = value<MethodResults['namespaceNames']>(await dispatch('namespaceNames', {})).names;
    const namespace = names[0]!;
    const stats = value<MethodResults['stats']>(await dispatch('stats', { namespace }));
    const shard = Object.keys(stats.shards)[0]!;
    const counted = value<MethodResults['shardCounts']>(await dispatch('shardCounts', { namespace, shards: [shard] }));
    expect(counted.shards).toEqual([{ shard, prefix: `${namespace}/refs/by-hash/${shard}/`, entries: stats.shards[shard] }]);
  });

  it('refuses more than LIMITS.shardsPerCall shards, or a shard that is not two hex digits, before listing anything', async () => {
    const { dispatch } = await setup();
    const all = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
    expect(await dispatch('shardCounts', { namespace: 'default', shards: all })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    expect(await dispatch('shardCounts', { namespace: 'default', shards: ['../'] })).toMatchObject({ ok: false, error: { code: 'invalid_input', message: expect.stringContaining('two lower-case hex digits') } });
  });
});

describe("the entries list of a service store, whose listing has no names, types, sizes or version counts", () => {
  it('says so in the capabilities, and refuses a type or size filter ("no entry matches") or a sort by them (nothing moves)', async () => {
    const storage = new MemoryStorage();
    await loadFixture(storage);
    const { dispatch } = await setup(storage);
    expect(value<MethodResults['capabilities']>(await dispatch('capabilities', {})).unlisted).toEqual(['name', 'type', 'size', 'versions']);
    const query = { namespace: 'reports', offset: 0, limit: 50, sort: 'hash' as const, descending: false, refresh: false };
    expect(await dispatch('entries', { ...query, filter: { name: '', type: 'application/json' } })).toMatchObject({
      ok: false,
      error: { code: 'invalid_input', message: "this store's layout (mgraph) lists no type of its entries (they are in each entry's refs): filter by hash or store time, or look an entry up" },
    });
    expect(await dispatch('entries', { ...query, filter: { name: '', type: '', minSize: 1024 } })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    // A sort by a fact every row lacks would leave the list as it was, as if sorted.
    for (const sort of ['source', 'type', 'size', 'versions'] as const) {
      expect(await dispatch('entries', { ...query, sort, filter: { name: '', type: '' } })).toMatchObject({ ok: false, error: { code: 'invalid_input', message: expect.stringMatching(/lists no .* sort by hash or store time$/) } });
    }
    expect(value<MethodResults['entries']>(await dispatch('entries', { ...query, sort: 'storedAt', descending: true, filter: { name: '', type: '' } })).total).toBe(14);
    expect(value<MethodResults['entries']>(await dispatch('entries', { ...query, filter: { name: '', type: '' } })).total).toBe(14);
  });
});
