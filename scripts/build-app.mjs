// The app built to plain JavaScript for `npm start` and `npm run web`: electron-vite's main, preload
// and renderer, and the browser bridge bundled by esbuild. Rebuilt only when a file it is built from
// changed (build-stamp.mjs), so a start with nothing changed goes straight to the app.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIfStale, bundleForNode, topLevelFiles } from './build-stamp.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The bridge's entry (`npm run web`); it serves out/renderer, found from its own place. */
export const BRIDGE_BUNDLE = path.join(REPO, 'out/bridge/main.js');

/** The bridge bundle's entries: its main and the worker its drops are stored in. */
const BRIDGE_ENTRIES = { main: 'src-main/bridge/main.ts', 'store-worker': 'src-main/cli/store-worker.ts' };

/** What the app is built from and what it consists of, relative to the repository. */
export function appBuild(root) {
  return {
    name: 'app',
    inputs: ['src-main', 'src-shared', 'src-renderer', ...topLevelFiles(root), 'node_modules/.package-lock.json', 'scripts/build-app.mjs', 'scripts/build-stamp.mjs'],
    // Electron main and the bridge each have the drops' store worker beside them (storeWorkerBeside).
    outputs: ['out/main/index.js', 'out/main/store-worker.js', 'out/preload/index.cjs', 'out/renderer/index.html', 'out/bridge/main.js', 'out/bridge/store-worker.js'],
  };
}

function electronViteBuild(root) {
  return new Promise((resolve, reject) => {
    const bin = path.join(root, 'node_modules/electron-vite/bin/electron-vite.js');
    const child = spawn(process.execPath, [bin, 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`electron-vite build failed (${signal ?? `exit code ${code}`})`))));
  });
}

export function ensureAppBuilt(root = REPO) {
  return buildIfStale({
    root,
    ...appBuild(root),
    build: async () => {
      console.error('Cache Admin: building the app (its sources changed since the last build)…');
      await electronViteBuild(root);
      await bundleForNode(root, BRIDGE_ENTRIES, path.join(root, 'out/bridge'));
    },
  });
}
