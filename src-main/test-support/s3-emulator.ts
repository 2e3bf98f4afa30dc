import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './cli-harness';

export interface S3Endpoint {
  endpoint: string;
  bucket: string;
  region: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Where the emulator keeps its files (absent for a real endpoint). */
  directory?: string;
  real: boolean;
  stop(): Promise<void>;
}

/** s3rver's built-in key pair. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * An S3 endpoint for tests: s3rver in its own process on 127.0.0.1 (scripts/s3-emulator.mjs), or,
 * when CACHE_ADMIN_S3_TEST_BUCKET is set, that real bucket (with CACHE_ADMIN_S3_TEST_ENDPOINT and
 * CACHE_ADMIN_S3_TEST_REGION, and the SDK's usual credentials).
 */
export async function startS3(bucket = 'cache-admin-test'): Promise<S3Endpoint> {
  const realBucket = process.env.CACHE_ADMIN_S3_TEST_BUCKET;
  if (realBucket) {
    return {
      endpoint: process.env.CACHE_ADMIN_S3_TEST_ENDPOINT ?? '',
      bucket: realBucket,
      region: process.env.CACHE_ADMIN_S3_TEST_REGION ?? 'us-east-1',
      real: true,
      stop: async () => {},
    };
  }
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-s3rver-'));
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', path.join(REPO_ROOT, 'scripts/s3-emulator.mjs'), '--dir', directory, '--port', '0', '--bucket', bucket, '--json'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const firstLine = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`s3 emulator exited with ${code}`)));
  });
  const { endpoint } = JSON.parse(firstLine) as { endpoint: string };
  return {
    endpoint,
    bucket,
    region: 'us-east-1',
    credentials: EMULATOR_CREDENTIALS,
    directory,
    real: false,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      // It closes gracefully, waiting for open connections; a client that never hangs up must not stall the suite.
      const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(kill);
      await fs.rm(directory, { recursive: true, force: true });
    },
  };
}
