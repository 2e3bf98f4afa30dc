// Child process for the multi-process test: stores one content N times concurrently into a folder.
import { CacheService } from '../core/cache-service';
import { LocalFolderStorage } from '../core/storage/local';

const [dir, countText, content] = process.argv.slice(2);
const cache = new CacheService(await LocalFolderStorage.open(dir!));
const bytes = new TextEncoder().encode(content);
const results = await Promise.all(
  Array.from({ length: Number(countText) }, () => cache.store('default', { source: { kind: 'bytes', bytes } })),
);
process.stdout.write(JSON.stringify(results.map((r) => r.version)));
