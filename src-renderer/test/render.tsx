import { render } from '@testing-library/react';
import type { ReactElement } from 'react';
import { METHOD_NAMES } from '../../src-shared/channels';
import type { CacheAdminApi, CacheAdminEvent } from '../../src-shared/contract';
import type { CacheAdminClient } from '../api/client';
import { AppContext } from '../state/context';
import { createAppStore, type AppState } from '../state/store';

/** A client whose methods answer from `answers` (or never, to show loading states). */
export function fakeClient(answers: Partial<{ [M in keyof CacheAdminApi]: (input: Parameters<CacheAdminApi[M]>[0]) => unknown }> = {}) {
  const listeners = new Set<(e: CacheAdminEvent) => void>();
  const calls: { method: string; input: unknown }[] = [];
  const api = Object.fromEntries(
    METHOD_NAMES.map((m) => [
      m,
      async (input: unknown) => {
        calls.push({ method: m, input });
        const answer = (answers as Record<string, ((i: unknown) => unknown) | undefined>)[m];
        return answer ? answer(input) : new Promise(() => {});
      },
    ]),
  ) as unknown as CacheAdminApi;
  const client: CacheAdminClient = {
    api,
    onEvent: (l) => (listeners.add(l), () => listeners.delete(l)),
    hashFile: (file, namespace, transferId, choice) => api.hashFile({ namespace, path: `/drop/${file.name}`, transferId, ...choice }),
    storeFile: (file, namespace, transferId, choice) => api.storeFile({ namespace, path: `/drop/${file.name}`, transferId, ...choice }),
    storeBatch: (files, namespace, dropId, choice) => api.storePaths({ namespace, dropId, files: files.map(({ name }) => ({ path: `/drop/${name}`, name })), ...choice }),
    cancel: (transferId) => api.cancel({ transferId }),
    saveEntry: (namespace, ref, allowExpired) => api.saveEntry({ namespace, ref, allowExpired }) as never,
    saveEntries: (namespace, selection, includeExpired) => api.saveEntries({ namespace, selection, includeExpired }),
  };
  return { client, calls, emit: (e: CacheAdminEvent) => listeners.forEach((l) => l(e)) };
}

export function renderWith(ui: ReactElement, options: { client?: CacheAdminClient; state?: Partial<AppState> } = {}) {
  const client = options.client ?? fakeClient().client;
  const store = createAppStore(client);
  if (options.state) store.setState(options.state);
  const view = render(<AppContext.Provider value={{ store, client }}>{ui}</AppContext.Provider>);
  return { ...view, store, client };
}

export const ok = <T,>(value: T) => ({ ok: true as const, value });
export const fail = (code: string, message: string) => ({ ok: false as const, error: { code, message } });
