// Raise libuv's pool before the first fs call: bulk stores keep many small writes and fsyncs in flight.
process.env.UV_THREADPOOL_SIZE ??= '16';

import { runCli } from './cli';

runCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
);
