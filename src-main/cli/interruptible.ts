import { setMaxListeners } from 'node:events';

/** The signal that stopped the last interruptible task, for the exit code a shell expects (128 + its number). */
let stoppedBy: 'SIGINT' | 'SIGTERM' | null = null;
export const stopSignal = () => stoppedBy;

/** Runs `task` with a signal that Ctrl+C (or TERM) aborts, and `onStop` then; a second one kills, as usual. */
export async function interruptible<T>(task: (signal: AbortSignal) => Promise<T>, onStop?: () => void): Promise<T> {
  const controller = new AbortController();
  stoppedBy = null;
  // Every request of the command listens to it (a folder into S3: dozens at once); that is no leak.
  setMaxListeners(0, controller.signal);
  const stop = (signal: 'SIGINT' | 'SIGTERM') => {
    stoppedBy = signal;
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
