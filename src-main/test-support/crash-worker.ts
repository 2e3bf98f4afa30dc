// Child process for the crash test: stores contents forever (until killed), printing each success.
import { createHash } from 'node:crypto';
import { CacheService } from '../core/cache-service';
import { LocalFolderStorage } from '../core/storage/local';

const [dir, seedText] = process.argv.slice(2);
const cache = new CacheService(await LocalFolderStorage.open(dir!));
let n = Number(seedText) * 1_000_000;

/** Small and large contents, a third of them repeats so new versions are written too. */
function contentOf(i: number): Buffer {
  const id = i % 3 === 0 ? i % 97 : i;
  const size = id % 5 === 0 ? 256 * 1024 + (id % 13) * 65_536 : 100 + (id % 4000);
  return Buffer.from(createHash('sha256').update(String(id)).digest('hex').repeat(Math.ceil(size / 64)).slice(0, size));
}

async function lane(): Promise<void> {
  for (;;) {
    const i = n++;
    const bytes = contentOf(i);
    const result = await cache.store('crash', { source: { kind: 'bytes', bytes }, name: `c${i}` });
    // A line per store that reported success (pipes are written synchronously on Linux).
    process.stdout.write(`ok ${result.cache_id} ${createHash('sha256').update(bytes).digest('hex')}\n`);
  }
}

await Promise.all(Array.from({ length: 8 }, lane));
