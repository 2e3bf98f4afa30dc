import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import type { PreloadApi } from '../src-shared/contract';
import { bridgeClient } from './api/bridge-client';
import { preloadClient } from './api/preload-client';
import { App } from './App';
import { AppContext } from './state/context';
import { createAppStore } from './state/store';
import './styles.css';

// Electron's preload exposes `cacheAdmin`; in a browser the same contract goes over the bridge.
const preload = (window as unknown as { cacheAdmin?: PreloadApi }).cacheAdmin;
const client = preload ? preloadClient(preload) : bridgeClient();
const savedTheme = (() => {
  try {
    return localStorage.getItem('cache-admin-theme');
  } catch {
    return null;
  }
})();
const store = createAppStore(client, { theme: savedTheme === 'light' || savedTheme === 'dark' ? savedTheme : 'system' });

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <AppContext.Provider value={{ store, client }}>
      <App />
    </AppContext.Provider>
  </StrictMode>,
);
