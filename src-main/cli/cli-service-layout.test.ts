/**
 * The CLI on a store the Python cache service wrote (test-fixtures/mgraph/store, copied to a temp
 * folder per test that changes it): detected without --format, read, verified, stored into and
 * deleted from, through the same commands as a native store. The last suite has the real service
 * (CACHE_ADMIN_UPSTREAM_RUN = its run.py) read what the CLI stored; without it, it reports itself skipped.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_STORE, expectedContent, loadFixture, readJsonl, storedByCacheId } from '../core/formats/mgraph/fixture';
import { S3Storage } from '../core/storage/s3';
import { bundledCli, cli } from '../test-support/cli-harness';
import { startS3, s3ServerName } from '../test-support/s3-emulator';
import { WORKER_MIN_FILES } from './store-files';

let work: string;
let copies = 0;
beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-cli-service-'));
  await fs.writeFile(path.join(work, 'note.txt'), 'a note for the service ✓\n');
  await fs.writeFile(path.join(work, 'doc.json'), '{"title": "Zoë", "n": [1, 2.5], "nested": {"b": 2, "a": 1}}');
});
afterAll(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

/** A fresh copy of the fixture store. */
async function fixtureCopy(): Promise<string> {
  const dir = path.join(work, `store-${copies++}`);
  await fs.cp(FIXTURE_STORE, dir, { recursive: true });
  return dir;
}

/** Every file under a folder, as storage keys. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = (await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])).filter((e) => e.isFile());
  return entries.map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/')).sort();
}

const DUPS_HASH = '1f59c04c6c23d303';
const DUPS_IDS = ['59e56740-d55a-4365-8c4c-072ad8a41514', 'f950f89e-78ea-431f-9fd5-7cd214c17eab', '5ec74ec7-9f7c-41e1-bd38-3b94a8a6ff65'];

describe('CLI on a service store (read only)', () => {
  let store: string;
  const run = (args: string[]) => cli(['--store', store, ...args]);
  beforeAll(async () => {
    store = await fixtureCopy();
  });

  it('detects the service layout without --format, and capabilities says so', async () => {
    const caps = await run(['--json', 'capabilities']);
    expect(caps.code).toBe(0);
    expect(JSON.parse(caps.stdout)).toMatchObject({ format: 'mgraph', format_reason: expect.stringContaining('Python cache service') });
    expect((await run(['capabilities'])).stdout).toMatch(/^layout: the Python cache service's layout: found /m);
  });

  it('lists namespaces exactly as the service names them, with exact counts', async () => {
    const r = await run(['--json', 'namespaces']);
    const { namespaces, format } = JSON.parse(r.stdout) as { namespaces: { name: string }[]; format: string };
    expect(format).toBe('mgraph');
    expect(namespaces.sort((a, b) => (a.name < b.name ? -1 : 1))).toEqual([
      { name: 'TeamA', entries: 2, versions: 2, bytes: 174 },
      { name: 'dups', entries: 2, versions: 5, bytes: 168 },
      { name: 'reports', entries: 14, versions: 14, bytes: 303564 },
      { name: 'site-cache', entries: 4, versions: 4, bytes: 176 },
    ]);
    expect(JSON.parse((await run(['--ns', 'TeamA', '--json', 'stats'])).stdout)).toMatchObject({ namespace: 'TeamA', entries: 2, versions: 2, format: 'mgraph' });
  });

  it('get serves what the service retrieved, by hash and by GUID cache id, byte-exact (strings as their text, gzip decoded)', async () => {
    const stored = storedByCacheId();
    const answers = readJsonl<{ found?: boolean; cache_id?: string; cache_hash?: string; data_b64?: string; data?: unknown }>('retrieve-results.jsonl');
    const asked = readJsonl<{ op: string; cache_id?: string; hash?: string; namespace: string }>('fixture-ops-3.jsonl');
    let compared = 0;
    for (const [i, q] of asked.entries()) {
      if (q.op === 'refs_hash') continue;
      const answer = answers[i]!;
      const got = await run(['--ns', q.namespace, 'get', q.cache_id ?? q.hash!]);
      if (answer.found === false) {
        expect(got.code, `${q.op} ${q.cache_id ?? q.hash}`).toBe(1);
        continue;
      }
      expect(got.code, got.stderr).toBe(0);
      const info = JSON.parse((await run(['--ns', q.namespace, '--json', 'info', q.cache_id ?? q.hash!])).stdout) as { cache_id: string; hash: string };
      if (answer.found) expect([info.cache_id, info.hash]).toEqual([answer.cache_id, answer.cache_hash]);
      if (answer.data_b64 !== undefined) expect(got.stdoutBytes.equals(Buffer.from(answer.data_b64, 'base64'))).toBe(true);
      const want = expectedContent(stored.get(info.cache_id)!);
      if (want.bytes) expect(got.stdoutBytes.equals(want.bytes)).toBe(true);
      else expect(JSON.parse(got.stdout)).toEqual(want.json);
      compared++;
    }
    expect(compared).toBe(47); // every id and hash the service was asked for, its own LOCAL_DISK failures (strings) included
  });

  it('a gzip-encoded entry is written decoded, and get says so on stderr', async () => {
    const got = await run(['--ns', 'reports', 'get', '8e3bf3bac03cd16e']);
    expect(JSON.parse(got.stdout)).toEqual({ zipped: true, n: 42 });
    expect(got.stderr).toMatch(/note: .* is stored gzip-encoded; written decoded/);
  });

  it("info shows the layout's facts: strategy, file id, cache key, json_field_path, every path with its role, child data", async () => {
    const keyed = JSON.parse((await run(['--ns', 'site-cache', '--json', 'info', 'cea0fc4b-e33e-426b-a913-034d27eb94a4'])).stdout);
    expect(keyed).toMatchObject({
      format: 'mgraph',
      cache_id: 'cea0fc4b-e33e-426b-a913-034d27eb94a4',
      data_type: 'json',
      details: { strategy: 'key_based', file_id: 'page', cache_key: 'example.com/about', json_field_path: 'url' },
    });
    expect(keyed.keys).toContain('site-cache/data/key-based/example.com/about/page.json.metadata');
    expect(keyed.key_roles).toContainEqual({ key: 'site-cache/data/key-based/example.com/about/page.json.metadata', role: 'metadata sidecar' });
    expect(keyed.key_roles.map((k: { role: string }) => k.role)).toEqual(expect.arrayContaining(['content', 'config sidecar', 'by-id ref', 'by-hash ref']));
    const zipped = JSON.parse((await run(['--ns', 'reports', '--json', 'info', '8e3bf3bac03cd16e'])).stdout);
    expect(zipped).toMatchObject({ content_encoding: 'gzip', data_type: 'binary' });
    const parent = JSON.parse((await run(['--ns', 'reports', '--json', 'info', '673ba2a8-1dd7-4ecc-b702-9cc49e44f642'])).stdout);
    expect(parent.child_data.map((c: { key: string }) => c.key.split('/').slice(-2).join('/'))).toEqual(['analysis/summary.json', 'data/note.txt']);
    const text = (await run(['--ns', 'site-cache', 'info', 'cea0fc4b-e33e-426b-a913-034d27eb94a4'])).stdout;
    expect(text).toMatch(/^strategy +key_based$/m);
    expect(text).toMatch(/^cache_key +example\.com\/about$/m);
    expect(text).toMatch(/^key +site-cache\/refs\/by-hash\/\S+\.json {2}\(by-hash ref\)$/m);
    expect((await run(['--ns', 'reports', 'info', '673ba2a8-1dd7-4ecc-b702-9cc49e44f642'])).stdout).toMatch(/^child data +reports\/data\/direct\/67\/3b\/673ba2a8-1dd7-4ecc-b702-9cc49e44f642\/data\/note\.txt {2}\d+ bytes$/m);
  });

  it('versions lists the cache ids oldest first, numbered 1..n, by hash or by any of its cache ids', async () => {
    const byHash = JSON.parse((await run(['--ns', 'dups', '--json', 'versions', DUPS_HASH])).stdout);
    expect(byHash).toMatchObject({ hash: DUPS_HASH, count: 3, format: 'mgraph' });
    expect(byHash.versions.map((v: { version: number; cache_id: string }) => [v.version, v.cache_id])).toEqual(DUPS_IDS.map((id, i) => [i + 1, id]));
    expect(JSON.parse((await run(['--ns', 'dups', '--json', 'versions', DUPS_IDS[1]!])).stdout).versions).toEqual(byHash.versions);
    expect(JSON.parse((await run(['--ns', 'dups', '--json', 'info', DUPS_HASH, '--version', '1'])).stdout)).toMatchObject({ cache_id: DUPS_IDS[0], version: 1, latest_version: 3, details: { strategy: 'temporal' } });
  });

  it('verifies the untouched store clean, quietly; --json carries the notes (they were on stderr only); one problem is "1 problem", with what a repair would do', async () => {
    const r = await run(['verify']);
    expect(r).toMatchObject({ code: 0, stderr: '' }); // clean: nothing to say about what a repair would do
    expect(r.stdout).toMatch(/^checked \d+ keys: no problems$/m);
    expect(JSON.parse((await run(['--json', 'verify'])).stdout)).toMatchObject({ problems: [], notes: [] });
    const store = await fixtureCopy();
    expect(await cli(['--store', store, 'verify', '--repair'])).toMatchObject({ code: 0, stderr: '' }); // it rebuilt nothing: no note that it did
    await fs.writeFile(path.join(store, 'dups', 'stray.txt'), 'not the service layout');
    const one = await cli(['--store', store, 'verify']);
    expect(one.stdout).toMatch(/^misplaced {7}dups\/stray\.txt .*\nchecked \d+ keys: 1 problem\n$/s);
    expect(one.stderr).toContain("a repair would rebuild by-hash refs (moving one it cannot rebuild to _cache-admin.d/quarantine/) and unreadable or missing by-id refs from their files' .metadata, move child data of deleted entries there and remove temp leftovers only");
  });

  it('refuses bad lookups with typed errors and the usual exit codes', async () => {
    expect(await run(['--ns', 'dups', 'get', 'not-a-hash'])).toMatchObject({ code: 2, stderr: expect.stringContaining('invalid_hash') });
    expect(await run(['--ns', 'dups', 'get', '00000000-0000-4000-8000-000000000000'])).toMatchObject({ code: 1, stderr: expect.stringContaining('not_found') });
    expect(await run(['--ns', 'dups', 'get', DUPS_IDS[0]!, '--version', '2'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--version') });
    expect(await run(['--ns', 'bad/name', 'namespaces'])).toMatchObject({ code: 2, stderr: expect.stringContaining('invalid_namespace') });
  });
});

describe('CLI prune on a service store with a damaged ref', () => {
  it('says how many refs it could not read, in the dry run and the run, leaves their versions, and exits 1 as verify does on problems', async () => {
    const store = await fixtureCopy();
    const byId = path.join(store, 'dups', 'refs', 'by-id', '59', 'e5', `${DUPS_IDS[0]}.json`);
    await fs.writeFile(byId, '{ not json');
    const run = (args: string[]) => cli(['--store', store, '--ns', 'dups', ...args]);
    const dry = await run(['prune', '--older-than', '1s', '--dry-run']);
    expect(dry.code).toBe(1);
    expect(dry.stdout).toMatch(/would prune 4 versions of 2 hashes \(.*\); 1 ref could not be read, so the versions it names were left alone \(run verify\)\n$/);
    expect(JSON.parse((await run(['--json', 'prune', '--older-than', '1s', '--dry-run'])).stdout.trim().split('\n').pop()!)).toMatchObject({ summary: { versions: 4, unreadable_refs: 1 } });
    const real = await run(['prune', '--older-than', '1s']);
    expect(real.code).toBe(1);
    expect(real.stdout).toMatch(/pruned 4 versions .*; 1 ref could not be read, so the versions it names were left alone \(run verify\)\n$/);
    expect(await fs.readFile(byId, 'utf8')).toBe('{ not json');
  });
});

describe('CLI storing into and deleting from a service store', () => {
  it('stores a file with the default temporal strategy and with --strategy direct, and gets it back by hash and cache id', async () => {
    const store = await fixtureCopy();
    const run = (args: string[]) => cli(['--store', store, '--ns', 'TeamA', ...args]);
    const note = path.join(work, 'note.txt');
    const first = await run(['--json', 'store', note]);
    expect(first.code, first.stderr).toBe(0);
    const a = JSON.parse(first.stdout);
    expect(a).toMatchObject({ namespace: 'TeamA', cache_id: expect.stringMatching(/^[0-9a-f-]{36}$/), version: 1, deduplicated: false });
    expect(a.keys.filter((k: string) => k.startsWith('TeamA/data/temporal/'))).toHaveLength(3); // content, .config, .metadata
    const second = JSON.parse((await run(['--json', 'store', '--strategy', 'direct', note])).stdout);
    expect(second).toMatchObject({ hash: a.hash, version: 2, deduplicated: true });
    expect(second.keys).toContain(`TeamA/data/direct/${second.cache_id.slice(0, 2)}/${second.cache_id.slice(2, 4)}/${second.cache_id}.bin`);
    const bytes = await fs.readFile(note);
    for (const id of [a.hash, a.cache_id, second.cache_id]) expect((await run(['get', id])).stdoutBytes.equals(bytes)).toBe(true);
    expect(JSON.parse((await run(['--json', 'info', a.hash])).stdout)).toMatchObject({ cache_id: second.cache_id, version: 2, details: { strategy: 'direct' } });
    const text = JSON.parse((await run(['--json', 'store', '--as', 'string', note])).stdout);
    expect(text.hash).toBe(a.hash); // a string hashes its UTF-8 text: the same as those bytes
    expect((await run(['get', text.cache_id])).stdoutBytes.equals(bytes)).toBe(true);
    expect((await run(['store', path.join(work, 'doc.json'), '--as', 'json'])).stdout).toMatch(/^[0-9a-f-]{36} {2}\d+ bytes {2}.*doc\.json {2}\(new content\)\n$/);
    expect((await cli(['--store', store, 'verify'])).code).toBe(0);
  });

  it('deletes a version: the hash falls back to the previous one; deleting the hash removes the rest and its files', async () => {
    const store = await fixtureCopy();
    const run = (args: string[]) => cli(['--store', store, '--ns', 'dups', ...args]);
    const deleted = await run(['--json', 'delete', DUPS_IDS[2]!]);
    // Its own content file went (26 bytes); the hash keeps its other versions.
    expect(JSON.parse(deleted.stdout)).toEqual({ namespace: 'dups', deleted: [DUPS_IDS[2]], content_removed: false, bytes_freed: 26 });
    expect(JSON.parse((await run(['--json', 'info', DUPS_HASH])).stdout)).toMatchObject({ cache_id: DUPS_IDS[1], version: 2, latest_version: 2 });
    expect((await run(['get', DUPS_IDS[2]!])).code).toBe(1);
    expect((await filesUnder(store)).filter((k) => k.includes(DUPS_IDS[2]!))).toEqual([]);
    expect((await run(['delete', DUPS_HASH])).stdout).toBe(`deleted ${DUPS_IDS[0]}, ${DUPS_IDS[1]} (no version left): 52 bytes freed\n`);
    expect((await run(['get', DUPS_HASH])).code).toBe(1);
    expect((await cli(['--store', store, 'verify'])).code).toBe(0);
  });

  it('a bulk folder store (>= 1,024 files, where a native store uses worker threads) keeps every cache id of content stored many times', async () => {
    const folder = path.join(work, `bulk-${copies++}`);
    await fs.mkdir(folder);
    await Promise.all(Array.from({ length: WORKER_MIN_FILES }, (_, i) => fs.writeFile(path.join(folder, `f${String(i).padStart(4, '0')}.txt`), 'the same bytes')));
    const store = path.join(work, `bulk-store-${copies++}`);
    const r = await bundledCli(['--store', store, '--format', 'mgraph', '--ns', 'Bulk', '--json', 'store', folder]);
    expect(r.code, r.stderr).toBe(0);
    const results = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { cache_id: string; source: string });
    const ids = results.map((result) => result.cache_id);
    expect(ids).toHaveLength(WORKER_MIN_FILES);
    // Each line names the file it stored, in order, though the service's layout records no name.
    expect(results.slice(0, 2).map((result) => result.source)).toEqual([`${path.basename(folder)}/f0000.txt`, `${path.basename(folder)}/f0001.txt`]);
    // Threads each updating the one by-hash ref would lose cache ids; one thread serializes the updates.
    const versions = JSON.parse((await cli(['--store', store, '--ns', 'Bulk', '--json', 'versions', ids[0]!])).stdout);
    expect(versions.count).toBe(WORKER_MIN_FILES);
    expect(new Set(versions.versions.map((v: { cache_id: string }) => v.cache_id))).toEqual(new Set(ids));
  }, 120_000);

  it('--strategy is refused by a native store, and a bad strategy by a service store, with a typed error and nothing written', async () => {
    const note = path.join(work, 'note.txt');
    const native = path.join(work, `native-${copies++}`);
    const onNative = await cli(['--store', native, 'store', '--strategy', 'direct', note]);
    expect(onNative).toMatchObject({ code: 2, stdout: '' });
    expect(onNative.stderr).toBe('cache-admin: invalid_input: the native layout takes no store options (strategy): they apply to stores in the Python service\'s layout\n');
    expect(await filesUnder(native)).toEqual([]);
    const store = await fixtureCopy();
    const before = await filesUnder(store);
    expect(await cli(['--store', store, 'store', '--strategy', 'sideways', note])).toMatchObject({ code: 2, stderr: expect.stringContaining('invalid_input: "sideways" is not a strategy') });
    expect(await cli(['--store', store, 'get', '--strategy', 'direct', DUPS_HASH])).toMatchObject({ code: 2, stderr: expect.stringContaining('get does not take --strategy (it takes --version, --out, --force, --allow-expired): nothing was done') });
    expect(await filesUnder(store)).toEqual(before);
  });

  it('--format mgraph creates an empty store in the service layout, which is then detected; --format takes native or mgraph only', async () => {
    const fresh = path.join(work, `fresh-${copies++}`);
    const stored = JSON.parse((await cli(['--store', fresh, '--format', 'mgraph', '--ns', 'New_NS', '--json', 'store', path.join(work, 'note.txt')])).stdout);
    expect((await filesUnder(fresh)).filter((k) => k.startsWith('New_NS/refs/'))).toHaveLength(2);
    expect(JSON.parse((await cli(['--store', fresh, '--json', 'capabilities'])).stdout)).toMatchObject({ format: 'mgraph' });
    expect(JSON.parse((await cli(['--store', fresh, '--json', 'namespaces'])).stdout).namespaces).toEqual([{ name: 'New_NS', entries: 1, versions: 1, bytes: stored.size }]);
    const empty = path.join(work, `empty-${copies++}`);
    await fs.mkdir(empty);
    expect(JSON.parse((await cli(['--store', empty, '--json', 'capabilities'])).stdout)).toMatchObject({ format: 'native' });
    expect(await cli(['--store', empty, '--format', 'python', 'namespaces'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--format takes native or mgraph') });
    expect(await filesUnder(empty)).toEqual([]);
  });
});

describe(`CLI on a service store at an S3 bucket's root (${s3ServerName()})`, () => {
  it('no --s3-prefix: detected, namespaces counted, an entry read by GUID', async (ctx) => {
    const s3 = await startS3('mgraph-cli-root');
    try {
      if (s3.real) ctx.skip(); // it fills the bucket's root
      const storage = await S3Storage.open({ bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials });
      await loadFixture(storage);
      await storage.close();
      // The CLI takes credentials from the SDK's chain only: this test file's worker has its own environment.
      Object.assign(process.env, { AWS_ACCESS_KEY_ID: s3.credentials!.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials!.secretAccessKey });
      const run = (args: string[]) => cli(['--s3-bucket', s3.bucket, '--s3-endpoint', s3.endpoint, '--s3-path-style', ...args], { env: { AWS_REGION: s3.region } });
      expect(JSON.parse((await run(['--json', 'capabilities'])).stdout)).toMatchObject({ store: `s3://${s3.bucket}/ at ${s3.endpoint}`, format: 'mgraph' });
      const { namespaces } = JSON.parse((await run(['--json', 'namespaces'])).stdout) as { namespaces: { name: string; entries: number }[] };
      expect(namespaces.map((n) => [n.name, n.entries]).sort()).toEqual([['TeamA', 2], ['dups', 2], ['reports', 14], ['site-cache', 4]]);
      const got = await run(['--ns', 'site-cache', 'get', 'cea0fc4b-e33e-426b-a913-034d27eb94a4']);
      expect(JSON.parse(got.stdout)).toEqual(expectedContent(storedByCacheId().get('cea0fc4b-e33e-426b-a913-034d27eb94a4')!).json);
    } finally {
      await s3.stop();
    }
  });
});

describe(`CLI folder store into S3 (${s3ServerName()})`, () => {
  it('40 files at once under one Ctrl+C signal: stored, and no "memory leak" warning on stderr', async () => {
    const s3 = await startS3('cli-folder-s3');
    try {
      const folder = await fs.mkdtemp(path.join(os.tmpdir(), 'folder-s3-'));
      for (let i = 0; i < 40; i++) await fs.writeFile(path.join(folder, `f${i}.txt`), `file ${i}`);
      const env = { AWS_REGION: s3.region, ...(s3.credentials ? { AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey } : {}) };
      const run = await bundledCli(['--s3-bucket', s3.bucket, '--s3-endpoint', s3.endpoint, '--s3-path-style', '--s3-prefix', `folder-${Date.now()}/`, '--ns', 'w', 'store', folder], { env });
      // The s3rver emulator takes no conditional writes, which the CLI says (and nothing else).
      const said = s3.kind === 'emulator' ? 'cache-admin: warning: conditional writes: not supported: concurrent writers may collide on version numbers\n' : '';
      expect([run.code, run.stderr]).toEqual([0, said]);
      expect(run.stdout.trim().split('\n')).toHaveLength(40);
    } finally {
      await s3.stop();
    }
  });
});

const RUN = process.env.CACHE_ADMIN_UPSTREAM_RUN;
const NEEDS = 'needs the Python service (CACHE_ADMIN_UPSTREAM_RUN)';

describe('the real service reads what the CLI stored', () => {
  it.skipIf(!RUN)(`store with the CLI (temporal, --strategy direct, --as json, --as string); the service retrieves by hash and id, and no longer finds a deleted version (${NEEDS})`, async () => {
    const store = path.join(work, `interop-${copies++}`);
    const run = (args: string[]) => cli(['--store', store, '--format', 'mgraph', '--ns', 'Cli_Interop', '--json', ...args]);
    const bin = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256));
    await fs.writeFile(path.join(work, 'interop.bin'), bin);
    const a = JSON.parse((await run(['store', path.join(work, 'interop.bin')])).stdout);
    const b = JSON.parse((await run(['store', '--strategy', 'direct', path.join(work, 'interop.bin')])).stdout);
    const doc = JSON.parse((await run(['store', '--as', 'json', '--strategy', 'temporal_versioned', path.join(work, 'doc.json')])).stdout);
    const text = JSON.parse((await run(['store', '--as', 'string', path.join(work, 'note.txt')])).stdout);
    const service = (ops: object[]) => {
      const out = spawnSync('python3', [RUN!, '--store', store], { input: ops.map((o) => JSON.stringify(o)).join('\n'), encoding: 'utf8', timeout: 60_000 });
      if (out.status !== 0) throw new Error(`run.py failed: ${out.stderr.slice(-500)}`);
      return out.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    const ns = 'Cli_Interop';
    const answers = service([
      { op: 'retrieve_by_id', cache_id: a.cache_id, namespace: ns },
      { op: 'retrieve_by_hash', hash: a.hash, namespace: ns },
      { op: 'retrieve_by_id', cache_id: doc.cache_id, namespace: ns },
      { op: 'retrieve_by_hash', hash: doc.hash, namespace: ns },
      { op: 'refs_hash', hash: text.hash, namespace: ns },
    ]);
    expect(answers[0]).toMatchObject({ found: true, cache_id: a.cache_id, cache_hash: a.hash, data_b64: bin.toString('base64') });
    expect(answers[1]).toMatchObject({ found: true, cache_id: b.cache_id, cache_hash: a.hash, data_b64: bin.toString('base64') });
    const want = JSON.parse(await fs.readFile(path.join(work, 'doc.json'), 'utf8'));
    for (const answer of [answers[2], answers[3]]) expect(answer).toMatchObject({ found: true, cache_id: doc.cache_id, cache_hash: doc.hash, data: want });
    expect(answers[4]).toMatchObject({ refs: { cache_hash: text.hash, latest_id: text.cache_id, total_versions: 1 } });

    expect((await run(['delete', b.cache_id])).code).toBe(0);
    const after = service([
      { op: 'retrieve_by_id', cache_id: b.cache_id, namespace: ns },
      { op: 'retrieve_by_hash', hash: a.hash, namespace: ns },
    ]);
    expect(after[0]).toMatchObject({ found: false });
    expect(after[1]).toMatchObject({ found: true, cache_id: a.cache_id });
  });
});
