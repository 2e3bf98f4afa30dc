import type { Dirent } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { CacheError } from '../../../src-shared/errors';

/** Keys per message from a walking thread: a few MB of strings. */
const KEYS_PER_MESSAGE = 50_000;

/**
 * What listings leave out: dot files (temp files) anywhere and dot names at the store's root
 * (`.staging`, the space reserve). A dot folder deeper down is a key's folder: the service's cache
 * keys may name one (`example.com/.well-known/…`). Also names no key can have (`café.txt`, a name
 * that is not UTF-8): a file someone put there is no part of the store, and would fail every
 * listing that came to it.
 */
export function isHidden(name: string, isDir: boolean, atRoot: boolean): boolean {
  return (name.startsWith('.') && (atRoot || !isDir)) || isStrayName(name);
}

/** A name no key can have, which no listing shows (a dot name is the store's own or a key's folder). */
export function isStrayName(name: string): boolean {
  return !KEY_NAME.test(name) && !name.startsWith('.');
}

/** The characters of a key's segment as any layout writes or the service's paths hold (src-shared/keys.ts). */
const KEY_NAME = /^[A-Za-z0-9_.~%!*'()+= \\-]+$/;
/**
 * Keys handed to a walk's visitor at a time, each batch in its own turn of the event loop. The
 * visitor classifies every key (~15 µs each): a message's 50,000 at once held the app's main
 * process, and every request to it, for up to 2 s while a big namespace was counted; a batch of
 * 500 holds it for a few ms, and a small store meanwhile waits for its file system calls no longer.
 */
export const KEYS_PER_VISIT = 500;

/**
 * The walking threads' code, plain JavaScript so it runs the same from the sources, the bundles
 * and the tests. A request names folders and which of their top entries to take; the answer is
 * every file below them as a key (folder names joined by "/"), in batches of KEYS_PER_MESSAGE (a
 * huge namespace never sits in memory whole), skipping what listings skip (isHidden) and anything
 * neither a file nor a folder. A folder gone meanwhile holds nothing; any other error is sent back
 * with its code.
 */
const WALK_THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { readdirSync } = require('node:fs');
parentPort.on('message', ({ id, roots }) => {
  let keys = [];
  const walk = (dir, key, filter) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return;
      throw err;
    }
    for (const e of entries) {
      if ((e.name.startsWith('.') && (key === '' || !e.isDirectory())) || !${KEY_NAME}.test(e.name) || !e.name.startsWith(filter)) continue; // isHidden
      if (e.isDirectory()) walk(dir + '/' + e.name, key + e.name + '/', '');
      else if (e.isFile() && keys.push(key + e.name) >= ${KEYS_PER_MESSAGE}) {
        parentPort.postMessage({ id, keys });
        keys = [];
      }
    }
  };
  try {
    for (const { dir, key, filter } of roots) walk(dir, key, filter);
    parentPort.postMessage({ id, keys, done: true });
  } catch (err) {
    parentPort.postMessage({ id, error: { code: err.code, message: err.message } });
  }
});`;

type WalkMessage = { id: number; keys?: string[]; done?: boolean; error?: { code?: string; message: string } };
type Pending = { visit: (keys: string[]) => void; resolve: () => void; reject: (err: unknown) => void };

/**
 * Threads that walk folder trees with direct system calls and send back their keys in a few big
 * messages, for counts over a whole namespace (100,000 entries: ~50,000 folders, 500,000 names).
 * Through the thread pool every folder was a round trip and its names were turned into JS values
 * on the main thread; here the main thread only receives the result. One thread per core, each
 * started on first use and never keeping the process alive on its own.
 */
class WalkThreads {
  private readonly threads: { worker: Worker; pending: Map<number, Pending> }[] = [];
  private lastId = 0;

  readonly size = Math.max(1, os.availableParallelism());

  walk(roots: Root[], visit: (keys: string[]) => void): Promise<void> {
    const thread = this.leastBusy();
    const id = ++this.lastId;
    return new Promise((resolve, reject) => {
      if (thread.pending.size === 0) thread.worker.ref(); // a walk in flight keeps the process alive
      thread.pending.set(id, { visit, resolve, reject });
      thread.worker.postMessage({ id, roots });
    });
  }

  private leastBusy() {
    if (this.threads.length < this.size && this.threads.every((t) => t.pending.size > 0)) return this.start();
    return this.threads.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
  }

  private start() {
    const worker = new Worker(WALK_THREAD_SOURCE, { eval: true });
    const thread = { worker, pending: new Map<number, Pending>() };
    this.threads.push(thread);
    worker.unref();
    const settle = (id: number) => {
      const waiter = thread.pending.get(id);
      thread.pending.delete(id);
      if (thread.pending.size === 0) worker.unref();
      return waiter;
    };
    // Messages are delivered one after another, each visited in batches between other work.
    let delivered = Promise.resolve();
    worker.on('message', (message: WalkMessage) => {
      delivered = delivered.then(() => deliver(message));
    });
    const deliver = async ({ id, keys = [], done, error }: WalkMessage) => {
      for (let at = 0; at < keys.length; at += KEYS_PER_VISIT) {
        await nextTurn();
        const waiter = thread.pending.get(id);
        if (!waiter) return; // failed already: the rest of its keys go unvisited
        try {
          waiter.visit(keys.slice(at, at + KEYS_PER_VISIT));
        } catch (err) {
          settle(id);
          return waiter.reject(err);
        }
      }
      if (error) settle(id)?.reject(Object.assign(new Error(error.message), { code: error.code }));
      else if (done) settle(id)?.resolve();
    };
    const gone = (err: unknown) => {
      const at = this.threads.indexOf(thread);
      if (at < 0) return; // an error, then its exit
      this.threads.splice(at, 1);
      const failure = new CacheError('internal', `a folder-walking thread stopped: ${(err as Error)?.message ?? String(err)}`);
      for (const id of [...thread.pending.keys()]) settle(id)?.reject(failure);
    };
    worker.on('error', gone);
    worker.on('exit', (code) => gone(new Error(`exit code ${code}`)));
    return thread;
  }
}

/** A folder to walk: its path, the key its entries' keys start with, and the start of the names to take. */
interface Root {
  dir: string;
  key: string;
  filter: string;
}

/** A tree is split into at least this many subtrees per thread (from its top two levels), so one big namespace walks on every core. */
const SUBTREES_PER_THREAD = 8;
/** Walks per thread for one tree: each a message with a share of the subtrees. */
const WALKS_PER_THREAD = 2;

let threads: WalkThreads | null = null;

/**
 * Visits every file below the entries of folder `dir` whose names start with `filter`, as keys that
 * start with `key`, a batch at a time in no particular order. The top levels are read here (a few
 * thread-pool trips) and their subtrees shared out among the threads.
 */
export async function walkFolder(dir: string, key: string, filter: string, visit: (keys: string[]) => void): Promise<void> {
  threads ??= new WalkThreads();
  const keys: string[] = [];
  let roots: Root[] = [{ dir, key, filter }];
  for (let depth = 0; depth < 2 && roots.length < threads.size * SUBTREES_PER_THREAD; depth++) {
    const next: Root[] = [];
    for (const root of roots) {
      for (const e of await readdirOrNothing(root.dir)) {
        if (isHidden(e.name, e.isDirectory(), root.key === '') || !e.name.startsWith(root.filter)) continue;
        if (e.isDirectory()) next.push({ dir: `${root.dir}/${e.name}`, key: `${root.key}${e.name}/`, filter: '' });
        else if (e.isFile()) keys.push(root.key + e.name);
      }
    }
    roots = next;
  }
  const shares = Math.min(roots.length, threads.size * WALKS_PER_THREAD);
  if (keys.length > 0) visit(keys);
  await Promise.all(Array.from({ length: shares }, (_, i) => threads!.walk(roots.filter((_, j) => j % shares === i), visit)));
}

/** A folder's entries; none when it is gone (or is not a folder), as a listing sees it. */
async function readdirOrNothing(dir: string): Promise<Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}
