import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StoreResult } from '../../src-shared/domain';
import { CLI_BUNDLE } from '../../scripts/build-cli.mjs';
import { bundledCli } from '../test-support/cli-harness';
import type { CacheError } from '../../src-shared/errors';
import { CRASHING_STORE_WORKER } from '../test-support/pool-workers';
import { type FileOutcome, StorePool, WORKER_MIN_FILES } from './store-files';

const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((d) => fs.rm(d, { recursive: true, force: true })));
});

/** A folder of `count` small files named f00000.txt… in input order, each with its own content. */
async function folderOfFiles(count: number): Promise<{ dir: string; root: string }> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-workers-'));
  made.push(root);
  const dir = path.join(root, 'files');
  await fs.mkdir(dir);
  await Promise.all(Array.from({ length: count }, (_, i) => fs.writeFile(path.join(dir, `f${String(i).padStart(5, '0')}.txt`), `file number ${i}\n`)));
  return { dir, root };
}

describe('bulk store in worker threads (bundled CLI)', () => {
  const count = WORKER_MIN_FILES + 100;

  it('stores every file once, prints results in input order and allocates versions across workers, with nothing on stderr', async () => {
    // Twelve batches: eleven or more once each added a cancel listener to one signal, and Node warned of a leak.
    const count = WORKER_MIN_FILES * 6;
    const { dir, root } = await folderOfFiles(count);
    // The same bytes as the first file, in a batch another worker stores.
    await fs.writeFile(path.join(dir, 'zz-copy-of-first.txt'), 'file number 0\n');
    const store = path.join(root, 'store');
    const run = await bundledCli(['--store', store, '--json', 'store', dir]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const results = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as StoreResult);
    expect(results.map((r) => r.source)).toEqual([...Array.from({ length: count }, (_, i) => `files/f${String(i).padStart(5, '0')}.txt`), 'files/zz-copy-of-first.txt']);
    const first = results[0]!;
    const copy = results[count]!;
    expect(copy.hash).toBe(first.hash);
    expect([first.version, copy.version].sort()).toEqual([1, 2]);
    expect([first.deduplicated, copy.deduplicated].filter(Boolean)).toHaveLength(1);

    const stats = JSON.parse((await bundledCli(['--store', store, '--json', 'stats'])).stdout);
    expect(stats).toMatchObject({ entries: count, versions: count + 1, objects: 5 * count + 3 }); // a second version adds a record, an index entry and a temporal key
    const verify = await bundledCli(['--store', store, 'verify']);
    expect(verify.code).toBe(0);
  });

  it.runIf(process.platform === 'linux')("a filesystem sync held up by other programs' data neither holds up the store nor keeps the CLI from exiting", async () => {
    const { dir, root } = await folderOfFiles(count);
    // A `sync` that takes a minute, as behind a big copy or other containers' writes on a shared disk.
    const slowSync = path.join(root, 'bin');
    await fs.mkdir(slowSync);
    const pidFile = path.join(root, 'sync.pid');
    await fs.writeFile(path.join(slowSync, 'sync'), `#!/bin/sh\necho $$ >> '${pidFile}'\nexec sleep 60\n`, { mode: 0o755 });
    const started = Date.now();
    try {
      const run = await bundledCli(['--store', path.join(root, 'store'), 'store', dir], { env: { PATH: `${slowSync}${path.delimiter}${process.env.PATH}` } });
      expect([run.code, run.stderr]).toEqual([0, '']);
      expect(run.stdout.trim().split('\n')).toHaveLength(count);
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      // The slow syncs (one per batch) outlive the CLI, as meant: none is left sleeping after the test.
      const pids = (await fs.readFile(pidFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number);
      for (const pid of pids) process.kill(pid);
    }
  }, 45_000);

  it('a failure stops nothing: every other file is stored and printed in order, the failure named at its place', async () => {
    const { dir, root } = await folderOfFiles(count);
    const failing = 700;
    await fs.writeFile(path.join(dir, `f${String(failing).padStart(5, '0')}.txt`), 'x'.repeat(4096));
    const run = await bundledCli(['--store', path.join(root, 'store'), '--max-entry-size', '1K', '--json', 'store', dir]);
    expect(run.code).toBe(2);
    const failed = path.join(dir, `f${String(failing).padStart(5, '0')}.txt`);
    expect(run.stderr.split('\n')).toEqual([`cache-admin: too_large: ${failed}: content is larger than the 1 KiB limit for one entry`, `cache-admin: too_large: 1 of ${count} paths not stored (each named above)`, '']);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as StoreResult & { path?: string; error?: { code: string } });
    expect(lines.map((l) => l.source ?? l.path)).toEqual(Array.from({ length: count }, (_, i) => (i === failing ? failed : `files/f${String(i).padStart(5, '0')}.txt`)));
    expect(lines[failing]!.error!.code).toBe('too_large');
  });

  it('a worker that fails to start fails each file given to the pool with its error (internal), and the process goes on', async () => {
    const pool = new StorePool(new URL('data:text/javascript,throw new Error("worker broke")'), { dir: os.tmpdir(), format: 'native', maxEntryBytes: 1024 });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300)); // the worker fails while the folder is still being walked
      const outcomes: { path: string; code: string; message: string }[] = [];
      await pool.storeFiles('default', { as: 'bytes' }, [{ index: 0, path: 'a.txt', name: 'a.txt' }], (file, outcome) => {
        if ('error' in outcome) outcomes.push({ path: file.path, code: (outcome.error as CacheError).code, message: (outcome.error as Error).message });
      });
      expect(outcomes).toEqual([{ path: 'a.txt', code: 'internal', message: expect.stringMatching(/^a\.txt: .*a store worker stopped unexpectedly \(.*worker broke/) }]);
      expect(pool.broken).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("a worker that dies mid-job fails only that job's files it had not reported; other jobs keep theirs, and a new worker takes the next job", async () => {
    const pool = new StorePool(CRASHING_STORE_WORKER, { dir: os.tmpdir(), format: 'native' });
    const bytes = (name: string) => ({ item: name, name, source: { kind: 'bytes' as const, bytes: new TextEncoder().encode(name) } });
    const seen = new Map<string, string>();
    const record = (name: string, outcome: FileOutcome) => seen.set(name, 'result' in outcome ? 'stored' : (outcome.error as CacheError).code);
    try {
      await Promise.all([pool.store('default', { as: 'bytes' }, ['a1', 'crash', 'a3'].map(bytes), record), pool.store('default', { as: 'bytes' }, ['b1', 'b2'].map(bytes), record)]);
      expect(Object.fromEntries(seen)).toEqual({ a1: 'stored', crash: 'internal', a3: 'internal', b1: 'stored', b2: 'stored' });
      await pool.store('default', { as: 'bytes' }, ['c1', 'c2'].map(bytes), record);
      expect([seen.get('c1'), seen.get('c2')]).toEqual(['stored', 'stored']);
    } finally {
      await pool.close();
    }
  });

  it('a reader that goes away (`| head -1`) stops nothing: every file is stored, no temp file is left, and it exits 0', async () => {
    const { dir, root } = await folderOfFiles(count);
    const store = path.join(root, 'store');
    const piped = spawnSync('bash', ['-c', '"$0" "$1" --store "$2" store "$3" | head -1; echo "exit ${PIPESTATUS[0]}" >&2', process.execPath, CLI_BUNDLE, store, dir], { encoding: 'utf8' });
    expect(piped.stdout).toMatch(/^[0-9a-f]{16}-v1 {2}14 bytes {2}files\/f00000\.txt {2}\(new content\)\n$/);
    expect(piped.stderr).toBe('exit 0\n');
    expect(JSON.parse((await bundledCli(['--store', store, '--json', 'stats'])).stdout)).toMatchObject({ entries: count });
    expect(await bundledCli(['--store', store, 'verify'])).toMatchObject({ code: 0, stdout: expect.stringContaining('no problems') });
  });

  it('notes on stderr that find no reader (`2>&1 | head -1`) stop nothing either', async () => {
    const { dir, root } = await folderOfFiles(count);
    await fs.symlink(path.join(dir, 'f00000.txt'), path.join(dir, 'zz-link.txt')); // skipped, with a note on stderr
    const store = path.join(root, 'store');
    const piped = spawnSync('bash', ['-c', '"$0" "$1" --store "$2" store "$3" 2>&1 | head -1 > /dev/null; echo "exit ${PIPESTATUS[0]}"', process.execPath, CLI_BUNDLE, store, dir], { encoding: 'utf8' });
    expect(piped.stdout).toBe('exit 0\n');
    expect(JSON.parse((await bundledCli(['--store', store, '--json', 'stats'])).stdout)).toMatchObject({ entries: count });
  });

  it('output that cannot be written (a full disk) fails the command once its work is done, and says so', async () => {
    const { dir, root } = await folderOfFiles(count);
    const store = path.join(root, 'store');
    const full = openSync('/dev/full', 'w');
    try {
      const stored = spawnSync(process.execPath, [CLI_BUNDLE, '--store', store, 'store', dir], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8' });
      expect(stored.stderr).toMatch(/^cache-admin: no_space: could not write to standard output \(ENOSPC: .*\): the command did its work, but what it printed is lost\n$/);
      expect(stored.status).toBe(3);
      expect(JSON.parse((await bundledCli(['--store', store, '--json', 'stats'])).stdout)).toMatchObject({ entries: count });
      const listed = spawnSync(process.execPath, [CLI_BUNDLE, '--store', store, 'ls'], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8' });
      expect(listed).toMatchObject({ status: 3, stderr: expect.stringContaining('could not write to standard output (ENOSPC') });
      // What policy get prints is its whole work: not "did its work".
      const policy = spawnSync(process.execPath, [CLI_BUNDLE, '--store', store, 'policy', 'get'], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8' });
      expect(policy).toMatchObject({ status: 3, stderr: expect.stringMatching(/: the output is incomplete\n$/) });
    } finally {
      closeSync(full);
    }
  });
});
