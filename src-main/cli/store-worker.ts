// A worker thread of a StorePool (CLI folder stores, the app's drops): stores the jobs it is sent.
import { parentPort, workerData } from 'node:worker_threads';
import { openStore } from '../core/open-store';
import { type ContentToStore, type FileOutcome, LOCAL_SMALL_FILES, type PoolReply, type PoolRequest, type StoreWorkerConfig, type WireContent, type WireOutcome, contentOfFile, storeContents, toWire } from './store-files';

const config = workerData as StoreWorkerConfig;
const { format } = await openStore({ kind: 'local', dir: config.dir, blockingIo: true }, { format: config.format, maxEntryBytes: config.maxEntryBytes });
const port = parentPort!;
const running = new Map<number, AbortController>();
const reply = (message: PoolReply) => port.postMessage(message);

function contentOf(c: WireContent): ContentToStore<number> {
  return 'path' in c ? contentOfFile(c.index, c.path, c.name) : { item: c.index, source: { kind: 'bytes', bytes: c.bytes }, name: c.name, size: c.bytes.byteLength };
}

port.on('message', (request: PoolRequest) => {
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
