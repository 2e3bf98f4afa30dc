import { createHash } from 'node:crypto';
import type { Namespace, VersionRecord } from '../../src-shared/domain';
import { makeCacheId } from '../../src-shared/domain';
import { encodeRecord } from '../core/cache-service';
import { cacheHashOfSha256 } from '../core/hashing';
import { mapLimit } from '../core/keyed-lock';
import { KeyLayout } from '../core/layout';
import type { StorageBackend } from '../core/storage/types';

/**
 * Writes `count` small entries (one version each) with exactly the keys a store writes, but
 * without the per-store fsyncs and version probing: big fixtures (100,000 entries) in seconds.
 */
export async function populateNamespace(
  storage: StorageBackend,
  namespace: string,
  count: number,
  options: { layout?: KeyLayout; concurrency?: number; start?: Date } = {},
): Promise<VersionRecord[]> {
  const layout = options.layout ?? new KeyLayout();
  const start = (options.start ?? new Date('2026-01-01T00:00:00Z')).getTime();
  const indexes = Array.from({ length: count }, (_, i) => i);
  return mapLimit(indexes, options.concurrency ?? 32, async (i) => {
    const bytes = Buffer.from(`fixture entry ${i} of ${namespace}\n`);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const hash = cacheHashOfSha256(sha256);
    const record: VersionRecord = {
      namespace: namespace as Namespace,
      hash,
      cache_id: makeCacheId(hash, 1),
      version: 1,
      sha256,
      size: bytes.byteLength,
      content_type: 'text/plain',
      source: `entry-${i}.txt`,
      stored_at: new Date(start + i * 1000).toISOString(),
    };
    const recordKey = layout.record(record.namespace, hash, 1);
    const data = encodeRecord(record);
    await storage.put(layout.content(record.namespace, hash), bytes);
    await storage.put(recordKey, data);
    await Promise.all([
      storage.copy(recordKey, layout.latest(record.namespace, hash), { data }),
      storage.copy(recordKey, layout.versionEntry(record), { data }),
      storage.copy(recordKey, layout.temporal(record), { data }),
    ]);
    return record;
  });
}
