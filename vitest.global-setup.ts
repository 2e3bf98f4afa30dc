// Runs once around the whole test run, in the main process.
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ensureCliBuilt } from './scripts/build-cli.mjs';
import { stopRgw } from './scripts/rgw.mjs';

export default async function setup(): Promise<() => Promise<void>> {
  // Built once before any test file runs: tests that run the bundled CLI must not build it at once.
  await ensureCliBuilt();
  // Everything the tests put in the temp folder (stores, spools, the S3 emulator's files, CLI runs
  // and their children) lands in one folder for this run, deleted at the end: a run writes ~0.5 GB.
  // KEEP_TEST_TMP=1 keeps it, to see what the tests leave behind.
  const root = mkdtempSync(path.join(tmpdir(), 'cache-admin-tests-'));
  process.env.TMPDIR = root;
  // Where radosgw is installed, the first test file that needs S3 starts one Ceph RGW here for the
  // whole run (src-main/test-support/s3-emulator.ts); it is stopped and deleted at the end.
  const rgwDir = path.join(root, 'rgw');
  process.env.CACHE_ADMIN_TEST_RGW_DIR = rgwDir;
  return async () => {
    await stopRgw(rgwDir);
    if (!process.env.KEEP_TEST_TMP) await rm(root, { recursive: true, force: true });
  };
}
