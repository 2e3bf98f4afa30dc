import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type S3Endpoint } from './s3-emulator';

// Where radosgw is not installed, the S3 suites run on the emulator: it must behave like S3 where
// our correctness depends on it (scripts/s3-emulator.mjs patches it for that).
let s3: S3Endpoint;
let client: S3Client;
beforeAll(async () => {
  s3 = await startEmulator();
  client = new S3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: s3.credentials,
    maxAttempts: 1, // a torn read must show, not be retried away
  });
});
afterAll(async () => {
  client?.destroy();
  await s3?.stop();
});

describe('the S3 emulator', () => {
  it('replaces an object atomically: reads during overwrites see one whole version, never a torn or mixed one', async () => {
    const Key = `atomic-${Date.now()}/object.json`;
    const versions = Array.from({ length: 40 }, (_, i) => JSON.stringify({ version: i, pad: 'x'.repeat((i * 37) % 500) }));
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: versions[0] }));
    const seen = new Set<string>();
    const readLoop = async () => {
      for (let i = 0; i < 60; i++) {
        const out = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key }));
        seen.add(await out.Body!.transformToString());
      }
    };
    const writeLoop = async () => {
      for (const body of versions.slice(1)) await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: body }));
    };
    await Promise.all([readLoop(), readLoop(), writeLoop(), writeLoop()]);
    for (const body of seen) expect(versions).toContain(body);
    expect(seen.size).toBeGreaterThan(1); // the reads really overlapped the writes
  });
});
