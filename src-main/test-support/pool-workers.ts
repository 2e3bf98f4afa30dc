// Store workers for tests of the worker path (StorePool, Drops): the real one, built with the CLI by
// the test setup, and a stand-in that crashes on a chosen file.
import { pathToFileURL } from 'node:url';
import { CLI_BUNDLE } from '../../scripts/build-cli.mjs';
import { storeWorkerBeside } from '../cli/store-files';

/** out/cli/store-worker.js, the worker the CLI, the bridge and Electron main run (vitest.global-setup.ts builds it). */
export const BUILT_STORE_WORKER = storeWorkerBeside(pathToFileURL(CLI_BUNDLE).href)!;

/**
 * Speaks the pool's protocol (PoolRequest / PoolReply) without storing anything: reports each
 * content as stored, except in a job holding a file named `crash`, where it reports the job's first
 * content and then the thread dies (exit code 3) before reporting the rest.
 */
export const CRASHING_STORE_WORKER = new URL(
  `data:text/javascript,${encodeURIComponent(`
import { parentPort } from 'node:worker_threads';
const stored = (c) => ({ index: c.index, result: { source: c.name, size: 1 } });
parentPort.on('message', (r) => {
  if (r.type !== 'store') return;
  if (!r.contents.some((c) => c.name === 'crash')) return parentPort.postMessage({ type: 'outcomes', job: r.job, outcomes: r.contents.map(stored), done: true });
  parentPort.postMessage({ type: 'outcomes', job: r.job, outcomes: [stored(r.contents[0])], done: false });
  setTimeout(() => process.exit(3), 50);
});
parentPort.postMessage({ type: 'ready' });
`)}`,
);
