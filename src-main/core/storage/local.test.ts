import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { storageConformance } from './conformance';
import * as fsSync from 'node:fs';
import { LocalFolderStorage, STAGING_DIR, StagingWriter } from './local';
import type { StorageBackend } from './types';

const made: string[] = [];
async function tempRoot(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-local-'));
  made.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(made.map((d) => fs.rm(d, { recursive: true, force: true })));
});

storageConformance('local folder', {
  create: async () => LocalFolderStorage.open(path.join(await tempRoot(), 'store')),
  reopen: async (s: StorageBackend) => LocalFolderStorage.open((s as LocalFolderStorage).root),
});

// The CLI's flavour: the same behaviour with direct system calls.
storageConformance('local folder, blocking io', {
  create: async () => LocalFolderStorage.open(path.join(await tempRoot(), 'store'), { blockingIo: true }),
  reopen: async (s: StorageBackend) => LocalFolderStorage.open((s as LocalFolderStorage).root, { blockingIo: true }),
});

async function tree(dir: string): Promise<string[]> {
  return (await fs.readdir(dir, { recursive: true })).map(String).sort();
}

describe('local folder specifics', () => {
  it('never creates anything outside its root, whatever the key', async () => {
    const outer = await tempRoot();
    const storage = await LocalFolderStorage.open(path.join(outer, 'store'));
    const before = await tree(outer);
    for (const key of ['../x', '../../x', 'a/../../x', '/etc/x', `${outer}/x`, 'a/..', '..\\x', 'C:\\x', 'a\u0000b']) {
      await storage.put(key, new Uint8Array(1)).catch(() => undefined);
    }
    expect(await tree(outer)).toEqual(before);
  });

  it('hides temp files from listings and leaves none after a failed stage', async () => {
    const root = path.join(await tempRoot(), 'store');
    const storage = await LocalFolderStorage.open(root);
    await fs.mkdir(path.join(root, 'ns'), { recursive: true });
    await fs.writeFile(path.join(root, 'ns', '.tmp-123-abc'), 'partial');
    expect((await storage.list('ns/')).objects).toEqual([]);
    // One chunk (held in memory) or several (spooled to .staging/), then the source fails.
    for (const chunks of [1, 3]) {
      const failing = (async function* () {
        for (let i = 0; i < chunks; i++) yield new Uint8Array(100_000);
        throw new Error('source broke');
      })();
      await expect(storage.stage({ kind: 'stream', stream: failing })).rejects.toThrow('source broke');
    }
    expect(await fs.readdir(path.join(root, STAGING_DIR))).toEqual([]);
    expect((await storage.leftovers()).map((l) => l.id)).toEqual(['ns/.tmp-123-abc']); // only the one planted above
  });

  it('leaves no temp link when a copy replaces a key that already is the same file', async () => {
    const root = path.join(await tempRoot(), 'store');
    const storage = await LocalFolderStorage.open(root);
    await storage.put('ns/record', new TextEncoder().encode('{"version":1}'));
    await storage.copy('ns/record', 'ns/latest'); // a new key: linked directly
    await storage.copy('ns/record', 'ns/latest'); // replaced by itself (rename does nothing then)
    expect(await fs.readdir(path.join(root, 'ns'))).toEqual(['latest', 'record']);
    expect(await storage.leftovers()).toEqual([]);
  });

  it('reports a write that fails behind the hashing (a full disk), small or large chunks', async () => {
    for (const size of [100, 1 << 20]) {
      const fd = fsSync.openSync('/dev/full', 'w'); // every write fails with ENOSPC
      const writer = new StagingWriter(fd, { writeAll: async (f, data) => void fsSync.writeSync(f, data) });
      const chunk = new Uint8Array(size);
      const staging = (async () => {
        for (let i = 0; i < 3; i++) await writer.write(chunk);
        await writer.finish();
      })();
      await expect(staging).rejects.toMatchObject({ code: 'ENOSPC' });
      await writer.settle();
      fsSync.closeSync(fd);
    }
  });

  it('prunes folders that a delete leaves empty', async () => {
    const root = path.join(await tempRoot(), 'store');
    const storage = await LocalFolderStorage.open(root);
    await storage.put('ns/content/ab/cd/abcd', new Uint8Array(1));
    await storage.delete('ns/content/ab/cd/abcd');
    expect(await fs.readdir(root)).toEqual([]);
  });
});
