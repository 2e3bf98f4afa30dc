import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { createBuckets, readRgw, rgwInstalled, rgwName, startRgw, type RgwState } from '../../scripts/rgw.mjs';
import { REPO_ROOT } from './cli-harness';

export interface S3Endpoint {
  endpoint: string;
  bucket: string;
  region: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Where the emulator keeps its files (absent otherwise). */
  directory?: string;
  /** A bucket the tester configured (CACHE_ADMIN_S3_TEST_BUCKET): its credentials come from the environment. */
  real: boolean;
  /** What serves it: "Ceph RGW 16.2", "s3rver emulator" or the configured bucket. */
  server: string;
  kind: 'rgw' | 'emulator' | 'configured';
  stop(): Promise<void>;
}

/** s3rver's built-in key pair (it checks the key id only, not the signature). */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const EMULATOR_NAME = 's3rver emulator';

/** Emulator endpoints started by this process: FaultProxy supplies what they lack (see there). */
const emulatorEndpoints = new Set<string>();
export function isEmulatorEndpoint(endpoint: string): boolean {
  return emulatorEndpoints.has(endpoint);
}

/**
 * Which server startS3 uses: the configured bucket (CACHE_ADMIN_S3_TEST_BUCKET, with
 * CACHE_ADMIN_S3_TEST_ENDPOINT and CACHE_ADMIN_S3_TEST_REGION and the SDK's usual credentials),
 * else a Ceph RADOS Gateway where radosgw is installed, else the s3rver emulator.
 * CACHE_ADMIN_S3_TEST_SERVER=emulator picks the emulator even where radosgw is installed.
 */
function chosenKind(): S3Endpoint['kind'] {
  if (process.env.CACHE_ADMIN_S3_TEST_BUCKET) return 'configured';
  if (process.env.CACHE_ADMIN_S3_TEST_SERVER === 'emulator') return 'emulator';
  return rgwInstalled() ? 'rgw' : 'emulator';
}

/** The name of the server startS3 uses here, for a suite's name (known before it starts). */
export function s3ServerName(): string {
  switch (chosenKind()) {
    case 'configured':
      return `bucket ${process.env.CACHE_ADMIN_S3_TEST_BUCKET}${process.env.CACHE_ADMIN_S3_TEST_ENDPOINT ? ` at ${process.env.CACHE_ADMIN_S3_TEST_ENDPOINT}` : ''}`;
    case 'emulator':
      return EMULATOR_NAME;
    case 'rgw':
      // Asked once per test run: the global setup's children inherit it.
      return (process.env.CACHE_ADMIN_TEST_RGW_NAME ??= rgwName());
  }
}

/** An S3 endpoint for tests, with `bucket` in it: see chosenKind for which server. */
export async function startS3(bucket = 'cache-admin-test'): Promise<S3Endpoint> {
  switch (chosenKind()) {
    case 'configured':
      return {
        endpoint: process.env.CACHE_ADMIN_S3_TEST_ENDPOINT ?? '',
        bucket: process.env.CACHE_ADMIN_S3_TEST_BUCKET!,
        region: process.env.CACHE_ADMIN_S3_TEST_REGION ?? 'us-east-1',
        real: true,
        server: s3ServerName(),
        kind: 'configured',
        stop: async () => {},
      };
    case 'emulator':
      return startEmulator(bucket);
    case 'rgw':
      return startRgwEndpoint(bucket);
  }
}

/**
 * A gateway for `bucket`. In a test run (vitest.global-setup.ts names the folder in
 * CACHE_ADMIN_TEST_RGW_DIR) all test files share one cluster, which the run's teardown stops;
 * elsewhere (e2e, bench) each call starts its own and stop() stops it.
 */
async function startRgwEndpoint(bucket: string): Promise<S3Endpoint> {
  const sharedDir = process.env.CACHE_ADMIN_TEST_RGW_DIR;
  const own = sharedDir ? null : await startRgw();
  const rgw = own ?? (await sharedRgw(sharedDir!));
  await createBuckets(rgw, [bucket]);
  return {
    endpoint: rgw.endpoint,
    bucket,
    region: 'us-east-1',
    credentials: rgw.credentials,
    real: false,
    server: rgw.name,
    kind: 'rgw',
    stop: async () => own?.stop(),
  };
}

/** The run's cluster: the first test file to need it starts it (the folder is the lock), the others wait for it. */
async function sharedRgw(dir: string): Promise<RgwState> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const running = await readRgw(dir);
    if (running) return running;
    const mine = await fs.mkdir(dir).then(
      () => true,
      (err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? false : Promise.reject(err)),
    );
    // A failed start deletes the folder: the next file to ask tries again and reports its own failure.
    if (mine) {
      const rgw = await startRgw({ dir });
      // Once per run, so a CI log says what the real server cost to start.
      console.log(`S3 tests: ${rgw.name} started in ${(rgw.startupMs / 1000).toFixed(1)} s`);
      return rgw;
    }
    if (Date.now() > deadline) throw new Error(`the test run's Ceph RGW in ${dir} did not start within 120 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** s3rver in its own process on 127.0.0.1 (scripts/s3-emulator.mjs). */
export async function startEmulator(bucket = 'cache-admin-test'): Promise<S3Endpoint> {
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
  emulatorEndpoints.add(endpoint);
  return {
    endpoint,
    bucket,
    region: 'us-east-1',
    credentials: EMULATOR_CREDENTIALS,
    directory,
    real: false,
    server: EMULATOR_NAME,
    kind: 'emulator',
    stop: async () => {
      emulatorEndpoints.delete(endpoint);
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
