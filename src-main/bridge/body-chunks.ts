import { CacheError } from '../../src-shared/errors';

/** Why a request body whose client sends nothing for `idleMs` fails: nothing of it is stored. */
export function uploadStalled(idleMs: number): CacheError {
  return new CacheError('invalid_input', `the upload stalled: nothing arrived for ${idleMs / 1000} s, so it was stopped and nothing was stored`);
}

/**
 * The next chunk of a request body read off Node's parser (the plain upload path counts the same
 * way with its socket's timer, in Connection.fill). Fails with uploadStalled when the client
 * sends nothing for `idleMs` while the chunk is awaited (time the store spends between reads does
 * not count), or with `cancel.error()` once `cancel.signal` aborts, so a cancel never waits for a
 * client that stopped sending. Holds nothing once settled: a long body adds no listener per chunk.
 */
export function nextChunk<T>(chunks: AsyncIterator<T>, idleMs: number, cancel?: { signal: AbortSignal; error: () => Error }): Promise<IteratorResult<T>> {
  return new Promise((resolve, reject) => {
    const settle = (err: unknown, result?: IteratorResult<T>) => {
      clearTimeout(timer);
      cancel?.signal.removeEventListener('abort', onAbort);
      if (err === undefined) resolve(result!);
      else reject(err);
    };
    const onAbort = () => settle(cancel!.error());
    const timer = setTimeout(() => settle(uploadStalled(idleMs)), idleMs).unref();
    if (cancel?.signal.aborted) return onAbort();
    cancel?.signal.addEventListener('abort', onAbort, { once: true });
    chunks.next().then(
      (result) => settle(undefined, result),
      (err: unknown) => settle(err ?? new Error('the request body failed')),
    );
  });
}

/** A request body's chunks, each awaited within `idleMs` and until `cancel` (nextChunk). */
export async function* idleLimited<T>(chunks: AsyncIterable<T>, idleMs: number, cancel?: { signal: AbortSignal; error: () => Error }): AsyncIterable<T> {
  const iterator = chunks[Symbol.asyncIterator]();
  try {
    for (let next = await nextChunk(iterator, idleMs, cancel); !next.done; next = await nextChunk(iterator, idleMs, cancel)) yield next.value;
  } finally {
    // Not awaited: after a stall, a return waits behind the read still pending, which may never end.
    iterator.return?.().catch(() => undefined);
  }
}
