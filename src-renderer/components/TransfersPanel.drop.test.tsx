// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { MethodInput, StoredEntry } from '../../src-shared/contract';
import { fail, fakeClient, ok, renderWith } from '../test/render';
import { TransfersPanel } from './TransfersPanel';

afterEach(cleanup);

/** A file of a dropped folder, named by its path in the drop as the browser (and lib/drop.ts) name it. */
function inFolder(relativePath: string, size = 10): File {
  const file = new File([new Uint8Array(size)], relativePath.split('/').pop()!);
  Object.defineProperty(file, 'webkitRelativePath', { value: relativePath });
  return file;
}

const folder = (count: number) => Array.from({ length: count }, (_, i) => inFolder(`photos/2024/p${String(i).padStart(4, '0')}.jpg`));

const storedAs = (name: string, i: number): StoredEntry => ({ namespace: 'default', hash: i.toString(16).padStart(16, '0'), cache_id: `${i.toString(16).padStart(16, '0')}-v1`, version: 1, size: 10, source: name, deduplicated: false, keys: [] });

/** main storing every file of each batch it is sent, after a moment (or failing those `failing` names). */
function storingClient(failing: (name: string) => boolean = () => false) {
  let n = 0;
  return fakeClient({
    storePaths: (input: MethodInput<'storePaths'>) =>
      new Promise((resolve) => setTimeout(() => resolve(ok({ outcomes: input.files.map((f) => (failing(f.name) ? { name: f.name, error: { code: 'io_error', message: 'the disk said no' } } : { name: f.name, stored: storedAs(f.name, n++) })) })), 5)),
    namespaces: () => ok({ namespaces: [{ name: 'default', entries: n, versions: n, bytes: n * 10 }] }),
    namespaceNames: () => ok({ names: ['default'] }),
    entries: () => ok({ entries: [] }),
    cancelDrop: () => ok({ stored: 0, failed: 0 }),
  });
}

describe('Transfers: a multi-file drop', () => {
  it('a 1,000-file folder is one progress view, sent in two batches under its paths, with a handful of list reloads instead of one per file', async () => {
    const { client, calls } = storingClient();
    const { store } = renderWith(<TransfersPanel />, { client });
    store.getState().init();
    const reloads = () => calls.filter((c) => c.method === 'namespaces' || c.method === 'entries').length;
    const before = reloads();
    await act(() => store.getState().storeFiles(folder(1000)));
    const view = screen.getByRole('listitem', { name: 'Drop of 1,000 files' });
    await waitFor(() => expect(within(view).getByRole('status').textContent).toBe('Stored 1,000 of 1,000 files (9.8 KiB)'));
    expect(screen.getAllByRole('listitem').filter((li) => li.classList.contains('transfer'))).toHaveLength(1);
    const batches = calls.filter((c) => c.method === 'storePaths').map((c) => c.input as MethodInput<'storePaths'>);
    expect(batches.map((b) => b.files.length)).toEqual([512, 488]);
    expect(batches[0]!.files[3]!.name).toBe('photos/2024/p0003.jpg');
    expect(new Set(batches.map((b) => b.dropId)).size).toBe(1);
    await new Promise((r) => setTimeout(r, 600)); // the last paced refresh
    expect(reloads() - before).toBeLessThanOrEqual(6);
    expect(reloads() - before).toBeGreaterThan(0);
  });

  it('shows files and bytes done, rate and time left from main progress events while a batch is stored', async () => {
    const { client, calls, emit } = fakeClient({ storePaths: () => new Promise(() => {}) });
    const { store } = renderWith(<TransfersPanel />, { client });
    store.getState().init();
    await act(() => store.getState().storeFiles(folder(40).map((f) => inFolder(f.webkitRelativePath, 1024))));
    const dropId = (calls.find((c) => c.method === 'storePaths')!.input as MethodInput<'storePaths'>).dropId;
    await new Promise((r) => setTimeout(r, 250));
    act(() => emit({ type: 'progress', transferId: dropId, phase: 'store', bytesDone: 10 * 1024, totalBytes: null, filesDone: 10 }));
    const status = within(screen.getByRole('listitem', { name: 'Drop of 40 files' })).getByRole('status').textContent!;
    expect(status).toMatch(/^10 of 40 files · 10\.0 KiB of 40\.0 KiB · [\d.]+ KiB\/s · about \d+ s left$/);
    expect(screen.getByRole('progressbar', { name: 'Drop of 40 files progress' }).getAttribute('aria-valuenow')).toBe('25');
  });

  it('lists failed files and Retry failed sends only those again, into the same namespace', async () => {
    let failing = true;
    const { client, calls } = storingClient((name) => failing && name.endsWith('7.jpg'));
    const { store } = renderWith(<TransfersPanel />, { client });
    await act(() => store.getState().storeFiles(folder(30)));
    const view = screen.getByRole('listitem', { name: 'Drop of 30 files' });
    await waitFor(() => expect(within(view).getByText('3 files failed')).toBeTruthy());
    expect(within(view).getByRole('status').textContent).toBe('Stored 27 of 30 files (270 B)');
    expect(within(view).getByRole('list', { name: 'Failed files' }).textContent).toContain('photos/2024/p0007.jpg: the disk said no');
    failing = false;
    store.getState().selectNamespace('elsewhere'); // the retry still goes where the drop went
    fireEvent.click(within(view).getByRole('button', { name: 'Retry failed' }));
    await waitFor(() => expect(within(view).getByRole('status').textContent).toBe('Stored 30 of 30 files (300 B)'));
    const retry = calls.filter((c) => c.method === 'storePaths').at(-1)!.input as MethodInput<'storePaths'>;
    expect(retry.files.map((f) => f.name)).toEqual(['photos/2024/p0007.jpg', 'photos/2024/p0017.jpg', 'photos/2024/p0027.jpg']);
    expect(retry.namespace).toBe('default');
    expect(within(view).queryByText(/failed/)).toBeNull();
  });

  it('Retry failed does not send again a file refused as such (over the size limit): it stays listed, and alone it offers no retry', async () => {
    let failing = true;
    let n = 0;
    const { client, calls } = fakeClient({
      storePaths: (input: MethodInput<'storePaths'>) =>
        ok({ outcomes: input.files.map((f) => (f.name.endsWith('big.bin') ? { name: f.name, error: { code: 'too_large', message: 'content is larger than the 1 MiB limit for one entry' } } : failing && f.name.endsWith('7.jpg') ? { name: f.name, error: { code: 'io_error', message: 'the disk said no' } } : { name: f.name, stored: storedAs(f.name, n++) })) }),
      namespaces: () => ok({ namespaces: [] }),
      namespaceNames: () => ok({ names: ['default'] }),
    });
    const { store } = renderWith(<TransfersPanel />, { client });
    await act(() => store.getState().storeFiles([...folder(20), inFolder('photos/big.bin')]));
    const view = screen.getByRole('listitem', { name: 'Drop of 21 files' });
    await waitFor(() => expect(within(view).getByText('3 files failed')).toBeTruthy());
    failing = false;
    fireEvent.click(within(view).getByRole('button', { name: 'Retry failed' }));
    await waitFor(() => expect(within(view).getByRole('status').textContent).toBe('Stored 20 of 21 files (200 B)'));
    expect((calls.filter((c) => c.method === 'storePaths').at(-1)!.input as MethodInput<'storePaths'>).files.map((f) => f.name)).toEqual(['photos/2024/p0007.jpg', 'photos/2024/p0017.jpg']);
    expect(within(view).getByRole('list', { name: 'Failed files' }).textContent).toBe('photos/big.bin: content is larger than the 1 MiB limit for one entry');
    expect(within(view).queryByRole('button', { name: 'Retry failed' })).toBeNull();
  });

  it('a Cancel all that comes after main stored every file says so, not that the rest were left', async () => {
    const { client } = fakeClient({ storePaths: () => new Promise(() => {}), cancelDrop: () => ok({ stored: 20, failed: 0 }) });
    const { store } = renderWith(<TransfersPanel />, { client });
    await act(() => store.getState().storeFiles(folder(20)));
    const view = screen.getByRole('listitem', { name: 'Drop of 20 files' });
    fireEvent.click(within(view).getByRole('button', { name: 'Cancel all' }));
    await waitFor(() => expect(within(view).getByRole('status').textContent).toBe('The cancel came after the last file: all 20 files were stored.'));
  });

  it('Cancel all stops the drop and says how many files main stored first', async () => {
    const { client, calls } = fakeClient({ storePaths: () => new Promise(() => {}), cancelDrop: () => ok({ stored: 37, failed: 0 }) });
    const { store } = renderWith(<TransfersPanel />, { client });
    await act(() => store.getState().storeFiles(folder(2000)));
    const view = screen.getByRole('listitem', { name: 'Drop of 2,000 files' });
    fireEvent.click(within(view).getByRole('button', { name: 'Cancel all' }));
    await waitFor(() => expect(within(view).getByRole('status').textContent).toBe('Cancelled: 37 of 2,000 files were stored (they stay); the rest were not.'));
    const dropId = (calls.find((c) => c.method === 'storePaths')!.input as MethodInput<'storePaths'>).dropId;
    expect(calls.filter((c) => c.method === 'cancelDrop').map((c) => c.input)).toEqual([{ dropId }]);
    // Two batches were in flight; none after the cancel.
    expect(calls.filter((c) => c.method === 'storePaths')).toHaveLength(2);
  });

  it('a batch refused whole (e.g. a file gone from a desktop drop) lists each of its files as failed', async () => {
    const { client } = fakeClient({ storePaths: () => fail('access_denied', 'photos/2024/x.jpg was not chosen in this window'), namespaces: () => ok({ namespaces: [] }), namespaceNames: () => ok({ names: [] }), entries: () => ok({ entries: [] }) });
    const { store } = renderWith(<TransfersPanel />, { client });
    await act(() => store.getState().storeFiles(folder(20)));
    const view = screen.getByRole('listitem', { name: 'Drop of 20 files' });
    await waitFor(() => expect(within(view).getByText('20 files failed')).toBeTruthy());
    expect(within(view).getByRole('status').textContent).toBe('Stored 0 of 20 files (0 B)');
  });
});
