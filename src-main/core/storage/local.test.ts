import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { storageConformance } from './conformance';
import * as fsSync from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { createHash, randomBytes } from 'node:crypto';
import { BufferRing, IO_ALIGN, RING_BUFFER_BYTES } from '../buffer-ring';
import { FLUSH_EVERY, LocalFolderStorage, SPACE_RESERVE, STAGING_DIR, StagingWriter, WRITES_IN_FLIGHT } from './local';
import { KEYS_PER_VISIT } from './folder-walk';
import type { StorageBackend } from './types';
import { CountingStorage } from './counting';
import { CacheService } from '../cache-service';
import { nativeEntryRows, nativeSortedEntryRows } from '../formats/native/entry-rows';

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

/**
 * Makes `file` one this process cannot delete: immutable (chattr +i) as root, else a read-only
 * folder; false where neither can be done (no chattr, a filesystem without the attribute).
 */
function undeletable(file: string): (() => void) | false {
  if (process.getuid?.() !== 0) {
    fsSync.chmodSync(path.dirname(file), 0o555);
    return () => fsSync.chmodSync(path.dirname(file), 0o755);
  }
  try {
    execFileSync('chattr', ['+i', file], { stdio: 'ignore' });
    return () => execFileSync('chattr', ['-i', file], { stdio: 'ignore' });
  } catch {
    return false;
  }
}

describe('a delete the filesystem refuses', () => {
  it('fails as refused and leaves the file; a content delete that failed so is never reported as done', async (ctx) => {
    const root = path.join(await tempRoot(), 'store');
    const storage = await LocalFolderStorage.open(root);
    const cache = new CacheService(storage);
    const stored = await cache.store('default', { source: { kind: 'bytes', bytes: new TextEncoder().encode('refused') } });
    const content = path.join(root, new (await import('../layout')).KeyLayout().content('default' as never, stored.hash));
    const restore = undeletable(content);
    if (!restore) return ctx.skip();
    try {
      await expect(storage.delete(path.relative(root, content))).rejects.toMatchObject({ code: expect.stringMatching(/^(access_denied|io_error)$/) });
      expect(fsSync.existsSync(content)).toBe(true);
      // Deleting the entry: its versions go, its bytes cannot, and the delete fails saying so rather than report it done.
      await expect(cache.delete('default', { hash: stored.hash })).rejects.toMatchObject({ message: expect.stringContaining(`cannot delete ${content}`) });
      expect(fsSync.existsSync(content)).toBe(true);
    } finally {
      restore();
    }
  });
});

describe('local folder specifics', () => {
  it.each([false, true])('a pipe planted at a key reads as nothing there, at once, never waiting for a writer (blocking io: %s)', async (blockingIo) => {
    const storage = await LocalFolderStorage.open(path.join(await tempRoot(), 'store'), { blockingIo });
    await storage.put('ns/empty', new Uint8Array(0));
    await storage.put('ns/pipe', new Uint8Array(1));
    await fs.rm(path.join(storage.root, 'ns', 'pipe'));
    execFileSync('mkfifo', [path.join(storage.root, 'ns', 'pipe')]);
    expect(await storage.get('ns/pipe')).toBeNull();
    expect(await storage.getStream('ns/pipe')).toBeNull();
    const writer = fsSync.openSync(path.join(storage.root, 'ns', 'pipe'), fsSync.constants.O_RDWR); // a writer that has written nothing yet
    try {
      expect(await storage.get('ns/pipe')).toBeNull();
    } finally {
      fsSync.closeSync(writer);
    }
    expect((await storage.get('ns/empty'))?.length).toBe(0); // an empty file is still a file
  });

  it('never creates anything outside its root, whatever the key', async () => {
    const outer = await tempRoot();
    const storage = await LocalFolderStorage.open(path.join(outer, 'store'));
    const before = await tree(outer);
    for (const key of ['../x', '../../x', 'a/../../x', '/etc/x', `${outer}/x`, 'a/..', '..\\x', 'C:\\x', 'a\u0000b']) {
      await storage.put(key, new Uint8Array(1)).catch(() => undefined);
    }
    expect(await tree(outer)).toEqual(before);
  });

  it('never writes or deletes through a folder that is a link inside the store (a namespace, a shard, the staging folder)', async () => {
    const base = await tempRoot();
    const root = path.join(base, 'store');
    const outside = path.join(base, 'outside');
    await fs.mkdir(outside);
    await fs.writeFile(path.join(outside, 'victim'), 'theirs');
    const storage = await LocalFolderStorage.open(root);
    const data = (text: string) => new TextEncoder().encode(text);
    await storage.put('kept/a', data('a'));
    await fs.symlink(outside, path.join(root, 'linked'));
    await fs.symlink(outside, path.join(root, 'kept', 'shard'));
    const refused = { code: 'io_error', message: expect.stringContaining('is a link inside the store') };
    await expect(storage.put('linked/objects/x', data('x'))).rejects.toMatchObject(refused);
    await expect(storage.put('kept/shard/x', data('x'))).rejects.toMatchObject(refused);
    await expect(storage.copy('kept/a', 'kept/shard/copy')).rejects.toMatchObject(refused);
    const staged = await storage.stage({ kind: 'bytes', bytes: data('small') });
    await expect(staged.commit('kept/shard/staged')).rejects.toMatchObject(refused);
    await expect(storage.delete('linked/victim')).rejects.toMatchObject(refused);
    await fs.symlink(outside, path.join(root, STAGING_DIR));
    await expect(storage.stage({ kind: 'stream', stream: (async function* () { yield new Uint8Array(9 << 20); })() })).rejects.toMatchObject(refused);
    expect(await fs.readdir(outside)).toEqual(['victim']);
    expect(Buffer.from((await storage.get('kept/a'))!).toString()).toBe('a');
  });

  it('never reads or lists through a folder that is a link inside the store (a namespace, a shard): what it leads to is not the store\'s', async () => {
    const base = await tempRoot();
    const root = path.join(base, 'store');
    const outside = path.join(base, 'outside');
    await fs.mkdir(path.join(outside, 'objects'), { recursive: true });
    await fs.writeFile(path.join(outside, 'objects', 'secret'), 'theirs');
    const storage = await LocalFolderStorage.open(root);
    await storage.put('kept/a', new TextEncoder().encode('a'));
    await fs.symlink(outside, path.join(root, 'linked'));
    await fs.symlink(path.join(outside, 'objects'), path.join(root, 'kept', 'shard'));
    const refused = { code: 'io_error', message: expect.stringMatching(/is a link inside the store; links are never followed there, so nothing was read$/) };
    for (const key of ['linked/objects/secret', 'kept/shard/secret']) {
      await expect(storage.get(key), key).rejects.toMatchObject(refused);
      await expect(storage.getStream(key), key).rejects.toMatchObject(refused);
      expect(await storage.exists(key), key).toBe(false); // not the store's, as a link at the key itself is not
      expect(await storage.sizeOf(key), key).toBeNull();
    }
    for (const prefix of ['linked/', 'linked/objects/', 'kept/shard/']) {
      await expect(storage.list(prefix), prefix).rejects.toMatchObject(refused);
      await expect(storage.walkKeys(prefix, () => undefined), prefix).rejects.toMatchObject(refused);
    }
    // The store's own keys read as ever; a listing of the store passes the links by; a key not there is not there.
    expect(Buffer.from((await storage.get('kept/a'))!).toString()).toBe('a');
    expect((await storage.list('')).objects.map((o) => o.key)).toEqual(['kept/a']);
    expect(await storage.get('kept/b')).toBeNull();
    expect(await storage.exists('elsewhere/b')).toBe(false);
  });

  it('a store whose root is itself a link reads as any store', async () => {
    const base = await tempRoot();
    await fs.mkdir(path.join(base, 'real'));
    await fs.symlink(path.join(base, 'real'), path.join(base, 'store'));
    const storage = await LocalFolderStorage.open(path.join(base, 'store'));
    await storage.put('ns/a', new TextEncoder().encode('a'));
    expect(Buffer.from((await storage.get('ns/a'))!).toString()).toBe('a');
    expect((await storage.list('ns/')).objects.map((o) => o.key)).toEqual(['ns/a']);
  });

  it('big content found already there is kept staged until its store ends: if the bytes then go (the store that placed them failed), it places them again', async () => {
    const storage = await LocalFolderStorage.open(path.join(await tempRoot(), 'store'));
    const big = randomBytes(9 << 20);
    const streamed = () => ({ kind: 'stream' as const, stream: (async function* () { yield big; })() }); // spooled (over a ring buffer), then moved into place, not copied
    const first = await storage.stage(streamed());
    expect(await first.commit('ns/objects/ab/cd/big')).toBe('created');
    await first.discard();
    const second = await storage.stage(streamed());
    expect(await second.commit('ns/objects/ab/cd/big')).toBe('exists');
    await storage.delete('ns/objects/ab/cd/big'); // the first store takes its bytes back
    expect(await second.commit('ns/objects/ab/cd/big')).toBe('created');
    await second.discard();
    expect(Buffer.from((await storage.get('ns/objects/ab/cd/big'))!).equals(big)).toBe(true);
    expect(await fs.readdir(path.join(storage.root, STAGING_DIR)).catch(() => [])).toEqual([]);
  });

  it('a file longer than one buffer is written from its first chunk on; one that fits one stays in memory until its key is known', async () => {
    const storage = await LocalFolderStorage.open(path.join(await tempRoot(), 'store'));
    const staging = path.join(storage.root, STAGING_DIR);
    const files = await tempRoot();
    for (const [bytes, spooledAtFirstChunk] of [
      [RING_BUFFER_BYTES + 1, 1],
      [RING_BUFFER_BYTES, 0],
    ] as const) {
      const file = path.join(files, `f${bytes}`);
      const content = randomBytes(bytes);
      await fs.writeFile(file, content);
      let atFirstChunk: string[] | null = null;
      const onProgress = () => void (atFirstChunk ??= fsSync.existsSync(staging) ? fsSync.readdirSync(staging) : []);
      const staged = await storage.stage({ kind: 'file', path: file }, { onProgress });
      expect(atFirstChunk).toHaveLength(spooledAtFirstChunk);
      expect(await staged.commit(`ns/f${bytes}`)).toBe('created');
      await staged.discard();
      expect(Buffer.from((await storage.get(`ns/f${bytes}`))!).equals(content)).toBe(true);
    }
    // Cancelled once its spool is open: nothing is left in .staging/.
    const big = path.join(files, 'big');
    await fs.writeFile(big, randomBytes(3 * RING_BUFFER_BYTES));
    const cancel = new AbortController();
    await expect(storage.stage({ kind: 'file', path: big }, { signal: cancel.signal, onProgress: () => cancel.abort() })).rejects.toMatchObject({ code: 'cancelled' });
    expect(await fs.readdir(staging)).toEqual([]);
  });

  it('hides temp files from listings and leaves none after a failed stage', async () => {
    const root = path.join(await tempRoot(), 'store');
    const storage = await LocalFolderStorage.open(root);
    await fs.mkdir(path.join(root, 'ns'), { recursive: true });
    await fs.writeFile(path.join(root, 'ns', '.tmp-123-abc'), 'partial');
    expect((await storage.list('ns/')).objects).toEqual([]);
    // One 4 MiB buffer's worth (held in memory) or several (spooled to .staging/), then the source fails.
    for (const chunks of [1, 3]) {
      const failing = (async function* () {
        for (let i = 0; i < chunks; i++) yield new Uint8Array(5 << 20);
        throw new Error('source broke');
      })();
      await expect(storage.stage({ kind: 'stream', stream: failing })).rejects.toThrow('source broke');
    }
    expect(await fs.readdir(path.join(root, STAGING_DIR))).toEqual([]);
    expect((await storage.leftovers()).map((l) => l.id)).toEqual(['ns/.tmp-123-abc']); // only the one planted above
  });

  it('a write or copy onto a key where a folder stands fails, leaving the folder and no temp file', async () => {
    const root = path.join(await tempRoot(), 'store');
    const storage = await LocalFolderStorage.open(root);
    await storage.put('ns/record', new TextEncoder().encode('{"version":1}'));
    await fs.mkdir(path.join(root, 'ns', 'ref', 'inside'), { recursive: true });
    await expect(storage.put('ns/ref', new TextEncoder().encode('{}'))).rejects.toThrow(/cannot write .*ref/);
    await expect(storage.copy('ns/record', 'ns/ref')).rejects.toThrow(/cannot write .*ref/);
    expect(await fs.readdir(path.join(root, 'ns'))).toEqual(['record', 'ref']);
    expect(await fs.readdir(path.join(root, 'ns', 'ref'))).toEqual(['inside']);
    expect(await storage.leftovers()).toEqual([]);
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
      const writer = new StagingWriter(fd);
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

  it('falls back to the page cache when a direct write is refused, losing nothing', async () => {
    const file = path.join(await tempRoot(), 'spool');
    const fd = fsSync.openSync(file, 'wx');
    const directFd = fsSync.openSync(file, fsSync.constants.O_WRONLY | (fsSync.constants.O_DIRECT ?? 0));
    // A ring that vouches for any chunk: the kernel then refuses the unaligned one with EINVAL
    // (where direct I/O exists; elsewhere the write simply succeeds, which is the same outcome).
    const ring = Object.assign(new BufferRing(), { starts: () => true });
    const writer = new StagingWriter(fd, { ring, directFd });
    const chunks = [randomBytes(IO_ALIGN * 16 + 1).subarray(1), randomBytes(IO_ALIGN * 16), randomBytes(100)];
    for (const chunk of chunks) await writer.write(chunk);
    await writer.finish();
    fsSync.closeSync(fd);
    expect(fsSync.readFileSync(file).equals(Buffer.concat(chunks))).toBe(true);
    expect(() => fsSync.fstatSync(directFd)).toThrow(); // closed by the writer
  });

  it('queues the next big write before the previous one is done, so the disk never waits for a busy thread', async () => {
    const file = path.join(await tempRoot(), 'spool');
    const fd = fsSync.openSync(file, 'wx');
    const pending = new Set<Promise<unknown>>();
    const pendingAtSubmit: number[] = [];
    // A ring that vouches for every chunk and reports each write it is asked to hold a buffer for.
    const ring = Object.assign(new BufferRing(), {
      starts: () => true,
      holdUntil: (_chunk: Uint8Array, done: Promise<unknown>) => {
        pendingAtSubmit.push(pending.size);
        pending.add(done);
        void done.finally(() => pending.delete(done));
      },
    });
    const writer = new StagingWriter(fd, { ring });
    const chunks = Array.from({ length: WRITES_IN_FLIGHT.read * 3 }, () => randomBytes(IO_ALIGN * 64));
    for (const chunk of chunks) await writer.write(chunk);
    await writer.finish();
    fsSync.closeSync(fd);
    expect(pendingAtSubmit[1]).toBe(1); // the second write starts while the first still runs
    expect(Math.max(...pendingAtSubmit)).toBe(WRITES_IN_FLIGHT.read - 1); // and never more than that at once
    expect(fsSync.readFileSync(file).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('flushes big content as it is written while the disk would idle, direct writes too, and fails the store on an early flush error', async () => {
    const chunks = Array.from({ length: (3 * FLUSH_EVERY) / RING_BUFFER_BYTES }, () => new Uint8Array(RING_BUFFER_BYTES));
    for (const failing of [false, true]) {
      const file = path.join(await tempRoot(), 'spool');
      const fd = fsSync.openSync(file, 'wx');
      const directFd = fsSync.openSync(file, fsSync.constants.O_WRONLY | (fsSync.constants.O_DIRECT ?? 0));
      // Content that arrives slower than the disk takes it (an upload): each chunk comes once the
      // writes before it are done.
      const writes: Promise<unknown>[] = [];
      const ring = new BufferRing(WRITES_IN_FLIGHT.streamed + 2);
      const holdUntil = ring.holdUntil.bind(ring);
      ring.holdUntil = (chunk, done) => (writes.push(done), holdUntil(chunk, done));
      let flushes = 0;
      const flush = async () => {
        flushes++;
        if (failing) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      };
      const writer = new StagingWriter(fd, { ring, directFd, flush, writesInFlight: WRITES_IN_FLIGHT.streamed });
      let written = 0;
      const staging = (async () => {
        for (const chunk of chunks) {
          await Promise.allSettled(writes);
          written++;
          const buffer = await ring.next(); // read into the ring, as a big file or an upload is
          buffer.set(chunk);
          await writer.write(buffer);
        }
        await writer.finish();
      })();
      if (failing) {
        await expect(staging).rejects.toMatchObject({ code: 'EIO' });
        expect(written).toBeLessThan(chunks.length / 2); // failed at the next write, not once all was in
        await writer.settle();
      } else {
        await staging;
        // 192 MiB: flushed at 64 and 128 MiB at least, not only at the end (the caller's flush).
        expect(flushes).toBeGreaterThanOrEqual(2);
      }
      fsSync.closeSync(fd);
    }
  });

  it('reads stdin redirected from a file as a file: 4 MiB reads, from where stdin stands', async () => {
    const dir = await tempRoot();
    const source = path.join(dir, 'big');
    const bytes = randomBytes(4 * RING_BUFFER_BYTES + 100);
    await fs.writeFile(source, bytes);
    const fd = fsSync.openSync(source, 'r');
    fsSync.readSync(fd, Buffer.alloc(100)); // what a previous reader of stdin took
    // How Node opens stdin when it is a file.
    const stdin = fsSync.createReadStream('', { fd, autoClose: false });
    const storage = await LocalFolderStorage.open(path.join(dir, 'store'));
    const progress: number[] = [];
    const staged = await storage.stage({ kind: 'stream', stream: stdin }, { onProgress: (done) => progress.push(done) });
    fsSync.closeSync(fd);
    expect(staged.sha256).toBe(createHash('sha256').update(bytes.subarray(100)).digest('hex'));
    expect(progress.length).toBeLessThanOrEqual(5); // 64 KiB stream chunks: 256 of them
    await staged.commit('ns/big');
    expect((await fs.readFile(path.join(dir, 'store', 'ns', 'big'))).equals(bytes.subarray(100))).toBe(true);
  });

  it("stores reuse the ring's buffers (a long-running app does not grow by a ring of buffers a store), and content held for its commit is not touched by the next store", async () => {
    const dir = await tempRoot();
    const storage = await LocalFolderStorage.open(path.join(dir, 'store'));
    const Memory = WebAssembly.Memory;
    let made = 0;
    // Counts the ring's buffers as they are made (WebAssembly memories).
    WebAssembly.Memory = function (descriptor: WebAssembly.MemoryDescriptor) {
      made++;
      return new Memory(descriptor);
    } as unknown as typeof WebAssembly.Memory;
    try {
      const streamOf = (bytes: Buffer) => ({ kind: 'stream' as const, stream: (async function* () { for (let i = 0; i < bytes.length; i += 65536) yield bytes.subarray(i, i + 65536); })() });
      const small = randomBytes(1 << 20); // one chunk: kept in memory until its commit
      const held = await storage.stage(streamOf(small));
      for (let i = 0; i < 8; i++) {
        const big = randomBytes((WRITES_IN_FLIGHT.streamed + 2) * RING_BUFFER_BYTES + 5); // every buffer of a streamed store's ring, and more
        const staged = await storage.stage(streamOf(big));
        await staged.commit(`ns/big${i}`);
        expect((await fs.readFile(path.join(dir, 'store', 'ns', `big${i}`))).equals(big)).toBe(true);
      }
      expect(made).toBeLessThanOrEqual(WRITES_IN_FLIGHT.streamed + 2); // one ring's worth, for nine stores
      await held.commit('ns/small');
      expect((await fs.readFile(path.join(dir, 'store', 'ns', 'small'))).equals(small)).toBe(true);
    } finally {
      WebAssembly.Memory = Memory;
    }
  });

  const fincore = process.platform === 'linux' && ((): boolean => {
    try {
      return execFileSync('fincore', ['--version']).length > 0;
    } catch {
      return false;
    }
  })();
  it.skipIf(!fincore)('writes big content past the page cache: the operator\'s cached files stay cached (Linux, needs fincore)', async () => {
    const dir = await tempRoot();
    const TMPFS_MAGIC = 0x01021994; // tmpfs is the page cache, so there is nothing to bypass
    if ((await fs.statfs(dir)).type === TMPFS_MAGIC) return expect.fail(`the temp dir ${dir} is on tmpfs; point TMPDIR at a disk`);
    const size = 4 * RING_BUFFER_BYTES + 10;
    const source = path.join(dir, 'big');
    await fs.writeFile(source, randomBytes(size));
    const storage = await LocalFolderStorage.open(path.join(dir, 'store'));
    const staged = await storage.stage({ kind: 'file', path: source });
    await staged.commit('ns/big');
    const stored = path.join(dir, 'store', 'ns', 'big');
    const resident = Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', stored]).toString().trim());
    expect(resident).toBeLessThan(IO_ALIGN * 2); // at most the unaligned tail (a buffered write: all 16 MiB)
    expect((await fs.readFile(stored)).equals(await fs.readFile(source))).toBe(true);
  });

  it('a big store cancelled or cut short mid-file leaves no staging file behind', async () => {
    const dir = await tempRoot();
    const source = path.join(dir, 'big');
    await fs.writeFile(source, randomBytes(8 * RING_BUFFER_BYTES));
    const storage = await LocalFolderStorage.open(path.join(dir, 'store'));
    const openFiles = () => (process.platform === 'linux' ? fsSync.readdirSync('/proc/self/fd').length : 0);
    const before = openFiles();
    const controller = new AbortController();
    const onProgress = (done: number) => {
      if (done >= 3 * RING_BUFFER_BYTES) controller.abort(); // a few chunks are already on disk
    };
    await expect(storage.stage({ kind: 'file', path: source }, { signal: controller.signal, onProgress })).rejects.toMatchObject({ code: 'cancelled' });
    await expect(storage.stage({ kind: 'file', path: source }, { maxBytes: 5 * RING_BUFFER_BYTES })).rejects.toMatchObject({ code: 'too_large' });
    expect(await fs.readdir(path.join(dir, 'store', STAGING_DIR))).toEqual([]);
    expect(await storage.leftovers()).toEqual([]);
    expect(openFiles()).toBe(before); // the source, the spool and its direct-I/O twin all closed
  });

  it('a file that says it is over the limit is refused before a byte of it is read or staged (was read and written up to the limit)', async () => {
    const dir = await tempRoot();
    const source = path.join(dir, 'sparse');
    await fs.writeFile(source, '');
    await fs.truncate(source, 64 * RING_BUFFER_BYTES);
    const storage = await LocalFolderStorage.open(path.join(dir, 'store'));
    let read = 0;
    await expect(storage.stage({ kind: 'file', path: source }, { maxBytes: RING_BUFFER_BYTES, onProgress: (done) => (read = done) })).rejects.toMatchObject({
      code: 'too_large',
      message: `content is larger than the 4 MiB limit for one entry`,
    });
    expect(read).toBe(0);
    expect(await fs.readdir(path.join(dir, 'store', STAGING_DIR)).catch(() => [])).toEqual([]);
  });

  it('counts namespaces and stats from names alone: no stat per key, the same numbers as from sizes', async () => {
    const storage = await LocalFolderStorage.open(path.join(await tempRoot(), 'store'));
    const cache = new CacheService(storage);
    const bytes = (text: string) => ({ source: { kind: 'bytes' as const, bytes: new TextEncoder().encode(text) }, name: `${text.length}.txt` });
    const kept = await cache.store('ns', bytes('stored twice, one version deleted'));
    await cache.store('ns', bytes('stored twice, one version deleted'));
    await cache.store('ns', bytes('stored twice, one version deleted'));
    await cache.delete('ns', { hash: kept.hash, version: 2 });
    await cache.store('ns', bytes(''));
    const gone = await cache.store('ns', bytes('every version deleted'));
    await cache.delete('ns', { hash: gone.hash });
    await cache.store('other', bytes('x'.repeat(5000)));
    await storage.put('ns/objects/ab/cd/abcd000000000000', new Uint8Array(7)); // content no index entry names
    // The listing with a size per key, as before.
    const withSizes = new CountingStorage(storage);
    Object.assign(withSizes, { listKeys: undefined, walkKeys: undefined });
    const expected = { namespaces: await new CacheService(withSizes).namespaces(), stats: await new CacheService(withSizes).stats('ns') };
    expect(expected.stats).toMatchObject({ entries: 3, versions: 3, bytes: 33 + 0 + 7 });

    const fsPromises = createRequire(import.meta.url)('node:fs/promises') as typeof fs;
    const lstat = fsPromises.lstat;
    let stats = 0;
    fsPromises.lstat = ((...args: Parameters<typeof lstat>) => (stats++, lstat(...args))) as typeof lstat;
    syncBuiltinESMExports();
    try {
      expect(await cache.namespaces()).toEqual(expected.namespaces);
      expect(await cache.stats('ns')).toEqual(expected.stats);
    } finally {
      fsPromises.lstat = lstat;
      syncBuiltinESMExports();
    }
    expect(stats).toBe(2); // the content no index entry names, once for namespaces() and once for stats()
  });

  it('walks every key under a prefix in a walking thread: the keys the pages list, no temp or dot files, a gone store an error', async () => {
    const root = path.join(await tempRoot(), 'store');
    const storage = await LocalFolderStorage.open(root);
    const keys = ['ns/objects/ab/cd/abcd', 'ns/objects/ab/cd/abcd.v00000001.json', 'ns/objects/ef/01/ef01', 'ns/temporal/2026/x', 'ns2/objects/aa/bb/aabb', 'nsx'];
    for (const key of keys) await storage.put(key, new Uint8Array(1));
    await fs.writeFile(path.join(root, 'ns', 'objects', 'ab', 'cd', '.tmp-123-abc-0'), 'a store in flight');
    await fs.mkdir(path.join(root, STAGING_DIR), { recursive: true });
    await fs.writeFile(path.join(root, STAGING_DIR, '.tmp-1-a-0'), 'staged');
    const paged = async (prefix: string) => {
      const found: string[] = [];
      for (let cursor: string | undefined, first = true; first || cursor !== undefined; first = false) {
        const page = await storage.listKeys(prefix, { cursor });
        found.push(...page.keys);
        cursor = page.cursor;
      }
      return found;
    };
    const walked = async (prefix: string) => {
      const found: string[] = [];
      await storage.walkKeys(prefix, (batch) => found.push(...batch));
      return found.sort();
    };
    for (const prefix of ['', 'ns/', 'ns', 'ns/objects/ab/', 'ns/objects/e', 'missing/']) {
      expect(await walked(prefix), prefix).toEqual(await paged(prefix));
    }
    expect(await walked('ns/')).toEqual(keys.filter((k) => k.startsWith('ns/')));
    await fs.rm(root, { recursive: true });
    await expect(walked('ns/')).rejects.toMatchObject({ code: 'storage_unreachable' });
  });

  it('leaves out names no key can have (a stray `café.txt`, a name that is not UTF-8), which failed every listing that came to them', async () => {
    const root = path.join(await tempRoot(), 'store');
    const storage = await LocalFolderStorage.open(root);
    const cache = new CacheService(storage);
    const stored = await cache.store('ns', { source: { kind: 'bytes', bytes: Buffer.from('kept') } });
    await fs.writeFile(path.join(root, 'café.txt'), 'dropped here by hand');
    const shard = path.join(root, 'ns', 'objects', stored.hash.slice(0, 2));
    fsSync.writeFileSync(Buffer.concat([Buffer.from(`${shard}/bad`), Buffer.from([0xff]), Buffer.from('.txt')]), 'not UTF-8');
    // A service path may hold a backslash: still a key.
    await fs.writeFile(path.join(root, 'ns', 'back\\slash'), 'a service key');
    const listed = (await storage.list('')).objects.map((o) => o.key);
    expect(listed).toContain('ns/back\\slash');
    expect(listed.filter((k) => !/^[\x20-\x7e]+$/.test(k))).toEqual([]);
    const walked: string[] = [];
    await storage.walkKeys('', (batch) => walked.push(...batch));
    expect(walked.sort()).toEqual([...listed].sort());
    expect((await cache.namespaces()).map((n) => n.name)).toEqual(['ns']);
    expect((await cache.retrieve('ns', { hash: stored.hash })).record.size).toBe(4);
  });

  it('walks a big namespace in batches with other work between them, so the process answers while it counts', async () => {
    const root = path.join(await tempRoot(), 'store');
    const folder = path.join(root, 'ns', 'objects', 'ab', 'cd');
    await fs.mkdir(folder, { recursive: true });
    const count = 2 * KEYS_PER_VISIT + 500;
    for (let i = 0; i < count; i++) await fs.writeFile(path.join(folder, `k${i}`), '');
    const storage = await LocalFolderStorage.open(root);
    const batches: number[] = [];
    let turnsBetween = 0;
    let otherWork: NodeJS.Immediate | null = null;
    const keepWorking = () => {
      turnsBetween++;
      otherWork = setImmediate(keepWorking);
    };
    await storage.walkKeys('ns/', (batch) => {
      batches.push(batch.length);
      if (batches.length === 1) keepWorking();
      else expect(turnsBetween, 'other work ran since the last batch').toBeGreaterThan(0);
      turnsBetween = 0;
    });
    clearImmediate(otherWork!);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(count);
    expect(Math.max(...batches)).toBeLessThanOrEqual(KEYS_PER_VISIT);
  });

  for (const blockingIo of [false, true]) {
    it(`pages through a big folder kept between pages and still sees what changed meanwhile, as S3 would (${blockingIo ? 'blocking' : 'thread-pool'} io)`, async () => {
      const root = path.join(await tempRoot(), 'store');
      const storage = await LocalFolderStorage.open(root, { blockingIo });
      const names = Array.from({ length: 300 }, (_, i) => `k${String(i).padStart(3, '0')}`);
      for (const name of names) await storage.put(`ns/big/${name}`, new Uint8Array(1));
      for (const name of ['a', 'b']) await storage.put(`ns/gone/${name}`, new Uint8Array(1));
      await storage.put('ns/zz/last', new Uint8Array(1));
      await new Promise((resolve) => setTimeout(resolve, 2100)); // old enough for its change time to be trusted
      const first = await storage.listKeys('ns/', { limit: 100 });
      expect(first.keys.at(-1)).toBe('ns/big/k099');
      await storage.put('ns/big/k150x', new Uint8Array(1)); // after the cursor, in the folder the first page read
      await storage.delete('ns/big/k200');
      await fs.rm(path.join(root, 'ns', 'gone'), { recursive: true }); // a folder the walk has not reached yet
      const rest: string[] = [];
      for (let cursor = first.cursor; cursor !== undefined; ) {
        const page = await storage.listKeys('ns/', { limit: 100, cursor });
        rest.push(...page.keys);
        cursor = page.cursor;
      }
      const expected = [...names.slice(100, 151), 'k150x', ...names.slice(151)].filter((n) => n !== 'k200').map((n) => `ns/big/${n}`);
      expect(rest).toEqual([...expected, 'ns/zz/last']);
    });
  }

  it('makes the space reserve of a new store while a big content streams in, before its record', async () => {
    const root = path.join(await tempRoot(), 'store');
    const file = path.join(await tempRoot(), 'big.bin');
    await fs.writeFile(file, Buffer.alloc(9 << 20, 7));
    const storage = await LocalFolderStorage.open(root);
    const staged = await storage.stage({ kind: 'file', path: file });
    expect((await fs.stat(path.join(root, SPACE_RESERVE))).size).toBe(4 << 20);
    await staged.discard();
  });

  it('prunes folders that a delete leaves empty', async () => {
    const root = path.join(await tempRoot(), 'store');
    const storage = await LocalFolderStorage.open(root);
    await storage.put('ns/content/ab/cd/abcd', new Uint8Array(1));
    await storage.delete('ns/content/ab/cd/abcd');
    expect(await fs.readdir(root)).toEqual([SPACE_RESERVE]);
  });

  describe.each([
    ['deleted', async (root: string) => fs.rm(root, { recursive: true })],
    // An unmounted drive leaves its empty mount point: the same path, another folder.
    ['moved away, an empty folder in its place', async (root: string) => fs.rename(root, `${root}-moved`).then(() => fs.mkdir(root))],
  ])('a store folder %s after opening', (_what, remove) => {
    it.each([false, true])('fails every call with storage_unreachable naming it, and is never made again (blocking io: %s)', async (blockingIo) => {
      const root = path.join(await tempRoot(), 'store');
      const storage = await LocalFolderStorage.open(root, { blockingIo });
      const cache = new CacheService(storage);
      const stored = await cache.store('docs', { source: { kind: 'bytes', bytes: new TextEncoder().encode('kept') } });
      await remove(root);
      const before = fsSync.existsSync(root) ? await tree(root) : null;
      const unreachable = { code: 'storage_unreachable', message: expect.stringContaining(`the store folder ${root} is gone`) };
      await expect(cache.namespaces()).rejects.toMatchObject(unreachable);
      await expect(nativeEntryRows(cache, 'docs')).rejects.toMatchObject(unreachable); // the entries browser's table
      await expect(nativeSortedEntryRows(cache, 'docs').next()).rejects.toMatchObject(unreachable); // and its first rows
      await expect(cache.record('docs', { hash: stored.hash })).rejects.toMatchObject(unreachable);
      await expect(cache.store('docs', { source: { kind: 'bytes', bytes: new TextEncoder().encode('new') } })).rejects.toMatchObject(unreachable);
      await expect(cache.store('docs', { source: { kind: 'bytes', bytes: Buffer.alloc(3 << 20, 1) } })).rejects.toMatchObject(unreachable); // staged in a file
      await expect(cache.delete('docs', { hash: stored.hash })).rejects.toMatchObject(unreachable);
      await expect(storage.put('docs/x', new Uint8Array(1))).rejects.toMatchObject(unreachable);
      await expect(storage.leftovers()).rejects.toMatchObject(unreachable);
      expect(fsSync.existsSync(root) ? await tree(root) : null).toEqual(before);
    });
  });

  it('a new store folder is made by the first write inside a folder that exists, and never inside one that does not', async () => {
    const parent = await tempRoot();
    const fresh = await LocalFolderStorage.open(path.join(parent, 'new-store'));
    expect(await fresh.list('')).toMatchObject({ objects: [], prefixes: [] }); // reads make nothing
    expect(await fs.readdir(parent)).toEqual([]);
    await fresh.put('ns/a', new Uint8Array(1));
    expect(await tree(parent)).toEqual(['new-store', `new-store/${SPACE_RESERVE}`, 'new-store/ns', 'new-store/ns/a']);

    const orphan = await LocalFolderStorage.open(path.join(parent, 'gone', 'store'));
    await expect(orphan.put('ns/a', new Uint8Array(1))).rejects.toMatchObject({ code: 'storage_unreachable', message: expect.stringContaining(`${path.join(parent, 'gone')}, does not exist`) });
    expect(await tree(parent)).toEqual(['new-store', `new-store/${SPACE_RESERVE}`, 'new-store/ns', 'new-store/ns/a']);
  });
});
