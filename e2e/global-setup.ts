import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LocalFolderStorage } from '../src-main/core/storage/local';
import { populateNamespace } from '../src-main/test-support/fixture-store';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..');
export const BIG_NAMESPACE_ENTRIES = 100_000;

/**
 * Builds the renderer once and writes the 100,000-entry fixture store the tests share. Returns the
 * teardown, which deletes everything the run wrote (about 1 GB) so repeated runs do not fill the disk.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build', '--logLevel', 'warn'], { cwd: REPO_ROOT, stdio: 'inherit' });
  const root = mkdtempSync(path.join(tmpdir(), 'cache-admin-e2e-'));
  const bigStore = path.join(root, 'big-store');
  mkdirSync(bigStore);
  const storage = await LocalFolderStorage.open(bigStore);
  await populateNamespace(storage, 'big', BIG_NAMESPACE_ENTRIES);
  await storage.close();
  process.env.E2E_ROOT = root;
  process.env.E2E_BIG_STORE = bigStore;
  return () => rm(root, { recursive: true, force: true });
}
