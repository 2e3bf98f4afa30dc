// Electron entry: wires the core to windows. Everything testable lives in the modules it imports.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IPC_EVENT_CHANNEL, IPC_GRANT_CHANNEL } from '../../src-shared/channels';
import { maxEntryBytesOf } from '../cli/store-options';
import { storeWorkerBeside } from '../cli/store-files';
import { createDispatcher } from '../ipc/dispatch';
import { PathGrants } from '../ipc/path-grants';
import { AppSession } from '../ipc/session';
import { ProfileStore } from '../profiles/profiles';
import { APP_PAGE_URL, APP_SCHEME, APP_SCHEME_PRIVILEGES, appProtocolHandler } from './app-protocol';
import type { ElectronMain } from './electron-api';
import { registerIpc } from './ipc';
import { safeStorageBox } from './safe-storage-box';
import { WindowRegistry, createMainWindow, hardenSession, lockDownContents } from './window';

const electron = createRequire(import.meta.url)('electron') as ElectronMain;
const { app } = electron;
const here = path.dirname(fileURLToPath(import.meta.url));
const preload = path.join(here, '../preload/index.cjs');
const registry = new WindowRegistry(APP_PAGE_URL);

// Before ready, as Electron requires.
electron.protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: APP_SCHEME_PRIVILEGES }]);
app.on('web-contents-created', (_event, contents) => lockDownContents(contents, registry.appUrl));

async function start(): Promise<void> {
  await app.whenReady();
  electron.protocol.handle(APP_SCHEME, appProtocolHandler(path.join(here, '../renderer')));
  hardenSession(electron.session.defaultSession);
  const dataDir = app.getPath('userData');
  const pathGrants = new PathGrants([dataDir]);
  const session = new AppSession({
    pathGrants,
    cacheOptions: { maxEntryBytes: maxEntryBytesOf({}, process.env) },
    // electron.vite.config.ts builds store-worker.js beside this file.
    storeWorker: storeWorkerBeside(import.meta.url),
    profiles: new ProfileStore(path.join(dataDir, 'profiles.json'), safeStorageBox(electron.safeStorage), path.join(dataDir, 'store')),
    chooseSavePath: async (name) => {
      const choice = await electron.dialog.showSaveDialog({ defaultPath: name });
      return choice.canceled || !choice.filePath ? null : choice.filePath;
    },
    chooseSaveFolder: async (title) => {
      const choice = await electron.dialog.showOpenDialog({ title, properties: ['openDirectory', 'createDirectory'] });
      return choice.canceled ? null : (choice.filePaths[0] ?? null);
    },
  });
  await session.start();
  registerIpc(electron.ipcMain, createDispatcher(session), (event) => registry.isTrustedSender(event));
  electron.ipcMain.handle(IPC_GRANT_CHANNEL, async (event, file) => {
    if (registry.isTrustedSender(event) && typeof file === 'string') pathGrants.grant(file);
  });
  session.onEvent((event) => {
    for (const w of registry.windows.values()) if (!w.webContents.isDestroyed()) w.webContents.send(IPC_EVENT_CHANNEL, event);
  });
  const open = () => createMainWindow(electron, preload, registry);
  open();
  app.on('activate', () => registry.windows.size === 0 && open());
  app.on('window-all-closed', () => {
    void session.close().finally(() => app.quit());
  });
}

start().catch((err: Error) => {
  console.error(`cache-admin: could not start: ${err.message}`);
  app.quit();
});
