// A worker thread of a StorePool (CLI folder stores, the app's drops): stores the jobs it is sent.
import { parentPort, workerData } from 'node:worker_threads';
import { openStore } from '../core/open-store';
import { type ContentToStore, type FileOutcome, LOCAL_SMALL_FILES, type PoolReply, type PoolRequest, type StoreWorkerConfig, type WireContent, type WireOutcome, asCacheError, contentOfFile, storeContents, toWire } from './store-files';

const config = workerData as StoreWorkerConfig;
const { format } = await openStore({ kind: 'local', dir: config.dir, blockingIo: true, knownRoot: config.knownRoot }, { format: config.format, maxEntryBytes: config.maxEntryBytes });
const port = parentPort!;
const running = new Map<number, AbortController>();
const reply = (message: PoolReply) => port.postMessage(message);

function contentOf(c: WireContent): ContentToStore<number> {
  return 'path' in c ? contentOfFile(c.index, c.path, c.name) : { item: c.index, source: { kind: 'bytes', bytes: c.bytes }, name: c.name, size: c.bytes.byteLength };
}

/** Verify progress goes out at most this often: the app's bar moves, and 100,000 entries are not 100,000 messages. */
const PROGRESS_MS = 100;

async function verify({ options, cancel }: Extract<PoolRequest, { type: 'verify' }>): Promise<void> {
  const controller = new AbortController();
  const cancelled = () => Atomics.load(cancel, 0) === 1;
  // Read between entries (direct calls may never yield) and on a timer (a big entry streams for a while).
  const poll = setInterval(() => cancelled() && controller.abort(), PROGRESS_MS);
  let sent = 0;
  try {
    const report = await format.verify({
      ...options,
      signal: controller.signal,
      onProgress: ({ checked, listed, rehashing }) => {
        if (cancelled()) controller.abort();
        const now = performance.now();
        if (now - sent < PROGRESS_MS) return;
        sent = now;
        reply({ type: 'verify-progress', checked, listed, ...(rehashing && { rehashing }) });
      },
    });
    reply({ type: 'verified', report });
  } catch (err) {
    // The formats say what a cancelled verify had done (verifyCancelled).
    reply({ type: 'verify-failed', error: asCacheError(err).toInfo() });
  } finally {
    clearInterval(poll);
  }
}

port.on('message', (request: PoolRequest) => {
  if (request.type === 'verify') return void verify(request);
  if (request.type === 'abort') return void running.get(request.job)?.abort();
  const { job } = request;
  const controller = new AbortController();
  running.set(job, controller);
  // Outcomes go out as each group of stores ends, not one message per file: the drop's progress moves, and a crash loses little.
  let outcomes: WireOutcome[] = [];
  const send = (done: boolean) => {
    if (outcomes.length || done) reply({ type: 'outcomes', job, outcomes, done });
    outcomes = [];
  };
  const onOutcome = (index: number, outcome: FileOutcome) => {
    if (outcomes.push(toWire(index, outcome)) === 1) setImmediate(() => send(false));
  };
  void storeContents(format, request.ns, request.choice, request.contents.map(contentOf), onOutcome, { small: LOCAL_SMALL_FILES, signal: controller.signal }).then(() => {
    running.delete(job);
    send(true);
  });
});
reply({ type: 'ready' });
