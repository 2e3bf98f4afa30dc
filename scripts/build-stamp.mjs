// Builds that are reused only while every file they read is byte for byte what they were built from:
// a digest of those files is stamped beside the output after a build and compared before each run.
// Content, not modification times, decides: a touch or a checkout back and forth rebuilds nothing, and
// an edit, a new or deleted file, or a file with an older time (tar, cp -p) always rebuilds.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

function readStamp(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8')).digest;
  } catch {
    return null;
  }
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
 * `outputs` exists (all paths relative to root). One build at a time per name; returns whether it built.
 */
export async function buildIfStale({ root, name, inputs, outputs, build }) {
  const stampDir = path.join(root, 'out/.stamps');
  const stamp = path.join(stampDir, `${name}.json`);
  const upToDate = (digest) => readStamp(stamp) === digest && outputs.every((o) => existsSync(path.join(root, o)));
  if (upToDate(sourceDigest(root, inputs))) return false;
  mkdirSync(stampDir, { recursive: true });
  return withLock(path.join(stampDir, `${name}.lock`), async () => {
    // Taken before the build reads anything: a source edited during the build leaves the stamp behind it.
    const digest = sourceDigest(root, inputs);
    if (upToDate(digest)) return false; // built by another start while this one waited
    rmSync(stamp, { force: true }); // an interrupted or failed build must not pass for a finished one
    await build();
    writeFileSync(stamp, JSON.stringify({ digest }) + '\n');
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
