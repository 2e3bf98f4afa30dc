// @vitest-environment happy-dom
import { act, cleanup, configure, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { EntryView, KeyPage, MethodInput, Result, ShardCount } from '../../src-shared/contract';
import { SHARDS } from '../state/heatmap';
import { fakeClient, ok, renderWith } from '../test/render';
import { LayoutPanel } from './LayoutPanel';

afterEach(cleanup);
// A tree of 256 folders renders slowly on a loaded machine: wait for it as long as it takes.
configure({ asyncUtilTimeout: 20_000 });

type ShardCall = { input: MethodInput<'shardCounts'>; answer: (entriesOf?: (shard: string) => number) => void };

/** shardCounts calls held until the test answers them: what the panel shows between answers is the point. */
function heldShardCounts() {
  const calls: ShardCall[] = [];
  const shardCounts = (input: MethodInput<'shardCounts'>) =>
    new Promise<Result<{ shards: ShardCount[] }>>((resolve) =>
      calls.push({ input, answer: (entriesOf = () => 1) => resolve(ok({ shards: input.shards.map((shard) => ({ shard, prefix: `${input.namespace}/objects/${shard}/`, entries: entriesOf(shard) })) })) }),
    );
  return { calls, shardCounts };
}

/** A native-looking tree: `ns/` holds objects/, objects/ holds all 256 shards in pages of 200, each shard one sub-folder and one key. */
function listKeys({ prefix, cursor }: MethodInput<'listKeys'>): Result<KeyPage> {
  const parts = prefix.split('/').filter(Boolean);
  if (parts.length === 1) return ok({ objects: [], prefixes: [`${prefix}objects/`] });
  if (parts.length === 2) {
    const all = SHARDS.map((s) => `${prefix}${s}/`);
    const start = cursor ? all.indexOf(cursor) + 1 : 0;
    const page = all.slice(start, start + 200);
    return ok({ objects: [], prefixes: page, cursor: start + 200 < all.length ? page[page.length - 1] : undefined });
  }
  if (parts.length === 3) return ok({ objects: [], prefixes: [`${prefix}${parts[2] === 'b9' ? '4d' : '00'}/`] });
  const hash = parts[2] === 'b9' ? 'b94d27b9934d3e08' : `${parts[2]}00000000000000`;
  return ok({ objects: [{ key: `${prefix}${hash}`, size: 5, modified: '2026-01-01T00:00:00.000Z' }], prefixes: [] });
}

const treeItem = (name: string) => screen.getByRole('treeitem', { name });

describe('Layout heatmap (issue #17)', () => {
  it('shows progress at once, fills cells as shard ranges are counted, then drops the progress', async () => {
    const held = heldShardCounts();
    const { client } = fakeClient({ shardCounts: held.shardCounts, listKeys });
    renderWith(<LayoutPanel />, { client });
    expect(screen.getByRole('status').textContent).toContain('Counting shards: 0 / 256 (0%)');
    expect(screen.getByRole('gridcell', { name: 'Shard 00: not counted yet' })).toBeTruthy();
    await waitFor(() => expect(held.calls.length).toBe(2)); // two ranges at a time, never all at once

    await act(async () => held.calls[0]!.answer((shard) => (shard === '03' ? 5 : 1)));
    expect(screen.getByRole('status').textContent).toContain('Counting shards: 8 / 256 (3%)');
    expect(screen.getByRole('gridcell', { name: 'Shard 03: 5 entries' }).className).toContain('heat-5');
    expect(screen.getByRole('gridcell', { name: 'Shard 00: 1 entry' })).toBeTruthy();
    expect(screen.getByRole('gridcell', { name: 'Shard ff: not counted yet' }).className).toContain('heat-pending');

    for (let i = 1; i < 32; i++) {
      await waitFor(() => expect(held.calls.length).toBeGreaterThan(i));
      await act(async () => held.calls[i]!.answer());
    }
    await waitFor(() => expect(screen.queryByRole('status')).toBeNull());
    expect(held.calls.flatMap((c) => c.input.shards)).toEqual(SHARDS);
    expect(screen.getByRole('figure').textContent).toContain('(260 entries)');
    // Another program stored meanwhile: Count again counts every shard afresh.
    fireEvent.click(screen.getByRole('button', { name: 'Count again' }));
    expect(screen.getByRole('status').textContent).toContain('Counting shards: 0 / 256 (0%)');
    await waitFor(() => expect(held.calls.length).toBe(34));
    expect(held.calls[32]!.input.shards).toEqual(SHARDS.slice(0, 8));
  });

  it('a cell opens its shard in the tree, listing on past the first page to reach it', async () => {
    const { client, calls } = fakeClient({ shardCounts: ({ namespace, shards }) => ok({ shards: shards.map((shard) => ({ shard, prefix: `${namespace}/objects/${shard}/`, entries: shard === '0a' ? 0 : 1 })) }), listKeys });
    renderWith(<LayoutPanel />, { client });
    await waitFor(() => expect(screen.queryByRole('status')).toBeNull());
    // An empty shard's cell offers nothing to open.
    expect(within(screen.getByRole('gridcell', { name: 'Shard 0a: 0 entries' })).queryByRole('button')).toBeNull();
    expect(screen.getAllByRole('button', { name: /^Open shard/ })).toHaveLength(255);
    fireEvent.click(screen.getByRole('button', { name: 'Open shard f3 in the tree (1 entry)' })); // the count said too: the cell's color alone showed it
    await waitFor(() => expect(treeItem('f3/').getAttribute('aria-expanded')).toBe('true'));
    expect(treeItem('objects/').getAttribute('aria-expanded')).toBe('true');
    // f3/ holds one folder only: it opens too, down to the shard's key (the operator asked to see what the shard holds).
    await waitFor(() => expect(within(treeItem('f3/')).getByRole('treeitem', { name: 'f300000000000000' })).toBeTruthy());
    expect(within(treeItem('f3/')).getByRole('treeitem', { name: '00/' }).getAttribute('aria-expanded')).toBe('true');
    // f3 is on the second page of default/objects/: it was listed on its own, once.
    expect(calls.filter((c) => c.method === 'listKeys' && (c.input as { prefix: string }).prefix === 'default/objects/')).toHaveLength(2);
    expect(treeItem('f2/').getAttribute('aria-expanded')).toBe('false');
  });

  it('opening an entry expands the tree down to its keys, highlighted', async () => {
    const { client } = fakeClient({ listKeys });
    const entry = { record: { hash: 'b94d27b9934d3e08', keys: [{ key: 'default/objects/b9/4d/b94d27b9934d3e08', role: 'content' }] } } as unknown as EntryView;
    const { store } = renderWith(<LayoutPanel />, { client });
    act(() => store.setState({ entry: { status: 'ready', data: entry } }));
    await waitFor(() => expect(treeItem('b94d27b9934d3e08').className).toContain('highlight'));
    for (const folder of ['default/', 'objects/', 'b9/']) expect(treeItem(folder).getAttribute('aria-expanded')).toBe('true');
    expect(within(treeItem('b9/')).getByRole('treeitem', { name: '4d/' }).getAttribute('aria-expanded')).toBe('true');
    // The shard 4d (listed first) is not on the way: only b9/4d/ opened.
    expect(screen.getAllByRole('treeitem', { name: '4d/' }).map((item) => item.getAttribute('aria-expanded'))).toEqual(['false', 'true']);
    expect(screen.getByRole('gridcell', { name: 'Shard b9: not counted yet' }).className).toContain('selected');
  });

  it('a folder another tool named as no key can be (é/) says so when opened, and is not asked for (its listing failed with a raw invalid_key)', async () => {
    const { client, calls } = fakeClient({ listKeys: ({ prefix }: MethodInput<'listKeys'>) => ok({ objects: [], prefixes: prefix === 'default/' ? ['default/objects/', 'default/é/'] : [] }) });
    renderWith(<LayoutPanel />, { client });
    fireEvent.click(within(await screen.findByRole('treeitem', { name: 'é/' })).getByRole('button'));
    expect(within(treeItem('é/')).getByText(/^A folder named as no key can be \(put here by another tool\): it cannot be listed here/)).toBeTruthy();
    expect(calls.filter((c) => c.method === 'listKeys').map((c) => (c.input as MethodInput<'listKeys'>).prefix)).toEqual(['default/']);
  });

  it("another namespace clears the key on show: its details (and Open) belonged to the namespace left", async () => {
    const key = 'default/objects/b9/4d/b94d27b9934d3e08';
    const { client } = fakeClient({ listKeys, describeKey: () => ok({ key, kind: 'content', namespace: 'default', hash: 'b94d27b9934d3e08', explanation: 'the bytes of an entry' }) });
    const { store } = renderWith(<LayoutPanel />, { client });
    await act(() => store.getState().describeKey(key));
    expect(screen.getByLabelText('Key details').textContent).toContain(key);
    act(() => store.getState().selectNamespace('other'));
    expect(screen.queryByLabelText('Key details')).toBeNull();
    expect(screen.getByText('Open a key in the tree to see what it is.')).toBeTruthy();
  });

  it('coming back to a namespace shows its cached heatmap at once; leaving stops the count; storing into it counts again', async () => {
    const held = heldShardCounts();
    const { client } = fakeClient({ shardCounts: held.shardCounts, listKeys });
    const { store } = renderWith(<LayoutPanel />, { client });
    for (let i = 0; i < 32; i++) {
      await waitFor(() => expect(held.calls.length).toBeGreaterThan(i));
      await act(async () => held.calls[i]!.answer());
    }
    await waitFor(() => expect(screen.queryByRole('status')).toBeNull());

    act(() => store.getState().selectNamespace('other'));
    await waitFor(() => expect(held.calls.length).toBe(34));
    expect(held.calls[32]!.input.namespace).toBe('other');
    act(() => store.getState().selectNamespace('default'));
    // Cached: every cell at once, nothing asked again; the count of `other` was stopped and dropped.
    expect(screen.queryByRole('status')).toBeNull();
    expect(screen.getByRole('gridcell', { name: 'Shard ff: 1 entry' })).toBeTruthy();
    await act(async () => held.calls[32]!.answer());
    expect(held.calls).toHaveLength(34);
    expect(Object.keys(store.getState().heatmaps).map((k) => k.split('\u0000')[1])).toEqual(['default']);

    act(() => store.getState().forgetHeatmap('default'));
    expect(screen.getByRole('status').textContent).toContain('Counting shards: 0 / 256');
    await waitFor(() => expect(held.calls.length).toBe(36));
    expect(held.calls[35]!.input.namespace).toBe('default');
  });

  it('a store switch mid-count (even back to the same profile) stops it and counts the store now open', async () => {
    const held = heldShardCounts();
    const { client } = fakeClient({ shardCounts: held.shardCounts, listKeys });
    const { store } = renderWith(<LayoutPanel />, { client });
    await waitFor(() => expect(held.calls.length).toBe(2));
    act(() => store.setState((s) => ({ storeEpoch: s.storeEpoch + 1 })));
    await waitFor(() => expect(held.calls.length).toBe(4));
    await act(async () => held.calls[0]!.answer(() => 99)); // the previous store's answer is dropped
    expect(held.calls).toHaveLength(4);
    expect(screen.getByRole('status').textContent).toContain('Counting shards: 0 / 256');
    await act(async () => held.calls[2]!.answer());
    expect(screen.getByRole('gridcell', { name: 'Shard 00: 1 entry' })).toBeTruthy();
  });
});
