/** Every whole read checks what it streamed against the entry: corrupt content is never served silently. */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../../test-support/cli-harness';
import { CacheService } from '../cache-service';
import { LocalFolderStorage } from '../storage/local';
import { MemoryStorage } from '../storage/memory';
import type { StorageBackend } from '../storage/types';
import type { FormatStoreInput, StoreFormat } from './format';
import { MgraphFormat } from './mgraph/mgraph-format';
import { NativeFormat } from './native/native-format';

let tmp: string;
let stores = 0;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-checked-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const backends: [string, () => Promise<StorageBackend>][] = [
  ['memory', async () => new MemoryStorage()],
  ['local folder', async () => LocalFolderStorage.open(path.join(tmp, `store-${stores++}`))],
];
const layouts: [string, (storage: StorageBackend) => StoreFormat][] = [
  ['native', (storage) => new NativeFormat(new CacheService(storage))],
  ['mgraph', (storage) => new MgraphFormat(storage)],
];
const bytes = (b: Uint8Array | string) => ({ kind: 'bytes' as const, bytes: typeof b === 'string' ? new TextEncoder().encode(b) : b });
/** Three 1 MiB reads on a local folder: the check must hold the last one back. */
const BIG = Buffer.alloc(3 * 1024 * 1024 + 5, 'abcdefgh');

/** The key retrieve reads the content from (native: the content key; service layout: the copy served). */
async function contentKeyOf(format: StoreFormat, ns: string, cacheId: string): Promise<string> {
  const record = await format.record(ns, { cacheId });
  return typeof record.details.served_from === 'string' ? record.details.served_from : record.keys.find((k) => k.role === 'content')!.key;
}

/** Overwrites one stored content file in place with `change` applied, as a disk error or a careless hand would. */
async function tamper(format: StoreFormat, key: string, change: (stored: Buffer) => Buffer): Promise<void> {
  await format.storage.put(key, change(Buffer.from((await format.storage.get(key))!)));
}
const flipMiddleByte = (b: Buffer) => {
  const copy = Buffer.from(b);
  const middle = copy.length >> 1;
  copy[middle] = copy[middle]! ^ 0x01;
  return copy;
};

/** Retrieves a version and reads it to its end: the bytes released before any failure, and the failure. */
async function readBack(format: StoreFormat, ns: string, cacheId: string): Promise<{ released: number; error: unknown }> {
  let released = 0;
  try {
    const { content } = await format.retrieve(ns, { cacheId });
    for await (const chunk of content) released += chunk.byteLength;
    return { released, error: null };
  } catch (error) {
    return { released, error };
  }
}

describe.each(layouts)('the %s layout', (layout, makeFormat) => {
  const inputs: [string, FormatStoreInput, (b: Buffer) => Buffer][] = [
    ['small binary', { source: bytes('hello world') }, flipMiddleByte],
    ['binary of several reads', { source: bytes(BIG) }, flipMiddleByte],
    ['JSON', { source: bytes('{"b": 2, "a": [1, 2]}'), as: 'json' }, (b) => Buffer.from(b.toString().replace('2', '3'))],
    ...(layout === 'mgraph'
      ? ([
          ['a string', { source: bytes('plain text'), as: 'string' }, (b: Buffer) => Buffer.from(b.toString().replace('plain', 'plane'))],
          ['gzip-encoded binary', { source: bytes(gzipSync(BIG)), options: { content_encoding: 'gzip' } }, flipMiddleByte],
          ['JSON hashed by one field', { source: bytes('{"id": "a-1", "n": 1}'), as: 'json', options: { json_field_path: 'id' } }, (b: Buffer) => Buffer.from(b.toString().replace('a-1', 'a-2'))],
        ] as [string, FormatStoreInput, (b: Buffer) => Buffer][])
      : []),
  ];

  describe.each(backends)('on %s', (_backend, open) => {
    it.each(inputs)('%s: a changed byte fails retrieve with corrupt, naming the cache id and both hashes, before the last bytes are served', async (_what, input, change) => {
      const format = makeFormat(await open());
      const stored = await format.store('checked', input);
      const intact = await readBack(format, 'checked', stored.cache_id);
      expect(intact.error).toBeNull();

      await tamper(format, await contentKeyOf(format, 'checked', stored.cache_id), change);
      const { released, error } = await readBack(format, 'checked', stored.cache_id);
      expect(error).toMatchObject({ code: 'corrupt', message: expect.stringContaining(stored.cache_id) });
      const message = (error as Error).message;
      if (!/cannot be read back|does not decode/.test(message)) {
        expect(message).toContain(`should be ${stored.hash}`);
        // What it says was served is what the reader got.
        expect(message).toContain(released === 0 ? 'it was not served (run verify' : 'its end was held back (run verify');
      }
      expect(released).toBeLessThan(intact.released);
    });
  });

  it('CLI get: --out leaves no file and exits 3; to stdout it exits 3 with corrupt on stderr and never the whole content', async () => {
    const dir = path.join(tmp, `cli-${layout}`);
    const format = makeFormat(await LocalFolderStorage.open(dir));
    const stored = await format.store('default', { source: bytes(BIG) });
    await tamper(format, await contentKeyOf(format, 'default', stored.cache_id), flipMiddleByte);
    const args = ['--store', dir, '--format', layout, 'get', stored.cache_id];

    const out = path.join(tmp, `out-${layout}.bin`);
    const toFile = await cli([...args, '--out', out]);
    expect(toFile).toMatchObject({ code: 3, stdout: '', stderr: expect.stringMatching(new RegExp(`^cache-admin: corrupt: the content of ${stored.cache_id} is corrupt.*; ${out.replaceAll('.', '\\.')} was not written\n$`)) });
    expect(await fs.readdir(tmp)).not.toContainEqual(expect.stringContaining(`out-${layout}`));

    const info = await cli(['--store', dir, '--format', layout, '--json', 'info', stored.cache_id]);
    expect(JSON.parse(info.stdout)).not.toHaveProperty('content_problem'); // a binary is not read for info

    const toStdout = await cli(args);
    expect(toStdout).toMatchObject({ code: 3, stderr: expect.stringMatching(/^cache-admin: corrupt: .*; nothing of it went to standard output\n$/) });
    expect(toStdout.stdoutBytes.byteLength).toBe(0);
  });

  it('CLI get to stdout of corrupt content over 16 MiB (streamed as it is checked): stderr says how many bytes went out, which is what the pipe got', async () => {
    const dir = path.join(tmp, `cli-streamed-${layout}`);
    const format = makeFormat(await LocalFolderStorage.open(dir));
    const stored = await format.store('default', { source: bytes(Buffer.alloc(18 << 20, 'streamed')) });
    await tamper(format, await contentKeyOf(format, 'default', stored.cache_id), flipMiddleByte);
    const got = await cli(['--store', dir, '--format', layout, 'get', stored.cache_id]);
    const said = /its first ([\d,]+) bytes had gone to standard output before the damage showed \(content over 16 MiB streams as it is checked\): they are not the content, discard them\n$/.exec(got.stderr);
    expect(got.code, got.stderr).toBe(3);
    expect(said, got.stderr).not.toBeNull();
    expect(Number(said?.[1]?.replaceAll(',', ''))).toBe(got.stdoutBytes.byteLength);
    expect(got.stdoutBytes.byteLength).toBeGreaterThan(16 << 20);
  });

  it('a version whose content file is gone still opens (record, CLI info marked content_problem: missing), get says not_found, and it can be deleted', async () => {
    const dir = path.join(tmp, `missing-${layout}`);
    const format = makeFormat(await LocalFolderStorage.open(dir));
    const stored = await format.store('default', { source: bytes('soon gone') });
    await format.storage.delete(await contentKeyOf(format, 'default', stored.cache_id));
    expect(await format.record('default', { hash: stored.hash })).toMatchObject({ cache_id: stored.cache_id });
    const base = ['--store', dir, '--format', layout];
    const info = await cli([...base, '--json', 'info', stored.cache_id]);
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ cache_id: stored.cache_id, content_problem: 'missing' });
    expect(await cli([...base, 'get', stored.cache_id])).toMatchObject({ code: 1, stderr: expect.stringContaining('is missing from storage') });
    expect(await cli([...base, 'delete', stored.hash])).toMatchObject({ code: 0, stdout: expect.stringContaining(stored.cache_id) });
    await expect(format.record('default', { hash: stored.hash })).rejects.toMatchObject({ code: 'not_found' });
  });
});
