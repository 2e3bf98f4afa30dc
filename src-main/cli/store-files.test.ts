import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { Namespace, StoreResult } from '../../src-shared/domain';
import type { CacheService } from '../core/cache-service';
import { type FileToStore, storeFiles } from './store-files';

const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((d) => fs.rm(d, { recursive: true, force: true })));
});

/** A cache double that records how many stores run at once. */
function countingCache() {
  const seen = { inFlight: 0, most: 0, stored: 0 };
  const cache = {
    async store(): Promise<StoreResult> {
      seen.most = Math.max(seen.most, ++seen.inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      seen.inFlight--;
      seen.stored++;
      return { size: 1 } as StoreResult;
    },
  } as unknown as CacheService;
  return { cache, seen };
}

async function files(count: number, bytes: number): Promise<FileToStore[]> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-store-files-'));
  made.push(dir);
  const data = Buffer.alloc(bytes);
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const file = path.join(dir, `f${index}`);
      await fs.writeFile(file, data);
      return { index, path: file, name: `f${index}` };
    }),
  );
}

it('stores small files many at a time, but never holds more than the byte budget at once', async () => {
  const { cache, seen } = countingCache();
  await storeFiles(cache, 'default' as Namespace, 'bytes', await files(100, 900 * 1024), () => undefined, { small: { count: 512, bytes: 16 * 1024 * 1024 } });
  expect(seen.stored).toBe(100);
  expect(seen.most).toBe(18); // 18 x 900 KiB fit in 16 MiB
});

it('stores tiny files up to the count limit at once', async () => {
  const { cache, seen } = countingCache();
  await storeFiles(cache, 'default' as Namespace, 'bytes', await files(40, 10), () => undefined, { small: { count: 16, bytes: 16 * 1024 * 1024 } });
  expect(seen.stored).toBe(40);
  expect(seen.most).toBe(16);
});
