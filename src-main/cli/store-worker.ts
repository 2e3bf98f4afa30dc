// A worker thread of a bulk `store` (see storeInWorkers): stores the batches of files it is sent.
import { parentPort, workerData } from 'node:worker_threads';
import { openCache } from '../core/open-store';
import { type FileToStore, LOCAL_SMALL_FILES, type StoreWorkerConfig, type WireOutcome, storeFiles, toWire } from './store-files';

const config = workerData as StoreWorkerConfig;
const cache = await openCache({ kind: 'local', dir: config.dir, blockingIo: true }, { maxEntryBytes: config.maxEntryBytes });

parentPort!.on('message', (batch: FileToStore[]) => {
  const outcomes: WireOutcome[] = [];
  void storeFiles(cache, config.ns, config.as, batch, (file, outcome) => outcomes.push(toWire(file, outcome)), { small: LOCAL_SMALL_FILES }).then(() => parentPort!.postMessage(outcomes));
});
