import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import pkg from './package.json';

// electron is an optional dependency (its binary cannot be downloaded everywhere): tell
// electron-vite which major version we target instead of letting it read electron/package.json.
process.env.ELECTRON_MAJOR_VER ??= pkg.optionalDependencies.electron.split('.')[0];

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      // The drops' store worker beside main's entry, where main looks for it (storeWorkerBeside).
      rollupOptions: { input: { index: resolve(__dirname, 'src-main/electron/main.ts'), 'store-worker': resolve(__dirname, 'src-main/cli/store-worker.ts') } },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      // Sandboxed preloads must be CommonJS.
      rollupOptions: {
        input: { index: resolve(__dirname, 'src-main/electron/preload.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: 'src-renderer',
    build: {
      outDir: 'out/renderer',
      rollupOptions: { input: { index: resolve(__dirname, 'src-renderer/index.html') } },
    },
  },
});
