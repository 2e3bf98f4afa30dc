// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EntriesWindow, EntryListItem, EntryRecord, EntryView, MethodInput } from '../../src-shared/contract';
import { AppContext } from '../state/context';
import { fail, fakeClient, ok, renderWith } from '../test/render';
import { EntriesPanel } from './EntriesPanel';

const hashOf = (i: number) => i.toString(16).padStart(16, '0');
const row = (i: number, over: Partial<EntryListItem> = {}): EntryListItem => ({
  hash: hashOf(i),
  versions: 1,
  stored_at: '2026-11-24T00:00:00.000Z',
  size: i,
  source: `file-${i}.txt`,
  content_type: 'text/plain',
  expired: false,
  expires_at: null,
  content_missing: false,
  ...over,
});

/** Main's side of `entries` over `total` rows (hash order), answering windows and locating hashes as main does. */
function namespaceOf(total: number, over: (i: number) => Partial<EntryListItem> = () => ({})) {
  return (input: MethodInput<'entries'>) => {
    const limit = input.limit ?? 200;
    const asked = input.locate ? parseInt(input.locate, 16) : null;
    const located = asked !== null && asked < total ? asked : null; // a hash past the rows is not listed
    const offset = located !== null ? Math.floor(located / limit) * limit : (input.offset ?? 0);
    const rows = Array.from({ length: Math.max(0, Math.min(limit, total - offset)) }, (_, k) => row(offset + k, over(offset + k)));
    return ok<EntriesWindow>({ namespace: input.namespace, total, knownTotal: total, offset, rows, located, types: ['text/plain'] });
  };
}

beforeEach(() => {
  // happy-dom lays nothing out: give elements the size a window would.
  vi.spyOn(HTMLElement.prototype, 'clientHeight', 'get').mockReturnValue(300);
  vi.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockReturnValue(600);
});
afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const list = () => screen.getByRole('listbox', { name: 'Entry list' });
const active = () => list().getAttribute('aria-activedescendant');

describe('the entries browser', () => {
  it('shows every column, the expired badge (#19) and a content-missing badge, sized to the whole namespace while fetching one block', async () => {
    const { client, calls } = fakeClient({
      entries: namespaceOf(100_000, (i) =>
        i === 0 ? { expired: true, expires_at: '2026-12-01T00:00:00.000Z', versions: 3 } : i === 1 ? { content_missing: true } : i === 3 ? { versions: 0, source: '', content_type: null, stored_at: null } : i === 4 ? { source: 'invoice\u202Egpj.exe\n' } : {},
      ),
    });
    renderWith(<EntriesPanel />, { client });
    await waitFor(() => expect(screen.getByTestId('entries-count').textContent).toBe('100,000 entries'));
    const [first, second, third, fourth, fifth] = await screen.findAllByRole('option');
    expect(first!.textContent).toBe(`${hashOf(0)}expired file-0.txttext/plain0 B32026-11-24 00:00`);
    expect(first!.querySelector('.badge.expired')).not.toBeNull();
    // Content lost from the store: the entry stays listed, and says so.
    expect(second!.textContent).toBe(`${hashOf(1)}content missing file-1.txttext/plain1 B12026-11-24 00:00`);
    expect(third!.textContent).not.toContain('missing');
    // Content no version uses (a store stopped before its record) says what it is, not a blank row.
    expect(fourth!.textContent).toBe(`${hashOf(3)}no version 3 B0`);
    // A bidi override or a new line in a name is shown as an escape: it cannot pass for another name.
    expect(fifth!.querySelector('.name')!.textContent).toBe(' invoice\\u202egpj.exe\\n');
    expect((list().firstElementChild as HTMLElement).style.height).toBe(`${100_000 * 30}px`);
    expect(screen.getAllByRole('option').length).toBeLessThan(100);
    expect(calls.filter((c) => c.method === 'entries').map((c) => (c.input as { offset: number }).offset)).toEqual([0]);
  });

  it('a store gone when the list is refreshed: no rows left waiting as "loading", no count, one short line (the bar above says why)', async () => {
    let gone = false;
    const listed = namespaceOf(14);
    const { client } = fakeClient({ entries: (input) => (gone ? fail('storage_unreachable', 'the store folder /srv/store is missing (moved or deleted)') : listed(input)) });
    renderWith(<EntriesPanel />, { client });
    await waitFor(() => expect(screen.getByTestId('entries-count').textContent).toBe('14 entries'));
    gone = true;
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Refresh' })));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toBe('Not listed: the store is missing or unreachable.'));
    expect(screen.getByTestId('entries-count').textContent).toBe('');
    expect(screen.queryByText(/Loading rows/)).toBeNull();
    expect(screen.queryAllByRole('option')).toEqual([]);
  });

  it('End jumps to the last of 100,000 rows by fetching just that block, and selects it; Home goes back', async () => {
    const { client, calls } = fakeClient({ entries: namespaceOf(100_000) });
    const { store } = renderWith(<EntriesPanel />, { client });
    await screen.findAllByRole('option');
    fireEvent.keyDown(list(), { key: 'End' });
    await waitFor(() => expect(active()).toBe('entry-99999'));
    expect(calls.filter((c) => c.method === 'entries').map((c) => (c.input as { offset: number }).offset)).toEqual([0, 99_800]);
    expect(store.getState().entries.selection).toEqual({ all: false, hashes: [hashOf(99_999)] }); // happy-dom does not scroll: the row itself is not rendered
    fireEvent.keyDown(list(), { key: 'Home' });
    expect(active()).toBe('entry-0');
    fireEvent.keyDown(list(), { key: 'PageDown' }); // a page is the rows that fit: 300 px / 30 px, less one
    expect(active()).toBe('entry-9');
  });

  it('the row of the entry a lookup shows is located by main and selected, even far from the rows fetched', async () => {
    const { client, calls } = fakeClient({ entries: namespaceOf(5000) });
    const { store } = renderWith(<EntriesPanel />, { client });
    await screen.findAllByRole('option');
    const record = { namespace: 'default', hash: hashOf(4321) };
    act(() => store.setState({ entry: { status: 'ready', data: { record } as never } }));
    await waitFor(() => expect(active()).toBe('entry-4321'));
    expect(calls.some((c) => c.method === 'entries' && (c.input as { locate?: string }).locate === hashOf(4321))).toBe(true);
    expect(store.getState().entries.selection).toEqual({ all: false, hashes: [hashOf(4321)] });
  });

  it('sort and filter are asked of main, never done on fetched rows', async () => {
    const { client, calls } = fakeClient({ entries: namespaceOf(50) });
    renderWith(<EntriesPanel />, { client });
    await screen.findAllByRole('option');
    fireEvent.click(screen.getByRole('button', { name: /^Size/ }));
    fireEvent.click(screen.getByRole('button', { name: /^Size/ }));
    fireEvent.change(screen.getByLabelText('Filter by name or hash'), { target: { value: 'file-4' } });
    fireEvent.change(screen.getByLabelText('Smallest size'), { target: { value: '1k' } });
    await waitFor(() => expect(calls.filter((c) => c.method === 'entries').length).toBe(4));
    const asked = calls.filter((c) => c.method === 'entries').map((c) => c.input as MethodInput<'entries'>);
    expect(asked.slice(1, 3).map((i) => [i.sort, i.descending])).toEqual([
      ['size', false],
      ['size', true],
    ]);
    expect(asked[3]!.filter).toMatchObject({ name: 'file-4', minSize: 1024 });
    fireEvent.change(screen.getByLabelText('Largest size'), { target: { value: 'lots' } });
    expect(screen.getByRole('alert').textContent).toContain('A size is a number of bytes');
    // The count beside it is the last filter's: the operator is told so rather than left to read it as this one's.
    expect(screen.getByRole('alert').textContent).toContain('The list and its count are still those of the filter before this one');
    // Past what a number holds exactly, the field says so here; main was sent it and answered in its payload check's words.
    const before = calls.length;
    fireEvent.change(screen.getByLabelText('Largest size'), { target: { value: '' } });
    fireEvent.change(screen.getByLabelText('Smallest size'), { target: { value: '99999999999999999999' } });
    expect(screen.getByRole('alert').textContent).toContain('A size is a number of bytes');
    await act(async () => {});
    expect(calls.slice(before).some((c) => c.method === 'entries' && (c.input as MethodInput<'entries'>).filter?.minSize === 1e20)).toBe(false);
  });

  it("in a layout whose listing has no names, types, sizes or version counts, those columns cannot be sorted by (every row would tie); hash and the listed time can, named for what it is", async () => {
    const { client, calls } = fakeClient({ entries: namespaceOf(50) });
    const service = { profile: 'svc', store: 'local folder /s', conditionalWrites: true, readOnly: false, format: 'mgraph', formatReason: 'found', storeAs: ['bytes'], storeOptions: {}, unlisted: ['name', 'type', 'size', 'versions'], listedTime: 'ref_written' };
    renderWith(<EntriesPanel />, { client, state: { capabilities: { status: 'ready', data: service as never } } });
    await screen.findAllByRole('option');
    for (const name of ['Name', 'Type', 'Size', 'Versions']) {
      const button = screen.getByRole('button', { name: new RegExp(`^${name}`) });
      expect(button).toHaveProperty('disabled', true);
      expect(button.getAttribute('title')).toMatch(/^This layout's listing has no .*: sort by hash or store time$/);
    }
    // The service's listing dates its by-hash refs, not its versions: the column and the date filter say so.
    expect(screen.queryByRole('button', { name: /^Stored/ })).toBeNull();
    expect(screen.getByLabelText('Ref written from (UTC)')).toBeTruthy();
    expect(screen.getByRole('button', { name: /^Ref written/ }).getAttribute('title')).toContain("when each entry's by-hash ref was last written");
    fireEvent.click(screen.getByRole('button', { name: /^Ref written/ }));
    await waitFor(() => expect(calls.filter((c) => c.method === 'entries').map((c) => (c.input as MethodInput<'entries'>).sort)).toEqual(['hash', 'storedAt']));
  });

  it('the date filter takes days as the list shows them, in UTC, on a machine in any time zone', async () => {
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York'; // the list shows 2026-03-01 00:30 (UTC) for what is Feb 28 there
    try {
      const { client, calls } = fakeClient({ entries: namespaceOf(5) });
      renderWith(<EntriesPanel />, { client });
      await screen.findAllByRole('option');
      expect(screen.getByRole('button', { name: /^Stored/ }).getAttribute('title')).toBe('Sort by stored (times in UTC)');
      fireEvent.change(screen.getByLabelText('Stored from (UTC)'), { target: { value: '2026-03-01' } });
      fireEvent.change(screen.getByLabelText('Stored until (UTC)'), { target: { value: '2026-03-01' } });
      await waitFor(() => expect((calls.at(-1)!.input as MethodInput<'entries'>).filter).toMatchObject({ storedFrom: '2026-03-01T00:00:00.000Z', storedTo: '2026-03-01T23:59:59.999Z' }));
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('click, Ctrl+click and Shift+click select; Delete asks first, naming the count, and says what main did', async () => {
    const { client, calls } = fakeClient({
      entries: namespaceOf(20),
      deleteEntries: () => ok({ done: 2, failed: 1, failures: [{ hash: hashOf(2), error: { code: 'conflict', message: 'held by another deleter' } }], skippedExpired: 0, gone: 1, folder: null }),
      namespaces: () => ok({ namespaces: [] }),
      namespaceNames: () => ok({ names: [] }),
      entry: () => new Promise(() => {}),
    });
    const { store } = renderWith(<EntriesPanel />, { client });
    const rows = await screen.findAllByRole('option');
    fireEvent.click(rows[0]!);
    fireEvent.click(rows[2]!, { shiftKey: true });
    await waitFor(() => expect(screen.getByTestId('entries-count').textContent).toBe('20 entries · 3 selected'));
    fireEvent.click(rows[1]!, { ctrlKey: true });
    expect(screen.getByTestId('entries-count').textContent).toBe('20 entries · 2 selected');
    fireEvent.click(screen.getByRole('button', { name: 'Delete…' }));
    const dialog = screen.getByRole('dialog', { name: 'Delete 2 entries' });
    expect(calls.some((c) => c.method === 'deleteEntries')).toBe(false); // asked first
    // A few picked one by one are named, so a slip of the mouse shows.
    expect(within(dialog).getAllByRole('listitem').map((li) => li.textContent)).toEqual([`${hashOf(0)} file-0.txt`, `${hashOf(2)} file-2.txt`]);
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Delete 2 entries' })));
    expect(dialog.isConnected).toBe(false);
    expect(calls.find((c) => c.method === 'deleteEntries')!.input).toEqual({ namespace: 'default', selection: { hashes: [hashOf(0), hashOf(2)] }, transferId: expect.any(String) });
    expect(store.getState().notice).toBe(`Deleted 2 entries from namespace default, 1 already gone (deleted elsewhere), 1 failed (${hashOf(2)}: held by another deleter)`);
    // The notice stays while another namespace opens: it says which one it was about.
    act(() => store.getState().selectNamespace('other'));
    expect(store.getState().notice).toMatch(/^Deleted 2 entries from namespace default,/);
    expect(calls.some((c) => c.method === 'stats' && (c.input as { namespace: string }).namespace === 'default')).toBe(true); // its count follows
  });

  it("Shift+click in another namespace picks from no row of the last one's list: the clicked row alone (was a range from the old row, refused as over 1,000)", async () => {
    const { client } = fakeClient({ entries: namespaceOf(20), entry: () => new Promise(() => {}), namespaces: () => ok({ namespaces: [] }), namespaceNames: () => ok({ names: [] }) });
    const { store } = renderWith(<EntriesPanel />, { client });
    fireEvent.click((await screen.findAllByRole('option'))[15]!);
    act(() => store.getState().selectNamespace('other'));
    await waitFor(() => expect(store.getState().entries.namespace).toBe('other'));
    fireEvent.click((await screen.findAllByRole('option'))[5]!, { shiftKey: true });
    await waitFor(() => expect(store.getState().entries.selection.hashes).toEqual([hashOf(5)]));
    // From there a range works as ever.
    fireEvent.click(screen.getAllByRole('option')[7]!, { shiftKey: true });
    await waitFor(() => expect(screen.getByTestId('entries-count').textContent).toBe('20 entries · 3 selected'));
  });

  it('its size and date filters are there again after another tab (they came back empty, and cleared the filter and the selection)', async () => {
    const { client, calls } = fakeClient({ entries: namespaceOf(20) });
    const { store, rerender } = renderWith(<EntriesPanel />, { client });
    await screen.findAllByRole('option');
    fireEvent.change(screen.getByLabelText('Smallest size'), { target: { value: '1k' } });
    fireEvent.change(screen.getByLabelText('Stored from (UTC)'), { target: { value: '2026-03-01' } });
    await waitFor(() => expect(store.getState().entries.filter).toMatchObject({ minSize: 1024, storedFrom: '2026-03-01T00:00:00.000Z' }));
    act(() => store.getState().setEntrySelection({ all: false, hashes: [hashOf(3)] }));
    const shown = (panel: boolean) => <AppContext.Provider value={{ store, client }}>{panel && <EntriesPanel />}</AppContext.Provider>;
    rerender(shown(false)); // the Retention tab
    rerender(shown(true));
    expect((screen.getByLabelText('Smallest size') as HTMLInputElement).value).toBe('1024');
    expect((screen.getByLabelText('Stored from (UTC)') as HTMLInputElement).value).toBe('2026-03-01');
    const asked = calls.length;
    await new Promise((resolve) => setTimeout(resolve, 400)); // past the filter's pause
    expect(store.getState().entries.filter).toMatchObject({ minSize: 1024, storedFrom: '2026-03-01T00:00:00.000Z' });
    expect(store.getState().entries.selection.hashes).toEqual([hashOf(3)]);
    expect(calls.slice(asked).some((c) => c.method === 'entries' && (c.input as MethodInput<'entries'>).filter?.minSize === undefined)).toBe(false);
  });

  const entryViewOf = (i: number): EntryView => ({
    record: { format: 'native', namespace: 'default', hash: hashOf(i), cache_id: `${hashOf(i)}-v1`, version: 1, latest_version: 1, sha256: null, size: 1, content_type: 'text/plain', data_type: 'binary', content_encoding: null, source: `file-${i}.txt`, stored_at: '2026-11-24T00:00:00.000Z', details: {}, keys: [], child_data: [] },
    preview: 'eA==',
    previewTruncated: false,
    previewVerified: true,
    expired: false,
    expires_at: null,
  });

  it('a bulk delete that took the entry on show clears the entry panel, as a single delete does', async () => {
    let deleted = false;
    const { client } = fakeClient({
      entries: namespaceOf(20),
      deleteEntries: () => ((deleted = true), ok({ done: 1, failed: 0, failures: [], skippedExpired: 0, gone: 0, folder: null })),
      entry: () => (deleted ? { ok: false, error: { code: 'not_found', message: `${hashOf(0)} is not in namespace default` } } : ok(entryViewOf(0))),
      versions: () => ok({ namespace: 'default', hash: hashOf(0), versions: [], count: 0 }),
    });
    const { store } = renderWith(<EntriesPanel />, { client });
    fireEvent.click((await screen.findAllByRole('option'))[0]!); // picked, and opened in the entry panel
    await waitFor(() => expect(store.getState().entry.status).toBe('ready'));
    const shown: string[] = [];
    const stop = store.subscribe((state) => shown.push(state.entry.status));
    await act(() => store.getState().deleteSelectedEntries());
    stop();
    expect(shown).not.toContain('error'); // no red "Nothing found" on the way
    expect(store.getState().notice).toBe('Deleted 1 entry from namespace default');
    expect(store.getState().entry).toEqual({ status: 'idle' });
    expect(store.getState().versions).toEqual({ status: 'idle' });
  });

  it("a bulk delete whose news reached the entry panel first (it showed the entry's miss) clears it too: a red \"Nothing found\" stayed beside \"Deleted 2 entries\"", async () => {
    let deleted = false;
    const missing = { ok: false as const, error: { code: 'not_found' as const, message: `${hashOf(0)} is not in namespace default` } };
    const { client } = fakeClient({
      entries: namespaceOf(20),
      deleteEntries: () => {
        deleted = true;
        // Main's news of the delete, followed before its answer came: the panel shows the entry's miss.
        store.setState({ entry: { status: 'error', error: missing.error } });
        return ok({ done: 2, failed: 0, failures: [], skippedExpired: 0, gone: 0, folder: null });
      },
      entry: () => (deleted ? missing : ok(entryViewOf(0))),
      versions: () => ok({ namespace: 'default', hash: hashOf(0), versions: [], count: 0 }),
    });
    const { store } = renderWith(<EntriesPanel />, { client });
    fireEvent.click((await screen.findAllByRole('option'))[0]!);
    await waitFor(() => expect(store.getState().entry.status).toBe('ready'));
    await act(() => store.getState().deleteSelectedEntries());
    expect(store.getState().entry).toEqual({ status: 'idle' });
  });

  it('seven picks: the delete dialog names the first five and says how many more; picks that go while it is open leave Delete off', async () => {
    const { client } = fakeClient({ entries: namespaceOf(20), entry: () => new Promise(() => {}) });
    const { store } = renderWith(<EntriesPanel />, { client });
    const rows = await screen.findAllByRole('option');
    for (const i of [1, 2, 3, 4, 5, 6, 7]) fireEvent.click(rows[i]!, { ctrlKey: true });
    fireEvent.click(screen.getByRole('button', { name: 'Delete…' }));
    const dialog = screen.getByRole('dialog', { name: 'Delete 7 entries' });
    expect(within(dialog).getAllByRole('listitem').map((li) => li.textContent)).toEqual([1, 2, 3, 4, 5].map((i) => `${hashOf(i)} file-${i}.txt`).concat('and 2 more'));
    act(() => store.getState().setEntrySelection({ all: false, hashes: [] })); // deleted by another window meanwhile
    expect(within(screen.getByRole('dialog')).getByRole('status').textContent).toBe('Nothing is selected any more: the list changed since they were chosen.');
    expect(screen.getByRole('button', { name: 'Delete 0 entries' })).toHaveProperty('disabled', true);
  });

  it("a namespace's first view in a page has main list it afresh (another program's changes show after a reload); coming back to it in the page does not", async () => {
    const { client, calls } = fakeClient({ entries: namespaceOf(5), namespaceNames: () => ok({ names: ['default', 'other'] }), namespaces: () => ok({ namespaces: [] }) });
    const { store } = renderWith(<EntriesPanel />, { client });
    sessionStorage.clear(); // no namespace remembered from an earlier page: it opens on default
    act(() => void store.getState().init()); // the page opening
    await screen.findAllByRole('option');
    const asked = () => calls.filter((c) => c.method === 'entries').map((c) => c.input as MethodInput<'entries'>);
    await waitFor(() => expect(asked()).toContainEqual(expect.objectContaining({ namespace: 'default', refresh: true })));
    expect(asked().filter((input) => input.refresh)).toHaveLength(1); // once: not for the stand-in, then again once the names came
    act(() => store.getState().selectNamespace('other'));
    await waitFor(() => expect(asked().some((input) => input.namespace === 'other')).toBe(true));
    expect(asked().find((input) => input.namespace === 'other')).toMatchObject({ refresh: true });
    const before = asked().length;
    act(() => store.getState().selectNamespace('default'));
    await waitFor(() => expect(asked().length).toBeGreaterThan(before));
    expect(asked().slice(before)).toEqual([expect.objectContaining({ namespace: 'default', refresh: false })]);
  });

  it('a page that reopens on another namespace than default lists only that one afresh, not the stand-in it started on', async () => {
    const { client, calls } = fakeClient({ entries: namespaceOf(5), namespaceNames: () => ok({ names: ['default', 'other'] }), namespaces: () => ok({ namespaces: [] }) });
    sessionStorage.clear();
    sessionStorage.setItem('cache-admin-namespace', 'other');
    const { store } = renderWith(<EntriesPanel />, { client });
    act(() => void store.getState().init());
    await waitFor(() => expect(store.getState().namespace).toBe('other'));
    const asked = () => calls.filter((c) => c.method === 'entries').map((c) => c.input as MethodInput<'entries'>);
    await waitFor(() => expect(asked()).toContainEqual(expect.objectContaining({ namespace: 'other', refresh: true })));
    expect(asked().filter((input) => input.namespace === 'default' && input.refresh)).toEqual([]);
    sessionStorage.clear();
  });

  it('the delete and save dialogs say what becomes of rows listed with no version: their content goes; a save leaves them out', async () => {
    const { client } = fakeClient({ entries: namespaceOf(20, (i) => (i === 3 || i === 5 ? { versions: 0, source: '', stored_at: null } : {})), entry: () => new Promise(() => {}) });
    renderWith(<EntriesPanel />, { client });
    const rows = await screen.findAllByRole('option');
    fireEvent.click(rows[3]!);
    fireEvent.click(rows[5]!, { ctrlKey: true });
    fireEvent.click(screen.getByRole('button', { name: 'Delete…' }));
    let dialog = screen.getByRole('dialog', { name: 'Delete 2 entries' });
    expect(dialog.textContent).toContain('The content of each of the 2 entries goes from default: no version uses it.');
    expect(within(dialog).getAllByRole('listitem').map((li) => li.textContent)).toEqual([`${hashOf(3)} (no version)`, `${hashOf(5)} (no version)`]);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Keep them' }));
    fireEvent.click(rows[2]!, { ctrlKey: true });
    fireEvent.click(screen.getByRole('button', { name: 'Delete…' }));
    dialog = screen.getByRole('dialog', { name: 'Delete 3 entries' });
    expect(dialog.textContent).toContain('Every version of each of the 3 entries goes from default, with its bytes (2 of them are content no version uses, which goes too).');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Keep them' }));
    // Save… takes latest versions: it says before it starts that those rows are left out.
    fireEvent.click(screen.getByRole('button', { name: 'Save…' }));
    expect(screen.getByRole('dialog', { name: 'Save 3 entries' }).textContent).toContain('2 of them have no version, and are left out: content no version uses has no record to save it by');
  });

  it('once Delete is confirmed, Escape no longer closes the dialog and Keep it gives way to Stop: it stays until main has deleted them', async () => {
    let finish = () => {};
    const { client } = fakeClient({
      entries: namespaceOf(5),
      deleteEntries: () => new Promise((resolve) => (finish = () => resolve(ok({ done: 1, failed: 0, failures: [], skippedExpired: 0, gone: 0, folder: null })))),
      namespaces: () => ok({ namespaces: [] }),
      namespaceNames: () => ok({ names: [] }),
      entry: () => new Promise(() => {}),
    });
    const { store } = renderWith(<EntriesPanel />, { client });
    fireEvent.click((await screen.findAllByRole('option'))[0]!);
    fireEvent.click(screen.getByRole('button', { name: 'Delete…' }));
    const dialog = screen.getByRole('dialog', { name: 'Delete 1 entry' });
    // One entry is spoken of as one ("each of the 1 entry" read as a slip).
    expect(dialog.textContent).toContain('Every version of this entry goes from default');
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Delete 1 entry' })));
    expect(within(dialog).queryByRole('button', { name: 'Keep it' })).toBeNull();
    fireEvent.keyDown(dialog, { key: 'Escape' });
    expect(dialog.isConnected).toBe(true);
    expect(screen.getByRole('status').textContent).toContain('Deleting 1 entry');
    await act(async () => finish());
    expect(dialog.isConnected).toBe(false);
    expect(store.getState().notice).toBe('Deleted 1 entry from namespace default');
  });

  it('a bulk delete shows how far main has got, and Stop stops it: the notice says how many went and that the rest are kept', async () => {
    let finish = (_: unknown) => {};
    const { client, calls, emit } = fakeClient({
      entries: namespaceOf(20),
      deleteEntries: () => new Promise((resolve) => (finish = resolve)),
      cancel: () => (finish(fail('cancelled', 'stopped as asked: deleted 7 entries of the 20 picked; the 13 not reached are kept')), ok({ cancelled: true })),
      namespaces: () => ok({ namespaces: [] }),
      namespaceNames: () => ok({ names: [] }),
    });
    const { store } = renderWith(<EntriesPanel />, { client });
    store.getState().init(); // main's events
    await screen.findAllByRole('option');
    act(() => store.getState().setEntrySelection({ all: true, hashes: [] }));
    fireEvent.click(screen.getByRole('button', { name: 'Delete…' }));
    const dialog = screen.getByRole('dialog', { name: 'Delete 20 entries' });
    const confirm = within(dialog).getByRole('button', { name: 'Delete 20 entries' });
    confirm.focus(); // as from the keyboard
    await act(async () => fireEvent.click(confirm));
    const { transferId } = calls.find((c) => c.method === 'deleteEntries')!.input as { transferId: string };
    // Delete went off as it started: focus is on what is happening, not lost behind the dialog (nor on Stop, which a second Enter would press).
    expect(document.activeElement).toBe(within(dialog).getByRole('status'));
    expect(within(dialog).getByRole('heading').textContent).toBe('Deleting 20 entries');
    act(() => store.getState().setEntrySelection({ all: false, hashes: [] })); // another window's change clears the picks: this run is still of 20
    expect(within(dialog).getByRole('status').textContent).toContain('Deleting 20 entries.');
    act(() => emit({ type: 'progress', transferId, phase: 'delete', bytesDone: 6, totalBytes: 20 }));
    expect(within(dialog).getByText('6 of 20 entries done')).toBeTruthy();
    expect(within(dialog).getByRole('progressbar', { name: 'Entries deleted' })).toHaveProperty('value', 6);
    expect(within(dialog).getByRole('status').textContent).toContain('Deleting 20 entries.'); // the live text does not move with each step
    // Another transfer's progress moves nothing here.
    act(() => emit({ type: 'progress', transferId: 'other', phase: 'delete', bytesDone: 19, totalBytes: 20 }));
    expect(within(dialog).getByText('6 of 20 entries done')).toBeTruthy();
    await act(async () => fireEvent.click(within(dialog).getByRole('button', { name: 'Stop' })));
    expect(calls.find((c) => c.method === 'cancel')!.input).toEqual({ transferId });
    expect(dialog.isConnected).toBe(false);
    expect(store.getState().notice).toBe('Deleting in namespace default stopped as asked: deleted 7 entries of the 20 picked; the 13 not reached are kept');
    expect(store.getState().entryDeletion).toBeNull();
  });

  it('a Stop main could not be asked says why and can be pressed again; while stopping it keeps the focus', async () => {
    let answer = fail('storage_unreachable', 'the bridge is gone');
    const { client, calls } = fakeClient({ entries: namespaceOf(20), deleteEntries: () => new Promise(() => {}), cancel: () => answer });
    const { store } = renderWith(<EntriesPanel />, { client });
    fireEvent.click((await screen.findAllByRole('option'))[0]!);
    fireEvent.click(screen.getByRole('button', { name: 'Delete…' }));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Delete 1 entry' })));
    const stop = screen.getByRole('button', { name: 'Stop' });
    await act(async () => fireEvent.click(stop));
    expect(store.getState().notice).toBe('Could not stop deleting: the bridge is gone');
    expect(stop.getAttribute('aria-disabled')).toBe('false');
    answer = ok({ cancelled: true }) as never;
    await act(async () => fireEvent.click(stop));
    expect(calls.filter((c) => c.method === 'cancel')).toHaveLength(2);
    expect(stop.getAttribute('aria-disabled')).toBe('true');
    expect(screen.getByRole('status').textContent).toContain('Stopping: the entries under way finish, the rest are kept.');
    await act(async () => fireEvent.click(stop)); // pressed again while stopping: nothing more is asked
    expect(calls.filter((c) => c.method === 'cancel')).toHaveLength(2);
  });

  it('a bulk delete still running when another window switches store is stopped, and leaves the panel (main stops it too: session.test)', async () => {
    const { client, calls, emit } = fakeClient({ entries: namespaceOf(20), deleteEntries: () => new Promise(() => {}), cancel: () => ok({ cancelled: true }) });
    const local = { profile: 'local', store: 'local folder /s', conditionalWrites: true, readOnly: false, format: 'native', formatReason: 'empty', storeAs: ['bytes'], storeOptions: {}, unlisted: [], listedTime: 'stored' };
    const { store } = renderWith(<EntriesPanel />, { client });
    store.getState().init();
    store.setState({ capabilities: { status: 'ready', data: local as never } });
    fireEvent.click((await screen.findAllByRole('option'))[0]!);
    void store.getState().deleteSelectedEntries();
    const { transferId } = calls.find((c) => c.method === 'deleteEntries')!.input as { transferId: string };
    expect(store.getState().entryDeletion).toMatchObject({ transferId });
    act(() => emit({ type: 'connected', capabilities: { ...local, profile: 'bucket', store: 's3://other' } as never }));
    expect(calls.filter((c) => c.method === 'cancel').map((c) => c.input)).toEqual([{ transferId }]);
    expect(store.getState().entryDeletion).toBeNull();
  });

  it('another namespace or filter starts at its first row, not where the last list was scrolled to', async () => {
    const { client } = fakeClient({ entries: namespaceOf(5_000) });
    const { store } = renderWith(<EntriesPanel />, { client });
    await screen.findAllByRole('option');
    list().scrollTop = 40_000;
    act(() => store.getState().selectNamespace('other'));
    await waitFor(() => expect(store.getState().entries.total).toBe(5_000));
    expect(list().scrollTop).toBe(0);
    list().scrollTop = 40_000;
    fireEvent.change(screen.getByLabelText('Filter by name or hash'), { target: { value: 'file-1' } });
    await waitFor(() => expect(store.getState().entries.filter).toMatchObject({ name: 'file-1' }));
    await waitFor(() => expect(list().scrollTop).toBe(0));
  });

  it('the entry panel follows the row the arrow keys rest on, with one read for it, not one per row passed', async () => {
    const detail = (hash: string) => ok({ record: { namespace: 'default', hash }, preview: '', previewTruncated: false, previewVerified: true, expired: false, expires_at: null });
    const { client, calls } = fakeClient({ entries: namespaceOf(50), entry: (input) => detail(input.ref), versions: () => ok([]) });
    const { store } = renderWith(<EntriesPanel />, { client });
    await screen.findAllByRole('option');
    for (let i = 0; i < 3; i++) fireEvent.keyDown(list(), { key: 'ArrowDown' });
    expect(active()).toBe('entry-3');
    await waitFor(() => expect(store.getState().entry).toMatchObject({ status: 'ready', data: { record: { hash: hashOf(3) } } }));
    expect(calls.filter((c) => c.method === 'entry').map((c) => (c.input as MethodInput<'entry'>).ref)).toEqual([hashOf(3)]);
    expect(store.getState().lookupInput).toBe(hashOf(3));
    expect(store.getState().entries.selection).toEqual({ all: false, hashes: [hashOf(3)] });
    // Shift+arrow picks a range and opens nothing; nor does a row left at once for another control.
    fireEvent.keyDown(list(), { key: 'ArrowDown', shiftKey: true });
    fireEvent.keyDown(list(), { key: 'ArrowDown' });
    fireEvent.blur(list());
    await new Promise((r) => setTimeout(r, 300));
    expect(calls.filter((c) => c.method === 'entry')).toHaveLength(1);
  });

  it('the row picked is what the entry panel is about: a looked-up hash of content no version uses picks its row; one that is not listed picks none, and leaves rows the operator picked', async () => {
    const detail = (hash: string) => ok({ record: { namespace: 'default', hash }, preview: '', previewTruncated: false, previewVerified: true, expired: false, expires_at: null });
    const { client } = fakeClient({
      entries: namespaceOf(50, (i) => (i === 7 ? { versions: 0, source: '', stored_at: null } : {})),
      entry: (input) => (input.ref === hashOf(2) ? detail(hashOf(2)) : fail('not_found', `${input.ref} is not in namespace default`)),
      versions: () => ok({ namespace: 'default', hash: hashOf(7), versions: [], count: 0 }),
    });
    const { store } = renderWith(<EntriesPanel />, { client });
    const rows = await screen.findAllByRole('option');
    fireEvent.click(rows[2]!);
    await waitFor(() => expect(store.getState().entries.selection).toEqual({ all: false, hashes: [hashOf(2)] }));
    await act(() => store.getState().lookup(hashOf(7)));
    await waitFor(() => expect(store.getState().entries.selection).toEqual({ all: false, hashes: [hashOf(7)] }));
    expect(rows[7]!.textContent).toContain('no version'); // no name beside it: the badge says its words
    await act(() => store.getState().lookup('00000000000fffff'));
    await waitFor(() => expect(store.getState().entries.selection).toEqual({ all: false, hashes: [] }));
    // Typing another hash without looking it up picks nothing, and the panel is still about the last lookup.
    act(() => store.getState().setLookupInput(hashOf(7)));
    await new Promise((r) => setTimeout(r, 100));
    expect(store.getState().entries.selection).toEqual({ all: false, hashes: [] });
    fireEvent.click(rows[2]!);
    await waitFor(() => expect(store.getState().entries.selection).toEqual({ all: false, hashes: [hashOf(2)] }));
    fireEvent.click(rows[4]!, { ctrlKey: true });
    await act(() => store.getState().lookup('00000000000fffff'));
    expect(store.getState().entries.selection).toEqual({ all: false, hashes: [hashOf(2), hashOf(4)] });
  });

  it("the shown entry's row stays picked when the list cannot say where it is (a failed or unfinished listing): only a list that does not have it unpicks it", async () => {
    const detail = (hash: string) => ok({ record: { namespace: 'default', hash }, preview: '', previewTruncated: false, previewVerified: true, expired: false, expires_at: null });
    let failing = false;
    const listed = namespaceOf(50);
    const { client } = fakeClient({ entries: (input) => (failing ? fail('storage_unreachable', 'the store is gone for a moment') : listed(input)), entry: (input) => detail(input.ref), versions: () => ok([]) });
    const { store } = renderWith(<EntriesPanel />, { client });
    const rows = await screen.findAllByRole('option');
    fireEvent.click(rows[2]!);
    await waitFor(() => expect(store.getState().entries.selection).toEqual({ all: false, hashes: [hashOf(2)] }));
    failing = true;
    await act(async () => void (await store.getState().refreshEntries()));
    await new Promise((r) => setTimeout(r, 100));
    expect(store.getState().entries.selection).toEqual({ all: false, hashes: [hashOf(2)] });
  });

  it('Ctrl+arrows move focus without selecting, and Space adds the row: rows apart are picked from the keyboard', async () => {
    const { client, calls } = fakeClient({ entries: namespaceOf(50) });
    const { store } = renderWith(<EntriesPanel />, { client });
    await screen.findAllByRole('option');
    fireEvent.keyDown(list(), { key: ' ' });
    for (let i = 0; i < 3; i++) fireEvent.keyDown(list(), { key: 'ArrowDown', ctrlKey: true });
    expect(active()).toBe('entry-3');
    expect(store.getState().entries.selection).toEqual({ all: false, hashes: [hashOf(0)] });
    fireEvent.keyDown(list(), { key: ' ' });
    expect(store.getState().entries.selection).toEqual({ all: false, hashes: [hashOf(0), hashOf(3)] });
    expect(calls.filter((c) => c.method === 'entry')).toHaveLength(0); // focus moves open nothing
  });

  it('an entry read that answers after a newer one does not replace it or pull the list back', async () => {
    const answers: Record<string, (value: unknown) => void> = {};
    const { client } = fakeClient({ entries: namespaceOf(50), entry: (input) => new Promise((resolve) => (answers[input.ref] = resolve)), versions: () => ok([]) });
    const { store } = renderWith(<EntriesPanel />, { client });
    const rows = await screen.findAllByRole('option');
    fireEvent.click(rows[2]!);
    fireEvent.click(rows[5]!);
    const detail = (hash: string) => ok({ record: { namespace: 'default', hash }, preview: '', previewTruncated: false, previewVerified: true, expired: false, expires_at: null });
    await act(async () => answers[hashOf(5)]!(detail(hashOf(5))));
    await act(async () => answers[hashOf(2)]!(detail(hashOf(2)))); // the older read, slower
    expect(store.getState().entry).toMatchObject({ status: 'ready', data: { record: { hash: hashOf(5) } } });
    expect(active()).toBe('entry-5');
    expect(store.getState().entries.selection).toEqual({ all: false, hashes: [hashOf(5)] });
  });

  it('Ctrl+A pressed while a clicked entry is still opening is kept when it opens', async () => {
    const { client, calls } = fakeClient({ entries: namespaceOf(50), entry: () => new Promise(() => {}) });
    const { store } = renderWith(<EntriesPanel />, { client });
    fireEvent.click((await screen.findAllByRole('option'))[3]!);
    fireEvent.keyDown(list(), { key: 'a', ctrlKey: true });
    act(() => store.setState({ entry: { status: 'ready', data: { record: { namespace: 'default', hash: hashOf(3) } } } as never })); // it opens
    await waitFor(() => expect(calls.some((c) => c.method === 'entries' && (c.input as MethodInput<'entries'>).locate === hashOf(3))).toBe(true));
    await act(async () => {}); // main's answer to the locate is in
    expect(screen.getByTestId('entries-count').textContent).toBe('50 entries · 50 selected');
  });

  it('Refresh counts the namespace again too: the sidebar does not keep the old count beside a new list', async () => {
    const { client, calls } = fakeClient({ entries: namespaceOf(22), stats: () => ok({ name: 'default', entries: 22, versions: 22, bytes: 231, objects: 44, shards: {} }) });
    const { store } = renderWith(<EntriesPanel />, { client, state: { namespaces: { status: 'ready', data: [{ name: 'default', entries: 21, versions: 21, bytes: 210 }] } } as never });
    await screen.findAllByRole('option');
    fireEvent.click(screen.getByRole('button', { name: 'Refresh' }));
    await waitFor(() => expect(calls.filter((c) => c.method === 'stats').map((c) => c.input)).toEqual([{ namespace: 'default' }]));
    await waitFor(() => expect(store.getState().namespaces).toMatchObject({ status: 'ready', data: [{ name: 'default', entries: 22 }] }));
  });

  it('rows picked after an entry opened stay picked through a Refresh: the entry on show does not take the selection back', async () => {
    const { client } = fakeClient({ entries: namespaceOf(20), entry: () => new Promise(() => {}) });
    const { store } = renderWith(<EntriesPanel />, { client });
    const rows = await screen.findAllByRole('option');
    fireEvent.click(rows[4]!);
    act(() => store.setState({ entry: { status: 'ready', data: { record: { namespace: 'default', hash: hashOf(4) } } } as never })); // it opens
    await waitFor(() => expect(screen.getByTestId('entries-count').textContent).toBe('20 entries · 1 selected'));
    fireEvent.click(rows[4]!, { ctrlKey: true });
    fireEvent.click(rows[7]!, { ctrlKey: true });
    fireEvent.click(rows[9]!, { ctrlKey: true });
    expect(store.getState().entries.selection).toEqual({ all: false, hashes: [hashOf(7), hashOf(9)] });
    await act(async () => store.getState().refreshEntries());
    await waitFor(() => expect(screen.getByTestId('entries-count').textContent).toBe('20 entries · 2 selected'));
    await act(async () => {}); // the entry on show located again
    expect(store.getState().entries.selection).toEqual({ all: false, hashes: [hashOf(7), hashOf(9)] });
  });

  it('Ctrl+A selects every entry the filter shows (main resolves it); Space toggles one back out; Save offers expired ones', async () => {
    const { client, calls } = fakeClient({ entries: namespaceOf(100_000), saveEntries: () => ok({ done: 5, failed: 0, failures: [], skippedExpired: 99_994, gone: 0, folder: '/home/me/out' }) });
    const { store } = renderWith(<EntriesPanel />, { client });
    await screen.findAllByRole('option');
    fireEvent.keyDown(list(), { key: 'a', ctrlKey: true });
    expect(screen.getByTestId('entries-count').textContent).toBe('100,000 entries · 100,000 selected');
    fireEvent.keyDown(list(), { key: ' ' });
    expect(screen.getByTestId('entries-count').textContent).toBe('100,000 entries · 99,999 selected');
    fireEvent.click(screen.getByRole('button', { name: 'Save…' }));
    fireEvent.click(screen.getByLabelText('Include expired entries'));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Save' })));
    expect(calls.find((c) => c.method === 'saveEntries')!.input).toEqual({ namespace: 'default', selection: { filter: {}, except: [hashOf(0)], count: 99_999 }, includeExpired: true });
    expect(store.getState().notice).toBe('Saved 5 entries of namespace default into /home/me/out, skipped 99,994 expired');
    // Over the bridge, a download: the notice claims no number saved (expired ones, not asked for, are left out).
    client.saveEntries = async () => ok('download' as const);
    fireEvent.click(screen.getByRole('button', { name: 'Save…' }));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Save' })));
    expect(store.getState().notice).toBe(
      'Downloading a tar file of the 99,999 entries picked: any expired, missing or corrupt are left out, and named in its cache-admin-summary.json; content over 16 MiB found corrupt as it is sent stops the download, which the browser then shows as failed',
    );
  });

  it('a Ctrl+A selection is cleared when the list then shows another number (a drop stored one more): it never grows to rows not picked', async () => {
    let total = 3;
    const { client, calls } = fakeClient({ entries: (input) => namespaceOf(total)(input), deleteEntries: () => ok({ done: 3, failed: 0, failures: [], skippedExpired: 0, gone: 0, folder: null }) });
    const { store } = renderWith(<EntriesPanel />, { client });
    await screen.findAllByRole('option');
    fireEvent.keyDown(list(), { key: 'a', ctrlKey: true });
    expect(screen.getByTestId('entries-count').textContent).toBe('3 entries · 3 selected');
    total = 4;
    await act(async () => store.getState().refreshEntries());
    await waitFor(() => expect(screen.getByTestId('entries-count').textContent).toBe('4 entries'));
    expect(store.getState().entries.selection).toEqual({ all: false, hashes: [] });
    expect(calls.some((c) => c.method === 'deleteEntries')).toBe(false);
  });

  it('Ctrl+A while a change is listed again (the last whole listing on show) selects every entry once the new listing is whole, with its count', async () => {
    let total = 7;
    let relisting = true;
    const entries = (input: MethodInput<'entries'>) => {
      const answer = namespaceOf(total)(input);
      return relisting && answer.ok ? ok<EntriesWindow>({ ...answer.value, listing: { listed: 3, waitsForAll: false, previous: true } }) : answer;
    };
    const { store } = renderWith(<EntriesPanel />, { client: fakeClient({ entries }).client });
    await screen.findAllByRole('option');
    expect(screen.getByTestId('entries-listing').textContent).toContain('showing the last full listing');
    fireEvent.keyDown(list(), { key: 'a', ctrlKey: true });
    expect(store.getState().notice).toBeNull(); // not refused
    expect(store.getState().entries.selection.all).toBe(false); // not the old listing's 7
    total = 6; // the change: one entry fewer
    relisting = false;
    await waitFor(() => expect(screen.getByTestId('entries-count').textContent).toBe('6 entries · 6 selected')); // asked again: listed, all of it
  });

  it('while main lists the namespace: the first rows at once with "Listing… N so far", another order shows progress, End waits; then the whole list', async () => {
    const whole = namespaceOf(100_000);
    let listed: number | null = 12_000; // null: the listing is complete
    const entries = (input: MethodInput<'entries'>) => {
      if (listed === null) return whole(input);
      const inOrder = (input.sort ?? 'hash') === 'hash' && !input.descending;
      const offset = input.offset ?? 0;
      const rows = inOrder && offset < 400 ? Array.from({ length: 200 }, (_, k) => row(offset + k)) : [];
      return ok<EntriesWindow>({ namespace: input.namespace, total: listed, knownTotal: listed, offset, rows, located: null, types: [], listing: { listed, waitsForAll: !inOrder } });
    };
    const { client } = fakeClient({ entries });
    const { store } = renderWith(<EntriesPanel />, { client });
    expect((await screen.findAllByRole('option'))[0]!.textContent).toContain(hashOf(0));
    expect(screen.getByTestId('entries-listing').textContent).toBe('Listing… 12,000 so far');
    listed = 40_000;
    await waitFor(() => expect(screen.getByTestId('entries-listing').textContent).toBe('Listing… 40,000 so far')); // asked again
    fireEvent.keyDown(list(), { key: 'End' });
    expect(active()).toBe('entry-0'); // not the last of the rows listed so far
    expect(screen.getByTestId('entries-listing').textContent).toContain('End goes to the last entry once all are listed');
    fireEvent.keyDown(list(), { key: 'a', ctrlKey: true }); // a count of rows listed so far would misreport
    expect(store.getState().entries.selection.all).toBe(false);
    fireEvent.click(screen.getByRole('button', { name: /^Size/ }));
    await waitFor(() => expect(screen.getByTestId('entries-listing').textContent).toBe('Sorting needs the full listing: 40,000 listed'));
    expect(screen.queryByRole('listbox')).toBeNull(); // no order shown that is not the one asked for
    fireEvent.click(screen.getByRole('button', { name: /^Hash/ }));
    await screen.findAllByRole('option');
    fireEvent.keyDown(list(), { key: 'End' });
    listed = null;
    await waitFor(() => expect(screen.getByTestId('entries-count').textContent).toBe('100,000 entries'));
    expect(screen.queryByTestId('entries-listing')).toBeNull();
    await waitFor(() => expect(active()).toBe('entry-99999'));
  });

  it('after a change, the last full listing shows with a note while main lists again, then the new one', async () => {
    const whole = namespaceOf(300);
    let previous = true;
    const entries = (input: MethodInput<'entries'>) => {
      const answer = whole(input);
      return previous && answer.ok ? ok<EntriesWindow>({ ...answer.value, listing: { listed: 120, waitsForAll: false, previous: true } }) : answer;
    };
    const { client } = fakeClient({ entries });
    renderWith(<EntriesPanel />, { client });
    expect((await screen.findAllByRole('option')).length).toBeGreaterThan(0); // rows, not a wait
    expect(screen.getByTestId('entries-listing').textContent).toBe('Changed since it was listed: showing the last full listing while the namespace is listed again…');
    previous = false;
    await waitFor(() => expect(screen.queryByTestId('entries-listing')).toBeNull()); // asked again
    expect(screen.getByTestId('entries-count').textContent).toBe('300 entries');
  });

  it('a store into the namespace on show keeps its rows on screen, with the note, until main answers', async () => {
    const whole = namespaceOf(300);
    let answer: ((w: ReturnType<typeof whole>) => void) | null = null;
    let held = false;
    const entries = (input: MethodInput<'entries'>) => (held ? new Promise<ReturnType<typeof whole>>((resolve) => (answer = () => resolve(whole(input)))) : whole(input));
    const stored = { cache_id: `${'1'.padStart(16, '0')}-v1`, hash: '1'.padStart(16, '0'), version: 1, namespace: 'default', size: 5, source: 'new.txt', deduplicated: false, keys: [] };
    const { client } = fakeClient({ entries, storeFile: () => ok(stored), hashFile: () => ok({ hash: stored.hash, sha256: 'x', size: 5, existing: null }), namespaces: () => ok({ namespaces: [] }) });
    const { store } = renderWith(<EntriesPanel />, { client });
    store.getState().init();
    await screen.findAllByRole('option');
    held = true; // main is slow to answer after the store
    await act(() => store.getState().storeFiles([new File(['hello'], 'new.txt')]));
    await waitFor(() => expect(screen.getByTestId('entries-listing').textContent).toContain('Changed since it was listed'));
    expect(screen.getAllByRole('option').length).toBeGreaterThan(0); // not blanked while main answers
    expect(screen.queryByTestId('entries-count')?.textContent ?? '').not.toMatch(/entries/); // no count that may be stale
    held = false;
    act(() => answer?.(whole({ namespace: 'default', offset: 0, limit: 200 } as MethodInput<'entries'>)));
    await waitFor(() => expect(screen.queryByTestId('entries-listing')).toBeNull());
    expect(screen.getByTestId('entries-count').textContent).toBe('300 entries');
  });

  it("another client's store into the namespace on show brings its row and count without a Refresh; counts follow one namespace at a time, one call in flight", async () => {
    let total = 300;
    const counted: ((answer: unknown) => void)[] = [];
    const { client, calls, emit } = fakeClient({
      entries: (input) => namespaceOf(total)(input),
      namespaces: () => ok({ namespaces: [{ name: 'default', entries: 300, versions: 300, bytes: 3000 }] }),
      namespaceNames: () => ok({ names: ['default'] }),
      stats: () => new Promise((resolve) => counted.push(resolve)),
    });
    const { store } = renderWith(<EntriesPanel />, { client });
    store.getState().init();
    await waitFor(() => expect(screen.getByTestId('entries-count').textContent).toBe('300 entries'));
    await waitFor(() => expect(store.getState().namespaces.status).toBe('ready'));
    const wholeStoreCounts = calls.filter((c) => c.method === 'namespaces').length;
    total = 301;
    // A script's stream of uploads: 20 into the namespace on show, one elsewhere.
    for (let i = 0; i < 20; i++) act(() => emit({ type: 'entriesChanged', namespace: 'default' }));
    act(() => emit({ type: 'entriesChanged', namespace: 'other' }));
    await waitFor(() => expect(screen.getByTestId('entries-count').textContent).toBe('301 entries'));
    await new Promise((resolve) => setTimeout(resolve, 700)); // past the half-second the changes are gathered over
    expect(counted).toHaveLength(1); // one count in flight, whatever else changed meanwhile
    expect(store.getState().namespaces).toMatchObject({ data: [{ name: 'default', entries: 300, recounting: true }] }); // said to be updating
    const counts = (name: string, n: number) => ok({ name, entries: n, versions: n, bytes: n * 10, objects: 2 * n, shards: {} });
    for (let k = 0; k < 3; k++) {
      await waitFor(() => expect(counted.length).toBeGreaterThan(k), { timeout: 5_000 }); // paced: 3 times the last run's length after it
      const namespace = (calls.filter((c) => c.method === 'stats')[k]!.input as { namespace: string }).namespace;
      await act(async () => counted[k]!(namespace === 'default' ? counts('default', 301) : counts('other', 1)));
    }
    expect(calls.filter((c) => c.method === 'stats').map((c) => (c.input as { namespace: string }).namespace)).toEqual(['default', 'default', 'other']);
    expect(store.getState().namespaces).toEqual({ status: 'ready', data: [{ name: 'default', entries: 301, versions: 301, bytes: 3010 }, { name: 'other', entries: 1, versions: 1, bytes: 10 }] });
    expect(store.getState().namespaces).not.toMatchObject({ data: [{ recounting: true }, {}] });
    expect(calls.filter((c) => c.method === 'namespaces')).toHaveLength(wholeStoreCounts); // never a count of the whole store
  }, 15_000);

  it('the entry on show follows a change from elsewhere: deleted there, it says not found here, on the same tab', async () => {
    const record = { format: 'native' as const, namespace: 'default', hash: hashOf(3), cache_id: `${hashOf(3)}-v1`, version: 1, latest_version: 1, sha256: null, size: 10, content_type: 'text/plain', data_type: "string", content_encoding: null, source: "file-3", stored_at: '2026-11-24T00:00:00.000Z', details: {}, keys: [], child_data: [] } satisfies EntryRecord;
    const { client, calls, emit } = fakeClient({
      entries: namespaceOf(20),
      entry: () => fail('not_found', `no version ${hashOf(3)}-v1 in default`),
      versions: () => ok({ versions: [] }),
      stats: () => ok({ name: 'default', entries: 19, versions: 19, bytes: 190, objects: 38, shards: {} }),
    });
    const { store } = renderWith(<EntriesPanel />, { client, state: { tab: 'stats', entry: { status: 'ready', data: { record, preview: '', previewTruncated: false, previewVerified: true, expired: false, expires_at: null } } } });
    store.getState().init();
    act(() => emit({ type: 'entriesChanged', namespace: 'elsewhere' }));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(calls.some((c) => c.method === 'entry')).toBe(false); // another namespace: the entry stands
    act(() => emit({ type: 'entriesChanged', namespace: 'default' }));
    await waitFor(() => expect(store.getState().entry).toMatchObject({ status: 'error', error: { code: 'not_found' } }));
    expect(calls.find((c) => c.method === 'entry')!.input).toEqual({ namespace: 'default', ref: `${hashOf(3)}-v1`, allowExpired: false });
    expect(store.getState().tab).toBe('stats');
  });

  it('an error from main shows inline; an empty namespace and a filter that matches nothing say so', async () => {
    const { client } = fakeClient({ entries: () => fail('throttled', 'slow down') });
    renderWith(<EntriesPanel />, { client });
    expect((await screen.findByRole('alert')).textContent).toContain('slow down');
    cleanup();
    renderWith(<EntriesPanel />, { client: fakeClient({ entries: namespaceOf(0) }).client });
    expect(await screen.findByText('This namespace has no entries yet.')).toBeTruthy();
  });
});
