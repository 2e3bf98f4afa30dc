import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CacheService } from './cache-service';
import { LocalFolderStorage } from './storage/local';
import { verifyStore } from './verify';
import type { CacheHash } from '../../src-shared/domain';

const bytes = (text: string, name: string) => ({ source: { kind: 'bytes' as const, bytes: Buffer.from(text) }, name });

/** A native store whose `default` holds two entries, one with two versions. */
async function storeWithDefault() {
  const dir = mkdtempSync(path.join(tmpdir(), 'renamed-ns-'));
  const open = async () => new CacheService(await LocalFolderStorage.open(dir));
  const cache = await open();
  const one = await cache.store('default', bytes('one', 'a.txt'));
  await cache.store('default', bytes('one', 'a-again.txt'));
  const two = await cache.store('default', bytes('two', 'b.txt'));
  return { dir, open, one: one.hash as CacheHash, two: two.hash as CacheHash };
}

const read = async (cache: CacheService, ns: string, hash: CacheHash, version?: number) => {
  const { record, content } = await cache.retrieve(ns, { hash, version });
  const chunks: Buffer[] = [];
  for await (const chunk of content) chunks.push(Buffer.from(chunk));
  return { namespace: record.namespace, version: record.version, text: Buffer.concat(chunks).toString() };
};

describe('a namespace folder renamed or copied by hand', () => {
  it('reads as the namespace it is filed in, and verify --repair rewrites its records instead of quarantining every entry', async () => {
    const { dir, open, one, two } = await storeWithDefault();
    renameSync(path.join(dir, 'default'), path.join(dir, 'archive2025'));
    const cache = await open();

    // Its records still name `default`: the entries are read (they said "corrupt … run verify with repair").
    expect(await read(cache, 'archive2025', one)).toEqual({ namespace: 'archive2025', version: 2, text: 'one' });
    expect(await read(cache, 'archive2025', one, 1)).toEqual({ namespace: 'archive2025', version: 1, text: 'one' });
    expect(await read(cache, 'archive2025', two)).toEqual({ namespace: 'archive2025', version: 1, text: 'two' });

    const found = await verifyStore(cache);
    expect(found.problems.map((p) => `${p.kind} ${p.hash}`).sort()).toEqual([`corrupt ${one}`, `corrupt ${one}`, `corrupt ${two}`].sort());
    expect(found.problems[0]!.detail).toMatch(/names namespace default, but it is filed in archive2025/);

    const repaired = await verifyStore(cache, { repair: true });
    expect(repaired.repaired).toHaveLength(3);
    expect(existsSync(path.join(dir, '_quarantine'))).toBe(false);
    expect((await verifyStore(cache)).problems).toEqual([]);
    expect(await read(cache, 'archive2025', one, 1)).toEqual({ namespace: 'archive2025', version: 1, text: 'one' });
    expect((await cache.versions('archive2025', one)).map((v) => v.version)).toEqual([1, 2]);
  });

  it("a record copied in alone from another namespace is damage, not a rename: never served, and the repair restores the namespace's own from its index entry", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'foreign-record-'));
    const cache = new CacheService(await LocalFolderStorage.open(dir));
    const theirs = await cache.store('a', bytes('same', 'f.txt'));
    await cache.store('a', bytes('same', 'f-again.txt'));
    await cache.store('b', bytes('same', 'g.txt'));
    const ours = await cache.record('b', { hash: theirs.hash as CacheHash, version: 1 });
    const file = (ns: string, name: string) => path.join(dir, ns, 'objects', theirs.hash.slice(0, 2), theirs.hash.slice(2, 4), `${theirs.hash}${name}`);
    // Replaced, not written through: the index entry is a link of b's own record.
    for (const name of ['.v00000001.json', '.latest.json']) {
      rmSync(file('b', name));
      copyFileSync(file('a', name), file('b', name));
    }
    const hash = theirs.hash as CacheHash;
    await expect(cache.record('b', { hash, version: 1 })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringContaining('names namespace a, not b: it was copied in from there') });
    // Latest names a's v2, which b never had: passed over for b's own newest.
    expect((await cache.versions('b', hash)).map((v) => v.version)).toEqual([1]);

    const found = await verifyStore(cache, { namespace: 'b' });
    expect(found.problems.map((p) => p.detail)).toContain('the version record names namespace a (copied in from there); its index entry holds a good copy, which a repair restores');
    await verifyStore(cache, { namespace: 'b', repair: true });
    expect((await verifyStore(cache)).problems).toEqual([]);
    const record = await cache.record('b', { hash, version: 1 });
    expect({ source: record.source, stored_at: record.stored_at }).toEqual({ source: 'g.txt', stored_at: ours.stored_at });
    expect(existsSync(path.join(dir, '_quarantine'))).toBe(false);
  });

  it("a copy's versions are its own: storing, deleting and verifying in the copy never touch the namespace it was copied from", async () => {
    const { dir, open, one, two } = await storeWithDefault();
    cpSync(path.join(dir, 'default'), path.join(dir, 'copy'), { recursive: true });
    const cache = await open();
    const filesOfDefault = () => readdirSync(path.join(dir, 'default'), { recursive: true }).map(String).sort();
    const before = filesOfDefault();

    // A new version in the copy, then deletes there: every key they write or remove is the copy's.
    expect((await cache.store('copy', bytes('two', 'b2.txt'))).cache_id).toBe(`${two}-v2`);
    await cache.delete('copy', { hash: one, version: 2 });
    await cache.delete('copy', { hash: two });
    expect(filesOfDefault()).toEqual(before);
    expect((await verifyStore(cache, { namespace: 'default' })).problems).toEqual([]);
    expect(await read(cache, 'default', one)).toEqual({ namespace: 'default', version: 2, text: 'one' });
    expect(await read(cache, 'copy', one)).toEqual({ namespace: 'copy', version: 1, text: 'one' });
    await expect(cache.retrieve('copy', { hash: two })).rejects.toMatchObject({ code: 'not_found' });
  });
});
