import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CacheService } from '../cache-service';
import { FlushGroup, MIN_SYNCFS_BATCH, coreutilsSyncfs } from './flush-group';
import { LocalFolderStorage } from './local';

const made: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-flush-'));
  made.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(made.map((d) => fs.rm(d, { recursive: true, force: true })));
});

async function writeFiles(dir: string, count: number): Promise<string[]> {
  const files = Array.from({ length: count }, (_, i) => path.join(dir, `f${i}`));
  await Promise.all(files.map((f, i) => fs.writeFile(f, `content ${i}`)));
  return files;
}

/** Flushes a burst of 40 files and one that is not there: flushed file by file, only that one fails. */
async function expectFlushedFileByFile(group: FlushGroup, dir: string): Promise<string[]> {
  const files = await writeFiles(dir, 40);
  const results = await Promise.allSettled([...files, path.join(dir, 'missing')].map((f) => group.flush(f)));
  expect(results.slice(0, 40).every((r) => r.status === 'fulfilled')).toBe(true);
  expect(results[40]).toMatchObject({ status: 'rejected', reason: { code: 'ENOENT' } });
  return files;
}

describe('FlushGroup', () => {
  it('serves a burst of flush requests with one filesystem sync', async () => {
    const dir = await tempDir();
    const syncs: string[] = [];
    const group = new FlushGroup(dir, { syncfs: async (d) => void syncs.push(d) });
    await Promise.all((await writeFiles(dir, 200)).map((f) => group.flush(f)));
    expect(syncs).toEqual([dir]);
  });

  it('flushes a few files one by one: a lone store does not wait for the whole disk', async () => {
    const dir = await tempDir();
    let syncs = 0;
    const group = new FlushGroup(dir, { syncfs: async () => void syncs++ });
    await Promise.all((await writeFiles(dir, MIN_SYNCFS_BATCH - 1)).map((f) => group.flush(f)));
    expect(syncs).toBe(0);
    // Flushed file by file, so a file that is not there fails on its own.
    await expect(group.flush(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('falls back to flushing each file when the filesystem sync fails, failing only the writes concerned', async () => {
    const dir = await tempDir();
    let attempts = 0;
    const group = new FlushGroup(dir, {
      syncfs: async () => {
        attempts++;
        throw new Error('sync: error syncing: Input/output error');
      },
    });
    const files = await expectFlushedFileByFile(group, dir);
    // It does not try the failing sync again for every batch.
    await Promise.all(files.map((f) => group.flush(f)));
    expect(attempts).toBe(1);
  });

  it("flushes file by file when the filesystem sync is slow (a disk busy with other programs' data), and syncs again once it is done", async () => {
    const dir = await tempDir();
    let attempts = 0;
    let finishSlowSync!: () => void;
    const group = new FlushGroup(dir, {
      patienceMs: 50,
      syncfs: () => (++attempts === 1 ? new Promise<void>((resolve) => (finishSlowSync = resolve)) : Promise.resolve()),
    });
    const files = await expectFlushedFileByFile(group, dir);
    // No second sync starts beside the slow one.
    await Promise.all(files.map((f) => group.flush(f)));
    expect(attempts).toBe(1);
    finishSlowSync();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await Promise.all(files.map((f) => group.flush(f)));
    expect(attempts).toBe(2);
  });

  it('runs one filesystem sync at a time: a burst made while one runs waits for it, then gets its own', async () => {
    const dir = await tempDir();
    const syncs: (() => void)[] = [];
    const group = new FlushGroup(dir, { patienceMs: 60_000, syncfs: () => new Promise<void>((resolve) => syncs.push(resolve)) });
    const files = await writeFiles(dir, 40);
    const first = Promise.all(files.map((f) => group.flush(f)));
    await new Promise((resolve) => setTimeout(resolve, 10));
    const second = Promise.all(files.map((f) => group.flush(f)));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(syncs).toHaveLength(1); // the second burst's writes may postdate it: it waits, and syncs again
    syncs[0]!();
    await first;
    await vi.waitFor(() => expect(syncs).toHaveLength(2));
    syncs[1]!();
    await second;
  });

  it.runIf(process.platform === 'linux')("syncs a real filesystem with coreutils' sync --file-system", async () => {
    const dir = await tempDir();
    await expect(coreutilsSyncfs(dir)).resolves.toBeUndefined();
    await expect(coreutilsSyncfs(path.join(dir, 'missing'))).rejects.toThrow();
  });
});

describe('group commit in a local folder', () => {
  it('a bulk store shares filesystem syncs between entries; every entry is stored whole', async () => {
    const root = path.join(await tempDir(), 'store');
    let syncs = 0;
    const storage = new LocalFolderStorage(root, { blockingIo: true, syncfs: async () => void syncs++ });
    const cache = new CacheService(storage);
    const contents = Array.from({ length: 300 }, (_, i) => new TextEncoder().encode(`entry ${i}`));
    const stored = await Promise.all(contents.map((bytes) => cache.store('default', { source: { kind: 'bytes', bytes } })));
    // 600 flushes (content and record of each store) served by a few syncs.
    expect(syncs).toBeGreaterThan(0);
    expect(syncs).toBeLessThanOrEqual(4);
    for (const [i, r] of stored.entries()) {
      const { content } = await cache.retrieve('default', { hash: r.hash });
      const chunks: Uint8Array[] = [];
      for await (const c of content) chunks.push(c);
      expect(Buffer.concat(chunks).toString()).toBe(`entry ${i}`);
    }
    expect(await storage.leftovers()).toEqual([]);
  });

  it('a single store flushes its own files only', async () => {
    const root = path.join(await tempDir(), 'store');
    let syncs = 0;
    const cache = new CacheService(new LocalFolderStorage(root, { syncfs: async () => void syncs++ }));
    await cache.store('default', { source: { kind: 'bytes', bytes: new TextEncoder().encode('alone') } });
    expect(syncs).toBe(0);
  });
});
