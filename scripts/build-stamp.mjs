// Builds that are reused only while every file they read is byte for byte what they were built from:
// a digest of those files is stamped beside the output after a build and compared before each run.
// Content, not modification times, decides: a touch or a checkout back and forth rebuilds nothing, and
// an edit, a new or deleted file, or a file with an older time (tar, cp -p) always rebuilds.
// Reading every source costs each start ~15 ms, so the stamp also keeps what `stat` said of them when
// they were last read: while that is unchanged, so is their content (see statSignature).
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import * as path from 'node:path';

const isTest = (name) => /\.test\.[^.]+$/.test(name);

/** The repository's top-level files (configuration, package.json and its lock), Markdown aside. */
export function topLevelFiles(root) {
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.endsWith('.md'))
    .map((e) => e.name);
}

/** SHA-256 over each input's path and bytes; folders are read recursively, test files left out. */
export function sourceDigest(root, inputs) {
  const hash = createHash('sha256');
  const add = (rel) => {
    const full = path.join(root, rel);
    if (!existsSync(full)) return void hash.update(`${rel}\0absent\0`);
    if (statSync(full).isDirectory()) {
      for (const name of readdirSync(full).sort()) if (!isTest(name)) add(path.join(rel, name));
    } else {
      const bytes = readFileSync(full);
      hash.update(`${rel}\0${bytes.length}\0`).update(bytes);
    }
  };
  for (const rel of [...inputs].sort()) add(rel);
  return hash.digest('hex');
}

/** Each input's size, times and inode, and each folder's names, read without opening a file. */
function statSignature(root, inputs) {
  const hash = createHash('sha256');
  let newestChange = 0;
  const add = (rel) => {
    const stats = statSync(path.join(root, rel), { throwIfNoEntry: false });
    if (!stats) return void hash.update(`${rel}\0absent\0`);
    if (stats.isDirectory()) {
      for (const name of readdirSync(path.join(root, rel)).sort()) if (!isTest(name)) add(path.join(rel, name));
      return;
    }
    hash.update(`${rel}\0${stats.size}\0${stats.mtimeMs}\0${stats.ctimeMs}\0${stats.ino}\0`);
    newestChange = Math.max(newestChange, stats.ctimeMs);
  };
  for (const rel of [...inputs].sort()) add(rel);
  return { hash: hash.digest('hex'), newestChange };
}

/**
 * Any write to a file sets its change time (ctime) to the clock's time then, and nothing can set it
 * back (utimes, tar and cp -p set only the modification time). So once every input's ctime is
 * older than the moment their stats were taken, less a margin for coarse clocks and file systems
 * (FAT keeps 2 s), later edits show in the stats. Inputs changed more recently than that are read
 * again on each start until they are old enough.
 */
const CLOCK_MARGIN_MS = 3000;

function signatureIfSettled(root, inputs, takenAt, margin) {
  const { hash, newestChange } = statSignature(root, inputs);
  return newestChange < takenAt - margin ? hash : null;
}

function readStamp(file) {
  try {
    const { digest, signature = null } = JSON.parse(readFileSync(file, 'utf8'));
    return { digest, signature };
  } catch {
    return null;
  }
}

/** Written whole or not at all: starts read it while others may be writing it. */
function writeStamp(file, stamp) {
  const temp = `${file}.${randomUUID()}`;
  writeFileSync(temp, JSON.stringify(stamp) + '\n');
  renameSync(temp, file);
}

function holderAlive(lock) {
  try {
    process.kill(Number(readFileSync(lock, 'utf8')), 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Runs fn holding `lock` (a file naming its holder's pid); a lock left by a dead process is taken over. */
async function withLock(lock, fn) {
  // The pid is written first and linked into place, so the lock never exists without its holder.
  const mine = `${lock}.${randomUUID()}`;
  writeFileSync(mine, String(process.pid));
  try {
    for (;;) {
      try {
        linkSync(mine, lock);
        break;
      } catch (err) {
        if (err.code !== 'EEXIST') throw err;
      }
      if (holderAlive(lock)) await sleep(100);
      else rmSync(lock, { force: true });
    }
  } finally {
    rmSync(mine, { force: true });
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/**
 * Runs `build` unless the last build's stamp matches the digest of `inputs` and every one of
 * `outputs` exists (all paths relative to root). One build at a time per name; returns whether it
 * built. `clockMargin` is for tests only (see CLOCK_MARGIN_MS).
 */
export async function buildIfStale({ root, name, inputs, outputs, build, clockMargin = CLOCK_MARGIN_MS }) {
  const stampDir = path.join(root, 'out/.stamps');
  const stamp = path.join(stampDir, `${name}.json`);
  const outputsExist = () => outputs.every((o) => existsSync(path.join(root, o)));
  // Stats taken before the content is read: an edit between the two shows as a recent change.
  const examine = () => {
    const takenAt = Date.now();
    const signature = signatureIfSettled(root, inputs, takenAt, clockMargin);
    return { signature, digest: sourceDigest(root, inputs) };
  };
  const stamped = readStamp(stamp);
  if (stamped?.signature && outputsExist() && statSignature(root, inputs).hash === stamped.signature) return false;
  const now = examine();
  if (stamped?.digest === now.digest && outputsExist()) {
    if (now.signature) writeStamp(stamp, now); // the next start need not read the sources
    return false;
  }
  mkdirSync(stampDir, { recursive: true });
  return withLock(path.join(stampDir, `${name}.lock`), async () => {
    // Taken before the build reads anything: a source edited during the build leaves the stamp behind it.
    const before = examine();
    if (readStamp(stamp)?.digest === before.digest && outputsExist()) return false; // built by another start while this one waited
    rmSync(stamp, { force: true }); // an interrupted or failed build must not pass for a finished one
    await build();
    writeStamp(stamp, before);
    return true;
  });
}

/** Bundles TypeScript entry points for Node with esbuild (dependencies stay in node_modules). */
export async function bundleForNode(root, entryPoints, outdir) {
  const { build, stop } = await import('esbuild');
  const { metafile } = await build({
    entryPoints,
    outdir,
    bundle: true,
    // zod and mime (ES modules) are bundled in: one file to load, not dozens to resolve (the CLI
    // starts ~25 ms sooner). The AWS SDK stays in node_modules, loaded only by S3 runs (the split
    // chunk), and so does tar-stream: CommonJS requiring Node's modules, which an ES bundle cannot.
    external: ['@aws-sdk/*', '@smithy/*', 'tar-stream'],
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    absWorkingDir: root,
    metafile: true,
  }).finally(stop); // its service process would otherwise live as long as the app started after it
  // Chunks are named by their content, so each change leaves the previous ones unused: drop them.
  const current = new Set(Object.keys(metafile.outputs).map((file) => path.resolve(root, file)));
  for (const name of readdirSync(outdir)) {
    if (!current.has(path.join(outdir, name))) rmSync(path.join(outdir, name), { force: true });
  }
}
