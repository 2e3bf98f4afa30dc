/** Row 9: `npm start` to its URL, warm (nothing changed since the last start) and cold (a full build). */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { topLevelFiles } from '../scripts/build-stamp.mjs';
import { electronRuntime } from '../scripts/start.mjs';
import { type BenchRow, median, timeCommand } from './harness';
import type { BenchOptions } from './run';

const REPO = path.resolve(import.meta.dirname, '..');
const TARGET_MS = 1500;

/** The sources the app is built from, copied, with the repository's node_modules: cold starts leave its out/ alone. */
async function copySources(dest: string): Promise<void> {
  for (const name of ['src-main', 'src-shared', 'src-renderer', 'scripts', ...topLevelFiles(REPO)]) {
    await fs.cp(path.join(REPO, name), path.join(dest, name), { recursive: true });
  }
  await fs.symlink(path.join(REPO, 'node_modules'), path.join(dest, 'node_modules'));
}

/** Runs `npm <script>` on a memory store until the bridge answers at the URL it prints, then stops it. */
async function timeToUrl(cwd: string, script: string): Promise<{ ms: number; built: boolean }> {
  const started = performance.now();
  const child = spawn('npm', ['run', '--silent', script, '--', '--memory', '--port', '0'], {
    cwd,
    env: { ...process.env, XDG_CONFIG_HOME: path.join(cwd, '.config') },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // npm and the node under it stop together
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        const match = /http:\/\/127\.0\.0\.1:\d+\/\?token=\S+/.exec(stdout);
        if (match) resolve(match[0]);
      });
      child.on('exit', (code) => reject(new Error(`npm run ${script} exited ${code}: ${stderr.slice(0, 500)}`)));
    });
    const response = await fetch(url, { redirect: 'manual' });
    const ms = performance.now() - started;
    if (response.status >= 400) throw new Error(`${url} answered ${response.status}`);
    return { ms, built: stderr.includes('building the app') };
  } finally {
    if (child.exitCode === null) {
      process.kill(-child.pid!, 'SIGTERM');
      await once(child, 'exit');
    }
  }
}

export async function benchStart(o: BenchOptions): Promise<BenchRow> {
  const copy = path.join(o.work, 'start-repo');
  await copySources(copy);
  // Where Electron is installed `npm start` opens a window; `npm run web` is the same start to a URL.
  const script = electronRuntime(copy).binary ? 'web' : 'start';
  const cold: number[] = [];
  const warm: number[] = [];
  // What any `npm start` pays before our code runs, measured alongside: npm's start and Node's.
  const npmAlone: number[] = [];
  const bareNode: number[] = [];
  let warmBuilt = false;
  for (let run = 0; run < o.runs; run++) {
    await fs.rm(path.join(copy, 'out'), { recursive: true, force: true });
    cold.push((await timeToUrl(copy, script)).ms);
    for (let i = 0; i < 2; i++) {
      const start = await timeToUrl(copy, script);
      warm.push(start.ms);
      warmBuilt ||= start.built;
    }
    npmAlone.push(await timeCommand('npm', ['run', '--silent'], { cwd: copy })); // lists the scripts, runs none
    bareNode.push(await timeCommand(process.execPath, ['-e', '0']));
  }
  const ms = median(warm);
  return {
    name: `npm ${script === 'start' ? 'start (no Electron here: the bridge)' : 'run web'} to a URL that answers, warm (nothing changed) and cold (first start: full build)`,
    ours: `warm ${ms.toFixed(0)} ms, cold ${median(cold).toFixed(0)} ms${warmBuilt ? ' (a warm start rebuilt the app)' : ''}`,
    reference: `target ${TARGET_MS} ms warm; in the same run, npm alone (npm run, listing the scripts) ${median(npmAlone).toFixed(0)} ms, node -e 0 ${median(bareNode).toFixed(0)} ms`,
    ratio: ms / TARGET_MS,
    target: `warm <= ${TARGET_MS} ms, no rebuild`,
    pass: ms <= TARGET_MS && !warmBuilt,
  };
}
