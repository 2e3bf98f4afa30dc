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

it("the default store starts on a fresh machine: the app's data folder is made with it, any other store folder only inside one that exists", async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-fresh-'));
  made.push(home);
  const env = { XDG_CONFIG_HOME: path.join(home, 'config'), CACHE_ADMIN_STORE: '' };
  const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-input-')), 'hello.txt');
  made.push(path.dirname(file));
  await fs.writeFile(file, 'hello world');
  expect(await bundledCli(['store', file], { env })).toMatchObject({ code: 0, stdout: expect.stringContaining('b94d27b9934d3e08-v1') });
  expect((await fs.readdir(path.join(home, 'config', 'cache-admin', 'store'))).sort()).toEqual([SPACE_RESERVE, 'default']);

  const elsewhere = path.join(home, 'no-such-folder', 'store');
  expect(await bundledCli(['--store', elsewhere, 'store', file], { env })).toMatchObject({ code: 3, stderr: expect.stringContaining(`cannot create the store folder ${elsewhere}`) });
  expect(await fs.readdir(home)).toEqual(['config']);
});
