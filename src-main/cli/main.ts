// Raise libuv's pool before the first fs call: bulk stores keep many small writes and fsyncs in flight.
process.env.UV_THREADPOOL_SIZE ??= '16';

import { fstatSync } from 'node:fs';
import { runCli } from './cli';
import { isNullDevice, storeWorkerBeside } from './store-files';

// The bundle (scripts/build-cli.mjs) has store-worker.js beside this file. Run from the sources
// (tsx), there is no worker script, and bulk stores run in this thread.
const storeWorker = storeWorkerBeside(import.meta.url);

/** `store -` with stdin closed would store empty content: Node puts /dev/null in its place. */
let stdinIsNull = false;
try {
  stdinIsNull = isNullDevice(fstatSync(0));
} catch {
  // no descriptor 0 at all (a detached process on Windows): nothing to read, nothing stored by mistake
}

runCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, storeWorker, stdinIsNull }).then(
  (code) => {
    process.exitCode = code;
  },
);
