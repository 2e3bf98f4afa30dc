import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { CacheError } from '../../src-shared/errors';
import { CacheService } from './cache-service';
import { LocalFolderStorage } from './storage/local';
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

describe('a store that fails while writing its views (a local folder)', () => {
  it.each([
    ['a file where the temporal folder goes', (dir: string) => fs.writeFile(path.join(dir, 'ns', 'temporal'), '')],
    ['a link where the temporal folder goes', async (dir: string) => fs.symlink(await fs.mkdtemp(path.join(os.tmpdir(), 'elsewhere-')), path.join(dir, 'ns', 'temporal'))],
  ])('%s: the store fails and takes its version back, so nothing is served (get served it, versions did not know it)', async (_what, plant) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'failed-view-'));
    await fs.mkdir(path.join(dir, 'ns'));
    await plant(dir);
    const cache = new CacheService(await LocalFolderStorage.open(dir));
    await expect(cache.store('ns', bytes('view cannot be written'))).rejects.toMatchObject({ code: 'io_error' });
    // Nothing of the version: no record, no latest, no bytes (a recursive listing would follow the link).
    expect(await fs.readdir(path.join(dir, 'ns', 'objects'), { recursive: true }).catch(() => [])).toEqual([]);
    // Nothing but what was planted (verify reports a link inside the store).
    expect((await verifyStore(cache, { orphanGraceMs: 0 })).problems.filter((p) => p.key !== 'ns/temporal')).toEqual([]);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('one whose version cannot be taken back says so, with the version, instead of "nothing was written"', async () => {
    const storage = new MemoryStorage();
    const cache = new CacheService(storage);
    const copy = storage.copy.bind(storage);
    vi.spyOn(storage, 'copy').mockImplementation(async (from, to, options) => {
      if (to.includes('/temporal/')) throw new CacheError('io_error', `cannot write ${to}`);
      return copy(from, to, options);
    });
    const remove = storage.delete.bind(storage);
    vi.spyOn(storage, 'delete').mockImplementation(async (key) => (key.includes('.v0') ? Promise.reject(new CacheError('io_error', `cannot delete ${key}`)) : remove(key)));
    await expect(cache.store('ns', bytes('stuck'))).rejects.toMatchObject({ code: 'io_error', message: expect.stringMatching(/^cannot write ns\/temporal\/.*; its version [0-9a-f]{16}-v1 was written and could not be taken back \(run verify\)$/) });
    vi.restoreAllMocks();
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
