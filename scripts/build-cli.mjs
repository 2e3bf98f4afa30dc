// The CLI bundled to plain JavaScript (rebuilt when a source is newer), so each run starts in a
// fraction of the time a TypeScript loader needs. Used by `npm run cli` and, once, by the tests.
import { readdirSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'out/cli');
/** The bundle's entry; store-worker.js (bulk stores' worker threads) sits beside it. */
export const CLI_BUNDLE = path.join(outdir, 'main.js');

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

function builtAt() {
  try {
    return statSync(CLI_BUNDLE).mtimeMs;
  } catch {
    return 0;
  }
}

export async function ensureCliBuilt() {
  const newest = Math.max(newestSource(path.join(root, 'src-main')), newestSource(path.join(root, 'src-shared')), statSync(path.join(root, 'package-lock.json')).mtimeMs);
  if (builtAt() >= newest) return;
  const { build } = await import('esbuild');
  const { metafile } = await build({
    entryPoints: { main: path.join(root, 'src-main/cli/main.ts'), 'store-worker': path.join(root, 'src-main/cli/store-worker.ts') },
    outdir,
    bundle: true,
    // Dependencies load from node_modules; splitting keeps the AWS SDK out of local-folder runs.
    packages: 'external',
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    absWorkingDir: root,
    metafile: true,
  });
  // Chunks are named by their content, so each change leaves the previous ones unused: drop them.
  const current = new Set(Object.keys(metafile.outputs).map((file) => path.resolve(root, file)));
  for (const name of readdirSync(outdir)) {
    if (!current.has(path.join(outdir, name))) rmSync(path.join(outdir, name), { force: true });
  }
}
