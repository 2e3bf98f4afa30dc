// Sandboxed preload (bundled as CommonJS): one function per contract method, never ipcRenderer itself.
import { IPC_EVENT_CHANNEL, IPC_GRANT_CHANNEL, IPC_INVOKE_PREFIX, METHOD_NAMES } from '../../src-shared/channels';
import type { CacheAdminEvent, PreloadApi } from '../../src-shared/contract';

interface PreloadElectron {
  contextBridge: { exposeInMainWorld(key: string, api: unknown): void };
  ipcRenderer: {
    invoke(channel: string, payload: unknown): Promise<unknown>;
    on(channel: string, listener: (event: unknown, payload: CacheAdminEvent) => void): void;
    removeListener(channel: string, listener: (event: unknown, payload: CacheAdminEvent) => void): void;
  };
  webUtils: { getPathForFile(file: unknown): string };
}

// A sandboxed preload can only require('electron'); the bundler leaves this call as it is.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { contextBridge, ipcRenderer, webUtils } = require('electron') as PreloadElectron;

const api = Object.fromEntries(METHOD_NAMES.map((method) => [method, (payload: unknown) => ipcRenderer.invoke(IPC_INVOKE_PREFIX + method, payload)]));

const exposed: PreloadApi = {
  ...(api as Omit<PreloadApi, 'onEvent' | 'pathForFile'>),
  onEvent: (listener) => {
    const forward = (_event: unknown, payload: CacheAdminEvent) => listener(payload);
    ipcRenderer.on(IPC_EVENT_CHANNEL, forward);
    return () => ipcRenderer.removeListener(IPC_EVENT_CHANNEL, forward);
  },
  pathForFile: (file) => {
    const chosen = webUtils.getPathForFile(file);
    // Only a File from a real drop or file picker has a path: that is the operator's choice, so main may read it.
    if (chosen) void ipcRenderer.invoke(IPC_GRANT_CHANNEL, chosen);
    return chosen;
  },
};

contextBridge.exposeInMainWorld('cacheAdmin', exposed);
