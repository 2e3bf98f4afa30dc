// @vitest-environment happy-dom
import { afterEach, expect, it, vi } from 'vitest';
import type { CacheAdminEvent } from '../../src-shared/contract';
import { bridgeClient } from './bridge-client';

/** The one EventSource the client opens, driven by hand. */
class FakeEventSource {
  static last: FakeEventSource;
  onopen: (() => void) | null = null;
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
