import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { FormatStoreResult, StoreFormat } from '../core/formats/format';
import { type FileToStore, storeFiles } from './store-files';

const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((d) => fs.rm(d, { recursive: true, force: true })));
});

/** A format double that records how many stores run at once. */
function countingFormat() {
  const seen = { inFlight: 0, most: 0, stored: 0 };
  const format = {
    async store(): Promise<FormatStoreResult> {
      seen.most = Math.max(seen.most, ++seen.inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      seen.inFlight--;
      seen.stored++;
      return { size: 1 } as FormatStoreResult;
    },
  } as unknown as StoreFormat;
  return { format, seen };
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
  const { format, seen } = countingFormat();
  await storeFiles(format, 'default', { as: 'bytes' }, await files(100, 900 * 1024), () => undefined, { small: { count: 512, bytes: 16 * 1024 * 1024 } });
  expect(seen.stored).toBe(100);
  expect(seen.most).toBe(18); // 18 x 900 KiB fit in 16 MiB
});

it('stores tiny files up to the count limit at once', async () => {
  const { format, seen } = countingFormat();
  await storeFiles(format, 'default', { as: 'bytes' }, await files(40, 10), () => undefined, { small: { count: 16, bytes: 16 * 1024 * 1024 } });
  expect(seen.stored).toBe(40);
  expect(seen.most).toBe(16);
});
