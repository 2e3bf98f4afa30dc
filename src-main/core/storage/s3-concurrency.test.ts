import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../test-support/cli-harness';
import { s3ServerName } from '../../test-support/s3-emulator';
import { useProxiedS3 } from '../../test-support/s3-proxied';
import { CacheService } from '../cache-service';
import { cacheHashOf } from '../hashing';
import { S3Storage } from './s3';

const run = promisify(execFile);
const PROCESSES = 4;
const STORES_EACH = 10;

const s3 = useProxiedS3();

describe(`S3 (${s3ServerName()})`, () => {
  it(`${PROCESSES} processes x ${STORES_EACH} concurrent stores of one content get versions exactly 1..${PROCESSES * STORES_EACH}`, async () => {
    const config = s3.config();
    const worker = `${REPO_ROOT}/src-main/test-support/s3-store-worker.ts`;
    const outputs = await Promise.all(
      Array.from({ length: PROCESSES }, () => run(process.execPath, ['--import', 'tsx', worker, JSON.stringify(config), String(STORES_EACH), 'contended on S3'], { cwd: REPO_ROOT })),
    );
    const total = PROCESSES * STORES_EACH;
    const versions = outputs.flatMap((o) => JSON.parse(o.stdout) as number[]).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: total }, (_, i) => i + 1));

    const cache = new CacheService(await S3Storage.open(config));
    const hash = cacheHashOf('contended on S3');
    expect((await cache.versions('default', hash)).map((v) => v.version)).toEqual(versions);
    expect((await cache.record('default', { hash })).version).toBe(total);
    expect(await cache.stats('default')).toMatchObject({ entries: 1, versions: total, bytes: 15 });
  }, 240_000);
});
