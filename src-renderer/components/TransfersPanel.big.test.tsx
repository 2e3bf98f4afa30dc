// @vitest-environment happy-dom
import { act, cleanup, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { HASH_FIRST_BELOW_BYTES } from '../state/store';
import { fakeClient, ok, renderWith } from '../test/render';
import { TransfersPanel } from './TransfersPanel';

afterEach(cleanup);

/** A dropped file that says it is `size` bytes (its bytes are never read here: main reads them). */
function sized(name: string, size: number): File {
  const file = new File([new Uint8Array(1)], name);
  Object.defineProperty(file, 'size', { value: size });
  return file;
}

describe('Transfers: one big file', () => {
  it('is read once: stored without a hash first, and the store says it was a new version of content already there', async () => {
    const { client, calls } = fakeClient({
      hashFile: () => ok({ hash: 'b94d27b9934d3e08', sha256: 'x', size: 1, existing: null }),
      storeFile: () => ok({ cache_id: 'b94d27b9934d3e08-v4', hash: 'b94d27b9934d3e08', version: 4, namespace: 'default', size: HASH_FIRST_BELOW_BYTES, source: 'disk.img', deduplicated: true, keys: [] }),
      namespaces: () => ok({ namespaces: [] }),
      entries: () => ok({ entries: [] }),
    });
    const { store } = renderWith(<TransfersPanel />, { client });
    store.getState().init();
    await act(() => store.getState().storeFiles([sized('disk.img', HASH_FIRST_BELOW_BYTES)]));
    await waitFor(() => expect(screen.getByText('new version v4 of content already stored')).toBeTruthy());
    expect(calls.filter((c) => c.method === 'hashFile' || c.method === 'storeFile').map((c) => c.method)).toEqual(['storeFile']);
  });

  it('a file just under the size is still hashed first, so the operator hears of a duplicate before it is stored', async () => {
    const { client, calls } = fakeClient({ hashFile: () => new Promise(() => {}) });
    const { store } = renderWith(<TransfersPanel />, { client });
    store.getState().init();
    await act(() => store.getState().storeFiles([sized('disk.img', HASH_FIRST_BELOW_BYTES - 1)]));
    await waitFor(() => expect(calls.some((c) => c.method === 'hashFile')).toBe(true));
    expect(calls.some((c) => c.method === 'storeFile')).toBe(false);
  });

  it('once every byte is read and the store still writes, it says so instead of a rate at 100%', async () => {
    const size = 2 * HASH_FIRST_BELOW_BYTES;
    const { client, calls, emit } = fakeClient({ storeFile: () => new Promise(() => {}) }); // still writing its copies
    const { store } = renderWith(<TransfersPanel />, { client });
    store.getState().init();
    await act(() => store.getState().storeFiles([sized('disk.img', size)]));
    await waitFor(() => expect(calls.some((c) => c.method === 'storeFile')).toBe(true));
    const { transferId } = calls.find((c) => c.method === 'storeFile')!.input as { transferId: string };
    act(() => emit({ type: 'progress', transferId, phase: 'store', bytesDone: size / 2, totalBytes: size }));
    await waitFor(() => expect(screen.getByText(/^Storing · .* · 50%/)).toBeTruthy());
    act(() => emit({ type: 'progress', transferId, phase: 'store', bytesDone: size, totalBytes: size }));
    await waitFor(() => expect(screen.getByText(/^All read, writing it to the store · .* · 100%$/)).toBeTruthy());
    expect(screen.getByRole('button', { name: 'Cancel disk.img' })).toBeTruthy(); // main answers what a cancel did
  });

  it('a cancel that reaches a big store after it failed shows its failure, not "nothing was stored"', async () => {
    let fail!: () => void;
    const { client } = fakeClient({
      storeFile: () => new Promise((resolve) => (fail = () => resolve({ ok: false, error: { code: 'no_space', message: 'no space left for the second copy' } }))),
      // What main answers: a transfer never sent is cancelled for good; the store had already failed.
      cancel: ({ transferId }) => ok(transferId.endsWith('h') ? { cancelled: true } : { cancelled: false }),
    });
    const { store } = renderWith(<TransfersPanel />, { client });
    store.getState().init();
    await act(() => store.getState().storeFiles([sized('disk.img', 2 * HASH_FIRST_BELOW_BYTES)]));
    await waitFor(() => expect(store.getState().transfers[0]?.phase).toBe('storing'));
    await act(async () => {
      const cancelling = store.getState().cancelTransfer(store.getState().transfers[0]!.id);
      fail();
      await cancelling;
    });
    await waitFor(() => expect(screen.getByText(/no space left for the second copy/)).toBeTruthy());
    expect(screen.queryByText(/nothing was stored/)).toBeNull();
  });

  it("a late event of the hash step does not move the store's bar", async () => {
    const size = HASH_FIRST_BELOW_BYTES - 1;
    const { client, calls, emit } = fakeClient({ hashFile: () => ok({ hash: 'b94d27b9934d3e08', sha256: 'x', size, existing: null }) });
    const { store } = renderWith(<TransfersPanel />, { client });
    store.getState().init();
    await act(() => store.getState().storeFiles([sized('photos.tar', size)]));
    await waitFor(() => expect(calls.some((c) => c.method === 'storeFile')).toBe(true));
    const hashId = (calls.find((c) => c.method === 'hashFile')!.input as { transferId: string }).transferId;
    act(() => emit({ type: 'progress', transferId: hashId, phase: 'hash', bytesDone: size, totalBytes: size }));
    expect(screen.getByText(/^Storing · 0 B of .* · 0%$/)).toBeTruthy();
  });
});
