import { MgraphFormat } from '../core/formats/mgraph/mgraph-format';
import { mapLimit } from '../core/keyed-lock';
import { forEachPage } from '../core/storage/list-page';
import { MemoryStorage } from '../core/storage/memory';
import type { StorageBackend } from '../core/storage/types';

const BATCH = 2_000;

/**
 * Writes `count` small entries in the Python service's layout (one version each, default strategy)
 * with exactly the files its store writes: each batch is stored by the service layout's own code
 * into memory, then copied to `storage` without per-file flushes, so 100,000 entries take minutes,
 * not hours. Returns the cache hashes in the order stored.
 */
export async function populateServiceNamespace(storage: StorageBackend, namespace: string, count: number, options: { concurrency?: number } = {}): Promise<string[]> {
  const hashes: string[] = [];
  for (let start = 0; start < count; start += BATCH) {
    const scratch = new MemoryStorage();
    const format = new MgraphFormat(scratch);
    for (let i = start; i < Math.min(count, start + BATCH); i++) {
      const stored = await format.store(namespace, { source: { kind: 'bytes', bytes: Buffer.from(`service fixture entry ${i} of ${namespace}\n`) } });
      hashes.push(stored.hash);
    }
    const keys: string[] = [];
    await forEachPage(scratch, '', (page) => keys.push(...page.objects.map((o) => o.key)));
    await mapLimit(keys, options.concurrency ?? 32, async (key) => {
      await storage.put(key, (await scratch.get(key))!);
    });
  }
  return hashes;
}
