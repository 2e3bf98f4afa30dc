import { CONTENT_SECURITY_POLICY } from '../../src-shared/csp';
import type { BrowserWindowLike, BrowserWindowOptions, ElectronMain, IpcMainInvokeEventLike, SessionLike, WebContentsLike } from './electron-api';

/** The hardened web preferences of every window (Electron security checklist). */
export function windowOptions(preload: string): BrowserWindowOptions {
  return {
    width: 1280,
    height: 820,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Cache Admin',
    backgroundColor: '#16181d',
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      // A file dropped outside the drop zone must not replace the app with the file.
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  };
}

/** No navigation away from the app, no new windows, no <webview>: for every web contents. */
export function lockDownContents(contents: WebContentsLike, appUrl: string): void {
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  contents.on('will-navigate', (event, url) => {
    if (url !== appUrl) event.preventDefault();
  });
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

/** Denies every permission request and check, and serves every response with the app's CSP. */
export function hardenSession(session: SessionLike): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
}

/**
 * Tracks the windows this app created: IPC is answered only for their top frame showing the
 * app's own page, never for another page or an embedded frame.
 */
export class WindowRegistry {
  /** Open windows by web-contents id. */
  readonly windows = new Map<number, BrowserWindowLike>();

  constructor(readonly appUrl: string) {}

  add(window: BrowserWindowLike): void {
    const { id } = window.webContents;
    this.windows.set(id, window);
    window.on('closed', () => this.windows.delete(id));
  }

  isTrustedSender(event: IpcMainInvokeEventLike): boolean {
    const frame = event.senderFrame;
    const top = this.windows.get(event.sender.id)?.webContents.mainFrame;
    // An iframe can show the app's page too: only the window's own top frame counts.
    const isTopFrame = !!frame && !!top && frame.processId === top.processId && frame.routingId === top.routingId;
    return isTopFrame && frame.url.split('#')[0] === this.appUrl;
  }
}

/** A window showing the app page (served on app://, see app-protocol.ts) with the given preload. */
export function createMainWindow(electron: Pick<ElectronMain, 'BrowserWindow'>, preload: string, registry: WindowRegistry): BrowserWindowLike {
  const window = new electron.BrowserWindow(windowOptions(preload));
  lockDownContents(window.webContents, registry.appUrl);
  registry.add(window);
  window.once('ready-to-show', () => window.show());
  void window.loadURL(registry.appUrl);
  return window;
}
