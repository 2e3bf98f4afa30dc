// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { EntryView } from '../../src-shared/contract';
import { fail, fakeClient, ok, renderWith } from '../test/render';
import { EntryPanel, VersionsPanel } from './EntryPanel';
import { emptyEntries } from '../state/entries-browser';

afterEach(cleanup);

const PNG_HEAD = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function imageView(size: number, shown: number, truncated: boolean, contentType = 'image/png'): EntryView {
  const bytes = new Uint8Array(shown).map((_, i) => PNG_HEAD[i] ?? i % 251);
  return {
    record: {
      format: 'native',
      namespace: 'default',
      hash: 'b94d27b9934d3e08',
      cache_id: 'b94d27b9934d3e08-v1',
      version: 1,
      latest_version: 1,
      sha256: null,
      size,
      content_type: contentType,
      data_type: 'binary',
      content_encoding: null,
      source: 'photo.png',
      stored_at: '2026-11-24T00:00:00.000Z',
      details: {},
      keys: [],
      child_data: [],
    },
    preview: btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join('')),
    previewTruncated: truncated,
    previewVerified: !truncated,
    expired: false,
    expires_at: null,
  };
}

describe('Entry preview of images (issue #17)', () => {
  it('an image over 64 KiB sent whole is shown as an image, verified, with no "first … of" heading', () => {
    renderWith(<EntryPanel />, { state: { entry: { status: 'ready', data: imageView(200 * 1024, 200 * 1024, false) } } });
    const image = screen.getByRole('img', { name: 'Preview of b94d27b9934d3e08-v1' }) as HTMLImageElement;
    expect(image.src.startsWith('data:image/png;base64,iVBORw0KGgo')).toBe(true);
    expect(screen.getByRole('heading', { name: /^Preview/ }).textContent).toBe('Previewverified');
  });

  it('an image too big to preview says so with its size and offers Save, never a hex dump of its start', () => {
    const { client, calls } = fakeClient({ saveEntry: () => ok({ saved: true }) });
    renderWith(<EntryPanel />, { client, state: { namespace: 'default', entry: { status: 'ready', data: imageView(5 * 1024 * 1024, 64 * 1024, true) } } });
    expect(screen.queryByRole('img')).toBeNull();
    expect(screen.queryByLabelText('Preview')).toBeNull();
    expect(screen.getByTestId('preview-too-big').textContent).toContain('Too big to preview: 5.0 MiB (images up to 4.0 MiB are shown).');
    fireEvent.click(screen.getByRole('button', { name: 'Save instead…' }));
    expect(calls.find((c) => c.method === 'saveEntry')?.input).toEqual({ namespace: 'default', ref: 'b94d27b9934d3e08-v1', allowExpired: false });
  });

  it('bytes named .png that are no image the window can draw are shown as bytes, saying so, not as a broken image', () => {
    const view = imageView(11, 11, false);
    view.preview = btoa('hello world');
    renderWith(<EntryPanel />, { state: { entry: { status: 'ready', data: view } } });
    fireEvent.error(screen.getByRole('img', { name: 'Preview of b94d27b9934d3e08-v1' }));
    expect(screen.queryByRole('img')).toBeNull();
    expect(screen.getByTestId('not-an-image').textContent).toBe('Not an image this window can draw, although its name says image/png: its bytes are shown instead.');
    expect(screen.getByLabelText('Preview').textContent).toBe('hello world');
  });

  it.each([
    ['text/plain', 'empty.txt'],
    ['image/png', 'empty.png'],
  ])('empty content (%s) says it is empty, not a blank box or a broken image', (contentType, source) => {
    const view = imageView(0, 0, false, contentType);
    view.record = { ...view.record, source };
    renderWith(<EntryPanel />, { state: { entry: { status: 'ready', data: view } } });
    expect(screen.getByTestId('preview-empty').textContent).toBe('Empty: this version holds no bytes.');
    expect(screen.queryByRole('img')).toBeNull();
    expect(screen.queryByLabelText('Preview')).toBeNull();
  });

  it('SVG (a document that can hold script) is previewed as text, not drawn', () => {
    const view = imageView(40, 0, false, 'image/svg+xml');
    view.preview = btoa('<svg xmlns="http://www.w3.org/2000/svg"/>');
    renderWith(<EntryPanel />, { state: { entry: { status: 'ready', data: view } } });
    expect(screen.queryByRole('img')).toBeNull();
    expect(screen.getByLabelText('Preview').textContent).toBe('<svg xmlns="http://www.w3.org/2000/svg"/>');
  });
});

describe('A version whose number is unknown (its hash\'s list of versions is missing or unreadable)', () => {
  it('says so, and how to mend it, instead of "Version 0 latest" and "No versions."', () => {
    const view = imageView(10, 10, false);
    view.record = { ...view.record, format: 'mgraph', cache_id: 'c5379289-113b-4c33-96ac-ad1364ba4a71', version: 0, latest_version: 0 };
    renderWith(
      <>
        <EntryPanel />
        <VersionsPanel />
      </>,
      { state: { entry: { status: 'ready', data: view }, versions: { status: 'ready', data: { namespace: 'default', hash: view.record.hash, versions: [] } as never } } },
    );
    expect(screen.getByTestId('version-unknown').textContent).toMatch(/^unknown: no readable list of this hash's versions names it/);
    expect(screen.queryByText('latest')).toBeNull();
    expect(screen.getByText(/^No readable list of this hash’s versions: Verify reports why, and repair rebuilds it\.$/)).toBeTruthy();
  });
});

describe('The delete question', () => {
  it('says what goes in any layout: the content unless another version uses it, and the child data with its count', () => {
    const view = imageView(10, 10, false);
    view.record = { ...view.record, child_data: [{ key: 'a/data/note.txt', size: 3 }, { key: 'a/data/b.json', size: 2 }] };
    renderWith(<EntryPanel />, { state: { entry: { status: 'ready', data: view } } });
    fireEvent.click(screen.getByRole('button', { name: 'Delete…' }));
    expect(screen.getByRole('alertdialog', { name: 'Delete entry' }).querySelector('p')!.textContent).toBe(
      'Delete b94d27b9934d3e08-v1 from default? Its content goes with it unless another version still uses it, and so does its child data (2 files). This cannot be undone.',
    );
  });
});

describe('Deleting from the entry panel, by keyboard', () => {
  it('Delete… asks with focus on Keep; Escape closes the question and gives focus back to Delete…, nothing deleted', () => {
    const { client, calls } = fakeClient({});
    renderWith(<EntryPanel />, { client, state: { namespace: 'default', entry: { status: 'ready', data: imageView(40, 40, false) } } });
    const deleteButton = screen.getByRole('button', { name: 'Delete…' });
    fireEvent.click(deleteButton);
    const question = screen.getByRole('alertdialog', { name: 'Delete entry' });
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Keep' }));
    fireEvent.keyDown(question, { key: 'Escape' });
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(document.activeElement).toBe(deleteButton);
    expect(calls.some((c) => c.method.startsWith('delete'))).toBe(false);
  });

  it('deleting the entry on show (its last version) puts focus on the entries list, not the page', async () => {
    const { client } = fakeClient({ delete: () => ok({ deleted: ['b94d27b9934d3e08-v1'], contentRemoved: true, bytesFreed: 5120 }) });
    const { store } = renderWith(
      <>
        <div role="listbox" aria-label="Entry list" tabIndex={0} />
        <EntryPanel />
      </>,
      { client, state: { namespace: 'default', entry: { status: 'ready', data: imageView(40, 40, false) } } },
    );
    fireEvent.click(screen.getByRole('button', { name: 'Delete…' }));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Delete v1' })));
    await waitFor(() => expect(document.activeElement).toBe(screen.getByRole('listbox', { name: 'Entry list' })));
    expect(screen.queryByRole('button', { name: 'Delete…' })).toBeNull();
    // Said as the CLI says it: what went, and the bytes it freed.
    expect(store.getState().notice).toBe('Deleted b94d27b9934d3e08-v1: no version of it is left, 5.0 KiB freed');
  });

  it('a delete that finds the entry gone (deleted by another program) says so, and the panel and counts follow the store', async () => {
    const { client, calls } = fakeClient({
      delete: () => ({ ok: false, error: { code: 'not_found', message: 'b94d27b9934d3e08 is not in namespace default' } }),
      entry: () => ({ ok: false, error: { code: 'not_found', message: 'b94d27b9934d3e08 is not in namespace default' } }),
      versions: () => ({ ok: false, error: { code: 'not_found', message: 'b94d27b9934d3e08 is not in namespace default' } }),
      stats: () => ok({ name: 'default', entries: 0, versions: 0, bytes: 0, objects: 0, shards: {} }),
      entries: () => ok({ namespace: 'default', total: 0, knownTotal: 0, offset: 0, rows: [], located: null, types: [] }),
    });
    const { store } = renderWith(<EntryPanel />, { client, state: { namespace: 'default', entry: { status: 'ready', data: imageView(40, 40, false) } } });
    fireEvent.click(screen.getByRole('button', { name: 'Delete…' }));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Delete v1' })));
    expect(store.getState().notice).toBe('Could not delete: b94d27b9934d3e08 is not in namespace default');
    await waitFor(() => expect(store.getState().entry).toMatchObject({ status: 'error', error: { code: 'not_found' } }));
    expect(calls.filter((c) => c.method === 'stats').map((c) => c.input)).toEqual([{ namespace: 'default' }]);
  });
});

/** The entry panel beside the versions list, on namespace `default`. */
function renderEntryAndVersions(client: ReturnType<typeof fakeClient>['client']) {
  return renderWith(
    <>
      <EntryPanel />
      <VersionsPanel />
    </>,
    { client, state: { namespace: 'default' } },
  );
}

describe('A listed version that would not open (its record damaged, or gone with its listing left)', () => {
  const item = (version: number) => ({ version, cache_id: `b94d27b9934d3e08-v${version}`, stored_at: '2026-11-24T00:00:00.000Z', size: 40, source: 'photo.png', expired: false, expires_at: null });
  const latest = () => {
    const view = imageView(40, 40, false);
    view.record = { ...view.record, cache_id: 'b94d27b9934d3e08-v2', version: 2, latest_version: 2 };
    return view;
  };

  it.each([
    ['corrupt', 'version record default/objects/b9/4d/b94d27b9934d3e08.v00000001.json is damaged (not JSON)', 'its record is damaged'],
    ['not_found', 'b94d27b9934d3e08-v1 is not in namespace default (b94d27b9934d3e08 is there: its newest version is v2)', 'has no record'],
  ])('%s: the versions stay listed and the panel offers to delete it, which deletes that version only', async (code, message, said) => {
    let deleted = false;
    const { client, calls } = fakeClient({
      entry: ({ ref }) => (ref === 'b94d27b9934d3e08-v1' ? { ok: false, error: { code, message } } : ok(latest())),
      versions: () => ok({ namespace: 'default', hash: 'b94d27b9934d3e08', versions: deleted ? [item(2)] : [item(1), item(2)], count: deleted ? 1 : 2 }),
      delete: () => ((deleted = true), ok({ deleted: ['b94d27b9934d3e08-v1'], contentRemoved: false, bytesFreed: 0 })),
    });
    const { store } = renderEntryAndVersions(client);
    await act(() => store.getState().lookup('b94d27b9934d3e08'));
    fireEvent.click(screen.getByText('b94d27b9934d3e08-v1'));
    await waitFor(() => expect(screen.getByTestId('unopened-version').textContent).toContain(`v1 is listed among the versions but ${said}`));
    expect(screen.getAllByRole('row')).toHaveLength(3); // the versions are still on show, header and two
    fireEvent.click(screen.getByRole('button', { name: 'Delete v1…' }));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Delete v1' })));
    expect(calls.filter((c) => c.method === 'delete').map((c) => c.input)).toEqual([{ namespace: 'default', ref: 'b94d27b9934d3e08-v1' }]);
    expect(store.getState().notice).toBe('Deleted b94d27b9934d3e08-v1: the other versions stay');
    await waitFor(() => expect(store.getState().entry).toMatchObject({ status: 'ready', data: { record: { version: 2 } } }));
    expect(screen.getAllByRole('row')).toHaveLength(2);
  });

  it('Delete all N refused as changed since shown (another program stored one) reads the versions again: the question then names them all', async () => {
    let storedElsewhere = false;
    const { client, calls } = fakeClient({
      entry: ({ ref }) => (ref === 'b94d27b9934d3e08-v1' ? { ok: false, error: { code: 'corrupt', message: 'version record is damaged (not JSON)' } } : ok(latest())),
      versions: () => ok({ namespace: 'default', hash: 'b94d27b9934d3e08', versions: storedElsewhere ? [item(1), item(2), item(3)] : [item(1), item(2)], count: storedElsewhere ? 3 : 2 }),
      delete: () => fail('conflict', 'b94d27b9934d3e08 changed since it was shown (3 versions now, 2 shown): nothing of it was deleted; look at its versions again'),
    });
    const { store } = renderEntryAndVersions(client);
    await act(() => store.getState().lookup('b94d27b9934d3e08'));
    fireEvent.click(screen.getByText('b94d27b9934d3e08-v1'));
    await waitFor(() => expect(screen.getByTestId('unopened-version')).toBeTruthy());
    storedElsewhere = true;
    fireEvent.click(screen.getByRole('button', { name: 'Delete v1…' }));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Delete all 2 versions' })));
    expect(calls.filter((c) => c.method === 'delete').map((c) => c.input)).toEqual([{ namespace: 'default', ref: 'b94d27b9934d3e08', shown: { versions: 2, version: 2, storedAt: '2026-11-24T00:00:00.000Z' } }]);
    expect(store.getState().notice).toMatch(/^Could not delete: b94d27b9934d3e08 changed since it was shown/);
    await waitFor(() => expect(screen.getAllByRole('row')).toHaveLength(4)); // header and three
    fireEvent.click(screen.getByRole('button', { name: 'Delete v1…' }));
    expect(screen.getByRole('button', { name: 'Delete all 3 versions' })).toBeTruthy();
  });

  it('a hash whose newest record is damaged keeps its versions in reach: the older one opens, the damaged one offers its delete', async () => {
    const older = () => {
      const view = imageView(40, 40, false);
      view.record = { ...view.record, cache_id: 'b94d27b9934d3e08-v1', version: 1, latest_version: 2 };
      return view;
    };
    const damaged = { ok: false, error: { code: 'corrupt', message: 'version record default/objects/b9/4d/b94d27b9934d3e08.v00000002.json is damaged (is not JSON)' } };
    const { client } = fakeClient({
      entry: ({ ref }) => (ref === 'b94d27b9934d3e08-v1' ? ok(older()) : damaged),
      versions: () => ok({ namespace: 'default', hash: 'b94d27b9934d3e08', versions: [item(1), item(2)], count: 2 }),
    });
    const { store } = renderEntryAndVersions(client);
    await act(() => store.getState().lookup('b94d27b9934d3e08'));
    expect(screen.getByRole('alert').textContent).toContain('is damaged');
    expect(screen.getByTestId('other-versions').textContent).toContain('open another from there');
    expect(screen.getAllByRole('row')).toHaveLength(3);
    fireEvent.click(screen.getByText('b94d27b9934d3e08-v1'));
    await waitFor(() => expect(store.getState().entry).toMatchObject({ status: 'ready', data: { record: { version: 1 } } }));
    fireEvent.click(screen.getByText('b94d27b9934d3e08-v2'));
    await waitFor(() => expect(screen.getByRole('button', { name: 'Delete v2…' })).toBeTruthy());
    expect(screen.getByTestId('unopened-version').textContent).toContain('v2 is listed among the versions but its record is damaged');
  });
});

describe('A listed row of content no version uses (a store stopped before its record)', () => {
  const hash = 'b94d27b9934d3e08';
  const row = { hash, versions: 0, stored_at: null, size: 2048, source: '', content_type: null, expired: false, expires_at: null, content_missing: false };
  const entries = { ...emptyEntries('default'), status: 'ready' as const, total: 1, knownTotal: 1, blocks: { 0: [row] } };

  it('opens to say what it is and offers to delete the content, which deletes it by its hash', async () => {
    const { client, calls } = fakeClient({
      entry: () => ({ ok: false, error: { code: 'not_found', message: `${hash} is not in namespace default` } }),
      versions: () => ok({ namespace: 'default', hash, versions: [], count: 0 }),
      delete: () => ok({ deleted: [], contentRemoved: true, bytesFreed: 2048 }),
    });
    const { store } = renderWith(<EntryPanel />, { client, state: { namespace: 'default', entries } });
    await act(() => store.getState().lookup(hash));
    expect(screen.getByTestId('unversioned-content').textContent).toContain(`${hash} is content (2.0 KiB) that no version uses`);
    expect(screen.queryByText(/Nothing found/)).toBeNull();
    fireEvent.click(screen.getByRole('button', { name: 'Delete the content…' }));
    expect(screen.getByRole('alertdialog').textContent).toContain(`Delete the content of ${hash} from default? No version uses it.`);
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Delete the content' })));
    expect(calls.filter((c) => c.method === 'delete').map((c) => c.input)).toEqual([{ namespace: 'default', ref: hash, unversioned: true }]);
    expect(store.getState().notice).toBe(`Deleted the content of ${hash}, which no version used, 2.0 KiB freed`);
    expect(store.getState().entry).toEqual({ status: 'idle' });
  });

  it('a hash typed that no listed row shows is simply not found: nothing to delete is offered', async () => {
    const { client } = fakeClient({
      entry: () => ({ ok: false, error: { code: 'not_found', message: `${hash} is not in namespace default` } }),
      versions: () => ok({ namespace: 'default', hash, versions: [], count: 0 }),
    });
    const { store } = renderWith(<EntryPanel />, { client, state: { namespace: 'default', entries: { ...entries, blocks: { 0: [{ ...row, versions: 1 }] } } } });
    await act(() => store.getState().lookup(hash));
    expect(screen.getByRole('alert').textContent).toContain('Nothing found');
    expect(screen.queryByRole('button', { name: /Delete/ })).toBeNull();
  });

  it('typed in the box but not looked up, it offers nothing: the panel is about the last lookup', async () => {
    const { client } = fakeClient({
      entry: () => ({ ok: false, error: { code: 'not_found', message: 'ffffffffffffffff is not in namespace default' } }),
      versions: () => ok({ namespace: 'default', hash: 'ffffffffffffffff', versions: [], count: 0 }),
    });
    const { store } = renderWith(<EntryPanel />, { client, state: { namespace: 'default', entries } });
    await act(() => store.getState().lookup('ffffffffffffffff'));
    act(() => store.getState().setLookupInput(hash));
    expect(screen.queryByTestId('unversioned-content')).toBeNull();
    expect(screen.queryByRole('button', { name: /Delete/ })).toBeNull();
  });
});

describe('Deleting a middle version where versions are numbered by position (the service layout)', () => {
  const ids = ['0f8a3c2e-5b1d-4e6f-9a7b-1c2d3e4f5a61', '0f8a3c2e-5b1d-4e6f-9a7b-1c2d3e4f5a62', '0f8a3c2e-5b1d-4e6f-9a7b-1c2d3e4f5a63', '0f8a3c2e-5b1d-4e6f-9a7b-1c2d3e4f5a64'];
  const item = (cache_id: string, version: number) => ({ version, cache_id, stored_at: '2026-11-24T00:00:00.000Z', size: 40, source: 'photo.png', expired: false, expires_at: null });
  const view = (cache_id: string, version: number, latest: number) => {
    const shown = imageView(40, 40, false);
    shown.record = { ...shown.record, format: 'mgraph', cache_id, version, latest_version: latest };
    return shown;
  };

  it('the notice says which versions now carry another number, as the list shows them', async () => {
    let remaining = ids;
    const { client } = fakeClient({
      entry: ({ ref }) => {
        const at = remaining.indexOf(ref);
        return ok(at >= 0 ? view(ref, at + 1, remaining.length) : view(remaining.at(-1)!, remaining.length, remaining.length));
      },
      versions: () => ok({ namespace: 'default', hash: 'b94d27b9934d3e08', versions: remaining.map((id, i) => item(id, i + 1)), count: remaining.length }),
      delete: ({ ref }) => ((remaining = remaining.filter((id) => id !== ref)), ok({ deleted: [ref], contentRemoved: false, bytesFreed: 0 })),
    });
    const { store } = renderEntryAndVersions(client);
    await act(() => store.getState().lookup(ids[1]));
    await act(() => store.getState().deleteEntry('version'));
    expect(store.getState().notice).toBe(`Deleted ${ids[1]}: the other versions stay, numbered anew: v3 is now v2, v4 is now v3`);
    await waitFor(() => expect(screen.getAllByRole('row')).toHaveLength(4));
  });

  it('says nothing more where the numbers stay (the native layout)', async () => {
    let remaining = [1, 2, 3];
    const native = (v: number) => `b94d27b9934d3e08-v${v}`;
    const { client } = fakeClient({
      entry: ({ ref }) => ok(view(ref.includes('-v') ? ref : native(remaining.at(-1)!), ref.includes('-v') ? Number(ref.split('-v')[1]) : remaining.at(-1)!, remaining.at(-1)!)),
      versions: () => ok({ namespace: 'default', hash: 'b94d27b9934d3e08', versions: remaining.map((v) => item(native(v), v)), count: remaining.length }),
      delete: ({ ref }) => ((remaining = remaining.filter((v) => native(v) !== ref)), ok({ deleted: [ref], contentRemoved: false, bytesFreed: 0 })),
    });
    const { store } = renderEntryAndVersions(client);
    await act(() => store.getState().lookup(native(2)));
    await act(() => store.getState().deleteEntry('version'));
    expect(store.getState().notice).toBe('Deleted b94d27b9934d3e08-v2: the other versions stay');
  });
});

describe('A SHA-256 that matches nothing', () => {
  it('lists no versions: another content may share its first 16 digits (they are not its versions)', async () => {
    const sha256 = `b94d27b9934d3e08${'0'.repeat(48)}`;
    const { client, calls } = fakeClient({
      entry: () => ({ ok: false, error: { code: 'not_found', message: `no version of b94d27b9934d3e08 has the SHA-256 ${sha256}` } }),
      versions: () => ok({ namespace: 'default', hash: 'b94d27b9934d3e08', versions: [], count: 0 }),
    });
    const { store } = renderEntryAndVersions(client);
    await act(() => store.getState().lookup(sha256));
    expect(screen.getByRole('alert').textContent).toContain('Nothing found');
    expect(calls.filter((c) => c.method === 'versions')).toEqual([]);
    expect(screen.queryByTestId('other-versions')).toBeNull();
  });

  it('but one whose newest record is damaged keeps its versions in reach, as a hash does', async () => {
    const sha256 = `b94d27b9934d3e08${'0'.repeat(48)}`;
    const { client } = fakeClient({
      entry: () => ({ ok: false, error: { code: 'corrupt', message: 'version record default/objects/b9/4d/b94d27b9934d3e08.v00000002.json is damaged (is not JSON)' } }),
      versions: () => ok({ namespace: 'default', hash: 'b94d27b9934d3e08', versions: [1, 2].map((v) => ({ version: v, cache_id: `b94d27b9934d3e08-v${v}`, stored_at: '2026-11-24T00:00:00.000Z', size: 40, source: 'a.txt', expired: false, expires_at: null })), count: 2 }),
    });
    const { store } = renderEntryAndVersions(client);
    await act(() => store.getState().lookup(sha256));
    await waitFor(() => expect(screen.getByTestId('other-versions')).toBeTruthy());
  });
});
