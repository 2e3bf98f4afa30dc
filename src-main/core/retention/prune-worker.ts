// Child process for the multi-process prune tests (not shipped):
//   prune-worker.ts store <storage JSON> <layout> <lanes>: stores every RACE_CONTENTS once, in order, over
//     several lanes, one JSON line per acknowledged store.
//   prune-worker.ts prune <storage JSON> <layout> <cutoff ms>: prunes namespace "race" of every version
//     stored before the cutoff, one JSON line per version pruned, then a summary.
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { CacheService } from '../cache-service';
import type { StoreFormat } from '../formats/format';
import { MgraphFormat } from '../formats/mgraph/mgraph-format';
import { NativeFormat } from '../formats/native/native-format';
import { LocalFolderStorage } from '../storage/local';
import { S3Storage, type S3Config } from '../storage/s3';
import { Retention } from './retention';

export type WorkerStorage = { dir: string } | { s3: S3Config };
export const RACE_NS = 'race';
export const RACE_CONTENTS = Array.from({ length: 120 }, (_, i) => `prune race content ${i}`);

export async function openFormat(spec: WorkerStorage, layout: 'native' | 'mgraph', now?: () => Date): Promise<StoreFormat> {
  const storage = 'dir' in spec ? await LocalFolderStorage.open(spec.dir) : await S3Storage.open(spec.s3);
  return layout === 'native' ? new NativeFormat(new CacheService(storage, { now })) : new MgraphFormat(storage, { now });
}

const emit = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);

async function main(): Promise<void> {
  const [mode, specText, layout, arg] = process.argv.slice(2) as [string, string, 'native' | 'mgraph', string];
  const format = await openFormat(JSON.parse(specText) as WorkerStorage, layout);
  if (mode === 'store') {
    const queue = [...RACE_CONTENTS];
    const lane = async () => {
      for (let text = queue.shift(); text !== undefined; text = queue.shift()) {
        const r = await format.store(RACE_NS, { source: { kind: 'bytes', bytes: Buffer.from(text) } });
        emit({ stored: r.cache_id, hash: r.hash, sha256: createHash('sha256').update(text).digest('hex') });
      }
    };
    await Promise.all(Array.from({ length: Number(arg) }, lane));
  } else {
    const cutoff = Number(arg);
    // Ages are measured from the cutoff itself, so versions stored after it are never selected.
    const retention = new Retention(format, { now: () => new Date(cutoff + 1000) });
    const plan = await retention.planPrune({ namespace: RACE_NS, olderThanSeconds: 1 });
    const summary = await retention.prune(plan, { onPruned: (c) => emit({ pruned: c.cache_id, stored_at: c.stored_at }) });
    emit({ summary });
  }
  await format.storage.close();
}

// Imported by the test for its helpers; run as a process, it works.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
