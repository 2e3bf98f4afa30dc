// The CLI bundled to plain JavaScript (rebuilt when a file it is built from changed, see
// build-stamp.mjs), so each run starts in a fraction of the time a TypeScript loader needs. Used by
// `npm run cli` and, once, by the tests.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIfStale, bundleForNode, topLevelFiles } from './build-stamp.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The bundle's entry; store-worker.js (bulk stores' worker threads) sits beside it. */
export const CLI_BUNDLE = path.join(REPO, 'out/cli/main.js');

/** What the CLI bundle is built from and what it consists of, relative to the repository. */
export function cliBuild(root) {
  return {
    name: 'cli',
    inputs: ['src-main', 'src-shared', ...topLevelFiles(root), 'node_modules/.package-lock.json', 'scripts/build-cli.mjs', 'scripts/build-stamp.mjs'],
    outputs: ['out/cli/main.js', 'out/cli/store-worker.js'],
  };
}

export function ensureCliBuilt(root = REPO) {
  return buildIfStale({
    root,
    ...cliBuild(root),
    build: () => bundleForNode(root, { main: 'src-main/cli/main.ts', 'store-worker': 'src-main/cli/store-worker.ts' }, path.join(root, 'out/cli')),
  });
}
