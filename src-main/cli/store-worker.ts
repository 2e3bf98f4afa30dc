// A worker thread of a bulk `store` (see StorePool): stores the batches of files it is sent.
import { parentPort, workerData } from 'node:worker_threads';
import { openStore } from '../core/open-store';
import { type FileToStore, LOCAL_SMALL_FILES, type StoreWorkerConfig, type WireOutcome, storeFiles, toWire } from './store-files';

const config = workerData as StoreWorkerConfig;
const { format } = await openStore({ kind: 'local', dir: config.dir, blockingIo: true }, { format: config.format, maxEntryBytes: config.maxEntryBytes });
const choice = { as: config.as, options: config.options };

parentPort!.on('message', (batch: FileToStore[]) => {
  const outcomes: WireOutcome[] = [];
  void storeFiles(format, config.ns, choice, batch, (file, outcome) => outcomes.push(toWire(file, outcome)), { small: LOCAL_SMALL_FILES }).then(() => parentPort!.postMessage(outcomes));
});
