// `npm start`: the Electron app on the default local-folder store or, where no Electron binary is
// installed (it is an optional dependency), the same app in a browser through the loopback bridge,
// after saying why there is no window and the one command that installs it.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureAppBuilt } from './build-app.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The Electron binary under root, or why it is missing and the command that installs it. Read from
 * the files electron's install script leaves (path.txt names the binary it unpacked into dist/).
 */
export function electronRuntime(root, env = process.env) {
  const pkg = path.join(root, 'node_modules/electron');
  if (!existsSync(path.join(pkg, 'package.json'))) {
    // npm deletes an optional dependency whose install script failed, leaving the same nothing as --omit.
    const omitted = /\boptional\b/.test(env.npm_config_omit ?? '');
    return {
      missing: omitted
        ? 'Electron is not installed: it is an optional dependency and your npm configuration omits those (omit=optional)'
        : 'Electron is not installed: it is an optional dependency, and npm quietly removes one whose install script fails, here most likely the download of its binary (or it was installed with --omit=optional)',
      fix: 'npm install --include=optional --foreground-scripts',
    };
  }
  const fix = 'node node_modules/electron/install.js';
  const pathFile = path.join(pkg, 'path.txt');
  if (!existsSync(pathFile)) {
    return {
      missing: "Electron's binary was never downloaded: its install script did not run or did not finish (npm skips install scripts with --ignore-scripts or when package.json's allowScripts does not allow the package; ELECTRON_SKIP_BINARY_DOWNLOAD skips the download)",
      fix,
    };
  }
  const binary = path.join(env.ELECTRON_OVERRIDE_DIST_PATH ?? path.join(pkg, 'dist'), readFileSync(pathFile, 'utf8'));
  if (!existsSync(binary)) return { missing: `Electron's binary ${binary} is missing: its download was interrupted or the file was deleted`, fix };
  return { binary };
}

async function main() {
  const electron = electronRuntime(REPO);
  if (electron.binary) {
    await ensureAppBuilt();
    const child = spawn(electron.binary, ['.', ...process.argv.slice(2)], { cwd: REPO, stdio: 'inherit' });
    child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
    for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => child.kill(s));
    return;
  }
  console.error(`Cache Admin: no desktop window. ${electron.missing}.\n  To install it: ${electron.fix}\n  Starting the browser bridge instead.`);
  // `npm run web` in this process: the bridge reads its options from process.argv, this command's.
  await import('./web.mjs');
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) await main();
