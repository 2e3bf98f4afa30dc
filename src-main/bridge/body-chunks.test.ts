import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { idleLimited, nextChunk } from './body-chunks';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('request body chunks, each awaited within the idle limit', () => {
  it('counts only the wait for a chunk: a consumer that pauses longer than the limit between reads is not cut off', async () => {
    async function* client() {
      yield 'a';
      yield 'b'; // there as soon as asked for
    }
    const got: string[] = [];
    for await (const chunk of idleLimited(client(), 100)) {
      got.push(chunk);
      await sleep(300); // the store busy writing
    }
    expect(got).toEqual(['a', 'b']);
  });

  it('a client that sends nothing for the limit while a chunk is awaited has stalled', async () => {
    async function* client() {
      yield 'a';
      await new Promise(() => {}); // never sends again
    }
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of idleLimited(client(), 100)) got.push(chunk);
      })(),
    ).rejects.toThrow('the upload stalled: nothing arrived for 0.1 s');
    expect(got).toEqual(['a']);
  });

  it('a cancel ends the wait at once with its own error, and a long body leaves no listener behind', async () => {
    const cancel = new AbortController();
    const error = () => new Error('cancelled before it was stored');
    let n = 0;
    const many: AsyncIterator<number> = { next: async () => (n < 10_000 ? { value: n++, done: false } : { value: undefined, done: true }) };
    for (let next = await nextChunk(many, 60_000, { signal: cancel.signal, error }); !next.done; next = await nextChunk(many, 60_000, { signal: cancel.signal, error }));
    expect(getEventListeners(cancel.signal, 'abort')).toHaveLength(0);
    const silent: AsyncIterator<number> = { next: () => new Promise(() => {}) };
    const waiting = nextChunk(silent, 60_000, { signal: cancel.signal, error });
    cancel.abort();
    await expect(waiting).rejects.toThrow('cancelled before it was stored');
  });
});
