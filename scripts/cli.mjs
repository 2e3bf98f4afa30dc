// `npm run cli`: the CLI bundled to plain JavaScript (rebuilt when a source is newer), so each run
// starts in a fraction of the time a TypeScript loader needs. Same code as src-main/cli/main.ts.
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'out/cli');
const entry = path.join(outdir, 'main.js');

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

const built = (() => {
  try {
    return statSync(entry).mtimeMs;
  } catch {
    return 0;
  }
})();
if (built < Math.max(newestSource(path.join(root, 'src-main')), newestSource(path.join(root, 'src-shared')), statSync(path.join(root, 'package-lock.json')).mtimeMs)) {
  const { build } = await import('esbuild');
  await build({
    entryPoints: { main: path.join(root, 'src-main/cli/main.ts') },
    outdir,
    bundle: true,
    // Dependencies load from node_modules; splitting keeps the AWS SDK out of local-folder runs.
    packages: 'external',
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
}
await import(pathToFileURL(entry).href);
