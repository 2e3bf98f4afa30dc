import { _electron as electron, expect, test } from '@playwright/test';
import * as path from 'node:path';

test.skip(!process.env.E2E_ELECTRON, 'Electron e2e is opt-in: set E2E_ELECTRON=1 on a machine with the Electron binary installed');

test('the desktop app opens on the default local store, isolated from Node', async () => {
  const app = await electron.launch({ args: [path.resolve(import.meta.dirname, '..')] });
  const window = await app.firstWindow();
  // Served on the app's own privileged scheme, never file://.
  expect(window.url()).toBe('app://cache-admin/index.html');
  await expect(window.getByLabel('Look up hash or cache id')).toBeVisible();
  expect(await window.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
  expect(await window.evaluate(() => Object.keys((window as unknown as { cacheAdmin: object }).cacheAdmin).length)).toBeGreaterThan(10);
  await app.close();
});
