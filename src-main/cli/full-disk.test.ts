/**
 * A store on a disk with no space left: deleting and pruning must still work, since they are how
 * an operator makes room. Each case runs on its own small tmpfs, which needs root to mount.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../test-support/cli-harness';

function canMountTmpfs(): boolean {
  const probe = execFileSync('mktemp', ['-d']).toString().trim();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe]);
    return true;
  } catch {
    return false;
  } finally {
    execFileSync('rmdir', [probe]);
  }
}

const mounted: string[] = [];
const made: string[] = [];
afterEach(async () => {
  for (const dir of mounted.splice(0)) {
    // Lazy: a file the CLI closed without waiting (info's look at the content) may still be open for a moment.
    execFileSync('umount', ['-l', dir]);
    await fs.rmdir(dir);
  }
  for (const dir of made.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

/** A fresh 16 MiB file system. */
async function smallDisk(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dir]);
  mounted.push(dir);
  return dir;
}

/** Writes a file until the disk has no space left for another byte. */
async function fillUp(dir: string): Promise<void> {
  const file = await fs.open(path.join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(64 * 1024, 7);
  try {
    for (;;) await file.write(chunk);
  } catch (err) {
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    await file.close();
  }
  for (let size = 32 * 1024; size >= 1; size = Math.floor(size / 2)) {
    await fs.appendFile(path.join(dir, 'filler'), Buffer.alloc(size)).catch(() => undefined);
  }
}

/** A store with two entries (200 and 100 kB) on a fresh 16 MiB file system, and a work folder beside it. */
async function twoEntriesOnSmallDisk(format: 'native' | 'mgraph'): Promise<{ store: string; work: string; first: string; second: string }> {
  const store = path.join(await smallDisk(), 'store');
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-full-work-'));
  made.push(work);
  await fs.writeFile(path.join(work, 'first.bin'), Buffer.alloc(200_000, 1));
  await fs.writeFile(path.join(work, 'second.bin'), Buffer.alloc(100_000, 2));
  const stored = await cli(['--store', store, '--format', format, '--json', 'store', path.join(work, 'first.bin'), path.join(work, 'second.bin')]);
  expect(stored.code).toBe(0);
  const [first, second] = stored.stdout.trim().split('\n').map((l) => JSON.parse(l) as { hash: string });
  return { store, work, first: first!.hash, second: second!.hash };
}

describe.skipIf(!canMountTmpfs())('a store on a full disk (needs root to mount a small tmpfs)', () => {
  it('deletes an entry, and the next store works', async () => {
    const { store, work, first, second } = await twoEntriesOnSmallDisk('native');
    await fillUp(path.dirname(store));
    expect((await cli(['--store', store, 'store', path.join(work, 'first.bin')])).stderr).toContain('no_space');

    const deleted = await cli(['--store', store, 'delete', first]);
    expect(deleted).toMatchObject({ code: 0, stderr: '' });
    expect((await cli(['--store', store, 'info', first])).code).toBe(1);
    expect((await cli(['--store', store, 'get', second])).stdoutBytes).toEqual(Buffer.alloc(100_000, 2));
    await fs.writeFile(path.join(work, 'third.bin'), 'after the delete');
    expect((await cli(['--store', store, 'store', path.join(work, 'third.bin')])).code).toBe(0);
    expect((await cli(['--store', store, 'verify'])).code).toBe(0);
  });

  it.each(['native', 'mgraph'] as const)('a store refused for space into a new namespace leaves no namespace behind (%s)', async (format) => {
    const { store, work } = await twoEntriesOnSmallDisk(format);
    await fillUp(path.dirname(store));
    await fs.writeFile(path.join(work, 'third.bin'), 'never stored').catch(() => undefined);
    const refused = await cli(['--store', store, '--ns', 'fresh', 'store', path.join(work, 'first.bin')]);
    expect(refused.stderr).toContain('no_space');
    expect((await cli(['--store', store, 'namespaces'])).stdout).not.toContain('fresh');
    await expect(fs.readdir(path.join(store, 'fresh'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a delete makes the reserve again when it leaves room, so the next full-disk delete works too', async () => {
    const { store, work, first, second } = await twoEntriesOnSmallDisk('native');
    expect((await cli(['--store', store, 'store', path.join(work, 'first.bin')])).code).toBe(0); // v2 shares v1's content
    await fillUp(path.dirname(store));
    // Frees no content (v2 keeps it), but releases the reserve for its marker: 4 MiB free after it.
    expect(await cli(['--store', store, 'delete', first, '--version', '1'])).toMatchObject({ code: 0, stderr: '' });
    await fillUp(path.dirname(store)); // another program takes whatever is free
    expect(await cli(['--store', store, 'delete', second])).toMatchObject({ code: 0, stderr: '' });
    expect((await cli(['--store', store, 'verify'])).code).toBe(0);
  });

  it('with no reserve to release (a folder planted in its place), a delete says no_space', async () => {
    const { store, first } = await twoEntriesOnSmallDisk('native');
    await fs.rm(path.join(store, '.space-reserve'));
    await fs.mkdir(path.join(store, '.space-reserve'));
    await fillUp(path.dirname(store));
    const deleted = await cli(['--store', store, 'delete', first]);
    expect([deleted.code, deleted.stderr]).toEqual([3, expect.stringMatching(/^cache-admin: no_space: cannot write .*\.deleting\.json: no space left on the device\n$/)]);
    expect((await cli(['--store', store, 'info', first])).code).toBe(0);
  });

  it('prunes old versions', async () => {
    const { store } = await twoEntriesOnSmallDisk('native');
    await fillUp(path.dirname(store));
    await new Promise((r) => setTimeout(r, 1100));
    const pruned = await cli(['--store', store, 'prune', '--older-than', '1s']);
    expect(pruned.stderr).toBe('');
    expect(pruned.stdout).toContain('pruned 2 versions');
    expect((await cli(['--store', store, 'stats'])).stdout).toMatch(/versions\s+0\n/);
  });

  it('deletes a version in the service layout (its by-hash ref is rewritten first)', async () => {
    const { store, work, first } = await twoEntriesOnSmallDisk('mgraph');
    expect((await cli(['--store', store, 'store', path.join(work, 'first.bin')])).code).toBe(0); // a second version
    await fillUp(path.dirname(store));
    const versions = async () => (JSON.parse((await cli(['--store', store, '--json', 'versions', first])).stdout) as { versions: { cache_id: string }[] }).versions;
    const [oldest, newest] = await versions();
    expect(await cli(['--store', store, 'delete', oldest!.cache_id])).toMatchObject({ code: 0, stderr: '' });
    expect((await versions()).map((v) => v.cache_id)).toEqual([newest!.cache_id]);
  });
});
