import { setImmediate } from 'node:timers/promises';

/**
 * For loops of direct (synchronous) file system calls, which never let the event loop turn: the
 * function returned yields one turn once `everyMs` has passed since the last, so a Ctrl+C, a timer
 * or a message is seen within that time at no cost worth measuring.
 */
export function turnTaker(everyMs = 50): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last < everyMs) return;
    await setImmediate();
    last = performance.now();
  };
}
