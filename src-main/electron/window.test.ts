import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { IPC_INVOKE_PREFIX, METHOD_NAMES } from '../../src-shared/channels';
import { CONTENT_SECURITY_POLICY } from '../../src-shared/csp';
import { REPO_ROOT } from '../test-support/cli-harness';
import type { BrowserWindowOptions, IpcMainInvokeEventLike, SessionLike, WebContentsLike } from './electron-api';
import { registerIpc } from './ipc';
import { safeStorageBox } from './safe-storage-box';
import { APP_PAGE_URL, appProtocolHandler } from './app-protocol';
import { WindowRegistry, createMainWindow, hardenSession } from './window';

/** A stand-in for Electron's web contents that records the handlers the app installs. */
class FakeContents implements WebContentsLike {
  static next = 1;
  id = FakeContents.next++;
  mainFrame = { url: '', processId: 100 + this.id, routingId: 1 };
  openHandler?: (details: { url: string }) => { action: string };
  listeners = new Map<string, (event: { preventDefault(): void }, url: string) => void>();
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' | 'allow' }) {
    this.openHandler = handler;
  }
  on(event: string, listener: (event: { preventDefault(): void }, url: string) => void) {
    this.listeners.set(event, listener);
  }
  send() {}
  isDestroyed() {
    return false;
  }
  /** Whether the app blocked this event. */
  fire(event: string, url = ''): boolean {
    let prevented = false;
    this.listeners.get(event)?.({ preventDefault: () => (prevented = true) }, url);
    return prevented;
  }
}

class FakeWindow {
  static created: FakeWindow[] = [];
  webContents = new FakeContents();
  loaded?: string;
  private handlers = new Map<string, () => void>();
  constructor(readonly options: BrowserWindowOptions) {
    FakeWindow.created.push(this);
  }
  async loadURL(url: string) {
    this.loaded = url;
  }
  once(event: string, listener: () => void) {
    this.handlers.set(event, listener);
  }
  on(event: string, listener: () => void) {
    this.handlers.set(event, listener);
  }
  show() {}
  emit(event: string) {
    this.handlers.get(event)?.();
  }
}

const preload = '/app/out/preload/index.cjs';

function openWindow() {
  const registry = new WindowRegistry(APP_PAGE_URL);
  const window = createMainWindow({ BrowserWindow: FakeWindow as never }, preload, registry) as unknown as FakeWindow;
  return { registry, window };
}

describe('window factory', () => {
  it('creates windows isolated, sandboxed and without Node, loading the app page from app://, not file://', () => {
    const { window } = openWindow();
    expect(window.options.webPreferences).toMatchObject({
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
    });
    expect(window.loaded).toBe('app://cache-admin/index.html');
  });

  it('denies new windows, navigation away, redirects and <webview>', () => {
    const { window, registry } = openWindow();
    const contents = window.webContents;
    expect(contents.openHandler?.({ url: 'https://example.com' })).toEqual({ action: 'deny' });
    expect(contents.fire('will-navigate', 'https://example.com/phish')).toBe(true);
    expect(contents.fire('will-navigate', 'file:///etc/passwd')).toBe(true);
    expect(contents.fire('will-navigate', 'file:///app/out/renderer/index.html')).toBe(true);
    expect(contents.fire('will-navigate', 'app://other-host/index.html')).toBe(true);
    expect(contents.fire('will-navigate', registry.appUrl)).toBe(false); // reload of the app itself
    expect(contents.fire('will-redirect', registry.appUrl)).toBe(true);
    expect(contents.fire('will-attach-webview')).toBe(true);
  });

  it('denies every permission and serves every response with the CSP', () => {
    let request: ((contents: unknown, permission: string, callback: (granted: boolean) => void) => void) | undefined;
    let check: (() => boolean) | undefined;
    let headers: ((details: { responseHeaders?: Record<string, string[]> }, cb: (r: { responseHeaders: Record<string, string[]> }) => void) => void) | undefined;
    const session: SessionLike = {
      setPermissionRequestHandler: (h) => (request = h),
      setPermissionCheckHandler: (h) => (check = h),
      webRequest: { onHeadersReceived: (l) => (headers = l) },
    };
    hardenSession(session);
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal']) {
      const callback = vi.fn();
      request?.({}, permission, callback);
      expect(callback).toHaveBeenCalledWith(false);
    }
    expect(check?.()).toBe(false);
    const callback = vi.fn();
    headers?.({ responseHeaders: { 'X-Other': ['1'] } }, callback);
    expect(callback).toHaveBeenCalledWith({ responseHeaders: { 'X-Other': ['1'], 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });

  it('has a CSP without eval, inline script or remote origins', () => {
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-eval|unsafe-inline|https?:|\*/);
  });
});

describe('IPC sender validation', () => {
  /** An invoke event from a window's top frame (a new object, as Electron gives) or from an iframe in the same process. */
  const event = (contents: FakeContents, url: string | null, frame: 'top' | 'iframe' = 'top'): IpcMainInvokeEventLike => ({
    sender: { id: contents.id },
    senderFrame:
      url === null ? null : { url, processId: contents.mainFrame.processId, routingId: contents.mainFrame.routingId + (frame === 'top' ? 0 : 1) },
  });

  it('answers only the app page in windows this app created', () => {
    const { window, registry } = openWindow();
    const contents = window.webContents;
    expect(registry.isTrustedSender(event(contents, registry.appUrl))).toBe(true);
    expect(registry.isTrustedSender(event(contents, `${registry.appUrl}#/lookup`))).toBe(true);
    expect(registry.isTrustedSender(event(contents, 'https://evil.example/'))).toBe(false);
    expect(registry.isTrustedSender(event(contents, 'file:///tmp/other.html'))).toBe(false);
    expect(registry.isTrustedSender(event(contents, 'file:///app/out/renderer/index.html'))).toBe(false);
    expect(registry.isTrustedSender(event(contents, null))).toBe(false);
    expect(registry.isTrustedSender(event(new FakeContents(), registry.appUrl))).toBe(false);
    window.emit('closed');
    expect(registry.isTrustedSender(event(contents, registry.appUrl))).toBe(false);
  });

  it('refuses an iframe showing the app page inside an app window', () => {
    const { window, registry } = openWindow();
    expect(registry.isTrustedSender(event(window.webContents, registry.appUrl, 'iframe'))).toBe(false);
    // The top frame of another window this app did not create, even in the same process.
    const stranger = new FakeContents();
    stranger.mainFrame = { ...window.webContents.mainFrame };
    expect(registry.isTrustedSender(event(stranger, registry.appUrl))).toBe(false);
  });

  it('registers one handler per contract channel; untrusted senders never reach the dispatcher', async () => {
    const handlers = new Map<string, (event: IpcMainInvokeEventLike, payload: unknown) => Promise<unknown>>();
    const dispatch = vi.fn(async () => ({ ok: true as const, value: 'called' }));
    const { window, registry } = openWindow();
    registerIpc({ handle: (channel, listener) => handlers.set(channel, listener) }, dispatch, (e) => registry.isTrustedSender(e));
    expect([...handlers.keys()].sort()).toEqual(METHOD_NAMES.map((m) => IPC_INVOKE_PREFIX + m).sort());
    const stats = handlers.get(`${IPC_INVOKE_PREFIX}stats`)!;
    expect(await stats(event(window.webContents, 'https://evil.example/'), { namespace: 'default' })).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    expect(await stats(event(window.webContents, registry.appUrl, 'iframe'), { namespace: 'default' })).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    expect(dispatch).not.toHaveBeenCalled();
    expect(await stats(event(window.webContents, registry.appUrl), { namespace: 'default' })).toEqual({ ok: true, value: 'called' });
    expect(dispatch).toHaveBeenCalledWith('stats', { namespace: 'default' });
  });
});

describe('secrets with safeStorage', () => {
  const fake = (available: boolean, backend?: string) => ({
    isEncryptionAvailable: () => available,
    getSelectedStorageBackend: backend ? () => backend : undefined,
    encryptString: (s: string) => Buffer.from([...s].reverse().join('')),
    decryptString: (b: Buffer) => [...b.toString()].reverse().join(''),
  });

  it('treats Linux basic_text as no keyring', () => {
    expect(safeStorageBox(fake(true, 'basic_text'), 'linux').status()).toEqual({ available: false, backend: 'basic_text' });
    expect(safeStorageBox(fake(true, 'gnome_libsecret'), 'linux').status()).toEqual({ available: true, backend: 'gnome_libsecret' });
    expect(safeStorageBox(fake(false), 'darwin').status().available).toBe(false);
  });

  it('round-trips a sealed secret', () => {
    const box = safeStorageBox(fake(true), 'win32');
    const sealed = box.encrypt('wJalrXUtnFEMI/K7MDENG');
    expect(sealed).not.toContain('wJalrXUtnFEMI');
    expect(box.decrypt(sealed)).toBe('wJalrXUtnFEMI/K7MDENG');
  });
});

describe('built bundles', () => {
  it('builds without an Electron binary: a CommonJS preload that requires only electron, and the CSP in the page', () => {
    execFileSync(process.execPath, [path.join(REPO_ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build', '--logLevel', 'error'], { cwd: REPO_ROOT });
    const preload = readFileSync(path.join(REPO_ROOT, 'out/preload/index.cjs'), 'utf8');
    expect([...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])).toEqual(['electron']);
    expect(preload).not.toMatch(/^import |ipcRenderer\s*[,}]\s*\)/m);
    expect(preload).toContain('exposeInMainWorld("cacheAdmin"');
    const html = readFileSync(path.join(REPO_ROOT, 'out/renderer/index.html'), 'utf8');
    expect(html).toContain(`content="${CONTENT_SECURITY_POLICY}"`);
  });

  it('serves the built page and every script and style it links on app://', async () => {
    const serve = appProtocolHandler(path.join(REPO_ROOT, 'out/renderer'));
    const html = await (await serve({ url: APP_PAGE_URL })).text();
    const linked = [...html.matchAll(/(?:src|href)="(\.\/assets\/[^"]+)"/g)].map((m) => new URL(m[1]!, APP_PAGE_URL).href);
    expect(linked.length).toBeGreaterThanOrEqual(2);
    for (const url of linked) {
      const response = await serve({ url });
      expect(response.status, url).toBe(200);
      expect(response.headers.get('content-type'), url).toMatch(/^text\/(javascript|css)$/);
    }
  });
});
