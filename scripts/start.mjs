// `npm start`: the Electron app on the default local-folder store, or, where no Electron runtime is
// installed (it is an optional dependency), the same app in a browser through the loopback bridge.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function electronBinary() {
  try {
    // The electron package exports the path of its binary.
    const binary = createRequire(import.meta.url)('electron');
    return typeof binary === 'string' && existsSync(binary) ? binary : null;
  } catch {
    return null;
  }
}

function run(command, args) {
  const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
  child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
  for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => child.kill(s));
}

const binary = electronBinary();
if (binary) {
  run(binary, ['.', ...process.argv.slice(2)]);
} else {
  console.log('Cache Admin: no Electron runtime is installed here; starting the browser bridge instead.');
  run(process.execPath, ['--import', 'tsx', path.join(root, 'src-main/bridge/main.ts'), ...process.argv.slice(2)]);
}
