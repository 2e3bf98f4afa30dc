// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PrunePlanView, RunningOperation } from '../../src-shared/contract';
import { fail, fakeClient, ok, renderWith } from '../test/render';
import { RunningElsewhere } from './RunningElsewhere';

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const prune = (done: number): RunningOperation => ({ id: 'before-reload', kind: 'prune', namespace: 'logs', subject: '', startedAt: Date.now() - 60_000, done, total: null });

describe('operations main runs that this page did not start', () => {
  it('a prune started before a reload is shown from main with its progress; Stop stops it and the notice says how it ended', async () => {
    const { client, calls, emit } = fakeClient({ operations: () => ok({ seq: 4, operations: [prune(40)] }), cancel: () => ok({ cancelled: true }) });
    const { store } = renderWith(<RunningElsewhere />, { client });
    act(() => void store.getState().init());
    const region = await screen.findByRole('region', { name: 'Also running, started in another window or before this page was reloaded' });
    expect(within(region).getByText('Pruning namespace logs')).toBeTruthy();
    expect(within(region).getByText('40 versions done so far')).toBeTruthy();
    act(() => emit({ type: 'progress', transferId: 'before-reload', phase: 'prune', bytesDone: 75, totalBytes: 200 }));
    expect(within(region).getByText('75 of 200 versions done')).toBeTruthy();
    await act(async () => fireEvent.click(within(region).getByRole('button', { name: 'Stop pruning namespace logs' })));
    expect(calls.filter((c) => c.method === 'cancel').map((c) => c.input)).toEqual([{ transferId: 'before-reload' }]);
    expect(within(region).getByText('stopping…')).toBeTruthy();
    act(() => emit({ type: 'operations', seq: 5, operations: [], ended: { id: 'before-reload', outcome: 'stopped', message: 'the prune was cancelled after pruning 75 versions' } }));
    expect(screen.queryByRole('region')).toBeNull();
    expect(store.getState().notice).toBe('Pruning namespace logs (started in another window or before a reload): stopped: the prune was cancelled after pruning 75 versions');
  });

  it('a Stop main could not be asked says why, and can be pressed again', async () => {
    const { client } = fakeClient({ operations: () => ok({ seq: 1, operations: [prune(3)] }), cancel: () => fail('storage_unreachable', 'the bridge is gone') });
    const { store } = renderWith(<RunningElsewhere />, { client });
    act(() => void store.getState().init());
    const stop = await screen.findByRole('button', { name: 'Stop pruning namespace logs' });
    await act(async () => fireEvent.click(stop));
    expect(store.getState().notice).toBe('Could not stop pruning namespace logs: the bridge is gone');
    expect(stop.getAttribute('aria-disabled')).toBe('false');
    expect(screen.getByText('3 versions done so far')).toBeTruthy();
  });

  it("lists neither this page's own work nor another window's file before it has taken a second; a file's end is its window's to tell", async () => {
    const { client, calls, emit } = fakeClient({ operations: () => ok({ seq: 0, operations: [] }) });
    const { store } = renderWith(<RunningElsewhere />, { client });
    act(() => void store.getState().init());
    // A prune is run on the plan shown.
    const plan = { namespace: 'default', planId: '00000000-0000-4000-8000-000000000001' } as PrunePlanView;
    act(() => store.setState((s) => ({ retention: { ...s.retention, plan: { status: 'ready', data: plan } } })));
    act(() => void store.getState().runPrune());
    const own = (calls.find((c) => c.method === 'prune')!.input as { transferId: string }).transferId;
    const upload: RunningOperation = { id: 'other-tab', kind: 'store', namespace: 'default', subject: 'big.iso', startedAt: Date.now() - 400, done: 0, total: 4096 };
    const deleting: RunningOperation = { id: 'other-delete', kind: 'delete', namespace: 'default', subject: '', startedAt: Date.now(), done: 3, total: 10 };
    act(() => emit({ type: 'operations', seq: 1, operations: [{ ...prune(0), id: own }, upload, deleting] }));
    const region = screen.getByRole('region');
    expect(within(region).getAllByRole('listitem').map((li) => li.textContent)).toEqual(['Deleting picked entries in namespace default3 of 10 entries doneStop']);
    expect(within(region).getByRole('progressbar', { name: 'Deleting picked entries in namespace default: progress' })).toHaveProperty('value', 3);
    // The upload has run a second by now: it shows.
    expect(await within(region).findByText('Storing big.iso into namespace default', {}, { timeout: 2000 })).toBeTruthy();
    act(() => emit({ type: 'progress', transferId: 'other-tab', phase: 'store', bytesDone: 2048, totalBytes: 4096 }));
    expect(within(region).getByText('2.0 KiB of 4.0 KiB')).toBeTruthy();
    act(() => emit({ type: 'operations', seq: 2, operations: [{ ...prune(0), id: own }, deleting], ended: { id: 'other-tab', outcome: 'finished' } }));
    expect(within(region).queryByText(/big\.iso/)).toBeNull();
    expect(store.getState().notice).toBeNull();
    act(() => emit({ type: 'operations', seq: 3, operations: [{ ...prune(0), id: own }], ended: { id: 'other-delete', outcome: 'failed', message: 'the store is unreachable' } }));
    expect(screen.queryByRole('region')).toBeNull();
    expect(store.getState().notice).toBe('Deleting picked entries in namespace default (started in another window or before a reload): failed: the store is unreachable');
    // A verify that found problems says so: "finished" alone read as clean.
    const verifying: RunningOperation = { id: 'other-verify', kind: 'verify', namespace: 'reports', subject: '', startedAt: Date.now(), done: 29, total: 99 };
    act(() => emit({ type: 'operations', seq: 4, operations: [{ ...prune(0), id: own }, verifying] }));
    act(() => emit({ type: 'operations', seq: 5, operations: [{ ...prune(0), id: own }], ended: { id: 'other-verify', outcome: 'finished', message: '1 problem (corrupt) in 99 keys checked' } }));
    expect(store.getState().notice).toBe('Verifying namespace reports (started in another window or before a reload): finished: 1 problem (corrupt) in 99 keys checked');
  });

  it("shows another window's file when its second is up, though the timer fires a millisecond early by the clock", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const clock = vi.spyOn(Date, 'now').mockReturnValue(1_000_000);
    const { client, emit } = fakeClient({ operations: () => ok({ seq: 0, operations: [] }) });
    const { store } = renderWith(<RunningElsewhere />, { client });
    act(() => void store.getState().init());
    const upload: RunningOperation = { id: 'other-tab', kind: 'store', namespace: 'default', subject: 'big.iso', startedAt: 1_000_000 - 400, done: 0, total: 4096 };
    act(() => emit({ type: 'operations', seq: 1, operations: [upload] }));
    expect(screen.queryByRole('region')).toBeNull();
    // Timers and the wall clock tick apart: the timer set for 600 ms runs when the clock says 599 have passed.
    clock.mockReturnValue(1_000_000 + 599);
    act(() => vi.advanceTimersByTime(600));
    clock.mockReturnValue(1_000_000 + 5_000);
    act(() => vi.advanceTimersByTime(5_000));
    expect(screen.getByText('Storing big.iso into namespace default')).toBeTruthy();
  });

  it("keeps main's newest list: an answer to the page's own question that left before the latest event does not undo it", async () => {
    let answer!: (value: unknown) => void;
    const { client, emit } = fakeClient({ operations: () => new Promise((resolve) => (answer = resolve)) });
    const { store } = renderWith(<RunningElsewhere />, { client });
    act(() => void store.getState().init());
    act(() => emit({ type: 'operations', seq: 8, operations: [prune(1)] }));
    await act(async () => answer(ok({ seq: 7, operations: [] })));
    expect(screen.getByText('Pruning namespace logs')).toBeTruthy();
  });
});
