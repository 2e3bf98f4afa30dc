import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BUNDLE } from '../../scripts/build-cli.mjs';
import { KeyLayout } from '../core/layout';
import { formatBytes } from '../../src-shared/units';
import { CLI_ENTRY, REPO_ROOT, bundledCli, cli, cliProcess } from '../test-support/cli-harness';

let work: string;
let store: string;
beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-cli-'));
  store = path.join(work, 'store');
  await fs.writeFile(path.join(work, 'hello.txt'), 'hello world');
  await fs.mkdir(path.join(work, 'tree/sub'), { recursive: true });
  await fs.writeFile(path.join(work, 'tree/a.bin'), Buffer.from([0, 1, 2, 3]));
  await fs.writeFile(path.join(work, 'tree/sub/b.json'), '{"b": 2, "a": 1}');
  await fs.writeFile(path.join(work, 'data.json'), '{"name": "café", "n": [1, 2.5, null, true]}');
});
afterAll(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

const json = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l));

describe('cli', () => {
  it('hash prints the cache hash without storing anything', async () => {
    const r = await cli(['--store', store, 'hash', path.join(work, 'hello.txt')]);
    expect(r).toMatchObject({ code: 0, stdout: 'b94d27b9934d3e08\n' });
    expect(await cli(['--store', store, 'hash', '--as', 'json', path.join(work, 'data.json')])).toMatchObject({ stdout: '860088a84cdd3238\n' });
    expect(await cli(['hash', '--as', 'string', '-'], { stdin: new TextEncoder().encode('hello world') })).toMatchObject({ stdout: 'b94d27b9934d3e08\n' });
    expect((await cli(['hash', '--as', 'string', '-'], { stdin: new Uint8Array([0xff, 0xfe]) })).code).toBe(2);
    await expect(fs.readdir(store)).rejects.toThrow();
  });

  it('hash takes several paths, a "<hash>  <path>" line each as sha256sum prints them, and goes on past one it cannot read', async () => {
    const hello = path.join(work, 'hello.txt');
    const missing = path.join(work, 'no-such-file');
    const data = path.join(work, 'data.json');
    const r = await cli(['hash', hello, missing, data]);
    expect(r).toMatchObject({ code: 1, stdout: `b94d27b9934d3e08  ${hello}\n${(await cli(['hash', data])).stdout.trim()}  ${data}\n`, stderr: `cache-admin: not_found: no such file: ${missing}\n` });
    expect(json((await cli(['--json', 'hash', hello, data])).stdout).map((o) => [o.path, o.hash])).toEqual([
      [hello, 'b94d27b9934d3e08'],
      [data, expect.stringMatching(/^[0-9a-f]{16}$/)],
    ]);
    // --json: an object for the path that cannot be read too, as store --json writes one.
    const partly = await cli(['--json', 'hash', hello, missing]);
    expect(partly.code).toBe(1);
    expect(json(partly.stdout)).toEqual([
      { path: hello, hash: 'b94d27b9934d3e08', sha256: expect.any(String), size: 11 },
      { path: missing, error: { code: 'not_found', message: `no such file: ${missing}` } },
    ]);
    expect((await cli(['hash', hello, '-'])).code).toBe(2);
  });

  it("delete and info by another namespace's storage key refuse, naming its namespace: the delete removed this namespace's entry of the same bytes", async () => {
    const own = path.join(work, 'keys-store');
    const file = path.join(work, 'hello.txt');
    expect(await cli(['--store', own, 'store', file])).toMatchObject({ code: 0 });
    const stored = json((await cli(['--store', own, '--ns', 'archive', '--json', 'store', file])).stdout)[0];
    for (const key of stored.keys as string[]) {
      for (const command of ['delete', 'info']) {
        expect(await cli(['--store', own, command, key]), `${command} ${key}`).toMatchObject({ code: 1, stderr: expect.stringContaining(`is a key of namespace "archive", not of "default"`) });
      }
    }
    expect((await cli(['--store', own, 'namespaces'])).stdout).toMatch(/archive +1 entries[\s\S]*default +1 entries/);
  });

  it('store --json prints one object per file with the documented fields', async () => {
    const first = json((await cli(['--store', store, '--json', 'store', path.join(work, 'hello.txt')])).stdout);
    const second = json((await cli(['--store', store, '--json', 'store', path.join(work, 'hello.txt')])).stdout);
    expect(first[0]).toEqual({
      path: path.join(work, 'hello.txt'),
      cache_id: 'b94d27b9934d3e08-v1',
      hash: 'b94d27b9934d3e08',
      version: 1,
      namespace: 'default',
      size: 11,
      source: 'hello.txt',
      deduplicated: false,
      keys: expect.arrayContaining(['default/objects/b9/4d/b94d27b9934d3e08', 'default/objects/b9/4d/b94d27b9934d3e08.v00000001.json']),
    });
    expect(second[0]).toMatchObject({ cache_id: 'b94d27b9934d3e08-v2', version: 2, deduplicated: true });
  });

  it('stores folders recursively, in path order, with relative source names', async () => {
    const r = await cli(['--store', store, '--ns', 'tree', '--json', 'store', path.join(work, 'tree')]);
    expect(json(r.stdout).map((o) => o.source)).toEqual(['tree/a.bin', 'tree/sub/b.json']);
    // Each line names its path as a failed or skipped file's line does: a script joins results to its input.
    expect(json(r.stdout).map((o) => o.path)).toEqual([path.join(work, 'tree/a.bin'), path.join(work, 'tree/sub/b.json')]);
  });

  it('a folder that holds the store is stored without the store folder itself, and a folder inside the store not at all', async () => {
    const project = path.join(work, 'project');
    const inner = path.join(project, 'cache');
    await fs.mkdir(project);
    await fs.writeFile(path.join(project, 'notes.txt'), 'notes');
    const first = await cli(['--store', inner, '--json', 'store', path.join(project, 'notes.txt')]);
    expect(first.code).toBe(0);
    const r = await cli(['--store', inner, '--json', 'store', project]);
    expect(json(r.stdout).map((o) => o.source ?? o.skipped)).toEqual(['the store folder itself (its files are the store, not content to store)', 'project/notes.txt']);
    const within = await cli(['--store', inner, '--json', 'store', path.join(inner, 'default')]);
    expect(json(within.stdout).map((o) => o.skipped)).toEqual(['the store folder itself (its files are the store, not content to store)']);
    expect((await cli(['--store', inner, '--json', 'stats'])).stdout).toContain('"entries":1,');
  });

  it('the progress line on a terminal counts only stored files as stored', async () => {
    const folder = path.join(work, 'mixed');
    await fs.mkdir(folder);
    await fs.writeFile(path.join(folder, 'a.txt'), 'a');
    await fs.writeFile(path.join(folder, 'b.txt'), 'b');
    await fs.writeFile(Buffer.concat([Buffer.from(`${folder}/`), Buffer.from([0x6e, 0xff, 0x2e, 0x74])]), 'not a UTF-8 name');
    const r = await cli(['--store', path.join(work, 'mixed-store'), 'store', folder], { stderrIsTTY: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('3/3 files: 2 stored, 1 failed, 2 B');
    expect(formatBytes(4.757656853999405)).toBe('5 B'); // a slow rate, in whole bytes
    expect(formatBytes(3 * 2 ** 30)).toBe('3.0 GiB'); // binary units, named so
  });

  it('store --as json stores the canonical text', async () => {
    const [stored] = json((await cli(['--store', store, '--ns', 'js', '--json', 'store', '--as', 'json', path.join(work, 'data.json')])).stdout);
    expect(stored.hash).toBe('860088a84cdd3238');
    const got = await cli(['--store', store, '--ns', 'js', 'get', stored.hash]);
    expect(got.stdout).toBe('{"n": [1, 2.5, null, true], "name": "caf\\u00e9"}');
  });

  it('get writes the exact bytes to stdout or a file, by hash, cache id or version', async () => {
    const [stored] = json((await cli(['--store', store, '--ns', 'bin', '--json', 'store', path.join(work, 'tree/a.bin')])).stdout);
    expect((await cli(['--store', store, '--ns', 'bin', 'get', stored.cache_id])).stdoutBytes).toEqual(Buffer.from([0, 1, 2, 3]));
    const out = path.join(work, 'out.bin');
    expect((await cli(['--store', store, '--ns', 'bin', 'get', stored.hash, '--version', '1', '--out', out])).code).toBe(0);
    expect(await fs.readFile(out)).toEqual(Buffer.from([0, 1, 2, 3]));
    // Asked for JSON, it says what it wrote where: one line, as every command's --json output.
    const again = path.join(work, 'again.bin');
    const said = await cli(['--store', store, '--ns', 'bin', '--json', 'get', stored.hash, '--out', again]);
    expect(json(said.stdout)).toEqual([{ out: again, cache_id: stored.cache_id, hash: stored.hash, version: 1, bytes: 4 }]);
    // - is standard output, as it is standard input for store and hash (it made a file named -).
    const dash = await cli(['--store', store, '--ns', 'bin', 'get', stored.hash, '--out', '-']);
    expect([dash.code, dash.stdoutBytes]).toEqual([0, Buffer.from([0, 1, 2, 3])]);
    await expect(fs.access(path.resolve('-'))).rejects.toThrow();
  });

  it('get refuses an empty --out (an unset $OUT sent the bytes to the terminal) and --force without a file to replace', async () => {
    const [stored] = json((await cli(['--store', store, '--ns', 'bin', '--json', 'store', path.join(work, 'tree/a.bin')])).stdout);
    expect(await cli(['--store', store, '--ns', 'bin', 'get', stored.hash, '--out', ''])).toMatchObject({
      code: 2,
      stdout: '',
      stderr: 'cache-admin: invalid_input: --out was given an empty value (an unset variable?): nothing was written (- writes to standard output)\n',
    });
    expect(await cli(['--store', store, '--ns', 'bin', 'get', stored.hash, '--force'])).toMatchObject({ code: 2, stdout: '', stderr: 'cache-admin: invalid_input: --force goes with --out FILE: it lets get replace that file\n' });
    // An empty path (an unset variable) is bad input, not a file that is missing.
    expect(await cli(['--store', store, 'store', '', path.join(work, 'hello.txt')])).toMatchObject({ code: 2, stderr: 'cache-admin: invalid_input: a path given is empty (an unset variable?): nothing was stored\n' });
  });

  it('get of content gone bad writes none of it to standard output (4 MiB of it reached a pipe before the error)', async () => {
    const file = path.join(work, 'rots.bin');
    await fs.writeFile(file, randomBytes(5_000_000));
    const own = path.join(work, 'rot-store');
    const [stored] = json((await cli(['--store', own, '--json', 'store', file])).stdout);
    const contentFile = path.join(own, 'default', 'objects', stored.hash.slice(0, 2), stored.hash.slice(2, 4), stored.hash);
    await fs.writeFile(contentFile, randomBytes(5_000_000)); // the same size, other bytes
    const got = await cli(['--store', own, 'get', stored.hash]);
    expect([got.code, got.stdoutBytes.length]).toEqual([3, 0]);
    expect(got.stderr).toMatch(/^cache-admin: corrupt: /);
  });

  it('get --out never replaces an existing file unless --force says so', async () => {
    const [stored] = json((await cli(['--store', store, '--ns', 'bin', '--json', 'store', path.join(work, 'tree/a.bin')])).stdout);
    const out = path.join(work, 'keep.txt');
    await fs.writeFile(out, 'the operator’s own file');
    const refused = await cli(['--store', store, '--ns', 'bin', 'get', stored.hash, '--out', out]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(`conflict: cannot write ${out}: it already exists (--force replaces it)`);
    expect(await fs.readFile(out, 'utf8')).toBe('the operator’s own file');
    expect((await fs.readdir(work)).filter((n) => n.endsWith('.part'))).toEqual([]);
    expect((await cli(['--store', store, '--ns', 'bin', 'get', '0000000000000000', '--out', out])).code).toBe(1); // a missing entry is said first
    expect((await cli(['--store', store, '--ns', 'bin', 'get', stored.hash, '--out', out, '--force'])).code).toBe(0);
    expect(await fs.readFile(out)).toEqual(Buffer.from([0, 1, 2, 3]));
  });

  it('info --json has every metadata field and the keys', async () => {
    const r = await cli(['--store', store, '--json', 'info', 'b94d27b9934d3e08-v1']);
    expect(JSON.parse(r.stdout)).toEqual({
      cache_id: 'b94d27b9934d3e08-v1',
      hash: 'b94d27b9934d3e08',
      sha256: 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9',
      version: 1,
      namespace: 'default',
      size: 11,
      content_type: 'text/plain',
      source: 'hello.txt',
      stored_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      keys: expect.any(Array),
      // Added by the layout interface; the fields above are unchanged.
      format: 'native',
      latest_version: 2,
      data_type: 'binary',
      content_encoding: null,
      details: {},
      key_roles: expect.arrayContaining([{ key: 'default/objects/b9/4d/b94d27b9934d3e08', role: 'content' }]),
      child_data: [],
      // Added by retention (docs/retention.md): no policy, so kept forever.
      expired: false,
      expires_at: null,
    });
  });

  it('versions, namespaces and stats print the documented JSON', async () => {
    const versions = JSON.parse((await cli(['--store', store, '--json', 'versions', 'b94d27b9934d3e08'])).stdout);
    expect(versions).toMatchObject({ hash: 'b94d27b9934d3e08', count: 2 });
    expect(Object.keys(versions.versions[0])).toEqual(['version', 'cache_id', 'stored_at', 'size', 'source', 'expired', 'expires_at']);
    const namespaces = JSON.parse((await cli(['--store', store, '--json', 'namespaces'])).stdout);
    expect(namespaces.namespaces.map((n: { name: string }) => n.name)).toEqual(['bin', 'default', 'js', 'tree']);
    expect(namespaces.namespaces[1]).toEqual({ name: 'default', entries: 1, versions: 2, bytes: 11 });
    expect(JSON.parse((await cli(['--store', store, '--json', 'stats'])).stdout)).toEqual({
      namespace: 'default', entries: 1, versions: 2, bytes: 11, objects: 8, shards: { b9: 1 }, format: 'native',
    });
  });

  it('ls lists keys under a prefix, one page at a time with --limit', async () => {
    const all = await cli(['--store', store, 'ls', 'default/']);
    expect(all.stdout.trim().split('\n')).toHaveLength(8);
    const page = await cli(['--store', store, '--json', 'ls', 'default/', '--limit', '3']);
    expect(JSON.parse(page.stdout)).toMatchObject({ objects: expect.any(Array), cursor: expect.any(String) });
    expect(JSON.parse(page.stdout).objects).toHaveLength(3);
    // A count is written in digits: what Number() also reads (1e2, 0x5, 2.0, a space) is refused, as --version and --keep-versions refuse it.
    for (const [command, option, max] of [['ls', '--limit', '1,000'], ['verify', '--sample', '1,000,000,000']] as const) {
      for (const bad of ['1e2', '0x5', '2.0', ' 3', '0', '10000000000']) {
        expect(await cli(['--store', store, command, option, bad]), `${option} ${bad}`).toMatchObject({ code: 2, stdout: '', stderr: `cache-admin: invalid_input: ${option} takes a whole number from 1 to ${max}\n` });
      }
    }
    const folders = await cli(['--store', store, 'ls', '--delimiter']);
    expect(folders.stdout).toBe('bin/\ndefault/\njs/\ntree/\n');
    // --ns lists under that namespace, a prefix within it
    const inBin = (await cli(['--store', store, '--ns', 'bin', 'ls'])).stdout.trim().split('\n');
    expect(inBin.length).toBeGreaterThan(0);
    expect(inBin.every((line) => line.startsWith('bin/'))).toBe(true);
    expect((await cli(['--store', store, '--ns', 'bin', 'ls', '--delimiter'])).stdout).toBe('bin/objects/\nbin/temporal/\n');
  });

  it('a lookup that misses the default namespace names the namespaces that hold the entry', async () => {
    await fs.writeFile(path.join(work, 'only-in-one.txt'), 'kept in one namespace');
    const [stored] = json((await cli(['--store', store, '--ns', 'one', '--json', 'store', path.join(work, 'only-in-one.txt')])).stdout);
    for (const command of ['get', 'info', 'versions', 'delete']) {
      expect(await cli(['--store', store, command, stored.hash])).toMatchObject({
        code: 1,
        stderr: `cache-admin: not_found: ${stored.hash} is not in namespace default; it is in namespace one (add --ns one)\n`,
      });
    }
    expect((await cli(['--store', store, '--ns', 'one', 'info', stored.hash])).code).toBe(0); // the delete above did nothing
    expect((await cli(['--store', store, 'info', '0000000000000000'])).stderr).toBe('cache-admin: not_found: 0000000000000000 is not in namespace default\n');
  });

  it('get --out refuses, even with --force, a path that is not a plain file, and one inside the store folder', async () => {
    const [stored] = json((await cli(['--store', store, '--ns', 'bin', '--json', 'store', path.join(work, 'tree/a.bin')])).stdout);
    const pipe = path.join(work, 'a-pipe');
    spawnSync('mkfifo', [pipe]);
    const link = path.join(work, 'a-link');
    await fs.symlink(path.join(work, 'hello.txt'), link);
    const content = path.join(store, 'bin/objects', stored.hash.slice(0, 2), stored.hash.slice(2, 4), stored.hash);
    const cases = [
      [pipe, 'conflict: cannot write', 'it is not a file (a device, pipe or socket): get without --out writes to standard output'],
      [link, 'conflict: cannot write', 'it is a symbolic link (give the path it points to)'],
      [content, 'invalid_input: cannot write', `it is inside the store folder ${store}, where it could replace stored content`],
      [path.join(store, 'new-file'), 'invalid_input: cannot write', `it is inside the store folder ${store}, where it could replace stored content`],
    ];
    for (const [out, code, why] of cases) {
      const refused = await cli(['--store', store, '--ns', 'bin', 'get', stored.hash, '--out', out!, '--force']);
      expect(refused.stderr).toBe(`cache-admin: ${code} ${out}: ${why}\n`);
    }
    expect((await fs.lstat(pipe)).isFIFO()).toBe(true);
    expect(await fs.readlink(link)).toBe(path.join(work, 'hello.txt'));
    expect(await fs.readFile(path.join(work, 'hello.txt'), 'utf8')).toBe('hello world');
    expect(await fs.readFile(content)).toEqual(Buffer.from([0, 1, 2, 3]));
    await expect(fs.stat(path.join(store, 'new-file'))).rejects.toThrow();
    expect((await fs.readdir(work)).filter((n) => n.endsWith('.part'))).toEqual([]);
  });

  it('namespaces of a store that holds none prints none, and a note naming the store looked at (the default one, when none is given)', async () => {
    expect(await cli(['--memory', 'namespaces'])).toMatchObject({ code: 0, stdout: '', stderr: 'cache-admin: note: no namespace in memory\n' });
    expect(await cli(['--memory', '--json', 'namespaces'])).toMatchObject({ code: 0, stdout: '{"namespaces":[],"format":"native"}\n' });
  });

  it('get, info and versions of content no version uses (a store stopped before its record) say what it is, not that nothing is there', async () => {
    const dir = await fs.mkdtemp(path.join(work, 'unversioned-'));
    const hash = (await cli(['hash', '-'], { stdin: new TextEncoder().encode('placed, never recorded') })).stdout.trim();
    const content = path.join(dir, new KeyLayout().content('default' as never, hash as never));
    await fs.mkdir(path.dirname(content), { recursive: true });
    await fs.writeFile(content, 'placed, never recorded');
    for (const command of ['get', 'info', 'versions']) {
      expect(await cli(['--store', dir, command, hash])).toMatchObject({ code: 1, stderr: expect.stringContaining(`cache-admin: not_found: ${hash} in default is content no version uses`) });
    }
  });

  it('--version alone prints the program version (with a command it names an entry version)', async () => {
    const { version } = JSON.parse(await fs.readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await cli(['--version'])).toMatchObject({ code: 0, stdout: `cache-admin ${version}\n` });
    expect(await cli(['--memory', 'get', 'b94d27b9934d3e08', '--version', '2'])).toMatchObject({ code: 1, stderr: expect.stringContaining('b94d27b9934d3e08-v2 is not in namespace default') });
  });

  it('an empty --store (an unset variable in a script) is refused: the current folder does not become a store', async () => {
    const here = await fs.mkdtemp(path.join(work, 'cwd-'));
    for (const option of ['--store', '--s3-bucket']) {
      const run = spawnSync(process.execPath, [CLI_BUNDLE, option, '', 'stats'], { cwd: here, encoding: 'utf8' });
      expect([run.status, run.stderr]).toEqual([2, `cache-admin: invalid_input: ${option} was given an empty value (an unset variable?): nothing was opened\n`]);
    }
    expect(await fs.readdir(here)).toEqual([]);
    // The same for $CACHE_ADMIN_STORE set empty: not the default store in the data folder.
    const config = await fs.mkdtemp(path.join(work, 'config-'));
    const run = spawnSync(process.execPath, [CLI_BUNDLE, 'store', '-'], { cwd: here, input: 'x', encoding: 'utf8', env: { ...process.env, CACHE_ADMIN_STORE: ' ', XDG_CONFIG_HOME: config } });
    expect([run.status, run.stderr]).toEqual([2, 'cache-admin: invalid_input: CACHE_ADMIN_STORE is set but empty (an unset variable?): nothing was opened; unset it to use the default store\n']);
    expect([await fs.readdir(here), await fs.readdir(config)]).toEqual([[], []]);
  });

  it('a command reading a --store folder that does not exist says so and creates nothing (a typo read as an empty store: verify said "no problems")', async () => {
    const here = await fs.mkdtemp(path.join(work, 'typo-'));
    const missing = path.join(here, 'no-such-store');
    for (const command of [['verify'], ['ls'], ['namespaces'], ['stats'], ['get', 'b94d27b9934d3e08'], ['prune', '--dry-run'], ['capabilities'], ['policy', 'get']]) {
      const run = await cli(['--store', missing, ...command]);
      expect([run.code, run.stdout, run.stderr]).toEqual([1, '', `cache-admin: not_found: no store at ${missing}: no such folder (a store's folder is made by its first store)\n`]);
    }
    expect(await fs.readdir(here)).toEqual([]);
    // Bad input is still named as such first; the app's own store, not made yet, reads as empty.
    expect((await cli(['--store', missing, '--ns', 'Bad/Name', 'ls'])).code).toBe(2);
    const config = path.join(here, 'config');
    expect(await cli(['ls'], { env: { XDG_CONFIG_HOME: config } })).toMatchObject({ code: 0, stdout: '', stderr: '' });
    // The first store makes it.
    expect((await cli(['--store', missing, 'store', path.join(work, 'hello.txt')])).code).toBe(0);
    expect((await cli(['--store', missing, 'verify'])).code).toBe(0);
  });

  it('policy set on a --store folder that does not exist is refused as reads and delete are, and creates nothing (it made the folder and wrote a policy)', async () => {
    const here = await fs.mkdtemp(path.join(work, 'typo-policy-'));
    const missing = path.join(here, 'no-such-store');
    for (const command of [['policy', 'set', '--ttl', '1d'], ['--ns', 'docs', 'policy', 'set', '--keep-versions', '3'], ['delete', 'b94d27b9934d3e08']]) {
      const run = await cli(['--store', missing, ...command]);
      expect([run.code, run.stdout, run.stderr]).toEqual([1, '', `cache-admin: not_found: no store at ${missing}: no such folder (a store's folder is made by its first store)\n`]);
    }
    expect(await fs.readdir(here)).toEqual([]);
    // The app's own store, not made yet, takes a policy as it takes a first store (a real process: its data folder comes from its environment).
    const config = path.join(here, 'config');
    expect(await bundledCli(['policy', 'set', '--ttl', '1d'], { env: { XDG_CONFIG_HOME: config, CACHE_ADMIN_STORE: undefined } })).toMatchObject({ code: 0, stdout: 'store-wide  ttl 1d  keep-versions none\n', stderr: '' });
  });

  it('an option given twice is refused, nothing opened or stored (the last one silently won: --store A --store B stored into B)', async () => {
    const here = await fs.mkdtemp(path.join(work, 'twice-'));
    const file = path.join(here, 'f.txt');
    await fs.writeFile(file, 'once\n');
    const run = spawnSync(process.execPath, [CLI_BUNDLE, '--store', path.join(here, 'A'), '--store', path.join(here, 'B'), 'store', file], { cwd: here, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--store is given more than once: give it once');
    expect(await fs.readdir(here)).toEqual(['f.txt']);
  });

  it('an S3 endpoint holding a secret (user:password@, ?query), a bucket S3 would not take or a prefix that is no key prefix is refused before any request, naming its option, the secret never echoed', async () => {
    const secret = 'Zq8-never-echo-this-secret';
    for (const [args, why] of [
      [['--s3-bucket', 'cache-admin', '--s3-endpoint', `http://u:${secret}@127.0.0.1:9`], '--s3-endpoint must not hold a user name or password (give keys as keys, never in the URL)'],
      [['--s3-bucket', 'cache-admin', '--s3-endpoint', `http://127.0.0.1:9/?X-Amz-Signature=${secret}`], '--s3-endpoint must not have a query or fragment'],
      [['--s3-bucket', 'Bad_Bucket!'], '--s3-bucket is not an S3 bucket name (lower case letters, digits, dots and hyphens, 3-63 characters)'],
      [['--s3-bucket', 'cache-admin', '--s3-prefix', '../other-team/'], `--s3-prefix is not a key prefix: folder names of letters, digits and _ . ~ % ! * ' ( ) + = - joined by "/" (such as team/cache/), none empty or starting with "."`],
    ] as const) {
      const run = spawnSync(process.execPath, [CLI_BUNDLE, ...args, 'stats'], { encoding: 'utf8' });
      expect([run.status, run.stderr, run.stdout]).toEqual([2, `cache-admin: invalid_input: ${why}\n`, '']);
    }
  });

  it('an S3 endpoint that takes connections and never answers fails within the connect limit (20 s; five idle minutes before), exit 3', async () => {
    const silent = net.createServer(() => undefined); // accepts, reads nothing, answers nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      const started = Date.now();
      const run = await bundledCli(['--s3-bucket', 'cache-admin', '--s3-endpoint', endpoint, '--s3-path-style', 'namespaces'], {
        env: { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-a-secret', CACHE_ADMIN_CONNECT_TIMEOUT_MS: '1500' },
      });
      expect([run.code, run.stderr]).toEqual([3, `cache-admin: storage_unreachable: cannot open the store: cache-admin at ${endpoint} did not answer within 1.5 s\n`]);
      expect(Date.now() - started).toBeLessThan(15_000); // and the process ends: no retry left waiting
    } finally {
      silent.close();
    }
  });

  it('delete removes a version, then the entry', async () => {
    await cli(['--store', store, '--ns', 'del', 'store', path.join(work, 'hello.txt')]);
    expect(await cli(['--store', store, '--ns', 'del', 'delete', 'b94d27b9934d3e08'])).toMatchObject({
      code: 0,
      stdout: 'deleted b94d27b9934d3e08-v1 (no version left): 11 bytes freed\n',
    });
    expect((await cli(['--store', store, '--ns', 'del', 'get', 'b94d27b9934d3e08'])).code).toBe(1);
  });

  it('a full SHA-256 names one content: delete and versions refuse one that shares only its first 16 characters', async () => {
    await cli(['--store', store, '--ns', 'sha', 'store', path.join(work, 'hello.txt')]);
    const sha256 = 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9';
    const other = `b94d27b9934d3e08${'0'.repeat(48)}`;
    for (const command of ['delete', 'versions', 'get']) {
      const refused = await cli(['--store', store, '--ns', 'sha', command, other]);
      expect([command, refused.code, refused.stderr]).toEqual([command, 1, `cache-admin: not_found: ${other} is not in namespace sha (b94d27b9934d3e08 is there, with another SHA-256: ${sha256})\n`]);
    }
    const missingVersion = await cli(['--store', store, '--ns', 'sha', 'versions', 'b94d27b9934d3e08-v99']);
    expect(missingVersion).toMatchObject({ code: 1, stderr: 'cache-admin: not_found: b94d27b9934d3e08-v99 is not in namespace sha (b94d27b9934d3e08 is there: its newest version is v1)\n' });
    expect((await cli(['--store', store, '--ns', 'sha', 'versions', sha256])).stdout).toContain('b94d27b9934d3e08-v1');
    expect(await cli(['--store', store, '--ns', 'sha', 'delete', sha256])).toMatchObject({ code: 0, stdout: 'deleted b94d27b9934d3e08-v1 (no version left): 11 bytes freed\n' });
  });

  it.each([
    [['get', 'nothexatall'], 2, 'invalid_hash'],
    [['get', 'b94d27b9934d3e08-v0'], 2, 'invalid_cache_id'],
    [['--ns', '../x', 'stats'], 2, 'invalid_namespace'],
    [['get', '0000000000000000'], 1, 'not_found'],
    [['info', 'b94d27b9934d3e08-v99'], 1, 'not_found'],
    [['bogus'], 2, 'unknown command'],
    [['store', '--frobnicate', 'x'], 2, 'Unknown option'],
    [['store', '--as', 'xml', 'x'], 2, '--as takes'],
    [['store', '--as', 'string', 'x'], 2, "--as string is not taken by this store's layout (native): it takes bytes, json"],
    [['--ns', '-a', 'stats'], 2, "argument is ambiguous. Did you forget to specify the option argument for '--ns'? To specify"],
  ])('%j exits %i with one clear line on stderr', async (args, code, message) => {
    const r = await cli(['--store', store, ...args]);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(message);
    expect(r.stderr.startsWith('cache-admin: ')).toBe(true);
  });

  it('a path whose symbolic links go round in a loop says so, not that it does not exist', async () => {
    await fs.symlink(path.join(work, 'loop-b'), path.join(work, 'loop-a'));
    await fs.symlink(path.join(work, 'loop-a'), path.join(work, 'loop-b'));
    const r = await cli(['--store', store, 'store', path.join(work, 'loop-a')]);
    expect([r.code, r.stderr]).toEqual([2, `cache-admin: invalid_input: cannot open ${path.join(work, 'loop-a')}: its symbolic links lead round in a loop\n`]);
  });

  it('a missing path among real ones stores nothing and exits 1', async () => {
    const untouched = path.join(work, 'untouched');
    const r = await cli(['--store', untouched, 'store', path.join(work, 'hello.txt'), path.join(work, 'no-such-file')]);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toMatch(/^cache-admin: not_found: no such file or folder: .*no-such-file\n$/);
    expect((await cli(['--store', untouched, 'ls', ''])).stdout).toBe('');
  });

  it('--max-entry-size refuses bigger content with a clear error, before anything is stored', async () => {
    const limited = path.join(work, 'limited');
    const over = await cli(['--store', limited, '--max-entry-size', '10', 'store', path.join(work, 'hello.txt')]);
    expect(over.code).toBe(2);
    expect(over.stderr).toMatch(/too_large: .*hello\.txt: content is larger than the 10-byte limit/);
    const keys = await cli(['--store', limited, 'ls', '']);
    expect(keys.stdout).toBe('');
    expect((await cli(['--store', limited, '--max-entry-size', '11', 'store', path.join(work, 'hello.txt')])).code).toBe(0);
    expect((await cli(['--store', limited, '--max-entry-size', '1K', 'store', path.join(work, 'tree')])).code).toBe(0);
    expect((await cli(['--store', limited, 'store', '-'], { stdin: new Uint8Array(20), env: { CACHE_ADMIN_MAX_ENTRY_SIZE: '16' } })).code).toBe(2);
    for (const bad of ['0', '-5', 'lots', '1.5G', '']) {
      const r = await cli(['--store', limited, '--max-entry-size', bad, 'namespaces']);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toMatch(bad === '-5' ? /--max-entry-size/ : /--max-entry-size takes a size/);
    }
    // A bad value in the environment is named as the environment's, not as a flag never given.
    expect((await cli(['--store', limited, 'namespaces'], { env: { CACHE_ADMIN_MAX_ENTRY_SIZE: 'bogus' } })).stderr).toBe('cache-admin: invalid_input: $CACHE_ADMIN_MAX_ENTRY_SIZE takes a size such as 1048576, 512M or 2G, not "bogus"\n');
  });

  it('invalid input writes nothing to the store', async () => {
    const fresh = path.join(work, 'untouched');
    await cli(['--store', fresh, '--ns', 'Bad/Name', 'store', path.join(work, 'hello.txt')]);
    await cli(['--store', fresh, 'store', '--as', 'json', path.join(work, 'tree/a.bin')]);
    await expect(fs.readdir(fresh)).rejects.toThrow();
  });

  it('runs as a real process with the documented exit codes and stdout', async () => {
    const env = { CACHE_ADMIN_STORE: path.join(work, 'proc-store') };
    const stored = await cliProcess(['--json', 'store', path.join(work, 'hello.txt')], env);
    expect(stored.code).toBe(0);
    expect(JSON.parse(stored.stdout).cache_id).toBe('b94d27b9934d3e08-v1');
    expect(await cliProcess(['get', 'b94d27b9934d3e08'], env)).toMatchObject({ code: 0, stdout: 'hello world' });
    expect((await cliProcess(['get', 'ffffffffffffffff'], env)).code).toBe(1);
    const bad = await cliProcess(['get', 'xyz'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('store - (or /dev/stdin) with standard input closed (<&-) or /dev/null stores nothing and says why; piped empty content is stored; hash - hashes /dev/null as empty and notes it', async () => {
    const store = path.join(work, 'stdin-store');
    const run = (redirect: string) =>
      spawnSync('sh', ['-c', `"$0" --import tsx "$1" --store "$2" store - ${redirect}`, process.execPath, CLI_ENTRY, store], { cwd: REPO_ROOT, encoding: 'utf8' });
    for (const redirect of ['<&-', '</dev/null']) {
      const closed = run(redirect);
      expect(closed.status, redirect).toBe(2);
      expect(closed.stderr, redirect).toContain('closed or /dev/null: nothing was read, so nothing was stored');
      expect(closed.stderr, redirect).toContain("(the native layout takes it; the service's layout stores no empty content)"); // its hint fails there
    }
    // The same input named as a path, as scripts often do, or /dev/null itself.
    for (const [file, redirect] of [['/dev/stdin', '<&-'], ['/dev/stdin', '</dev/null'], ['/dev/null', '']] as const) {
      const closed = spawnSync('sh', ['-c', `"$0" --import tsx "$1" --store "$2" store "$3" ${redirect}`, process.execPath, CLI_ENTRY, store, file], { cwd: REPO_ROOT, encoding: 'utf8' });
      expect(closed.status, `${file} ${redirect}`).toBe(2);
      const why = file === '/dev/null' ? ' (/dev/null)' : ': standard input is closed or /dev/null';
      expect(closed.stderr, `${file} ${redirect}`).toContain(`${file} reads as nothing${why}, so nothing was stored`);
    }
    await expect(fs.readdir(store)).rejects.toThrow();
    const piped = spawnSync('sh', ['-c', `printf '' | "$0" --import tsx "$1" --store "$2" --json store -`, process.execPath, CLI_ENTRY, store], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(JSON.parse(piped.stdout)).toMatchObject({ size: 0 });
    // Hashing reads it as it is: /dev/null is empty content, and the CLI says so.
    for (const [arg, redirect] of [['-', '</dev/null'], ['-', '<&-'], ['/dev/stdin', '<&-']] as const) {
      const hashed = spawnSync('sh', ['-c', `"$0" --import tsx "$1" hash "$2" ${redirect}`, process.execPath, CLI_ENTRY, arg], { cwd: REPO_ROOT, encoding: 'utf8' });
      expect(hashed, `${arg} ${redirect}`).toMatchObject({ status: 0, stdout: 'e3b0c44298fc1c14\n', stderr: 'cache-admin: note: standard input is closed or /dev/null: this is the hash of empty content\n' });
    }
    const nullHash = spawnSync('sh', ['-c', `printf '' | "$0" --import tsx "$1" hash -`, process.execPath, CLI_ENTRY], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(nullHash).toMatchObject({ status: 0, stdout: 'e3b0c44298fc1c14\n', stderr: '' }); // piped empty content: no note
    // Empty input that cannot be hashed as asked: the error alone, no note about a hash never printed.
    const asJson = spawnSync('sh', ['-c', `"$0" --import tsx "$1" hash - --as json </dev/null`, process.execPath, CLI_ENTRY], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(asJson.status).toBe(2);
    expect(asJson.stderr).not.toContain('note');
    expect(asJson.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('an option the command does not take', () => {
  it('is refused before anything is done: delete --dry-run deletes nothing, store --dry-run stores nothing', async () => {
    const own = path.join(work, 'options-store');
    const hello = path.join(work, 'hello.txt');
    expect(await cli(['--store', own, 'store', '--dry-run', hello])).toMatchObject({ code: 2, stdout: '', stderr: 'cache-admin: invalid_input: store does not take --dry-run (it takes --as, --strategy): nothing was done\n' });
    await expect(fs.stat(own)).rejects.toMatchObject({ code: 'ENOENT' });
    const stored = json((await cli(['--store', own, '--json', 'store', hello])).stdout)[0];
    expect((await cli(['--store', own, 'delete', stored.hash, '--dry-run'])).stderr).toBe('cache-admin: invalid_input: delete does not take --dry-run (it takes --version): nothing was done\n');
    expect((await cli(['--store', own, 'verify', '--repair', '--dry-run'])).stderr).toContain('verify does not take --dry-run (it takes --sample, --repair)');
    expect((await cli(['--store', own, 'policy', 'set', '--ttl', '5d', '--dry-run'])).code).toBe(2);
    expect((await cli(['--store', own, 'versions', stored.hash, '--version', '1'])).stderr).toContain('versions does not take --version (it takes none of its own)');
    expect((await cli(['--store', own, 'namespaces', '--out', path.join(work, 'x')])).code).toBe(2);
    // Nothing of it happened: the entry and the store's policy are as they were.
    expect((await cli(['--store', own, 'versions', stored.hash])).stdout.trim().split('\n')).toHaveLength(1);
    expect((await cli(['--store', own, 'policy', 'get'])).stdout).toBe('store-wide  ttl none  keep-versions none\n');
    // Options every command takes still go with any of them.
    expect(await cli(['--store', own, '--ns', 'default', '--json', '--format', 'native', 'versions', stored.hash])).toMatchObject({ code: 0 });
  });

  it('ls --ns takes a key it printed back as a prefix (it looked for NS/NS/… and found nothing)', async () => {
    const own = path.join(work, 'ls-store');
    const stored = JSON.parse((await cli(['--store', own, '--ns', 'alpha', '--json', 'store', path.join(work, 'hello.txt')])).stdout);
    const shard = `alpha/objects/${stored.hash.slice(0, 2)}/${stored.hash.slice(2, 4)}/`;
    const listed = (await cli(['--store', own, '--ns', 'alpha', 'ls', shard])).stdout;
    expect(listed).toContain(`${shard}${stored.hash}\t`);
    expect((await cli(['--store', own, '--ns', 'alpha', 'ls', shard.slice('alpha/'.length)])).stdout).toBe(listed);
    // A namespace named as a layout folder: objects/ under it is its own, not taken as written.
    await cli(['--store', own, '--ns', 'objects', 'store', path.join(work, 'hello.txt')]);
    const inner = (await cli(['--store', own, '--ns', 'objects', 'ls', 'objects/'])).stdout.trim().split('\n');
    expect(inner.length).toBeGreaterThan(0);
    for (const line of inner) expect(line.startsWith('objects/objects/')).toBe(true);
  });

  it('a name that is no command (even one every JavaScript object has) is an unknown command', async () => {
    expect(await cli(['toString'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "toString"') });
  });
});

describe('a namespace that holds nothing', () => {
  it('is named in a note by the commands over a whole namespace (a typo would pass as "no problems"), which still run', async () => {
    const own = path.join(work, 'typo-store');
    await cli(['--store', own, '--ns', 'reports', 'store', path.join(work, 'hello.txt')]);
    const typo = await cli(['--store', own, '--ns', 'reportz', 'verify']);
    expect(typo).toMatchObject({ code: 0, stdout: 'checked 0 keys: no problems\n', stderr: 'cache-admin: note: namespace reportz holds nothing in this store (its namespaces: reports)\n' });
    expect((await cli(['--store', own, '--ns', 'reportz', 'prune', '--older-than', '1d', '--dry-run'])).stderr).toContain('note: namespace reportz holds nothing');
    expect(await cli(['--store', own, '--ns', 'reports', 'verify'])).toMatchObject({ code: 0, stderr: '' });
    expect((await cli(['--store', own, '--ns', 'reports', 'stats'])).stderr).toBe('');
    // stats without --ns reads the default namespace, which this store lacks: all zeros said so, not silently.
    expect(await cli(['--store', own, 'stats'])).toMatchObject({ code: 0, stdout: expect.stringContaining('entries   0'), stderr: 'cache-admin: note: namespace default holds nothing in this store (its namespaces: reports)\n' });
    // A store that holds no namespace yet needs no note.
    expect(await cli(['--store', await fs.mkdtemp(path.join(work, 'empty-store-')), 'stats'])).toMatchObject({ code: 0, stderr: '' });
    // Past ten namespaces the note says it names only some; the store's own folder takes no namespace's place (it left one out unsaid).
    const many = await fs.mkdtemp(path.join(work, 'many-store-'));
    for (const name of 'abcdefghijk') await cli(['--store', many, '--ns', `ns-${name}`, 'store', path.join(work, 'hello.txt')]);
    expect(await cli(['--store', many, 'policy', 'set', '--ttl', '30d'])).toMatchObject({ code: 0 });
    const listed = 'abcdefghij'.split('').map((name) => `ns-${name}`).join(', ');
    expect((await cli(['--store', many, '--ns', 'typo', 'stats'])).stderr).toBe(`cache-admin: note: namespace typo holds nothing in this store (its namespaces: ${listed}, …)\n`);
    // A rule set up before a namespace's first entry is no typo.
    expect(await cli(['--store', own, '--ns', 'newteam', 'policy', 'set', '--ttl', '1d'])).toMatchObject({ code: 0, stderr: '' });
  });
});
