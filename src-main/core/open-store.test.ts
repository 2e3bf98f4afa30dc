import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { bundledCli } from '../test-support/cli-harness';
import { SPACE_RESERVE } from './storage/local';

const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((d) => fs.rm(d, { recursive: true, force: true })));
});

/** A fresh folder (removed after the tests) holding hello.txt, the file each test stores. */
async function rootWithFile(name: string): Promise<{ root: string; file: string }> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), `cache-admin-${name}-`));
  made.push(root);
  const file = path.join(root, 'hello.txt');
  await fs.writeFile(file, 'hello world');
  return { root, file };
}

it("the default store starts on a fresh machine: the app's data folder is made with it, any other store folder only inside one that exists", async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-fresh-'));
  made.push(home);
  const env = { XDG_CONFIG_HOME: path.join(home, 'config'), CACHE_ADMIN_STORE: undefined };
  const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-input-')), 'hello.txt');
  made.push(path.dirname(file));
  await fs.writeFile(file, 'hello world');
  expect(await bundledCli(['store', file], { env })).toMatchObject({ code: 0, stdout: expect.stringContaining('b94d27b9934d3e08-v1') });
  expect((await fs.readdir(path.join(home, 'config', 'cache-admin', 'store'))).sort()).toEqual([SPACE_RESERVE, 'default']);

  const elsewhere = path.join(home, 'no-such-folder', 'store');
  expect(await bundledCli(['--store', elsewhere, 'store', file], { env })).toMatchObject({ code: 3, stderr: expect.stringContaining(`cannot create the store folder ${elsewhere}`) });
  expect(await fs.readdir(home)).toEqual(['config']);
});

it("a namespace's own folder is refused as a store (native and the service's layout): a drop there would file keys inside that namespace", async () => {
  const { root, file } = await rootWithFile('nested');
  const store = path.join(root, 'store');
  expect(await bundledCli(['--store', store, 'store', file])).toMatchObject({ code: 0 });
  const before = await fs.readdir(path.join(store, 'default'), { recursive: true });
  const nested = path.join(store, 'default');
  expect(await bundledCli(['--store', nested, 'store', file])).toMatchObject({
    code: 2,
    stderr: expect.stringContaining(`cannot use ${nested} as a store folder: it is the folder of namespace "default" in the store at ${store}; open that store instead`),
  });
  expect(await fs.readdir(path.join(store, 'default'), { recursive: true })).toEqual(before);
  const service = path.join(root, 'service', 'TeamA');
  await fs.mkdir(path.join(service, 'refs', 'by-hash'), { recursive: true });
  expect(await bundledCli(['--store', service, 'namespaces'])).toMatchObject({ code: 2, stderr: expect.stringContaining('it is the folder of namespace "TeamA"') });
  // A store whose namespace is called objects is a store, not a namespace folder.
  const objectsNs = path.join(root, 'objects-store');
  expect(await bundledCli(['--store', objectsNs, '--ns', 'objects', 'store', file])).toMatchObject({ code: 0 });
  expect(await bundledCli(['--store', objectsNs, '--ns', 'objects', 'store', file])).toMatchObject({ code: 0, stdout: expect.stringContaining('-v2') });
});

it("a folder inside a namespace's layout folders is refused too, naming the store: it wrote a whole second store inside the namespace", async () => {
  const { root, file } = await rootWithFile('below');
  const store = path.join(root, 'store');
  expect(await bundledCli(['--store', store, '--ns', 'alpha', 'store', file])).toMatchObject({ code: 0 });
  await fs.cp(path.join(import.meta.dirname, '../../test-fixtures/mgraph/store'), path.join(root, 'service'), { recursive: true });
  const listing = () => fs.readdir(root, { recursive: true }).then((names) => names.sort());
  const before = await listing();
  for (const [inside, namespace, storeAt] of [
    ['store/alpha/objects', 'alpha', store],
    ['store/alpha/objects/b9/4d', 'alpha', store],
    ['store/alpha/temporal', 'alpha', store],
    ['store/alpha/objects/new-folder', 'alpha', store],
    ['store/alpha/temporal/2026/12/06/09/deep/new', 'alpha', store],
    ['service/TeamA/data/direct', 'TeamA', path.join(root, 'service')],
  ]) {
    const folder = path.join(root, inside!);
    expect(await bundledCli(['--store', folder, 'store', file])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(`cannot use ${folder} as a store folder: it is ${path.relative(storeAt!, folder)} in the store at ${storeAt}, a folder of its namespace "${namespace}"; open that store instead`),
    });
  }
  expect(await listing()).toEqual(before);
  // A folder beside a look-alike's objects/ (a bare git repository) is no namespace's: a store opens there, made by its first store or made before.
  const repo = path.join(root, 'repo.git');
  await fs.mkdir(path.join(repo, 'objects', 'ab'), { recursive: true });
  expect(await bundledCli(['--store', path.join(repo, 'cache'), 'store', file])).toMatchObject({ code: 0 });
  await fs.mkdir(path.join(repo, 'made'));
  expect(await bundledCli(['--store', path.join(repo, 'made'), 'store', file])).toMatchObject({ code: 0 });
});

it("a new folder in a store's own folder, in a namespace's folder beside its layout folders, or the store's admin folders, is refused: it was made a store whose keys the outer store lists as misplaced", async () => {
  const { root, file } = await rootWithFile('inside');
  const store = path.join(root, 'store');
  expect(await bundledCli(['--store', store, '--ns', 'alpha', 'store', file])).toMatchObject({ code: 0 });
  expect(await bundledCli(['--store', store, 'policy', 'set', '--ttl', '30d'])).toMatchObject({ code: 0 });
  const service = path.join(root, 'service');
  await fs.cp(path.join(import.meta.dirname, '../../test-fixtures/mgraph/store'), service, { recursive: true });
  await fs.mkdir(path.join(store, 'empty'));
  const listing = () => fs.readdir(root, { recursive: true }).then((names) => names.sort());
  const before = await listing();
  for (const [inside, said] of [
    ['service/TeamA/newstore', `it is TeamA/newstore in the store at ${service}, a folder of its namespace "TeamA"`],
    ['store/alpha/newdir', `it is alpha/newdir in the store at ${store}, a folder of its namespace "alpha"`],
    ['store/newdir', `it is inside the store at ${store}, which would list it as namespace "newdir"`],
    ['store/newdir/deeper', `it is inside the store at ${store}, which would list it as namespace "newdir"`],
    ['store/empty', `it is inside the store at ${store}, which would list it as namespace "empty"`],
    ['store/_cache-admin.d', `it is in _cache-admin.d, the folder the store at ${store} keeps for itself`],
    ['store/_cache-admin.d/newdir', `it is in _cache-admin.d, the folder the store at ${store} keeps for itself`],
    ['store/empty/deeper', `it is inside the store at ${store}, which would list it as namespace "empty"`],
    ['service/newdir', `it is inside the store at ${service}, which would list it as namespace "newdir"`],
  ]) {
    const folder = path.join(root, inside!);
    expect(await bundledCli(['--store', folder, 'store', file]), inside).toMatchObject({ code: 2, stderr: expect.stringContaining(`cannot use ${folder} as a store folder: ${said}`) });
  }
  expect(await listing()).toEqual(before);
  // Beside a store, not in it: a store opens as before.
  expect(await bundledCli(['--store', path.join(root, 'second'), 'store', file])).toMatchObject({ code: 0 });
});

it("a link to a folder inside a store is refused as the folder itself is, naming the store it is really in (it was taken for a new store)", async () => {
  const { root: made, file } = await rootWithFile('linked');
  const root = await fs.realpath(made);
  const store = path.join(root, 'store');
  expect(await bundledCli(['--store', store, '--ns', 'alpha', 'store', file])).toMatchObject({ code: 0 });
  expect(await bundledCli(['--store', store, 'policy', 'set', '--ttl', '30d'])).toMatchObject({ code: 0 });
  await fs.mkdir(path.join(store, 'empty'));
  await fs.mkdir(path.join(root, 'links'));
  const before = await fs.readdir(store, { recursive: true });
  for (const [target, said] of [
    ['store/empty', `it is inside the store at ${store}, which would list it as namespace "empty"`],
    ['store/alpha', `it is the folder of namespace "alpha" in the store at ${store}`],
    ['store/_cache-admin.d', `it is in _cache-admin.d, the folder the store at ${store} keeps for itself`],
  ]) {
    const link = path.join(root, 'links', `to-${path.basename(target!)}`);
    await fs.symlink(path.join(root, target!), link);
    expect(await bundledCli(['--store', link, 'store', file]), target).toMatchObject({ code: 2, stderr: expect.stringContaining(`cannot use ${link} as a store folder: ${said}`) });
    // A new folder made through the link is just as much inside the store.
    expect(await bundledCli(['--store', path.join(link, 'newdir'), 'store', file]), target).toMatchObject({ code: 2 });
  }
  expect(await fs.readdir(store, { recursive: true })).toEqual(before);
  // And a link inside the store to an empty folder elsewhere: the store would list it as a namespace.
  await fs.mkdir(path.join(root, 'elsewhere'));
  await fs.symlink(path.join(root, 'elsewhere'), path.join(store, 'linked'));
  const inside = path.join(store, 'linked');
  expect(await bundledCli(['--store', inside, 'store', file])).toMatchObject({ code: 2, stderr: expect.stringContaining(`cannot use ${inside} as a store folder: it is inside the store at ${store}, which would list it as namespace "linked"`) });
  expect(await fs.readdir(path.join(root, 'elsewhere'))).toEqual([]);
});

it('the folder above a store (native or the service\'s) is refused, naming the store inside, and nothing is written there', async () => {
  const { root, file } = await rootWithFile('above');
  expect(await bundledCli(['--store', path.join(root, 'mine'), '--ns', 'docs', 'store', file])).toMatchObject({ code: 0 });
  await fs.cp(path.join(import.meta.dirname, '../../test-fixtures/mgraph/store'), path.join(root, 'service'), { recursive: true });
  const listing = () => fs.readdir(root, { recursive: true }).then((names) => names.sort());
  const before = await listing();
  for (const [folder, marker] of [
    ['mine/', "the native layout: found mine/docs/objects/"],
    ['service/', "the Python cache service's layout: found service/"],
  ] as const) {
    const above = await fs.mkdtemp(path.join(root, 'above-'));
    await fs.rename(path.join(root, folder), path.join(above, folder));
    const refused = await bundledCli(['--store', above, 'store', file]);
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringContaining(`no store is here, but ${folder} holds one (${marker}`) });
    expect(refused.stderr).toContain(`open ${folder} as the store instead`);
    expect(await fs.readdir(above)).toEqual([folder.slice(0, -1)]);
    await fs.rename(path.join(above, folder), path.join(root, folder));
    await fs.rm(above, { recursive: true });
  }
  expect(await listing()).toEqual(before);
});

it("a store whose every entry a repair moved to its quarantine still opens (the quarantine holds namespaces, as a store below it would)", async () => {
  const { root, file } = await rootWithFile('quarantined');
  const store = path.join(root, 'store');
  const stored = await bundledCli(['--store', store, '--ns', 'docs', '--json', 'store', file]);
  const { hash } = JSON.parse(stored.stdout) as { hash: string };
  await fs.writeFile(path.join(store, 'docs/objects', hash.slice(0, 2), hash.slice(2, 4), `${hash}.v00000001.json`), 'not json');
  expect(await bundledCli(['--store', store, 'verify', '--repair'])).toMatchObject({ stdout: expect.stringContaining('moved to _quarantine/docs/objects/') });
  for (const args of [['namespaces'], ['--format', 'native', 'namespaces'], ['verify']]) expect(await bundledCli(['--store', store, ...args]), args.join(' ')).toMatchObject({ code: 0 });
  expect(await bundledCli(['--store', store, '--ns', 'docs', 'store', file])).toMatchObject({ code: 0, stdout: expect.stringContaining('(new content)') });
});

it("a forced layout never starts a second layout in a store that holds only the other one; it picks among the layouts a store holds, and sets an empty store's", async () => {
  const { root, file } = await rootWithFile('forced');
  const listing = (dir: string) => fs.readdir(dir, { recursive: true }).then((names) => names.sort());
  for (const [layout, other, marker] of [
    ['native', 'mgraph', 'docs/objects/, docs/temporal/'],
    ['mgraph', 'native', 'docs/data/, docs/refs/'],
  ] as const) {
    const store = path.join(root, layout);
    expect(await bundledCli(['--store', store, '--format', layout, '--ns', 'docs', 'store', file])).toMatchObject({ code: 0 });
    const before = await listing(store);
    const refused = await bundledCli(['--store', store, '--format', other, '--ns', 'docs', 'store', file]);
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringContaining(`(found ${marker}`) });
    expect(refused.stderr).toContain('it would show none of its entries and write a second layout beside them');
    expect(await listing(store)).toEqual(before);
    // Its own layout, forced, opens as before.
    expect(await bundledCli(['--store', store, '--format', layout, '--ns', 'docs', 'store', file])).toMatchObject({ code: 0, stdout: expect.stringMatching(/-v2 |new version of content already stored/) });
  }
  // A store holding both (made by hand here) opens in either, as asked.
  const mixed = path.join(root, 'mixed');
  await fs.cp(path.join(root, 'native'), mixed, { recursive: true });
  await fs.cp(path.join(root, 'mgraph', 'docs'), path.join(mixed, 'other'), { recursive: true });
  for (const layout of ['native', 'mgraph']) expect(await bundledCli(['--store', mixed, '--format', layout, 'namespaces'])).toMatchObject({ code: 0 });
});
