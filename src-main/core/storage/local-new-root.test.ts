import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalFolderStorage } from './local';

const roots: string[] = [];
afterAll(() => Promise.all(roots.map((r) => fs.rm(r, { recursive: true, force: true }))));

describe.each([
  ['thread-pool I/O', false],
  ['blocking I/O', true],
])('a new local store folder (%s)', (_name, blockingIo) => {
  it('takes many concurrent first writes: the one that makes the folder never makes the others fail as "store gone"', async () => {
    const parent = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-new-root-'));
    roots.push(parent);
    for (let round = 0; round < 200; round++) {
      const storage = await LocalFolderStorage.open(path.join(parent, `store-${round}`), { blockingIo });
      const keys = Array.from({ length: 48 }, (_, i) => `ns/k${i % 6}/${i}`);
      const results = await Promise.allSettled(keys.map((key) => storage.put(key, Buffer.from(key), { ifAbsent: true })));
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      expect((await Promise.all(keys.map((key) => storage.exists(key)))).every(Boolean)).toBe(true);
      await storage.close();
    }
  });
});
