// Child process: streams a large file through the cache on S3 and back, and reports its peak RSS.
// argv: endpoint bucket workDir (holding big.bin, made by the caller so its making is not measured);
// credentials in the SDK's usual environment variables.
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CacheService } from '../core/cache-service';
import { pumpHashed } from '../core/hashing';
import { S3Storage } from '../core/storage/s3';

const [endpoint, bucket, work] = process.argv.slice(2) as [string, string, string];
const source = path.join(work, 'big.bin');
const copy = path.join(work, 'copy.bin');
const { size } = await stat(source);

const cache = new CacheService(
  await S3Storage.open({ bucket, endpoint: endpoint || undefined, forcePathStyle: endpoint !== '', prefix: 'roundtrip/' }),
);
const t0 = performance.now();
const stored = await cache.store('big', { source: { kind: 'file', path: source }, name: 'big.bin' });
const t1 = performance.now();
const { content } = await cache.retrieve('big', { hash: stored.hash });
await pipeline(content, createWriteStream(copy));
const t2 = performance.now();

const sha = async (file: string) => (await pumpHashed({ kind: 'file', path: file }, {})).sha256;
const a = await sha(source);
const b = await sha(copy);
process.stdout.write(
  JSON.stringify({
    size,
    identical: a === b,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    uploadMBps: Math.round(size / 1024 / 1024 / ((t1 - t0) / 1000)),
    downloadMBps: Math.round(size / 1024 / 1024 / ((t2 - t1) / 1000)),
  }),
);
