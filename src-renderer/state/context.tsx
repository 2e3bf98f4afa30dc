import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import type { CacheAdminClient } from '../api/client';
import type { AppActions, AppState, AppStore } from './store';

export const AppContext = createContext<{ store: AppStore; client: CacheAdminClient } | null>(null);

function useAppContext() {
  const context = useContext(AppContext);
  if (!context) throw new Error('used outside <AppContext.Provider>');
  return context;
}

/** Reads from the app store. */
export function useApp<T>(selector: (state: AppState & AppActions) => T): T {
  return useStore(useAppContext().store, selector);
}

/** The contract client, for components that page through data of their own (the key tree). */
export function useClient(): CacheAdminClient {
  return useAppContext().client;
}
