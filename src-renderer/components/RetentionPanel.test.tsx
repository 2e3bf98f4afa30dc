// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { EntryView, PolicyView, PrunePlanView, VersionItem } from '../../src-shared/contract';
import { fail, fakeClient, ok, renderWith } from '../test/render';
import { EntryPanel, VersionsPanel } from './EntryPanel';
import { RetentionPanel } from './RetentionPanel';

afterEach(cleanup);

const POLICY: PolicyView = { default: { ttl_seconds: 2_592_000, keep_versions: null }, namespaces: { docs: { ttl_seconds: 43_200 } } };
const row = (i: number) => ({ hash: `${i}`.padStart(16, '0'), cache_id: `${`${i}`.padStart(16, '0')}-v1`, version: 1, stored_at: '2026-01-01T00:00:00.000Z', reason: 'expired' as const, content_removed: true, bytes_freed: 100 });
const plan = (versions: number, shown = Math.min(versions, 200)): PrunePlanView => ({
  namespace: 'default',
  now: '2026-12-02T00:00:00.000Z',
  rule: POLICY.default,
  versions,
  hashes: versions,
  contentRemoved: versions,
  bytesFreed: versions * 100,
  unreadableRefs: 0,
  unfinished: 0,
  rows: Array.from({ length: shown }, (_, i) => row(i)),
  more: versions - shown,
  planId: '00000000-0000-4000-8000-000000000001',
});

/** The panel with the policy above and `shown` as main's plan. */
async function showPlan(shown: PrunePlanView) {
  const { client } = fakeClient({ policy: () => ok(POLICY), prunePlan: () => ok(shown) });
  const { store } = renderWith(<RetentionPanel />, { client });
  await act(() => store.getState().loadRetention());
}

describe('Retention panel', () => {
  it('shows the policy in effect and the plan, bounded with how many more', async () => {
    const { client } = fakeClient({ policy: () => ok(POLICY), prunePlan: () => ok(plan(250)) });
    const { store } = renderWith(<RetentionPanel />, { client });
    await act(() => store.getState().loadRetention());
    expect(screen.getByTestId('store-ttl').textContent).toBe('30d');
    expect(screen.getByTestId('namespace-ttl').textContent).toBe('store-wide');
    expect(screen.getByTestId('plan-summary').textContent).toContain('250 versions of 250 hashes would go');
    expect(within(screen.getByRole('table', { name: 'Versions to prune' })).getAllByRole('row')).toHaveLength(201);
    expect(screen.getByText(/and 50 more versions/)).toBeTruthy();
  });

  it('says when another prune has not ended: the next prune deletes what it planned first', async () => {
    await showPlan({ ...plan(3), unfinished: 40 });
    expect(screen.getByTestId('plan-summary').textContent).toContain('as of 2026-12-02 00:00:00Z. And another prune that has not ended (killed, or still running) planned up to 40 more versions: Prune finishes them first, or waits for that prune.');
    cleanup();
    await showPlan({ ...plan(0), unfinished: 1 });
    expect(screen.getByText(/Nothing to prune/).textContent).toContain("But another prune that has not ended (killed, or still running) planned up to 1 version: the next prune of default finishes them, or waits for that prune (the CLI's prune --ns default runs one now).");
  });

  it('says when refs could not be read and their versions were left alone, in the plan, with nothing else to prune, and after the run', async () => {
    await showPlan({ ...plan(3), unreadableRefs: 2 });
    expect(screen.getByTestId('plan-summary').textContent).toContain('would go (3 hashes gone entirely, 300 B freed), as of 2026-12-02 00:00:00Z. 2 refs could not be read, so the versions they name were left alone (run Verify).');
    cleanup();
    await showPlan({ ...plan(0), unreadableRefs: 1 });
    expect(screen.getByText(/Nothing to prune/).textContent).toContain('1 ref could not be read, so the versions it names were left alone (run Verify).');
  });

  it("says what each version frees: the content with its last version, a version's own copy (service layout), or nothing", async () => {
    const rows = [row(1), { ...row(2), content_removed: false, bytes_freed: 2048 }, { ...row(3), content_removed: false, bytes_freed: 0 }];
    const { client } = fakeClient({ policy: () => ok(POLICY), prunePlan: () => ok({ ...plan(3), rows }) });
    const { store } = renderWith(<RetentionPanel />, { client });
    await act(() => store.getState().loadRetention());
    const cells = within(screen.getByRole('table', { name: 'Versions to prune' }))
      .getAllByRole('row')
      .slice(1)
      .map((r) => r.lastElementChild?.textContent);
    expect(cells).toEqual(['removed, 100 B', 'its own copy removed, 2.0 KiB; the content stays for other versions', 'kept for other versions']);
  });

  it('a bad TTL shows main\'s typed error and keeps what was typed', async () => {
    const { client, calls } = fakeClient({ policy: () => ok(POLICY), prunePlan: () => ok(plan(0)), setPolicy: () => fail('invalid_input', '"12" is not an age: a whole number followed by s, m, h or d') });
    const { store } = renderWith(<RetentionPanel />, { client });
    await act(() => store.getState().loadRetention());
    fireEvent.change(screen.getByLabelText('TTL'), { target: { value: '12' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save policy' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('Invalid input: "12" is not an age'));
    expect(calls.find((c) => c.method === 'setPolicy')?.input).toEqual({ namespace: 'default', ttl: '12', keepVersions: undefined });
    expect((screen.getByLabelText('TTL') as HTMLInputElement).value).toBe('12');
    expect(screen.getByText(/Nothing to prune/)).toBeTruthy();
  });

  it('a TTL is saved only after a question that says what expires at once (a store-wide 5m made every entry unreadable without one)', async () => {
    const { client, calls } = fakeClient({ policy: () => ok(POLICY), prunePlan: () => ok(plan(0)), setPolicy: () => ok(POLICY) });
    const { store } = renderWith(<RetentionPanel />, { client });
    await act(() => store.getState().loadRetention());
    fireEvent.click(screen.getByLabelText('Store-wide'));
    fireEvent.change(screen.getByLabelText('TTL'), { target: { value: '5m' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save policy' }));
    const dialog = screen.getByRole('dialog', { name: 'Confirm TTL' });
    expect(dialog.textContent).toContain('Set a TTL of 5m store-wide?');
    expect(dialog.textContent).toContain('Versions stored more than 5m ago expire as soon as it is saved');
    expect(dialog.textContent).toContain('every namespace without a TTL of its own');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Keep the current policy' }));
    expect(calls.some((c) => c.method === 'setPolicy')).toBe(false);
    fireEvent.click(screen.getByRole('button', { name: 'Save policy' }));
    fireEvent.click(within(screen.getByRole('dialog', { name: 'Confirm TTL' })).getByRole('button', { name: 'Save policy' }));
    await waitFor(() => expect(calls.find((c) => c.method === 'setPolicy')?.input).toEqual({ ttl: '5m', keepVersions: undefined }));
    // A namespace's default narrows what is served when the store-wide rule has a TTL: asked too.
    fireEvent.click(screen.getByLabelText(/^Namespace/));
    fireEvent.change(screen.getByLabelText('TTL'), { target: { value: 'default' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save policy' }));
    expect(screen.getByRole('dialog', { name: 'Confirm TTL' }).textContent).toContain('Set a TTL of 30d for default, the store-wide one?');
    fireEvent.click(within(screen.getByRole('dialog', { name: 'Confirm TTL' })).getByRole('button', { name: 'Keep the current policy' }));
    // Keeping forever takes nothing away: no question.
    fireEvent.change(screen.getByLabelText('TTL'), { target: { value: 'none' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save policy' }));
    expect(screen.queryByRole('dialog', { name: 'Confirm TTL' })).toBeNull();
    await waitFor(() => expect(calls.filter((c) => c.method === 'setPolicy')).toHaveLength(2));
  });

  it('prunes only after the confirmation, shows progress with Cancel, then the truth of what went and fresh counts', async () => {
    let finish: (v: unknown) => void = () => {};
    let plans = 0;
    const { client, calls, emit } = fakeClient({
      policy: () => ok(POLICY),
      prunePlan: () => ok(plans++ === 0 ? plan(3) : plan(0)),
      prune: () => new Promise((r) => (finish = r)),
      setPolicy: () => ok(POLICY),
      cancel: () => ok({ cancelled: true }),
      namespaces: () => ok({ namespaces: [] }),
      namespaceNames: () => ok({ names: [] }),
      entries: () => ok({ entries: [] }),
    });
    const { store } = renderWith(<RetentionPanel />, { client });
    act(() => void store.getState().init()); // main's progress events
    await act(() => store.getState().loadRetention());
    fireEvent.click(screen.getByRole('button', { name: 'Prune 3 versions…' }));
    const dialog = screen.getByRole('dialog', { name: 'Confirm prune' });
    expect(dialog.textContent).toContain('Prune 3 versions from default?');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Keep them' }));
    expect(calls.some((c) => c.method === 'prune')).toBe(false);

    fireEvent.click(screen.getByRole('button', { name: 'Prune 3 versions…' }));
    fireEvent.click(within(screen.getByRole('dialog', { name: 'Confirm prune' })).getByRole('button', { name: 'Prune' }));
    const prune = calls.find((c) => c.method === 'prune')!.input as { namespace: string; transferId: string };
    expect(prune.namespace).toBe('default');
    // Waiting for another prune of the namespace: said, not a count that stands still.
    act(() => emit({ type: 'progress', transferId: prune.transferId, phase: 'prune', bytesDone: 0, totalBytes: 3, note: 'waiting for another prune of default to finish (if it was killed, its hold runs out by 2026-12-06 15:10:31Z)' }));
    expect(screen.getByText(/^Pruning default/).textContent).toBe('Pruning default: waiting for another prune of default to finish (if it was killed, its hold runs out by 2026-12-06 15:10:31Z)');
    act(() => emit({ type: 'progress', transferId: prune.transferId, phase: 'prune', bytesDone: 2, totalBytes: 3 }));
    expect(screen.getByText(/^Pruning default/).textContent).toBe('Pruning default…');
    expect(screen.getByText('2 of 3 versions done')).toBeTruthy();
    expect(screen.getByRole('progressbar', { name: 'Versions dealt with' })).toHaveProperty('value', 2);
    fireEvent.click(screen.getByRole('button', { name: 'Cancel prune' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'cancel' && (c.input as { transferId: string }).transferId === prune.transferId)).toBe(true));

    const countsBefore = calls.filter((c) => c.method === 'stats').length;
    await act(async () => finish(ok({ namespace: 'default', planned: 3, pruned: 2, skipped: 1, contentRemoved: 2, bytesFreed: 200, resumed: 0, unreadableRefs: 1 })));
    await waitFor(() => expect(screen.getByTestId('prune-summary').textContent).toBe('Pruned 2 versions from default (2 hashes gone entirely, 200 B freed); 1 version was already gone (deleted meanwhile). 1 ref could not be read, so the versions it names were left alone (run Verify).'));
    expect(calls.filter((c) => c.method === 'stats')).toHaveLength(countsBefore + 1);
    expect(screen.getByText(/Nothing to prune/)).toBeTruthy();
    // A new policy brings a new plan: the last prune's result, about the plan before, goes.
    fireEvent.change(screen.getByLabelText('TTL'), { target: { value: '1s' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save policy' }));
    fireEvent.click(within(screen.getByRole('dialog', { name: 'Confirm TTL' })).getByRole('button', { name: 'Save policy' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'setPolicy')).toBe(true));
    await waitFor(() => expect(screen.queryByTestId('prune-summary')).toBeNull());
  });

  it('a cancelled prune says so in one sentence, as a status and not an error', async () => {
    const { client } = fakeClient({
      policy: () => ok(POLICY),
      prunePlan: () => ok(plan(3)),
      prune: () => fail('cancelled', 'the prune was cancelled after 2 of 3 versions'),
      namespaces: () => ok({ namespaces: [] }),
      namespaceNames: () => ok({ names: [] }),
      entries: () => ok({ entries: [] }),
    });
    const { store } = renderWith(<RetentionPanel />, { client });
    await act(() => store.getState().loadRetention());
    fireEvent.click(screen.getByRole('button', { name: 'Prune 3 versions…' }));
    fireEvent.click(within(screen.getByRole('dialog', { name: 'Confirm prune' })).getByRole('button', { name: 'Prune' }));
    await waitFor(() => expect(screen.getByText('The prune was cancelled after 2 of 3 versions.').getAttribute('role')).toBe('status'));
    expect(screen.queryByRole('alert')).toBeNull();
  });
});

describe('Expired badges', () => {
  const view = (over: Partial<EntryView>): EntryView => ({
    record: { format: 'native', namespace: 'default', hash: 'b94d27b9934d3e08', cache_id: 'b94d27b9934d3e08-v1', version: 1, latest_version: 1, sha256: null, size: 5, content_type: 'text/plain', data_type: 'binary', content_encoding: null, source: 'a.txt', stored_at: '2026-01-01T00:00:00.000Z', details: {}, keys: [], child_data: [] },
    preview: '',
    previewTruncated: false,
    previewVerified: false,
    expired: true,
    expires_at: '2026-01-31T00:00:00.000Z',
    ...over,
  });

  it('a policy saved on the Retention tab reads the entry on show again where it is (it jumped to Browse)', async () => {
    const { client, calls } = fakeClient({ policy: () => ok(POLICY), prunePlan: () => ok(plan(0)), setPolicy: () => ok(POLICY), entry: () => ok(view({ expired: true })), versions: () => ok({ hash: 'b94d27b9934d3e08', versions: [] }) });
    const { store } = renderWith(<RetentionPanel />, { client, state: { tab: 'retention', entry: { status: 'ready', data: view({ expired: false }) } } });
    expect(await act(() => store.getState().setPolicy({ scope: 'namespace', ttl: '1d' }))).toBeNull();
    expect(store.getState().tab).toBe('retention');
    expect(calls.filter((c) => c.method === 'entry')).toHaveLength(1);
    expect(store.getState().entry).toMatchObject({ status: 'ready', data: { expired: true } });
  });

  it('marks expired versions in the versions list', () => {
    const versions: VersionItem[] = [
      { version: 1, cache_id: 'b94d27b9934d3e08-v1', stored_at: '2026-01-01T00:00:00.000Z', size: 5, source: 'a', expired: true, expires_at: '2026-01-31T00:00:00.000Z' },
      { version: 2, cache_id: 'b94d27b9934d3e08-v2', stored_at: '2026-12-01T00:00:00.000Z', size: 5, source: 'a', expired: false, expires_at: '2026-12-31T00:00:00.000Z' },
    ];
    renderWith(<VersionsPanel />, { state: { versions: { status: 'ready', data: { hash: 'b94d27b9934d3e08', versions } } } });
    const rows = within(screen.getByRole('region', { name: 'Versions' }).querySelector('tbody')!).getAllByRole('row');
    expect(rows.map((r) => r.textContent?.includes('expired'))).toEqual([false, true]);
  });

  it('an expired entry withholds its preview and Save until Show anyway, which asks main with allowExpired; Save then asks anyway too', async () => {
    const { client, calls } = fakeClient({
      entry: () => ok(view({ preview: 'aGVsbG8=', previewVerified: true })),
      saveEntry: () => ok({ saved: true }),
    });
    const { store } = renderWith(<EntryPanel />, { client, state: { entry: { status: 'ready', data: view({ withheld: { code: 'expired', message: 'b94d27b9934d3e08-v1 expired at 2026-01-31T00:00:00.000Z' } }) } } });
    expect(screen.getByTestId('entry-expiry').textContent).toContain('expired');
    expect(screen.getByTestId('expired-withheld').textContent).toContain('Expired: b94d27b9934d3e08-v1 expired at');
    expect(screen.queryByLabelText('Preview')).toBeNull();
    // No Save while it is withheld (the bridge refuses an expired download with 410, which a browser drops silently).
    expect(screen.queryByRole('button', { name: 'Save to file…' })).toBeNull();
    expect(screen.getByTestId('expired-withheld').textContent).toContain('Show it anyway to see or save it.');
    fireEvent.click(screen.getByRole('button', { name: 'Show anyway' }));
    await waitFor(() => expect(screen.getByLabelText('Preview').textContent).toBe('hello'));
    expect(screen.getByRole('button', { name: 'Save to file…' })).toBeTruthy();
    expect(calls.find((c) => c.method === 'entry')?.input).toEqual({ namespace: 'default', ref: 'b94d27b9934d3e08-v1', allowExpired: true });
    expect(screen.queryByTestId('expired-withheld')).toBeNull();
    await act(() => store.getState().saveEntry());
    expect(calls.find((c) => c.method === 'saveEntry')?.input).toEqual({ namespace: 'default', ref: 'b94d27b9934d3e08-v1', allowExpired: true });
  });
});
