/**
 * The part of Electron's main-process API this app uses, typed structurally. The adapters take it
 * as a parameter, so tests pass a double and the real module is only ever loaded by main.ts.
 */
/** What identifies a frame (Electron's WebFrameMain): two objects for one frame share processId and routingId. */
export interface WebFrameLike {
  url: string;
  processId: number;
  routingId: number;
}

export interface WebContentsLike {
  id: number;
  mainFrame: WebFrameLike;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' | 'allow' }): void;
  on(event: 'will-navigate' | 'will-redirect', listener: (event: { preventDefault(): void }, url: string) => void): void;
  on(event: 'will-attach-webview', listener: (event: { preventDefault(): void }) => void): void;
  send(channel: string, ...args: unknown[]): void;
  isDestroyed(): boolean;
}

export interface BrowserWindowLike {
  webContents: WebContentsLike;
  loadURL(url: string): Promise<void>;
  once(event: 'ready-to-show', listener: () => void): void;
  on(event: 'closed', listener: () => void): void;
  show(): void;
}

export interface BrowserWindowOptions {
  width: number;
  height: number;
  minWidth: number;
  minHeight: number;
  show: boolean;
  title: string;
  backgroundColor: string;
  webPreferences: Record<string, unknown>;
}

export interface SessionLike {
  setPermissionRequestHandler(handler: (webContents: unknown, permission: string, callback: (granted: boolean) => void) => void): void;
  setPermissionCheckHandler(handler: () => boolean): void;
  webRequest: {
    onHeadersReceived(
      listener: (
        details: { responseHeaders?: Record<string, string[]> },
        callback: (response: { responseHeaders: Record<string, string[]> }) => void,
      ) => void,
    ): void;
  };
}

export interface IpcMainInvokeEventLike {
  sender: { id: number };
  senderFrame: WebFrameLike | null;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcMainInvokeEventLike, payload: unknown) => Promise<unknown>): void;
}

export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  /** Linux only: `basic_text` means secrets would be "encrypted" with a hard-coded key. */
  getSelectedStorageBackend?(): string;
  encryptString(plain: string): Buffer;
  decryptString(sealed: Buffer): string;
}

export interface ProtocolLike {
  registerSchemesAsPrivileged(schemes: { scheme: string; privileges: Record<string, boolean> }[]): void;
  handle(scheme: string, handler: (request: Request) => Promise<Response>): void;
}

export interface ElectronMain {
  app: {
    whenReady(): Promise<void>;
    getPath(name: 'userData'): string;
    on(event: 'window-all-closed' | 'activate', listener: () => void): void;
    on(event: 'web-contents-created', listener: (event: unknown, contents: WebContentsLike) => void): void;
    quit(): void;
  };
  BrowserWindow: new (options: BrowserWindowOptions) => BrowserWindowLike;
  protocol: ProtocolLike;
  ipcMain: IpcMainLike;
  session: { defaultSession: SessionLike };
  safeStorage: SafeStorageLike;
  dialog: {
    showSaveDialog(options: { defaultPath: string }): Promise<{ canceled: boolean; filePath?: string }>;
    showOpenDialog(options: { title: string; properties: ('openDirectory' | 'createDirectory')[] }): Promise<{ canceled: boolean; filePaths: string[] }>;
  };
}
