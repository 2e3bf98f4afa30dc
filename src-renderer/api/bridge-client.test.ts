// @vitest-environment happy-dom
import { afterEach, expect, it, vi } from 'vitest';
import type { CacheAdminEvent } from '../../src-shared/contract';
import { BRIDGE_GONE, bridgeClient } from './bridge-client';

/** The one EventSource the client opens, driven by hand. */
class FakeEventSource {
  static readonly CLOSED = 2;
  static last: FakeEventSource;
  readyState = 0;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onmessage: ((message: { data: string }) => void) | null = null;
  constructor(readonly url: string) {
    FakeEventSource.last = this;
  }
  close() {}
}

afterEach(() => vi.unstubAllGlobals());

it('events are passed on; a reconnect (a page the bridge cut off, a restarted bridge) says anything may have changed meanwhile', () => {
  vi.stubGlobal('EventSource', FakeEventSource);
  const heard: CacheAdminEvent[] = [];
  bridgeClient().onEvent((event) => heard.push(event));
  const source = FakeEventSource.last;
  expect(source.url).toBe('/api/events');
  source.onopen!(); // the first connection
  source.onmessage!({ data: JSON.stringify({ type: 'entriesChanged', namespace: 'docs' }) });
  expect(heard).toEqual([{ type: 'entriesChanged', namespace: 'docs' }]);
  source.onopen!(); // connected again
  expect(heard).toEqual([
    { type: 'entriesChanged', namespace: 'docs' },
    { type: 'entriesChanged', namespace: null },
  ]);
});

it("a restarted bridge's refusal is heard at once, from a call or from the event stream it ended (the browser gives that up unsaid)", async () => {
  vi.stubGlobal('EventSource', FakeEventSource);
  const fetched: string[] = [];
  vi.stubGlobal('fetch', async (url: string) => (fetched.push(url), new Response('{"ok":false}', { status: 401 })));
  const client = bridgeClient();
  const refusals: string[] = [];
  client.onRefused!((error) => refusals.push(`${error.code}: ${error.message}`));
  client.onEvent(() => undefined);
  const source = FakeEventSource.last;
  source.readyState = FakeEventSource.CLOSED; // answered 401 on reconnecting
  source.onerror!();
  await vi.waitFor(() => expect(refusals).toHaveLength(1));
  expect(fetched).toEqual(['/api/call/capabilities']);
  expect(refusals[0]).toBe("unauthorized: the bridge refused this page's token (it was restarted, or its token changed): open the URL it printed");
  expect(await client.api.namespaceNames({})).toEqual({ ok: false, error: { code: 'unauthorized', message: expect.stringContaining('open the URL it printed') } });
  expect(refusals).toHaveLength(2);
  expect(FakeEventSource.last).toBe(source); // not opened again: it would be refused again
});

it('a save whose entry is gone meanwhile says why, and starts no download', async () => {
  const fetched: string[] = [];
  vi.stubGlobal('fetch', async (url: string) => {
    fetched.push(url);
    return new Response(JSON.stringify({ ok: false, error: { code: 'not_found', message: 'no version 8f16e07c32aa6ec4-v1 in default' } }));
  });
  const clicks = vi.spyOn(HTMLAnchorElement.prototype, 'click');
  expect(await bridgeClient().saveEntry('default', '8f16e07c32aa6ec4-v1', false)).toEqual({ ok: false, error: { code: 'not_found', message: 'no version 8f16e07c32aa6ec4-v1 in default' } });
  expect(fetched).toEqual(['/api/call/entry']);
  expect(clicks).not.toHaveBeenCalled();
});

it('a save whose content was lost or damaged since it was shown says why, and starts no download (the browser showed a failed content.json)', async () => {
  const clicks = vi.spyOn(HTMLAnchorElement.prototype, 'click');
  const record = { cache_id: '8f16e07c32aa6ec4-v1' };
  for (const [contentProblem, error] of [
    ['missing', { code: 'not_found', message: 'the content of 8f16e07c32aa6ec4-v1 is missing from the store: nothing was saved (verify reports it)' }],
    ['corrupt', { code: 'corrupt', message: "the content of 8f16e07c32aa6ec4-v1 is corrupt (it does not hash to its entry's hash)" }],
  ] as const) {
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ ok: true, value: { record, contentProblem, preview: '' } })));
    expect(await bridgeClient().saveEntry('default', '8f16e07c32aa6ec4-v1', false)).toEqual({ ok: false, error });
  }
  expect(clicks).not.toHaveBeenCalled();
});

/** A dropped File as Chromium holds it once the file is removed from disk: its size as dropped, its bytes none. */
function removedFile(name: string, size: number): File {
  const file = new File(['x'.repeat(size)], name);
  vi.spyOn(file, 'slice').mockReturnValue(new Blob([]));
  return file;
}

it("a dropped file removed from disk before it was sent fails alone, as the file's failure: not sent at all (in a batch, it went as no bytes and misframed the files after it)", async () => {
  const bodies: { url: string; body: string }[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    const body = init.body instanceof Blob ? await init.body.text() : String(init.body);
    bodies.push({ url, body });
    const names = ['a.txt', 'b.txt', 'c.txt'].filter((name) => body.includes(name)); // the frames' names
    return new Response(JSON.stringify({ ok: true, value: { outcomes: names.map((name) => ({ name, stored: { name } })) } }));
  });
  const client = bridgeClient();
  const gone = removedFile('b.txt', 5);
  const changed = { code: 'io_error', message: 'b.txt changed or was removed after it was dropped, so the browser will not send it: nothing of it was stored; drop it again' };
  expect(await client.storeFile(gone, 'default', 't1', {})).toEqual({ ok: false, error: changed });
  expect(bodies).toEqual([]);
  const files = ['a.txt', 'b.txt', 'c.txt'].map((name) => ({ name, file: name === 'b.txt' ? gone : new File([`${name}\n`], name) }));
  const result = await client.storeBatch(files, 'default', 'd1', {});
  expect(result).toEqual({ ok: true, value: { outcomes: [{ name: 'a.txt', stored: { name: 'a.txt' } }, { name: 'b.txt', error: changed }, { name: 'c.txt', stored: { name: 'c.txt' } }] } });
  expect(bodies).toHaveLength(1);
  expect(bodies[0]!.body).not.toContain('b.txt');
});

it('a file of a batch that changes while the batch is sent fails alone: the batch, of which nothing was stored, goes again without it; a send that fails with no file changed is the bridge gone', async () => {
  const files = ['a.txt', 'b.txt', 'c.txt'].map((name) => ({ name, file: new File([`${name}\n`], name) }));
  const bodies: string[] = [];
  vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
    const body = await (init.body as Blob).text();
    bodies.push(body);
    if (bodies.length === 1) {
      vi.spyOn(files[1]!.file, 'slice').mockReturnValue(new Blob([])); // b.txt changed as it was read for the send
      throw new TypeError('Failed to fetch');
    }
    const names = ['a.txt', 'b.txt', 'c.txt'].filter((name) => body.includes(name));
    return new Response(JSON.stringify({ ok: true, value: { outcomes: names.map((name) => ({ name, stored: { name } })) } }));
  });
  const client = bridgeClient();
  const changed = { code: 'io_error', message: 'b.txt changed or was removed after it was dropped, so the browser will not send it: nothing of it was stored; drop it again' };
  expect(await client.storeBatch(files, 'default', 'd1', {})).toEqual({ ok: true, value: { outcomes: [{ name: 'a.txt', stored: { name: 'a.txt' } }, { name: 'b.txt', error: changed }, { name: 'c.txt', stored: { name: 'c.txt' } }] } });
  expect(bodies).toHaveLength(2);
  expect(bodies[1]).not.toContain('b.txt');

  vi.stubGlobal('fetch', async () => Promise.reject(new TypeError('Failed to fetch')));
  const others = ['d.txt', 'e.txt'].map((name) => ({ name, file: new File([`${name}\n`], name) }));
  expect(await client.storeBatch(others, 'default', 'd2', {})).toEqual({ ok: false, error: BRIDGE_GONE });
});

it('a bridge that stopped is said as that, not as the store missing, and heard at once from the event stream the browser retries; a request cut off while the bridge stays is its own failure', async () => {
  vi.stubGlobal('EventSource', FakeEventSource);
  let bridgeUp = true;
  const fetched: string[] = [];
  vi.stubGlobal('fetch', async (url: string) => {
    fetched.push(url);
    if (!bridgeUp || url === '/api/call/stats') throw new TypeError('Failed to fetch');
    return new Response(JSON.stringify({ ok: true, value: {} }));
  });
  const client = bridgeClient();
  const refusals: unknown[] = [];
  client.onRefused!((error) => refusals.push(error));
  client.onEvent(() => undefined);
  // Cut off while the bridge answers the call that checks: that request's failure, not the bridge's.
  expect(await client.api.stats({ namespace: 'default' })).toEqual({ ok: false, error: { code: 'io_error', message: 'the request was cut off before the bridge answered (Failed to fetch): whether it was done is not known' } });
  expect(fetched).toEqual(['/api/call/stats', '/api/call/capabilities']);
  expect(refusals).toEqual([]);

  bridgeUp = false; // npm run web stopped: the browser retries the stream, and the page hears it with no click
  FakeEventSource.last.onerror!();
  await vi.waitFor(() => expect(refusals).toEqual([BRIDGE_GONE]));
  expect(BRIDGE_GONE).toEqual({ code: 'disconnected', message: 'the bridge has stopped (npm run web is no longer running): start it again and open the URL it prints' });
  expect(await client.api.namespaceNames({})).toEqual({ ok: false, error: BRIDGE_GONE });
});

it('an upload and a batch name the store they were dropped on, so main refuses them once another window has switched store', async () => {
  const urls: string[] = [];
  vi.stubGlobal('fetch', async (url: string) => {
    urls.push(url);
    return new Response(JSON.stringify({ ok: true, value: { outcomes: [] } }));
  });
  const client = bridgeClient();
  const opened = '0b3c9f5e-4a1d-4c2e-9f00-5e6d7c8b9a01';
  await client.storeFile(new File(['a'], 'a.txt'), 'default', 't1', { opened });
  await client.storeBatch([{ name: 'b.txt', file: new File(['b'], 'b.txt') }], 'default', 'd1', { opened });
  expect(urls.map((url) => new URL(url, 'http://bridge').searchParams.get('opened'))).toEqual([opened, opened]);
});
