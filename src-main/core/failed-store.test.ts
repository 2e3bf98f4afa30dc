import { describe, expect, it, vi } from 'vitest';
import { CacheError } from '../../src-shared/errors';
import { CacheService } from './cache-service';
import { MemoryStorage } from './storage/memory';
import { verifyStore } from './verify';

const bytes = (text: string) => ({ source: { kind: 'bytes' as const, bytes: Buffer.from(text) } });

describe('a store that fails after its bytes were placed', () => {
  it('its record cannot be written (a full disk): the bytes it placed go again, and verify finds nothing, not even after the orphan grace', async () => {
    const storage = new MemoryStorage();
    const cache = new CacheService(storage);
    const put = storage.put.bind(storage);
    vi.spyOn(storage, 'put').mockImplementation(async (key, data, options) => {
      if (key.endsWith('.json') && key.includes('.v0')) throw new CacheError('no_space', `cannot write ${key}: no space left on the device`);
      return put(key, data, options);
    });
    await expect(cache.store('ns', bytes('will not fit'))).rejects.toMatchObject({ code: 'no_space' });
    vi.restoreAllMocks();
    expect((await storage.list('ns/')).objects.map((o) => o.key)).toEqual([]);
    expect((await verifyStore(cache, { orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it('bytes that were already there (another version uses them) stay', async () => {
    const storage = new MemoryStorage();
    const cache = new CacheService(storage);
    const first = await cache.store('ns', bytes('kept'));
    const put = storage.put.bind(storage);
    vi.spyOn(storage, 'put').mockImplementation(async (key, data, options) => {
      if (key.includes('.v00000002')) throw new CacheError('no_space', 'no space left on the device');
      return put(key, data, options);
    });
    await expect(cache.store('ns', bytes('kept'))).rejects.toMatchObject({ code: 'no_space' });
    vi.restoreAllMocks();
    expect(Buffer.from((await storage.get(cache.layout.content('ns' as never, first.hash)))!).toString()).toBe('kept');
    expect((await verifyStore(cache, { orphanGraceMs: 0 })).problems).toEqual([]);
  });
});

describe('a delete that meets a store still being written', () => {
  it('says the version is being stored and deletes nothing (was "deleted" with an empty list)', async () => {
    const storage = new MemoryStorage();
    const cache = new CacheService(storage);
    const stored = await cache.store('ns', bytes('mid-store'));
    // As a store between its record and its index entry (or one killed there a moment ago) leaves it.
    const entry = (await storage.list('ns/')).objects.map((o) => o.key).find((k) => k.includes('~'))!;
    await storage.delete(entry);
    const before = (await storage.list('ns/')).objects.map((o) => o.key);
    await expect(cache.delete('ns', { hash: stored.hash as never })).rejects.toMatchObject({
      code: 'conflict',
      message: `${stored.cache_id} in ns is being stored right now (its record is under a minute old and its index entry not written yet): nothing was deleted; try again in a minute`,
    });
    expect((await storage.list('ns/')).objects.map((o) => o.key)).toEqual(before);
  });
});
