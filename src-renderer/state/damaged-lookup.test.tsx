// @vitest-environment happy-dom
import { act, cleanup } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { fail, fakeClient, ok, renderWith } from '../test/render';
import { shownEntryHash } from './store';

afterEach(cleanup);

const HASH = 'b94d27b9934d3e08';
const KEY = `default/objects/b9/4d/${HASH}.v00000005.json`;
const version = (n: number) => ({ cache_id: `${HASH}-v${n}`, version: n, stored_at: '2026-01-01T00:00:00.000Z', size: 5, source: 'a.txt', expired: false });
const DAMAGED = `version record ${KEY} is damaged (is not JSON); delete the version, or run verify with repair`;

describe('a damaged entry looked up leaves the operator where they can act on it', () => {
  it('by its storage key from another namespace: the list moves to the key’s namespace, its versions are listed and its row is the one shown', async () => {
    const { client, calls } = fakeClient({
      entry: () => fail('corrupt', DAMAGED),
      describeKey: ({ key }) => ok({ key, kind: 'record', explanation: 'a version record', namespace: 'default', hash: HASH, version: 5 }),
      versions: () => ok({ hash: HASH, versions: [1, 2, 3, 4, 5].map(version), count: 5 }),
    });
    const { store } = renderWith(<div />, { client });
    act(() => store.getState().selectNamespace('logs'));
    await act(() => store.getState().lookup(KEY));
    const state = store.getState();
    expect(state.namespace).toBe('default');
    expect(state.entries.namespace).toBe('default');
    expect(state.entry).toMatchObject({ status: 'error', error: { code: 'corrupt' } });
    expect(state.versions).toMatchObject({ status: 'ready', data: { hash: HASH } });
    expect(calls.find((c) => c.method === 'versions')?.input).toEqual({ namespace: 'default', hash: HASH });
    expect(shownEntryHash(state)).toBe(HASH);
  });

  it('by its hash: its row is the one shown, so the list picks it', async () => {
    const { client } = fakeClient({ entry: () => fail('corrupt', DAMAGED), versions: () => ok({ hash: HASH, versions: [version(1)], count: 1 }) });
    const { store } = renderWith(<div />, { client });
    await act(() => store.getState().lookup(HASH));
    expect(store.getState().entry).toMatchObject({ status: 'error', error: { code: 'corrupt' } });
    expect(shownEntryHash(store.getState())).toBe(HASH);
  });

  it('a storage key that names nothing there moves nowhere: no namespace appears from a typo', async () => {
    const { client } = fakeClient({
      entry: () => fail('not_found', `${HASH} is not in namespace typo`),
      describeKey: ({ key }) => ok({ key, kind: 'record', explanation: 'a version record', namespace: 'typo', hash: HASH, version: 5 }),
      versions: () => ok({ hash: HASH, versions: [], count: 0 }),
    });
    const { store } = renderWith(<div />, { client });
    await act(() => store.getState().lookup(`typo/objects/b9/4d/${HASH}.v00000005.json`));
    expect(store.getState().namespace).toBe('default');
    expect(store.getState().versions.status).toBe('idle');
    expect(shownEntryHash(store.getState())).toBeNull();
  });
});

it.each(['stats', 'verify', 'retention'] as const)('a lookup from the %s tab shows its answer on Browse, where the entry panel is (from Verify and Retention nothing showed)', async (tab) => {
  const { client } = fakeClient({ entry: () => fail('not_found', `ffffffffffffffff is not in namespace default`), versions: () => ok({ hash: 'ffffffffffffffff', versions: [], count: 0 }) });
  const { store } = renderWith(<div />, { client, state: { tab } });
  await act(() => store.getState().lookup('ffffffffffffffff'));
  expect(store.getState()).toMatchObject({ tab: 'browse', entry: { status: 'error', error: { code: 'not_found' } } });
});

it('a lookup from Layout stays there: its tree opens at the entry', async () => {
  const { client } = fakeClient({ entry: () => fail('not_found', 'ffffffffffffffff is not in namespace default'), versions: () => ok({ hash: 'ffffffffffffffff', versions: [], count: 0 }) });
  const { store } = renderWith(<div />, { client, state: { tab: 'layout' } });
  await act(() => store.getState().lookup('ffffffffffffffff'));
  expect(store.getState().tab).toBe('layout');
});
