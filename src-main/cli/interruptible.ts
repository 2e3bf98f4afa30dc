import { setMaxListeners } from 'node:events';

/** Runs `task` with a signal that Ctrl+C (or TERM) aborts, and `onStop` then; a second one kills, as usual. */
export async function interruptible<T>(task: (signal: AbortSignal) => Promise<T>, onStop?: () => void): Promise<T> {
  const controller = new AbortController();
  // Every request of the command listens to it (a folder into S3: dozens at once); that is no leak.
  setMaxListeners(0, controller.signal);
  const stop = () => {
    controller.abort();
    onStop?.();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await task(controller.signal);
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}
