/**
 * Round trips with the real Python service (its own store / retrieve / delete code, run by
 * ../shared/upstream/run.py). `.ci/run` exports CACHE_ADMIN_UPSTREAM_RUN when that file exists;
 * without it these report themselves skipped, by name.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStorage } from '../../storage/local';
import { collect } from '../format';
import { MgraphFormat } from './mgraph-format';

const RUN = process.env.CACHE_ADMIN_UPSTREAM_RUN;
const NEEDS = 'needs the Python service (CACHE_ADMIN_UPSTREAM_RUN)';

type Result = Record<string, unknown> & { op: string };

function service(dir: string, ops: object[]): Result[] {
  const out = spawnSync('python3', [RUN!, '--store', dir], { input: ops.map((o) => JSON.stringify(o)).join('\n'), encoding: 'utf8', timeout: 60_000 });
  if (out.status !== 0) throw new Error(`run.py failed: ${out.stderr.slice(-500)}`);
  return out.stdout.trim().split('\n').map((l) => JSON.parse(l) as Result);
}

let tmp: string;
let dirs = 0;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-interop-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});
async function fresh(): Promise<{ dir: string; format: MgraphFormat }> {
  const dir = path.join(tmp, `s${dirs++}`);
  return { dir, format: new MgraphFormat(await LocalFolderStorage.open(dir)) };
}
const bytes = (t: string | Uint8Array) => ({ kind: 'bytes' as const, bytes: typeof t === 'string' ? new TextEncoder().encode(t) : t });

describe('interop with the Python cache service', () => {
  it.skipIf(!RUN)(`store with Cache Admin, retrieve with the service by hash and by id, byte-exact (${NEEDS})`, async () => {
    const { dir, format } = await fresh();
    const doc = { title: 'Zoë', rows: [1, 2.5, null, true], nested: { b: 2, a: 1 } };
    const binary = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
    const zipped = Uint8Array.from({ length: 300 }, (_, i) => (i * 11) % 256); // other bytes: gzip hashes what it decodes to
    const stored = [
      ...(['direct', 'temporal', 'temporal_latest', 'temporal_versioned', 'key_based'] as const).map(async (strategy) => ({
        r: await format.store('Interop_A', { source: bytes(JSON.stringify({ ...doc, strategy })), as: 'json', options: { strategy, ...(strategy === 'key_based' ? { cache_key: 'site/page', file_id: 'p' } : {}) } }),
        want: { data: { ...doc, strategy } },
      })),
      (async () => ({ r: await format.store('Interop_A', { source: bytes(binary), options: { strategy: 'temporal_versioned' } }), want: { data_b64: Buffer.from(binary).toString('base64') } }))(),
      (async () => ({ r: await format.store('Interop_A', { source: bytes(gzipSync(zipped)), options: { content_encoding: 'gzip' } }), want: { data_b64: Buffer.from(zipped).toString('base64') } }))(),
      (async () => ({ r: await format.store('Interop_A', { source: bytes('{"url": "https://a/", "n": 1}'), as: 'json', options: { json_field_path: 'url' } }), want: { data: { url: 'https://a/', n: 1 } } }))(),
    ];
    const done = [];
    for (const s of stored) done.push(await s);
    const answers = service(dir, done.flatMap(({ r }) => [
      { op: 'retrieve_by_id', cache_id: r.cache_id, namespace: 'Interop_A' },
      { op: 'retrieve_by_hash', hash: r.hash, namespace: 'Interop_A' },
    ]));
    done.forEach(({ r, want }, i) => {
      for (const answer of [answers[2 * i]!, answers[2 * i + 1]!]) expect(answer).toMatchObject({ found: true, cache_id: r.cache_id, cache_hash: r.hash, ...want });
    });
    // The same JSON stored by the service itself lands in the same files, byte for byte.
    const theirs = service(path.join(tmp, `s${dirs++}`), [{ op: 'store', type: 'json', namespace: 'Interop_A', strategy: 'key_based', cache_key: 'site/page', file_id: 'p', data: { ...doc, strategy: 'key_based' } }]);
    expect(theirs[0]).toMatchObject({ stored: true, cache_hash: done[4]!.r.hash });
    for (const suffix of ['', '.config']) {
      const file = `Interop_A/data/key-based/site/page/p.json${suffix}`;
      expect(await fs.readFile(path.join(dir, file), 'utf8')).toBe(await fs.readFile(path.join(tmp, `s${dirs - 1}`, file), 'utf8'));
    }
  });

  it.skipIf(!RUN)(`a string stored by Cache Admin is found by the service's refs, and read by us as text (${NEEDS})`, async () => {
    const { dir, format } = await fresh();
    const r = await format.store('texts', { source: bytes('日本語 ✓'), as: 'string' });
    const [refs, byId] = service(dir, [
      { op: 'refs_hash', hash: r.hash, namespace: 'texts' },
      { op: 'retrieve_by_id', cache_id: r.cache_id, namespace: 'texts' },
    ]);
    expect(refs).toMatchObject({ refs: { cache_hash: r.hash, latest_id: r.cache_id, total_versions: 1 } });
    // Its LOCAL_DISK mode cannot read any string entry back (its own included): the fixture shows the same error.
    expect(String(byId!.error)).toContain('file__json');
    expect((await service(dir, [{ op: 'hash', type: 'string', data: '日本語 ✓' }]))[0]).toMatchObject({ cache_hash: r.hash });
    expect(Buffer.from(await collect((await format.retrieve('texts', { cacheId: r.cache_id })).content)).toString()).toBe('日本語 ✓');
  });

  it.skipIf(!RUN)(`store with the service, read with Cache Admin; it verifies clean (${NEEDS})`, async () => {
    const { dir, format } = await fresh();
    const ops = [
      { op: 'store', type: 'json', namespace: 'Svc', strategy: 'temporal_latest', data: { a: 1.0, b: ['x', { c: null }] } },
      { op: 'store', type: 'binary', namespace: 'Svc', strategy: 'direct', data_b64: Buffer.from('raw bytes').toString('base64') },
      { op: 'store', type: 'json', namespace: 'Svc', strategy: 'key_based', cache_key: 'k/v', file_id: 'f', json_field_path: 'id', data: { id: 42, v: 'x' } },
    ];
    const results = service(dir, ops);
    const read = async (i: number) => Buffer.from(await collect((await format.retrieve('Svc', { cacheId: String(results[i]!.cache_id) })).content));
    expect(JSON.parse((await read(0)).toString())).toEqual({ a: 1, b: ['x', { c: null }] });
    expect((await read(1)).toString()).toBe('raw bytes');
    expect(JSON.parse((await read(2)).toString())).toEqual({ id: 42, v: 'x' });
    expect((await format.record('Svc', { hash: String(results[2]!.cache_hash) })).details).toMatchObject({ strategy: 'key_based', json_field_path: 'id', cache_key: 'k/v' });
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it.skipIf(!RUN)(`a json_field_path store is taken or refused as the service takes or refuses it, under the same hash (an empty string field was stored here, refused there) (${NEEDS})`, async () => {
    const { dir, format } = await fresh();
    const values = ['', 'x', 0, false, [], {}, null, 1.5];
    const theirs = service(dir, values.map((u) => ({ op: 'store', type: 'json', namespace: 'F', json_field_path: 'u', data: { u } })));
    for (const [i, u] of values.entries()) {
      const ours = await format.store('F', { source: bytes(JSON.stringify({ u })), as: 'json', options: { json_field_path: 'u' } }).then(
        (r) => ({ stored: true, hash: r.hash }),
        (err: { code: string }) => ({ stored: false, hash: err.code }),
      );
      expect(ours, JSON.stringify(u)).toEqual(theirs[i]!.stored ? { stored: true, hash: theirs[i]!.cache_hash } : { stored: false, hash: 'invalid_input' });
    }
    expect(theirs.filter((r) => !r.stored)).toHaveLength(2); // the empty string and null
  });

  it.skipIf(!RUN)(`delete with Cache Admin: the service no longer finds the version and the hash falls back to the previous one (${NEEDS})`, async () => {
    const { dir, format } = await fresh();
    const stores = service(dir, [1, 2, 3].map(() => ({ op: 'store', type: 'json', namespace: 'D', data: { same: true } })));
    const [first, second, third] = stores.map((s) => String(s.cache_id));
    expect(await format.delete('D', { cacheId: third! })).toMatchObject({ deleted: [third], contentRemoved: false });
    const after = service(dir, [
      { op: 'retrieve_by_id', cache_id: third, namespace: 'D' },
      { op: 'retrieve_by_hash', hash: stores[0]!.cache_hash, namespace: 'D' },
      { op: 'delete_by_id', cache_id: second, namespace: 'D' },
    ]);
    expect(after[0]).toMatchObject({ found: false });
    expect(after[1]).toMatchObject({ found: true, cache_id: second });
    expect((await format.versions('D', String(stores[0]!.cache_hash))).map((v) => v.cache_id)).toEqual([first]);
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it.skipIf(!RUN)(`two key_based stores of the same content share a file: deleting the newer with Cache Admin leaves the service and us naming the older as the file's entry (${NEEDS})`, async () => {
    const { dir, format } = await fresh();
    const stores = service(dir, [1, 2].map(() => ({ op: 'store', type: 'json', namespace: 'K', strategy: 'key_based', cache_key: 'site/page', file_id: 'f1', data: { a: 1 } })));
    const [first, second] = stores.map((s) => String(s.cache_id));
    expect(await format.delete('K', { cacheId: second! })).toMatchObject({ deleted: [second] });
    const [byHash, byId] = service(dir, [
      { op: 'retrieve_by_hash', hash: stores[0]!.cache_hash, namespace: 'K' },
      { op: 'retrieve_by_id', cache_id: first, namespace: 'K' },
    ]);
    expect(byHash).toMatchObject({ found: true, cache_id: first, data: { a: 1 } }); // it named the deleted one
    expect(byId).toMatchObject({ found: true, cache_id: first });
    expect(await format.describeKey('K/data/key-based/site/page/f1.json')).toMatchObject({ kind: 'content', cache_id: first }); // it was not_found
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it.skipIf(!RUN)(`the service's stores at one path again (a fixed file id, temporal_latest's latest/): our refs list what the service's list, and our delete of the hash leaves no file (${NEEDS})`, async () => {
    const theirs = await fresh();
    const ops = [
      ...[1, 2].map(() => ({ op: 'store', type: 'binary', namespace: 't', strategy: 'direct', file_id: 'D', data_b64: 'AAEC' })),
      ...[1, 2].map(() => ({ op: 'store', type: 'json', namespace: 't', strategy: 'temporal_latest', file_id: 'L', data: { t: 1 } })),
    ];
    const stored = service(theirs.dir, ops);
    const ours = await fresh();
    const listedBy = async (format: MgraphFormat, cacheId: string) => (JSON.parse(Buffer.from((await format.storage.get(`t/refs/by-id/${cacheId.slice(0, 2)}/${cacheId.slice(2, 4)}/${cacheId}.json`))!).toString()) as { all_paths: { data: string[] } }).all_paths.data;
    for (const [i, op] of ops.entries()) {
      const mine = await ours.format.store('t', 'data_b64' in op ? { source: bytes(Buffer.from(op.data_b64, 'base64')), options: { strategy: op.strategy, file_id: op.file_id } } : { source: bytes(JSON.stringify(op.data)), as: 'json', options: { strategy: op.strategy, file_id: op.file_id } });
      expect(await listedBy(ours.format, mine.cache_id), `store ${i}`).toEqual(await listedBy(theirs.format, String(stored[i]!.cache_id)));
    }
    for (const hash of new Set(stored.map((s) => String(s.cache_hash)))) await theirs.format.delete('t', { hash });
    expect(await fs.readdir(theirs.dir, { recursive: true }).then((names) => names.filter((n) => n.startsWith(`t${path.sep}data`) && n.includes('.')))).toEqual([]);
    expect((await theirs.format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
  });

  it.skipIf(!RUN)(`the service's delete leaves an entry's child data: verify names it, a repair moves it aside, and the next verify is clean (${NEEDS})`, async () => {
    const { dir, format } = await fresh();
    const [stored] = service(dir, [{ op: 'store', type: 'json', data: { p: 1 }, namespace: 'c', strategy: 'direct' }]);
    const id = String(stored!.cache_id);
    service(dir, [
      { op: 'store_data', cache_id: id, namespace: 'c', type: 'string', data: 'x', data_file_id: 'note' },
      { op: 'delete_by_id', cache_id: id, namespace: 'c' },
    ]);
    const report = await format.verify({ orphanGraceMs: 0 });
    expect(report.problems.map((p) => [p.kind, p.key, p.detail])).toEqual([
      ['orphan', expect.stringMatching(new RegExp(`^c/data/direct/.*/${id}/data/note\\.\\w+$`)), expect.stringMatching(/^child data of a deleted entry .*: a repair moves it to _cache-admin\.d\/quarantine\/$/)],
    ]);
    const { key } = report.problems[0]!;
    expect((await format.verify({ orphanGraceMs: 0, repair: true })).repaired).toEqual([{ kind: 'orphan', key, action: `moved to _cache-admin.d/quarantine/${key}` }]);
    expect((await format.verify({ orphanGraceMs: 0 })).problems).toEqual([]);
    expect(await fs.readFile(path.join(dir, '_cache-admin.d', 'quarantine', key), 'utf8')).toContain('x');
  });
});
