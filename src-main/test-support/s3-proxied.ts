// For S3 test files: the test server (see startS3) behind a FaultProxy, for the whole file.
import { afterAll, beforeAll } from 'vitest';
import type { S3Config } from '../core/storage/s3';
import { FaultProxy } from './fault-proxy';
import { startS3, type S3Endpoint } from './s3-emulator';

export interface ProxiedS3 {
  s3: S3Endpoint;
  /** Injects faults and logs requests; in front of the emulator it also supplies conditional PUTs. */
  proxy: FaultProxy;
  /** A config reaching the server through the proxy, under a prefix no other call gets. */
  config(overrides?: Partial<S3Config>): S3Config;
}

/** Starts the server and its proxy before the file's tests and stops them after. */
export function useProxiedS3(): ProxiedS3 {
  let prefixes = 0;
  const ctx = {
    config: (overrides: Partial<S3Config> = {}): S3Config => ({
      bucket: ctx.s3.bucket,
      prefix: `t${process.pid}-${Date.now()}-${prefixes++}/`,
      region: ctx.s3.region,
      // A configured bucket is reached directly (the proxy speaks plain HTTP only).
      endpoint: ctx.s3.real ? ctx.s3.endpoint || undefined : ctx.proxy.endpoint,
      forcePathStyle: !ctx.s3.real,
      credentials: ctx.s3.credentials,
      maxAttempts: 3,
      ...overrides,
    }),
  } as ProxiedS3;
  beforeAll(async () => {
    ctx.s3 = await startS3();
    ctx.proxy = await new FaultProxy(ctx.s3.endpoint, { conditionalWrites: true }).start();
  });
  afterAll(async () => {
    await ctx.proxy?.stop();
    await ctx.s3?.stop();
  });
  return ctx;
}
