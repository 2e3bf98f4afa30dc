/**
 * SHA-256 on a worker thread, for content that streams in (bridge uploads, pipes): there the main
 * thread already spends a core receiving the bytes and gathering them into write buffers, and
 * hashing beside it, not after it, is what lets a big upload store at the disk's pace. Chunks in
 * shared memory (BufferRing) are hashed in place; any other chunk is copied once.
 */
import { Worker } from 'node:worker_threads';
import { CacheError } from '../../src-shared/errors';

// Plain CommonJS evaluated by the worker: no file to bundle beside the app, the CLI or the bridge.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', ({ job, chunk, end }) => {
  let hash = hashes.get(job);
  if (!hash) hashes.set(job, (hash = createHash('sha256')));
  if (chunk) hash.update(chunk);
  if (end === 'digest') hashes.delete(job), parentPort.postMessage({ job, digest: hash.digest('hex') });
  else if (end === 'drop') hashes.delete(job);
  else parentPort.postMessage({ job });
});
`;

interface Pending {
  resolve: (digest: string | undefined) => void;
  reject: (err: unknown) => void;
}

/** One worker per process, started on first use; it never keeps the process alive while idle. */
class HashThread {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true });
  /** Each job's answers, in the order its messages were sent (the worker answers in order). */
  private readonly pending = new Map<number, Pending[]>();
  private waiting = 0;

  constructor(onExit: () => void) {
    this.worker.on('message', ({ job, digest }: { job: number; digest?: string }) => {
      const queue = this.pending.get(job)!;
      queue.shift()!.resolve(digest);
      if (queue.length === 0) this.pending.delete(job);
      if (--this.waiting === 0) this.worker.unref();
    });
    const fail = (err: unknown) => {
      onExit();
      const error = new CacheError('internal', `the hashing thread stopped: ${err instanceof Error ? err.message : String(err)}`);
      for (const queue of this.pending.values()) for (const p of queue) p.reject(error);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(`exit code ${code}`));
    // After the listeners: adding a 'message' listener refs the worker's port again, and a process whose
    // only job failed before its first chunk (bad UTF-8 in `hash --as string`) then never exited.
    this.worker.unref();
  }

  send(job: number, chunk: Uint8Array | null, end?: 'digest' | 'drop'): Promise<string | undefined> {
    if (end === 'drop') {
      this.worker.postMessage({ job, chunk, end });
      return Promise.resolve(undefined);
    }
    return new Promise((resolve, reject) => {
      if (this.waiting++ === 0) this.worker.ref(); // an answer is awaited: the process must wait for it
      const queue = this.pending.get(job) ?? [];
      queue.push({ resolve, reject });
      this.pending.set(job, queue);
      this.worker.postMessage({ job, chunk, end });
    });
  }
}

let thread: HashThread | null = null;
let jobs = 0;

/** A SHA-256 computed on the hashing thread, chunk by chunk in the order given. */
export class WorkerHash {
  private readonly job = ++jobs;
  private readonly thread = (thread ??= new HashThread(() => (thread = null)));
  private last: Promise<unknown> = Promise.resolve();

  /** Queues `chunk`; resolves once it is hashed, after which its buffer may be reused. */
  update(chunk: Uint8Array): Promise<void> {
    const done = this.thread.send(this.job, chunk).then(() => undefined);
    this.last = done;
    return done;
  }

  /** The hex digest of every chunk queued. */
  async digest(): Promise<string> {
    await this.last;
    return (await this.thread.send(this.job, null, 'digest'))!;
  }

  /** Forgets a hash that will not be finished (a failed or cancelled store). */
  drop(): void {
    void this.thread.send(this.job, null, 'drop');
  }
}
