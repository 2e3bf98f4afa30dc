// Child process for the S3 multi-process test: stores one content N times concurrently into a bucket.
// argv: <S3Config as JSON> <count> <content>; prints the versions it got as a JSON array.
import { CacheService } from '../core/cache-service';
import { S3Storage, type S3Config } from '../core/storage/s3';

const [configJson, countText, content] = process.argv.slice(2);
const storage = await S3Storage.open(JSON.parse(configJson!) as S3Config);
const cache = new CacheService(storage);
const bytes = new TextEncoder().encode(content);
const results = await Promise.all(Array.from({ length: Number(countText) }, () => cache.store('default', { source: { kind: 'bytes', bytes } })));
await storage.close();
process.stdout.write(JSON.stringify(results.map((r) => r.version)));
