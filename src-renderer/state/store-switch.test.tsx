// @vitest-environment happy-dom
import { act, cleanup } from '@testing-library/react';
import { afterEach, expect, it } from 'vitest';
import type { Capabilities } from '../../src-shared/contract';
import { fakeClient, renderWith } from '../test/render';

afterEach(cleanup);

const capabilities = (profile: string, store: string) => ({ status: 'ready' as const, data: { profile, opened: `${profile.padEnd(8, '0').slice(0, 8)}-0000-4000-8000-000000000000`, store, readOnly: false, conditionalWrites: true, format: 'native', formatReason: 'detected', storeAs: ['bytes', 'json'], storeOptions: {}, unlisted: [], listedTime: true } as unknown as Capabilities });

it('a drop names the store it was dropped on, so main can refuse it once another window has switched store', async () => {
  const { client, calls } = fakeClient();
  const { store } = renderWith(<div />, { client, state: { capabilities: capabilities('local-default', 'local folder /srv/cache') } });
  await act(() => store.getState().storeFiles([new File(['hello'], 'a.txt')]));
  expect(calls.find((c) => c.method === 'hashFile')?.input).toMatchObject({ namespace: 'default', opened: capabilities('local-default', '').data.opened });
});

it("another window's switch says what it stopped of this page's: its verify and its prune (the panels only went back to their start)", async () => {
  const { client, emit } = fakeClient();
  const { store } = renderWith(<div />, { client });
  act(() => void store.getState().init());
  store.setState({
    capabilities: capabilities('local-default', 'local folder /srv/cache'),
    // The verify's answer (cancelled by main's switch) came first; the prune's is still on its way.
    verify: { status: 'error', checked: 1234, listed: 2000, transferId: 'v1', scope: 'the whole store', error: { code: 'cancelled', message: 'verify was cancelled after checking 1,234 keys' } },
    retention: { policy: { status: 'idle' }, plan: { status: 'idle' }, prune: { status: 'running', done: 40, transferId: 'p1', namespace: 'logs' } },
  });
  act(() => emit({ type: 'connected', capabilities: capabilities('other', 'local folder /srv/other').data }));
  expect(store.getState().notice).toBe(
    'Another window switched to local folder /srv/other: every panel here now shows that store; the verify of the whole store this page ran was stopped after 1,234 keys checked; the prune of logs this page ran was stopped after 40 versions (what it pruned stays pruned).',
  );
  expect(store.getState().verify.status).toBe('idle');
});
