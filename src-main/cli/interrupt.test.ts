// Ctrl+C during a store, on the bundled CLI as an operator runs it.
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_BUNDLE } from '../../scripts/build-cli.mjs';
import { FaultProxy } from '../test-support/fault-proxy';
import { startS3 } from '../test-support/s3-emulator';

describe('cache-admin store, interrupted', () => {
  it('Ctrl+C while a pipe is still being stored cancels it: exit 130, nothing stored, no partial file left', async () => {
    const store = mkdtempSync(path.join(tmpdir(), 'interrupt-'));
    const child = spawn(process.execPath, [CLI_BUNDLE, '--store', store, 'store', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Two ring buffers' worth: the first is held, the second opens the spool file in .staging/. The pipe stays open.
    child.stdin.on('error', () => undefined); // EPIPE: the cancelled CLI closes its stdin before reading all of this
    child.stdin.write(Buffer.alloc(9 << 20, 7));
    const staged = () => readdirSync(path.join(store, '.staging'), { withFileTypes: true }).filter((e) => e.isFile()).length;
    await expect.poll(() => (readdirSync(store).includes('.staging') ? staged() : 0), { timeout: 15_000 }).toBe(1);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('cancelled');
    expect(staged()).toBe(0);
    // No namespace: only the staging folder and the 4 MiB kept aside while the content streamed in.
    expect(readdirSync(store).filter((name) => name !== '.staging' && name !== '.space-reserve' && !name.startsWith('_'))).toEqual([]);
  });

  it('a store killed outright (SIGKILL) leaves its staging file, which a later big store removes once it has lain there an hour', async () => {
    const store = mkdtempSync(path.join(tmpdir(), 'killed-'));
    const staging = path.join(store, '.staging');
    const child = spawn(process.execPath, [CLI_BUNDLE, '--store', store, 'store', '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin.on('error', () => undefined);
    child.stdin.write(Buffer.alloc(9 << 20, 7));
    await expect.poll(() => (existsSync(staging) ? readdirSync(staging).length : 0), { timeout: 15_000 }).toBe(1);
    child.kill('SIGKILL');
    await exited;
    const [abandoned] = readdirSync(staging);
    // Another writer's file, still being written (its process is gone as far as this machine can tell: a shared folder).
    const recent = path.join(staging, `.tmp-${child.pid}-000000000000-1`);
    writeFileSync(recent, 'written a moment ago');
    const big = path.join(store, '..', `${path.basename(store)}-big.bin`);
    writeFileSync(big, Buffer.alloc(9 << 20, 8));
    const storeBig = () => execFileSync(process.execPath, [CLI_BUNDLE, '--store', store, 'store', big], { stdio: 'ignore' });
    storeBig();
    expect(readdirSync(staging).sort()).toEqual([abandoned, path.basename(recent)].sort()); // not an hour old yet: kept
    const longAgo = new Date(Date.now() - 61 * 60_000);
    utimesSync(path.join(staging, abandoned!), longAgo, longAgo);
    writeFileSync(big, Buffer.alloc(9 << 20, 9));
    storeBig();
    expect(readdirSync(staging)).toEqual([path.basename(recent)]);
    rmSync(big);
  });
});

/** A folder of `count` small files in a new work folder. */
function workWithFiles(count: number): { work: string; folder: string } {
  const work = mkdtempSync(path.join(tmpdir(), 'interrupt-files-'));
  const folder = path.join(work, 'files');
  mkdirSync(folder);
  for (let i = 0; i < count; i++) writeFileSync(path.join(folder, `f${String(i).padStart(5, '0')}.txt`), `file ${i}\n`);
  return { work, folder };
}

/** The bundled CLI, sent `signal` once its first output line is out; resolves with how it ended. */
async function stoppedAtFirstLine(args: string[], signal: NodeJS.Signals): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI_BUNDLE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.once('data', () => child.kill(signal));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

describe('cache-admin store <folder>, interrupted', () => {
  it('Ctrl+C says once how many paths were not stored, not a line for each (thousands of lines before)', async () => {
    const { work, folder } = workWithFiles(6000);
    const { code, stdout, stderr } = await stoppedAtFirstLine(['--store', path.join(work, 'store'), 'store', folder], 'SIGINT');
    expect(code).toBe(130);
    const stored = stdout.trim().split('\n').length;
    const summary = /^cache-admin: cancelled: (\d+) of 6000 paths not stored \(\1 cancelled before they were stored\)\n$/.exec(stderr);
    expect(summary, stderr.slice(0, 500)).not.toBeNull();
    expect(Number(summary![1]) + stored).toBe(6000);
    rmSync(work, { recursive: true, force: true });
  });
});

describe('cache-admin prune, stopped by TERM (a cron job\'s timeout)', () => {
  it('stops cleanly as on Ctrl+C: exit 143 (TERM\'s 128 + 15), what it deleted said, no plan left for the next prune to finish', async () => {
    const { work, folder } = workWithFiles(3000);
    const store = path.join(work, 'store');
    execFileSync(process.execPath, [CLI_BUNDLE, '--store', store, 'store', folder], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 1100)); // every version over a second old
    const { code, stdout, stderr } = await stoppedAtFirstLine(['--store', store, 'prune', '--older-than', '1s'], 'SIGTERM');
    expect(code).toBe(143);
    expect(stderr).toMatch(/^cache-admin: cancelled: /);
    const pruned = stdout.trim().split('\n').length;
    expect(pruned).toBeLessThan(3000);
    const journals = path.join(store, '_cache-admin.d', 'prune');
    expect(existsSync(journals) ? readdirSync(journals, { recursive: true }).filter((name) => String(name).endsWith('.json')) : []).toEqual([]);
    const left = spawnSync(process.execPath, [CLI_BUNDLE, '--store', store, '--json', 'stats'], { encoding: 'utf8' });
    expect(JSON.parse(left.stdout).entries).toBe(3000 - pruned);
    rmSync(work, { recursive: true, force: true });
  });
});

describe('cache-admin on a stream that fails before its first chunk', () => {
  // The hashing thread's port kept such a process alive after it had said why it stopped (so did a Ctrl+C before a pipe's first byte).
  it('`hash --as string` of text that is not UTF-8 says so and exits 2', () => {
    const work = mkdtempSync(path.join(tmpdir(), 'bad-utf8-'));
    writeFileSync(path.join(work, 'bad.txt'), Buffer.from([0xff, 0xfe]));
    const run = spawnSync(process.execPath, [CLI_BUNDLE, '--memory', 'hash', '--as', 'string', path.join(work, 'bad.txt')], { encoding: 'utf8', timeout: 10_000 });
    expect([run.status, run.stderr]).toEqual([2, 'cache-admin: invalid_input: the input is not valid UTF-8 text\n']);
  });
});

describe('cache-admin get --out, interrupted', () => {
  it('Ctrl+C while the content is still arriving (a bucket gone quiet mid-body): exit 130, and neither the file nor a partial one is left', async () => {
    const s3 = await startS3('interrupt-get');
    const proxy = await new FaultProxy(s3.endpoint).start();
    try {
      const work = mkdtempSync(path.join(tmpdir(), 'interrupt-get-'));
      writeFileSync(path.join(work, 'hello.txt'), 'hello world');
      const env = { ...process.env, AWS_REGION: s3.region, ...(s3.credentials ? { AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey } : {}) };
      const bucket = ['--s3-bucket', s3.bucket, '--s3-prefix', `interrupt-${Date.now()}`, '--s3-endpoint', proxy.endpoint, '--s3-path-style'];
      await promisify(execFile)(process.execPath, [CLI_BUNDLE, ...bucket, 'store', path.join(work, 'hello.txt')], { env }); // not execFileSync: the proxy answers from this process
      // The content's GET gives 5 of its 11 bytes, then nothing: a slow disk or bucket.
      proxy.inject({ match: (r) => r.method === 'GET' && r.url.split('?')[0]!.endsWith('/default/objects/b9/4d/b94d27b9934d3e08'), action: { kind: 'stall', afterBytes: 5 }, times: 1 });
      const out = path.join(work, 'out.txt');
      const child = spawn(process.execPath, [CLI_BUNDLE, ...bucket, 'get', 'b94d27b9934d3e08', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'], env });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const partial = () => readdirSync(work).filter((name) => name.endsWith('.part'));
      await expect.poll(partial, { timeout: 15_000 }).toHaveLength(1);
      child.kill('SIGINT');
      await expect.poll(() => stderr, { timeout: 15_000 }).toContain(`cancelled: get was cancelled: ${out} was not written`);
      expect(readdirSync(work).sort()).toEqual(['hello.txt']);
      expect(await exited).toBe(130);
    } finally {
      await proxy.stop();
      await s3.stop();
    }
  });
});

describe('cache-admin verify --repair, interrupted', () => {
  it('Ctrl+C stops it part-way: exit 130, and it says how many repairs it made, which are exactly those in the store', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'interrupt-verify-'));
    const store = path.join(work, 'store');
    mkdirSync(path.join(work, 'files'));
    for (let i = 0; i < 1000; i++) writeFileSync(path.join(work, 'files', `f${i}.txt`), `file ${i}`);
    // Timed apart from what is tested: this once outlasted the test's whole time in CI.
    execFileSync(process.execPath, [CLI_BUNDLE, '--store', store, 'store', path.join(work, 'files')], { stdio: 'ignore', timeout: 90_000 });
    const latest = () => readdirSync(store, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.latest.json'));
    for (const name of latest()) rmSync(path.join(store, name));

    /** Runs verify --repair and sends Ctrl+C once its first repair is on disk; its exit code and stderr. */
    const interrupted = async () => {
      const child = spawn(process.execPath, [CLI_BUNDLE, '--store', store, 'verify', '--repair'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stdout.resume(); // a line per repair: unread, they would fill the pipe and stop it
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      // Its calls are direct (synchronous): it must still see the signal while it works through the entries.
      await expect.poll(() => latest().length, { timeout: 30_000, interval: 5 }).toBeGreaterThan(0);
      child.kill('SIGINT');
      const stillRunning = new Promise<string>((resolve) => setTimeout(resolve, 20_000, 'still running 20 s after Ctrl+C').unref());
      return { code: await Promise.race([exited, stillRunning]), stderr };
    };
    // On a fast disk it may finish every repair before the signal lands (exit 1: problems found and
    // repaired): the case under test did not happen, so it is set up and tried again.
    let run = await interrupted();
    for (let tries = 1; run.code === 1 && latest().length === 1000 && tries < 5; tries++) {
      for (const name of latest()) rmSync(path.join(store, name));
      run = await interrupted();
    }
    const { code, stderr } = run;
    expect(code, stderr).toBe(130);
    const made = /cancelled: verify was cancelled after checking [\d,]+ keys; the ([\d,]+) repairs? made before it stopped \([\d,]+ stale_latest\) stand/.exec(stderr);
    expect(made, stderr).not.toBeNull();
    const restored = latest().length;
    expect(Number(made![1]!.replace(/,/g, ''))).toBe(restored);
    expect(restored).toBeLessThan(1000);
  }, 150_000);
});
