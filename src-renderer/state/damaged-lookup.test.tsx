// @vitest-environment happy-dom
import { act, cleanup } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { fail, fakeClient, ok, renderWith } from '../test/render';
import { shownEntryHash, unopenedVersion } from './store';

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

it("a version that would not open, looked up, is looked up again once a repair has run: its Delete offer goes with the damage (it stayed, and deleted the restored version)", async () => {
  let repaired = false;
  const record = { format: 'native' as const, namespace: 'default', hash: HASH, cache_id: `${HASH}-v2`, version: 2, latest_version: 2, sha256: `${HASH}${'0'.repeat(48)}`, size: 5, content_type: 'text/plain', data_type: 'binary' as const, content_encoding: null, source: 'a.txt', stored_at: '2026-01-01T00:00:00.000Z', details: {}, keys: [], child_data: [] };
  const { client } = fakeClient({
    entry: () => (repaired ? ok({ record, preview: 'aGVsbG8=', previewTruncated: false, previewVerified: true, expired: false, expires_at: null }) : fail('not_found', `${HASH}-v2's record is missing, though its versions index lists it`)),
    versions: () => ok({ hash: HASH, versions: [1, 2, 3].map(version), count: 3 }),
    verify: () => ((repaired = true), ok({ checked: 9, problems: [], repaired: [{ kind: 'dangling_ref', key: KEY, action: 'restored the record of v2' }], notes: [] })),
  });
  const { store } = renderWith(<div />, { client });
  await act(() => store.getState().lookup(`${HASH}-v2`));
  expect(unopenedVersion(store.getState())).toMatchObject({ version: 2 });
  await act(() => store.getState().runVerify({ wholeStore: false, repair: true }));
  await act(() => new Promise((resolve) => setTimeout(resolve, 50)));
  expect(store.getState().entry).toMatchObject({ status: 'ready', data: { record: { cache_id: `${HASH}-v2` } } });
  expect(unopenedVersion(store.getState())).toBeNull();
});

it("a listed version whose record is gone, looked up by its cache id, is its entry's: the list picks the entry's row (none was picked)", async () => {
  const { client } = fakeClient({
    entry: () => fail('not_found', `${HASH}-v2's record is missing, though its versions index lists it`),
    versions: () => ok({ hash: HASH, versions: [1, 2, 3].map(version), count: 3 }),
  });
  const { store } = renderWith(<div />, { client });
  await act(() => store.getState().lookup(HASH));
  await act(() => store.getState().lookup(`${HASH}-v2`));
  expect(unopenedVersion(store.getState())).toMatchObject({ version: 2 });
  expect(shownEntryHash(store.getState())).toBe(HASH);
});
