/**
 * A delete in another process prunes folders left empty, so a shard folder this process has just
 * made can vanish before the folder inside it is made. Making the folders tries again then. The
 * race is forced here by removing the new parent right before the inner mkdir.
 */
import * as fsSync from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { LocalFolderStorage } from './local';

/** The parent whose next inner mkdir is preceded by its removal. */
const prune = vi.hoisted(() => ({ parent: null as string | null, done: 0 }));

function pruneFirst(dir: unknown): void {
  if (typeof dir === 'string' && prune.parent !== null && path.dirname(dir) === prune.parent && fsSync.existsSync(prune.parent)) {
    fsSync.rmdirSync(prune.parent);
    prune.parent = null;
    prune.done++;
  }
}

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const mkdir = (async (dir: fsSync.PathLike, options?: fsSync.MakeDirectoryOptions) => {
    pruneFirst(dir);
    return real.mkdir(dir, options);
  }) as typeof real.mkdir;
  return { ...real, default: { ...real, mkdir }, mkdir };
});
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const mkdirSync = ((dir: fsSync.PathLike, options?: fsSync.MakeDirectoryOptions) => {
    pruneFirst(dir);
    return real.mkdirSync(dir, options);
  }) as typeof real.mkdirSync;
  return { ...real, default: { ...real, mkdirSync }, mkdirSync };
});

let root: string;
beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-race-'));
  prune.done = 0;
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

for (const blockingIo of [false, true]) {
  it(`writes a key whose just-made shard folder another process pruned (${blockingIo ? 'direct calls' : 'thread pool'})`, async () => {
    const storage = new LocalFolderStorage(root, { blockingIo });
    await storage.put('default/readme', new TextEncoder().encode('a namespace folder'));
    prune.parent = path.join(root, 'default/objects/ab');
    await storage.put('default/objects/ab/cd/abcd000000000000.deleting.json', new TextEncoder().encode('{}'));
    expect(prune.done).toBe(1);
    expect(new TextDecoder().decode((await storage.get('default/objects/ab/cd/abcd000000000000.deleting.json'))!)).toBe('{}');
  });
}
