// Child process for the multi-process tests.
//   store-worker.ts <dir> <count> <content>: stores one content N times concurrently into a folder,
//     prints the versions it got as a JSON array.
//   store-worker.ts mgraph <dir> <count> <content>: the same in the service layout, printing the cache ids.
//   store-worker.ts race <storage JSON> <rounds> <seed>: two lanes of random stores and deletes of
//     three small contents (see hostile-store-delete-race.test.ts), one JSON line per outcome.
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { seeded } from '../../bench/fixtures';
import { CacheService } from '../core/cache-service';
import { MgraphFormat } from '../core/formats/mgraph/mgraph-format';
import { cacheHashOf } from '../core/hashing';
import { LocalFolderStorage } from '../core/storage/local';
import { S3Storage, type S3Config } from '../core/storage/s3';
import type { StorageBackend } from '../core/storage/types';

export type RaceStorage = { dir: string } | { s3: S3Config };

/** One outcome per line: an acknowledged store, a delete, or an acknowledged store found without its bytes right away. */
export type RaceLine = { stored: string; sha256: string } | { deleted: string[] } | { lost: string } | { failed: string } | { done: true };

export const RACE_NAMESPACE = 'race';
export const RACE_CONTENTS = ['alpha', 'beta', 'gamma'].map((t) => `race content ${t}`);

async function openStorage(spec: RaceStorage): Promise<StorageBackend> {
  return 'dir' in spec ? LocalFolderStorage.open(spec.dir) : S3Storage.open(spec.s3);
}

async function race(spec: RaceStorage, rounds: number, seed: number): Promise<void> {
  const cache = new CacheService(await openStorage(spec));
  const random = seeded(seed);
  const emit = (line: RaceLine) => process.stdout.write(`${JSON.stringify(line)}\n`);
  let highest = 1;
  const lane = async (laneId: number) => {
    for (let i = 0; i < rounds; i++) {
      const text = RACE_CONTENTS[Math.floor(random() * RACE_CONTENTS.length)]!;
      const hash = cacheHashOf(text);
      const roll = random();
      if (roll < 0.6) {
        const name = `s${seed}-${laneId}-${i}`;
        const result = await cache.store(RACE_NAMESPACE, { source: { kind: 'bytes', bytes: Buffer.from(text) }, name }).catch((err: Error) => {
          emit({ failed: `${name}: ${err.message}` });
          return null;
        });
        if (!result) continue;
        highest = Math.max(highest, result.version);
        emit({ stored: result.cache_id, sha256: createHash('sha256').update(text).digest('hex') });
        // Its record still there (named by this store's unique source) but its bytes gone: an acknowledged store lost.
        if (!(await cache.storage.exists(cache.layout.content(result.namespace, hash)))) {
          const record = await cache.storage.get(cache.layout.record(result.namespace, hash, result.version));
          if (record && (JSON.parse(Buffer.from(record).toString()) as { source: string }).source === name) emit({ lost: result.cache_id });
        }
      } else {
        const version = roll < 0.9 ? undefined : 1 + Math.floor(random() * highest);
        try {
          emit({ deleted: (await cache.delete(RACE_NAMESPACE, { hash, version })).deleted });
        } catch (err) {
          // Gone already, or only a store still writing it (a delete then says so and deletes nothing).
          if (!['not_found', 'conflict'].includes((err as { code?: string }).code ?? '')) throw err;
        }
      }
    }
  };
  await Promise.all([lane(0), lane(1)]);
  emit({ done: true });
  await cache.storage.close();
}

const args = process.argv.slice(2);
const isMain = import.meta.url === pathToFileURL(process.argv[1] ?? '').href; // tests import the helpers above
if (isMain && args[0] === 'race') {
  await race(JSON.parse(args[1]!) as RaceStorage, Number(args[2]), Number(args[3]));
} else if (isMain && args[0] === 'mgraph') {
  const [, dir, countText, content] = args;
  const format = new MgraphFormat(await LocalFolderStorage.open(dir!));
  const bytes = new TextEncoder().encode(content);
  const results = await Promise.all(Array.from({ length: Number(countText) }, () => format.store('default', { source: { kind: 'bytes', bytes } })));
  process.stdout.write(JSON.stringify(results.map((r) => r.cache_id)));
} else if (isMain) {
  const [dir, countText, content] = args;
  const cache = new CacheService(await LocalFolderStorage.open(dir!));
  const bytes = new TextEncoder().encode(content);
  const results = await Promise.all(
    Array.from({ length: Number(countText) }, () => cache.store('default', { source: { kind: 'bytes', bytes } })),
  );
  process.stdout.write(JSON.stringify(results.map((r) => r.version)));
}
