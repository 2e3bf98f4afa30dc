// Builds that are reused only while every file they read is byte for byte what they were built from:
// a digest of those files is stamped beside the output after a build and compared before each run.
// Content, not modification times, decides: a touch or a checkout back and forth rebuilds nothing, and
// an edit, a new or deleted file, or a file with an older time (tar, cp -p) always rebuilds. What stat
// says of each file (size, inode, change time, which every write sets and no tool sets back) is
// stamped too: while it is unchanged, no file is read (a CLI start then checks in 2 ms, not 12).
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

/** Change times this recent may not tell two writes apart (one clock tick holds several): such a look is not stamped (git's "racily clean"). */
const SETTLED_MS = 2000;

/**
 * Each input's path, size, inode and change time, hashed: the same while no input was written,
 * added, removed or replaced. Null while an input changed in the last SETTLED_MS.
 */
function statSignature(root, inputs) {
  const hash = createHash('sha256');
  let newest = 0n;
  const add = (rel) => {
    const full = path.join(root, rel);
    const stats = statSync(full, { bigint: true, throwIfNoEntry: false });
    if (!stats) return void hash.update(`${rel}\0absent\0`);
    if (stats.isDirectory()) {
      for (const name of readdirSync(full).sort()) if (!isTest(name)) add(path.join(rel, name));
      return;
    }
    if (stats.ctimeNs > newest) newest = stats.ctimeNs;
    hash.update(`${rel}\0${stats.size}\0${stats.ino}\0${stats.ctimeNs}\0`);
  };
  for (const rel of [...inputs].sort()) add(rel);
  return BigInt(Date.now()) * 1_000_000n - newest < BigInt(SETTLED_MS) * 1_000_000n ? null : hash.digest('hex');
}

/** The last build's stamp: its inputs' digest, and their signature when it was taken (or null). */
function readStamp(file) {
  try {
    const { digest, signature = null } = JSON.parse(readFileSync(file, 'utf8'));
    return { digest, signature };
  } catch {
    return { digest: null, signature: null };
  }
}

/** Written whole or not at all: several starts may stamp at once. */
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

/**
 * Runs fn holding `lock` (a file naming its holder's pid); a lock left by a dead process is taken over.
 * With `wait: false`, a lock held by a live process skips fn (resolves to undefined).
 */
async function withLock(lock, fn, { wait = true } = {}) {
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
      if (holderAlive(lock) && !wait) return undefined;
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
 * `outputs` exists (all paths relative to root). One build at a time per name; returns whether it built.
 */
export async function buildIfStale({ root, name, inputs, outputs, build }) {
  const stampDir = path.join(root, 'out/.stamps');
  const stamp = path.join(stampDir, `${name}.json`);
  /**
   * Whether the outputs are those of the inputs as they are, and the stamp that says so of them. The
   * signature is taken before the digest: a file written after it changes it.
   */
  const check = () => {
    const stamped = readStamp(stamp);
    const outputsThere = outputs.every((o) => existsSync(path.join(root, o)));
    const signature = statSignature(root, inputs);
    if (outputsThere && signature !== null && signature === stamped.signature) return { fresh: true, resign: false };
    const digest = sourceDigest(root, inputs);
    const fresh = outputsThere && digest === stamped.digest;
    return { fresh, resign: fresh && signature !== null, stamp: { digest, signature } };
  };
  const lock = path.join(stampDir, `${name}.lock`);
  const first = check();
  if (first.fresh) {
    // The same bytes written again (a checkout): stamped with what stat says now, so the next start reads none of them.
    // Best effort (a read-only checkout still starts), and never while a build runs (one that fails must not pass for done).
    if (first.resign) {
      await withLock(lock, () => {
        const again = check();
        if (again.resign) writeStamp(stamp, again.stamp);
      }, { wait: false }).catch(() => undefined);
    }
    return false;
  }
  mkdirSync(stampDir, { recursive: true });
  return withLock(lock, async () => {
    const stale = check();
    if (stale.fresh) return false; // built by another start while this one waited
    rmSync(stamp, { force: true }); // an interrupted or failed build must not pass for a finished one
    await build();
    writeStamp(stamp, stale.stamp);
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
